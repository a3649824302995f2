"""Mode ensemble: the official combination rules that score an ensemble of 1…K modes.

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
convention (``pytorch-ood``'s): larger means more likely OoD. The chapter's study of the ensembles (which are
scored, the spread over modes, the gain of an ensemble) is :mod:`reprobook.chapters.mode_ensemble.ensembles`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pytorch_ood.detector import KNN, EnergyBased, Mahalanobis, MaxSoftmax
from torch import Tensor

from ..checks import ParameterError, check_choices, check_int
from ..configs.mode_ensemble import ModeEnsembleConfig
from .modes import ModeSet

DETECTORS: tuple[str, ...] = ("MSP", "ODIN", "Energy", "Mahalanobis", "KNN", "GradNorm", "RankFeat")
RULES: dict[str, str] = {
    "MSP": "average logits",
    "ODIN": "average logits (perturbed inputs)",
    "Energy": "average logits",
    "RankFeat": "average logits (rank-1 removed)",
    "GradNorm": "average gradient norms",
    "KNN": "average features",
    "Mahalanobis": "average features",
}


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


def ensemble_scores(
    modes: ModeSet, members: Sequence[int], cfg: ModeEnsembleConfig, detectors: Sequence[str] | None = None
) -> dict[str, dict[str, Tensor]]:
    """Outlier scores of the ensemble of ``members`` (mode indices): ``scores[detector][split]``.

    ``cfg`` gives the detectors' settings (temperatures, k); ``detectors`` defaults to ``cfg.detectors``.
    """
    members = check_members(members, len(modes))
    detectors = check_choices("detectors", tuple(detectors or cfg.detectors), DETECTORS)
    out = {split: [modes.outputs(k, split) for k in members] for split in modes.splits}
    scores: dict[str, dict[str, Tensor]] = {}
    for det in detectors:
        if det in ("MSP", "Energy", "ODIN", "RankFeat"):
            attr = {"MSP": "logits", "Energy": "logits", "ODIN": "odin", "RankFeat": "rankfeat"}[det]
            if any(getattr(o, attr) is None for outs in out.values() for o in outs):
                raise ParameterError(
                    "detectors",
                    det,
                    "detectors whose inputs were computed (build_modes with "
                    "input_detectors=True for ODIN and RankFeat)",
                )
            score = {
                "MSP": lambda z: MaxSoftmax.score(z),
                "Energy": lambda z: EnergyBased.score(z, t=cfg.energy_temperature),
                "ODIN": lambda z: MaxSoftmax.score(z, t=cfg.odin_temperature),
                "RankFeat": lambda z: EnergyBased.score(z, t=cfg.rankfeat_temperature),
            }[det]
            scores[det] = {s: score(mean_logits([getattr(o, attr) for o in outs])) for s, outs in out.items()}
        elif det == "GradNorm":
            scores[det] = {
                s: gradnorm_scores([o.logits for o in outs], [o.features for o in outs], cfg.gradnorm_temperature)
                for s, outs in out.items()
            }
        else:  # KNN, Mahalanobis on the averaged features
            train = mean_features([modes.outputs(k, "train").features for k in members]).float()
            labels = modes.modes[0].benchmark.train.labels
            detector = KNN(None, k=cfg.knn_k) if det == "KNN" else Mahalanobis(None)
            detector.fit_features(train, labels)
            scores[det] = {
                s: detector.predict_features(mean_features([o.features for o in outs]).float())
                for s, outs in out.items()
            }
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


def disjoint_units(n_modes: int, size: int) -> list[tuple[int, ...]]:
    """The disjoint ensembles of ``size`` consecutive modes, (0, 1), (2, 3), …: the units of "the ensemble improves
    detection", fixed before any result (a leftover mode is not used)."""
    check_int("size", size, low=2, high=n_modes)
    return [tuple(range(i, i + size)) for i in range(0, n_modes - size + 1, size)]


def _key(members: Sequence[int]) -> str:
    return "+".join(str(k + 1) for k in members)


# ------------------------------------------------------------------------------------------------ spread across modes


__all__ = [
    "DETECTORS",
    "RULES",
    "check_members",
    "disjoint_units",
    "ensemble_scores",
    "gradnorm_scores",
    "mean_features",
    "mean_logits",
    "member_subsets",
]
