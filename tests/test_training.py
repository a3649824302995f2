"""Seeding, devices, the accelerate training loop with every optimiser, and train-or-load."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from reprobook.models import SmallCNN, build_model, resnet18_cifar
from reprobook.profiles import ParameterError
from reprobook.sharpness import RWP, SAM
from reprobook.training import (History, config_hash, evaluate, fit, resolve_device, seed_everything,
                                train_or_load)


def _separable(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 1, 8, 8, generator=g) * 0.5 + (y.float() * 2 - 1).view(-1, 1, 1, 1)
    return TensorDataset(x, y)


def _loader(seed=0):
    return DataLoader(_separable(seed=seed), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("method", ["sgd", "sam", "rwp"])
def test_fit_learns_an_easy_task_with_every_optimiser(method):
    seed_everything(0)
    model = SmallCNN(in_channels=1, num_classes=2, width=4)
    kwargs = dict(lr=0.05, momentum=0.9)
    opt = {"sgd": lambda: torch.optim.SGD(model.parameters(), **kwargs),
           "sam": lambda: SAM(model.parameters(), rho=0.05, **kwargs),
           "rwp": lambda: RWP(model.parameters(), gamma=0.01, generator=torch.Generator().manual_seed(0), **kwargs)}[method]()
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3)
    history = fit(model, opt, _loader(), epochs=3, scheduler=sched, device="cpu", eval_loader=_loader(1), progress=False)
    assert len(history.train_loss) == len(history.epoch_seconds) == len(history.eval_acc) == 3
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.eval_acc[-1] > 0.9
    assert sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-9)  # the schedule reached its end


def test_same_seed_same_weights():
    def train():
        seed_everything(3)
        model = SmallCNN(in_channels=1, num_classes=2, width=4)
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(), epochs=1, device="cpu", progress=False)
        return model.state_dict()

    a, b = train(), train()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_evaluate_counts_correctly():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1, 1, 1])
    loss, acc = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=3), "cpu")
    assert acc == 0.75
    assert loss == pytest.approx(nn.functional.cross_entropy(model(x), y).item())


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ParameterError, match="'device'"):
        resolve_device("tpu")


def test_fit_checks_epochs():
    model = SmallCNN(width=2)
    with pytest.raises(ValueError, match="'epochs'"):
        fit(model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(), epochs=0, device="cpu")


def test_train_or_load_trains_once_per_config(tmp_path):
    calls = []

    def train():
        calls.append(1)
        model = nn.Linear(2, 2)
        return model, History(train_loss=[1.0, 0.5], epoch_seconds=[0.1, 0.1])

    state, info = train_or_load({"lr": 0.1}, train, name="demo", cache=tmp_path)
    assert not info["loaded"] and len(calls) == 1
    again, info2 = train_or_load({"lr": 0.1}, train, name="demo", cache=tmp_path)
    assert info2["loaded"] and len(calls) == 1
    assert info2["history"].train_loss == [1.0, 0.5]
    assert all(torch.equal(state[k], again[k]) for k in state)
    train_or_load({"lr": 0.2}, train, name="demo", cache=tmp_path)
    assert len(calls) == 2
    assert not list((tmp_path / "checkpoints").glob(".*.tmp"))


def test_config_hash_is_order_independent():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_models():
    cnn = build_model("small_cnn", in_channels=1, num_classes=10, width=8)
    x = torch.randn(2, 1, 28, 28)
    assert cnn(x).shape == (2, 10) and cnn.features(x).shape == (2, 32)
    resnet = resnet18_cifar(num_classes=100)
    x = torch.randn(2, 3, 32, 32)
    assert resnet(x).shape == (2, 100) and resnet.features(x).shape == (2, 512)
    assert 11_000_000 < sum(p.numel() for p in resnet.parameters()) < 11_400_000  # ResNet-18 on CIFAR-100
    with pytest.raises(ParameterError, match="'model'.*small_cnn"):
        build_model("vgg")
    with pytest.raises(ValueError, match="'width'"):
        SmallCNN(width=0)
