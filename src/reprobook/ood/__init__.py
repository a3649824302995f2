"""Part II, out-of-distribution detection: the offline OoD benchmark, feature extraction, and detectors.

The baselines (MSP, Energy, MaxLogit, ODIN, Mahalanobis, KNN, ViM, ReAct, ...) and the metrics come from
``pytorch-ood``; this package adds only what no library has, as ``pytorch-ood``-compatible detectors.
Explained in ``notebooks/ood/kpca.ipynb``: the benchmark (:mod:`.benchmark`, its classifier :mod:`.classifier`),
features, kernels and detectors, metrics and the paired bootstrap (:mod:`.metrics`). The chapters'
experiments live in :mod:`reprobook.chapters` (the Kernel PCA chapter's: :mod:`reprobook.chapters.kpca`).
"""

from .benchmark import OODBenchmark, build_benchmark, build_benchmarks
from .detectors import KernelPCACoP, KernelPCACoRP, KernelPCAFusion, PCAReconstruction, pytorch_ood_baselines
from .features import FeatureSet, extract, penultimate
from .kernels import RandomFourierFeatures, components_for_ratio, cosine_kernel, cosine_map, gaussian_kernel
from .metrics import (
    bootstrap_average,
    compare_bootstrapped,
    evaluate,
    fit_detector,
    mean_bootstrap,
    ood_metrics,
    paired_bootstrap,
)
from .modes import ModeSet, build_modes  # the K seeded classifiers (notebooks/ood/mode_ensemble.ipynb)

__all__ = [
    "FeatureSet",
    "KernelPCACoP",
    "KernelPCACoRP",
    "KernelPCAFusion",
    "OODBenchmark",
    "PCAReconstruction",
    "RandomFourierFeatures",
    "bootstrap_average",
    "build_benchmark",
    "build_benchmarks",
    "compare_bootstrapped",
    "components_for_ratio",
    "cosine_kernel",
    "cosine_map",
    "evaluate",
    "extract",
    "fit_detector",
    "gaussian_kernel",
    "mean_bootstrap",
    "ModeSet",
    "build_modes",
    "ood_metrics",
    "paired_bootstrap",
    "penultimate",
    "pytorch_ood_baselines",
]
