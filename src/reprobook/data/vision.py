"""Image-classification train/test sets for the chapters, the same call for both profiles.

``smoke``: FashionMNIST from the offline registry entry, class-stratified subsets, tensors in memory.
``paper``: CIFAR-10/100 through torchvision with the usual augmentation (random crop with 4-pixel
padding, horizontal flip) and per-channel normalisation.

The out-of-distribution test sets of Part II (:func:`ood_dataset`) are brought to the in-distribution
classifier's input: offline MNIST, animal silhouettes, grayscale CIFAR-10 and seeded noise for the smoke
profile; SVHN, Textures and Places365 (torchvision) and LSUN, iSUN (user-supplied folders) for the paper's.

In a dry run (:mod:`reprobook.configs.dry`), a set that cannot be had without the network it needs is
replaced by torchvision's ``FakeData`` of the real set's shape (split sizes, image size, classes;
:data:`STAND_IN_SHAPES`), after the real loader has failed, and the replacement is announced in the
executed copy. Outside a dry run the loader's error stands: it names the set and the ways to get it.

``cifar10-offline`` is real CIFAR-10 without a network: the 10,000 images of the offline CIFAR-10 test
set (registry ``cifar10-test``), split class-stratified into a training and a test half, with CIFAR-10's
normalisation and augmentation (the GPU check's Part I data).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import dryrun
from ..checks import ParameterError
from ..paths import cache_dir
from . import registry
from .errors import DataUnavailableError
from .formats import stratified_indices, tensor_dataset, torchvision_splits
from .registry import load

# Per-channel statistics of the CIFAR training sets (the values commonly used with torchvision).
CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
DATASETS = ("fashion-mnist", "cifar10", "cifar100", "cifar10-offline")

# What a dry-run stand-in keeps of each set that needs the network: images per split, channels × height ×
# width, and classes (torchvision's sizes; Textures' and Places365's images are resized by the OoD transform)
STAND_IN_SHAPES: dict[str, dict] = {
    "cifar10": {"splits": {"train": 50000, "test": 10000}, "shape": (3, 32, 32), "classes": 10},
    "cifar100": {"splits": {"train": 50000, "test": 10000}, "shape": (3, 32, 32), "classes": 100},
    "svhn": {"splits": {"test": 26032}, "shape": (3, 32, 32), "classes": 10},
    "textures": {"splits": {"all": 5640}, "shape": (3, 300, 300), "classes": 47},
    "places365": {"splits": {"val": 36500}, "shape": (3, 256, 256), "classes": 365},
    "lsun": {"splits": {"test": 10000}, "shape": (3, 32, 32), "classes": 1},
    "isun": {"splits": {"test": 8925}, "shape": (3, 32, 32), "classes": 1},
    "imagenet": {"splits": {"train": 1281167, "val": 50000}, "shape": (3, 224, 224), "classes": 1000},
}
OFFLINE_CIFAR_TRAIN = 5000  # cifar10-offline: images of the offline test set that train; the rest test


def fashion_mnist_dataset(split: str = "train", *, limit: int | None = None, seed: int = 0):
    """FashionMNIST as a TensorDataset (N×1×28×28 floats in [0, 1]); ``limit`` gives a stratified subset."""
    images, labels = load("fashion-mnist", split=split)
    return tensor_dataset(images, labels, limit=limit, seed=seed)


def _fake_data_class():
    from torchvision.datasets import FakeData

    class StandInImages(FakeData):
        """torchvision ``FakeData`` with a fixed, class-balanced label per index (``targets``), so that the
        class-stratified subsets of the real sets work on it; random images of the real shape."""

        def __init__(self, size, image_size, num_classes, transform=None, random_offset=0, name=""):
            super().__init__(
                size=size,
                image_size=image_size,
                num_classes=num_classes,
                transform=transform,
                random_offset=random_offset,
            )
            self.targets = [i % num_classes for i in range(size)]
            self.name = name

        def __getitem__(self, index):
            image, _ = super().__getitem__(index)
            return image, self.targets[index]

    return StandInImages


def stand_in(name: str, split: str, *, transform=None, why: str = ""):
    """torchvision ``FakeData`` with the shape of ``name``'s ``split`` (:data:`STAND_IN_SHAPES`), announced as a
    dry-run stand-in (:func:`reprobook.dryrun.note_stand_in`) when ``why`` is given."""

    if name not in STAND_IN_SHAPES:
        raise ParameterError("name", name, ", ".join(STAND_IN_SHAPES))
    shape = STAND_IN_SHAPES[name]
    splits = shape["splits"]
    size = splits[split] if split in splits else next(iter(splits.values()))
    dataset = _fake_data_class()(
        size,
        shape["shape"],
        shape["classes"],
        transform=transform,
        random_offset=zlib.crc32(f"{name}/{split}".encode()) % 100_000,
        name=name,
    )
    if why:
        c, h, w = shape["shape"]
        dryrun.note_stand_in(
            f"{name} ({split})",
            f"torchvision FakeData, {size:,} random {c}×{h}×{w} images in {shape['classes']} classes",
            why,
        )
    return dataset


def _dry_run() -> bool:
    return dryrun.active()


def _short(exc: BaseException) -> str:
    """The reason in a loader's error: the first failed source's, else the message's first line."""
    failures = getattr(exc, "failures", None)
    return (failures[0][1] if failures else str(exc).splitlines()[0])[:200]


