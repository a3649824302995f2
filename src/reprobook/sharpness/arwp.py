"""Mixed and adaptive random weight perturbation (Li et al., 2024, arXiv 2404.00357) as a torch optimiser.

Explained in ``notebooks/sharpness/marwp.ipynb``. The paper revisits RWP with two changes.

*Mixing* (m-RWP). The update mixes the clean gradient and the gradient at randomly perturbed weights,

    g = (1 − λ) · ∇L(w) + λ · ∇L(w + ε),      ε_j ~ N(0, (σ‖W_j‖₂)² I) for every output filter j,

which trades generalisation (the perturbed term) against convergence (the clean term). With λ = 1 it
is the perturbed-only RWP (one gradient per step, the cost of SGD).

*Adaptive perturbation* (ARWP). The noise of filter j shrinks where the loss has recently been steep,
measured by an accumulator of past *perturbed* gradients (no (1 − β) factor, as in the official code)

    A ← β · A + g₁²,     g₁ = ∇L(w + ε),       F_j = Σ_{i ∈ filter j} A_i,

The paper's eq. 14 damps the perturbation of filter j by √(1 + η F_j); read literally it divides the
*variance* of ε_j, while the official code divides its *standard deviation*. Both readings are here:

    ε_j ← ε_j / √(1 + η F_j),       Var ε_j = (σ‖W_j‖₂)² / (1 + η F_j)     (scaling="std", official code)
    ε_j ← ε_j / (1 + η F_j)^{1/4},  Var ε_j = (σ‖W_j‖₂)² / √(1 + η F_j)    (scaling="var", eq. 14 literally).

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
from typing import Any, cast

import torch

from ..checks import ParameterError, check_choice, check_int, check_number, check_type
from .base import Closure, TwoPassOptimizer
from .rwp import _grads, filter_wise_noises, keep_gradients

# the two readings of the adaptive damping: what √(1 + η F_j) divides
SCALINGS: dict[str, str] = {
    "std": "the standard deviation of ε_j is divided by √(1 + η F_j) (the official code)",
    "var": "the variance of ε_j is divided by √(1 + η F_j) (eq. 14 read literally)",
}


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
    eta = check_number("eta", eta, low=0.0)
    check_choice("scaling", scaling, SCALINGS)
    # 1 + η F_j
    inflation = 1.0 + eta * filter_sums(accumulator)
    # std: σ_j / √(1 + η F_j);   var: σ_j² / √(1 + η F_j), i.e. σ_j / (1 + η F_j)^{1/4}
    return inflation.sqrt() if scaling == "std" else inflation.sqrt().sqrt()


def adaptive_noise_divisors(accumulators: list[torch.Tensor], eta: float, scaling: str) -> tuple[torch.Tensor, ...]:
    """:func:`adaptive_noise_divisor` of every accumulator, batched; each is shaped (out, 1, …, 1) (one value
    per row) and broadcasts over its parameter."""
    # F_j = Σ_{i ∈ row j} A_i, one value per row
    inflation: list[torch.Tensor] | tuple[torch.Tensor, ...] = [
        a if a.dim() < 2 else a.sum(dim=tuple(range(1, a.dim())), keepdim=True) for a in accumulators
    ]
    # 1 + η F_j
    inflation = torch._foreach_mul(inflation, eta)
    torch._foreach_add_(inflation, 1.0)
    # std: √(1 + η F_j);   var: (1 + η F_j)^{1/4}
    torch._foreach_sqrt_(inflation)
    if scaling == "var":
        torch._foreach_sqrt_(inflation)
    return inflation


class ARWP(TwoPassOptimizer):
    """m-RWP, ARWP and m-ARWP around any base optimiser (SGD by default).

    ``sigma`` (σ ≥ 0) scales the filter-wise noise, ``alpha`` (λ in [0, 1]) weighs the perturbed
    gradient, ``eta`` (η ≥ 0) sets the strength of the adaptive scaling (η = 0 turns it off), ``beta``
    (β in [0, 1]) is the accumulator's decay, ``scaling`` is ``"std"`` or ``"var"`` (see the module),
    ``generator`` (optional) makes the noise reproducible. Every other keyword goes to
    ``base_optimizer``. ``state_dict()`` holds the base optimiser's state, the accumulators and the
    generator's state. With λ < 1 a step costs two gradients (clean, then perturbed), with λ = 1 one.

    With η = 0 and λ < 1 a step is exactly :class:`.rwp.RWP` with γ = σ and α = λ (same generator, same
    draws); with η = 0 and λ = 1 it is the perturbed-only RWP. The noise, the damping and the accumulator
    of a parameter group live in flat buffers (:class:`.buffers.FlatBuffers`), a few operator calls per step
    whatever the number of parameter tensors.
    """

    def __init__(
        self,
        params,
        base_optimizer: type[torch.optim.Optimizer] = torch.optim.SGD,
        sigma: float = 0.015,
        alpha: float = 1.0,
        eta: float = 0.1,
        beta: float = 0.99,
        scaling: str = "std",
        generator: torch.Generator | None = None,
        **base_kwargs,
    ):
        sigma = check_number("sigma", sigma, low=0.0)
        alpha = check_number("alpha", alpha, low=0.0, high=1.0)
        eta = check_number("eta", eta, low=0.0)
        beta = check_number("beta", beta, low=0.0, high=1.0)
        check_choice("scaling", scaling, SCALINGS)
        if generator is not None:
            check_type("generator", generator, torch.Generator, "None or a torch.Generator")
        super().__init__(
            params, base_optimizer, dict(sigma=sigma, alpha=alpha, eta=eta, beta=beta, scaling=scaling), base_kwargs
        )
        self.generator = generator

    def _needs_clean_pass(self) -> bool:
        return any(group["alpha"] < 1.0 for group in self.param_groups)

    def _all_params(self):
        for group in self.param_groups:
            for p in group["params"]:
                yield group, p

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        closure = self._check_closure(closure, "ARWP")
        mixed = self._needs_clean_pass()
        loss = None
        if mixed:
            # g₀ = ∇L(w), the clean pass (BatchNorm running statistics update here)
            loss = closure()
            groups: list[tuple[Any, ...]] = [
                (g, [p for p in g["params"] if p.grad is not None]) for g in self.param_groups
            ]
        else:
            groups = [(g, [p for p in g["params"] if p.requires_grad]) for g in self.param_groups]
        groups = [(k, group, params) for k, (group, params) in enumerate(groups) if params]
        clean, flats = {}, {}
        for k, group, params in groups:
            if mixed:  # g₀ is kept as it is: the perturbed pass writes new gradient tensors
                clean[k] = keep_gradients(params)
            flats[k] = flat = self._flat_group(k, params)
            self._save(flat, params)
            if flat is None:
                self._perturb_per_parameter(group, params)
                continue
            # d_j = √(1 + η F_j) from the accumulator of the earlier steps (zeros at first: d_j = 1)
            divisor = flat.divisor(self.state, group["eta"], group["scaling"]) if group["eta"] > 0 else None
            # w ← w + ε,  ε_j ~ N(0, (σ‖W_j‖₂ / d_j)² I)
            flat.add_noise(group["sigma"], self.generator, divisor)
        # g₁ = ∇L(w + ε), the perturbed pass; with λ = 1 it is the only pass and BatchNorm statistics update
        with self._perturbed() if mixed else contextlib.nullcontext():
            perturbed_loss = closure()
        for k, group, params in groups:
            flat = flats[k]
            # w ← w  (the saved copy: bit-exact)
            self._restore(flat, params)
            g1 = _grads(params)
            # A ← β A + g₁²
            if flat is not None:
                flat.accumulate(self.state, g1, group["beta"])
            else:
                self._accumulate_per_parameter(params, g1, group["beta"])
            if mixed:
                alpha = group["alpha"]
                # g = (1 − λ) g₀ + λ g₁   (in place in p.grad; with λ = 1 the update is g = g₁)
                torch._foreach_mul_(clean[k], 1 - alpha)
                torch._foreach_mul_(g1, alpha)
                torch._foreach_add_(g1, clean[k])
        # w ← base_step(w, g)
        self.base_optimizer.step()
        return cast(torch.Tensor, loss) if mixed else perturbed_loss  # mixed: loss is the clean pass's

    def _perturb_per_parameter(self, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        """w ← w + ε one tensor at a time (parameters of mixed dtypes or devices, which share no flat buffer)."""
        # ε_j ~ N(0, (σ‖W_j‖₂)² I)
        noises = filter_wise_noises(params, group["sigma"], self.generator)
        damped = [i for i, p in enumerate(params) if "accumulator" in self.state[p]]
        if damped and group["eta"] > 0:
            divisors = adaptive_noise_divisors(
                [self.state[params[i]]["accumulator"] for i in damped], group["eta"], group["scaling"]
            )
            # ε_j ← ε_j / √(1 + η F_j)   (scaling="var": / (1 + η F_j)^{1/4})
            torch._foreach_div_([noises[i] for i in damped], divisors)
        torch._foreach_add_(params, noises)

    def _accumulate_per_parameter(self, params: list[torch.Tensor], g1: list[torch.Tensor], beta: float) -> None:
        for p in params:
            if "accumulator" not in self.state[p]:
                self.state[p]["accumulator"] = torch.zeros_like(p)
        accumulators = [self.state[p]["accumulator"] for p in params]
        torch._foreach_mul_(accumulators, beta)
        torch._foreach_addcmul_(accumulators, g1, g1)

    def _extra_state(self) -> dict[str, Any]:
        # one entry per parameter, in group order: the accumulator A, or None before the first step
        accumulators = [self.state[p].get("accumulator") if p in self.state else None for _, p in self._all_params()]
        extra: dict[str, Any] = {"accumulators": [None if a is None else a.detach().clone() for a in accumulators]}
        if self.generator is not None:
            extra["generator"] = self.generator.get_state()
        return extra

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        n_params = sum(1 for _ in self._all_params())
        if isinstance(state_dict, dict) and len(state_dict.get("accumulators", [None] * n_params)) != n_params:
            raise ParameterError(
                "state_dict",
                f"{len(state_dict['accumulators'])} accumulators",
                f"one accumulator per parameter ({n_params}): a state dict of the same model",
            )
        super().load_state_dict(state_dict)

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self._flat_groups.clear()  # the next step builds them again from the loaded accumulators
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
        self.sigma_start = check_number("sigma_start", sigma_start, low=0.0)
        self.sigma_end = check_number("sigma_end", sigma_end, low=0.0)
        total_steps = check_int("total_steps", total_steps, low=1)
        if not all("sigma" in group for group in getattr(optimizer, "param_groups", [{}])):
            raise ParameterError(
                "optimizer", type(optimizer).__name__, "an optimiser whose parameter groups have a 'sigma' (ARWP)"
            )
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
        return {
            "sigma_start": self.sigma_start,
            "sigma_end": self.sigma_end,
            "total_steps": self.total_steps,
            "last_step": self.last_step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sigma_start, self.sigma_end = float(state["sigma_start"]), float(state["sigma_end"])
        self.total_steps, self.last_step = int(state["total_steps"]), int(state["last_step"])
        self._apply()
