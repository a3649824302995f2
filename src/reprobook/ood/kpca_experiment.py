"""The Kernel PCA chapter's experiment: K trained classifiers, every detector on each, the comparisons, the claims.

Explained in ``notebooks/ood/kpca.ipynb`` (Fang et al., NeurIPS 2024, :cite:`fang2024kpca`). Each step is one
function returning one result object whose ``glued`` fields the chapter glues before the prose that quotes
them (:meth:`reprobook.results.RunRecord.glue_result`):

1. :func:`load_classifiers`: the OoD benchmark's classifier from K seeds on the same images (the first K modes
   of the mode-ensemble chapter); :func:`describe_benchmark` summarises them;
2. :func:`rff_check`: the random Fourier features approach the Gaussian kernel like 1/√M;
3. :func:`fit_reconstruction`: plain PCA, CoP and CoRP fitted on each classifier's training features;
4. :func:`score_detectors`: those, the ``pytorch-ood`` baselines and the fusions scored on every OoD set;
5. :func:`compare_detectors`: each comparison of the paper tested twice, over the K classifiers (paired
   t-tests: the variation between trainings) and by a paired bootstrap of the test and OoD samples (the
   sampling of the test sets, on the mean over the classifiers); a comparison holds when both tests do;
6. :func:`error_distributions`, :func:`ratio_sensitivity`: where the detectors differ, and how much r matters;
7. :func:`measure_throughput`: the scoring cost against N (``reprobook bench ood-throughput``);
8. :func:`kpca_claims` and :func:`paper_vs_this_run`: the claims table (Holm-adjusted) and the paper's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .. import claims
from ..checks import check_choice, check_int, check_seed
from ..results import glued
from . import figures
from .benchmark import OODBenchmark, build_benchmark
from .detectors import KernelPCACoP, KernelPCACoRP, KernelPCAFusion, PCAReconstruction, pytorch_ood_baselines
from .kernels import RandomFourierFeatures, cosine_map, gaussian_kernel
from .metrics import AVERAGE, bootstrap_average, compare_bootstrapped, evaluate, fit_detector, mean_bootstrap, wide

RECONSTRUCTION = ("PCA", "CoP", "CoRP")
FUSED = (("CoP", "MSP"), ("CoP", "Energy"), ("CoRP", "MSP"), ("CoRP", "Energy"))  # (KPCA, baseline) pairs
COMPARED = (("CoP", "PCA"), ("CoRP", "PCA"), ("CoRP", "CoP"), ("CoRP", "KNN"))  # + CoRP vs the best baseline


def _range_text(values, fmt: str = "d") -> str:
    """"v" when all values are equal, else "min–max"."""
    low, high = min(values), max(values)
    return format(low, fmt) if low == high else f"{format(low, fmt)}–{format(high, fmt)}"


# --------------------------------------------------------------------------------------------- settings
@dataclass
class ChapterSettings:
    """The settings the chapter's prose quotes."""

    official: str = glued()  # the official CIFAR-10 detector settings
    paper_settings: str = glued()  # the paper profile, in words
    profile_note: str = glued()
    knn_k: int = glued()
    odin_t: float = glued("g")
    odin_eps: float = glued("g")
    react_p: float = glued(".0%")
    n_classifiers: int = glued()
    n_boot: int = glued(",")
    alpha: float = glued("g")
    slope_flat: float = glued("g")
    slope_grows: float = glued("g")
    rff_low: float = glued("g")
    rff_high: float = glued("g")
    n_tests: int = glued()  # comparisons in the claims table, Holm-adjusted together


def chapter_settings(cfg: Any, profile: str) -> ChapterSettings:
    """The detector settings, statistics and thresholds of ``cfg``, and the paper profile's settings, in words."""
    from .. import profiles

    paper = profiles.config("kpca", "paper")
    return ChapterSettings(
        official=(f"CoP ratio {paper.cop_ratio}; CoRP ratio {paper.corp_ratio}, γ = {paper.corp_gamma:g}, "
                  f"M = {paper.corp_features}"),
        paper_settings=(f"{paper.in_dataset}, {paper.model}, {paper.epochs} epochs, OoD sets "
                        f"{', '.join(paper.ood_datasets)}; CoP ratio {paper.cop_ratio}, CoRP ratio {paper.corp_ratio}, "
                        f"γ = {paper.corp_gamma:g}, M = {paper.corp_features}; {paper.n_classifiers} classifiers"),
        profile_note=("This copy of the chapter ran the paper profile." if profile == "paper" else
                      f"This copy of the chapter ran the {profile} profile; the paper profile needs a GPU and was "
                      "not run for it."),
        knn_k=cfg.knn_k, odin_t=cfg.odin_temperature, odin_eps=cfg.odin_eps, react_p=cfg.react_percentile,
        n_classifiers=cfg.n_classifiers, n_boot=cfg.n_boot, alpha=cfg.alpha, slope_flat=cfg.slope_flat,
        slope_grows=cfg.slope_grows, rff_low=cfg.rff_slope_range[0], rff_high=cfg.rff_slope_range[1],
        n_tests=len(CLAIMED))


