"""The OoD benchmark every Part II chapter scores: the in-distribution classifier and the OoD test sets.

Not a chapter itself: :class:`OODConfig` is the base of the OoD chapters' configurations
(``kpca``, and the chapters after it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..profiles import ChapterConfig


@dataclass(frozen=True)
class OODConfig(ChapterConfig):
    """The in-distribution classifier and the OoD test sets every OoD chapter scores."""

    in_dataset: str  # a data-registry name (the classifier's training data)
    ood_datasets: tuple[str, ...]  # OoD test sets (registry names, or synthetic "gaussian-noise" / "uniform-noise")
    model: str
    model_kwargs: dict = field(default_factory=dict)
    n_train: int | None = None  # None: the whole training split
    n_test: int | None = None  # in-distribution test samples scored
    n_ood: int | None = None  # samples per OoD set
    epochs: int = 100
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = True
    # The converged regime the Part II claims are about (a run still improving is not a trained mode): each
    # classifier's loss on its whole training set (eval mode, no augmentation) fell by less than
    # `converged_tolerance` of its value over the last `converged_window` of the epochs (the last 4 of 40).
    # Declared after the run of 2026-12-04, whose rule (the epoch mean of the training steps' loss over the last
    # epoch: −0.7 % to +3.2 % between modes) mixed the weights of a whole epoch with training-mode batch statistics;
    # this one measures the network itself at two points (the former measure is still shown beside it). Measured
    # before the next run: seed 6's whole training loss fell 4.26 % over epochs 36→40 (its step loss 3.19 %).
    # That run (one thread each, 2026-12-05): 1.8–5.8 % over the ten modes, so no verdict. A pilot on seed 9
    # (two threads) found the drop over the last tenth no smaller on longer schedules: 3.5 % (4,000 images × 40
    # epochs), 2.5 % (2,000 × 80), 4.7 % (4,000 × 80), 3.0 % (8,000 × 40). Under a cosine schedule the last
    # tenth of the epochs still lowers the loss by a few per cent: this tolerance may be out of reach at any
    # affordable scale, which would decide the Part II claims before their data (issue 22 decides the rule)
    converged_tolerance: float = 0.02
    converged_window: float = 0.1


# The synthetic OoD sets (noise): scored and shown, but every claim's endpoint averages over the natural sets
SYNTHETIC_OOD: tuple[str, ...] = ("gaussian-noise", "uniform-noise")
NATURAL_OOD_SMOKE: tuple[str, ...] = ("mnist-5k", "animal-silhouettes", "cifar10-test")


def natural_sets(names) -> tuple[str, ...]:
    """The natural OoD sets among ``names`` (every set but the synthetic noise)."""
    return tuple(n for n in names if n not in SYNTHETIC_OOD)


SMOKE = dict(
    in_dataset="fashion-mnist",
    ood_datasets=(*NATURAL_OOD_SMOKE, *SYNTHETIC_OOD),
    model="small_cnn",
    # stride-2 convolutions halve the sides (about half the time per step of max-pooling on a CPU)
    model_kwargs={"in_channels": 1, "num_classes": 10, "width": 16, "downsample": "stride"},
    # 4,000 images × 40 epochs: the ten modes of the mode-ensemble chapter, which every Part II chapter shares,
    # train to a plateau of their training loss (the converged regime the claims are about) within its 360 s budget
    # cold. Measured on this 2-core CPU with stride-2 convolutions (0.12–0.13 ms per image and epoch): 8,000 × 20
    # left last-epoch drops up to 2.7 % (seeds 0–9) against the 2 % tolerance; 4,000 × 40 left −0.02 % and 0.25 %
    # (seeds 4 and 9, the two worst of those), 17 s per mode, training loss 0.12–0.14
    n_train=4000,
    n_test=2000,
    n_ood=2000,
    epochs=40,
    batch_size=128,
    lr=0.1,
    weight_decay=5e-4,
    augment=False,
    data_files=("fashion-mnist", "mnist-5k", "animal-silhouettes", "cifar10-test"),
    budget_seconds=240,
)
TINY = dict(SMOKE, n_train=600, n_test=200, n_ood=200, epochs=1, budget_seconds=None)
PAPER = dict(
    in_dataset="cifar10",
    ood_datasets=("svhn", "lsun", "isun", "textures", "places365"),
    model="resnet18_cifar",
    model_kwargs={"num_classes": 10},
    n_ood=10000,  # a seeded, class-stratified 10,000 of SVHN and Places365; LSUN, iSUN, Textures are smaller
    epochs=100,
    batch_size=128,
    lr=0.1,
    weight_decay=5e-4,
    augment=True,
    data_files=("cifar10", "svhn", "textures", "places365"),  # LSUN and iSUN: user-supplied folders
)
