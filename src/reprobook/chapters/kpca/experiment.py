"""The Kernel PCA chapter's experiment: K trained classifiers, every detector on each, the comparisons, the claims.

Explained in ``notebooks/ood/kpca.ipynb`` (Fang et al., NeurIPS 2024, :cite:`fang2024kpca`). Each step is one
function returning one result object; the numbers the prose quotes sit in its tables (a ``facts`` Series of
scalars, a frame of detectors × measures), glued cell by cell as ``<prefix>_<row>_<column>`` with its figures
before the prose that quotes them (:meth:`reprobook.results.RunRecord.glue_result`):

1. :func:`load_classifiers`: the OoD benchmark's classifier from K seeds on the same images (the first K modes
   of the mode-ensemble chapter); :func:`.report.describe_benchmark` summarises them;
2. :func:`rff_check`: the random Fourier features approach the Gaussian kernel like 1/√M;
3. :func:`fit_reconstruction`: plain PCA, CoP and CoRP fitted on each classifier's training features;
4. :func:`score_detectors`: those, the ``pytorch-ood`` baselines and the fusions scored on every OoD set;
5. :func:`compare_detectors`: each comparison of the paper, classifier by classifier, on the claims' endpoint
   (the FPR95 averaged over the natural OoD sets);
6. :func:`.report.error_distributions`, :func:`.report.ratio_sensitivity`: where the detectors differ, and how
   much r matters;
7. :func:`.report.throughput`: the scoring cost against N (``reprobook bench ood-throughput``);
8. :func:`kpca_claims` and :func:`.report.paper_vs_this_run`: the declared claims tested over the K classifiers
   (:func:`reprobook.configs.kpca.claim_specs`, Holm-adjusted together) and the paper's numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from pytorch_ood.detector import EnergyBased, MaxSoftmax

from ... import claims
from ...checks import check_int, check_seed
from ...configs.kpca import KPCAConfig
from ...ood.benchmark import OODBenchmark, build_benchmarks
from ...ood.detectors import KernelPCACoP, KernelPCACoRP, KernelPCAFusion, PCAReconstruction, pytorch_ood_baselines
from ...ood.kernels import RandomFourierFeatures, cosine_map, gaussian_kernel
from ...ood.metrics import evaluate, fit_detector, wide
from ...results import facts, glued
from . import figures

RECONSTRUCTION = ("PCA", "CoP", "CoRP")
FUSED = (("CoP", "MSP"), ("CoP", "Energy"), ("CoRP", "MSP"), ("CoRP", "Energy"))  # (KPCA, baseline) pairs
COMPARED = (("CoP", "PCA"), ("CoRP", "PCA"), ("CoRP", "CoP"), ("CoRP", "KNN"))  # + CoRP vs the best baseline


def _range_text(values, fmt: str = "d") -> str:
    """ "v" when all values are equal, else "min–max"."""
    low, high = min(values), max(values)
    return format(low, fmt) if low == high else f"{format(low, fmt)}–{format(high, fmt)}"


# --------------------------------------------------------------------------------------------- classifiers
def classifier_seeds(cfg: KPCAConfig, seed: int) -> list[int]:
    """The seeds of the K classifiers: ``seed, seed + 1, …, seed + K − 1`` (those of the mode-ensemble chapter)."""
    check_seed("seed", seed)
    return [seed + k for k in range(check_int("n_classifiers", cfg.n_classifiers, low=1))]


def load_classifiers(
    cfg: KPCAConfig, *, seed: int = 0, device: Any = "auto", data_dir=None, log: Callable[[str], None] | None = None
) -> list[OODBenchmark]:
    """The benchmark of each of the K classifiers (:func:`classifier_seeds`), all on the images of
    ``data_seed`` 0: trained once (side by side where they can be), then loaded from the checkpoint cache."""
    return build_benchmarks(
        cfg, classifier_seeds(cfg, seed), device=device, data_seed=0, data_dir=data_dir, progress=False, log=log
    )


# --------------------------------------------------------------------------------------------- RFF check
@dataclass
class RFFCheck:
    """How close the random Fourier features' inner products come to the exact Gaussian kernel, against M: the
    facts ``m``, ``gamma``, ``error`` (mean |φ(x)ᵀφ(y) − k(x, y)| at the chapter's M), ``kernel_mean`` (mean
    k(x, y), for scale), ``slope`` (log-log slope of the mean gap against M; theory −½), ``n_probe``."""

    facts: pd.Series = glued()
    passed: bool = False
    detail: str = ""
    table: Any = None


def rff_check(benchmark: OODBenchmark, cfg: KPCAConfig, seed: int) -> RFFCheck:
    """Mean gap between the RFF inner products and the exact kernel over all pairs of ``cfg.rff_probe``
    cosine-mapped training features, for M from 64 to 4 × the chapter's M; the check passes when the
    log-log slope of the gap against M lies in ``cfg.rff_slope_range``."""
    probe = cosine_map(benchmark.train.features[: cfg.rff_probe].double())
    exact = gaussian_kernel(probe, probe, cfg.corp_gamma)
    grid = sorted({64, 256, 1024, cfg.corp_features, 4 * cfg.corp_features})
    errors = []
    for m in grid:
        mapped = RandomFourierFeatures(probe.shape[1], m, cfg.corp_gamma, seed=seed, dtype=torch.float64)(probe)
        errors.append(float((mapped @ mapped.T - exact).abs().mean()))
    slope = float(np.polyfit(np.log(grid), np.log(errors), 1)[0])
    low, high = cfg.rff_slope_range
    passed = low <= slope <= high
    table = pd.DataFrame({"M": grid, "mean |φ(x)ᵀφ(y) − k(x, y)|": errors}).set_index("M")
    return RFFCheck(
        facts(
            dict(gamma="g", error=".4f", kernel_mean=".3f", slope=".2f"),
            m=cfg.corp_features,
            gamma=cfg.corp_gamma,
            error=errors[grid.index(cfg.corp_features)],
            kernel_mean=float(exact.mean()),
            slope=slope,
            n_probe=len(probe),
        ),
        passed=passed,
        detail=f"log-log slope {slope:.3f} of the mean gap against M = {grid}; allowed [{low}, {high}]",
        table=table,
    )


# --------------------------------------------------------------------------------------------- the detectors
@dataclass
class Reconstruction:
    """Plain PCA, CoP and CoRP fitted on each classifier's InD training features."""

    table: pd.DataFrame = glued()  # rows q (over the classifiers: "21" or "20–22") and ratio; a column per detector
    fig_spectrum: Any = glued()  # of the first classifier
    detectors: list[dict[str, PCAReconstruction]] = field(default_factory=list)


