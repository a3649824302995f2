"""The DDoS chapter's experiment: reconstruct the scored images at every noise level once, score every detector
for every protected classifier, check that the diffusion model does what the method needs, and test the claims.

Explained in ``notebooks/ood/ddos.ipynb``. :func:`run_ddos` does the expensive part once (one DDIM
reconstruction of every scored image and of the held-out InD calibration images per noise level t; the
perceptual distances on the perceptual network; each protected classifier's view of x and x̂); the analyses
(:func:`sanity_checks`, :func:`ddos_results`, :func:`ddos_claims`, and the ablations in :mod:`.ablations`) only
re-score what it kept. The units of every claim are the protected classifiers. The tables and the cost per
image are in :mod:`.report`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ... import claims
from ...checks import ParameterError
from ...configs.ddos import DDoSConfig
from ...data import vision
from ...ood.ddos import (
    CLASSIFIER,
    DDOS,
    DDOS_NO_REMOVAL,
    DM_BASELINE,
    PERCEPTUAL,
    AnomalyRemoval,
    ImageTerms,
    PairTerms,
    calibration_scales,
    classifier_view,
    image_terms,
    pair_terms,
)
from ...ood.detectors import pytorch_ood_baselines
from ...ood.diffusion import Diffusion, from_pixels, reconstruct, to_pixels
from ...ood.features import FeatureSet
from ...ood.metrics import detector_scores, fit_detector, ood_metrics
from ...ood.modes import scoring_index
from ...results import facts, glued
from ...timing import timed
from .report import metrics_table, pairs_figure, shown_table
from .samples import images_of, split_rows

CALIBRATION = "calibration"  # held-out InD test images: the scales of the DDoS terms and of the DM baseline


@dataclass
class DDoSRun:
    """The scored images, their reconstructions and the raw ingredients of every detector, per noise level t and
    protected classifier k."""

    splits: tuple[str, ...]  # "test", then the OoD sets
    pixels: dict[str, Tensor]  # the scored images of each split (and the calibration images), pixels in [0, 1]
    recon: dict[int, dict[str, Tensor]]  # t → split → x̂
    images: dict[int, dict[str, ImageTerms]]  # t → split → perceptual distances (the perceptual network)
    terms: list[dict[int, dict[str, PairTerms]]]  # k → t → split → DDoS ingredients of classifier k
    knn: list[dict[str, dict[str, Tensor]]]  # k → "x" / "x̂" → split → KNN outlier scores (main t)
    classifier: list[dict[str, dict[str, Tensor]]]  # k → detector on x alone → split → scores
    seeds: list[int]  # the protected classifiers' seeds
    perceptual_seed: int
    main_t: int
    seconds: dict[int, float] = field(default_factory=dict)  # t → reconstruction seconds (all images)

    @property
    def ood_sets(self) -> tuple[str, ...]:
        return self.splits[1:]

    @property
    def noise_levels(self) -> list[int]:
        return sorted(self.recon)

    @property
    def n_classifiers(self) -> int:
        return len(self.terms)

    def scales(self, k: int, t: int) -> dict[bool, dict[str, float]]:
        return calibration_scales(self.terms[k][t][CALIBRATION])

    def scores(self, k: int, t: int | None = None) -> dict[str, dict[str, Tensor]]:
        """``scores[detector][split]`` of classifier ``k`` at noise level ``t`` (default: the main one): the
        perceptual distances, every DDoS variant, the DM baseline, and the detectors on x alone."""
        t = self.main_t if t is None else t
        if t not in self.recon:
            raise ParameterError("t", t, ", ".join(str(v) for v in self.noise_levels))
        out: dict[str, dict[str, Tensor]] = {}
        for split in self.splits:
            for name, values in self.images[t][split].scores().items():
                out.setdefault(name, {})[split] = values
            for name, values in self.terms[k][t][split].scores(self.scales(k, t)).items():
                out.setdefault(name, {})[split] = values
        out[DM_BASELINE] = dm_baseline(self)
        return {**out, **self.classifier[k]}


def _as_features(view: Any) -> Any:
    return FeatureSet(view.features, view.logits, torch.full((len(view.features),), -1, dtype=torch.long))


def run_ddos(
    benches: Sequence[Any],
    perceptual: Any,
    diffusion: Diffusion,
    cfg: DDoSConfig,
    *,
    seeds: Sequence[int],
    perceptual_seed: int,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> DDoSRun:
    """Reconstruct ``cfg.n_score`` images of every split and ``cfg.n_calibration`` held-out InD test images at each
    noise level of ``cfg.t_grid`` (and ``cfg.noise_t``); the perceptual distances on ``perceptual``'s network (the
    mode of ``perceptual_seed``); every protected classifier's (``benches``, of ``seeds``) DDoS ingredients, and its
    detectors on x alone, KNN on x̂ too."""
    say = log or (lambda _m: None)
    spec = vision.input_spec(cfg.in_dataset)
    first = benches[0]
    splits = ("test", *first.ood)
    test_rows, calib_rows = split_rows(len(first.test_dataset), cfg.n_score, cfg.n_calibration, seed)
    index = {
        "test": test_rows,
        **{s: scoring_index(len(first.features(s)), cfg.n_score, seed=2001 + i) for i, s in enumerate(first.ood)},
    }
    pixels = {s: to_pixels(images_of(first.dataset(s), index[s]), spec) for s in splits}
    pixels[CALIBRATION] = to_pixels(images_of(first.test_dataset, calib_rows), spec)
    sets = (*splits, CALIBRATION)
    recon, images, seconds = {}, {}, {}
    for t in sorted({*cfg.t_grid, cfg.noise_t}):
        with timed() as clock:
            generator = torch.Generator().manual_seed(1_000_003 * seed + t)
            recon[t] = {
                s: reconstruct(diffusion, pixels[s], t, stride=cfg.ddim_stride, generator=generator) for s in sets
            }
        seconds[t] = clock.seconds
        images[t] = {s: image_terms(perceptual.model, spec, pixels[s], recon[t][s]) for s in sets}
        say(f"t = {t}: {sum(len(p) for p in pixels.values())} images reconstructed in {seconds[t]:.0f} s")
    terms, knn, classifier = [], [], []
    for bench in benches:
        removal = AnomalyRemoval(cfg.clip_low, cfg.clip_high).fit(bench.train.features)
        views = {s: classifier_view(bench.model, from_pixels(pixels[s], spec), activations=False) for s in sets}
        terms.append(
            {
                t: {s: pair_terms(bench.model, spec, pixels[s], recon[t][s], removal, view=views[s]) for s in sets}
                for t in recon
            }
        )
        base = pytorch_ood_baselines(bench.model, cfg)
        dets = {name: fit_detector(base[name], bench.train) for name in CLASSIFIER}
        classifier.append(
            {name: {s: detector_scores(det, _as_features(views[s])) for s in splits} for name, det in dets.items()}
        )
        main = terms[-1][cfg.noise_t]
        knn.append(
            {
                "x": classifier[-1]["KNN"],
                "x̂": {s: detector_scores(dets["KNN"], _as_features(main[s].view_hat)) for s in splits},
            }
        )
    return DDoSRun(
        splits=splits,
        pixels=pixels,
        recon=recon,
        images=images,
        terms=terms,
        knn=knn,
        classifier=classifier,
        seeds=list(seeds),
        perceptual_seed=perceptual_seed,
        main_t=cfg.noise_t,
        seconds=seconds,
    )


def dm_baseline(run: DDoSRun) -> dict[str, Tensor]:
    """The DM-based baseline after Graham et al. (2023): the reconstruction MSE and the deep perceptual distance at
    every noise level, each z-scored with the mean and SD of the held-out InD calibration images, averaged."""
    out = {s: torch.zeros(len(run.pixels[s]), dtype=torch.float64) for s in run.splits}
    count = 0
    for t in run.noise_levels:
        for name in ("MSE", "Deep features"):
            calib = run.images[t][CALIBRATION].scores()[name]
            mean, sd = float(calib.mean()), max(float(calib.std()), 1e-12)
            for s in run.splits:
                # z = (d − mean_InD) / sd_InD
                out[s] += (run.images[t][s].scores()[name] - mean) / sd
            count += 1
    return {s: v / count for s, v in out.items()}


# ------------------------------------------------------------------------------------------------ tables
def all_classifiers(run: DDoSRun, t: int | None = None):
    """:func:`metrics_table` of every protected classifier at ``t``, with a ``classifier`` column (1 … K)."""
    return pd.concat(
        [metrics_table(run.scores(k, t), run.ood_sets).assign(classifier=k + 1) for k in range(run.n_classifiers)],
        ignore_index=True,
    )


# ------------------------------------------------------------------------------------------------ sanity checks
@dataclass
class SanityChecks:
    """Does the DDPM pull OoD images toward the InD, as the method needs? Each check a glued fact; ``ok``
    gates every claim (*not comparable*, with ``reason``, when one fails)."""

    # agreement: InD x̂ classified as x, mean over the classifiers (agreement_needed); knn_drop: mean KNN outlier
    # score of OoD x minus that of OoD x̂ (natural sets, classifiers), falling on knn_drop_sets of n_sets OoD sets;
    # auroc_x, auroc_x_hat: KNN's AUROC on x and on x̂ (mean over sets and classifiers); summary
    facts: pd.Series = glued()
    ok: bool = False
    reason: str = ""
    table: Any = None


def sanity_checks(run: DDoSRun, cfg: DDoSConfig) -> SanityChecks:
    """Three checks at the main noise level, each averaged over the protected classifiers: InD reconstructions
    keep the classifier's label (≥ ``cfg.sanity_agreement``); OoD reconstructions score more InD-like than their
    inputs (KNN, every OoD set); KNN's AUROC is lower on reconstructions than on the images."""
    t = run.main_t
    agree = [
        float(
            (run.terms[k][t]["test"].view.logits.argmax(1) == run.terms[k][t]["test"].view_hat.logits.argmax(1))
            .double()
            .mean()
        )
        for k in range(run.n_classifiers)
    ]
    rows = []
    for s in run.ood_sets:
        x = np.mean([float(run.knn[k]["x"][s].mean()) for k in range(run.n_classifiers)])
        x_hat = np.mean([float(run.knn[k]["x̂"][s].mean()) for k in range(run.n_classifiers)])
        auc_x = np.mean(
            [ood_metrics(run.knn[k]["x"]["test"], run.knn[k]["x"][s])["AUROC"] for k in range(run.n_classifiers)]
        )
        auc_hat = np.mean(
            [ood_metrics(run.knn[k]["x̂"]["test"], run.knn[k]["x̂"][s])["AUROC"] for k in range(run.n_classifiers)]
        )
        rows.append(
            {
                "OoD set": s,
                "KNN score of x": x,
                "KNN score of x̂": x_hat,
                "KNN AUROC on x": auc_x,
                "KNN AUROC on x̂": auc_hat,
            }
        )
    table = pd.DataFrame(rows).set_index("OoD set")
    agreement = float(np.mean(agree))
    drops = table["KNN score of x"] - table["KNN score of x̂"]
    auroc_x, auroc_hat = float(table["KNN AUROC on x"].mean()), float(table["KNN AUROC on x̂"].mean())
    failed = []
    if agreement < cfg.sanity_agreement:
        failed.append(f"InD reconstructions keep the label {agreement:.0%} of the time (< {cfg.sanity_agreement:.0%})")
    if not (drops > 0).all():
        failed.append(
            "OoD reconstructions are not more InD-like than the inputs on "
            + ", ".join(s for s, d in drops.items() if d <= 0)
        )
    if not auroc_hat < auroc_x:
        failed.append(f"KNN's AUROC does not fall on reconstructions ({auroc_x:.1%} → {auroc_hat:.1%})")
    ok = not failed
    summary = "all three hold" if ok else "failed: " + "; ".join(failed)
    return SanityChecks(
        facts(
            dict(agreement=".1%", agreement_needed=".0%", knn_drop=".3f", auroc_x=".1%", auroc_x_hat=".1%"),
            agreement=agreement,
            agreement_needed=cfg.sanity_agreement,
            knn_drop=float(drops.mean()),
            knn_drop_sets=int((drops > 0).sum()),
            n_sets=len(drops),
            auroc_x=auroc_x,
            auroc_x_hat=auroc_hat,
            summary=summary,
        ),
        ok=ok,
        reason="diffusion sanity check " + summary,
        table=table,
    )


