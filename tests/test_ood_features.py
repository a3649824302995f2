"""Penultimate features and logits (reprobook.ood.features) against the same layers called by hand."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from reprobook.models import build_model
from reprobook.ood.features import FeatureSet, extract, penultimate
from reprobook.profiles import ParameterError


def _loader(x, y=None, batch_size=5):
    ds = TensorDataset(x) if y is None else TensorDataset(x, y)
    return DataLoader(ds, batch_size=batch_size, shuffle=False)


def _trained_bn(model, x):
    """Move BatchNorm running statistics away from their initial values, so eval mode differs from train mode."""
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(x)
    return model


def test_small_cnn_matches_features_and_head():
    torch.manual_seed(0)
    model = build_model("small_cnn", in_channels=1, num_classes=10, width=4)
    x, y = torch.rand(13, 1, 28, 28), torch.arange(13) % 10
    _trained_bn(model, x)  # leaves the model in training mode
    out = extract(model, _loader(x, y), "cpu")
    assert model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        feats = model.features(x)
        assert torch.allclose(out.features, feats, atol=1e-6)
        assert torch.allclose(out.logits, model.head(feats), atol=1e-6)
        assert torch.allclose(out.logits, model(x), atol=1e-6)
    assert out.features.shape == (13, 16) and out.logits.shape == (13, 10)
    assert out.features.dtype == torch.float32 and out.labels.dtype == torch.int64
    assert torch.equal(out.labels, y)


def test_cifar_resnet18_matches_features():
    torch.manual_seed(0)
    model = build_model("resnet18_cifar", num_classes=10).eval()
    x = torch.randn(4, 3, 32, 32)
    out = extract(model, _loader(x, torch.zeros(4, dtype=torch.long), batch_size=3), "cpu")
    with torch.no_grad():
        assert torch.allclose(out.features, model.features(x), atol=1e-5)
        assert torch.allclose(out.logits, model(x), atol=1e-5)
    assert out.features.shape == (4, 512)
    assert penultimate(model) is model.head


class SpatialHead(nn.Module):
    """``features`` returns a feature *map*; the head pools it (extract must average-pool the map)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3, padding=1)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))

    def features(self, x):
        return torch.relu(self.conv(x))

    def forward(self, x):
        return self.head(self.features(x))


def test_spatial_features_are_global_average_pooled():
    torch.manual_seed(0)
    model = SpatialHead()
    x = torch.randn(7, 1, 8, 8)
    out = extract(model, _loader(x), "cpu")
    with torch.no_grad():
        by_hand = model.features(x).mean(dim=(2, 3))  # z̄_c = (1/HW) Σ z_{c,h,w}
    assert torch.allclose(out.features, by_hand, atol=1e-6)
    assert (out.labels == -1).all()  # bare image batches: OoD labels


def test_model_without_features_uses_last_linear():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 8),
        nn.ReLU(),
        nn.Linear(8, 5),
    )
    assert penultimate(model) is model[6]
    x = torch.randn(9, 1, 10, 10)
    out = extract(model, _loader(x, torch.arange(9) % 5, batch_size=4), "cpu")
    with torch.no_grad():
        hidden = model[:6](x)  # the input of the last Linear
        assert torch.allclose(out.features, hidden, atol=1e-6)
        assert torch.allclose(out.logits, model(x), atol=1e-6)
    assert out.features.shape == (9, 8)


def test_penultimate_and_extract_errors():
    with pytest.raises(ParameterError, match="'model'.*nn.Linear"):
        penultimate(nn.Sequential(nn.Conv2d(1, 2, 3)))
    with pytest.raises(ParameterError, match="'model'"):
        penultimate("not a model")
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with pytest.raises(ParameterError, match="'loader'"):
        extract(model, [], "cpu")
    with pytest.raises(ParameterError, match="'loader'"):
        extract(model, [{"x": torch.zeros(1, 4)}], "cpu")


def test_feature_set_checks_and_helpers():
    fs = FeatureSet(
        torch.randn(4, 3), torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]]), torch.tensor([0, 0, -1, 1])
    )
    assert len(fs) == 4 and fs.is_ood.tolist() == [False, False, True, False]
    assert fs.accuracy() == pytest.approx(2 / 3)  # rows 0 and 3 right, row 1 wrong, row 2 is OoD
    part = fs.subset(fs.labels >= 0)
    assert len(part) == 3 and (part.labels >= 0).all()
    with pytest.raises(ParameterError, match="'logits'"):
        FeatureSet(torch.randn(4, 3), torch.randn(3, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ParameterError, match="'features'"):
        FeatureSet(torch.randn(4), torch.randn(4, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="no in-distribution"):
        FeatureSet(torch.randn(2, 3), torch.randn(2, 2), torch.full((2,), -1)).accuracy()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_extract_on_cuda_returns_cpu_tensors():
    torch.manual_seed(0)
    model = build_model("small_cnn", in_channels=1, num_classes=10, width=4).cuda().eval()
    x = torch.rand(9, 1, 28, 28)
    out = extract(model, _loader(x, torch.arange(9)), "cuda")
    assert out.features.device.type == out.logits.device.type == out.labels.device.type == "cpu"
    with torch.no_grad():
        assert torch.allclose(out.features, model.features(x.cuda()).cpu(), atol=1e-4)
