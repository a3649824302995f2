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


def _batches(data, device: torch.device) -> list[Batch]:
    """``data`` as a list of (x, y) batches on ``device``: one (x, y) pair, or an iterable of them."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        data = [data]  # one batch, e.g. next(iter(loader))
    batches = [(x.to(device), y.to(device)) for x, y in data]
    if not batches:
        raise ValueError("invalid value for parameter 'data': no batches; allowed: an (x, y) pair or an "
                         "iterable of (x, y) pairs")
    return batches


def _device(model: nn.Module) -> torch.device:
    return next(iter(model.parameters())).device


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
    """L(w + t·d) for each t in ``alphas``, averaged over ``data`` (one (x, y) batch or an iterable of them).

    The sweep runs in eval mode (BatchNorm uses its running statistics); afterwards the weights are
    copied back from a saved copy (bit-exact) and the train/eval mode is restored.
    """
    batches = _batches(data, _device(model))
    params = list(model.parameters())
    if len(direction) != len(params) or any(d.shape != p.shape for d, p in zip(direction, params)):
        raise ValueError("invalid value for parameter 'direction': allowed: one tensor per parameter of "
                         "model, in model.parameters() order, with the parameter's shape")
    original = [p.detach().clone() for p in params]
    losses = []
    with _eval_mode(model):
        try:
            for t in alphas:
                for p, w, d in zip(params, original, direction):
                    # w(t) = w + t·d
                    p.copy_(w + float(t) * d.to(w.device))
                losses.append(_mean_loss(model, loss_fn, batches))
        finally:
            for p, w in zip(params, original):
                p.copy_(w)
    return np.asarray(losses)


def hessian_top_eigenvalue(model: nn.Module, loss_fn, data, iters: int = 20, tol: float = 1e-4,
                           generator: torch.Generator | None = None, return_vector: bool = False):
    """The Hessian eigenvalue of largest *magnitude* of the mean loss over ``data``, by power iteration.

    ``data`` is one (x, y) batch or an iterable of them; ``loss_fn`` must average over its batch. The
    Hessian is taken over the parameters that require grad, in eval mode (the mode is restored). Each
    iteration computes a Hessian-vector product by double back-propagation, then a Rayleigh quotient;
    it stops after ``iters`` iterations or when λ changes by less than ``tol`` (relative).

    Power iteration converges to the eigenvalue of largest magnitude: at a minimum (H ⪰ 0) that is
    λ_max, the curvature along the sharpest direction; away from one it can be a negative eigenvalue.
    Returns λ, or (λ, v) with the unit eigenvector v (a list of tensors shaped like the parameters)
    when ``return_vector`` is True.
    """
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
        raise ValueError(f"invalid value for parameter 'iters': {iters!r}; allowed: an integer >= 1")
    if not (isinstance(tol, (int, float)) and tol >= 0):
        raise ValueError(f"invalid value for parameter 'tol': {tol!r}; allowed: a number >= 0")
    params = [p for p in model.parameters() if p.requires_grad]
    batches = _batches(data, params[0].device)
    n = sum(len(y) for _, y in batches)
    v = [torch.randn(p.shape, generator=generator, dtype=p.dtype,
                     device=generator.device if generator is not None else p.device).to(p.device) for p in params]
    # v ← v / ‖v‖
    norm = torch.sqrt(sum((u * u).sum() for u in v))
    v = [u / norm for u in v]
    eigenvalue = None
    with _eval_mode(model):
        for _ in range(iters):
            hv = [torch.zeros_like(p) for p in params]
            for x, y in batches:
                # L = Σ_b (n_b / n) · L_b, the mean loss over all samples
                loss = loss_fn(model(x), y) * (len(y) / n)
                grads = torch.autograd.grad(loss, params, create_graph=True)
                # Hv = ∇_w (∇_w L · v)
                dot = sum((g * u).sum() for g, u in zip(grads, v))
                for acc, h in zip(hv, torch.autograd.grad(dot, params)):
                    acc.add_(h.detach())
            # λ = vᵀ H v   (‖v‖ = 1)
            new = float(sum((h * u).sum() for h, u in zip(hv, v)))
            # v ← Hv / ‖Hv‖
            norm = torch.sqrt(sum((h * h).sum() for h in hv))
            v = [h / (norm + 1e-12) for h in hv]
            converged = eigenvalue is not None and abs(new - eigenvalue) <= tol * abs(eigenvalue)
            eigenvalue = new
            if converged:
                break
    return (eigenvalue, v) if return_vector else eigenvalue
