"""Datasets of the paper profile, downloaded and checked by torchvision (they need the network)."""

from __future__ import annotations

from ..registry import register
from ..spec import DataEntry
from ..sources import DebianPackage, LocalDir, URLFiles  # noqa: F401
from ._common import BB_TASKS, BIGBENCH, BIGBENCH_HOME, pypi  # noqa: F401

# --------------------------------------------------------------------------------------------- paper profile
for _name, _cls, _n in (("cifar10", "CIFAR10", 10), ("cifar100", "CIFAR100", 100)):
    register(DataEntry(
        name=_name,
        description=f"CIFAR-{_n} train/test through torchvision (downloaded and md5-checked by torchvision into "
                    "cache_dir()/torchvision; needs network). load(train=True, transform=None) -> dataset",
        licence="no licence stated (cite Krizhevsky 2009)", homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        kind="dataset", external=f"torchvision:{_cls}", loader="load_torchvision", offline=False,
        profiles=("paper",),
    ))

# The OoD test sets of the CIFAR benchmark (notebooks/ood/kpca.ipynb, paper profile). LSUN and iSUN have
# no torchvision class: they are user-supplied image folders (reprobook.data.vision.OOD_FOLDERS).
for _name, _cls, _what, _licence, _home in (
        ("svhn", "SVHN", "SVHN test split (26,032 32×32 digits; split='test')",
         "non-commercial use (see homepage)", "http://ufldl.stanford.edu/housenumbers/"),
        ("textures", "DTD", "Describable Textures, DTD (5,640 images in 47 classes; split='train'|'val'|'test')",
         "research use (see homepage)", "https://www.robots.ox.ac.uk/~vgg/data/dtd/"),
        ("places365", "Places365", "Places365 validation split, small 256×256 images (36,500; split='val', "
         "small=True)", "research and education use (see homepage)", "http://places2.csail.mit.edu/")):
    register(DataEntry(
        name=_name,
        description=f"{_what} through torchvision (downloaded and checked by torchvision into "
                    "cache_dir()/torchvision; needs network). An OoD test set. load(split=..., transform=None) "
                    "-> dataset",
        licence=_licence, homepage=_home, kind="dataset", external=f"torchvision:{_cls}",
        loader="load_torchvision", offline=False, profiles=("paper",),
    ))
