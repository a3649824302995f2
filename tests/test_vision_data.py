"""The chapters' image datasets: the paper-profile path (torchvision CIFAR) on small data made here."""

import pickle

import numpy as np
import pytest
import torch

from reprobook.data.vision import classification_datasets
from reprobook.profiles import ParameterError


def _fake_cifar10(root, per_batch=30, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
                 "labels": [i % 10 for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))


def test_cifar10_paper_path_on_local_data(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    _fake_cifar10(tmp_path / "torchvision")
    # torchvision md5-checks the real archive's batches; these are made here
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    train, test = classification_datasets("cifar10", n_train=50, seed=1, augment=True, download=False)
    assert len(train) == 50 and len(test) == 30
    x, y = train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= y < 10
    labels = [train[i][1] for i in range(len(train))]
    assert np.bincount(labels, minlength=10).tolist() == [5] * 10  # class-stratified
    xs = torch.stack([test[i][0] for i in range(len(test))])
    assert -2.5 < xs.mean() < 0.5 and xs.std() > 0.5  # normalised, not in [0, 1]


def test_fashion_mnist_smoke_path():
    from reprobook import data

    try:
        data.path("fashion-mnist")
    except data.DataUnavailableError as exc:
        pytest.skip(f"FashionMNIST is not available offline here: {exc}")
    train, test = classification_datasets("fashion-mnist", n_train=100, n_test=40, seed=0)
    assert len(train) == 100 and len(test) == 40
    x, y = train[0]
    assert x.shape == (1, 28, 28) and float(x.max()) <= 1.0


def test_unknown_dataset():
    with pytest.raises(ParameterError, match="'dataset'.*fashion-mnist"):
        classification_datasets("svhn")


def test_rwp_paper_profile_trains_on_local_cifar(tmp_path, monkeypatch):
    """The paper profile's path end to end (torchvision CIFAR-10, ResNet-18, RWP), on 40 images made here."""
    import torchvision

    from reprobook import profiles
    from reprobook.sharpness import experiment

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    _fake_cifar10(tmp_path / "torchvision", per_batch=8)
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    cfg = profiles.config("rwp", "paper", epochs=1, batch_size=20, n_train=40, n_test=8)
    assert (cfg.model, cfg.gamma, cfg.alpha) == ("resnet18_cifar", 0.01, 0.5)
    train, test = classification_datasets(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0,
                                          augment=cfg.augment, download=False)
    run = experiment.train_one(cfg, "rwp", 0, train, test, torch.device("cpu"), progress=False)
    assert not run.loaded and 0.0 <= run.test_acc <= 1.0 and len(run.history.train_loss) == 1
    again = experiment.train_one(cfg, "rwp", 0, train, test, torch.device("cpu"), progress=False)
    assert again.loaded and again.test_acc == run.test_acc


def test_data_fingerprint_follows_content_not_augmentation():
    from torch.utils.data import Subset, TensorDataset

    from reprobook.sharpness.experiment import data_fingerprint

    x, y = torch.arange(12.0).view(6, 2), torch.tensor([0, 1, 0, 1, 0, 1])
    base = TensorDataset(x, y)
    assert data_fingerprint(base) == data_fingerprint(TensorDataset(x.clone(), y.clone()))
    assert data_fingerprint(base) != data_fingerprint(TensorDataset(x + 1, y))
    assert data_fingerprint(Subset(base, [0, 1])) != data_fingerprint(Subset(base, [0, 2]))
