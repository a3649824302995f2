"""Cache keys: one place for the hashes that name cached artefacts (checkpoints, indexes, converted models).

Every cached result in the book is found by a key built from what produced it: the configuration
(:func:`json_key`), the data (:func:`dataset_fingerprint`, :func:`tensor_fingerprint`), the code
(:func:`code_fingerprint`, of its syntax tree: :func:`syntax_tree`) and, for a model read from a folder, the
folder's files (:func:`folder_fingerprint`). A changed input changes the key, so an artefact is never reused for
inputs it was not made from. Each key is a prefix of a SHA-256 hex digest. Nothing here imports torch: tensors
and datasets are read through their own methods (``numpy()``, ``indices``, ``tensors``), so the runner can
import this module.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib
import json
import textwrap
import types
from pathlib import Path
from typing import Any

import numpy as np

from .checks import ParameterError


def json_key(value: Any, *, length: int = 16, compact: bool = True, ascii_only: bool = True) -> str:
    """The first ``length`` hex digits of the SHA-256 of ``value`` as canonical JSON (sorted keys; ``compact``:
    no spaces after separators; values JSON cannot encode are written with ``str``)."""
    separators = (",", ":") if compact else None
    text = json.dumps(value, sort_keys=True, separators=separators, ensure_ascii=ascii_only, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def tensor_fingerprint(*tensors: Any) -> str:
    """16 hex digits of the SHA-256 of the tensors' shapes and bytes (torch tensors or numpy arrays)."""
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(str(tuple(t.shape)).encode())
        digest.update(_bytes(t))
    return digest.hexdigest()[:16]


def _bytes(t: Any) -> bytes:
    if isinstance(t, np.ndarray):
        return np.ascontiguousarray(t).tobytes()
    return t.detach().contiguous().cpu().numpy().tobytes()


def dataset_fingerprint(dataset: Any) -> str:
    """A short hash of a dataset's raw content, independent of random augmentation (a changed subset retrains).

    Understands a ``Subset`` (its ``indices`` and parent ``dataset``), a ``TensorDataset`` (its ``tensors``) and
    torchvision-style datasets (``data`` and ``targets``); anything else is hashed by its length and type only.
    """
    digest = hashlib.sha256()
    if hasattr(dataset, "indices") and hasattr(dataset, "dataset"):
        digest.update(np.asarray(dataset.indices, dtype=np.int64).tobytes())
        digest.update(dataset_fingerprint(dataset.dataset).encode())
    elif hasattr(dataset, "tensors"):
        for tensor in dataset.tensors:
            digest.update(_bytes(tensor))
    elif hasattr(dataset, "data") and hasattr(dataset, "targets"):
        digest.update(np.ascontiguousarray(np.asarray(dataset.data)).tobytes())
        digest.update(np.asarray(dataset.targets, dtype=np.int64).tobytes())
    else:
        digest.update(f"{type(dataset).__qualname__}:{len(dataset)}".encode())
    return digest.hexdigest()[:16]


def syntax_tree(source: str) -> str:
    """``source`` (a module, or a function's indented source) as its syntax tree written out (``ast.dump``):
    what the code does, without its layout or comments. A key built on it survives reformatting and comment
    edits, and changes with any change to the code (docstrings included)."""
    return ast.dump(ast.parse(textwrap.dedent(source)))


@functools.lru_cache(maxsize=256)
def _tree_digest(source: bytes) -> bytes:
    """SHA-256 of a source file's :func:`syntax_tree`, parsed once per content of the file: a chapter keys
    dozens of checkpoints by the same modules."""
    return hashlib.sha256(syntax_tree(source.decode("utf-8")).encode()).digest()


def code_fingerprint(*modules: Any) -> str:
    """A short hash of the syntax trees (:func:`syntax_tree`) of the source files of ``modules`` (module objects
    or dotted names; a package counts with every ``.py`` file below it). Put it in a cache key so that a fix to
    the training code retrains, and a reformatting does not."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for module in modules:
        if isinstance(module, str):
            module = importlib.import_module(module)
        if not isinstance(module, types.ModuleType) or not getattr(module, "__file__", None):
            raise ParameterError("modules", module, "modules or dotted names")
        assert module.__file__ is not None  # checked just above
        path = Path(module.__file__)
        files += sorted(path.parent.rglob("*.py")) if path.name == "__init__.py" else [path]
    for path in sorted(set(files)):
        digest.update(path.name.encode())
        digest.update(_tree_digest(path.read_bytes()))
    return digest.hexdigest()[:16]


def folder_fingerprint(path: Path) -> str:
    """16 hex digits of the SHA-256 of a folder's file names, sizes and modification times (a model folder
    changed in place gets a new key without reading its gigabytes)."""
    digest = hashlib.sha256()
    for p in sorted(Path(path).iterdir()):
        if p.is_file():
            st = p.stat()
            digest.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]
