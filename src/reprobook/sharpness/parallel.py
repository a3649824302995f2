"""RWP's two gradients at the same time: in one batched pass on one device, or on two processes.

Explained in ``notebooks/sharpness/step_cost.ipynb``. One RWP step (:mod:`.rwp`) needs

    g₀ = ∇L(w),    g₁ = ∇L(w + ε),    g = (1 − α)·g₀ + α·g₁,

and ε ~ N(0, (γ‖W_j‖₂)² I) per filter does not depend on g₀, so g₀ and g₁ can be computed at the same
time (SAM's cannot: its ε̂ needs g₀ first). Two ways to do it, both giving the update of the
sequential :class:`.rwp.RWP` on the same batches and the same noise draws:

* :class:`BatchedRWP`, one device: ``torch.func.vmap`` runs the model, its loss and its gradient
  (``torch.func.grad`` of a ``functional_call``) over the *stacked* pair of parameter sets [w, w + ε]
  in one batched pass. Whether that is faster than two passes depends on the hardware: it turns every
  layer into a batched (grouped) kernel of twice the size, which a GPU may run in about the time of
  one, and a small CPU may not (the chapter measures it).
* :class:`DistributedRWP`, two processes (one device each, or two CPU processes with gloo), as in the
  official code: rank 0 computes g₀ on its batch, rank 1 computes g₁ on its batch, and one
  all-reduce of (1 − α)·g₀ on rank 0 and α·g₁ on rank 1 hands g to both, so the replicas stay
  identical. With two devices a step costs about one SGD step of wall time plus that all-reduce.

BatchNorm: the clean pass updates the running statistics, the perturbed pass does not (as the
sequential RWP does under :func:`reprobook.training.fit`). Under ``vmap`` a layer cannot update an
unbatched buffer in place from a batched input, so :class:`BatchedRWP` hands each parameter set its
own copy of the buffers (stacked, like the parameters), lets both update their copy, and keeps the
clean one. :class:`DistributedRWP` broadcasts the buffers of the clean rank after every step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..checks import ParameterError
from .base import Closure
from .rwp import RWP, filter_wise_noises

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise ParameterError(
            "model",
            type(model).__name__,
            "a torch.nn.Module (the optimiser needs the module itself, not only its parameters)",
        )
    if not any(p.requires_grad for p in model.parameters()):
        raise ParameterError("model", type(model).__name__, "a module with a parameter that requires a gradient")
    return model


def _check_batchnorm_momentum(model: nn.Module) -> None:
    for name, layer in model.named_modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.track_running_stats and layer.momentum is None:
            raise ParameterError(
                f"model.{name}.momentum",
                None,
                "a number in [0, 1] (momentum=None is a cumulative "
                "average computed from a Python float of the batch counter, which vmap cannot batch)",
            )


class BatchedRWP(RWP):
    """RWP whose two gradients come from one ``vmap``-batched pass over [w, w + ε] on one device.

    ``model`` is the network (its parameters are the optimiser's), ``loss_fn(logits, targets)`` averages
    over the batch (default cross-entropy). ``gamma``, ``alpha``, ``generator`` and the base optimiser's
    keywords are those of :class:`.rwp.RWP`: with the same generator state, a step draws the same ε,
    parameter by parameter, and makes the same update as ``RWP.step`` on the same batch.

    The entry point is :meth:`step_batch(inputs, targets) <step_batch>`, not ``step(closure)``: the
    batched pass must own the forward pass (it runs the model functionally over two parameter sets at
    once), and a closure hides both the batch and the loss inside an opaque forward-backward. So
    :func:`reprobook.training.fit`, which drives ``optimizer.step(closure)``, does not drive this
    optimiser; a loop calls ``loss = optimizer.step_batch(x, y)`` instead of ``zero_grad / backward / step``.
    """

    def __init__(
        self,
        model: nn.Module,
        base_optimizer: type[torch.optim.Optimizer] = torch.optim.SGD,
        gamma: float = 0.01,
        alpha: float = 0.5,
        generator: torch.Generator | None = None,
        loss_fn: LossFn | None = None,
        **base_kwargs,
    ):
        model = _check_model(model)
        _check_batchnorm_momentum(model)
        if loss_fn is not None and not callable(loss_fn):
            raise ParameterError("loss_fn", loss_fn, "None (cross-entropy) or a callable loss_fn(logits, targets)")
        super().__init__(
            [p for p in model.parameters() if p.requires_grad],
            base_optimizer,
            gamma=gamma,
            alpha=alpha,
            generator=generator,
            **base_kwargs,
        )
        self.model = model
        self.loss_fn = loss_fn or nn.functional.cross_entropy
        self.last_logits: torch.Tensor | None = None  # the clean pass's logits of the last step
        # both gradients of the pair at once: vmap over the leading axis of parameters and buffers
        self._pair_gradients = torch.func.vmap(torch.func.grad(self._loss, has_aux=True), in_dims=(0, 0, None, None))

    def _loss(
        self,
        params: dict[str, torch.Tensor],
        buffers: dict[str, torch.Tensor],
        inputs: torch.Tensor,
        targets: torch.Tensor,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """L(θ) on the batch for one parameter set θ, with the logits as auxiliary output."""
        logits = torch.func.functional_call(self.model, {**params, **buffers}, (inputs,))
        loss = self.loss_fn(logits, targets)
        return loss, (loss.detach(), logits.detach())

    def step_batch(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """One RWP step on the batch (``inputs``, ``targets``); returns the clean loss L(w).

        The model's BatchNorm running statistics move as in one clean training-mode forward pass; the
        clean logits are kept in ``last_logits``. Same as ``step(batch=(inputs, targets))``.
        """
        return self.step(batch=(inputs, targets))

    def step(  # type: ignore[override]
        self,
        closure: Closure | None = None,
        *,
        batch: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """One RWP step on ``batch`` = (inputs, targets); a closure is refused (see the class)."""
        if closure is not None or batch is None:
            raise ParameterError(
                "closure",
                closure,
                "none: BatchedRWP.step needs the batch itself; call "
                "optimizer.step_batch(inputs, targets) (it computes both gradients and steps), "
                "or use the sequential RWP with a closure",
            )
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ParameterError("batch", type(batch).__name__, "a pair (inputs, targets) of tensors")
        inputs, targets = batch
        if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
            raise ParameterError("inputs, targets", f"{type(inputs).__name__}, {type(targets).__name__}", "two tensors")
        names = {p: n for n, p in self.model.named_parameters()}
        pairs: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for group in self.param_groups:
                # ε_j ~ N(0, (γ‖W_j‖₂)² I), drawn as the sequential RWP draws it
                for p, eps in zip(group["params"], filter_wise_noises(group["params"], group["gamma"], self.generator)):
                    # the pair [w, w + ε] along a new leading axis
                    pairs[names[p]] = torch.stack([p.detach(), p.detach() + eps])
            buffers = dict(self.model.named_buffers())
            # one copy of every buffer per parameter set: BatchNorm updates each copy in place
            pair_buffers = {n: torch.stack([b, b]) for n, b in buffers.items()}
        # [g₀, g₁] = [∇L(w), ∇L(w + ε)], one vmap-batched forward and backward
        grads, (losses, logits) = self._pair_gradients(pairs, pair_buffers, inputs, targets)
        with torch.no_grad():
            for n, b in buffers.items():
                # the running statistics of the clean pass (index 0); the perturbed copy is dropped
                b.copy_(pair_buffers[n][0])
            for group in self.param_groups:
                alpha = group["alpha"]
                for p in group["params"]:
                    g = grads[names[p]]
                    # g = (1 − α) g₀ + α g₁
                    p.grad = (1 - alpha) * g[0] + alpha * g[1]
        self.last_logits = logits[0]
        # w ← base_step(w, g)
        self.base_optimizer.step()
        return losses[0]


class DistributedRWP(RWP):
    """RWP over two processes: rank 0 computes ∇L(w), rank 1 computes ∇L(w + ε), one all-reduce mixes them.

    Needs an initialised ``torch.distributed`` process group of exactly two processes (``group``, or the
    default group), e.g. under ``torchrun --nproc_per_node 2``; each process builds the same model
    (same initialisation) and this optimiser with the same ``generator`` seed. ``step(closure)`` runs
    the closure once per rank, at w on rank 0 and at w + ε on rank 1 (``in_perturbed_pass`` is True
    there, so a closure can freeze BatchNorm), and then

        g = Σ_r c_r g_r,   c₀ = 1 − α,  c₁ = α        (one all-reduce, SUM)

    so both ranks take the same base step and keep identical weights. Each rank computes its gradient
    on the batch it is given: the same batch reproduces the sequential RWP exactly, two shards of the
    data (the official code) give the two-batch estimate. Both ranks draw ε (only rank 1 uses it), so
    their generator states stay equal and either rank's ``state_dict()`` resumes the run. After the
    step the model's buffers (BatchNorm running statistics) are broadcast from rank 0, the clean pass.

    The closure must run the *plain* model: a model wrapped in ``DistributedDataParallel`` (as
    :func:`reprobook.training.fit` does under a launcher) already averages every gradient with equal
    weights during ``backward``, which this optimiser then cannot undo. ``step`` returns the clean loss
    L(w) on both ranks.
    """

    CLEAN_RANK = 0
    PERTURBED_RANK = 1

    def __init__(
        self,
        model: nn.Module,
        base_optimizer: type[torch.optim.Optimizer] = torch.optim.SGD,
        gamma: float = 0.01,
        alpha: float = 0.5,
        generator: torch.Generator | None = None,
        group: Any = None,
        **base_kwargs,
    ):
        model = _check_model(model)
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "DistributedRWP needs an initialised torch.distributed process group of two "
                "processes: run under `torchrun --nproc_per_node 2` and call "
                "torch.distributed.init_process_group() first"
            )
        world = dist.get_world_size(group)
        if world != 2:
            raise ParameterError(
                "group",
                f"a process group of {world} process(es)",
                "exactly 2 processes (rank 0 clean, rank 1 perturbed)",
            )
        super().__init__(
            [p for p in model.parameters() if p.requires_grad],
            base_optimizer,
            gamma=gamma,
            alpha=alpha,
            generator=generator,
            **base_kwargs,
        )
        self.model = model
        self.group = group
        self.rank = dist.get_rank(group)

    @property
    def is_perturbed_rank(self) -> bool:
        return self.rank == self.PERTURBED_RANK

    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        closure = self._check_closure(closure, "DistributedRWP")
        params = [(group, p) for group in self.param_groups for p in group["params"]]
        saved: dict[torch.Tensor, torch.Tensor] = {}
        with torch.no_grad():
            # ε_j ~ N(0, (γ‖W_j‖₂)² I): drawn on both ranks, as the sequential RWP draws it, so both generators
            # stay in step
            noises = [
                eps
                for group in self.param_groups
                for eps in filter_wise_noises(group["params"], group["gamma"], self.generator)
            ]
            for (_group, p), eps in zip(params, noises):
                if self.is_perturbed_rank:
                    saved[p] = p.detach().clone()
                    # w ← w + ε  (rank 1 only)
                    p.add_(eps)
        # g_r: rank 0 computes g₀ = ∇L(w), rank 1 computes g₁ = ∇L(w + ε), at the same time
        with self._perturbed() if self.is_perturbed_rank else contextlib.nullcontext():
            loss = closure()
        with torch.no_grad():
            pieces = []
            for group, p in params:
                if p in saved:
                    # w ← w  (the saved copy: bit-exact)
                    p.copy_(saved[p])
                # c_r g_r with c₀ = 1 − α, c₁ = α
                weight = group["alpha"] if self.is_perturbed_rank else 1 - group["alpha"]
                grad = p.grad if p.grad is not None else torch.zeros_like(p)
                pieces.append((weight * grad).flatten())
            # the clean loss rides along: rank 0 contributes L(w), rank 1 contributes 0
            clean_loss = loss.detach().reshape(1).to(pieces[0]) * (0.0 if self.is_perturbed_rank else 1.0)
            flat = torch.cat(pieces + [clean_loss])
            # g = Σ_r c_r g_r = (1 − α) g₀ + α g₁, one all-reduce over both ranks
            dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=self.group)
            offset = 0
            for _, p in params:
                p.grad = flat[offset : offset + p.numel()].view_as(p).clone()
                offset += p.numel()
            # BatchNorm running statistics: rank 0's, from the clean pass
            for buffer in self.model.buffers():
                dist.broadcast(buffer, src=self._global_rank(self.CLEAN_RANK), group=self.group)
        # w ← base_step(w, g), identical on both ranks
        self.base_optimizer.step()
        return flat[-1].to(loss.dtype)

    def _global_rank(self, group_rank: int) -> int:
        if self.group is None:
            return group_rank
        return dist.get_global_rank(self.group, group_rank)