# --------------------------------------------------------------------------------------------- classifiers
def classifier_seeds(cfg: Any, seed: int) -> list[int]:
    """The seeds of the K classifiers: ``seed, seed + 1, …, seed + K − 1`` (those of the mode-ensemble chapter)."""
    check_seed("seed", seed)
    return [seed + k for k in range(check_int("n_classifiers", cfg.n_classifiers, low=1))]


def load_classifiers(cfg: Any, *, seed: int = 0, device: Any = "auto", data_dir=None,
                     log: Callable[[str], None] | None = None) -> list[OODBenchmark]:
    """The benchmark of each of the K classifiers (:func:`classifier_seeds`), all on the images of
    ``data_seed`` 0: trained once, then loaded from the checkpoint cache."""
    return [build_benchmark(cfg, device=device, seed=s, data_seed=0, data_dir=data_dir, progress=False, log=log)
            for s in classifier_seeds(cfg, seed)]


@dataclass
class BenchmarkOverview:
    """The benchmark the detectors are scored on, and the K classifiers."""

    n_train: int = glued(",")
    n_test: int = glued(",")
    n_ood: int = glued(",")
    n_ood_sets: int = glued()
    dim: int = glued()
    n_classifiers: int = glued()
    seeds: str = glued()
    classifier: str = glued()
    accuracy: float = glued(".1%")  # InD test accuracy, mean over the classifiers
    accuracy_range: str = glued()
    loaded_note: str = glued()
    fig_sets: Any = glued()
    table: Any = None  # one row per set: role, samples, mean ‖z‖₂ (over the classifiers)
    accuracies: list[float] = field(default_factory=list)


def describe_benchmark(benchmarks: list[OODBenchmark], seeds: list[int]) -> BenchmarkOverview:
    """Sizes, accuracies, where the classifiers (of ``seeds``) came from, a table of the sets and a figure of one
    image of each set."""
    import pandas as pd

    from ..plots import image_grid

    first, cfg = benchmarks[0], benchmarks[0].config
    sets = {"train": first.train, "test": first.test, **first.ood}
    norms = {name: np.mean([float(b.features(name).features.norm(dim=1).mean()) for b in benchmarks]) for name in sets}
    table = pd.DataFrame([{"set": name, "role": "InD (fit)" if name == "train" else "InD" if name == "test" else "OoD",
                           "samples": len(fs), "mean ‖z‖₂": norms[name]} for name, fs in sets.items()]).set_index("set")
    accuracies = [b.test_accuracy for b in benchmarks]
    loaded = sum(b.loaded for b in benchmarks)
    note = ("All were loaded from the checkpoint cache." if loaded == len(benchmarks) else
            "All were trained in this run." if loaded == 0 else
            f"{loaded} of them were loaded from the checkpoint cache, the others trained in this run.")
    images = [first.dataset(name)[0][0] for name in first.names]
    fig = image_grid(images, ["InD test" if n == "test" else n for n in first.names], ncols=len(images), size=1.4)
    return BenchmarkOverview(
        n_train=len(first.train), n_test=len(first.test), n_ood=len(next(iter(first.ood.values()))),
        n_ood_sets=len(first.ood), dim=int(first.train.features.shape[1]), n_classifiers=len(benchmarks),
        seeds=", ".join(str(s) for s in seeds),
        classifier=f"{cfg.model} trained for {cfg.epochs} epochs on {len(first.train):,} {cfg.in_dataset} images",
        accuracy=float(np.mean(accuracies)), accuracy_range=_range_text(accuracies, ".1%"), loaded_note=note,
        fig_sets=fig, table=table, accuracies=accuracies)


# --------------------------------------------------------------------------------------------- RFF check
@dataclass
class RFFCheck:
    """How close the random Fourier features' inner products come to the exact Gaussian kernel, against M."""

    m: int = glued()
    gamma: float = glued("g")
    error: float = glued(".4f")  # mean |φ(x)ᵀφ(y) − k(x, y)| at the chapter's M
    kernel_mean: float = glued(".3f")  # mean k(x, y), for scale
    slope: float = glued(".2f")  # log-log slope of the mean gap against M (theory: −½)
    n_probe: int = glued()
    passed: bool = False
    detail: str = ""
    table: Any = None


def rff_check(benchmark: OODBenchmark, cfg: Any, seed: int) -> RFFCheck:
    """Mean gap between the RFF inner products and the exact kernel over all pairs of ``cfg.rff_probe``
    cosine-mapped training features, for M from 64 to 4 × the chapter's M; the check passes when the
    log-log slope of the gap against M lies in ``cfg.rff_slope_range``."""
    import pandas as pd

    probe = cosine_map(benchmark.train.features[:cfg.rff_probe].double())
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
    return RFFCheck(m=cfg.corp_features, gamma=cfg.corp_gamma, error=errors[grid.index(cfg.corp_features)],
                    kernel_mean=float(exact.mean()), slope=slope, n_probe=len(probe), passed=passed,
                    detail=f"log-log slope {slope:.3f} of the mean gap against M = {grid}; allowed [{low}, {high}]",
                    table=table)


# --------------------------------------------------------------------------------------------- the detectors
@dataclass
class Reconstruction:
    """Plain PCA, CoP and CoRP fitted on each classifier's InD training features."""

    q_pca: str = glued()  # q of each detector, over the classifiers ("21" or "20–22")
    q_cop: str = glued()
    q_corp: str = glued()
    ratio_pca: float = glued("g")
    ratio_cop: float = glued("g")
    ratio_corp: float = glued("g")
    fig_spectrum: Any = glued()  # of the first classifier
    detectors: list[dict[str, PCAReconstruction]] = field(default_factory=list)


