"""Sharpness-aware minimisation (Foret et al., 2021) as a torch optimiser.

Explained in ``notebooks/sharpness/rwp.ipynb`` (the baseline RWP is measured against) and in the
part's theory page. Usage, with the standard closure::

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    loss = optimizer.step(closure)   # two forward-backward passes, one after the other
"""

from __future__ import annotations

from typing import Callable

import torch


class SAM(torch.optim.Optimizer):
    """SAM around any base optimiser (SGD by default); ``in_perturbed_pass`` is True during the second pass."""

    def __init__(self, params, base_optimizer: type[torch.optim.Optimizer] = torch.optim.SGD, rho: float = 0.05,
                 adaptive: bool = False, **base_kwargs):
        if not rho > 0:
            raise ValueError(f"invalid value for parameter 'rho': {rho!r}; allowed: a number > 0")
        super().__init__(params, dict(rho=rho, adaptive=adaptive, **base_kwargs))
        self.base_optimizer = base_optimizer(self.param_groups, **base_kwargs)
        self.param_groups = self.base_optimizer.param_groups  # one set of groups: schedulers see both
        self.defaults.update(self.base_optimizer.defaults)
        self.in_perturbed_pass = False

    @torch.no_grad()
    def _grad_norm(self) -> torch.Tensor:
        norms = [((torch.abs(p) if g["adaptive"] else 1.0) * p.grad).norm(p=2)
                 for g in self.param_groups for p in g["params"] if p.grad is not None]
        return torch.norm(torch.stack(norms), p=2) if norms else torch.tensor(0.0)

    def step(self, closure: Callable[[], torch.Tensor] | None = None):  # type: ignore[override]
        if closure is None:
            raise ValueError("SAM.step needs a closure that zeroes the gradients, computes the loss, "
                             "calls backward() and returns the loss")
        closure = torch.enable_grad()(closure)
        # g = ∇L(w)
        loss = closure()
        with torch.no_grad():
            grad_norm = self._grad_norm()
            for group in self.param_groups:
                # ε̂ = ρ · g / ‖g‖₂   (adaptive SAM: ρ · |w|² g / ‖|w| g‖₂)
                scale = group["rho"] / (grad_norm + 1e-12)
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    e_w = (torch.pow(p, 2) if group["adaptive"] else 1.0) * p.grad * scale
                    p.add_(e_w)  # w ← w + ε̂
                    self.state[p]["e_w"] = e_w
        # ∇L(w + ε̂)
        self.in_perturbed_pass = True
        try:
            closure()
        finally:
            self.in_perturbed_pass = False
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if "e_w" in self.state[p]:
                        p.sub_(self.state[p].pop("e_w"))  # back to w
        # w ← base_step(w, ∇L(w + ε̂))
        self.base_optimizer.step()
        return loss

    def state_dict(self):
        return {"base": self.base_optimizer.state_dict(), "sam": {"rho": [g["rho"] for g in self.param_groups]}}

    def load_state_dict(self, state_dict):
        self.base_optimizer.load_state_dict(state_dict["base"])
        self.param_groups = self.base_optimizer.param_groups
        for group, rho in zip(self.param_groups, state_dict["sam"]["rho"]):
            group["rho"] = rho
