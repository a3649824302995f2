"""The test session's private cache: a cache left by a killed session is removed by the next one, a cache a
running session owns is not."""

import os
import socket
import subprocess
import sys

import pytest

from conftest import CACHE_PREFIX, OWNER_FILE, UNOWNED_STALE_SECONDS, sweep_stale_caches


def _cache(tmp_path, name, owner=None, age=0.0, now=1e9):
    folder = tmp_path / (CACHE_PREFIX + name)
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "big.bin").write_bytes(b"0" * 1024)
    if owner is not None:
        (folder / OWNER_FILE).write_text(owner, encoding="utf-8")
    os.utime(folder, (now - age, now - age))
    return folder


def test_a_cache_whose_session_is_gone_is_removed_and_a_live_ones_is_kept(tmp_path):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    host, now = socket.gethostname(), 1e9
    dead = _cache(tmp_path, "dead", f"{host} {gone.stdout.strip()}", now=now)
    alive = _cache(tmp_path, "alive", f"{host} {os.getpid()}", age=10 * UNOWNED_STALE_SECONDS, now=now)
    elsewhere = _cache(tmp_path, "elsewhere", f"not-{host} 1", now=now)
    old = _cache(tmp_path, "old-unowned", age=UNOWNED_STALE_SECONDS + 60, now=now)
    young = _cache(tmp_path, "young-unowned", age=60, now=now)
    other = tmp_path / "some-other-folder"
    other.mkdir()

    removed = sweep_stale_caches(tmp_path, now)

    assert sorted(removed) == sorted([dead, old])
    assert not dead.exists() and not old.exists()
    assert alive.exists() and elsewhere.exists() and young.exists() and other.exists()


def test_this_sessions_cache_names_its_owner():
    cache = os.environ["REPROBOOK_CACHE"]
    if not os.path.basename(cache).startswith(CACHE_PREFIX):
        pytest.skip("REPROBOOK_CACHE was given: the caller's cache, not one this session made")
    with open(os.path.join(cache, OWNER_FILE), encoding="utf-8") as f:
        host, pid = f.read().split()
    # the session's controller: this process without pytest-xdist, its parent on an xdist worker
    assert host == socket.gethostname() and int(pid) in (os.getpid(), os.getppid())
