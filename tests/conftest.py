"""Test-wide settings: a private cache and deliberate thread counts (2 cores are easy to oversubscribe)."""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py

# A private cache per test session: the tests never read or write a user's data, checkpoints or results.
os.environ.setdefault("REPROBOOK_CACHE", tempfile.mkdtemp(prefix="reprobook-test-cache-"))
os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
