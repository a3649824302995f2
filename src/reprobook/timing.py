"""Timing a block of code: ``with timed() as t: ...`` leaves its wall-clock seconds in ``t.seconds``.

The package's one way to time a block; it measures with :func:`time.perf_counter`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class Timer:
    """The clock of one ``with timed()`` block.

    ``seconds`` is 0.0 inside the block and the block's elapsed seconds once it ends (also when it
    raises); :meth:`elapsed` gives the seconds so far, inside the block or after it.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.done = False
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the block began (the block's seconds once it has ended)."""
        return self.seconds if self.done else time.perf_counter() - self.start

    def __repr__(self) -> str:
        return f"Timer(seconds={self.seconds!r}, done={self.done})"


@contextlib.contextmanager
def timed() -> Iterator[Timer]:
    """Time the ``with`` block: the yielded :class:`Timer` holds its wall-clock seconds in ``seconds``.

    >>> with timed() as t:
    ...     pass
    >>> t.seconds >= 0
    True
    """
    timer = Timer()
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - timer.start
        timer.done = True