def _subset(dataset, labels, n, seed):
    from torch.utils.data import Subset

    if n is None:
        return dataset
    return Subset(dataset, stratified_indices(np.asarray(labels), n, seed).tolist())


def classification_datasets(
    name: str,
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    seed: int = 0,
    augment: bool = False,
    download: bool = True,
):
    """``(train, test)`` datasets of ``(image tensor, label)``; ``n_*`` keep class-stratified subsets."""
    if name == "fashion-mnist":
        return (
            fashion_mnist_dataset("train", limit=n_train, seed=seed),
            fashion_mnist_dataset("test", limit=n_test, seed=seed),
        )
    if name in CIFAR_STATS or name == "cifar10-offline":
        from torchvision import transforms as T

        mean, std = CIFAR_STATS["cifar10" if name == "cifar10-offline" else name]
        normalise = [T.ToTensor(), T.Normalize(mean, std)]
        augmentation = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if augment else []
        if name == "cifar10-offline":
            train, test = offline_cifar10(T.Compose(augmentation + normalise), T.Compose(normalise))
        else:
            try:
                train = load(name, train=True, transform=T.Compose(augmentation + normalise), download=download)
                test = load(name, train=False, transform=T.Compose(normalise), download=download)
            except DataUnavailableError as exc:
                if not _dry_run():
                    raise
                why = f"the real set is not available here: {_short(exc)}"
                train = stand_in(name, "train", transform=T.Compose(augmentation + normalise), why=why)
                test = stand_in(name, "test", transform=T.Compose(normalise), why=why)
        return (_subset(train, train.targets, n_train, seed), _subset(test, test.targets, n_test, seed))
    raise ParameterError("dataset", name, ", ".join(DATASETS))


class ArrayImages:
    """uint8 images (N×H×W×C) and labels as a dataset of ``(transform(PIL image), label)``, like torchvision's."""

    def __init__(self, images, labels, transform=None):
        self.images, self.targets, self.transform = images, [int(y) for y in labels], transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        from PIL import Image

        image = Image.fromarray(self.images[i])
        return (self.transform(image) if self.transform else image), self.targets[i]


def offline_cifar10(train_transform=None, test_transform=None, *, n_train: int = OFFLINE_CIFAR_TRAIN):
    """``(train, test)``: the offline CIFAR-10 test set (registry ``cifar10-test``, 10,000 images) split
    class-stratified (a fixed draw, seed 0) into ``n_train`` training images and the rest."""
    images, labels = load("cifar10-test")
    train_idx = stratified_indices(np.asarray(labels), n_train, seed=0)
    test_idx = np.setdiff1d(np.arange(len(labels)), train_idx)
    return (
        ArrayImages(images[train_idx], labels[train_idx], train_transform),
        ArrayImages(images[test_idx], labels[test_idx], test_transform),
    )


