"""What SAM and RWP share: a torch optimiser that wraps a base optimiser and runs two passes per step.

Explained in ``notebooks/sharpness/rwp.ipynb``. Both optimisers evaluate the loss twice per step, once
at the weights w and once at perturbed weights w + ε, then hand one gradient to a base optimiser
(SGD with momentum in the book). This module holds the plumbing; the two ``step`` methods in
:mod:`.sam` and :mod:`.rwp` hold the algorithms.

* The wrapper and its base optimiser share one list of parameter groups, so a learning-rate scheduler
  attached to the wrapper drives the base optimiser's learning rate.
* ``in_perturbed_pass`` is True while the closure runs at w + ε; the training loop reads it to freeze
  BatchNorm running statistics (:func:`.bn.frozen_bn_stats`).
* ``state_dict()`` holds the base optimiser's state (momentum buffers) and the hyper-parameters, so a
  resumed run continues identically.
* Bad arguments raise :class:`reprobook.checks.ParameterError` (a ``ValueError``) naming the parameter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from ..checks import ParameterError
from .buffers import FlatBuffers

Closure = Callable[[], torch.Tensor]
CLOSURE_HELP = (
    "a closure: def closure(): optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); return loss"
)


class TwoPassOptimizer(torch.optim.Optimizer):
    """A torch optimiser around ``base_optimizer``; subclasses implement ``step(closure)``."""

    def __init__(
        self, params, base_optimizer: type[torch.optim.Optimizer], defaults: dict[str, Any], base_kwargs: dict[str, Any]
    ):
        if not (isinstance(base_optimizer, type) and issubclass(base_optimizer, torch.optim.Optimizer)):
            raise ParameterError(
                "base_optimizer", base_optimizer, "a torch.optim.Optimizer class such as torch.optim.SGD"
            )
        super().__init__(params, {**defaults, **base_kwargs})
        self.base_optimizer = base_optimizer(self.param_groups, **base_kwargs)
        # one list of groups for both: a scheduler that sets group["lr"] on the wrapper sets the base's
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)
        self.in_perturbed_pass = False
        self._flat_groups: dict[int, FlatBuffers | None] = {}  # per parameter group, built at its first step

    @staticmethod
    def _check_closure(closure: Closure | None, name: str) -> Closure:
        if closure is None or not callable(closure):
            raise ParameterError("closure", closure, f"{name}.step needs {CLOSURE_HELP}")
        return torch.enable_grad()(closure)

    @contextlib.contextmanager
    def _perturbed(self) -> Iterator[None]:
        """``in_perturbed_pass`` is True inside the block."""
        self.in_perturbed_pass = True
        try:
            yield
        finally:
            self.in_perturbed_pass = False

    def _params_with_grad(self) -> Iterator[tuple[dict[str, Any], torch.Tensor]]:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    yield group, p

    def _extra_state(self) -> dict[str, Any]:
        """Subclasses add what the base optimiser does not hold (e.g. a random generator's state)."""
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        # the shared groups carry the wrapper's hyper-parameters (ρ, or γ and α) into the base's state dict
        return {"base": self.base_optimizer.state_dict(), **self._extra_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not isinstance(state_dict, dict) or "base" not in state_dict:
            raise ParameterError(
                "state_dict",
                type(state_dict).__name__,
                f"a dict from {type(self).__name__}.state_dict() (with a 'base' entry)",
            )
        self.base_optimizer.load_state_dict(state_dict["base"])
        self.param_groups = self.base_optimizer.param_groups  # the base made new group dicts: share them again
        self._load_extra_state(state_dict)

    def _flat_group(self, index: int, params: list[torch.Tensor]) -> FlatBuffers | None:
        """The flat buffers of parameter group ``index`` (:class:`.buffers.FlatBuffers`), built at its first step and
        rebuilt when its parameters change; None when they cannot share a buffer (mixed dtypes or devices)."""
        flat = self._flat_groups.get(index)
        if flat is None or not flat.fits(params):
            flat = self._flat_groups[index] = FlatBuffers.of(params)
        return flat

    def _save(self, flat: FlatBuffers | None, params: list[torch.Tensor]) -> None:
        """The saved copy ← w, in the flat buffers or, without them, one buffer per parameter."""
        if flat is not None:
            flat.save()
        else:
            torch._foreach_copy_(self._buffers("saved_weights", params), params)

    def _restore(self, flat: FlatBuffers | None, params: list[torch.Tensor]) -> None:
        """w ← the saved copy (bit-exact)."""
        if flat is not None:
            flat.restore()
        else:
            torch._foreach_copy_(params, self._buffers("saved_weights", params))

    def _buffers(self, name: str, params: list[torch.Tensor]) -> list[torch.Tensor]:
        """One scratch tensor per parameter (``self.state[p][name]``), allocated once and reused every step."""
        out = []
        for p in params:
            buffer = self.state[p].get(name)
            if buffer is None or buffer.shape != p.shape or buffer.dtype != p.dtype or buffer.device != p.device:
                buffer = self.state[p][name] = torch.empty_like(p, memory_format=torch.preserve_format)
            out.append(buffer)
        return out