# ------------------------------------------------------------------------------------------------ results
@dataclass
class DDoSResults:
    """The main noise level: every detector's FPR95 / AUROC for every protected classifier, the per-classifier
    averages the claims compare, and the x / x̂ pairs."""

    table: Any  # one row per (classifier, detector, OoD set and average)
    shown: Any  # mean over the classifiers
    auroc: Any  # rows detector, columns classifier: AUROC averaged over the OoD sets (the claims' endpoint)
    # t, the sizes, perceptual_seed; best_perceptual and best_classifier (by mean AUROC); auroc_<detector> (mean
    # over the classifiers of the AUROC averaged over the OoD sets; perceptual and classifier: the best), fpr_ddos;
    # abnormal_in, abnormal_out: x̂'s activations the removal changes, InD test and OoD sets
    facts: pd.Series = glued()
    pairs_figure: Any = glued()


def ddos_results(run: DDoSRun, cfg: DDoSConfig) -> DDoSResults:
    """The results at ``cfg.noise_t`` for every protected classifier."""
    table = all_classifiers(run)
    avg = table[table.ood_set == "average"]
    auroc = avg.pivot(index="detector", columns="classifier", values="AUROC")
    mean = auroc.mean(axis=1)
    fpr = avg.groupby("detector")["FPR95"].mean()
    best_p = mean.loc[list(PERCEPTUAL)].idxmax()
    best_c = mean.loc[list(CLASSIFIER)].idxmax()
    t = run.main_t
    abnormal = {
        s: float(np.mean([run.terms[k][t][s].abnormal_hat.mean() for k in range(run.n_classifiers)]))
        for s in run.splits
    }
    shares = (
        "auroc_ddos",
        "fpr_ddos",
        "auroc_no_removal",
        "auroc_mse",
        "auroc_perceptual",
        "auroc_dm",
        "auroc_classifier",
        "abnormal_in",
        "abnormal_out",
    )
    return DDoSResults(
        table=table,
        shown=shown_table(table),
        auroc=auroc,
        facts=facts(
            dict.fromkeys(shares, ".1%"),
            t=t,
            n_scored=len(run.pixels["test"]),
            n_calibration=len(run.pixels[CALIBRATION]),
            n_classifiers=run.n_classifiers,
            perceptual_seed=run.perceptual_seed,
            best_perceptual=best_p,
            best_classifier=best_c,
            auroc_ddos=float(mean[DDOS]),
            fpr_ddos=float(fpr[DDOS]),
            auroc_no_removal=float(mean[DDOS_NO_REMOVAL]),
            auroc_mse=float(mean["MSE"]),
            auroc_perceptual=float(mean[best_p]),
            auroc_dm=float(mean[DM_BASELINE]),
            auroc_classifier=float(mean[best_c]),
            abnormal_in=abnormal["test"],
            abnormal_out=float(np.mean([abnormal[s] for s in run.ood_sets])),
        ),
        pairs_figure=pairs_figure({s: run.pixels[s] for s in run.splits}, run.recon[t], cfg.n_pairs),
    )


