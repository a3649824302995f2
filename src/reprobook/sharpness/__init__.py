"""Part I, sharpness and flat minima: optimisers (SAM, RWP, m-RWP, ARWP, m-ARWP) and measures of flatness.

Explained in ``notebooks/sharpness/rwp.ipynb`` and ``notebooks/sharpness/marwp.ipynb``; RWP's parallel
steps in ``notebooks/sharpness/step_cost.ipynb``. The methods: :mod:`.sam`, :mod:`.rwp`, :mod:`.arwp`,
:mod:`.parallel`, :mod:`.buffers` (the flat buffers of the perturbation; BatchNorm's frozen statistics are
:mod:`reprobook.batchnorm`); the flatness measures: :mod:`.landscape`. The training both chapters run and what
is measured on the trained models live in the chapter layer (:mod:`reprobook.chapters.flat_minima.runs` and
:mod:`reprobook.chapters.flat_minima.analysis`), beside each chapter's own analyses and claims
(``reprobook.chapters.{rwp,marwp,step_cost}.experiment``).
"""

from ..batchnorm import frozen_bn_stats
from .arwp import ARWP, CosineIncreasingSigma, adaptive_noise_divisor
from .buffers import FlatBuffers
from .landscape import (
    HessianEigen,
    filter_normalized_direction,
    filter_normalized_sharpness,
    hessian_lambda_max,
    loss_along_direction,
)
from .parallel import BatchedRWP, DistributedRWP
from .rwp import RWP, filter_wise_noise
from .sam import SAM

__all__ = [
    "ARWP",
    "BatchedRWP",
    "CosineIncreasingSigma",
    "DistributedRWP",
    "FlatBuffers",
    "HessianEigen",
    "RWP",
    "SAM",
    "adaptive_noise_divisor",
    "filter_normalized_direction",
    "filter_normalized_sharpness",
    "filter_wise_noise",
    "frozen_bn_stats",
    "hessian_lambda_max",
    "loss_along_direction",
]
