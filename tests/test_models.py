"""The chapters' classifiers: shapes, features, parameter counts, and argument checks."""

import pytest
import torch
from torch import nn

from reprobook.models import MODELS, CifarResNet18, SmallCNN, build_model, resnet18_cifar
from reprobook.profiles import ParameterError


def test_small_cnn_shapes_and_features():
    model = build_model("small_cnn", in_channels=1, num_classes=10, width=8)
    assert isinstance(model, SmallCNN)
    x = torch.randn(3, 1, 28, 28)
    features = model.features(x)
    assert model(x).shape == (3, 10)
    assert features.shape == (3, 32) == (3, model.feature_dim)
    assert torch.allclose(model.head(features), model(x))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 3
    # conv 1→8→16→32 (3×3, no bias) + 3 BatchNorms + the linear head
    convs = 9 * (1 * 8 + 8 * 16 + 16 * 32)
    bns = 2 * (8 + 16 + 32)
    assert sum(p.numel() for p in model.parameters()) == convs + bns + 32 * 10 + 10


def test_small_cnn_with_strided_convolutions():
    pooled = SmallCNN(in_channels=1, num_classes=10, width=8)
    strided = SmallCNN(in_channels=1, num_classes=10, width=8, downsample="stride")
    # the same parameters (shapes and count), no max-pooling, the same feature-map sides (28 → 14 → 7)
    assert [p.shape for p in pooled.parameters()] == [p.shape for p in strided.parameters()]
    assert not any(isinstance(m, nn.MaxPool2d) for m in strided.modules())
    assert [m.stride for m in strided.modules() if isinstance(m, nn.Conv2d)] == [(2, 2), (2, 2), (1, 1)]
    x = torch.randn(2, 1, 28, 28)
    assert strided.body[:3](x).shape == pooled.body[:3](x).shape == (2, 32, 7, 7)
    with pytest.raises(ParameterError, match="'downsample'.*'maxpool'.*'stride'"):
        SmallCNN(downsample="avg")


def test_small_cnn_accepts_rgb_and_other_sizes():
    model = SmallCNN(in_channels=3, num_classes=4, width=4)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 4)


def test_resnet18_cifar_shapes_features_and_size():
    model = resnet18_cifar(num_classes=100)
    assert isinstance(model, CifarResNet18)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        features = model.features(x)
        assert model(x).shape == (2, 100)
        assert torch.allclose(model.head(features), model(x))
    assert features.shape == (2, 512)
    n = sum(p.numel() for p in model.parameters())
    assert 11_000_000 < n < 11_400_000  # ResNet-18 on CIFAR-100: ≈ 11.22 M
    # the CIFAR stem: a 3×3 stride-1 convolution and no max-pooling
    assert model.net.conv1.kernel_size == (3, 3) and model.net.conv1.stride == (1, 1)
    assert isinstance(model.net.maxpool, nn.Identity)
    assert not any(k.startswith("net.fc.") for k in model.state_dict())  # the head is stored once


def test_build_model_names_and_errors():
    assert set(MODELS) == {"small_cnn", "resnet18_cifar"}
    assert isinstance(build_model("resnet18_cifar", num_classes=10), CifarResNet18)
    with pytest.raises(ParameterError, match="'model'.*resnet18_cifar.*small_cnn"):
        build_model("vgg")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="'width'"):
            SmallCNN(width=bad)
    with pytest.raises(ValueError, match="'num_classes'"):
        resnet18_cifar(num_classes=0)
