"""Model merging on state dicts: a linear average and Model Stock (Jang et al., 2024).

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

The Baichuan Alignment report merges checkpoints fine-tuned from one starting model and found Model
Stock the best of Linear, Task Arithmetic and Model Stock. Both merges here act tensor by tensor on
state dicts with the same keys and shapes; every tensor is merged in float32 and returned in its own dtype.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import torch

from ..checks import ParameterError

StateDict = Mapping[str, torch.Tensor]


def _check(models: Sequence[StateDict], anchor: StateDict | None = None) -> list[str]:
    if isinstance(models, Mapping) or len(models) < 2:
        raise ParameterError("models", type(models).__name__, "a list of at least two state dicts")
    keys = list(models[0])
    for m in list(models[1:]) + ([anchor] if anchor is not None else []):
        if list(m) != keys and set(m) != set(keys):
            raise ParameterError("models", sorted(set(m) ^ set(keys))[:3], "state dicts with the same keys")
        for k in keys:
            if m[k].shape != models[0][k].shape:
                raise ParameterError("models", k, f"tensors of one shape per key ({tuple(models[0][k].shape)})")
    return keys


def linear_merge(models: Sequence[StateDict], weights: Sequence[float] | None = None) -> dict[str, torch.Tensor]:
    """w = Σᵢ λᵢ wᵢ with Σᵢ λᵢ = 1 (default: the plain average, λᵢ = 1/k)."""
    keys = _check(models)
    k = len(models)
    lam = [1.0 / k] * k if weights is None else [float(w) for w in weights]
    if len(lam) != k or abs(sum(lam) - 1.0) > 1e-6:
        raise ParameterError("weights", weights, f"{k} numbers that sum to 1")
    out = {}
    for key in keys:
        # w = Σᵢ λᵢ wᵢ
        merged = cast(torch.Tensor, sum(w * m[key].float() for w, m in zip(lam, models)))  # at least two models
        out[key] = merged.to(models[0][key].dtype)
    return out


def mean_cosine(deltas: Sequence[torch.Tensor]) -> float:
    """The mean pairwise cosine between the fine-tuning updates wᵢ − w₀ (NaN when an update is zero)."""
    k = len(deltas)
    flat = [d.flatten().double() for d in deltas]
    norms = [float(f.norm()) for f in flat]
    if min(norms) == 0.0:
        return float("nan")
    cosines = [float(flat[i] @ flat[j]) / (norms[i] * norms[j]) for i in range(k) for j in range(i + 1, k)]
    return sum(cosines) / len(cosines)


def model_stock_ratio(deltas: Sequence[torch.Tensor]) -> float:
    """Model Stock's interpolation ratio t = k·cos θ / (1 + (k − 1)·cos θ), cos θ the mean pairwise cosine
    between the k fine-tuning updates wᵢ − w₀ (Jang et al., 2024, Eq. 6 extended to k models), clipped to
    [0, 1]: the merge lies between the anchor and the average (for cos θ < 0 the formula leaves that
    segment, and below cos θ = −1/(k − 1) its denominator changes sign).

    Returns NaN when an update is zero (no angle): the caller keeps the average there.
    """
    k = len(deltas)
    cos = mean_cosine(deltas)
    if cos != cos:
        return cos
    # t = k cos θ / (1 + (k − 1) cos θ), within [0, 1]
    denominator = 1 + (k - 1) * cos
    t = k * cos / denominator if denominator > 0 else 0.0
    return min(1.0, max(0.0, t))


def model_stock(
    models: Sequence[StateDict], anchor: StateDict, *, ratios: dict | None = None
) -> dict[str, torch.Tensor]:
    """Model Stock: per tensor, w_H = t · w_avg + (1 − t) · w₀, pulling the average of the fine-tuned
    weights toward the anchor w₀ (their common starting point) by how much their updates disagree.

    Tensors that no model changed (zero updates, e.g. outside the LoRA targets) stay as they are.
    ``ratios`` (a dict), when given, receives each merged tensor's (cos θ, t, number of elements).
    """
    keys = _check(models, anchor)
    out = {}
    for key in keys:
        w0 = anchor[key].float()
        ws = [m[key].float() for m in models]
        w_avg = cast(torch.Tensor, sum(ws)) / len(ws)  # at least two models
        deltas = [w - w0 for w in ws]
        t = model_stock_ratio(deltas)
        if ratios is not None and t == t:
            ratios[key] = (mean_cosine(deltas), t, w0.numel())
        # w_H = t · w_avg + (1 − t) · w₀ (t undefined when an update is zero: keep the average)
        merged = w_avg if t != t else t * w_avg + (1 - t) * w0
        out[key] = merged.to(anchor[key].dtype)
    return out
