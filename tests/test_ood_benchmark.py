"""The OoD benchmark (reprobook.ood.benchmark, reprobook.data.vision's OoD sets) on tiny data made here.

The offline registry entries are replaced by small arrays (the real files are the registry tests' business);
the paper path runs on fake torchvision folders (CIFAR-10, SVHN, DTD, Places365) and LSUN / iSUN image
folders, as tests/test_vision_data.py does for CIFAR-10.
"""

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from reprobook import profiles
from reprobook.data import registry, vision
from reprobook.data.errors import DataUnavailableError
from reprobook.ood.benchmark import build_benchmark, check_config
from reprobook.ood.features import extract
from reprobook.profiles import ParameterError

SMOKE_OOD = ("mnist-5k", "animal-silhouettes", "cifar10-test", "gaussian-noise", "uniform-noise")


def _fake_arrays(name, n_per_class=6, seed=0):
    """Tiny stand-ins for the offline entries: class c is a bright square at a class-dependent place."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), n_per_class)
    side, channels = (32, 3) if name == "cifar10-test" else (28, None)
    shape = (len(labels), side, side) + ((channels,) if channels else ())
    images = rng.integers(0, 60, size=shape, dtype=np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 * c : 2 * c + 8, 4:12] = 200 + 5 * c
    return images, labels


@pytest.fixture
def fake_registry(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "cache"))
    real_load = registry.load

    def load(name, **kwargs):
        if name == "fashion-mnist":
            split = kwargs.get("split", "train")
            return _fake_arrays(name, 12 if split == "train" else 4, seed=0 if split == "train" else 1)
        if name in vision.OOD_ARRAYS:
            return _fake_arrays(name, seed=vision.OOD_ARRAYS.index(name) + 2)
        return real_load(name, **kwargs)

    monkeypatch.setattr(registry, "load", load)
    return load


def _tiny_smoke(**overrides):
    values = dict(
        n_train=60,
        n_test=20,
        n_ood=10,
        epochs=1,
        batch_size=16,
        model_kwargs={"in_channels": 1, "num_classes": 10, "width": 4},
    )
    values.update(overrides)
    return profiles.config("kpca", "smoke", **values)


# --------------------------------------------------------------------------------------------- OoD sets
@pytest.mark.parametrize("name", SMOKE_OOD)
def test_smoke_ood_sets_take_the_in_distribution_input(fake_registry, name):
    ds = vision.ood_dataset(name, "fashion-mnist", n=20, seed=0)
    assert len(ds) == 20
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and int(y) == -1
    xs = torch.stack([ds[i][0] for i in range(len(ds))])
    assert 0.0 <= float(xs.min()) and float(xs.max()) <= 1.0  # FashionMNIST's input: pixels in [0, 1]
    assert float(xs.std()) > 0.05  # not blank


@pytest.mark.parametrize("name", SMOKE_OOD)
def test_ood_sets_for_a_cifar_classifier_are_normalised(fake_registry, name):
    mean, std = vision.CIFAR_STATS["cifar10"]
    if name == "cifar10-test":
        with pytest.raises(ParameterError, match="'ood_datasets'.*other than the in-distribution"):
            vision.ood_dataset(name, "cifar10", n=10)
        return
    ds = vision.ood_dataset(name, "cifar10", n=10, seed=0)
    xs = torch.stack([ds[i][0] for i in range(len(ds))])
    assert xs.shape == (10, 3, 32, 32)
    pixels = xs * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    assert float(pixels.min()) >= -1e-5 and float(pixels.max()) <= 1 + 1e-5  # undoing the normalisation
    assert float(xs.min()) < -1.0  # ... which had been applied


def test_array_sets_are_stratified_subsets_converted_by_hand(fake_registry):
    images, labels = fake_registry("mnist-5k")
    ds = vision.ood_dataset("mnist-5k", "fashion-mnist", n=30, seed=3)
    xs = ds.tensors[0]
    # which images were kept: each must equal one source image / 255, with 3 of every class
    source = torch.from_numpy(images).float().div(255).flatten(1)
    match = torch.cdist(xs.flatten(1), source).argmin(1)
    assert torch.allclose(xs.flatten(1), source[match], atol=1e-6)
    assert np.bincount(labels[match.numpy()], minlength=10).tolist() == [3] * 10
    # CIFAR-10 as OoD for FashionMNIST: grayscale (0.299 R + 0.587 G + 0.114 B) and 32 -> 28
    rgb = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    gray = vision.conform_images(rgb, vision.input_spec("fashion-mnist"))
    assert gray.shape == (1, 1, 28, 28)
    assert torch.allclose(gray, torch.full_like(gray, (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255), atol=2e-3)


def test_synthetic_sets_are_seeded():
    spec = vision.input_spec("fashion-mnist")
    a = vision.ood_dataset("gaussian-noise", "fashion-mnist", n=50, seed=7).tensors[0]
    assert torch.equal(a, vision.ood_dataset("gaussian-noise", "fashion-mnist", n=50, seed=7).tensors[0])
    assert not torch.equal(a, vision.ood_dataset("gaussian-noise", "fashion-mnist", n=50, seed=8).tensors[0])
    u = vision.synthetic_images("uniform-noise", 50, spec, seed=7)
    assert not torch.equal(a, u)  # two sets never share their random stream
    # clip(N(0.5, 1), 0, 1): P(x = 0) = P(x = 1) = Φ(−0.5) ≈ 0.309; U[0, 1]: mean 0.5, no atoms
    assert float((a == 0).float().mean()) == pytest.approx(0.309, abs=0.02)
    assert float((a == 1).float().mean()) == pytest.approx(0.309, abs=0.02)
    assert float(u.mean()) == pytest.approx(0.5, abs=0.01) and float((u == 0).float().mean()) < 1e-3


def test_bad_ood_names_and_counts():
    with pytest.raises(ParameterError, match="'ood_datasets'.*mnist-5k.*svhn.*lsun"):
        vision.ood_dataset("kmnist", "fashion-mnist")
    with pytest.raises(ParameterError, match="'in_dataset'.*fashion-mnist, cifar10"):
        vision.ood_dataset("gaussian-noise", "svhn")
    with pytest.raises(ParameterError, match="'n_ood'"):
        vision.ood_dataset("gaussian-noise", "fashion-mnist", n=0)


def test_user_folder_sets(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("REPROBOOK_LSUN", raising=False)
    with pytest.raises(DataUnavailableError, match="REPROBOOK_LSUN.*LSUN.tar.gz|LSUN.tar.gz.*REPROBOOK_LSUN"):
        vision.ood_dataset("lsun", "cifar10", n=3, data_dir=tmp_path / "data")
    folder = tmp_path / "data" / "LSUN" / "test"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    ds = vision.ood_dataset("lsun", "cifar10", n=3, data_dir=tmp_path / "data")  # found under data_dir
    assert len(ds) == 3 and ds[0][0].shape == (3, 32, 32) and ds[0][1] == -1
    monkeypatch.setenv("REPROBOOK_LSUN", str(folder))
    assert len(vision.ood_dataset("lsun", "fashion-mnist")) == 5  # the whole folder, by the variable
    assert vision.ood_dataset("lsun", "fashion-mnist")[0][0].shape == (1, 28, 28)


# --------------------------------------------------------------------------------------------- the benchmark
def test_smoke_benchmark_is_cached_and_complete(fake_registry):
    cfg = _tiny_smoke()
    first = build_benchmark(cfg, device="cpu", progress=False)
    assert not first.loaded and len(first.history.train_loss) == 1
    assert first.model.training is False and next(first.model.parameters()).device.type == "cpu"
    assert tuple(first.ood) == cfg.ood_datasets == tuple(first.ood_datasets)
    assert len(first.train) == 60 and len(first.test) == 20
    assert first.train.features.shape == (60, 16) and first.test.logits.shape == (20, 10)
    assert (first.train.labels >= 0).all() and (first.test.labels >= 0).all()
    for name, fs in first.ood.items():
        assert len(fs) == 10 and (fs.labels == -1).all() and fs.features.shape[1] == 16, name
    assert first.test_accuracy == pytest.approx(first.test.accuracy())
    # loader() gives the images in the order of their FeatureSet
    again = extract(first.model, first.loader("mnist-5k", batch_size=3), first.device)
    assert torch.allclose(again.features, first.ood["mnist-5k"].features, atol=1e-6)
    assert first.names == ("test", *cfg.ood_datasets)
    with pytest.raises(ParameterError, match="'name'.*'test'"):
        first.loader("svhn")
    with pytest.raises(ParameterError, match="'batch_size'"):
        first.loader("test", batch_size=0)

    second = build_benchmark(cfg, device="cpu", progress=False)
    assert second.loaded and second.checkpoint == first.checkpoint
    for a, b in [(first.train, second.train), (first.test, second.test)] + [
        (first.ood[n], second.ood[n]) for n in cfg.ood_datasets
    ]:
        assert torch.equal(a.features, b.features) and torch.equal(a.logits, b.logits)
        assert torch.equal(a.labels, b.labels)
    assert second.history.train_loss == first.history.train_loss

    other = build_benchmark(cfg, device="cpu", progress=False, seed=1)  # another classifier, same images
    assert not other.loaded and other.checkpoint != first.checkpoint
    assert torch.equal(other.test.labels, first.test.labels)
    assert not torch.allclose(other.test.features, first.test.features)
    for name in ("gaussian-noise", "mnist-5k"):
        assert torch.equal(other.ood_datasets[name].tensors[0], first.ood_datasets[name].tensors[0])


def test_training_settings_change_the_checkpoint(fake_registry):
    from reprobook.ood.benchmark import training_config

    cfg = _tiny_smoke()
    base = training_config(cfg, 0, "abc")
    assert training_config(_tiny_smoke(lr=0.05), 0, "abc") != base
    assert training_config(_tiny_smoke(n_ood=7, ood_datasets=("mnist-5k",)), 0, "abc") == base  # OoD: no retrain
    assert training_config(cfg, 1, "abc") != base and training_config(cfg, 0, "abd") != base


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("epochs", 0, "'epochs'.*integer >= 1"),
        ("n_ood", 0, "'n_ood'"),
        ("n_train", 2.5, "'n_train'"),
        ("lr", -0.1, "'lr'.*> 0"),
        ("momentum", 1.0, "'momentum'"),
        ("weight_decay", -1.0, "'weight_decay'"),
        ("ood_datasets", ("mnist-5k", "kmnist"), "'ood_datasets'.*'kmnist'.*gaussian-noise"),
        ("ood_datasets", ("mnist-5k", "mnist-5k"), "'ood_datasets'.*once"),
        ("ood_datasets", (), "'ood_datasets'.*non-empty"),
        ("ood_datasets", "mnist-5k", "'ood_datasets'.*tuple"),
        ("in_dataset", "mnist", "'in_dataset'.*fashion-mnist"),
        ("model", "vgg", "'model'.*resnet18_cifar"),
    ],
)
def test_bad_config_values_are_named(field, value, match):
    with pytest.raises(ParameterError, match=match):
        build_benchmark(_tiny_smoke(**{field: value}), device="cpu")


def test_model_that_does_not_fit_the_data_is_named():
    assert check_config(_tiny_smoke()).epochs == 1
    with pytest.raises(ParameterError, match="'model_kwargs'.*in_channels=1"):
        build_benchmark(_tiny_smoke(model_kwargs={"in_channels": 3, "num_classes": 10, "width": 4}))
    with pytest.raises(ParameterError, match="'model_kwargs'.*num_classes=10"):
        build_benchmark(_tiny_smoke(model_kwargs={"in_channels": 1, "num_classes": 7, "width": 4}))
    with pytest.raises(ParameterError, match="'cfg'.*OODConfig"):
        build_benchmark(profiles.config("rwp", "smoke"))
    with pytest.raises(ParameterError, match="'seed'"):
        build_benchmark(_tiny_smoke(), seed=-1)


# --------------------------------------------------------------------------------------------- paper path
def _fake_paper_data(root, monkeypatch):
    """CIFAR-10, SVHN, DTD and Places365 in torchvision's layouts (integrity checks off), LSUN / iSUN folders."""
    import scipy.io
    import torchvision
    from PIL import Image

    rng = np.random.default_rng(0)
    tv = root / "cache" / "torchvision"
    cifar = tv / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, size=(10, 3072), dtype=np.uint8), "labels": list(range(10))}
        (cifar / name).write_bytes(pickle.dumps(batch))
    (cifar / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)

    scipy.io.savemat(
        tv / "test_32x32.mat",
        {"X": rng.integers(0, 256, (32, 32, 3, 30), dtype=np.uint8), "y": (np.arange(30) % 10 + 1).reshape(-1, 1)},
    )
    monkeypatch.setattr(torchvision.datasets.SVHN, "_check_integrity", lambda self: True)

    def image(path, size):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)

    dtd = tv / "dtd" / "dtd"
    (dtd / "labels").mkdir(parents=True)
    for split in ("train", "val", "test"):
        lines = [f"{c}/{c}_{split}_{i}.jpg" for c in ("banded", "dotted") for i in range(2)]
        (dtd / "labels" / f"{split}1.txt").write_text("\n".join(lines) + "\n")
        for line in lines:
            image(dtd / "images" / line, (48, 40))

    (tv / "categories_places365.txt").write_text("/a/abbey 0\n/b/beach 1\n")
    (tv / "places365_val.txt").write_text("".join(f"Places365_val_{i:08d}.jpg {i % 2}\n" for i in range(8)))
    for i in range(8):
        image(tv / "val_256" / f"Places365_val_{i:08d}.jpg", (64, 64))
    monkeypatch.setattr(torchvision.datasets.Places365, "_check_integrity", lambda self, f, m, d: True)

    for env, folder in (("REPROBOOK_LSUN", "LSUN"), ("REPROBOOK_ISUN", "iSUN")):
        for i in range(7):
            image(root / folder / folder / f"{i}.jpg", (32, 32))
        monkeypatch.setenv(env, str(root / folder))


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")),
    ],
)
def test_paper_path_on_local_data(tmp_path, monkeypatch, device):
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "cache"))
    _fake_paper_data(tmp_path, monkeypatch)
    cfg = profiles.config("kpca", "paper", epochs=1, n_train=20, n_test=10, n_ood=6, batch_size=10)
    assert (cfg.in_dataset, cfg.model, cfg.augment) == ("cifar10", "resnet18_cifar", True)
    bench = build_benchmark(cfg, device=device, progress=False)
    assert bench.device.type == device and next(bench.model.parameters()).device.type == device
    assert bench.train.features.device.type == "cpu"
    assert not bench.loaded and tuple(bench.ood) == ("svhn", "lsun", "isun", "textures", "places365")
    assert bench.train.features.shape == (20, 512) and bench.test.logits.shape == (10, 10)
    for name, fs in bench.ood.items():
        assert len(fs) == 6 and (fs.labels == -1).all(), name
        x, y = bench.ood_datasets[name][0]
        assert x.shape == (3, 32, 32) and y == -1, name
    # SVHN subset: class-stratified over its 10 digits (labels 1..10, 10 is digit 0)
    from torch.utils.data import Subset

    svhn = bench.ood_datasets["svhn"].dataset
    assert isinstance(svhn, Subset) and len(set(np.asarray(svhn.dataset.labels)[svhn.indices])) == 6
    # the features detectors fit on come from the training images without random crops and flips
    # (a random crop or flip moves them by O(1); other batch sizes on a GPU pick other kernels: ~1e-3)
    plain = extract(bench.model, DataLoader(bench.train_dataset, batch_size=7), device)
    assert torch.allclose(plain.features, bench.train.features, atol=1e-4 if device == "cpu" else 1e-2)
    assert build_benchmark(cfg, device=device, progress=False).loaded
