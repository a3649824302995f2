"""The DDoS chapter's experiment: reconstruct the scored images at every noise level, score every detector,
tabulate, ablate, and give the verdicts.

Explained in ``notebooks/ood/ddos.ipynb``. :func:`run_ddos` does the expensive part once (one DDIM
reconstruction of every scored image per noise level t, and of a few InD training images that calibrate
the DDoS terms); the analyses (:func:`ddos_results`, :func:`noise_ablation`, :func:`component_ablation`,
:func:`ddos_claims`) only re-score what it kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..checks import ParameterError
from ..claims import bootstrap_superiority, holm
from ..results import glued
from .ddos import (CLASSIFIER, COMPONENTS, DDOS, DDOS_NO_REMOVAL, PERCEPTUAL, AnomalyRemoval, PairTerms,
                   calibration_scales, pair_terms)
from .diffusion import Diffusion, reconstruct, to_pixels
from .metrics import bootstrap_average, compare_bootstrapped, ood_metrics
from .modes import scoring_index

SOURCE = "Fang et al. (2024), abstract (arXiv 2409.10094)"


@dataclass
class DDoSRun:
    """The scored images, their reconstructions and the raw ingredients of every detector, per noise level t."""

    splits: tuple[str, ...]  # "test", then the OoD sets
    pixels: dict[str, Tensor]  # the scored images of each split, pixels in [0, 1]
    recon: dict[int, dict[str, Tensor]]  # t → split → x̂
    terms: dict[int, dict[str, PairTerms]]  # t → split → per-pair ingredients
    scales: dict[int, dict[bool, dict[str, float]]]  # t → anomaly removal? → term → calibration median
    classifier: dict[str, dict[str, Tensor]]  # detector on x alone → split → scores
    removal: AnomalyRemoval
    main_t: int
    n_calibration: int
    seconds: dict[int, float] = field(default_factory=dict)  # t → reconstruction seconds (all images)

    @property
    def ood_sets(self) -> tuple[str, ...]:
        return self.splits[1:]

    @property
    def noise_levels(self) -> list[int]:
        return sorted(self.recon)

    def scores(self, t: int | None = None) -> dict[str, dict[str, Tensor]]:
        """``scores[detector][split]`` at noise level ``t`` (default: the main one), classifier detectors included."""
        t = self.main_t if t is None else t
        if t not in self.terms:
            raise ParameterError("t", t, ", ".join(str(v) for v in self.noise_levels))
        out: dict[str, dict[str, Tensor]] = {}
        for split, terms in self.terms[t].items():
            for name, values in terms.scores(self.scales[t]).items():
                out.setdefault(name, {})[split] = values
        return {**out, **self.classifier}


def _images(dataset, rows: Tensor) -> Tensor:
    return torch.stack([dataset[int(i)][0] for i in rows])


def training_pixels(bench: Any, n: int | None, *, seed: int = 0) -> Tensor:
    """A seeded subset of ``n`` InD training images of ``bench`` (all when None), as pixels in [0, 1]: what the
    DDPM learns from."""
    from ..data import vision

    rows = scoring_index(len(bench.train_dataset), n, seed=4000 + seed)
    return to_pixels(_images(bench.train_dataset, rows), vision.input_spec(bench.config.in_dataset)).clamp(0, 1)


def run_ddos(bench: Any, diffusion: Diffusion, cfg: Any, *, seed: int = 0,
             log: Callable[[str], None] | None = None) -> DDoSRun:
    """Reconstruct ``cfg.n_score`` images of every split (and ``cfg.n_calibration`` InD training images) at each
    noise level of ``cfg.t_grid`` and ``cfg.noise_t``; compute every detector's ingredients."""
    from ..data import vision
    from .detectors import pytorch_ood_baselines
    from .metrics import detector_scores, fit_detector

    say = log or (lambda _m: None)
    spec = vision.input_spec(cfg.in_dataset)
    splits = ("test", *bench.ood)
    index = {s: scoring_index(len(bench.features(s)), cfg.n_score, seed=2000 + i) for i, s in enumerate(splits)}
    pixels = {s: to_pixels(_images(bench.dataset(s), index[s]), spec) for s in splits}
    calib_rows = scoring_index(len(bench.train_dataset), cfg.n_calibration, seed=3000)
    calibration = to_pixels(_images(bench.train_dataset, calib_rows), spec)
    removal = AnomalyRemoval(cfg.clip_low, cfg.clip_high).fit(bench.train.features)
    recon, terms, scales, seconds = {}, {}, {}, {}
    for t in sorted({*cfg.t_grid, cfg.noise_t}):
        clock = time.perf_counter()
        generator = torch.Generator().manual_seed(1_000_003 * seed + t)
        calib_hat = reconstruct(diffusion, calibration, t, stride=cfg.ddim_stride, generator=generator)
        scales[t] = calibration_scales(pair_terms(bench.model, spec, calibration, calib_hat, removal))
        recon[t] = {s: reconstruct(diffusion, pixels[s], t, stride=cfg.ddim_stride, generator=generator) for s in splits}
        seconds[t] = time.perf_counter() - clock
        terms[t] = {s: pair_terms(bench.model, spec, pixels[s], recon[t][s], removal) for s in splits}
        say(f"t = {t}: {sum(len(p) for p in pixels.values()) + len(calibration)} images reconstructed in "
            f"{seconds[t]:.0f} s")
    baselines = pytorch_ood_baselines(bench.model, cfg)
    classifier = {}
    for name in CLASSIFIER:
        det = fit_detector(baselines[name], bench.train)
        classifier[name] = {s: detector_scores(det, bench.features(s).subset(index[s])) for s in splits}
    return DDoSRun(splits=splits, pixels=pixels, recon=recon, terms=terms, scales=scales, classifier=classifier,
                   removal=removal, main_t=cfg.noise_t, n_calibration=len(calibration), seconds=seconds)


