"""Mixed and adaptive random weight perturbation (Li et al., 2024, arXiv 2404.00357) as a torch optimiser.

Explained in ``notebooks/sharpness/marwp.ipynb``. The paper revisits RWP with two changes.

*Mixing* (m-RWP). The update mixes the clean gradient and the gradient at randomly perturbed weights,

    g = (1 − λ) · ∇L(w) + λ · ∇L(w + ε),      ε_j ~ N(0, (σ‖W_j‖₂)² I) for every output filter j,

which trades generalisation (the perturbed term) against convergence (the clean term). With λ = 1 it
is the perturbed-only RWP (one gradient per step, the cost of SGD).

*Adaptive perturbation* (ARWP). The noise of filter j shrinks where the loss has recently been steep,
measured by an accumulator of past *perturbed* gradients (no (1 − β) factor, as in the official code)

    A ← β · A + g₁²,     g₁ = ∇L(w + ε),       F_j = Σ_{i ∈ filter j} A_i,

    ε_j ← ε_j / √(1 + η F_j)         (scaling="std": the standard deviation is divided, official code)
    ε_j ← ε_j / (1 + η F_j)^{1/4}     (scaling="var": the variance is divided, a reading of eq. 14).

F_j uses the accumulator of the steps *before* the current one. A 1-D parameter (bias, BatchNorm
scale or shift) draws its noise as one filter (σ‖w‖₂) but, as in the official code, every entry is
its own row of F. m-ARWP combines both changes (0 < λ < 1, η > 0); ARWP is λ = 1, η > 0, with σ
rising on a cosine schedule (:class:`CosineIncreasingSigma`, stepped once per optimiser step).

BatchNorm. With λ < 1 there is a clean pass, which updates the running statistics, and the perturbed
pass runs with ``in_perturbed_pass`` True, so :func:`reprobook.training.fit` freezes them there. With
λ = 1 the only pass is at w + ε; the official ARWP code lets that pass update the running statistics
(there is no other), and so does this one: ``in_perturbed_pass`` stays False. The loss a step returns
is the clean loss L(w) when there is a clean pass, else the perturbed loss L(w + ε).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch

from .base import Closure, TwoPassOptimizer, check_number
from .rwp import filter_wise_noise

SCALINGS = ("std", "var")


def check_scaling(scaling: Any) -> str:
    """``scaling`` if it is one of :data:`SCALINGS`, else a ValueError naming the parameter and the choices."""
    if scaling not in SCALINGS:
        raise ValueError(f"invalid value for parameter 'scaling': {scaling!r}; allowed: {', '.join(SCALINGS)}")
    return scaling


def filter_sums(accumulator: torch.Tensor) -> torch.Tensor:
    """F: the sum of ``accumulator`` over each row along dim 0, broadcast back to its shape.

    A weight of shape (out, ...) gets one value per output filter; a 1-D tensor keeps one value per entry
    (each entry is its own row, as in the official code); a scalar is its own sum.
    """
    if accumulator.dim() == 0:
        return accumulator
    # F_j = Σ_{i ∈ row j} A_i
    rows = accumulator.reshape(accumulator.shape[0], -1).sum(dim=1)
    return rows.view(-1, *([1] * (accumulator.dim() - 1))).expand_as(accumulator)


def adaptive_noise_divisor(accumulator: torch.Tensor, eta: float, scaling: str = "std") -> torch.Tensor:
    """What ε is divided by: √(1 + η F) (``scaling="std"``) or (1 + η F)^{1/4} (``scaling="var"``)."""
    eta = check_number("eta", eta, low=0.0, low_inclusive=True)
    check_scaling(scaling)
    # 1 + η F_j
    inflation = 1.0 + eta * filter_sums(accumulator)
    # std: σ_j / √(1 + η F_j);   var: σ_j² / √(1 + η F_j), i.e. σ_j / (1 + η F_j)^{1/4}
    return inflation.sqrt() if scaling == "std" else inflation.sqrt().sqrt()


class ARWP(TwoPassOptimizer):
    """m-RWP, ARWP and m-ARWP around any base optimiser (SGD by default).

    ``sigma`` (σ ≥ 0) scales the filter-wise noise, ``alpha`` (λ in [0, 1]) weighs the perturbed
    gradient, ``eta`` (η ≥ 0) sets the strength of the adaptive scaling (η = 0 turns it off), ``beta``
    (β in [0, 1]) is the accumulator's decay, ``scaling`` is ``"std"`` or ``"var"`` (see the module),
    ``generator`` (optional) makes the noise reproducible. Every other keyword goes to
    ``base_optimizer``. ``state_dict()`` holds the base optimiser's state, the accumulators and the
    generator's state. With λ < 1 a step costs two gradients (clean, then perturbed), with λ = 1 one.

    With η = 0 and λ < 1 a step is exactly :class:`.rwp.RWP` with γ = σ and α = λ (same generator, same
    draws); with η = 0 and λ = 1 it is the perturbed-only RWP.
    """

    def __init__(self, params, base_optimizer: type[torch.optim.Optimizer] = torch.optim.SGD, sigma: float = 0.015,
                 alpha: float = 1.0, eta: float = 0.1, beta: float = 0.99, scaling: str = "std",
                 generator: torch.Generator | None = None, **base_kwargs):
        sigma = check_number("sigma", sigma, low=0.0, low_inclusive=True)
        alpha = check_number("alpha", alpha, low=0.0, low_inclusive=True, high=1.0)
        eta = check_number("eta", eta, low=0.0, low_inclusive=True)
        beta = check_number("beta", beta, low=0.0, low_inclusive=True, high=1.0)
        check_scaling(scaling)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"invalid value for parameter 'generator': {generator!r}; "
                             "allowed: None or a torch.Generator")
        super().__init__(params, base_optimizer,
                         dict(sigma=sigma, alpha=alpha, eta=eta, beta=beta, scaling=scaling), base_kwargs)
        self.generator = generator

    def _needs_clean_pass(self) -> bool:
        return any(group["alpha"] < 1.0 for group in self.param_groups)

    def _all_params(self):
        for group in self.param_groups:
            for p in group["params"]:
                yield group, p

    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        closure = self._check_closure(closure, "ARWP")
        mixed = self._needs_clean_pass()
        clean: dict[torch.Tensor, torch.Tensor] = {}
        loss = None
        if mixed:
            # g₀ = ∇L(w), the clean pass (BatchNorm running statistics update here)
            loss = closure()
            targets = list(self._params_with_grad())
            for _, p in targets:
                clean[p] = p.grad.detach().clone()
        else:
            targets = [(group, p) for group, p in self._all_params() if p.requires_grad]
        saved: dict[torch.Tensor, torch.Tensor] = {}
        with torch.no_grad():
            for group, p in targets:
                saved[p] = p.detach().clone()
                # ε_j ~ N(0, (σ‖W_j‖₂)² I)
                noise = filter_wise_noise(p, group["sigma"], self.generator)
                accumulator = self.state[p].get("accumulator")
                if accumulator is not None and group["eta"] > 0:
                    # ε_j ← ε_j / √(1 + η F_j)   (scaling="var": / (1 + η F_j)^{1/4})
                    noise = noise / adaptive_noise_divisor(accumulator, group["eta"], group["scaling"])
                # w ← w + ε
                p.add_(noise)
        # g₁ = ∇L(w + ε), the perturbed pass; with λ = 1 it is the only pass and BatchNorm statistics update
        with self._perturbed() if mixed else contextlib.nullcontext():
            perturbed_loss = closure()
        with torch.no_grad():
            for group, p in targets:
                # w ← w  (the saved copy: bit-exact)
                p.copy_(saved[p])
                g1 = p.grad if p.grad is not None else torch.zeros_like(p)
                # A ← β A + g₁²
                accumulator = self.state[p].get("accumulator")
                if accumulator is None:
                    accumulator = self.state[p]["accumulator"] = torch.zeros_like(p)
                accumulator.mul_(group["beta"]).addcmul_(g1, g1)
                if mixed:
                    alpha = group["alpha"]
                    # g = (1 − λ) g₀ + λ g₁
                    p.grad = (1 - alpha) * clean[p] + alpha * g1
                else:
                    # g = g₁
                    p.grad = g1
        # w ← base_step(w, g)
        self.base_optimizer.step()
        return loss if mixed else perturbed_loss

    def _extra_state(self) -> dict[str, Any]:
        # one entry per parameter, in group order: the accumulator A, or None before the first step
        accumulators = [self.state[p].get("accumulator") if p in self.state else None
                        for _, p in self._all_params()]
        extra: dict[str, Any] = {"accumulators": [None if a is None else a.detach().clone() for a in accumulators]}
        if self.generator is not None:
            extra["generator"] = self.generator.get_state()
        return extra

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        n_params = sum(1 for _ in self._all_params())
        if isinstance(state_dict, dict) and len(state_dict.get("accumulators", [None] * n_params)) != n_params:
            raise ValueError(f"ARWP.load_state_dict: the state has {len(state_dict['accumulators'])} accumulators "
                             f"for {n_params} parameters; load a state dict of the same model")
        super().load_state_dict(state_dict)

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        params = [p for _, p in self._all_params()]
        accumulators = state.get("accumulators", [None] * len(params))
        for p, a in zip(params, accumulators):
            if a is None:
                self.state[p].pop("accumulator", None)
            else:
                self.state[p]["accumulator"] = a.detach().to(device=p.device, dtype=p.dtype).clone()
        if self.generator is not None and "generator" in state:
            # generator states are CPU byte tensors; accelerate may have moved the state dict to the GPU
            self.generator.set_state(state["generator"].detach().to("cpu", torch.uint8))


class CosineIncreasingSigma:
    """σ rising from ``sigma_start`` to ``sigma_end`` over ``total_steps`` optimiser steps (ARWP's schedule).

    Like a learning-rate scheduler, it sets ``group["sigma"]`` of every parameter group of ``optimizer``
    (at construction to σ(0), then at each :meth:`step`, called once after every optimiser step):

        σ(t) = σ_start + (σ_end − σ_start) · (1 − cos(π t / T)) / 2,     t ≤ T,

    the official code's cosine-increasing schedule, per step. Past T the value stays at σ_end.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, sigma_start: float, sigma_end: float, total_steps: int):
        self.sigma_start = check_number("sigma_start", sigma_start, low=0.0, low_inclusive=True)
        self.sigma_end = check_number("sigma_end", sigma_end, low=0.0, low_inclusive=True)
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"invalid value for parameter 'total_steps': {total_steps!r}; allowed: an integer >= 1")
        if not all("sigma" in group for group in optimizer.param_groups):
            raise ValueError(f"invalid value for parameter 'optimizer': {type(optimizer).__name__}; "
                             "allowed: an optimiser whose parameter groups have a 'sigma' (ARWP)")
        self.optimizer = optimizer
        self.total_steps = total_steps
        self.last_step = 0
        self._apply()

    def value(self, step: int) -> float:
        """σ(t) for ``step`` = t."""
        t = min(max(int(step), 0), self.total_steps)
        # σ(t) = σ_start + (σ_end − σ_start) · (1 − cos(π t / T)) / 2
        rise = (1 - math.cos(math.pi * t / self.total_steps)) / 2
        return self.sigma_start + (self.sigma_end - self.sigma_start) * rise

    def _apply(self) -> None:
        sigma = self.value(self.last_step)
        for group in self.optimizer.param_groups:
            group["sigma"] = sigma

    def step(self) -> None:
        self.last_step += 1
        self._apply()

    def get_last_sigma(self) -> float:
        return self.value(self.last_step)

    def state_dict(self) -> dict[str, Any]:
        return {"sigma_start": self.sigma_start, "sigma_end": self.sigma_end, "total_steps": self.total_steps,
                "last_step": self.last_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sigma_start, self.sigma_end = float(state["sigma_start"]), float(state["sigma_end"])
        self.total_steps, self.last_step = int(state["total_steps"]), int(state["last_step"])
        self._apply()