def fit_reconstruction(benchmarks: list[OODBenchmark], cfg: Any, seed: int) -> Reconstruction:
    """Fit the three reconstruction detectors of the chapter on every classifier; CoRP draws fresh random
    features for each classifier (seed ``seed + k`` for the k-th)."""
    fitted = []
    for k, bench in enumerate(benchmarks):
        dets = {"PCA": PCAReconstruction(ratio=cfg.pca_ratio), "CoP": KernelPCACoP(ratio=cfg.cop_ratio),
                "CoRP": KernelPCACoRP(ratio=cfg.corp_ratio, gamma=cfg.corp_gamma, n_features=cfg.corp_features,
                                      seed=seed + k)}
        for det in dets.values():
            det.fit_features(bench.train.features, bench.train.labels)
        fitted.append(dets)
    q = {name: _range_text([d[name].q_ for d in fitted]) for name in RECONSTRUCTION}
    return Reconstruction(q_pca=q["PCA"], q_cop=q["CoP"], q_corp=q["CoRP"], ratio_pca=cfg.pca_ratio,
                          ratio_cop=cfg.cop_ratio, ratio_corp=cfg.corp_ratio, fig_spectrum=figures.spectra(fitted[0]),
                          detectors=fitted)


@dataclass
class DetectorScores:
    """Every detector scored on every classifier: the results table (mean over the classifiers), each
    classifier's averages over the OoD sets, the outlier scores."""

    auroc_pca: float = glued(".1%")  # average AUROC over the OoD sets, mean over the classifiers
    auroc_cop: float = glued(".1%")
    auroc_corp: float = glued(".1%")
    auroc_knn: float = glued(".1%")
    fpr_pca: float = glued(".1%")
    fpr_cop: float = glued(".1%")
    fpr_corp: float = glued(".1%")
    fpr_knn: float = glued(".1%")
    best_baseline: str = glued()  # the pytorch-ood baseline with the best mean average AUROC
    auroc_best: float = glued(".1%")
    fpr_best: float = glued(".1%")
    corp_rank: int = glued()  # CoRP's rank by mean average AUROC among the single detectors
    n_ranked: int = glued()
    fig_classifiers: Any = glued()
    table: Any = None  # FPR95 / AUROC in % per detector and set, mean over the classifiers, with the family
    averages: Any = None  # rows detector; columns (metric, seed): the average over the OoD sets
    scores: list[dict[str, dict[str, torch.Tensor]]] = field(default_factory=list)  # [classifier][detector][set]
    tables: list[Any] = field(default_factory=list)  # evaluate()'s table of each classifier
    baselines: tuple[str, ...] = ()
    fusions: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()


def _fusion_name(kpca: str, baseline: str) -> str:
    return f"{kpca} + {baseline}"


def score_detectors(benchmarks: list[OODBenchmark], reconstruction: Reconstruction, cfg: Any,
                    seeds: list[int]) -> DetectorScores:
    """Fit the ``pytorch-ood`` baselines of each classifier, build the fusions on its fitted CoP and CoRP,
    and score everything on its InD test set and OoD sets (:func:`reprobook.ood.metrics.evaluate`)."""
    import pandas as pd
    from pytorch_ood.detector import EnergyBased, MaxSoftmax

    tables, scores, baselines, fusions = [], [], (), ()
    for bench, kpca in zip(benchmarks, reconstruction.detectors):
        base = pytorch_ood_baselines(bench.model, cfg)
        for det in base.values():
            fit_detector(det, bench.train)
        plain = {"MSP": MaxSoftmax(None), "Energy": EnergyBased(None)}
        fused = {_fusion_name(k, b): KernelPCAFusion(kpca[k], plain[b], bench.model.head, refit_kpca=False)
                 for k, b in FUSED}
        table, score = evaluate({**base, **kpca, **fused}, bench, fit=False, return_scores=True)
        tables.append(table)
        scores.append(score)
        baselines, fusions = tuple(base), tuple(fused)
    averages = pd.concat({(metric, seed): t[t.ood_set == AVERAGE].set_index("detector")[metric]
                          for seed, t in zip(seeds, tables) for metric in ("AUROC", "FPR95")}, axis=1)
    mean = {m: averages[m].mean(1) for m in ("AUROC", "FPR95")}
    best = mean["AUROC"].loc[list(baselines)].idxmax()
    ranking = mean["AUROC"].loc[[*baselines, *RECONSTRUCTION]].rank(ascending=False)
    family = {**{n: "baseline (pytorch-ood)" for n in baselines}, **{n: "reconstruction" for n in RECONSTRUCTION},
              **{n: "fusion" for n in fusions}}
    sets = [*benchmarks[0].ood, AVERAGE]
    shown = pd.concat({s: pd.DataFrame({"FPR95 ↓": 100 * np.mean([wide(t, "FPR95")[s] for t in tables], axis=0),
                                        "AUROC ↑": 100 * np.mean([wide(t, "AUROC")[s] for t in tables], axis=0)},
                                       index=wide(tables[0], "AUROC").index) for s in sets}, axis=1)
    shown.insert(0, ("", "family"), pd.Series(family))
    return DetectorScores(
        auroc_pca=mean["AUROC"]["PCA"], auroc_cop=mean["AUROC"]["CoP"], auroc_corp=mean["AUROC"]["CoRP"],
        auroc_knn=mean["AUROC"]["KNN"], fpr_pca=mean["FPR95"]["PCA"], fpr_cop=mean["FPR95"]["CoP"],
        fpr_corp=mean["FPR95"]["CoRP"], fpr_knn=mean["FPR95"]["KNN"], best_baseline=best,
        auroc_best=mean["AUROC"][best], fpr_best=mean["FPR95"][best], corp_rank=int(ranking["CoRP"]),
        n_ranked=len(ranking), fig_classifiers=figures.per_classifier(averages, [*baselines, *RECONSTRUCTION]),
        table=shown, averages=averages, scores=scores, tables=tables, baselines=baselines, fusions=fusions,
        seeds=tuple(seeds))


# --------------------------------------------------------------------------------------------- comparisons
@dataclass
class Comparison:
    """"a is better than b", tested over the trained classifiers and by the paired bootstrap."""

    a: str
    b: str
    auroc_diffs: list[float]  # a − b, average AUROC, per classifier
    fpr_diffs: list[float]  # b − a, average FPR95 (an improvement is positive), per classifier
    classifiers: claims.Verdict  # paired t-tests over the classifiers, AUROC and FPR95
    bootstrap: claims.Verdict  # paired bootstrap of the samples, on the mean over the classifiers
    bootstrap_auroc: dict[str, Any]
    bootstrap_fpr: dict[str, Any]
    verdict: claims.Verdict  # both

    @property
    def name(self) -> str:
        return f"{self.a} vs {self.b}"


@dataclass
class Comparisons:
    """The chapter's comparisons: per-classifier differences, the two verdicts and the combined one."""

    rule_classifiers: str = glued()
    rule_bootstrap: str = glued()
    n_boot: int = glued(",")
    n_classifiers: int = glued()
    cop_pca_auroc: float = glued("+.1%")  # mean over classifiers of the difference in average AUROC
    cop_pca_auroc_low: float = glued("+.1%")  # its 95% paired-bootstrap interval
    cop_pca_auroc_high: float = glued("+.1%")
    cop_pca_each: str = glued()  # the difference on each classifier
    corp_pca_auroc: float = glued("+.1%")
    corp_pca_auroc_low: float = glued("+.1%")
    corp_pca_auroc_high: float = glued("+.1%")
    corp_cop_auroc: float = glued("+.1%")
    corp_cop_each: str = glued()
    corp_knn_auroc: float = glued("+.1%")
    corp_knn_auroc_low: float = glued("+.1%")
    corp_knn_auroc_high: float = glued("+.1%")
    corp_knn_fpr95: float = glued("+.1%")
    corp_knn_each: str = glued()
    corp_best_auroc: float = glued("+.1%")
    corp_best_each: str = glued()
    pca_note: str = glued()
    fusion_better: int = glued()  # fusions whose mean average AUROC beats their baseline's
    n_fusions: int = glued()
    table: Any = None  # one row per comparison
    fusion_table: Any = None
    items: dict[str, Comparison] = field(default_factory=dict)


def _each(diffs: list[float]) -> str:
    return ", ".join(f"{d:+.1%}" for d in diffs)


def compare(a: str, b: str, scores: DetectorScores, boots: dict, *, alpha: float, unit: str,
            covers: str) -> Comparison:
    """Test "a is better than b" on AUROC and FPR95: over the classifiers and by the paired bootstrap."""
    av = scores.averages
    auroc_a, auroc_b = av["AUROC"].loc[a].tolist(), av["AUROC"].loc[b].tolist()
    fpr_a, fpr_b = av["FPR95"].loc[a].tolist(), av["FPR95"].loc[b].tolist()
    over = claims.all_of(claims.superiority(auroc_a, auroc_b, alpha=alpha, unit=unit),
                         claims.superiority([-x for x in fpr_a], [-x for x in fpr_b], alpha=alpha, unit=unit))
    over = over.replace(rule=(f"one-sided paired t-tests over {unit} of the differences in average AUROC and in "
                              f"average FPR95, each p < {alpha:g} (sign test when the differences have no spread)"))
    boot_auroc = compare_bootstrapped(boots[(a, "AUROC")], boots[(b, "AUROC")])
    boot_fpr = compare_bootstrapped(boots[(a, "FPR95")], boots[(b, "FPR95")])
    boot = claims.bootstrap_superiority(boot_auroc, boot_fpr, alpha=alpha, covers=covers)
    both = claims.all_of(over, boot, rule=f"both: {over.rule}; and {boot.rule}")
    return Comparison(a, b, [x - y for x, y in zip(auroc_a, auroc_b)], [y - x for x, y in zip(fpr_a, fpr_b)], over,
                      boot, boot_auroc, boot_fpr, both)


