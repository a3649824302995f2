"""Test-wide settings: a private cache and deliberate thread counts (2 cores are easy to oversubscribe)."""

import atexit
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py

# A private cache per test session: the tests never read or write a user's data, checkpoints or results.
# It holds converted models, the offline data and the dry book's checkpoints (about 4 GB at its largest):
# removed when the session ends, unless REPROBOOK_CACHE was given (then it is the caller's to keep). A session
# that was killed (a CI time limit, ^C twice) never reaches its exit handler: the next session removes such
# caches first (see sweep_stale_caches), so they cannot pile up until the disk is full.
CACHE_PREFIX = "reprobook-test-cache-"
OWNER_FILE = ".owner"  # "<host> <pid>" of the session that made the cache
UNOWNED_STALE_SECONDS = 6 * 3600  # a cache without an owner file (made before there was one) older than this


def _owner_alive(text: str) -> bool:
    """Whether the session named by an owner file's text may still be running (always, on another host)."""
    host, _, pid = text.partition(" ")
    if host != socket.gethostname() or not pid.isdigit():
        return host != socket.gethostname()
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user has that pid
        return True
    return True


def sweep_stale_caches(tmp: Path, now: float) -> list[Path]:
    """Remove the test caches under ``tmp`` that no running session owns: an owner file naming a process of
    this host that is gone, or no owner file and older than UNOWNED_STALE_SECONDS. Returns what it removed."""
    removed = []
    for folder in sorted(tmp.glob(CACHE_PREFIX + "*")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        owner = folder / OWNER_FILE
        try:
            stale = (
                not _owner_alive(owner.read_text(encoding="utf-8").strip())
                if owner.exists()
                else now - folder.stat().st_mtime > UNOWNED_STALE_SECONDS
            )
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


if "REPROBOOK_CACHE" not in os.environ:
    sweep_stale_caches(Path(tempfile.gettempdir()), time.time())
    _session_cache = tempfile.mkdtemp(prefix=CACHE_PREFIX)
    Path(_session_cache, OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}", encoding="utf-8")
    os.environ["REPROBOOK_CACHE"] = _session_cache
    atexit.register(shutil.rmtree, _session_cache, ignore_errors=True)
# The suite runs on pytest-xdist's workers (`make test`: TEST_WORKERS, 2 by default): the controller made the cache
# above before starting them, so they share it (its writers lock and write atomically); each worker and the
# notebook kernels it starts get an equal share of the cores instead of every process taking all of them.
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_threads = str(max(1, (os.cpu_count() or 1) // _workers))
if _workers > 1:
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "REPROBOOK_THREADS"):
        os.environ[_var] = _threads
os.environ.setdefault("OMP_NUM_THREADS", _threads)


@pytest.fixture(autouse=True)
def _close_figures():
    """Figures a test made are closed after it (pyplot keeps every open figure, and warns past 20)."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
