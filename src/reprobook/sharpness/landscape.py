"""Measures of flatness: the loss along filter-normalised random directions, and the top Hessian eigenvalue.

Explained in ``notebooks/sharpness/rwp.ipynb``. Every measure works on any ``nn.Module`` and leaves its
weights and train/eval mode exactly as it found them.

* :func:`hessian_lambda_max`: λ_max, the largest eigenvalue of the Hessian of the training loss, by the
  Lanczos method (``scipy.sparse.linalg.eigsh``) on Hessian-vector products, with its residual
  ‖Hv − λv‖ / |λ| as the measure of convergence. λ_max is *not* invariant to the scale of the weights:
  in a network with BatchNorm, multiplying a filter by c > 0 before its BatchNorm leaves the function
  unchanged and divides the curvature along that filter by c² (Dinh et al., 2017), so two networks of
  different weight norms can compute the same function with different λ_max.
* :func:`filter_normalized_sharpness`: the mean rise of the loss, L(w + r·d) − L(w), over random
  directions d whose filters are rescaled to the norms of the model's filters (Li et al., 2018). The
  perturbation of each filter is relative to its own norm, so the measure does not change when a
  filter before a BatchNorm is rescaled: it sits beside λ_max as the scale-invariant measure.
* :func:`loss_along_direction`: the loss along one such direction, for the one-dimensional plots.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh
from torch import nn

from ..checks import ParameterError, check_int, check_number

Batch = tuple[torch.Tensor, torch.Tensor]


def _batches(data, device: torch.device) -> list[Batch]:
    """``data`` as a list of (x, y) batches on ``device``: one (x, y) pair, or an iterable of them."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        data = [data]  # one batch, e.g. next(iter(loader))
    batches = [(x.to(device), y.to(device)) for x, y in data]
    if not batches:
        raise ParameterError("data", "no batches", "an (x, y) pair or an iterable of (x, y) pairs")
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
        d = torch.randn(
            w.shape, generator=generator, dtype=w.dtype, device=generator.device if generator is not None else w.device
        ).to(w.device)
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
def loss_along_direction(
    model: nn.Module, direction: list[torch.Tensor], loss_fn, data, alphas: Iterable[float]
) -> np.ndarray:
    """L(w + t·d) for each t in ``alphas``, averaged over ``data`` (one (x, y) batch or an iterable of them).

    The sweep runs in eval mode (BatchNorm uses its running statistics); afterwards the weights are
    copied back from a saved copy (bit-exact) and the train/eval mode is restored.
    """
    batches = _batches(data, _device(model))
    params = list(model.parameters())
    if len(direction) != len(params) or any(d.shape != p.shape for d, p in zip(direction, params)):
        raise ParameterError(
            "direction",
            f"{len(direction)} tensors",
            "one tensor per parameter of model, in model.parameters() order, with its shape",
        )
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


@torch.no_grad()
def filter_normalized_sharpness(
    model: nn.Module, loss_fn, data, *, radius: float, n_directions: int, generator: torch.Generator | None = None
) -> FilterNormalizedSharpness:
    """The mean rise of the loss over ``n_directions`` random filter-normalised directions d at ``radius`` r,

        S = (1/K) Σ_k [L(w + r·d_k) − L(w)],

    each d_k from :func:`filter_normalized_direction` (‖d_{k,j}‖ = ‖W_j‖ for every filter j), the loss
    averaged over ``data`` in eval mode. Rescaling a filter before a BatchNorm rescales its direction
    too, so S does not change: unlike λ_max, it does not depend on the weights' scale.
    """
    radius = check_number("radius", radius, low=0.0, low_inclusive=False)
    n_directions = check_int("n_directions", n_directions, low=1)
    batches = _batches(data, _device(model))
    with _eval_mode(model):
        base = _mean_loss(model, loss_fn, batches)
    rises = []
    for _ in range(n_directions):
        direction = filter_normalized_direction(model, generator=generator)
        # L(w + r·d_k) − L(w)
        rises.append(float(loss_along_direction(model, direction, loss_fn, batches, [radius])[0]) - base)
    return FilterNormalizedSharpness(
        float(np.mean(rises)), float(np.std(rises, ddof=1)) if len(rises) > 1 else 0.0, base, radius, n_directions
    )


@dataclass(frozen=True)
class FilterNormalizedSharpness:
    """What :func:`filter_normalized_sharpness` returns: the mean rise, its spread over the directions,
    the loss at w, the radius and the number of directions."""

    value: float
    std: float
    loss: float
    radius: float
    n_directions: int


