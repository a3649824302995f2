"""Part I, sharpness and flat minima: optimisers (SAM, RWP) and measures of flatness.

Explained in ``notebooks/sharpness/rwp.ipynb``.
"""

from .bn import frozen_bn_stats
from .landscape import filter_normalized_direction, hessian_top_eigenvalue, loss_along_direction
from .rwp import RWP, filter_wise_noise
from .sam import SAM

__all__ = ["RWP", "SAM", "filter_normalized_direction", "filter_wise_noise", "frozen_bn_stats",
           "hessian_top_eigenvalue", "loss_along_direction"]
