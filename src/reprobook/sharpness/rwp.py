"""Random weight perturbation (Li et al., 2022) as a torch optimiser.

Explained in ``notebooks/sharpness/rwp.ipynb``. The objective is

    (1 − α) · L(w) + α · E_ε L(w + ε),     ε_j ~ N(0, (γ‖W_j‖₂)² I) for every output filter j,

and one step follows the gradient estimate g = (1 − α)·∇L(w) + α·∇L(w + ε) with one draw of ε.

The official implementation computes the two gradients at the same time on two GPUs, each on its own
batch. This one computes them one after the other on the same batch and the same device, so a step
costs two SGD steps; it is the reference the parallel layouts are tested against.
"""

from __future__ import annotations

from typing import Callable

import torch


def filter_wise_noise(param: torch.Tensor, gamma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw of ε for ``param``: filter j (a slice along dim 0) gets standard deviation γ·‖W_j‖₂.

    A 1-D parameter (a bias, a BatchNorm scale) is one filter: its noise has standard deviation γ·‖w‖₂.
    """
    w = param.detach()
    if w.dim() > 1:
        # σ_j = γ ‖W_j‖₂, one scale per output filter, broadcast over the filter's entries
        sigma = gamma * w.flatten(1).norm(dim=1).view(-1, *([1] * (w.dim() - 1)))
    else:
        # σ = γ ‖w‖₂ for a vector
        sigma = gamma * w.norm()
    # ε = σ ⊙ z,  z ~ N(0, I)   (drawn on the generator's device, then moved to the parameter's)
    z = torch.randn(w.shape, generator=generator, dtype=w.dtype,
                    device=generator.device if generator is not None else w.device)
    return sigma * z.to(w.device)


class RWP(torch.optim.Optimizer):
    """RWP around any base optimiser; ``in_perturbed_pass`` is True during the perturbed pass."""

    def __init__(self, params, base_optimizer: type[torch.optim.Optimizer] = torch.optim.SGD, gamma: float = 0.01,
                 alpha: float = 0.5, generator: torch.Generator | None = None, **base_kwargs):
        if not gamma >= 0:
            raise ValueError(f"invalid value for parameter 'gamma': {gamma!r}; allowed: a number >= 0")
        if not 0 <= alpha <= 1:
            raise ValueError(f"invalid value for parameter 'alpha': {alpha!r}; allowed: a number in [0, 1]")
        super().__init__(params, dict(gamma=gamma, alpha=alpha, **base_kwargs))
        self.base_optimizer = base_optimizer(self.param_groups, **base_kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)
        self.generator = generator
        self.in_perturbed_pass = False

    def step(self, closure: Callable[[], torch.Tensor] | None = None):  # type: ignore[override]
        if closure is None:
            raise ValueError("RWP.step needs a closure that zeroes the gradients, computes the loss, "
                             "calls backward() and returns the loss")
        closure = torch.enable_grad()(closure)
        # g₀ = ∇L(w)
        loss = closure()
        clean, noise = {}, {}
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    clean[p] = p.grad.clone()
                    noise[p] = filter_wise_noise(p, group["gamma"], self.generator)
                    p.add_(noise[p])  # w ← w + ε
        # g₁ = ∇L(w + ε)
        self.in_perturbed_pass = True
        try:
            closure()
        finally:
            self.in_perturbed_pass = False
        with torch.no_grad():
            for group in self.param_groups:
                alpha = group["alpha"]
                for p in group["params"]:
                    if p not in noise:
                        continue
                    p.sub_(noise[p])  # back to w
                    g1 = p.grad if p.grad is not None else torch.zeros_like(p)
                    # g = (1 − α) g₀ + α g₁
                    p.grad = (1 - alpha) * clean[p] + alpha * g1
        self.base_optimizer.step()
        return loss

    def state_dict(self):
        state = {"base": self.base_optimizer.state_dict(),
                 "rwp": {"gamma": [g["gamma"] for g in self.param_groups],
                         "alpha": [g["alpha"] for g in self.param_groups]}}
        if self.generator is not None:
            state["generator"] = self.generator.get_state()
        return state

    def load_state_dict(self, state_dict):
        self.base_optimizer.load_state_dict(state_dict["base"])
        self.param_groups = self.base_optimizer.param_groups
        for group, gamma, alpha in zip(self.param_groups, state_dict["rwp"]["gamma"], state_dict["rwp"]["alpha"]):
            group["gamma"], group["alpha"] = gamma, alpha
        if self.generator is not None and "generator" in state_dict:
            self.generator.set_state(state_dict["generator"])
