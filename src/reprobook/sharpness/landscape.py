"""Measures of flatness: the loss along a filter-normalised random direction, and the top Hessian eigenvalue.

Explained in ``notebooks/sharpness/rwp.ipynb``. Both work on any ``nn.Module`` and leave its weights
and train/eval mode exactly as they found them.
"""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import numpy as np
import torch
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor]


def _batches(data) -> list[Batch]:
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return [data]
    return list(data)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def filter_normalized_direction(model: nn.Module, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """A Gaussian direction d with every filter rescaled to the norm of the model's filter (Li et al., 2018).

    For a weight with filters W_j (slices along dim 0): d_j ← d_j / ‖d_j‖ · ‖W_j‖. One-dimensional
    parameters (biases, BatchNorm) get a zero direction, as in the paper's plots.
    """
    direction = []
    for p in model.parameters():
        w = p.detach()
        if w.dim() <= 1:
            direction.append(torch.zeros_like(w))
            continue
        d = torch.randn(w.shape, generator=generator, dtype=w.dtype,
                        device=generator.device if generator is not None else w.device).to(w.device)
        # d_j ← d_j · ‖W_j‖ / ‖d_j‖
        shape = (-1, *([1] * (w.dim() - 1)))
        d = d * (w.flatten(1).norm(dim=1) / (d.flatten(1).norm(dim=1) + 1e-12)).view(shape)
        direction.append(d)
    return direction


@torch.no_grad()
def _mean_loss(model: nn.Module, loss_fn, batches: list[Batch]) -> float:
    total, count = 0.0, 0
    for x, y in batches:
        total += float(loss_fn(model(x), y)) * len(y)
        count += len(y)
    return total / count


@torch.no_grad()
def loss_along_direction(model: nn.Module, direction: list[torch.Tensor], loss_fn, data,
                         alphas: Iterable[float]) -> np.ndarray:
    """L(w + t·d) for each t in ``alphas``, averaged over ``data`` (one batch or a list of batches)."""
    batches = _batches(data)
    params = list(model.parameters())
    original = [p.detach().clone() for p in params]
    losses = []
    with _eval_mode(model):
        try:
            for t in alphas:
                for p, w, d in zip(params, original, direction):
                    p.copy_(w + float(t) * d)  # w + t·d
                losses.append(_mean_loss(model, loss_fn, batches))
        finally:
            for p, w in zip(params, original):
                p.copy_(w)
    return np.asarray(losses)


def hessian_top_eigenvalue(model: nn.Module, loss_fn, data, iters: int = 20, tol: float = 1e-4,
                           generator: torch.Generator | None = None) -> float:
    """The Hessian eigenvalue of largest magnitude of the loss over ``data``, by power iteration.

    Each iteration computes a Hessian-vector product Hv = ∇(∇L · v) by double back-propagation, then
    λ ← vᵀHv and v ← Hv / ‖Hv‖; it stops when λ changes by less than ``tol`` (relative). Power
    iteration converges to the eigenvalue of largest *magnitude*; at a minimum that is λ_max.
    """
    if iters < 1:
        raise ValueError(f"invalid value for parameter 'iters': {iters!r}; allowed: an integer >= 1")
    batches = _batches(data)
    params = [p for p in model.parameters() if p.requires_grad]
    n = sum(len(y) for _, y in batches)
    v = [torch.randn(p.shape, generator=generator, dtype=p.dtype,
                     device=generator.device if generator is not None else p.device).to(p.device) for p in params]
    norm = torch.sqrt(sum((x * x).sum() for x in v))
    v = [x / norm for x in v]
    eigenvalue = 0.0
    with _eval_mode(model):
        for _ in range(iters):
            hv = [torch.zeros_like(p) for p in params]
            for x, y in batches:
                loss = loss_fn(model(x), y) * (len(y) / n)
                grads = torch.autograd.grad(loss, params, create_graph=True)
                # Hv = ∇_w (∇_w L · v)
                dot = sum((g * u).sum() for g, u in zip(grads, v))
                for acc, h in zip(hv, torch.autograd.grad(dot, params)):
                    acc.add_(h)
            # λ = vᵀ H v  (v has unit norm)
            new = float(sum((h * u).sum() for h, u in zip(hv, v)))
            norm = torch.sqrt(sum((h * h).sum() for h in hv))
            v = [h / (norm + 1e-12) for h in hv]
            if eigenvalue != 0.0 and abs(new - eigenvalue) < tol * abs(eigenvalue):
                eigenvalue = new
                break
            eigenvalue = new
    return eigenvalue