# ------------------------------------------------------------------------------------------------ tables
def family(name: str) -> str:
    if name in PERCEPTUAL:
        return "perceptual (x, x̂)"
    if name in COMPONENTS:
        return "DDoS (x, x̂)"
    return "classifier on x"


def metrics_table(scores: dict[str, dict[str, Tensor]], ood_sets: tuple[str, ...]):
    """One row per (detector, OoD set) and each detector's ``average``: FPR95 and AUROC."""
    import pandas as pd

    rows = []
    for name, per in scores.items():
        values = [ood_metrics(per["test"], per[s]) for s in ood_sets]
        for s, v in zip(ood_sets, values):
            rows.append({"detector": name, "family": family(name), "ood_set": s, "FPR95": v["FPR95"], "AUROC": v["AUROC"]})
        rows.append({"detector": name, "family": family(name), "ood_set": "average",
                     "FPR95": float(np.mean([v["FPR95"] for v in values])),
                     "AUROC": float(np.mean([v["AUROC"] for v in values]))})
    return pd.DataFrame(rows)


def shown_table(table):
    """FPR95 ↓ and AUROC ↑ in percent, detector × OoD set (and the average)."""
    import pandas as pd

    sets = list(dict.fromkeys(table.ood_set))
    order = list(dict.fromkeys(table.detector))
    parts = {s: table[table.ood_set == s].set_index("detector").loc[order, ["FPR95", "AUROC"]] * 100 for s in sets}
    out = pd.concat({s: p.rename(columns={"FPR95": "FPR95 ↓", "AUROC": "AUROC ↑"}) for s, p in parts.items()}, axis=1)
    out.insert(0, ("", "family"), [family(n) for n in order])
    return out.round(1)


@dataclass
class DDoSResults:
    """The main noise level: every detector's FPR95 / AUROC, the paired-bootstrap comparisons behind the
    verdicts, how many activations the anomaly removal changes, and the x / x̂ pairs."""

    table: Any
    shown: Any
    comparisons: dict
    abnormal: Any
    t: int = glued()
    n_scored: int = glued()
    n_calibration: int = glued()
    best_perceptual: str = glued()
    best_classifier: str = glued()
    auroc_ddos: float = glued(".1%")
    fpr_ddos: float = glued(".1%")
    auroc_no_removal: float = glued(".1%")
    auroc_mse: float = glued(".1%")
    auroc_perceptual: float = glued(".1%")
    auroc_classifier: float = glued(".1%")
    gain_perceptual: float = glued("+.1%")
    gain_removal: float = glued("+.1%")
    gain_classifier: float = glued("+.1%")
    abnormal_in: float = glued(".1%")
    abnormal_out: float = glued(".1%")
    n_boot: int = glued()
    pairs_figure: Any = glued()


def pairs_figure(run: DDoSRun, t: int, n_pairs: int):
    """For the InD test set and each OoD set, ``n_pairs`` images x with their reconstructions x̂ beside them."""
    from ..plots import image_grid

    images, titles = [], []
    for split in run.splits:
        label = "InD" if split == "test" else split
        for i in range(min(n_pairs, len(run.pixels[split]))):
            images += [run.pixels[split][i], run.recon[t][split][i]]
            titles += [f"{label[:12]}: x", "x̂"]
    return image_grid(images, titles, ncols=2 * n_pairs, size=0.95, title_size=7)


def _comparison(scores, a: str, b: str, metric: str, n_boot: int, seed: int) -> dict:
    return compare_bootstrapped(bootstrap_average(scores[a], metric=metric, n_boot=n_boot, seed=seed),
                                bootstrap_average(scores[b], metric=metric, n_boot=n_boot, seed=seed))


