"""Test-wide settings: a private cache and deliberate thread counts (2 cores are easy to oversubscribe)."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py

# A private cache per test session: the tests never read or write a user's data, checkpoints or results.
# It holds a converted model and the offline data (over 2 GB): removed when the session ends, unless
# REPROBOOK_CACHE was given (then it is the caller's to keep).
if "REPROBOOK_CACHE" not in os.environ:
    _session_cache = tempfile.mkdtemp(prefix="reprobook-test-cache-")
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
