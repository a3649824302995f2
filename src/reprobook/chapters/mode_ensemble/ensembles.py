"""Explained in `notebooks/ood/mode_ensemble.ipynb`: the chapter's study of ensembles of modes.

The ensemble detectors are :mod:`reprobook.ood.ensemble`. Here the chapter's experiment on them:
:func:`score_ensembles` scores every single mode and the ensembles the profile asks for on the same images,
:func:`mode_spread` measures how much a detector's FPR95 moves from one mode to another (the paper's
fluctuation), :func:`ensemble_gain` what an ensemble gains over its members (paired by disjoint member sets),
with the tables and figures the chapter shows.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from torch import Tensor

from ...configs.mode_ensemble import ModeEnsembleConfig
from ...ood.ensemble import RULES, _key, disjoint_units, ensemble_scores, member_subsets
from ...ood.metrics import bootstrap_average, ood_metrics
from ...ood.modes import ModeSet
from ...results import facts, glued
from ...timing import Timer


@dataclass
class EnsembleStudy:
    """Every scored ensemble (single modes are size 1): ``table`` one row per (ensemble, detector, OoD set) with
    FPR95 and AUROC; ``scores[members][detector][split]`` the outlier scores of the single modes and of the
    ensemble of all K."""

    table: Any
    scores: dict[tuple[int, ...], dict[str, dict[str, Tensor]]]
    detectors: tuple[str, ...]
    ood_sets: tuple[str, ...]
    n_modes: int
    seconds: float = 0.0


def ensembles_to_score(n_modes: int, cfg: ModeEnsembleConfig, seed: int = 0) -> list[tuple[int, ...]]:
    """The single modes, every pair, the disjoint units, a seeded sample of ``cfg.max_subsets`` ensembles of each
    other size of ``cfg.ensemble_sizes``, and the ensemble of all K (each once, by size)."""
    chosen: list[tuple[int, ...]] = [(k,) for k in range(n_modes)]
    if n_modes >= 2:
        chosen += list(itertools.combinations(range(n_modes), 2))
    if 2 <= cfg.unit_size <= n_modes:
        chosen += disjoint_units(n_modes, cfg.unit_size)
    for size in cfg.ensemble_sizes:
        if 3 <= size < n_modes:
            chosen += member_subsets(n_modes, size, cfg.max_subsets, seed)
    chosen.append(tuple(range(n_modes)))
    return sorted(dict.fromkeys(chosen), key=lambda m: (len(m), m))


def score_ensembles(modes: ModeSet, cfg: ModeEnsembleConfig, *, seed: int = 0) -> EnsembleStudy:
    """Score every ensemble of :func:`ensembles_to_score` with every detector on every OoD set."""
    clock = Timer()
    n = len(modes)
    rows, kept = [], {}
    for members in ensembles_to_score(n, cfg, seed):
        scores = ensemble_scores(modes, members, cfg)
        if len(members) in (1, n):
            kept[members] = scores
        for det, per_split in scores.items():
            for name in modes.ood_sets:
                m = ood_metrics(per_split["test"], per_split[name])
                rows.append(
                    {
                        "size": len(members),
                        "members": _key(members),
                        "detector": det,
                        "ood_set": name,
                        "FPR95": m["FPR95"],
                        "AUROC": m["AUROC"],
                    }
                )
    return EnsembleStudy(pd.DataFrame(rows), kept, tuple(cfg.detectors), modes.ood_sets, n, clock.elapsed())


def endpoint(study: EnsembleStudy, detectors: Sequence[str], ood_sets: Sequence[str], metric: str = "FPR95"):
    """Each scored ensemble's ``metric`` averaged over ``detectors`` and ``ood_sets``: a Series indexed by members
    (``"1+2"``: modes 1 and 2)."""
    t = study.table
    part = t[t.detector.isin(list(detectors)) & t.ood_set.isin(list(ood_sets))]
    return part.groupby("members")[metric].mean()


def pair_matrix(values, n_modes: int) -> tuple[np.ndarray, np.ndarray]:
    """From an :func:`endpoint` Series: the single modes' values F (K) and the matrix E of the pairs' values
    (K × K, E[i, i] = F[i]: a mode averaged with itself is that mode)."""
    singles = np.array([values[_key((k,))] for k in range(n_modes)])
    pairs = np.diag(singles).astype(float)
    for i, j in itertools.combinations(range(n_modes), 2):
        pairs[i, j] = pairs[j, i] = values[_key((i, j))]
    return singles, pairs


def variance_ratio(singles: np.ndarray, pairs: np.ndarray, index: Any) -> float:
    """log(SD of (Fᵢ + Fⱼ)/2 ÷ SD of E[i, j]) over the pairs of distinct modes among ``index`` (a bootstrap resample
    may repeat a mode; a mode is never paired with itself): positive when the ensembles vary less than averaging
    two members would make them."""
    index = np.asarray(index, dtype=int)
    a, b = np.triu_indices(len(index), 1)
    i, j = index[a], index[b]
    keep = i != j
    i, j = i[keep], j[keep]
    if len(i) < 2:  # fewer than two distinct pairs: no spread to compare
        return 0.0
    averaged = (singles[i] + singles[j]) / 2
    ensembles = pairs[i, j]
    return float(np.log((np.std(averaged, ddof=1) + 1e-12) / (np.std(ensembles, ddof=1) + 1e-12)))


@dataclass
class EnsembleGain:
    """The primary endpoint (FPR95 averaged over the CIFAR detectors and the natural OoD sets) of the disjoint
    units against their own members, per detector descriptively, and against the ensemble size (figure)."""

    units: Any  # one row per disjoint unit: members, mean of the members, the ensemble, the gain
    per_detector: Any  # one row per detector: mean gain over the units with its 95 % t-interval
    by_size: Any  # one row per size: mean, SD, min, max of the endpoint over the scored ensembles
    singles: np.ndarray  # F: each mode's endpoint
    pairs: np.ndarray  # E: each pair's endpoint
    # n_units of unit_size modes; mean_members, mean_ensembles, mean_gain over the units; full: the ensemble of all
    # K; best_single, worst_single; sd_singles, sd_pairs_averaged (SD over pairs of (Fᵢ + Fⱼ)/2: the averaging
    # null), sd_pairs (SD over pairs of the ensembles' FPR95)
    facts: pd.Series = glued()
    figure: Any = glued()


def _t_interval(values: np.ndarray) -> tuple[float, float, float]:
    mean = float(np.mean(values))
    if len(values) < 2 or np.std(values) == 0:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def ensemble_gain(study: EnsembleStudy, cfg: ModeEnsembleConfig, natural: Sequence[str]) -> EnsembleGain:
    """The units' members against their ensembles on the primary endpoint, every detector's gain (descriptive; the
    ImageNet-only detectors marked), and the figure of the endpoint against the ensemble size."""
    primary = endpoint(study, cfg.primary_detectors, natural)
    units = disjoint_units(study.n_modes, cfg.unit_size)
    rows = [
        {
            "unit": _key(u),
            "members' mean": float(np.mean([primary[_key((k,))] for k in u])),
            "ensemble": float(primary[_key(u)]),
        }
        for u in units
    ]
    table = pd.DataFrame(rows).set_index("unit")
    table["gain"] = table["members' mean"] - table["ensemble"]
    det_rows = []
    for det in study.detectors:
        values = endpoint(study, [det], natural)
        gains = np.array([np.mean([values[_key((k,))] for k in u]) - values[_key(u)] for u in units])
        mean, low, high = _t_interval(gains)
        det_rows.append(
            {
                "detector": det,
                "in the primary endpoint": det in cfg.primary_detectors,
                "official code": ("ImageNet only" if det not in cfg.primary_detectors else "CIFAR-10 and ImageNet"),
                "rule": RULES[det],
                "mean gain": mean,
                "95 % low": low,
                "95 % high": high,
            }
        )
    per_detector = pd.DataFrame(det_rows).set_index("detector")
    sizes = study.table.groupby("members")["size"].first()
    frame = pd.DataFrame({"size": sizes, "FPR95": primary})
    by_size = frame.groupby("size")["FPR95"].agg(["mean", "std", "min", "max", "count"]).reset_index()
    singles, pairs = pair_matrix(primary, study.n_modes)
    a, b = np.triu_indices(study.n_modes, 1)
    found = facts(
        dict(
            mean_members=".1%",
            mean_ensembles=".1%",
            mean_gain="+.1%",
            full=".1%",
            best_single=".1%",
            worst_single=".1%",
            sd_singles=".2%",
            sd_pairs_averaged=".2%",
            sd_pairs=".2%",
        ),
        n_units=len(units),
        unit_size=cfg.unit_size,
        mean_members=float(table["members' mean"].mean()),
        mean_ensembles=float(table["ensemble"].mean()),
        mean_gain=float(table["gain"].mean()),
        full=float(primary[_key(tuple(range(study.n_modes)))]),
        best_single=float(singles.min()),
        worst_single=float(singles.max()),
        sd_singles=float(np.std(singles, ddof=1)),
        sd_pairs_averaged=float(np.std((singles[a] + singles[b]) / 2, ddof=1)),
        sd_pairs=float(np.std(pairs[a, b], ddof=1)),
    )
    return EnsembleGain(
        units=table,
        per_detector=per_detector,
        by_size=by_size,
        singles=singles,
        pairs=pairs,
        facts=found,
        figure=size_figure(study, cfg, natural, primary),
    )


def size_figure(study: EnsembleStudy, cfg: ModeEnsembleConfig, natural: Sequence[str], primary):
    """FPR95 against the ensemble size: the primary endpoint (black, every scored ensemble a dot) and each detector
    (mean over the scored ensembles of each size; dashed: ImageNet-only in the official code)."""
    import matplotlib.pyplot as plt

    sizes = study.table.groupby("members")["size"].first()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ax = axes[0]
    ax.plot(sizes[primary.index], 100 * primary, "o", color="grey", alpha=0.4, ms=3)
    mean = primary.groupby(sizes[primary.index]).mean()
    ax.plot(mean.index, 100 * mean, "o-", color="black", label="mean over the scored ensembles")
    ax.set(
        xlabel="modes in the ensemble",
        ylabel="FPR95 (%) ↓",
        xticks=list(mean.index),
        title="Primary endpoint (CIFAR detectors, natural sets)",
    )
    ax.legend(fontsize=7)
    for i, det in enumerate(study.detectors):
        values = endpoint(study, [det], natural)
        curve = values.groupby(sizes[values.index]).mean()
        style = "--" if det not in cfg.primary_detectors else "-"
        label = det + (" (ImageNet only)" if det not in cfg.primary_detectors else "")
        axes[1].plot(curve.index, 100 * curve, "o" + style, color=f"C{i}", ms=3, label=label)
    axes[1].set(
        xlabel="modes in the ensemble",
        ylabel="FPR95 (%), natural sets ↓",
        xticks=list(mean.index),
        title="Each detector",
    )
    axes[1].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


@dataclass
class ModeSpread:
    """How much single modes differ on OoD data, against how much re-drawing the test samples moves one mode.

    ``cells`` one row per (detector, OoD set): FPR95 min, max, range and SD over the K modes, the SD of mode 1's
    FPR95 over its bootstrap rounds, the full ensemble's FPR95. ``per_mode`` the single modes' FPR95 and AUROC.
    ``rounds[detector][set]`` mode 1's FPR95 in each bootstrap round (the same rounds for every detector).
    """

    cells: Any
    per_mode: Any
    rounds: dict[str, dict[str, np.ndarray]]
    facts: pd.Series = glued()  # widest (the cell of the widest range: widest_low to widest_high); n_cells; n_boot
    figure: Any = glued()


def mode_spread(study: EnsembleStudy, cfg: ModeEnsembleConfig, *, seed: int = 0) -> ModeSpread:
    """The spread of FPR95 across the K single modes, per detector and OoD set, mode 1's bootstrap rounds, and the
    figure."""
    singles = study.table[study.table["size"] == 1]
    full = study.table[study.table["size"] == study.n_modes]
    first = (0,)
    rounds: dict[str, dict[str, np.ndarray]]
    rows, rounds = [], {}
    for det in study.detectors:
        rounds[det] = {}
        for name in study.ood_sets:
            v = singles[(singles.detector == det) & (singles.ood_set == name)]["FPR95"].to_numpy()
            boot = bootstrap_average(
                {"test": study.scores[first][det]["test"], name: study.scores[first][det][name]},
                metric="FPR95",
                n_boot=cfg.n_boot,
                seed=seed,
            )
            rounds[det][name] = np.asarray(boot["rounds"])
            ens = full[(full.detector == det) & (full.ood_set == name)]["FPR95"]
            rows.append(
                {
                    "detector": det,
                    "ood_set": name,
                    "min": v.min(),
                    "max": v.max(),
                    "range": v.max() - v.min(),
                    "SD over modes": v.std(ddof=1) if len(v) > 1 else 0.0,
                    "bootstrap SD (mode 1)": float(np.std(rounds[det][name], ddof=1)),
                    "ensemble of all": float(ens.iloc[0]),
                }
            )
    cells = pd.DataFrame(rows)
    top = cells.loc[cells["range"].idxmax()]
    per_mode = singles.pivot_table(index=["detector", "ood_set"], columns="members", values=["FPR95", "AUROC"])
    per_mode.columns = pd.MultiIndex.from_tuples([(metric, f"mode {m}") for metric, m in per_mode.columns])
    order = [f"mode {k + 1}" for k in range(study.n_modes)]
    per_mode = pd.concat({m: per_mode[m][order] for m in ("FPR95", "AUROC")}, axis=1)
    return ModeSpread(
        cells=cells,
        per_mode=per_mode,
        rounds=rounds,
        facts=facts(
            dict(widest_low=".1%", widest_high=".1%", n_boot=","),
            widest=f"{top.detector} on {top.ood_set}",
            widest_low=float(top["min"]),
            widest_high=float(top["max"]),
            n_cells=len(cells),
            n_boot=cfg.n_boot,
        ),
        figure=spread_figure(singles, full, study.detectors, study.ood_sets),
    )


def fluctuation_inputs(
    spread: ModeSpread, detectors: Sequence[str], ood_sets: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The fluctuation test's inputs over the (detector, OoD set) cells of ``detectors`` × ``ood_sets``: the single
    modes' FPR95 (K × cells) and mode 1's FPR95 in each bootstrap round (cells × R)."""
    per_mode = spread.per_mode["FPR95"]
    cells = [(d, s) for d in detectors for s in ood_sets]
    return (
        np.stack([per_mode.loc[c].to_numpy(dtype=float) for c in cells], axis=1),
        np.stack([spread.rounds[d][s] for d, s in cells]),
    )


def spread_figure(singles, full, detectors: Sequence[str], ood_sets: Sequence[str]):
    """One panel per OoD set: each mode's FPR95 per detector (dots, min–max bar) and the full ensemble (star)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ood_sets), figsize=(2.3 * len(ood_sets) + 0.8, 3.3), sharey=True, squeeze=False)
    x = np.arange(len(detectors))
    for ax, name in zip(axes[0], ood_sets):
        for i, det in enumerate(detectors):
            v = 100 * singles[(singles.detector == det) & (singles.ood_set == name)]["FPR95"].to_numpy()
            ax.vlines(i, v.min(), v.max(), color="grey", lw=4, alpha=0.4)
            ax.plot(np.full(len(v), i), v, "o", ms=3, color="C0", label="single modes" if i == 0 else None)
            e = 100 * full[(full.detector == det) & (full.ood_set == name)]["FPR95"].to_numpy()
            ax.plot([i], e, "*", ms=9, color="C3", label="ensemble of all modes" if i == 0 else None)
        ax.set_xticks(x, detectors, rotation=60, fontsize=7)
        ax.set_title(name, fontsize=9)
    axes[0][0].set_ylabel("FPR95 (%) ↓")
    axes[0][0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig
