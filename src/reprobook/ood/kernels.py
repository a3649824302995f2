"""Explicit feature maps that turn kernel PCA into linear PCA, and the rule that picks its dimension q.

Explained in ``notebooks/ood/kpca.ipynb`` (the Kernel PCA chapter, :cite:`fang2024kpca`). Kernel PCA
with a kernel k(x, y) = ⟨φ(x), φ(y)⟩ is plain PCA on the mapped features φ(z); where φ is explicit
and finite, the principal subspace is found from a D×D (or M×M) covariance and a test sample is
scored in time independent of the number of training samples. Two maps of the paper:

- CoP, the cosine kernel k(x, y) = xᵀy / (‖x‖₂‖y‖₂), has the exact map φ(z) = z / ‖z‖₂;
- CoRP adds a Gaussian kernel exp(−γ‖x − y‖²) on top of the cosine map, approximated with M random
  Fourier features (Rahimi and Recht, 2007): √(2/M)·cos(ωᵀφ(z) + b), ω ~ N(0, 2γI), b ~ U[0, 2π].

The exact kernels are here too (:func:`cosine_kernel`, :func:`gaussian_kernel`): the tests and the
chapter compare the maps against them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..checks import ParameterError, check_fraction, check_int, check_positive, check_seed, check_type


def cosine_map(z: Tensor, eps: float = 1e-10) -> Tensor:
    """The explicit map of the cosine kernel, row by row: φ(z) = z / ‖z‖₂ (``eps`` keeps 0 finite)."""
    check_type("z", z, Tensor, "a 2-D tensor of features, N × D")
    if z.dim() != 2:
        raise ParameterError("z", tuple(z.shape), "a 2-D tensor of features, N × D")
    # φ(z) = z / ‖z‖₂
    return z / (z.norm(p=2, dim=1, keepdim=True) + eps)


def cosine_kernel(x: Tensor, y: Tensor) -> Tensor:
    """The cosine kernel matrix, k(x, y) = xᵀy / (‖x‖₂ ‖y‖₂) = ⟨φ(x), φ(y)⟩."""
    return cosine_map(x) @ cosine_map(y).T


def gaussian_kernel(x: Tensor, y: Tensor, gamma: float) -> Tensor:
    """The Gaussian kernel matrix, k(x, y) = exp(−γ ‖x − y‖₂²)."""
    gamma = check_positive("gamma", gamma)
    # k(x, y) = exp(−γ ‖x − y‖²)
    return torch.exp(-gamma * torch.cdist(x, y).pow(2))


class RandomFourierFeatures(nn.Module):
    """M random Fourier features of the Gaussian kernel exp(−γ‖x − y‖²) on inputs of dimension D.

    z(x) = √(2/M) · cos(ωᵀx + b) with ω ~ N(0, 2γ I) (an M × D matrix) and b ~ U[0, 2π] (M values), so
    that E[z(x)ᵀz(y)] = exp(−γ‖x − y‖²) and the error of one draw shrinks like 1/√M. The draw comes
    from ``generator`` (a CPU ``torch.Generator``) or from ``seed``: the same seed gives the same map.
    A module, so ``.to(device)`` moves ω and b with it.
    """

    omega: Tensor  # buffers, registered in __init__
    phase: Tensor

    def __init__(
        self,
        in_features: int,
        n_features: int,
        gamma: float,
        *,
        seed: int | None = 0,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.in_features = check_int("in_features", in_features, low=1)
        self.n_features = check_int("n_features", n_features, low=1)
        self.gamma = check_positive("gamma", gamma)
        if generator is None:
            generator = torch.Generator().manual_seed(check_seed("seed", seed))
        else:
            check_type("generator", generator, torch.Generator, "None or a torch.Generator")
        # ω ~ N(0, 2γ I): M rows of dimension D
        omega = math.sqrt(2.0 * self.gamma) * torch.randn(
            self.n_features, self.in_features, generator=generator, dtype=torch.float64
        )
        # b ~ U[0, 2π]
        phase = 2.0 * math.pi * torch.rand(self.n_features, generator=generator, dtype=torch.float64)
        self.register_buffer("omega", omega.to(dtype))
        self.register_buffer("phase", phase.to(dtype))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ParameterError("x", tuple(x.shape), f"a 2-D tensor N × {self.in_features}")
        x = x.to(self.omega.dtype)
        # z(x) = √(2/M) · cos(ωᵀx + b)
        return math.sqrt(2.0 / self.n_features) * torch.cos(x @ self.omega.T + self.phase)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, n_features={self.n_features}, gamma={self.gamma:g}"


def components_for_ratio(explained_variance: Any, ratio: float) -> int:
    """q: the smallest number of leading components whose explained variance reaches ``ratio`` of the total.

    ``explained_variance`` lists the variances (eigenvalues of the covariance) in any order; they are
    sorted in decreasing order first. q is the smallest k with λ₁ + … + λ_k ≥ ratio · (λ₁ + … + λ_D),
    the rule of the official scripts (a relative tolerance of 1e-9 absorbs rounding at a tie).

    >>> components_for_ratio([4.0, 3.0, 2.0, 1.0], 0.7)
    2
    """
    ratio = check_fraction("ratio", ratio)
    values = np.sort(np.asarray(explained_variance, dtype=np.float64).ravel())[::-1]
    if values.size == 0 or not np.all(np.isfinite(values)) or values.min() < -1e-12 * max(values.max(), 1.0):
        raise ParameterError("explained_variance", "…", "a non-empty list of finite, non-negative variances")
    values = np.clip(values, 0.0, None)
    total = values.sum()
    if total <= 0:
        raise ParameterError("explained_variance", "all zero", "variances with a positive sum")
    # cumulative explained-variance ratio r_k = (λ₁ + … + λ_k) / Σλ
    cumulative = np.cumsum(values) / total
    # q = min { k : r_k ≥ ratio }
    reached = np.nonzero(cumulative >= ratio * (1.0 - 1e-9))[0]
    return int(reached[0]) + 1 if reached.size else int(values.size)
