"""Part I, sharpness and flat minima: optimisers (SAM, RWP, m-RWP, ARWP, m-ARWP) and measures of flatness.

Explained in ``notebooks/sharpness/rwp.ipynb`` and ``notebooks/sharpness/marwp.ipynb``; RWP's parallel
steps in ``notebooks/sharpness/step_cost.ipynb``.
"""

from .arwp import ARWP, CosineIncreasingSigma, adaptive_noise_divisor
from .bn import frozen_bn_stats
from .landscape import filter_normalized_direction, hessian_top_eigenvalue, loss_along_direction
from .parallel import BatchedRWP, DistributedRWP
from .rwp import RWP, filter_wise_noise
from .sam import SAM

__all__ = ["ARWP", "BatchedRWP", "CosineIncreasingSigma", "DistributedRWP", "RWP", "SAM", "adaptive_noise_divisor",
           "filter_normalized_direction",
           "filter_wise_noise", "frozen_bn_stats", "hessian_top_eigenvalue", "loss_along_direction"]