# ------------------------------------------------------------------------------------------------ claims
def ddos_claims(
    specs: Sequence[claims.ClaimSpec],
    results: DDoSResults,
    sanity: SanityChecks,
    scale: str,
    *,
    converged: bool = True,
    convergence: str = "",
) -> list[claims.ClaimTest]:
    """The declared claims (:func:`reprobook.configs.ddos.claim_specs`), each a paired t-test over the protected
    classifiers of the average AUROC, *not comparable* when a diffusion sanity check failed or the classifiers had
    not converged; Holm-adjusted."""
    auroc = results.auroc
    rivals = {
        "perceptual": (DDOS_NO_REMOVAL, results.facts.best_perceptual),
        "removal": (DDOS, DDOS_NO_REMOVAL),
        "dm_sota": (DDOS, DM_BASELINE),
    }
    tests = []
    for spec in specs:
        a, b = rivals[spec.key]
        values_a, values_b = auroc.loc[a].tolist(), auroc.loc[b].tolist()
        text = (
            f"{a}: {np.mean(values_a):.1%}; {b}: {np.mean(values_b):.1%} (mean AUROC over {len(values_a)} classifiers)"
        )
        tests.append(claims.evaluate(spec, values_a, values_b, this_run=text, scale=scale))
    keys = [t.key for t in tests]
    tests = claims.guard_tests(tests, keys, lambda v: claims.requires_convergence(v, converged, convergence))
    tests = claims.guard_tests(tests, keys, lambda v: claims.guard(v, sanity.ok, sanity.reason))
    return claims.holm_tests(tests)
