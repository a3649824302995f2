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


SMOKE = dict(
    in_dataset="fashion-mnist",
    ood_datasets=("mnist-5k", "animal-silhouettes", "cifar10-test", "gaussian-noise", "uniform-noise"),
    model="small_cnn",
    model_kwargs={"in_channels": 1, "num_classes": 10, "width": 16},
    # 20,000 images × 5 epochs: an epoch takes about 5.2 s on this 2-core CPU (measured), so the five modes of
    # the mode-ensemble chapter, which every Part II chapter shares, fit its 240 s budget cold (10 epochs made it 362 s)
    n_train=20000,
    n_test=2000,
    n_ood=2000,
    epochs=5,
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
