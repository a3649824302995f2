"""Mode ensemble: the official combination rules, ensembles of 2…K modes, and the chapter's verdicts.

Explained in ``notebooks/ood/mode_ensemble.ipynb`` (Fang et al., IJCV 2024, :cite:`fang2024modeensemble`;
official code github fanghenshaometeor/ood-mode-ensemble, ``eval_ood_ensemble.py``, ``utils_ood.py`` and
``utils_knn/``). Each detector combines m modes at the representation it scores:

* **logits** (MSP, Energy, ODIN, RankFeat): ℓ̄(x) = (1/m) Σ_k ℓ_k(x), then the detector's score of ℓ̄ (for ODIN
  each mode's logits at its own perturbed input, for RankFeat each mode's logits after rank-1 removal);
* **gradient norms** (GradNorm): the loss is taken on the averaged logits and each mode's last-layer
  gradient norm is averaged;
* **features** (KNN, Mahalanobis): z̄(x) = (1/m) Σ_k z_k(x), on the training features as on the test ones,
  and the detector is fitted and scored on z̄.

A single mode is the ensemble of size 1: the same code scores both. Every score follows the book's
convention (``pytorch-ood``'s): larger means more likely OoD.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..checks import ParameterError, check_choices, check_int
from ..results import glued
from .metrics import bootstrap_average, ood_metrics
from .modes import ModeSet

DETECTORS: tuple[str, ...] = ("MSP", "ODIN", "Energy", "Mahalanobis", "KNN", "GradNorm", "RankFeat")
RULES: dict[str, str] = {"MSP": "average logits", "ODIN": "average logits (perturbed inputs)",
                         "Energy": "average logits", "RankFeat": "average logits (rank-1 removed)",
                         "GradNorm": "average gradient norms", "KNN": "average features",
                         "Mahalanobis": "average features"}


# ------------------------------------------------------------------------------------------------ the rules
def _stack(tensors: Sequence[Tensor], name: str) -> Tensor:
    if isinstance(tensors, Tensor) or not tensors or any(not isinstance(t, Tensor) for t in tensors):
        raise ParameterError(name, type(tensors).__name__, "a non-empty list of tensors, one per mode")
    if any(t.shape != tensors[0].shape for t in tensors):
        raise ParameterError(name, [tuple(t.shape) for t in tensors], "tensors of one shape, one per mode")
    return torch.stack([t.double() for t in tensors])


def mean_logits(logits: Sequence[Tensor]) -> Tensor:
    """ℓ̄ = (1/m) Σ_k ℓ_k: the logits of m modes averaged (rule of MSP, Energy, ODIN and RankFeat)."""
    # ℓ̄(x) = (1/m) Σ_k ℓ_k(x)
    return _stack(logits, "logits").mean(0)


def mean_features(features: Sequence[Tensor]) -> Tensor:
    """z̄ = (1/m) Σ_k z_k: the penultimate features of m modes averaged (rule of KNN and Mahalanobis)."""
    # z̄(x) = (1/m) Σ_k z_k(x)
    return _stack(features, "features").mean(0)


def gradnorm_scores(logits: Sequence[Tensor], features: Sequence[Tensor], temperature: float = 1.0) -> Tensor:
    """GradNorm of an ensemble of m modes (m = 1: the plain GradNorm), as an outlier score.

    The official rule: the loss L = −Σ_c log softmax(ℓ̄/T)_c is taken on the averaged logits ℓ̄; every
    mode's last layer W_k then receives ∂L/∂W_k = (1/m)·g·z_kᵀ with g = ∂L/∂ℓ̄ = (C·softmax(ℓ̄/T) − 1)/T,
    and the score is the average of the ℓ₁ norms (1/m) Σ_k ‖∂L/∂W_k‖₁. The norm of an outer product
    factorises, ‖g z_kᵀ‖₁ = ‖g‖₁·‖z_k‖₁, so no backward pass is needed (the test checks it against
    autograd and against ``pytorch-ood``'s GradNorm). The score is negated: InD inputs have the larger
    gradient norm.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ParameterError("temperature", temperature, "a number > 0")
    ell, z = _stack(logits, "logits"), _stack(features, "features")
    if ell.shape[:2] != z.shape[:2]:
        raise ParameterError("features", tuple(z.shape), f"one row per logit row: {tuple(ell.shape[:2])}")
    m, classes = ell.shape[0], ell.shape[2]
    # g = ∂L/∂ℓ̄ = (C·softmax(ℓ̄/T) − 1)/T, for L = −Σ_c log softmax(ℓ̄/T)_c
    g = (classes * torch.softmax(ell.mean(0) / temperature, dim=1) - 1.0) / temperature
    # ‖∂L/∂W_k‖₁ = (1/m)·‖g‖₁·‖z_k‖₁, averaged over the m modes
    norms = g.abs().sum(1) * z.abs().sum(2) / m
    return -norms.mean(0)


def check_members(members: Any, n_modes: int) -> tuple[int, ...]:
    """Mode indices: a non-empty tuple of distinct integers in [0, n_modes)."""
    if isinstance(members, (int, str)) or not isinstance(members, Sequence) or not members:
        raise ParameterError("members", members, f"a non-empty list of mode indices in [0, {n_modes - 1}]")
    for k in members:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < n_modes:
            raise ParameterError("members", members, f"mode indices in [0, {n_modes - 1}]")
    if len(set(members)) != len(members):
        raise ParameterError("members", members, "distinct mode indices")
    return tuple(int(k) for k in members)


def ensemble_scores(modes: ModeSet, members: Sequence[int], cfg: Any,
                    detectors: Sequence[str] | None = None) -> dict[str, dict[str, Tensor]]:
    """Outlier scores of the ensemble of ``members`` (mode indices): ``scores[detector][split]``.

    ``cfg`` gives the detectors' settings (temperatures, k); ``detectors`` defaults to ``cfg.detectors``.
    """
    from pytorch_ood.detector import KNN, EnergyBased, Mahalanobis, MaxSoftmax

    members = check_members(members, len(modes))
    detectors = check_choices("detectors", tuple(detectors or cfg.detectors), DETECTORS)
    out = {split: [modes.outputs(k, split) for k in members] for split in modes.splits}
    scores: dict[str, dict[str, Tensor]] = {}
    for det in detectors:
        if det in ("MSP", "Energy", "ODIN", "RankFeat"):
            attr = {"MSP": "logits", "Energy": "logits", "ODIN": "odin", "RankFeat": "rankfeat"}[det]
            if any(getattr(o, attr) is None for outs in out.values() for o in outs):
                raise ParameterError("detectors", det, "detectors whose inputs were computed (build_modes with "
                                                        "input_detectors=True for ODIN and RankFeat)")
            score = {"MSP": lambda l: MaxSoftmax.score(l),
                     "Energy": lambda l: EnergyBased.score(l, t=cfg.energy_temperature),
                     "ODIN": lambda l: MaxSoftmax.score(l, t=cfg.odin_temperature),
                     "RankFeat": lambda l: EnergyBased.score(l, t=cfg.rankfeat_temperature)}[det]
            scores[det] = {s: score(mean_logits([getattr(o, attr) for o in outs])) for s, outs in out.items()}
        elif det == "GradNorm":
            scores[det] = {s: gradnorm_scores([o.logits for o in outs], [o.features for o in outs],
                                              cfg.gradnorm_temperature) for s, outs in out.items()}
        else:  # KNN, Mahalanobis on the averaged features
            train = mean_features([modes.outputs(k, "train").features for k in members]).float()
            labels = modes.modes[0].benchmark.train.labels
            detector = KNN(None, k=cfg.knn_k) if det == "KNN" else Mahalanobis(None)
            detector.fit_features(train, labels)
            scores[det] = {s: detector.predict_features(mean_features([o.features for o in outs]).float())
                           for s, outs in out.items()}
        scores[det] = {s: v.detach().double().cpu() for s, v in scores[det].items()}
    return scores


# ------------------------------------------------------------------------------------------------ ensembles of 2…K
def member_subsets(n_modes: int, size: int, max_subsets: int, seed: int = 0) -> list[tuple[int, ...]]:
    """The ensembles of ``size`` modes: all C(K, size) of them, or a seeded sample of ``max_subsets``."""
    check_int("size", size, low=1, high=n_modes)
    check_int("max_subsets", max_subsets, low=1)
    every = list(itertools.combinations(range(n_modes), size))
    if len(every) <= max_subsets:
        return every
    rng = np.random.default_rng(seed + size)
    return [every[i] for i in sorted(rng.choice(len(every), size=max_subsets, replace=False))]


@dataclass
class EnsembleStudy:
    """Every scored ensemble (single modes are size 1): ``table`` one row per (ensemble, detector, OoD set)
    with FPR95 and AUROC; ``scores[members][detector][split]`` the outlier scores of the single modes and
    of the full ensemble."""

    table: Any
    scores: dict[tuple[int, ...], dict[str, dict[str, Tensor]]]
    detectors: tuple[str, ...]
    ood_sets: tuple[str, ...]
    n_modes: int


def score_ensembles(modes: ModeSet, cfg: Any, *, seed: int = 0) -> EnsembleStudy:
    """Score every single mode, the ensembles of 2…K − 1 modes (at most ``cfg.max_subsets`` per size) and the
    ensemble of all K."""
    import pandas as pd

    n = len(modes)
    rows, kept = [], {}
    for size in range(1, n + 1):
        every_one = size in (1, n)  # the single modes and the full ensemble are always all there
        for members in member_subsets(n, size, n if every_one else cfg.max_subsets, seed):
            scores = ensemble_scores(modes, members, cfg)
            if size in (1, n):
                kept[members] = scores
            for det, per_split in scores.items():
                for name in modes.ood_sets:
                    m = ood_metrics(per_split["test"], per_split[name])
                    rows.append({"size": size, "members": "+".join(str(k + 1) for k in members), "detector": det,
                                 "ood_set": name, "FPR95": m["FPR95"], "AUROC": m["AUROC"]})
    table = pd.DataFrame(rows)
    return EnsembleStudy(table, kept, tuple(cfg.detectors), modes.ood_sets, n)


# ------------------------------------------------------------------------------------------------ spread across modes
@dataclass
class ModeSpread:
    """How much single modes differ on OoD data, against how much re-drawing the test samples moves one mode.

    ``cells`` one row per (detector, OoD set): FPR95 min, max, range and standard deviation over the K modes,
    the bootstrap standard deviation of mode 1's FPR95 (resampled test and OoD samples), the full ensemble's
    FPR95. ``per_mode`` the single modes' FPR95 and AUROC (rows: detector and OoD set; columns: metric and mode).
    """

    cells: Any
    per_mode: Any
    widest: str = glued()
    widest_low: float = glued(".1%")
    widest_high: float = glued(".1%")
    between_std: float = glued(".1%")
    sampling_std: float = glued(".1%")
    ratio: float = glued(".1f")
    n_cells: int = glued()
    n_boot: int = glued()
    figure: Any = glued()


def mode_spread(study: EnsembleStudy, cfg: Any, *, seed: int = 0) -> ModeSpread:
    """The spread of FPR95 across the K single modes, per detector and OoD set, with its figure."""
    import pandas as pd

    singles = study.table[study.table["size"] == 1]
    full = study.table[study.table["size"] == study.n_modes]
    first = (0,)
    rows = []
    for det in study.detectors:
        for name in study.ood_sets:
            v = singles[(singles.detector == det) & (singles.ood_set == name)]["FPR95"].to_numpy()
            boot = bootstrap_average({"test": study.scores[first][det]["test"], name: study.scores[first][det][name]},
                                     metric="FPR95", n_boot=cfg.n_boot, seed=seed)
            ens = full[(full.detector == det) & (full.ood_set == name)]["FPR95"]
            rows.append({"detector": det, "ood_set": name, "min": v.min(), "max": v.max(), "range": v.max() - v.min(),
                         "std over modes": v.std(ddof=1) if len(v) > 1 else 0.0,
                         "bootstrap std": float(np.std(np.asarray(boot["rounds"]), ddof=1)) if cfg.n_boot > 1 else 0.0,
                         "ensemble": float(ens.iloc[0])})
    cells = pd.DataFrame(rows)
    top = cells.loc[cells["range"].idxmax()]
    fig = spread_figure(singles, full, study.detectors, study.ood_sets)
    between, sampling = float(cells["std over modes"].mean()), float(cells["bootstrap std"].mean())
    per_mode = singles.pivot_table(index=["detector", "ood_set"], columns="members", values=["FPR95", "AUROC"])
    per_mode.columns = pd.MultiIndex.from_tuples([(metric, f"mode {m}") for metric, m in per_mode.columns])
    return ModeSpread(cells=cells, per_mode=per_mode[["FPR95", "AUROC"]],
                      widest=f"{top.detector} on {top.ood_set}", widest_low=float(top["min"]),
                      widest_high=float(top["max"]), between_std=between, sampling_std=sampling,
                      ratio=between / sampling if sampling > 0 else float("inf"), n_cells=len(cells),
                      n_boot=cfg.n_boot, figure=fig)


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


# ------------------------------------------------------------------------------------------------ ensemble size
@dataclass
class EnsembleGain:
    """FPR95 (averaged over the OoD sets) against the number of modes, and the ensemble of all K against the
    best and the worst single mode. ``by_size`` one row per (detector, size): mean and standard deviation
    over the ensembles of that size; ``versus`` one row per detector."""

    by_size: Any
    versus: Any
    n_improved: int = glued()
    n_detectors: int = glued()
    n_beats_best: int = glued()
    mean_single: float = glued(".1%")
    mean_ensemble: float = glued(".1%")
    figure: Any = glued()


def ensemble_gain(study: EnsembleStudy) -> EnsembleGain:
    """Mean and spread of FPR95 over the ensembles of each size, and the full ensemble vs its single modes."""
    import matplotlib.pyplot as plt
    import pandas as pd

    avg = study.table.groupby(["size", "members", "detector"], as_index=False)[["FPR95", "AUROC"]].mean()
    by_size = avg.groupby(["detector", "size"])["FPR95"].agg(["mean", "std", "min", "max", "count"]).reset_index()
    rows = []
    for det in study.detectors:
        singles = avg[(avg["size"] == 1) & (avg.detector == det)]
        full = avg[(avg["size"] == study.n_modes) & (avg.detector == det)].iloc[0]
        rows.append({"detector": det, "rule": RULES[det], "best single FPR95": singles["FPR95"].min(),
                     "mean single FPR95": singles["FPR95"].mean(), "worst single FPR95": singles["FPR95"].max(),
                     "ensemble FPR95": full["FPR95"], "best single AUROC": singles["AUROC"].max(),
                     "mean single AUROC": singles["AUROC"].mean(), "ensemble AUROC": full["AUROC"]})
    versus = pd.DataFrame(rows).set_index("detector")
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, det in enumerate(study.detectors):
        part = by_size[by_size.detector == det]
        std = part["std"].fillna(0.0)
        ax.plot(part["size"], 100 * part["mean"], "o-", color=f"C{i}", label=det)
        ax.fill_between(part["size"], 100 * (part["mean"] - std), 100 * (part["mean"] + std), color=f"C{i}", alpha=0.15)
    ax.set(xlabel="modes in the ensemble", ylabel="FPR95 (%), mean over OoD sets ↓", xticks=range(1, study.n_modes + 1),
           title="Mode ensembles of growing size")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return EnsembleGain(by_size=by_size, versus=versus,
                        n_improved=int((versus["ensemble FPR95"] < versus["mean single FPR95"]).sum()),
                        n_detectors=len(versus),
                        n_beats_best=int((versus["ensemble FPR95"] <= versus["best single FPR95"]).sum()),
                        mean_single=float(versus["mean single FPR95"].mean()),
                        mean_ensemble=float(versus["ensemble FPR95"].mean()), figure=fig)


__all__ = ["DETECTORS", "RULES", "EnsembleGain", "EnsembleStudy", "ModeSpread", "check_members", "ensemble_gain",
           "ensemble_scores", "gradnorm_scores", "mean_features", "mean_logits", "member_subsets", "mode_spread",
           "score_ensembles", "spread_figure"]