def compare_detectors(scores: DetectorScores, cfg: Any, seed: int) -> Comparisons:
    """Every comparison of the chapter (:data:`COMPARED`, CoRP against the best baseline, each fusion against
    its baseline), each bootstrapped with ``cfg.n_boot`` rounds of ``seed`` on the mean over the classifiers."""
    import pandas as pd

    pairs = [*COMPARED, ("CoRP", scores.best_baseline),
             *[(_fusion_name(k, b), b) for k, b in FUSED]]
    involved = list(dict.fromkeys(name for pair in pairs for name in pair))
    boots = {(name, m): mean_bootstrap([bootstrap_average(s[name], metric=m, n_boot=cfg.n_boot, seed=seed)
                                        for s in scores.scores])
             for name in involved for m in ("AUROC", "FPR95")}
    k = len(scores.scores)
    unit = "trained classifiers"
    covers = f"{cfg.n_boot} paired bootstrap rounds of the test and OoD samples, on the mean over {k} classifiers"
    items = {}
    for a, b in pairs:
        c = compare(a, b, scores, boots, alpha=cfg.alpha, unit=unit, covers=covers)
        items[c.name] = c
    rows = [{"comparison": c.name, "ΔAUROC per classifier": _each(c.auroc_diffs),
             "mean ΔAUROC": float(np.mean(c.auroc_diffs)), "mean FPR95 improvement": float(np.mean(c.fpr_diffs)),
             "over classifiers": f"{c.classifiers.verdict} (p = {c.classifiers.p:.3f})",
             "bootstrap ΔAUROC [95%]": (f"{c.bootstrap_auroc['improvement']:+.1%} [{c.bootstrap_auroc['low']:+.1%}, "
                                        f"{c.bootstrap_auroc['high']:+.1%}]"),
             "bootstrap": f"{c.bootstrap.verdict} (p = {c.bootstrap.p:.3f})", "both": c.verdict.verdict}
            for c in items.values()]
    table = pd.DataFrame(rows).set_index("comparison")
    mean = {m: scores.averages[m].mean(1) for m in ("AUROC", "FPR95")}
    fusion_rows = [{"fusion": _fusion_name(kp, b), "baseline": b, "baseline AUROC": 100 * mean["AUROC"][b],
                    "fusion AUROC": 100 * mean["AUROC"][_fusion_name(kp, b)], "baseline FPR95": 100 * mean["FPR95"][b],
                    "fusion FPR95": 100 * mean["FPR95"][_fusion_name(kp, b)],
                    "verdict": items[f"{_fusion_name(kp, b)} vs {b}"].verdict.verdict} for kp, b in FUSED]
    fusion_table = pd.DataFrame(fusion_rows).set_index("fusion")
    get = lambda a, b: items[f"{a} vs {b}"]  # noqa: E731
    cop_pca = get("CoP", "PCA")
    return Comparisons(
        rule_classifiers=cop_pca.classifiers.rule, rule_bootstrap=cop_pca.bootstrap.rule, n_boot=cfg.n_boot,
        n_classifiers=k,
        cop_pca_auroc=float(np.mean(cop_pca.auroc_diffs)), cop_pca_auroc_low=cop_pca.bootstrap_auroc["low"],
        cop_pca_auroc_high=cop_pca.bootstrap_auroc["high"], cop_pca_each=_each(cop_pca.auroc_diffs),
        corp_pca_auroc=float(np.mean(get("CoRP", "PCA").auroc_diffs)),
        corp_pca_auroc_low=get("CoRP", "PCA").bootstrap_auroc["low"],
        corp_pca_auroc_high=get("CoRP", "PCA").bootstrap_auroc["high"],
        corp_cop_auroc=float(np.mean(get("CoRP", "CoP").auroc_diffs)), corp_cop_each=_each(get("CoRP", "CoP").auroc_diffs),
        corp_knn_auroc=float(np.mean(get("CoRP", "KNN").auroc_diffs)),
        corp_knn_auroc_low=get("CoRP", "KNN").bootstrap_auroc["low"],
        corp_knn_auroc_high=get("CoRP", "KNN").bootstrap_auroc["high"],
        corp_knn_fpr95=float(np.mean(get("CoRP", "KNN").fpr_diffs)), corp_knn_each=_each(get("CoRP", "KNN").auroc_diffs),
        corp_best_auroc=float(np.mean(get("CoRP", scores.best_baseline).auroc_diffs)),
        corp_best_each=_each(get("CoRP", scores.best_baseline).auroc_diffs),
        pca_note=("on average over the classifiers, CoP separates InD from OoD better than plain PCA, as the paper says"
                  if np.mean(cop_pca.auroc_diffs) > 0 else
                  "plain PCA is not worse than CoP here: at this scale the cosine map alone does not fix PCA"),
        fusion_better=int((fusion_table["fusion AUROC"] > fusion_table["baseline AUROC"]).sum()),
        n_fusions=len(fusion_table), table=table, fusion_table=fusion_table, items=items)


# --------------------------------------------------------------------------------------------- where they differ
@dataclass
class ErrorDistributions:
    """The reconstruction errors on each set (first classifier) and their dependence on the feature norm."""

    norm_corr_pca: float = glued(".2f")  # Spearman correlation of error and ‖z‖₂, mean over the classifiers
    norm_corr_cop: float = glued(".2f")
    fig_errors: Any = glued()


