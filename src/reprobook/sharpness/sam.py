"""Sharpness-aware minimisation (Foret et al., 2021) as a torch optimiser.

Explained in ``notebooks/sharpness/rwp.ipynb`` (SAM is the baseline RWP is measured against). SAM
minimises the worst loss in a ball of radius ρ around the weights,

    min_w  max_{‖ε‖₂ ≤ ρ} L(w + ε),

with the first-order solution of the inner problem, ε̂ = ρ·∇L(w)/‖∇L(w)‖₂, and the gradient
∇L(w)|_{w + ε̂}. One step is two forward-backward passes, one *after* the other (the second needs the
first's gradient), so it costs twice an SGD step. Adaptive SAM (Kwon et al., 2021) rescales the ball
by |w| element-wise: ε̂ = ρ·w²⊙g / ‖|w|⊙g‖₂. Usage, with the standard closure::

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    loss = optimizer.step(closure)   # the loss at w (the clean pass)
"""

from __future__ import annotations

import torch

from ..checks import check_number, check_type
from .base import Closure, TwoPassOptimizer


class SAM(TwoPassOptimizer):
    """SAM around any base optimiser (SGD by default); ``in_perturbed_pass`` is True during the second pass.

    ``rho`` is the radius ρ > 0 of the ball; ``adaptive=True`` gives adaptive SAM; every other keyword
    goes to ``base_optimizer`` (``lr``, ``momentum``, ``weight_decay``, ...).
    """

    def __init__(
        self,
        params,
        base_optimizer: type[torch.optim.Optimizer] = torch.optim.SGD,
        rho: float = 0.05,
        adaptive: bool = False,
        **base_kwargs,
    ):
        rho = check_number("rho", rho, low=0.0, low_inclusive=False)
        check_type("adaptive", adaptive, bool, "True or False")
        super().__init__(params, base_optimizer, dict(rho=rho, adaptive=adaptive), base_kwargs)

    @torch.no_grad()
    def _grad_norm(self) -> torch.Tensor:
        """‖g‖₂ over all parameters together (adaptive SAM: ‖|w|⊙g‖₂)."""
        # _params_with_grad yields only parameters whose .grad is set
        norms = [
            ((p.abs() * p.grad) if group["adaptive"] else p.grad).norm(p=2)  # type: ignore[operator, union-attr]
            for group, p in self._params_with_grad()
        ]
        if not norms:
            return torch.tensor(0.0)
        device = norms[0].device
        return torch.stack([n.to(device) for n in norms]).norm(p=2)

    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        closure = self._check_closure(closure, "SAM")
        # g = ∇L(w), the clean pass
        loss = closure()
        saved: dict[torch.Tensor, torch.Tensor] = {}
        with torch.no_grad():
            grad_norm = self._grad_norm()
            for group, p in self._params_with_grad():
                assert p.grad is not None  # _params_with_grad yields only parameters with a gradient
                # ε̂ = ρ · g / ‖g‖₂        (adaptive: ε̂ = ρ · w² ⊙ g / ‖|w| ⊙ g‖₂)
                scale = group["rho"] / (grad_norm.to(p.device) + 1e-12)
                e = (p * p * p.grad if group["adaptive"] else p.grad) * scale
                saved[p] = p.detach().clone()
                # w ← w + ε̂
                p.add_(e)
        # ∇L(w + ε̂), the perturbed pass (the closure overwrites p.grad)
        with self._perturbed():
            closure()
        with torch.no_grad():
            for p, w in saved.items():
                # w ← w  (the saved copy: bit-exact, unlike (w + ε̂) − ε̂)
                p.copy_(w)
        # w ← base_step(w, ∇L(w + ε̂))
        self.base_optimizer.step()
        return loss