def ddos_results(run: DDoSRun, cfg: Any, *, seed: int = 0) -> DDoSResults:
    """The results table at ``cfg.noise_t`` and the three comparisons of the chapter's claims."""
    import pandas as pd

    scores = run.scores()
    table = metrics_table(scores, run.ood_sets)
    avg = table[table.ood_set == "average"].set_index("detector")
    best_p = avg.loc[list(PERCEPTUAL), "AUROC"].idxmax()
    best_c = avg.loc[list(CLASSIFIER), "AUROC"].idxmax()
    comparisons = {}
    for other in (best_p, DDOS_NO_REMOVAL, best_c):
        for metric in ("AUROC", "FPR95"):
            comparisons[(DDOS, other, metric)] = _comparison(scores, DDOS, other, metric, cfg.n_boot, seed)
    terms = run.terms[run.main_t]
    abnormal = pd.DataFrame([{"set": "InD test" if s == "test" else s, "x": float(terms[s].abnormal.mean()),
                              "x̂": float(terms[s].abnormal_hat.mean())} for s in run.splits]).set_index("set")
    return DDoSResults(
        table=table, shown=shown_table(table), comparisons=comparisons, abnormal=abnormal, t=run.main_t,
        n_scored=len(run.pixels["test"]), n_calibration=run.n_calibration, best_perceptual=best_p,
        best_classifier=best_c, auroc_ddos=float(avg.loc[DDOS, "AUROC"]), fpr_ddos=float(avg.loc[DDOS, "FPR95"]),
        auroc_no_removal=float(avg.loc[DDOS_NO_REMOVAL, "AUROC"]), auroc_mse=float(avg.loc["MSE", "AUROC"]),
        auroc_perceptual=float(avg.loc[best_p, "AUROC"]), auroc_classifier=float(avg.loc[best_c, "AUROC"]),
        gain_perceptual=comparisons[(DDOS, best_p, "AUROC")]["improvement"],
        gain_removal=comparisons[(DDOS, DDOS_NO_REMOVAL, "AUROC")]["improvement"],
        gain_classifier=comparisons[(DDOS, best_c, "AUROC")]["improvement"],
        abnormal_in=float(abnormal.loc["InD test", "x"]),
        abnormal_out=float(abnormal.drop(index="InD test")["x"].mean()), n_boot=cfg.n_boot,
        pairs_figure=pairs_figure(run, run.main_t, cfg.n_pairs))


# ------------------------------------------------------------------------------------------------ ablations
@dataclass
class NoiseAblation:
    """Average AUROC over the OoD sets against the noise level t, for the pair detectors."""

    table: Any  # one row per (detector, t)
    best_t_ddos: int = glued()
    best_t_mse: int = glued()
    levels: str = glued()
    figure: Any = glued()


def noise_ablation(run: DDoSRun) -> NoiseAblation:
    """AUROC (mean over the OoD sets) of MSE, SSIM, the deep perceptual distance and DDoS with and without
    anomaly removal at every reconstructed noise level; the classifier detectors as horizontal references."""
    import matplotlib.pyplot as plt
    import pandas as pd

    shown = (*PERCEPTUAL, DDOS, DDOS_NO_REMOVAL)
    rows = []
    for t in run.noise_levels:
        table = metrics_table({k: v for k, v in run.scores(t).items() if k in shown}, run.ood_sets)
        for name, row in table[table.ood_set == "average"].set_index("detector").iterrows():
            rows.append({"detector": name, "t": t, "AUROC": row["AUROC"], "FPR95": row["FPR95"]})
    table = pd.DataFrame(rows)
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for i, name in enumerate(shown):
        part = table[table.detector == name]
        ax.plot(part.t, 100 * part.AUROC, "o-", color=f"C{i}", label=name, lw=2.2 if name == DDOS else 1.2)
    classifier = metrics_table(run.classifier, run.ood_sets)
    for j, (name, row) in enumerate(classifier[classifier.ood_set == "average"].set_index("detector").iterrows()):
        ax.axhline(100 * row["AUROC"], color=f"C{len(shown) + j}", ls=":", lw=1, label=f"{name} (on x)")
    ax.axvline(run.main_t, color="grey", ls="--", lw=1)
    ax.set(xlabel="noise level t", ylabel="AUROC (%), mean over OoD sets ↑", title="Ablation of the noise level")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    best = lambda name: int(table[table.detector == name].sort_values("AUROC").iloc[-1]["t"])
    return NoiseAblation(table=table, best_t_ddos=best(DDOS), best_t_mse=best("MSE"),
                         levels=", ".join(str(t) for t in run.noise_levels), figure=fig)


@dataclass
class ComponentAblation:
    """Each DDoS term with and without anomaly removal, at the main noise level (mean over the OoD sets)."""

    table: Any
    auroc_feature: float = glued(".1%")
    auroc_probability: float = glued(".1%")
    auroc_both: float = glued(".1%")


