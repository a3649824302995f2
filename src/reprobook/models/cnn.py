"""A small convolutional network for 28×28 images (the smoke profile's classifier).

Explained in ``notebooks/sharpness/rwp.ipynb`` (its smoke profile trains it on FashionMNIST). Three
conv–BatchNorm–ReLU blocks of width w, 2w, 4w (max-pooling after the first two: 28 → 14 → 7), global
average pooling, then a linear head; ``features(x)`` returns the pooled penultimate features.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                               nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """conv(w)-BN-ReLU-pool, conv(2w)-BN-ReLU-pool, conv(4w)-BN-ReLU, global average pool, linear head."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 16):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"invalid value for parameter '{name}': {value!r}; allowed: a positive integer")
        self.body = nn.Sequential(
            _block(in_channels, width, pool=True),
            _block(width, 2 * width, pool=True),
            _block(2 * width, 4 * width, pool=False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, num_classes)
        self.feature_dim = 4 * width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, globally average-pooled: shape (N, 4·width)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
