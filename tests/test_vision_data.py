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
        batch = {
            "data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
            "labels": [i % 10 for i in range(per_batch)],
        }
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
    from reprobook.chapters.flat_minima import runs as experiment

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    _fake_cifar10(tmp_path / "torchvision", per_batch=8)
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    cfg = profiles.config("rwp", "paper", epochs=1, batch_size=20, n_train=40, n_test=8)
    assert (cfg.model, cfg.gamma, cfg.alpha) == ("resnet18_cifar", 0.01, 0.5)
    train, test = classification_datasets(
        cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0, augment=cfg.augment, download=False
    )
    run = experiment.train_one(cfg, "rwp", 0, train, test, torch.device("cpu"), progress=False)
    assert not run.loaded and 0.0 <= run.test_acc <= 1.0 and len(run.history.train_loss) == 1
    again = experiment.train_one(cfg, "rwp", 0, train, test, torch.device("cpu"), progress=False)
    assert again.loaded and again.test_acc == run.test_acc


def test_data_fingerprint_follows_content_not_augmentation():
    from torch.utils.data import Subset, TensorDataset

    from reprobook.cache import dataset_fingerprint as data_fingerprint

    x, y = torch.arange(12.0).view(6, 2), torch.tensor([0, 1, 0, 1, 0, 1])
    base = TensorDataset(x, y)
    assert data_fingerprint(base) == data_fingerprint(TensorDataset(x.clone(), y.clone()))
    assert data_fingerprint(base) != data_fingerprint(TensorDataset(x + 1, y))
    assert data_fingerprint(Subset(base, [0, 1])) != data_fingerprint(Subset(base, [0, 2]))


# --------------------------------------------------------------------------------------------- no network
def _no_network(monkeypatch):
    """urllib as on a machine without a network: every request fails as a DNS failure does."""
    import urllib.error
    import urllib.request

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known (no network in this test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_without_a_network_the_real_loader_names_the_set_and_the_two_ways_to_get_it(tmp_path, monkeypatch):
    from reprobook.data import DataUnavailableError

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    _no_network(monkeypatch)
    with pytest.raises(DataUnavailableError) as err:
        classification_datasets("cifar10", n_train=8)
    text = str(err.value)
    assert "'cifar10'" in text and "Name or service not known" in text
    assert "allow network access" in text  # way one
    assert str(tmp_path / "torchvision") in text and "REPROBOOK_CACHE" in text  # way two: a local copy


def test_a_dry_run_stands_in_fake_data_of_the_real_shapes(tmp_path, monkeypatch, capsys):
    from reprobook.data import vision

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    monkeypatch.setenv("REPROBOOK_DRY_RUN", "paper")
    _no_network(monkeypatch)
    train, test = classification_datasets("cifar100", n_train=200, n_test=4, augment=True)
    assert len(train) == 200 and len(test) == 4
    assert len(train.dataset) == 50000 and len(test.dataset) == 10000  # CIFAR-100's split sizes
    x, y = train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and 0 <= y < 100
    assert len({train[i][1] for i in range(len(train))}) == 100  # stratified over its 100 classes
    assert torch.equal(test[0][0], test[0][0])  # the same image for the same index
    out = capsys.readouterr().out
    assert "DRY RUN stand-in: cifar100 (train) -> torchvision FakeData, 50,000 random 3×32×32 images" in out
    assert "Name or service not known" in out  # why: the real loader's failure
    ood = vision.ood_dataset("places365", "cifar10", n=4)  # 256×256 Places365 brought to the classifier's input
    assert len(ood) == 4 and ood[0][0].shape == (3, 32, 32) and ood[0][1] == -1
    lsun = vision.ood_dataset("lsun", "cifar10", n=3)  # a user-supplied folder that is not there
    assert len(lsun) == 3 and lsun[0][0].shape == (3, 32, 32)
    imagenet = vision.stand_in("imagenet", "val")
    assert len(imagenet) == 50000 and np.asarray(imagenet[0][0]).shape == (224, 224, 3) and imagenet[0][1] == 0


def test_outside_a_dry_run_no_stand_in_is_used(tmp_path, monkeypatch):
    from reprobook.data import DataUnavailableError, vision

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    monkeypatch.delenv("REPROBOOK_DRY_RUN", raising=False)
    monkeypatch.delenv("REPROBOOK_LSUN", raising=False)
    with pytest.raises(DataUnavailableError, match="lsun"):
        vision.ood_dataset("lsun", "cifar10", n=3)


def test_offline_cifar10_splits_the_offline_test_set():
    from reprobook.data import vision

    train, test = classification_datasets("cifar10-offline", n_train=100, n_test=50, seed=0, augment=True)
    assert len(train) == 100 and len(test) == 50
    assert len(train.dataset) == vision.OFFLINE_CIFAR_TRAIN and len(test.dataset) == 10000 - vision.OFFLINE_CIFAR_TRAIN
    x, y = train[0]
    assert x.shape == (3, 32, 32) and 0 <= y < 10
    assert np.bincount([train[i][1] for i in range(100)], minlength=10).tolist() == [10] * 10
    with pytest.raises(ParameterError, match="ood_datasets"):  # its images cannot be OoD for it
        vision.ood_dataset("cifar10-test", "cifar10-offline", n=4)
