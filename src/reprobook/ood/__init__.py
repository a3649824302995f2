"""Part II, out-of-distribution detection: the offline OoD benchmark, feature extraction, and detectors.

The baselines (MSP, Energy, MaxLogit, ODIN, Mahalanobis, KNN, ViM, ReAct, ...) and the metrics come from
``pytorch-ood``; this package adds only what no library has, as ``pytorch-ood``-compatible detectors.
Explained in ``notebooks/ood/kpca.ipynb``.
"""

from .benchmark import OODBenchmark, build_benchmark
from .features import FeatureSet, extract, penultimate
from .detectors import KernelPCACoP, KernelPCACoRP, KernelPCAFusion, PCAReconstruction, pytorch_ood_baselines
from .kernels import RandomFourierFeatures, components_for_ratio, cosine_kernel, cosine_map, gaussian_kernel
from .metrics import (bootstrap_average, bootstrap_verdict, compare_bootstrapped, evaluate, fit_detector, ood_metrics,
                      paired_bootstrap)

__all__ = ["FeatureSet", "KernelPCACoP", "KernelPCACoRP", "KernelPCAFusion", "OODBenchmark", "PCAReconstruction",
           "RandomFourierFeatures", "bootstrap_average", "bootstrap_verdict", "build_benchmark", "compare_bootstrapped",
           "components_for_ratio", "cosine_kernel", "cosine_map", "evaluate", "extract", "fit_detector",
           "gaussian_kernel", "ood_metrics", "paired_bootstrap", "penultimate", "pytorch_ood_baselines"]