@dataclass(frozen=True)
class HessianEigen:
    """λ_max of a Hessian and how well the Lanczos iteration converged.

    ``residual`` is ‖Hv − λv‖₂ / |λ| for the returned unit vector v (small: an eigenpair);
    ``matvecs`` counts the Hessian-vector products; ``converged`` is ARPACK's verdict at ``tol``.
    """

    value: float
    residual: float
    matvecs: int
    converged: bool
    tol: float
    vector: list[torch.Tensor] | None = field(default=None, repr=False, compare=False)


def hessian_vector_product(model: nn.Module, loss_fn, batches: list[Batch], vector: list[torch.Tensor]):
    """H·v for the mean loss over ``batches`` (exact, by double back-propagation; one pass per batch)."""
    params = [p for p in model.parameters() if p.requires_grad]
    n = sum(len(y) for _, y in batches)
    hv = [torch.zeros_like(p) for p in params]
    for x, y in batches:
        # L = Σ_b (n_b / n) · L_b, the mean loss over all samples
        loss = loss_fn(model(x), y) * (len(y) / n)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        # Hv = ∇_w (∇_w L · v)
        dot = cast(torch.Tensor, sum((g * u).sum() for g, u in zip(grads, vector)))  # a sum over the parameters
        for acc, h in zip(hv, torch.autograd.grad(dot, params)):
            acc.add_(h.detach())
    return hv


def hessian_lambda_max(
    model: nn.Module,
    loss_fn,
    data,
    *,
    tol: float = 1e-3,
    max_matvecs: int = 100,
    ncv: int = 10,
    seed: int = 0,
    return_vector: bool = False,
) -> HessianEigen:
    """λ_max, the largest (algebraic) eigenvalue of the Hessian of the mean loss over ``data``, by Lanczos.

    ``scipy.sparse.linalg.eigsh`` (ARPACK's implicitly restarted Lanczos, ``which="LA"``, a Krylov space
    of ``ncv`` vectors, relative tolerance ``tol``) on the exact Hessian-vector products of
    :func:`hessian_vector_product`, in eval mode (the mode is restored), over the parameters that
    require grad. The start vector is seeded by ``seed``. It stops at convergence or after about
    ``max_matvecs`` products (ARPACK restarts in blocks of ``ncv``, so the count may pass it by up to one
    block); either way the result says how far it got (``residual``, ``converged``).
    """
    tol = check_number("tol", tol, low=0.0, low_inclusive=False)
    max_matvecs = check_int("max_matvecs", max_matvecs, low=2)
    params = [p for p in model.parameters() if p.requires_grad]
    batches = _batches(data, params[0].device)
    sizes = [p.numel() for p in params]
    # a Krylov space of ncv vectors, at most half the budget, so that ARPACK can restart at least once
    ncv = min(check_int("ncv", ncv, low=3), max(3, max_matvecs // 2), sum(sizes))
    count = [0]

    def to_tensors(vector: np.ndarray) -> list[torch.Tensor]:
        flat = torch.as_tensor(np.ascontiguousarray(vector).reshape(-1), dtype=params[0].dtype, device=params[0].device)
        return [t.view_as(p) for t, p in zip(flat.split(sizes), params)]

    def matvec(vector: np.ndarray) -> np.ndarray:
        count[0] += 1
        hv = hessian_vector_product(model, loss_fn, batches, to_tensors(vector))
        return torch.cat([h.reshape(-1) for h in hv]).double().cpu().numpy()

    operator = LinearOperator((sum(sizes), sum(sizes)), matvec=matvec, dtype=np.float64)
    start = np.random.default_rng(seed).standard_normal(sum(sizes))
    with _eval_mode(model):
        try:
            # H v = λ v for the largest λ
            values, vectors = eigsh(
                operator, k=1, which="LA", v0=start, ncv=ncv, tol=tol, maxiter=max(1, (max_matvecs - ncv) // (ncv - 1))
            )
            converged = True
        except ArpackNoConvergence as stop:
            values, vectors, converged = stop.eigenvalues, stop.eigenvectors, False
        if len(values) == 0:  # nothing converged: the Rayleigh quotient of the last Krylov direction is unknown
            return HessianEigen(float("nan"), float("nan"), count[0], False, tol)
        value, vector = float(values[0]), vectors[:, 0]
        # ‖Hv − λv‖ / |λ|, one more product
        residual = float(np.linalg.norm(matvec(vector) - value * vector) / max(abs(value), 1e-30))
    return HessianEigen(
        value,
        residual,
        count[0],
        converged,
        tol,
        [t.detach().clone() for t in to_tensors(vector)] if return_vector else None,
    )
