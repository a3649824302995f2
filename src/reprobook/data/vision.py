"""Image-classification train/test sets for the chapters, the same call for both profiles.

``smoke``: FashionMNIST from the offline registry entry, class-stratified subsets, tensors in memory.
``paper``: CIFAR-10/100 through torchvision with the usual augmentation (random crop with 4-pixel
padding, horizontal flip) and per-channel normalisation.
"""

from __future__ import annotations

import numpy as np

from ..profiles import ParameterError
from .formats import fashion_mnist_dataset, stratified_indices

# Per-channel statistics of the CIFAR training sets (the values commonly used with torchvision).
CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
DATASETS = ("fashion-mnist", "cifar10", "cifar100")


def _subset(dataset, labels, n, seed):
    from torch.utils.data import Subset

    if n is None:
        return dataset
    return Subset(dataset, stratified_indices(np.asarray(labels), n, seed).tolist())


def classification_datasets(name: str, *, n_train: int | None = None, n_test: int | None = None,
                            seed: int = 0, augment: bool = False, download: bool = True):
    """``(train, test)`` datasets of ``(image tensor, label)``; ``n_*`` keep class-stratified subsets."""
    if name == "fashion-mnist":
        return (fashion_mnist_dataset("train", limit=n_train, seed=seed),
                fashion_mnist_dataset("test", limit=n_test, seed=seed))
    if name in CIFAR_STATS:
        from torchvision import transforms as T

        from .registry import load

        mean, std = CIFAR_STATS[name]
        normalise = [T.ToTensor(), T.Normalize(mean, std)]
        augmentation = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if augment else []
        train = load(name, train=True, transform=T.Compose(augmentation + normalise), download=download)
        test = load(name, train=False, transform=T.Compose(normalise), download=download)
        return (_subset(train, train.targets, n_train, seed), _subset(test, test.targets, n_test, seed))
    raise ParameterError("dataset", name, ", ".join(DATASETS))
