"""Where things live: the project root, the data cache, executed notebooks and results.

Every location can be moved with an environment variable, so tests and CI never touch a user's
cache or earlier results:

``REPROBOOK_CACHE``        data, models and trained checkpoints (default ``~/.cache/reprobook``)
``REPROBOOK_LOCAL_DATA``   a folder that mirrors the GitHub-hosted data (e.g. ``../shared/data``)
``REPROBOOK_RESULTS``      results JSON written by the notebooks (default ``<root>/results``)
``REPROBOOK_EXECUTED``     executed notebooks written by the runner (default ``<root>/executed``)

A dry run and the GPU check train on the same data as the real runs but must never leave their
checkpoints where a real run would load them: they use a *scratch cache* (:func:`scratch_cache`), a
folder beside the data whose data, converted models and downloads are links to the real cache's and
whose checkpoints and cached predictions are its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout this package was installed from (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parents[1]
    if (candidate / "pyproject.toml").exists() and (candidate / "notebooks").is_dir():
        return candidate
    return Path.cwd()


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def cache_dir() -> Path:
    return _env_path("REPROBOOK_CACHE", Path.home() / ".cache" / "reprobook")


def local_data_dir() -> Path | None:
    value = os.environ.get("REPROBOOK_LOCAL_DATA")
    return Path(value).expanduser().resolve() if value else None


def results_dir() -> Path:
    return _env_path("REPROBOOK_RESULTS", project_root() / "results")


def executed_dir() -> Path:
    return _env_path("REPROBOOK_EXECUTED", project_root() / "executed")


# What a scratch cache shares with the cache it lives in (data, converted language models, downloads);
# everything else (checkpoints, cached predictions) is its own.
SHARED_CACHE_FOLDERS = ("data", "downloads", "llm", "torchvision", "ood")


def scratch_cache(name: str, base: Path | None = None) -> Path:
    """``<cache>/scratch/<name>``: a cache that reads the data of ``base`` (default :func:`cache_dir`) through
    links (:data:`SHARED_CACHE_FOLDERS`) and keeps its own checkpoints. Made on first use."""
    base = Path(base or cache_dir())
    folder = base / "scratch" / name
    folder.mkdir(parents=True, exist_ok=True)
    for shared in SHARED_CACHE_FOLDERS:
        (base / shared).mkdir(parents=True, exist_ok=True)
        link = folder / shared
        if not link.is_symlink() and not link.exists():
            link.symlink_to(Path("..") / ".." / shared, target_is_directory=True)
    return folder


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on the file ``path`` (made if missing), held for the ``with`` block: two processes
    that would write the same thing (convert a model, train a checkpoint) do it one after the other, and
    the second finds it done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
