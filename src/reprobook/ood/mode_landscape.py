"""The loss around each mode and between two modes, on InD and on OoD data, with one loss functional.

Explained in ``notebooks/ood/mode_ensemble.ipynb``. The paper's picture (Fang et al., IJCV 2024, the official
README's figure, after Li et al. 2018): a plane of two random directions around each mode, the InD loss beside
the OoD loss; the modes sit at the bottom of their InD landscape, not of their OoD one.

**The loss.** OoD images have no labels, so one functional serves both: the cross-entropy to the class the mode
itself predicts, fixed along the slice, L(θ; x) = CE(f_θ(x), ŷ(x)) with ŷ(x) = argmax_c f_θ₀(x)_c of the mode θ₀
(:func:`fixed_target_loss`). On an InD image the mode classifies correctly it *is* the labelled cross-entropy the
mode was trained on; at the mode it equals −log max_c softmax (:func:`~reprobook.ood.modes.msp_loss`), below
log C as the paper's OoD contours (1.1, 1.6, 2.1, below log 10) are. (The self-referring −log max softmax at
every point is not a landscape of the mode: any confident prediction lowers it, right or wrong.)

**Slices around a mode** (the chapter's ``mode_slices``): θ(a, b) = θ + a·d₁ + b·d₂, d₁ and d₂ Gaussian directions
*filter-normalised* (Li et al., 2018): each filter of d (a row of a linear layer, an output channel of a
convolution) is rescaled to the norm of the same filter of θ; biases and BatchNorm parameters get no direction
and BatchNorm keeps the mode's running statistics (the loss-landscape code's ``ignore='biasbn'``). The endpoint
of each mode is the relative depth of each slice below the mode, (L(θ) − min L)/L(θ): 0 when the mode is the
minimum of its slice.

**The segment between two modes** (the chapter's ``mode_segment``): θ(α) = (1 − α)·θ_a + α·θ_b, BatchNorm's statistics
re-estimated on training images at every point (``torch.optim.swa_utils.update_bn``), as in the
mode-connectivity literature (Garipov et al., 2018).

This module holds the directions, the combination of states and the loss; the chapter's measurements with them
(the slices, the segment, their tables and figures) are :mod:`reprobook.chapters.mode_ensemble.slices`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np
import torch
from torch import Tensor, nn

from ..checks import ParameterError, check_int


def combine_states(states: Sequence[Mapping[str, Tensor]], weights: Sequence[float]) -> dict[str, Tensor]:
    """Σ_i w_i·θ_i for every floating-point tensor of the state dicts; integer buffers come from the first."""
    if len(states) != len(weights) or not states:
        raise ParameterError("weights", list(weights), f"one weight per state dict ({len(states)})")
    keys = list(states[0])
    if any(list(s) != keys for s in states):
        raise ParameterError("states", "state dicts with different keys", "state dicts of one architecture")
    out = {}
    for key in keys:
        first = states[0][key]
        if first.is_floating_point():
            # θ = Σ_i w_i θ_i
            out[key] = cast(Tensor, sum(float(w) * s[key] for w, s in zip(weights, states)))  # states: not empty
        else:
            out[key] = first.clone()
    return out


def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> dict[str, Tensor]:
    """A Gaussian direction in ``model``'s parameters, each filter rescaled to the norm of the model's filter:
    d_f ← d_f·‖θ_f‖/‖d_f‖ for every weight of two or more dimensions (filter = its first index); zero for biases,
    BatchNorm parameters and buffers (Li et al., 2018, ``ignore='biasbn'``). Keys: the parameters' names."""
    out = {}
    theta: Tensor
    for name, theta in model.named_parameters():
        theta = theta.detach().cpu()
        if theta.dim() < 2:
            out[name] = torch.zeros_like(theta)
            continue
        d = torch.randn(theta.shape, generator=generator, dtype=theta.dtype)
        # d_f ← d_f · ‖θ_f‖ / ‖d_f‖ for each filter f
        d_norm = d.flatten(1).norm(dim=1).clamp_min(1e-12)
        theta_norm = theta.flatten(1).norm(dim=1)
        out[name] = d * (theta_norm / d_norm).view(-1, *([1] * (theta.dim() - 1)))
    return out


def fixed_target_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Per sample, the cross-entropy of ``logits`` to fixed ``targets`` (the classes a reference network predicts)."""
    return nn.functional.cross_entropy(logits.double(), targets, reduction="none")


# ------------------------------------------------------------------------------------------------ the segment


def segment_alphas(points: int, margin: float) -> np.ndarray:
    """``points`` equally spaced α from 0 to 1 (the two modes are on the grid), continued with the same step
    for ``margin`` beyond each end."""
    check_int("landscape_points", points, low=2)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
        raise ParameterError("landscape_margin", margin, "a number >= 0")
    step = 1.0 / (points - 1)
    extra = int(round(margin / step))
    return np.arange(-extra, points + extra) * step


__all__ = ["combine_states", "filter_normalized_direction", "fixed_target_loss", "segment_alphas"]