# --------------------------------------------------------------------------------------------- OoD test sets
# Used by the OoD benchmark (reprobook.ood.benchmark, explained in notebooks/ood/kpca.ipynb): every OoD set is
# brought to the in-distribution classifier's input (channels, side, normalisation) and labelled -1.


@dataclass(frozen=True)
class InputSpec:
    """What a classifier trained on one dataset takes: ``channels``×``size``×``size`` images with pixels in
    [0, 1], then normalised per channel, x̂_c = (x_c − mean_c) / std_c, when ``mean`` and ``std`` are set."""

    channels: int
    size: int
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def normalise(self, x):
        """``x`` N×C×H×W in [0, 1] → the classifier's input (a new tensor)."""
        import torch

        if self.mean is None:
            return x.clone()
        mean = torch.tensor(self.mean, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std  # x̂_c = (x_c − μ_c) / σ_c

    def pil_transform(self):
        """PIL image → the classifier's input: channels, resize (shorter side) + centre crop, normalise."""
        from torchvision import transforms as T

        steps = [
            T.Grayscale(1) if self.channels == 1 else T.Lambda(_rgb),
            T.Resize(self.size),
            T.CenterCrop(self.size),
            T.ToTensor(),
        ]
        if self.mean is not None:
            steps.append(T.Normalize(self.mean, self.std))
        return T.Compose(steps)


def _rgb(image):
    return image.convert("RGB")


# The smoke profile's FashionMNIST is used as pixels in [0, 1] (classification_datasets does not normalise it).
INPUT_SPECS = {
    "fashion-mnist": InputSpec(1, 28),
    **{name: InputSpec(3, 32, mean, std) for name, (mean, std) in CIFAR_STATS.items()},
    "cifar10-offline": InputSpec(3, 32, *CIFAR_STATS["cifar10"]),
}


def input_spec(in_dataset: str) -> InputSpec:
    """The input of a classifier trained on ``in_dataset`` (one of ``DATASETS``)."""
    if in_dataset not in INPUT_SPECS:
        raise ParameterError("in_dataset", in_dataset, ", ".join(DATASETS))
    return INPUT_SPECS[in_dataset]


@dataclass(frozen=True)
class UserFolder:
    """An OoD set with no library loader: a folder of images the user downloads and extracts."""

    env: str  # environment variable naming the folder
    folder: str  # its name under data_dir or cache_dir()/ood
    what: str
    url: str


OOD_ARRAYS = ("mnist-5k", "animal-silhouettes", "cifar10-test")  # offline registry entries, uint8 arrays
OOD_SYNTHETIC = ("gaussian-noise", "uniform-noise")
# torchvision sets; their splits are formats.TORCHVISION_SPLITS (SVHN test, all 5,640 DTD images, Places365 val)
OOD_TORCHVISION = ("svhn", "textures", "places365")
OOD_FOLDERS = {
    "lsun": UserFolder(
        "REPROBOOK_LSUN",
        "LSUN",
        "LSUN (crop), 10,000 32×32 scene crops (ODIN's release)",
        "https://www.dropbox.com/s/fhtsw1m3qxlwj6h/LSUN.tar.gz",
    ),
    "isun": UserFolder(
        "REPROBOOK_ISUN",
        "iSUN",
        "iSUN, 8,925 32×32 scene images (ODIN's release)",
        "https://www.dropbox.com/s/ssz7qxfqae0cca5/iSUN.tar.gz",
    ),
}
OOD_DATASETS = (*OOD_ARRAYS, *OOD_SYNTHETIC, *OOD_TORCHVISION, *OOD_FOLDERS)
SYNTHETIC_DEFAULT_SIZE = 10000  # noise images drawn when no count is given
# an OoD set that is (a part of) an in-distribution dataset cannot be OoD for it
OOD_SAME_AS = {"cifar10-test": "cifar10"}
_SAME_DATA = {"cifar10-test": ("cifar10", "cifar10-offline")}


class OODLabelled:
    """A dataset whose items are ``(image, -1)``: the images of ``dataset``, with the OoD label."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i][0], -1


class ImageFiles:
    """Every image file below ``root`` (recursively, sorted by path) as ``(transform(image), -1)``."""

    def __init__(self, root, transform=None):
        from torchvision.datasets.folder import IMG_EXTENSIONS

        self.root = Path(root)
        self.files = sorted(
            p
            for p in self.root.rglob("*")
            if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS and not p.name.startswith(".")
        )
        self.transform = transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i):
        from torchvision.datasets.folder import default_loader

        image = default_loader(str(self.files[i]))
        return (self.transform(image) if self.transform else image), -1


def _name_seed(name: str, seed: int) -> int:
    """A seed for ``name`` under ``seed``: two sets never share their random stream."""
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def _subset_indices(n_items: int, labels, n: int | None, seed: int) -> np.ndarray:
    """``n`` indices out of ``n_items``: class-stratified when ``labels`` are known, else a seeded draw."""
    if n is None or n >= n_items:
        return np.arange(n_items)
    if labels is not None:
        return stratified_indices(np.asarray(labels), n, seed)
    return np.sort(np.random.default_rng(seed).permutation(n_items)[:n])


def conform_images(images: np.ndarray, spec: InputSpec):
    """uint8 images (N×H×W or N×H×W×C) → N×C×S×S float tensor for ``spec``: gray ↔ RGB
    (gray = 0.299 R + 0.587 G + 0.114 B, torchvision's), bilinear antialiased resize to S, normalisation."""
    import torch
    from torchvision.transforms import functional as F

    x: np.ndarray | torch.Tensor = np.asarray(images)
    x = x[:, None] if x.ndim == 3 else np.transpose(x, (0, 3, 1, 2))
    x = torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)
    if x.shape[1] == 3 and spec.channels == 1:
        x = F.rgb_to_grayscale(x, num_output_channels=1)
    elif x.shape[1] == 1 and spec.channels == 3:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[-2:]) != (spec.size, spec.size):
        x = F.resize(x, [spec.size, spec.size], antialias=True).clamp_(0.0, 1.0)
    return spec.normalise(x)


def synthetic_images(name: str, n: int, spec: InputSpec, seed: int = 0):
    """``n`` noise images at ``spec``'s shape, then normalised like the in-distribution data.

    ``gaussian-noise``: x ~ clip(N(0.5, 1), 0, 1) per pixel; ``uniform-noise``: x ~ U[0, 1] per pixel
    (the synthetic OoD sets of Liang et al., 2018). The same ``seed`` gives the same images.
    """
    import torch

    if name not in OOD_SYNTHETIC:
        raise ParameterError("name", name, ", ".join(OOD_SYNTHETIC))
    g = torch.Generator().manual_seed(_name_seed(name, seed))
    shape = (n, spec.channels, spec.size, spec.size)
    if name == "gaussian-noise":
        x = (0.5 + torch.randn(shape, generator=g)).clamp_(0.0, 1.0)  # clip(N(0.5, 1), 0, 1)
    else:
        x = torch.rand(shape, generator=g)  # U[0, 1]
    return spec.normalise(x)


def user_folder(name: str, data_dir=None):
    """The folder of the user-supplied OoD set ``name`` (``lsun``, ``isun``): ``$REPROBOOK_<NAME>``, else
    ``<data_dir>/<Folder>``, else ``cache_dir()/ood/<Folder>``. A missing folder is a DataUnavailableError
    that says what to download and where to put it."""

    if name not in OOD_FOLDERS:
        raise ParameterError("name", name, ", ".join(OOD_FOLDERS))
    spec = OOD_FOLDERS[name]
    places = [] if data_dir is None else [Path(data_dir).expanduser() / spec.folder]
    places.append(cache_dir() / "ood" / spec.folder)
    candidates = ([Path(os.environ[spec.env]).expanduser()] if os.environ.get(spec.env) else []) + places
    for folder in candidates:
        if folder.is_dir() and len(ImageFiles(folder)) > 0:
            return folder
    raise DataUnavailableError(
        name,
        message=(
            f"{name!r} is not available: {spec.what} has no library loader. Download {spec.url}, extract it, and "
            f"set {spec.env} to the extracted folder or move it to {' or '.join(str(p) for p in places)}. "
            f"Looked in: {', '.join(str(c) for c in candidates)} (no image files there)."
        ),
    )


def ood_dataset(
    name: str, in_dataset: str, *, n: int | None = None, seed: int = 0, download: bool = True, data_dir=None
):
    """The OoD test set ``name`` as the classifier of ``in_dataset`` sees it: items ``(image, -1)``.

    Images are converted to the in-distribution input (:func:`input_spec`: channels, side, normalisation).
    ``n`` keeps a seeded subset (class-stratified where the set has classes); synthetic sets draw ``n`` images
    (default ``SYNTHETIC_DEFAULT_SIZE``). Offline sets and noise come back as in-memory TensorDatasets;
    torchvision sets and image folders are read lazily.
    """
    import torch
    from torch.utils.data import ConcatDataset, Subset, TensorDataset

    spec = input_spec(in_dataset)
    if name not in OOD_DATASETS:
        raise ParameterError("ood_datasets", name, ", ".join(OOD_DATASETS))
    if OOD_SAME_AS.get(name) == in_dataset or in_dataset in _SAME_DATA.get(name, ()):
        raise ParameterError("ood_datasets", name, f"a set other than the in-distribution data ({in_dataset})")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ParameterError("n_ood", n, "None or an integer >= 1")
    if name in OOD_SYNTHETIC:
        x = synthetic_images(name, SYNTHETIC_DEFAULT_SIZE if n is None else n, spec, seed)
        return TensorDataset(x, torch.full((len(x),), -1, dtype=torch.int64))
    if name in OOD_ARRAYS:
        images, labels = registry.load(name)
        idx = _subset_indices(len(labels), labels, n, _name_seed(name, seed))
        x = conform_images(images[idx], spec)
        return TensorDataset(x, torch.full((len(x),), -1, dtype=torch.int64))
    transform = spec.pil_transform()

    if name in OOD_FOLDERS:
        try:
            files = ImageFiles(user_folder(name, data_dir), transform)
        except DataUnavailableError as exc:
            if not _dry_run():
                raise
            files = stand_in(name, "test", transform=transform, why=f"no folder of it here: {_short(exc)}")
        return Subset(
            files,  # type: ignore[arg-type]  # ImageFiles is a duck-typed Dataset (__getitem__, __len__)
            _subset_indices(len(files), None, n, _name_seed(name, seed)).tolist(),
        )

    try:
        parts = [
            registry.load(name, transform=transform, download=download, **split)
            for split in torchvision_splits(registry.get(name))
        ]
    except DataUnavailableError as exc:
        if not _dry_run():
            raise
        parts = [stand_in(name, "all", transform=transform, why=f"the real set is not available here: {_short(exc)}")]
    labels = np.concatenate([np.asarray(_torchvision_labels(p)) for p in parts])
    whole = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    idx = _subset_indices(len(labels), labels, n, _name_seed(name, seed))
    return OODLabelled(Subset(whole, idx.tolist()))


def _torchvision_labels(dataset) -> list[int]:
    for attr in ("targets", "labels", "_labels"):  # CIFAR/Places365 and the stand-ins, SVHN, DTD
        if hasattr(dataset, attr):
            return list(getattr(dataset, attr))
    raise TypeError(f"no labels found on {type(dataset).__name__}")