def error_distributions(benchmarks: list[OODBenchmark], scores: DetectorScores) -> ErrorDistributions:
    """Histograms of PCA's, CoP's and CoRP's errors per set, and the Spearman correlation, over every scored
    sample (InD test and OoD), between each error and the norm of the feature."""
    from scipy.stats import spearmanr

    corr = {}
    for name in ("PCA", "CoP"):
        values = []
        for bench, score in zip(benchmarks, scores.scores):
            norms = torch.cat([bench.features(s).features.norm(dim=1) for s in bench.names]).numpy()
            errors = torch.cat([score[name][s] for s in bench.names]).numpy()
            values.append(float(spearmanr(errors, norms).statistic))
        corr[name] = float(np.mean(values))
    first = {name: {s: v.numpy() for s, v in scores.scores[0][name].items()} for name in RECONSTRUCTION}
    return ErrorDistributions(norm_corr_pca=corr["PCA"], norm_corr_cop=corr["CoP"],
                              fig_errors=figures.error_histograms(first, RECONSTRUCTION))


@dataclass
class RatioSensitivity:
    """Average AUROC of the reconstruction detectors as the explained-variance ratio varies (post hoc)."""

    spread_pca: float = glued(".1%")  # max − min over the grid of the mean average AUROC
    spread_cop: float = glued(".1%")
    spread_corp: float = glued(".1%")
    fig_ratio: Any = glued()
    table: Any = None


def ratio_sensitivity(benchmarks: list[OODBenchmark], reconstruction: Reconstruction, cfg: Any) -> RatioSensitivity:
    """For each r of ``cfg.ratio_grid``: the same fitted subspaces with the q of r
    (:func:`~reprobook.ood.kernels.components_for_ratio`), scored on every classifier; the mean over the
    classifiers of the AUROC averaged over the OoD sets. The fitted detectors are left as they are."""
    import pandas as pd

    from .kernels import components_for_ratio
    from .metrics import ood_metrics

    aurocs: dict[tuple[str, float], list[float]] = {}
    qs: dict[tuple[str, float], list[int]] = {}
    for bench, dets in zip(benchmarks, reconstruction.detectors):
        for name in RECONSTRUCTION:
            det = dets[name]
            grid = [components_for_ratio(det.explained_variance_.cpu().numpy(), r) for r in cfg.ratio_grid]
            s_in = det.reconstruction_errors(bench.test.features, grid)
            s_out = [det.reconstruction_errors(fs.features, grid) for fs in bench.ood.values()]
            for i, r in enumerate(cfg.ratio_grid):
                aurocs.setdefault((name, r), []).append(
                    float(np.mean([ood_metrics(s_in[i], o[i])["AUROC"] for o in s_out])))
                qs.setdefault((name, r), []).append(grid[i])
    table = pd.DataFrame([{"detector": name, "ratio": r, "q": _range_text(qs[(name, r)]),
                           "AUROC": float(np.mean(aurocs[(name, r)]))} for name, r in aurocs])
    spread = table.groupby("detector").AUROC.agg(lambda a: a.max() - a.min())
    chosen = {"PCA": cfg.pca_ratio, "CoP": cfg.cop_ratio, "CoRP": cfg.corp_ratio}
    return RatioSensitivity(spread_pca=float(spread["PCA"]), spread_cop=float(spread["CoP"]),
                            spread_corp=float(spread["CoRP"]), fig_ratio=figures.ratio_curves(table, chosen),
                            table=table)


# --------------------------------------------------------------------------------------------- cost
@dataclass
class Throughput:
    """The scoring cost of KPCA and of KNN (three ways) against N, from ``reprobook bench ood-throughput``."""

    n_max: int = glued(",")
    n_min: int = glued(",")
    dim: int = glued()
    device: str = glued()
    n_queries: int = glued(",")
    repeats: int = glued()
    us_knn: float = glued(".1f")  # µs per test sample at n_max
    us_faiss_flat: float = glued(".1f")
    us_faiss_ivf: float = glued(".1f")
    us_cop: float = glued(".2f")
    us_corp: float = glued(".1f")
    slope_knn: float = glued(".2f")  # log-log slope of the time per sample against N
    slope_faiss_flat: float = glued(".2f")
    slope_faiss_ivf: float = glued(".2f")
    slope_cop: float = glued(".2f")
    slope_corp: float = glued(".2f")
    fastest_knn: str = glued()  # the fastest KNN at n_max (the median time)
    speedup_cop: float = glued(".0f")  # the fastest KNN's time over CoP's at n_max (median of per-round ratios)
    speedup_corp: float = glued(".1f")
    speedup_cop_sklearn: float = glued(".0f")  # scikit-learn's exact KNN over CoP
    speedup_corp_sklearn: float = glued(".1f")
    ivf_recall: float = glued(".1%")  # recall@k of the approximate index at n_max
    ivf_nprobe: int = glued()
    ivf_nlist: int = glued()
    target_recall: float = glued(".0%")
    fig_cost: Any = glued()
    verdict: Any = None  # claims.complexity
    exact_agree: bool = False  # faiss's exact scores equal scikit-learn's at every N
    exact_detail: str = ""
    recall_ok: bool = False  # the approximate index's recall on the timed queries is within 0.05 of the target
    recall_detail: str = ""
    table: Any = None  # median µs per sample: rows N, columns method
    result: Any = None  # the BenchResult


