"""Shared pieces of the catalog: the BIG-bench sdist that several entries read from, and PyPI members."""

from __future__ import annotations

from ..sources import PyPIFile

BIGBENCH = dict(project="bigbench", filename="bigbench-1.0.0.tar.gz",
                sha256="1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2", size=358249635)
BB_TASKS = "bigbench-1.0.0/bigbench/benchmark_tasks/"
BIGBENCH_HOME = "https://github.com/google/BIG-bench"


def pypi(project: str, filename: str, sha256: str, members: dict[str, str], size: int | None = None) -> PyPIFile:
    """A pinned file of a PyPI project and the members taken from it (``{path in the entry: path in the file}``)."""
    return PyPIFile(project, filename, sha256, tuple(members.items()), size=size)