def fit_reconstruction(benchmarks: list[OODBenchmark], cfg: KPCAConfig, seed: int) -> Reconstruction:
    """Fit the three reconstruction detectors of the chapter on every classifier; CoRP draws fresh random
    features for each classifier (seed ``seed + k`` for the k-th)."""
    fitted = []
    for k, bench in enumerate(benchmarks):
        dets = {
            "PCA": PCAReconstruction(ratio=cfg.pca_ratio),
            "CoP": KernelPCACoP(ratio=cfg.cop_ratio),
            "CoRP": KernelPCACoRP(
                ratio=cfg.corp_ratio, gamma=cfg.corp_gamma, n_features=cfg.corp_features, seed=seed + k
            ),
        }
        for det in dets.values():
            det.fit_features(bench.train.features, bench.train.labels)
        fitted.append(dets)
    table = pd.DataFrame(
        {
            name: {"q": _range_text([d[name].q_ for d in fitted]), "ratio": ratio}
            for name, ratio in zip(RECONSTRUCTION, (cfg.pca_ratio, cfg.cop_ratio, cfg.corp_ratio))
        }
    )
    table.attrs["fmt"] = {"ratio": "g"}
    return Reconstruction(table, fig_spectrum=figures.spectra(fitted[0]), detectors=fitted)


@dataclass
class DetectorScores:
    """Every detector scored on every classifier: the results table (mean over the classifiers), each
    classifier's averages over the natural OoD sets (the claims' endpoint), the outlier scores."""

    # rows auroc, fpr: averaged over the natural OoD sets, mean over the classifiers; a column per reconstruction
    # detector, KNN and "best" (the pytorch-ood baseline with the lowest mean natural-set FPR95)
    summary: pd.DataFrame = glued(".1%")
    facts: pd.Series = glued()  # best_baseline; corp_rank of n_ranked single detectors (by FPR95); natural_sets
    fig_classifiers: Any = glued()
    table: Any = None  # FPR95 / AUROC in % per detector and set, mean over the classifiers, with the family
    averages: Any = None  # rows detector; columns (metric, seed): the average over the natural OoD sets
    scores: list[dict[str, dict[str, torch.Tensor]]] = field(default_factory=list)  # [classifier][detector][set]
    tables: list[Any] = field(default_factory=list)  # evaluate()'s table of each classifier
    baselines: tuple[str, ...] = ()
    fusions: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()


NATURAL = "natural sets"  # the column of the natural OoD sets' average


def _fusion_name(kpca: str, baseline: str) -> str:
    return f"{kpca} + {baseline}"


def natural_average(table, natural: Sequence[str], metric: str):
    """Per detector, ``metric`` of :func:`~reprobook.ood.metrics.evaluate`'s table averaged over the ``natural``
    OoD sets."""
    part = table[table.ood_set.isin(list(natural))]
    return part.groupby("detector", sort=False)[metric].mean()


