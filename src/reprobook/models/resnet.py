"""ResNet-18 for 32×32 images (the paper profile's classifier), built from torchvision's ResNet-18.

CIFAR variant of He et al. (2016): a 3×3 stride-1 stem convolution and no max-pooling, so the first
stage works at 32×32. ``features(x)`` returns the pooled 512-d penultimate features.
"""

from __future__ import annotations

import torch
from torch import nn


class CifarResNet18(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        from torchvision.models import resnet18

        net = resnet18(weights=None, num_classes=num_classes)
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
        self.net = net
        self.head = net.fc
        self.feature_dim = net.fc.in_features

    def features(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = n.relu(n.bn1(n.conv1(x)))
        x = n.layer4(n.layer3(n.layer2(n.layer1(x))))
        return torch.flatten(n.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def resnet18_cifar(num_classes: int = 10, in_channels: int = 3) -> CifarResNet18:
    return CifarResNet18(num_classes=num_classes, in_channels=in_channels)
