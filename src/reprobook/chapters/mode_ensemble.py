"""The mode-ensemble chapter (notebooks/ood/mode_ensemble.ipynb): K independently seeded classifiers.

The modes are the OoD benchmark's classifier trained with seeds ``seed, seed + 1, …, seed + K − 1`` on the
very same data (``data_seed`` fixed at 0), with the benchmark's settings unchanged in the smoke profile, so
the Kernel PCA chapter loads the same checkpoints (this chapter *produces* ``ood-modes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..profiles import register_chapter
from .ood_benchmark import PAPER, SMOKE, TINY, OODConfig

DETECTORS: tuple[str, ...] = ("MSP", "ODIN", "Energy", "Mahalanobis", "KNN", "GradNorm", "RankFeat")


@dataclass(frozen=True)
class ModeEnsembleConfig(OODConfig):
    """Mode-ensemble chapter (notebooks/ood/mode_ensemble.ipynb): modes, detectors, landscape, statistics."""

    n_modes: int = 10  # K: independently seeded trainings (the paper: 10 on CIFAR-10, 5 on ImageNet)
    detectors: tuple[str, ...] = DETECTORS
    # Detector settings of the official evaluation scripts (eval_ood.py / eval_ood_ensemble.py)
    odin_temperature: float = 1000.0  # ODIN: T
    odin_eps: float = 0.0014  # ODIN: ε
    energy_temperature: float = 1.0  # Energy: T
    gradnorm_temperature: float = 1.0  # GradNorm: T
    rankfeat_temperature: float = 1.0  # RankFeat: T of its energy score
    knn_k: int = 50  # KNN: k (the official CIFAR-10 value)
    max_subsets: int = 30  # ensembles of m modes scored per size m (all of them when there are fewer)
    n_score: int | None = None  # samples of each split scored by every detector (None: all)
    ind_margin: float = 0.01  # "alike" InD test accuracy: every mode within ±1 point of the others
    # Loss landscape between modes
    landscape_points: int = 11  # points on the segment between two modes (ends included)
    landscape_margin: float = 0.25  # the segment is extended by this fraction beyond each mode
    plane_points: int = 0  # grid side of the plane through three modes (0: no plane)
    landscape_samples: int = 500  # images per set (InD test and each OoD set) for the landscape
    bn_samples: int = 1000  # training images that re-estimate BatchNorm statistics at each point
    n_boot: int = 200  # bootstrap rounds of the test samples behind the sampling spread


VALUES = {
    # K = 2 modes of one epoch: the code path only
    "tiny": dict(TINY, n_modes=2, max_subsets=3, landscape_points=3, landscape_samples=64, bn_samples=128,
                 n_boot=5),
    # the OoD benchmark's classifier settings unchanged (checkpoints shared with the Kernel PCA chapter);
    # five modes, the smallest count the paper uses (ImageNet)
    "smoke": dict(SMOKE, n_modes=5, n_score=500, landscape_points=11, plane_points=0, landscape_samples=500,
                  bn_samples=1000),
    # the paper's CIFAR-10 setting: 10 × ResNet-18, 150 epochs, SGD lr 0.1, weight decay 1e-4, cosine, batch 256
    "paper": dict(PAPER, n_modes=10, epochs=150, batch_size=256, lr=0.1, weight_decay=1e-4, landscape_points=21,
                  plane_points=11, landscape_samples=2000, bn_samples=5000, n_boot=500),
}

# Fang et al. (2024), README of the official repository: FPR95 (%) of RankFeat on five DenseNet-121 modes
# trained on ImageNet-1K, and of their mode ensemble, per OoD set
PAPER_RANKFEAT = {
    "iNaturalist": {"modes": (66.01, 58.49, 59.53, 84.70, 46.58), "ensemble": 39.32},
    "SUN": {"modes": (75.53, 34.70, 50.07, 69.57, 44.46), "ensemble": 39.48},
    "Places": {"modes": (79.95, 50.70, 63.27, 76.45, 58.95), "ensemble": 55.61},
    "Texture": {"modes": (43.60, 32.73, 40.64, 49.89, 22.48), "ensemble": 15.98},
}
PAPER_RANKFEAT_SOURCE = ("Fang et al. (2024), official repository README: RankFeat, 5 DenseNet-121 modes on "
                         "ImageNet-1K, FPR95 %")

register_chapter("mode_ensemble", notebook="ood/mode_ensemble", config_class=ModeEnsembleConfig, values=VALUES,
                 produces=("ood-modes",))