def score_detectors(
    benchmarks: list[OODBenchmark],
    reconstruction: Reconstruction,
    cfg: KPCAConfig,
    seeds: list[int],
    natural: Sequence[str],
) -> DetectorScores:
    """Fit the ``pytorch-ood`` baselines of each classifier, build the fusions on its fitted CoP and CoRP,
    and score everything on its InD test set and OoD sets (:func:`reprobook.ood.metrics.evaluate`)."""
    baselines: tuple[str, ...]
    fusions: tuple[str, ...]
    tables, scores, baselines, fusions = [], [], (), ()
    for bench, kpca in zip(benchmarks, reconstruction.detectors):
        base = pytorch_ood_baselines(bench.model, cfg)
        for det in base.values():
            fit_detector(det, bench.train)
        plain = {"MSP": MaxSoftmax(None), "Energy": EnergyBased(None)}
        # bench.model.head: a submodule, which torch types as Tensor | Module
        fused = {
            _fusion_name(k, b): KernelPCAFusion(
                kpca[k],
                plain[b],
                bench.model.head,  # type: ignore[arg-type]
                refit_kpca=False,
            )
            for k, b in FUSED
        }
        table, score = evaluate({**base, **kpca, **fused}, bench, fit=False, return_scores=True)
        tables.append(table)
        scores.append(score)
        baselines, fusions = tuple(base), tuple(fused)
    averages = pd.concat(
        {
            (metric, seed): natural_average(t, natural, metric)
            for seed, t in zip(seeds, tables)
            for metric in ("AUROC", "FPR95")
        },
        axis=1,
    )
    mean = {m: averages[m].mean(axis=1) for m in ("AUROC", "FPR95")}
    best = mean["FPR95"].loc[list(baselines)].idxmin()
    ranking = mean["FPR95"].loc[[*baselines, *RECONSTRUCTION]].rank(ascending=True)
    family = {
        **{n: "baseline (pytorch-ood)" for n in baselines},
        **{n: "reconstruction" for n in RECONSTRUCTION},
        **{n: "fusion" for n in fusions},
    }
    sets = [*benchmarks[0].ood]
    index = wide(tables[0], "AUROC").index
    columns = {
        s: pd.DataFrame(
            {
                "FPR95 ↓": 100 * np.mean([wide(t, "FPR95")[s] for t in tables], axis=0),
                "AUROC ↑": 100 * np.mean([wide(t, "AUROC")[s] for t in tables], axis=0),
            },
            index=index,
        )
        for s in sets
    }
    columns[NATURAL] = pd.DataFrame({"FPR95 ↓": 100 * mean["FPR95"], "AUROC ↑": 100 * mean["AUROC"]}).loc[index]
    shown = pd.concat(columns, axis=1)
    shown.insert(0, ("", "family"), pd.Series(family))
    summary = pd.DataFrame({"auroc": mean["AUROC"], "fpr": mean["FPR95"]}).loc[[*RECONSTRUCTION, "KNN", best]].T
    summary.columns = [*RECONSTRUCTION, "KNN", "best"]
    return DetectorScores(
        summary,
        facts(
            best_baseline=best, corp_rank=int(ranking["CoRP"]), n_ranked=len(ranking), natural_sets=", ".join(natural)
        ),
        fig_classifiers=figures.per_classifier(averages, [*baselines, *RECONSTRUCTION], metric="FPR95"),
        table=shown,
        averages=averages,
        scores=scores,
        tables=tables,
        baselines=baselines,
        fusions=fusions,
        seeds=tuple(seeds),
    )


# --------------------------------------------------------------------------------------------- comparisons
def _each(diffs) -> str:
    return ", ".join(f"{d:+.1%}" for d in diffs)


@dataclass
class Comparisons:
    """Each comparison of the claims on the endpoint (FPR95 of b − FPR95 of a, natural sets: positive when a
    detects better), classifier by classifier, with AUROC beside; and each fusion against its baseline."""

    # a row per comparison (cop_pca, corp_pca, corp_cop, corp_knn, corp_best); columns "" (the mean over the
    # classifiers of the FPR95 improvement), each (classifier by classifier) and auroc (the mean AUROC gain)
    summary: pd.DataFrame = glued()
    facts: pd.Series = glued()  # fusion_better of n_fusions fusions lower their baseline's mean natural-set FPR95
    table: Any = None  # one row per comparison, as shown
    fusion_table: Any = None
    pairs: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)  # key → (FPR95 of b, of a)


def _fpr(scores: DetectorScores, name: str) -> list[float]:
    return scores.averages["FPR95"].loc[name].tolist()


