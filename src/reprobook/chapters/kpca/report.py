"""The Kernel PCA chapter's report: its settings, the benchmark described, where the detectors differ, the cost table,
paper vs this run (the figures are in :mod:`.figures`).

Explained in ``notebooks/ood/kpca.ipynb``; the runs and the claim tests are in :mod:`.experiment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from ... import profiles
from ...configs.kpca import PAPER_IMAGENET, KPCAConfig
from ...ood.benchmark import OODBenchmark
from ...ood.kernels import components_for_ratio
from ...ood.metrics import ood_metrics
from ...plots import image_grid
from ...results import facts, glued
from . import figures
from .experiment import RECONSTRUCTION, DetectorScores, Reconstruction, _range_text


def chapter_settings(cfg: KPCAConfig, profile: str) -> pd.Series:
    """The detector settings, statistics and thresholds of ``cfg`` and the paper profile's settings in words
    (the official CIFAR-10 detector settings: ``official``), as the prose quotes them."""
    paper = profiles.config("kpca", "paper")
    return facts(
        dict(odin_t="g", odin_eps="g", react_p=".0%", slope_flat="g", slope_grows="g", rff_low="g", rff_high="g"),
        official=(
            f"CoP ratio {paper.cop_ratio}; CoRP ratio {paper.corp_ratio}, γ = {paper.corp_gamma:g}, "
            f"M = {paper.corp_features}"
        ),
        paper_settings=(
            f"{paper.in_dataset}, {paper.model}, {paper.epochs} epochs, OoD sets "
            f"{', '.join(paper.ood_datasets)}; CoP ratio {paper.cop_ratio}, CoRP ratio {paper.corp_ratio}, "
            f"γ = {paper.corp_gamma:g}, M = {paper.corp_features}; {paper.n_classifiers} classifiers"
        ),
        profile_note=(
            "This copy of the chapter ran the paper profile."
            if profile == "paper"
            else f"This copy of the chapter ran the {profile} profile; the paper profile needs a GPU and was "
            "not run for it."
        ),
        knn_k=cfg.knn_k,
        odin_t=cfg.odin_temperature,
        odin_eps=cfg.odin_eps,
        react_p=cfg.react_percentile,
        n_classifiers=cfg.n_classifiers,
        slope_flat=cfg.slope_flat,
        slope_grows=cfg.slope_grows,
        rff_low=cfg.rff_slope_range[0],
        rff_high=cfg.rff_slope_range[1],
    )


@dataclass
class BenchmarkOverview:
    """The benchmark the detectors are scored on, and the K classifiers."""

    facts: pd.Series = glued()  # sizes, the classifiers, their InD test accuracy (mean over them, and range)
    fig_sets: Any = glued()
    table: Any = None  # one row per set: role, samples, mean ‖z‖₂ (over the classifiers)
    accuracies: list[float] = field(default_factory=list)


def describe_benchmark(benchmarks: list[OODBenchmark], seeds: list[int]) -> BenchmarkOverview:
    """Sizes, accuracies, where the classifiers (of ``seeds``) came from, a table of the sets and a figure of one
    image of each set."""
    first, cfg = benchmarks[0], benchmarks[0].config
    sets = {"train": first.train, "test": first.test, **first.ood}
    norms = {name: np.mean([float(b.features(name).features.norm(dim=1).mean()) for b in benchmarks]) for name in sets}
    table = pd.DataFrame(
        [
            {
                "set": name,
                "role": "InD (fit)" if name == "train" else "InD" if name == "test" else "OoD",
                "samples": len(fs),
                "mean ‖z‖₂": norms[name],
            }
            for name, fs in sets.items()
        ]
    ).set_index("set")
    accuracies = [b.test_accuracy for b in benchmarks]
    loaded = sum(b.loaded for b in benchmarks)
    note = (
        "All were loaded from the checkpoint cache."
        if loaded == len(benchmarks)
        else "All were trained in this run."
        if loaded == 0
        else f"{loaded} of them were loaded from the checkpoint cache, the others trained in this run."
    )
    images = [first.dataset(name)[0][0] for name in first.names]
    fig = image_grid(images, ["InD test" if n == "test" else n for n in first.names], ncols=len(images), size=1.4)
    return BenchmarkOverview(
        facts(
            dict(n_train=",", n_test=",", n_ood=",", accuracy=".1%"),
            n_train=len(first.train),
            n_test=len(first.test),
            n_ood=len(next(iter(first.ood.values()))),
            n_ood_sets=len(first.ood),
            dim=int(first.train.features.shape[1]),
            n_classifiers=len(benchmarks),
            seeds=", ".join(str(s) for s in seeds),
            classifier=f"{cfg.model} trained for {cfg.epochs} epochs on {len(first.train):,} {cfg.in_dataset} images",
            accuracy=float(np.mean(accuracies)),
            accuracy_range=_range_text(accuracies, ".1%"),
            loaded_note=note,
        ),
        fig_sets=fig,
        table=table,
        accuracies=accuracies,
    )


@dataclass
class ErrorDistributions:
    """The reconstruction errors on each set (first classifier) and their dependence on the feature norm."""

    facts: pd.Series = glued(".2f")  # norm_corr_<detector>: Spearman ρ of error and ‖z‖₂, mean over the classifiers
    fig_errors: Any = glued()


def error_distributions(benchmarks: list[OODBenchmark], scores: DetectorScores) -> ErrorDistributions:
    """Histograms of PCA's, CoP's and CoRP's errors per set, and the Spearman correlation, over every scored
    sample (InD test and OoD), between each error and the norm of the feature."""
    corr = {}
    for name in ("PCA", "CoP"):
        values = []
        for bench, score in zip(benchmarks, scores.scores):
            norms = torch.cat([bench.features(s).features.norm(dim=1) for s in bench.names]).numpy()
            errors = torch.cat([score[name][s] for s in bench.names]).numpy()
            values.append(float(spearmanr(errors, norms).statistic))
        corr[name] = float(np.mean(values))
    first = {name: {s: v.numpy() for s, v in scores.scores[0][name].items()} for name in RECONSTRUCTION}
    return ErrorDistributions(
        facts(norm_corr_pca=corr["PCA"], norm_corr_cop=corr["CoP"]),
        fig_errors=figures.error_histograms(first, RECONSTRUCTION),
    )


@dataclass
class Throughput:
    """The scoring cost of KPCA and of KNN (three ways) against N, from ``reprobook bench ood-throughput``."""

    # rows us (median µs per test sample at n_max) and slope (log-log, of the fastest round's time per sample
    # against N); a column per method (knn, faiss-flat, faiss-ivf, cop, corp)
    cost: pd.DataFrame = glued()
    # the sizes (n_max, n_min, dim, n_queries, repeats, device); fastest_knn at n_max (the median time);
    # speedup_<kpca>: its time over it at n_max (median of per-round ratios), speedup_<kpca>_sklearn: scikit-learn's
    # exact KNN's over it; ivf_recall (recall@k at n_max), ivf_nprobe of ivf_nlist lists, target_recall
    facts: pd.Series = glued()
    fig_cost: Any = glued()
    cost_holds: bool = False  # KPCA's slopes flat and the exact KNN searches' growing (the fact)
    cost_detail: str = ""
    exact_agree: bool = False  # faiss's exact scores equal scikit-learn's at every N
    exact_detail: str = ""
    recall_ok: bool = False  # the approximate index's recall on the timed queries is within 0.05 of the target
    recall_detail: str = ""
    table: Any = None  # median µs per sample: rows N, columns method
    result: Any = None  # the BenchResult


def throughput(cfg: KPCAConfig, measured: Any) -> Throughput:
    """The slopes of ``measured`` (``reprobook bench ood-throughput``, run by the notebook: the benchmarks sit
    above the methods), the speed-ups at the largest N, and whether the slopes show the costs the algorithms
    have: KPCA's below ``cfg.slope_flat`` in absolute value, the exact KNN searches' above ``cfg.slope_grows``
    (a fact, checked).

    A slope is fitted to each N's fastest round (``min_us``), not its median: what the code costs is the least
    time it takes, and the slower rounds add what else the machine did then. CoP scores 500 samples in about
    0.3 ms, so a faiss thread pool still spinning after a search of 30,000 features, or any other process, can
    double a round's time; on an idle machine the medians gave CoP slopes of 0.19 and 0.30 in two runs a minute
    apart, the fastest rounds 0.04 and 0.07. Until 2026-12-07 the benchmark timed N after N, one call a round:
    over the last 12 runs of the chapter (8 books, 4 alone) CoP's slope came out between −0.22 and +0.27 and
    failed this check in 6 (4 of the books). Its rounds now visit every (method, N) in a shuffled order and repeat
    a call shorter than 10 ms: six runs each, on one core beside a busy one, gave CoP slopes of −0.19 to +0.02
    before and −0.02 to +0.04 after."""
    tp = measured.table
    slopes = {m: float(np.polyfit(np.log(p.n_train), np.log(p.min_us), 1)[0]) for m, p in tp.groupby("method")}
    n_max = int(tp.n_train.max())
    at = tp[tp.n_train == n_max].set_index("method")
    knns = [m for m in ("knn", "faiss-flat", "faiss-ivf") if m in at.index]
    fastest = min(knns, key=lambda m: at.loc[m, "median_us"])
    ivf = tp[tp.method == "faiss-ivf"]
    gaps = tp[tp.method.isin(["knn", "faiss-flat"])].max_score_gap
    flat = all(abs(slopes[m]) < cfg.slope_flat for m in ("cop", "corp"))
    grows = all(slopes[m] > cfg.slope_grows for m in ("knn", "faiss-flat"))
    detail = (
        "log-log slopes of the time per sample against N = "
        f"{', '.join(str(n) for n in sorted(set(tp.n_train)))}: "
        f"CoP {slopes['cop']:.2f}, CoRP {slopes['corp']:.2f} (|slope| < {cfg.slope_flat:g} expected); exact KNN "
        f"{slopes['knn']:.2f}, faiss flat {slopes['faiss-flat']:.2f} (> {cfg.slope_grows:g} expected); the "
        f"fastest of {measured.settings['repeats']} rounds, one machine"
    )
    target = measured.settings["target_recall"]
    methods = ("knn", "faiss-flat", "faiss-ivf", "cop", "corp")
    cost = pd.DataFrame({m: {"us": at.loc[m, "median_us"], "slope": slopes[m]} for m in methods})
    cost.attrs["fmt"] = {"us": ".1f", "slope": ".2f", ("us", "cop"): ".2f"}
    largest = ivf[ivf.n_train == n_max].iloc[0]
    return Throughput(
        cost,
        facts(
            dict(
                n_max=",",
                n_min=",",
                n_queries=",",
                speedup_cop=".0f",
                speedup_corp=".1f",
                speedup_cop_sklearn=".0f",
                speedup_corp_sklearn=".1f",
                ivf_recall=".1%",
                target_recall=".0%",
            ),
            n_max=n_max,
            n_min=int(tp.n_train.min()),
            dim=measured.settings["feature_dim"],
            device=measured.device,
            n_queries=measured.settings["n_queries"],
            repeats=measured.settings["repeats"],
            fastest_knn=at.loc[fastest, "detector"],
            speedup_cop=at.loc["cop", "fastest_knn_over_method"],
            speedup_corp=at.loc["corp", "fastest_knn_over_method"],
            speedup_cop_sklearn=at.loc["cop", "knn_over_method"],
            speedup_corp_sklearn=at.loc["corp", "knn_over_method"],
            ivf_recall=float(largest.recall),
            ivf_nprobe=int(largest.nprobe),
            ivf_nlist=int(largest.nlist),
            target_recall=target,
        ),
        fig_cost=figures.scoring_cost(tp, measured.device),
        cost_holds=flat and grows,
        cost_detail=detail,
        exact_agree=bool((gaps < 1e-4).all()),
        exact_detail=f"largest gap between faiss flat, scikit-learn and the exact k-th distance: {gaps.max():.2e}",
        recall_ok=bool((ivf.recall >= target - 0.05).all()),
        recall_detail=f"recall@k of the IVF index at each N: {', '.join(f'{r:.3f}' for r in ivf.recall)}; "
        f"target {target}",
        table=tp.pivot(index="n_train", columns="detector", values="median_us"),
        result=measured,
    )


def paper_vs_this_run(scores: DetectorScores):
    """The paper's ImageNet averages beside this run's (mean over the classifiers), FPR95 and AUROC in %."""
    mean = {m: scores.averages[m].mean(axis=1) for m in ("AUROC", "FPR95")}
    return pd.DataFrame(
        [
            {
                "detector": name,
                "paper FPR95": f,
                "paper AUROC": a,
                "this run FPR95": round(100 * mean["FPR95"][name], 1),
                "this run AUROC": round(100 * mean["AUROC"][name], 1),
            }
            for name, (f, a) in PAPER_IMAGENET.items()
        ]
    ).set_index("detector")


@dataclass
class RatioSensitivity:
    """Average AUROC of the reconstruction detectors as the explained-variance ratio varies (post hoc)."""

    facts: pd.Series = glued(".1%")  # spread_<detector>: max − min over the grid of the mean average AUROC
    fig_ratio: Any = glued()
    table: Any = None


def ratio_sensitivity(
    benchmarks: list[OODBenchmark], reconstruction: Reconstruction, cfg: KPCAConfig
) -> RatioSensitivity:
    """For each r of ``cfg.ratio_grid``: the same fitted subspaces with the q of r
    (:func:`~reprobook.ood.kernels.components_for_ratio`), scored on every classifier; the mean over the
    classifiers of the AUROC averaged over the OoD sets. The fitted detectors are left as they are."""
    aurocs: dict[tuple[str, float], list[float]] = {}
    qs: dict[tuple[str, float], list[int]] = {}
    for bench, dets in zip(benchmarks, reconstruction.detectors):
        for name in RECONSTRUCTION:
            det = dets[name]
            assert det.explained_variance_ is not None  # the detectors are fitted
            grid = [components_for_ratio(det.explained_variance_.cpu().numpy(), r) for r in cfg.ratio_grid]
            s_in = det.reconstruction_errors(bench.test.features, grid)
            s_out = [det.reconstruction_errors(fs.features, grid) for fs in bench.ood.values()]
            for i, r in enumerate(cfg.ratio_grid):
                aurocs.setdefault((name, r), []).append(
                    float(np.mean([ood_metrics(s_in[i], o[i])["AUROC"] for o in s_out]))
                )
                qs.setdefault((name, r), []).append(grid[i])
    table = pd.DataFrame(
        [
            {"detector": name, "ratio": r, "q": _range_text(qs[(name, r)]), "AUROC": float(np.mean(aurocs[(name, r)]))}
            for name, r in aurocs
        ]
    )
    spread = table.groupby("detector").AUROC.agg(lambda a: a.max() - a.min())
    chosen = {"PCA": cfg.pca_ratio, "CoP": cfg.cop_ratio, "CoRP": cfg.corp_ratio}
    return RatioSensitivity(
        facts(**{f"spread_{d.lower()}": float(spread[d]) for d in RECONSTRUCTION}),
        fig_ratio=figures.ratio_curves(table, chosen),
        table=table,
    )
