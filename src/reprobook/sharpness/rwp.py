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
"""

from __future__ import annotations

from typing import Any

import torch

from .base import Closure, TwoPassOptimizer, check_number


def filter_wise_noise(param: torch.Tensor, gamma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw of ε for ``param``: filter j (a slice along dim 0) gets standard deviation γ·‖W_j‖₂.

    A 1-D parameter (a bias, a BatchNorm scale or shift) counts as one filter: its noise has standard
    deviation γ·‖w‖₂. The draw comes from ``generator`` (on its own device, then moved to the
    parameter's), or from torch's global generator when it is None.
    """
    gamma = check_number("gamma", gamma, low=0.0, low_inclusive=True)
    w = param.detach()
    if w.dim() > 1:
        # σ_j = γ ‖W_j‖₂, one scale per output filter, broadcast over the filter's entries
        sigma = gamma * w.flatten(1).norm(dim=1).view(-1, *([1] * (w.dim() - 1)))
    else:
        # σ = γ ‖w‖₂ for a vector (or a scalar)
        sigma = gamma * w.norm()
    z = torch.randn(w.shape, generator=generator, dtype=w.dtype,
                    device=generator.device if generator is not None else w.device).to(w.device)
    # ε = σ ⊙ z,  z ~ N(0, I)
    return sigma * z


class RWP(TwoPassOptimizer):
    """RWP around any base optimiser (SGD by default); ``in_perturbed_pass`` is True during the perturbed pass.

    ``gamma`` (γ ≥ 0) scales the noise, ``alpha`` (α in [0, 1]) weighs the perturbed gradient, and
    ``generator`` (optional) makes the noise reproducible; its state is part of ``state_dict()``. Every
    other keyword goes to ``base_optimizer``. With γ = 0 (or α = 0) a step is exactly a base step.
    """

    def __init__(self, params, base_optimizer: type[torch.optim.Optimizer] = torch.optim.SGD, gamma: float = 0.01,
                 alpha: float = 0.5, generator: torch.Generator | None = None, **base_kwargs):
        gamma = check_number("gamma", gamma, low=0.0, low_inclusive=True)
        alpha = check_number("alpha", alpha, low=0.0, low_inclusive=True, high=1.0)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"invalid value for parameter 'generator': {generator!r}; "
                             "allowed: None or a torch.Generator")
        super().__init__(params, base_optimizer, dict(gamma=gamma, alpha=alpha), base_kwargs)
        self.generator = generator

    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        closure = self._check_closure(closure, "RWP")
        # g₀ = ∇L(w), the clean pass
        loss = closure()
        clean: dict[torch.Tensor, torch.Tensor] = {}
        saved: dict[torch.Tensor, torch.Tensor] = {}
        with torch.no_grad():
            for group, p in self._params_with_grad():
                clean[p] = p.grad.clone()
                saved[p] = p.detach().clone()
                # w ← w + ε,  ε_j ~ N(0, (γ‖W_j‖₂)² I)
                p.add_(filter_wise_noise(p, group["gamma"], self.generator))
        # g₁ = ∇L(w + ε), the perturbed pass (the closure overwrites p.grad)
        with self._perturbed():
            closure()
        with torch.no_grad():
            for group, p in self._params_with_grad_or_saved(saved):
                # w ← w  (the saved copy: bit-exact)
                p.copy_(saved[p])
                g1 = p.grad if p.grad is not None else torch.zeros_like(p)
                alpha = group["alpha"]
                # g = (1 − α) g₀ + α g₁
                p.grad = (1 - alpha) * clean[p] + alpha * g1
        # w ← base_step(w, g)
        self.base_optimizer.step()
        return loss

    def _params_with_grad_or_saved(self, saved: dict[torch.Tensor, torch.Tensor]):
        for group in self.param_groups:
            for p in group["params"]:
                if p in saved:
                    yield group, p

    def _extra_state(self) -> dict[str, Any]:
        return {} if self.generator is None else {"generator": self.generator.get_state()}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        if self.generator is not None and "generator" in state:
            # generator states are CPU byte tensors; accelerate may have moved the state dict to the GPU
            self.generator.set_state(state["generator"].detach().to("cpu", torch.uint8))