def compare_detectors(scores: DetectorScores) -> Comparisons:
    """The claims' comparisons (:data:`COMPARED`, CoRP against the best baseline, the fusions against their
    baselines), per classifier, on the natural-set FPR95 (the endpoint) and AUROC (shown beside)."""
    av = scores.averages
    pairs = {
        "cop_vs_pca": ("CoP", "PCA"),
        "corp_vs_pca": ("CoRP", "PCA"),
        "corp_vs_cop": ("CoRP", "CoP"),
        "corp_vs_knn": ("CoRP", "KNN"),
        "corp_vs_best": ("CoRP", scores.facts.best_baseline),
    }
    diffs, aurocs, data = {}, {}, {}
    for key, (a, b) in pairs.items():
        fpr_b, fpr_a = _fpr(scores, b), _fpr(scores, a)
        diffs[key] = [y - x for x, y in zip(fpr_a, fpr_b)]
        aurocs[key] = [x - y for x, y in zip(av["AUROC"].loc[a], av["AUROC"].loc[b])]
        data[key] = (fpr_b, fpr_a)
    # one table of the comparisons: glued as it is (one name per cell), shown with readable labels
    summary = pd.DataFrame(
        {
            key.replace("_vs_", "_"): {
                "": float(np.mean(diffs[key])),
                "each": _each(diffs[key]),
                "auroc": float(np.mean(aurocs[key])),
            }
            for key in pairs
        }
    ).T
    summary.attrs["fmt"] = {"": "+.1%", "auroc": "+.1%"}
    baseline = [np.mean([_fpr(scores, b)[i] for _, b in FUSED]) for i in range(len(scores.seeds))]
    fused = [np.mean([_fpr(scores, _fusion_name(k, b))[i] for k, b in FUSED]) for i in range(len(scores.seeds))]
    data["fusion"] = (baseline, fused)  # type: ignore[assignment]  # numpy stubs: np.mean's float64 as floating
    fusion_row = pd.DataFrame(
        {
            "fusion": {
                "": float(np.mean(baseline) - np.mean(fused)),
                "each": _each([x - y for x, y in zip(baseline, fused)]),
                "auroc": float(
                    np.mean([av["AUROC"].loc[_fusion_name(k, b)].mean() - av["AUROC"].loc[b].mean() for k, b in FUSED])
                ),
            }
        }
    ).T
    labels = {key.replace("_vs_", "_"): f"{a} vs {b}" for key, (a, b) in pairs.items()}
    table = (
        pd.concat([summary, fusion_row])
        .rename(
            index={**labels, "fusion": "fusions vs their baselines (mean of 4)"},
            columns={"": "mean FPR95 improvement", "each": "FPR95 improvement per classifier", "auroc": "mean ΔAUROC"},
        )[["FPR95 improvement per classifier", "mean FPR95 improvement", "mean ΔAUROC"]]
        .rename_axis("comparison")
        .astype({"FPR95 improvement per classifier": str, "mean FPR95 improvement": float, "mean ΔAUROC": float})
    )
    table.attrs = {}
    mean = {m: av[m].mean(axis=1) for m in ("AUROC", "FPR95")}
    fusion_table = pd.DataFrame(
        [
            {
                "fusion": _fusion_name(kp, b),
                "baseline": b,
                "baseline FPR95": 100 * mean["FPR95"][b],
                "fusion FPR95": 100 * mean["FPR95"][_fusion_name(kp, b)],
                "baseline AUROC": 100 * mean["AUROC"][b],
                "fusion AUROC": 100 * mean["AUROC"][_fusion_name(kp, b)],
            }
            for kp, b in FUSED
        ]
    ).set_index("fusion")
    return Comparisons(
        summary,
        facts(
            fusion_better=int((fusion_table["fusion FPR95"] < fusion_table["baseline FPR95"]).sum()),
            n_fusions=len(fusion_table),
        ),
        table=table,
        fusion_table=fusion_table,
        pairs=data,
    )


# --------------------------------------------------------------------------------------------- claims
def kpca_claims(
    specs: Sequence[claims.ClaimSpec],
    comparisons: Comparisons,
    scale: str,
    *,
    converged: bool = True,
    convergence: str = "",
) -> list[claims.ClaimTest]:
    """The declared claims (:func:`reprobook.configs.kpca.claim_specs`), each its paired t-test over the
    classifiers on the natural-set FPR95, *not comparable* when the classifiers had not converged (``convergence``
    says why), Holm-adjusted together."""
    tests = []
    for spec in specs:
        better, worse = comparisons.pairs[spec.key]
        diffs = [b - a for b, a in zip(better, worse)]
        tests.append(
            claims.evaluate(
                spec, better, worse, scale=scale, this_run=f"FPR95 improvement per classifier {_each(diffs)}"
            )
        )
    tests = claims.guard_tests(
        tests, [t.key for t in tests], lambda v: claims.requires_convergence(v, converged, convergence)
    )
    return claims.holm_tests(tests)
