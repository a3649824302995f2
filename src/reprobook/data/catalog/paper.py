"""Datasets of the paper profile, downloaded and checked by torchvision (they need the network)."""

from __future__ import annotations

from ..registry import register
from ..spec import DataEntry

_CIFAR = ("no licence stated (cite Krizhevsky 2009)", "https://www.cs.toronto.edu/~kriz/cifar.html")

# name, torchvision class, what it is and how load() takes it, licence, homepage. The OoD test sets of the
# CIFAR benchmark (notebooks/ood/kpca.ipynb, paper profile) are here too; LSUN and iSUN have no torchvision
# class: they are user-supplied image folders (reprobook.data.vision.OOD_FOLDERS).
TORCHVISION = (
    ("cifar10", "CIFAR10", "CIFAR-10 train/test", "load(train=True, transform=None)", *_CIFAR),
    ("cifar100", "CIFAR100", "CIFAR-100 train/test", "load(train=True, transform=None)", *_CIFAR),
    (
        "svhn",
        "SVHN",
        "SVHN test split (26,032 32×32 digits; split='test'), an OoD test set",
        "load(split=..., transform=None)",
        "non-commercial use (see homepage)",
        "http://ufldl.stanford.edu/housenumbers/",
    ),
    (
        "textures",
        "DTD",
        "Describable Textures, DTD (5,640 images in 47 classes; split='train'|'val'|'test'), an OoD test set",
        "load(split=..., transform=None)",
        "research use (see homepage)",
        "https://www.robots.ox.ac.uk/~vgg/data/dtd/",
    ),
    (
        "places365",
        "Places365",
        "Places365 validation split, small 256×256 images (36,500; split='val', small=True), an OoD test set",
        "load(split=..., transform=None)",
        "research and education use (see homepage)",
        "http://places2.csail.mit.edu/",
    ),
)

for _name, _cls, _what, _load, _licence, _home in TORCHVISION:
    register(
        DataEntry(
            name=_name,
            kind="dataset",
            licence=_licence,
            homepage=_home,
            external=f"torchvision:{_cls}",
            description=f"{_what} through torchvision (downloaded and checked by torchvision into "
            f"cache_dir()/torchvision; needs network). {_load} -> dataset",
            loader="load_torchvision",
            offline=False,
            profiles=("paper",),
        )
    )
