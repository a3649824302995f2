"""BatchNorm running statistics frozen on perturbed passes.

Explained in ``notebooks/sharpness/rwp.ipynb``. SAM and RWP run forward passes at perturbed weights;
those passes should still normalise with the batch's statistics (train mode) but must not move the
running mean and variance that evaluation uses. Setting ``momentum = 0`` makes the running update
``r ← (1 − 0)·r + 0·batch = r`` a no-op; ``num_batches_tracked`` is saved and restored.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn


@contextlib.contextmanager
def frozen_bn_stats(model: nn.Module, enabled: bool = True) -> Iterator[None]:
    """Within the block, BatchNorm layers of ``model`` leave their running buffers untouched."""
    if not enabled:
        yield
        return
    saved = []
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            tracked = None if module.num_batches_tracked is None else module.num_batches_tracked.clone()
            saved.append((module, module.momentum, tracked))
            module.momentum = 0.0
    try:
        yield
    finally:
        for module, momentum, tracked in saved:
            module.momentum = momentum
            if tracked is not None:
                module.num_batches_tracked.copy_(tracked)
