"""BatchNorm running statistics frozen on perturbed passes.

Explained in ``notebooks/sharpness/rwp.ipynb``. SAM and RWP run a second forward pass at perturbed
weights w + ε. That pass should still normalise with the batch's own statistics (train mode), but it
must not move the running mean and variance that evaluation uses: they should describe the network at
w, not at w + ε.

In train mode a BatchNorm layer updates, with momentum m,

    μ_run ← (1 − m)·μ_run + m·μ_batch,    σ²_run ← (1 − m)·σ²_run + m·σ²_batch,    t ← t + 1.

Setting m = 0 is *not* bit-safe: 0·μ_batch is NaN when the perturbed pass overflows. Copying the
buffers back after the forward pass is not safe either: autograd saved them for the backward pass and
refuses in-place changes. So inside the block each layer updates a scratch copy of its three buffers,
and the originals, never touched, are put back afterwards: they come out bit-identical whatever
happened inside.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """Every BatchNorm layer of ``model`` (1-D, 2-D, 3-D and SyncBatchNorm) that tracks running statistics."""
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@contextlib.contextmanager
def frozen_bn_stats(model: nn.Module, enabled: bool = True) -> Iterator[None]:
    """Within the block, the BatchNorm layers of ``model`` leave their running buffers bit-identical.

    Forward passes inside still normalise with the batch statistics when the model is in train mode.
    With ``enabled=False`` the block runs unchanged (so a closure can always wrap its forward pass).
    """
    if not enabled:
        yield
        return
    names = ("running_mean", "running_var", "num_batches_tracked")
    originals: list[tuple[nn.modules.batchnorm._BatchNorm, str, torch.Tensor]] = []
    for layer in batchnorm_layers(model):
        for name in names:
            buffer = getattr(layer, name)
            if buffer is not None:
                originals.append((layer, name, buffer))
                # the layer updates μ_run, σ²_run, t of a scratch copy inside the block
                setattr(layer, name, buffer.detach().clone())
    try:
        yield
    finally:
        # μ_run, σ²_run, t ← the untouched originals
        for layer, name, buffer in originals:
            setattr(layer, name, buffer)