def measure_throughput(cfg: Any, profile: str, device: Any, seed: int) -> Throughput:
    """Run ``reprobook bench ood-throughput`` for ``profile`` on ``device`` (and save it), then its slopes,
    the speed-ups at the largest N and the verdict on the cost claim (:func:`reprobook.claims.complexity`)."""
    from .. import benchmarks

    measured = benchmarks.run("ood-throughput", device=device, profile=profile, seed=seed)
    measured.save()
    tp = measured.table
    slopes = {m: float(np.polyfit(np.log(p.n_train), np.log(p.median_us), 1)[0]) for m, p in tp.groupby("method")}
    n_max = int(tp.n_train.max())
    at = tp[tp.n_train == n_max].set_index("method")
    knns = [m for m in ("knn", "faiss-flat", "faiss-ivf") if m in at.index]
    fastest = min(knns, key=lambda m: at.loc[m, "median_us"])
    ivf = tp[tp.method == "faiss-ivf"]
    gaps = tp[tp.method.isin(["knn", "faiss-flat"])].max_score_gap
    verdict = claims.complexity(slopes, constant=["cop", "corp"], growing=["knn", "faiss-flat"],
                                flat_below=cfg.slope_flat, grows_above=cfg.slope_grows,
                                covers=(f"medians of {measured.settings['repeats']} rounds at N = "
                                        f"{', '.join(str(n) for n in sorted(set(tp.n_train)))}; one machine"))
    target = measured.settings["target_recall"]
    return Throughput(
        n_max=n_max, n_min=int(tp.n_train.min()), dim=measured.settings["feature_dim"], device=measured.device,
        n_queries=measured.settings["n_queries"], repeats=measured.settings["repeats"],
        us_knn=at.loc["knn", "median_us"], us_faiss_flat=at.loc["faiss-flat", "median_us"],
        us_faiss_ivf=at.loc["faiss-ivf", "median_us"], us_cop=at.loc["cop", "median_us"],
        us_corp=at.loc["corp", "median_us"], slope_knn=slopes["knn"], slope_faiss_flat=slopes["faiss-flat"],
        slope_faiss_ivf=slopes["faiss-ivf"], slope_cop=slopes["cop"], slope_corp=slopes["corp"],
        fastest_knn=at.loc[fastest, "detector"], speedup_cop=at.loc["cop", "fastest_knn_over_method"],
        speedup_corp=at.loc["corp", "fastest_knn_over_method"], speedup_cop_sklearn=at.loc["cop", "knn_over_method"],
        speedup_corp_sklearn=at.loc["corp", "knn_over_method"], ivf_recall=float(ivf[ivf.n_train == n_max].recall.iloc[0]),
        ivf_nprobe=int(ivf[ivf.n_train == n_max].nprobe.iloc[0]), ivf_nlist=int(ivf[ivf.n_train == n_max].nlist.iloc[0]),
        target_recall=target, fig_cost=figures.scoring_cost(tp, measured.device), verdict=verdict,
        exact_agree=bool((gaps < 1e-4).all()),
        exact_detail=f"largest gap between faiss flat, scikit-learn and the exact k-th distance: {gaps.max():.2e}",
        recall_ok=bool((ivf.recall >= target - 0.05).all()),
        recall_detail=f"recall@k of the IVF index at each N: {', '.join(f'{r:.3f}' for r in ivf.recall)}; target {target}",
        table=tp.pivot(index="n_train", columns="detector", values="median_us"), result=measured)


# --------------------------------------------------------------------------------------------- claims
CLAIMED = {  # claim -> (comparisons, paper's words, source)
    "Plain PCA on penultimate features is insufficient; the cosine kernel (CoP) separates InD and OoD better":
        (("CoP vs PCA",), "PCA applied straightforwardly on DNN features is insufficient; non-linear mappings resolve it",
         "Fang et al. (2024), abstract"),
    "CoRP improves on CoP":
        (("CoRP vs CoP",), "ImageNet average FPR95 58.40 → 48.60, AUROC 83.86 → 87.53", "repo"),
    "KPCA (CoRP) detects OoD better than KNN":
        (("CoRP vs KNN",), "ImageNet average FPR95 53.97 (KNN) vs 48.60 (CoRP); AUROC 85.01 vs 87.53", "repo"),
    "KPCA reaches state-of-the-art detection among the compared methods":
        (("CoRP vs best",), "CoRP has the best ImageNet average among MSP, ODIN, Energy, Mahalanobis, KNN", "repo"),
    "Fusing the reconstruction error with a baseline, (1 − e)·score, improves the baseline":
        (tuple(f"{_fusion_name(k, b)} vs {b}" for k, b in FUSED),
         "fusions with MSP, Energy, ReAct and BATS improve them (authors' repository; numbers not quoted here)",
         "Fang et al. (2024), authors' repository (CoP_CoRP_fusion.py)"),
}


def _interval(r: dict[str, Any]) -> str:
    return f"{r['improvement']:+.1%} [{r['low']:+.1%}, {r['high']:+.1%}]"


