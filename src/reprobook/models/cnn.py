"""A small convolutional network for 28×28 images (the smoke profile's classifier).

Explained in ``notebooks/sharpness/rwp.ipynb`` (its smoke profile trains it on FashionMNIST). Three
conv–BatchNorm–ReLU blocks of width w, 2w, 4w (the first two halve the side, 28 → 14 → 7, by max-pooling
or by a stride-2 convolution), global average pooling, then a linear head; ``features(x)`` returns the
pooled penultimate features.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_choice, check_int

# how the first two blocks halve the side: 2×2 max-pooling after the block, or a stride-2 convolution (about
# half the time per step on a CPU, where max-pooling with indices is slow)
DOWNSAMPLING = ("maxpool", "stride")


def _block(c_in: int, c_out: int, halve: str | None) -> nn.Sequential:
    """conv 3×3 – BatchNorm – ReLU; ``halve`` the side: "maxpool" (after the block) or "stride" (a stride-2 conv)."""
    stride = 2 if halve == "stride" else 1
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if halve == "maxpool":
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """conv(w)-BN-ReLU-pool, conv(2w)-BN-ReLU-pool, conv(4w)-BN-ReLU, global average pool, linear head.

    ``downsample="stride"`` replaces each pool by a stride-2 first convolution of its block (same sides,
    same number of parameters, a quarter of the arithmetic of those convolutions).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, width: int = 16, downsample: str = "maxpool"):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("width", width)):
            check_int(name, value, low=1)
        check_choice("downsample", downsample, DOWNSAMPLING)
        self.body = nn.Sequential(
            _block(in_channels, width, downsample),
            _block(width, 2 * width, downsample),
            _block(2 * width, 4 * width, None),
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
