"""The mode-ensemble chapter (notebooks/ood/mode_ensemble.ipynb): K independently seeded classifiers.

The modes are the OoD benchmark's classifier trained with seeds ``seed, seed + 1, …, seed + K − 1`` on the
very same data (``data_seed`` fixed at 0), with the benchmark's settings unchanged in the smoke profile: this
chapter *produces* ``ood-modes``, the K = 10 checkpoints every Part II chapter shares (Kernel PCA's
classifiers, DDoS's protected classifiers and its perceptual network).

Its claims are declared here, before any result (:func:`claim_specs`).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from ..claims import ClaimSpec
from .ood_benchmark import PAPER, SMOKE, TINY, OODConfig
from .registry import register_chapter

DETECTORS: tuple[str, ...] = ("MSP", "ODIN", "Energy", "Mahalanobis", "KNN", "GradNorm", "RankFeat")
# the detectors the official code runs on its CIFAR-10 modes (eval_ood_ensemble.py); GradNorm and RankFeat run
# there only on ImageNet networks: they are scored here but stay out of every primary endpoint
CIFAR_DETECTORS: tuple[str, ...] = ("MSP", "ODIN", "Energy", "Mahalanobis", "KNN")
IMAGENET_ONLY: tuple[str, ...] = ("GradNorm", "RankFeat")


@dataclass(frozen=True)
class ModeEnsembleConfig(OODConfig):
    """Mode-ensemble chapter (notebooks/ood/mode_ensemble.ipynb): modes, detectors, landscape, statistics."""

    n_modes: int = 10  # K: independently seeded trainings (the paper: 10 on CIFAR-10, 5 on ImageNet)
    detectors: tuple[str, ...] = DETECTORS
    primary_detectors: tuple[str, ...] = CIFAR_DETECTORS  # the detectors every primary endpoint averages over
    # Detector settings of the official evaluation scripts (eval_ood.py / eval_ood_ensemble.py)
    odin_temperature: float = 1000.0  # ODIN: T
    odin_eps: float = 0.0014  # ODIN: ε, on the normalised input as in utils_ood.py (no division by the std)
    energy_temperature: float = 1.0  # Energy: T
    gradnorm_temperature: float = 1.0  # GradNorm: T
    rankfeat_temperature: float = 1.0  # RankFeat: T of its energy score
    knn_k: int = 50  # KNN: k (the official CIFAR-10 value)
    n_score: int | None = None  # samples of each split scored by every detector (None: all)
    # Ensembles: the sizes of the figure; every pair is scored (the variance claim), other sizes a seeded sample
    ensemble_sizes: tuple[int, ...] = (1, 2, 3, 5, 10)
    max_subsets: int = 10
    unit_size: int = 2  # the units of "the ensemble improves detection": K / unit_size disjoint ensembles
    # "Modes reach alike InD performance": the 95 % upper bound of the between-mode SD below these margins
    alike_acc_margin: float = 0.01  # InD test accuracy (a fraction)
    alike_loss_margin: float = 0.03  # InD test cross-entropy (nats)
    # The paper's landscape: a plane of two filter-normalised random directions around each mode
    slice_points: int = 7  # grid side (odd: the mode is the centre)
    slice_radius: float = 0.5  # the grid spans [−r, r] in both directions (1 = one filter norm)
    slice_samples: int = 256  # images per set (InD test and each natural OoD set) on the slices
    # The mode-to-mode segment (second figure), BatchNorm re-estimated at every point
    landscape_points: int = 11  # points on the segment between two modes (ends included)
    landscape_margin: float = 0.25  # the segment is extended by this fraction beyond each mode
    landscape_samples: int = 500  # images per set for the segment
    bn_samples: int = 1000  # training images that re-estimate BatchNorm statistics at each point
    # "Detection fluctuates": the Monte-Carlo null of K draws from one mode's bootstrap rounds
    n_boot: int = 2000  # bootstrap rounds of mode 1's test and OoD samples
    null_draws: int = 4000  # Monte-Carlo draws of K rounds (the null distribution of the between-mode SD)


VALUES = {
    # K = 4 modes of one epoch: the code path only
    "tiny": dict(
        TINY,
        n_modes=4,
        ensemble_sizes=(1, 2, 4),
        max_subsets=2,
        slice_points=3,
        slice_samples=32,
        landscape_points=3,
        landscape_samples=64,
        bn_samples=128,
        n_boot=50,
        null_draws=50,
    ),
    # the OoD benchmark's classifier settings unchanged (checkpoints shared with every Part II chapter); the
    # paper's ten CIFAR-10 modes
    "smoke": dict(
        SMOKE,
        n_modes=10,
        n_score=500,
        budget_seconds=360,
        # r = 0.5 (the default) put the first grid point 1/6 of a filter norm from the mode, where every
        # mode's InD test loss was already five times its own (mode 1: 0.15 → 0.85, run of 2026-12-05):
        # no slice could show a dip, every relative depth was 0 and the landscape claim had no variation
        # to test. Declared before any run at this radius (first point 1/15 of a filter norm away)
        slice_radius=0.2,
    ),
    # the paper's CIFAR-10 setting: 10 × ResNet-18, 150 epochs, SGD lr 0.1, weight decay 1e-4, cosine, batch 256
    "paper": dict(
        PAPER,
        n_modes=10,
        epochs=150,
        batch_size=256,
        lr=0.1,
        weight_decay=1e-4,
        n_score=2000,
        slice_points=21,
        slice_radius=1.0,
        slice_samples=1000,
        landscape_points=21,
        landscape_samples=2000,
        bn_samples=5000,
        n_boot=2000,
    ),
}

# Fang et al. (2024), README of the official repository: FPR95 (%) of RankFeat on five DenseNet-121 modes
# trained on ImageNet-1K, and of their mode ensemble, per OoD set
PAPER_RANKFEAT: dict[str, dict[str, Any]] = {
    "iNaturalist": {"modes": (66.01, 58.49, 59.53, 84.70, 46.58), "ensemble": 39.32},
    "SUN": {"modes": (75.53, 34.70, 50.07, 69.57, 44.46), "ensemble": 39.48},
    "Places": {"modes": (79.95, 50.70, 63.27, 76.45, 58.95), "ensemble": 55.61},
    "Texture": {"modes": (43.60, 32.73, 40.64, 49.89, 22.48), "ensemble": 15.98},
}
PAPER_RANKFEAT_SOURCE = (
    "Fang et al. (2024), official repository README: RankFeat, 5 DenseNet-121 modes on ImageNet-1K, FPR95 %"
)
SOURCE = "Fang et al. (2024), abstract"

# The paper's effects on the scales of this chapter's endpoints (FPR95 as a fraction), from the README's table:
# the between-mode SD of FPR95 per OoD set, averaged over the four sets ...
PAPER_MODE_SD = statistics.mean(statistics.stdev(v["modes"]) for v in PAPER_RANKFEAT.values()) / 100
# ... and the gain of the 5-mode ensemble over the mean of its modes, averaged over the four sets
PAPER_ENSEMBLE_GAIN = (
    statistics.mean(statistics.mean(v["modes"]) - v["ensemble"] for v in PAPER_RANKFEAT.values()) / 100
)


def ensemble_gain_at(size: int) -> float:
    """The paper's 5-mode gain scaled to an ensemble of ``size`` modes by the share of the members' own variation
    that averaging removes, 1 − 1/m (4/5 for the paper's five modes): the paper's effect on this chapter's unit."""
    return PAPER_ENSEMBLE_GAIN * (1 - 1 / size) / (1 - 1 / 5)


def claim_specs(cfg: ModeEnsembleConfig):
    """The chapter's five claims as declared before any result: unit and n, test, SESOI with its source, the
    paper's effect on the same scale."""
    k = cfg.n_modes
    units = k // cfg.unit_size
    gain = ensemble_gain_at(cfg.unit_size)
    natural = (
        "FPR95 averaged over the paper's CIFAR detectors ("
        + ", ".join(cfg.primary_detectors)
        + ") and the natural OoD sets"
    )
    return [
        ClaimSpec(
            "alike",
            "Independent modes reach alike InD performance (accuracy and loss)",
            paper="modes all reach low-loss regions with InD data (training and test data)",
            source=SOURCE,
            unit="trained modes",
            n=k,
            test="from_test",
            sesoi=cfg.alike_acc_margin,
            sesoi_source=(
                f"practical: a between-mode SD of {cfg.alike_acc_margin:.0%} of InD test accuracy "
                f"(and of {cfg.alike_loss_margin:g} nats of InD test loss)"
            ),
            fmt=".2%",
            measure="between-mode SD of InD test accuracy (χ² interval); with the SD of the InD test loss",
        ),
        ClaimSpec(
            "landscape",
            "Around each mode, the InD loss has its minimum at the mode and the OoD loss does not",
            paper="modes yield significantly different loss landscapes with OoD data (README figure: "
            "random-direction slices, OoD contours at 1.1, 1.6, 2.1)",
            source=SOURCE,
            unit="trained modes",
            n=k,
            test="superiority",
            sesoi=0.10,
            sesoi_source=(
                "practical: a slice reaching 10 % below the mode's own loss (the paper's OoD contours "
                "are 0.5 apart at 1.1–2.1, i.e. 25–45 %)"
            ),
            fmt=".3f",
            measure="relative depth of the OoD slice below the mode − that of the InD slice",
        ),
        ClaimSpec(
            "fluctuates",
            "OoD detection performance fluctuates across modes beyond test-sample noise",
            paper="FPR95 of RankFeat ranges 46.58–84.70 % over 5 modes (iNaturalist)",
            source=SOURCE,
            unit="trained modes",
            n=k,
            test="from_test",
            sesoi=PAPER_MODE_SD / 2,
            sesoi_source=f"half the paper's between-mode SD of RankFeat's FPR95 ({PAPER_MODE_SD:.1%}, mean of "
            "4 ImageNet sets)",
            paper_effect=PAPER_MODE_SD,
            fmt=".2%",
            measure="between-mode SD of FPR95 (mean over detector × natural-set cells) − the median of its "
            "Monte-Carlo null from mode 1's bootstrap rounds",
        ),
        ClaimSpec(
            "improves",
            "A mode ensemble improves OoD detection over its own members",
            paper="mode ensemble leads to improved performance (README: RankFeat, 5 modes, FPR95 "
            f"{100 * PAPER_ENSEMBLE_GAIN:.1f} points below the mean mode)",
            source=PAPER_RANKFEAT_SOURCE,
            unit=f"disjoint {cfg.unit_size}-mode ensembles",
            n=units,
            test="superiority",
            sesoi=gain / 2,
            sesoi_source=(
                f"half the paper's 5-mode gain {PAPER_ENSEMBLE_GAIN:.1%} scaled to {cfg.unit_size} "
                f"modes by (1 − 1/m): {gain:.1%}"
            ),
            paper_effect=gain,
            fmt=".2%",
            measure=f"mean of the members' FPR95 − the ensemble's; {natural}",
        ),
        ClaimSpec(
            "variance",
            "A mode ensemble reduces the variance of OoD detection beyond averaging",
            paper="mode ensemble benefits the OoD detector with reduced variances",
            source=SOURCE,
            unit="trained modes",
            n=k,
            test="bootstrap",
            sesoi=0.223,
            sesoi_source="practical: the ensemble's SD over pairs 20 % below the averaging null's (log 1/0.8)",
            fmt=".3f",
            measure=(
                "log(SD over pairs {i, j} of (FPR95ᵢ + FPR95ⱼ)/2 ÷ SD of FPR95 of the ensemble {i, j}); " + natural
            ),
        ),
    ]


register_chapter(
    "mode_ensemble",
    notebook="ood/mode_ensemble",
    config_class=ModeEnsembleConfig,
    values=VALUES,
    produces=("ood-modes",),
)