@dataclass
class ClaimsTable:
    """The rows of the chapter's claims table and what the prose says about them."""

    scale: str = glued()  # the scale of this run, in words
    summary: str = glued()  # how many claims got which verdict
    rows: list[dict[str, Any]] = field(default_factory=list)  # for RunRecord.add_claims


def kpca_claims(overview: BenchmarkOverview, scores: DetectorScores, comparisons: Comparisons,
                throughput: Throughput, cfg: Any, profile: str, device: Any) -> ClaimsTable:
    """The claims table (its ``rows`` for :meth:`~reprobook.results.RunRecord.add_claims`): five comparisons,
    Holm-adjusted together at ``cfg.alpha``, and the cost claim (a threshold rule, no p-value)."""
    from ..chapters.kpca import PAPER_IMAGENET_SOURCE

    check_choice("profile", profile, ("tiny", "smoke", "paper"))
    scale = (f"{profile} profile: {cfg.in_dataset} ({overview.n_train:,} train / {overview.n_test:,} test), {cfg.model} "
             f"({overview.dim}-d features, {cfg.epochs} epochs, test accuracy {overview.accuracy_range}), OoD: "
             f"{', '.join(cfg.ood_datasets)}; {overview.n_classifiers} classifiers; {torch.device(device).type}")
    items = {**comparisons.items, "CoRP vs best": comparisons.items[f"CoRP vs {scores.best_baseline}"]}
    verdicts = {claim: claims.all_of(*[items[n].verdict for n in names]) if len(names) > 1 else items[names[0]].verdict
                for claim, (names, _, _) in CLAIMED.items()}
    verdicts = claims.holm(verdicts, alpha=cfg.alpha)
    rows = []
    for claim, (names, paper, source) in CLAIMED.items():
        parts = []
        for n in names:
            c = items[n]
            if len(names) > 1:  # several comparisons in one claim: the short form
                parts.append(f"{c.name}: ΔAUROC per classifier {_each(c.auroc_diffs)} ({c.verdict.verdict})")
                continue
            parts.append(f"{c.name}: ΔAUROC per classifier {_each(c.auroc_diffs)} ({c.classifiers.verdict}); "
                         f"bootstrap ΔAUROC {_interval(c.bootstrap_auroc)}, FPR95 improvement {_interval(c.bootstrap_fpr)} "
                         f"({c.bootstrap.verdict})")
        text = "; ".join(parts) + " (each part before the Holm adjustment" + (
            f"; adjusted p = {verdicts[claim].p:.3f})" if verdicts[claim].p is not None else ")")
        rows.append(dict(claim=claim, paper=paper, this_run=text, verdict=verdicts[claim],
                         source=PAPER_IMAGENET_SOURCE if source == "repo" else source, scale=scale))
    t = throughput
    rows.append(dict(
        claim="KPCA scores in O(1) of the training-set size; KNN in O(N)",
        paper="CoP O(1), CoRP O(M), KNN O(N_train) per test sample",
        this_run=(f"log-log slope of time vs N: KNN (scikit-learn) {t.slope_knn:.2f}, faiss flat {t.slope_faiss_flat:.2f}, "
                  f"faiss IVF {t.slope_faiss_ivf:.2f} (recall {t.ivf_recall:.1%}), CoP {t.slope_cop:.2f}, CoRP "
                  f"{t.slope_corp:.2f}; at N = {t.n_max:,} the fastest KNN ({t.fastest_knn}) is {t.speedup_cop:.0f}× "
                  f"slower than CoP and {t.speedup_corp:.1f}× than CoRP"),
        verdict=t.verdict, source="Fang et al. (2024), abstract and authors' repository",
        scale=scale + "; throughput on synthetic features"))
    words = [r["verdict"].verdict for r in rows]
    summary = ", ".join(f"{words.count(w)} {w}" for w in claims.VERDICTS if words.count(w)) + f" (of {len(rows)} claims)"
    if profile == "tiny":  # RunRecord.claim turns every verdict of a tiny run into "not comparable (tiny run)"
        summary = f"all {len(rows)} not comparable (a tiny run is never evidence)"
    return ClaimsTable(scale=scale, summary=summary, rows=rows)


def paper_vs_this_run(scores: DetectorScores):
    """The paper's ImageNet averages beside this run's (mean over the classifiers), FPR95 and AUROC in %."""
    import pandas as pd

    from ..chapters.kpca import PAPER_IMAGENET

    mean = {m: scores.averages[m].mean(1) for m in ("AUROC", "FPR95")}
    return pd.DataFrame([{"detector": name, "paper FPR95": f, "paper AUROC": a,
                          "this run FPR95": round(100 * mean["FPR95"][name], 1),
                          "this run AUROC": round(100 * mean["AUROC"][name], 1)}
                         for name, (f, a) in PAPER_IMAGENET.items()]).set_index("detector")


__all__ = ["BenchmarkOverview", "ChapterSettings", "ClaimsTable", "Comparison", "Comparisons", "DetectorScores",
           "ErrorDistributions", "RFFCheck", "RatioSensitivity", "Reconstruction", "Throughput", "chapter_settings",
           "classifier_seeds", "compare", "compare_detectors", "describe_benchmark", "error_distributions",
           "fit_reconstruction", "kpca_claims", "load_classifiers", "measure_throughput", "paper_vs_this_run",
           "ratio_sensitivity", "rff_check", "score_detectors"]
