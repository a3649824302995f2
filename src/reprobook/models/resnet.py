"""ResNet-18 for 32×32 images (the paper profile's classifier), built from torchvision's ResNet-18.

Explained in ``notebooks/sharpness/rwp.ipynb`` (its paper profile trains it on CIFAR-10). The
CIFAR variant of He et al. (2016): a 3×3 stride-1 stem convolution and no max-pooling, so the first
stage works at 32×32. ``features(x)`` returns the pooled 512-d penultimate features.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int


class CifarResNet18(nn.Module):
    """A thin wrapper around torchvision's ``resnet18`` (3×3 stem, no max-pool) with ``features`` and ``head``."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels)):
            check_int(name, value, low=1)
        from torchvision.models import resnet18

        net = resnet18(weights=None, num_classes=num_classes)
        # CIFAR stem: 3×3 stride-1 convolution, no max-pooling (32×32 stays 32×32 in the first stage)
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
        # torchvision's forward ends with avgpool → flatten → fc; with fc taken out it returns the features
        self.head = net.fc
        net.fc = nn.Identity()
        self.net = net
        self.feature_dim = self.head.in_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, globally average-pooled: shape (N, 512)."""
        return self.net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def resnet18_cifar(num_classes: int = 10, in_channels: int = 3) -> CifarResNet18:
    """A freshly initialised CIFAR ResNet-18 (about 11.2 M parameters for 10 classes)."""
    return CifarResNet18(num_classes=num_classes, in_channels=in_channels)
