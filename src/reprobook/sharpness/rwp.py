"""Random weight perturbation (Li et al., 2022, arXiv 2211.11489) as a torch optimiser.

Explained in ``notebooks/sharpness/rwp.ipynb``. RWP minimises a mix of the loss and its expectation
under random, filter-wise Gaussian perturbations of the weights,

    (1 − α) · L(w) + α · E_ε L(w + ε),     ε_j ~ N(0, (γ‖W_j‖₂)² I) for every output filter j,

and one step follows the unbiased one-draw estimate of its gradient,

    g = (1 − α) · ∇L(w) + α · ∇L(w + ε).

Unlike SAM's ε̂, this ε does not depend on ∇L(w): the two gradients are independent, so the official
implementation (github nblt/RWP) computes them *at the same time* on two GPUs, each on its own batch,
for about the wall time of one SGD step. This implementation is sequential: both gradients come from
the *same* batch on *one* device, one after the other, so a step costs two SGD steps (like SAM). The
parallel steps, one batched pass on one device and the two-process layout, are in :mod:`.parallel`.

:func:`filter_wise_noise` draws ε for one parameter and reads like the equation. For several
parameters, :func:`filter_wise_noises` draws z once for all their entries (one vector, split in
parameter order) and batches the arithmetic over them; the optimisers do the same over flat buffers
(:class:`.buffers.FlatBuffers`), so that a step issues a handful of operator calls instead of a dozen per
parameter tensor. For one parameter the two functions make the same draw.
"""

from __future__ import annotations

from typing import Any, cast

import torch

from ..checks import check_number, check_type
from .base import Closure, TwoPassOptimizer