def component_ablation(run: DDoSRun) -> ComponentAblation:
    """Average FPR95 and AUROC of every entry of :data:`~reprobook.ood.ddos.COMPONENTS` at the main t."""
    table = metrics_table({k: v for k, v in run.scores().items() if k in COMPONENTS}, run.ood_sets)
    avg = table[table.ood_set == "average"].set_index("detector")[["FPR95", "AUROC"]]
    avg.insert(0, "terms", [" + ".join(COMPONENTS[n][0]) for n in avg.index])
    avg.insert(1, "anomaly removal", ["yes" if COMPONENTS[n][1] else "no" for n in avg.index])
    return ComponentAblation(table=avg, auroc_feature=float(avg.loc["DDoS feature term only", "AUROC"]),
                             auroc_probability=float(avg.loc["DDoS probability term only", "AUROC"]),
                             auroc_both=float(avg.loc[DDOS, "AUROC"]))


# ------------------------------------------------------------------------------------------------ cost
@dataclass
class DDoSCost:
    """Images per second of the whole DDoS detector and of a plain classifier detector, one run, one machine."""

    table: Any
    device: str = glued()
    ddos_per_s: float = glued(",.1f")
    classifier_per_s: float = glued(",.0f")
    slowdown: float = glued(",.0f")
    n_images: int = glued()
    evaluations: int = glued()


def ddos_cost(result: Any) -> DDoSCost:
    """The glued numbers of a ``reprobook bench ddos-throughput`` result."""
    table = result.table.set_index("method")
    return DDoSCost(table=table, device=result.device, ddos_per_s=float(table.loc["ddos", "images_per_s"]),
                    classifier_per_s=float(table.loc["classifier", "images_per_s"]),
                    slowdown=float(table.loc["ddos", "slowdown"]), n_images=int(result.settings["n_images"]),
                    evaluations=int(result.settings["unet_evaluations"]))


# ------------------------------------------------------------------------------------------------ claims
@dataclass
class DDoSVerdicts:
    """The claims table's rows and each rule in words."""

    rows: list
    verdicts: dict
    rule: str = glued()
    covers: str = glued()


def _interval(r: dict) -> str:
    return f"{r['improvement']:+.1%} [{r['low']:+.1%}, {r['high']:+.1%}]"


def ddos_claims(results: DDoSResults, cfg: Any, scale: str) -> DDoSVerdicts:
    """Three claims of the abstract, each a paired bootstrap on AUROC and FPR95, Holm-adjusted together."""
    c = results.comparisons
    covers = (f"{cfg.n_boot} bootstrap resamplings of the {results.n_scored} scored images of each set; one classifier "
              "and one DDPM (no variation between trainings)")
    pairs = {"perceptual": results.best_perceptual, "removal": DDOS_NO_REMOVAL, "classifier": results.best_classifier}
    verdicts = {k: bootstrap_superiority(c[(DDOS, b, "AUROC")], c[(DDOS, b, "FPR95")], covers=covers)
                for k, b in pairs.items()}
    verdicts = holm(verdicts)
    text = lambda b: (f"DDoS − {b}: AUROC {_interval(c[(DDOS, b, 'AUROC')])}, "
                      f"FPR95 improvement {_interval(c[(DDOS, b, 'FPR95')])}")
    rows = [
        dict(claim="Perceptual metrics are insufficient; distribution similarity in the classifier's spaces is better",
             paper="DDoS beats detectors that score (x, x̂) by perceptual metrics (LPIPS, SSIM, MSE)",
             this_run=f"best perceptual baseline {results.best_perceptual}; " + text(results.best_perceptual),
             verdict=verdicts["perceptual"], source=SOURCE, scale=scale),
        dict(claim="Anomaly removal enlarges the disparity and improves detection",
             paper="removing abnormal OoD information in the feature space facilitates detection",
             this_run=text(DDOS_NO_REMOVAL), verdict=verdicts["removal"], source=SOURCE, scale=scale),
        dict(claim="DDoS reaches state-of-the-art detection",
             paper="new state-of-the-art detection performance",
             this_run=f"best classifier detector on x: {results.best_classifier}; " + text(results.best_classifier),
             verdict=verdicts["classifier"], source=SOURCE, scale=scale),
    ]
    return DDoSVerdicts(rows=rows, verdicts=verdicts, rule=next(iter(verdicts.values())).rule, covers=covers)


__all__ = ["ComponentAblation", "DDoSCost", "DDoSResults", "DDoSRun", "DDoSVerdicts", "NoiseAblation",
           "component_ablation", "ddos_claims", "ddos_cost", "ddos_results", "metrics_table", "noise_ablation",
           "pairs_figure", "run_ddos", "shown_table", "training_pixels"]
