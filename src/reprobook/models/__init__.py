"""Classifiers used by the chapters, by name: ``build_model("small_cnn", width=16)``.

Explained in ``notebooks/sharpness/rwp.ipynb``, the first chapter that trains them.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ..checks import check_choice
from .cnn import SmallCNN
from .resnet import CifarResNet18, resnet18_cifar

MODELS: dict[str, Callable[..., nn.Module]] = {"small_cnn": SmallCNN, "resnet18_cifar": resnet18_cifar}


def build_model(name: str, **kwargs) -> nn.Module:
    """A freshly initialised model; every model has ``features(x)`` and ``head``."""
    check_choice("model", name, sorted(MODELS))
    return MODELS[name](**kwargs)


__all__ = ["MODELS", "CifarResNet18", "SmallCNN", "build_model", "resnet18_cifar"]