def filter_wise_noise(param: torch.Tensor, gamma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw of ε for ``param``: filter j (a slice along dim 0) gets standard deviation γ·‖W_j‖₂.

    A 1-D parameter (a bias, a BatchNorm scale or shift) counts as one filter: its noise has standard
    deviation γ·‖w‖₂. The draw comes from ``generator`` (on its own device, then moved to the
    parameter's), or from torch's global generator when it is None.
    """
    gamma = check_number("gamma", gamma, low=0.0)
    w = param.detach()
    if w.dim() > 1:
        # σ_j = γ ‖W_j‖₂, one scale per output filter, broadcast over the filter's entries
        sigma = gamma * w.flatten(1).norm(dim=1).view(-1, *([1] * (w.dim() - 1)))
    else:
        # σ = γ ‖w‖₂ for a vector (or a scalar)
        sigma = gamma * w.norm()
    z = torch.randn(
        w.shape, generator=generator, dtype=w.dtype, device=generator.device if generator is not None else w.device
    ).to(w.device)
    # ε = σ ⊙ z,  z ~ N(0, I)
    return sigma * z


def filter_norms(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """‖W_j‖₂ of every output filter j of each parameter, shaped (out, 1, …, 1) to broadcast over it; a
    vector (or scalar) gets its whole norm as a 0-d tensor. One reduction per weight tensor, one batched
    reduction for all the vectors."""
    vectors = [i for i, p in enumerate(params) if p.dim() <= 1]
    norms: list[torch.Tensor | None] = [None] * len(params)
    for i, norm in zip(vectors, torch._foreach_norm([params[i] for i in vectors]) if vectors else []):
        norms[i] = norm
    for i, p in enumerate(params):
        if p.dim() > 1:
            norms[i] = torch.linalg.vector_norm(p, dim=tuple(range(1, p.dim())), keepdim=True)
    return cast(list[torch.Tensor], norms)  # every entry set: the vectors above, the other tensors here


def standard_normal_draws(params: list[torch.Tensor], generator: torch.Generator | None) -> list[torch.Tensor]:
    """z ~ N(0, I) shaped like each parameter: one draw of all their entries (on the generator's device, in
    the widest of their dtypes), split in parameter order and moved to each parameter's device and dtype."""
    device = generator.device if generator is not None else params[0].device
    dtype = params[0].dtype
    for p in params[1:]:
        dtype = torch.promote_types(dtype, p.dtype)
    z = torch.randn(sum(p.numel() for p in params), generator=generator, dtype=dtype, device=device)
    return [
        part.view(p.shape).to(device=p.device, dtype=p.dtype)
        for part, p in zip(z.split([p.numel() for p in params]), params)
    ]


def filter_wise_noises(
    params: list[torch.Tensor], gamma: float, generator: torch.Generator | None = None
) -> list[torch.Tensor]:
    """ε for every tensor of ``params``, as :func:`filter_wise_noise` computes it, with z drawn once for all
    of them (:func:`standard_normal_draws`) and the arithmetic batched over the parameters. Call it under
    ``torch.no_grad()``."""
    gamma = check_number("gamma", gamma, low=0.0)
    # σ_j = γ ‖W_j‖₂
    sigmas = torch._foreach_mul(filter_norms(params), gamma)
    noises = standard_normal_draws(params, generator)
    # ε = σ ⊙ z
    torch._foreach_mul_(noises, sigmas)
    return noises


class RWP(TwoPassOptimizer):
    """RWP around any base optimiser (SGD by default); ``in_perturbed_pass`` is True during the perturbed pass.

    ``gamma`` (γ ≥ 0) scales the noise, ``alpha`` (α in [0, 1]) weighs the perturbed gradient, and
    ``generator`` (optional) makes the noise reproducible; its state is part of ``state_dict()``. Every
    other keyword goes to ``base_optimizer``. With γ = 0 (or α = 0) a step is exactly a base step.
    """

    def __init__(
        self,
        params,
        base_optimizer: type[torch.optim.Optimizer] = torch.optim.SGD,
        gamma: float = 0.01,
        alpha: float = 0.5,
        generator: torch.Generator | None = None,
        **base_kwargs,
    ):
        gamma = check_number("gamma", gamma, low=0.0)
        alpha = check_number("alpha", alpha, low=0.0, high=1.0)
        if generator is not None:
            check_type("generator", generator, torch.Generator, "None or a torch.Generator")
        super().__init__(params, base_optimizer, dict(gamma=gamma, alpha=alpha), base_kwargs)
        self.generator = generator

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        closure = self._check_closure(closure, "RWP")
        # g₀ = ∇L(w), the clean pass
        loss = closure()
        groups: list[tuple[Any, ...]] = [
            (group, [p for p in group["params"] if p.grad is not None]) for group in self.param_groups
        ]
        groups = [(i, group, params) for i, (group, params) in enumerate(groups) if params]
        clean, flats = {}, {}
        for i, group, params in groups:
            # g₀ is kept as it is: the perturbed pass writes new gradient tensors
            clean[i] = keep_gradients(params)
            flats[i] = flat = self._flat_group(i, params)
            self._save(flat, params)
            # w ← w + ε,  ε_j ~ N(0, (γ‖W_j‖₂)² I)
            if flat is not None:
                flat.add_noise(group["gamma"], self.generator)
            else:
                torch._foreach_add_(params, filter_wise_noises(params, group["gamma"], self.generator))
        # g₁ = ∇L(w + ε), the perturbed pass
        with self._perturbed():
            closure()
        for i, group, params in groups:
            # w ← w  (the saved copy: bit-exact)
            self._restore(flats[i], params)
            g1 = _grads(params)
            alpha = group["alpha"]
            # g = (1 − α) g₀ + α g₁   (computed in place in p.grad)
            torch._foreach_mul_(clean[i], 1 - alpha)
            torch._foreach_mul_(g1, alpha)
            torch._foreach_add_(g1, clean[i])
        # w ← base_step(w, g)
        self.base_optimizer.step()
        return loss

    def _extra_state(self) -> dict[str, Any]:
        return {} if self.generator is None else {"generator": self.generator.get_state()}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        if self.generator is not None and "generator" in state:
            # generator states are CPU byte tensors; accelerate may have moved the state dict to the GPU
            self.generator.set_state(state["generator"].detach().to("cpu", torch.uint8))


def keep_gradients(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """The gradients of ``params``, detached from them (``p.grad = None``), so that the next backward pass
    writes new tensors whether the closure's ``zero_grad`` sets gradients to None or zeroes them in place:
    no copy of g₀ is needed."""
    kept = [p.grad for p in params]
    for p in params:
        p.grad = None
    return cast(list[torch.Tensor], kept)  # the optimisers pass only parameters with a gradient


def _grads(params: list[torch.Tensor]) -> list[torch.Tensor]:
    """``p.grad`` of every parameter; a parameter the last pass left without a gradient gets zeros."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    return cast(list[torch.Tensor], [p.grad for p in params])  # every .grad set just above
