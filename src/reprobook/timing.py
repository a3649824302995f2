"""Timing a block of code: ``with timed() as t: ...`` leaves its wall-clock seconds in ``t.seconds``.

The package's one way to time a block; it measures with :func:`time.perf_counter`. Also here, below every
part that times something: :func:`synchronize` (a GPU's queued work done before a clock is read) and the
statistics of repeated timings (:func:`median_interval`, :func:`ratio_interval`, :func:`goal_reading`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from .checks import ParameterError, check_number


class Timer:
    """The clock of one ``with timed()`` block.

    ``seconds`` is 0.0 inside the block and the block's elapsed seconds once it ends (also when it
    raises); :meth:`elapsed` gives the seconds so far, inside the block or after it, and
    :meth:`cpu_elapsed` the CPU seconds of this process so far. A ``Timer()`` made outside a ``with``
    block is a running clock: the package's one way to time anything.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.done = False
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()

    def elapsed(self) -> float:
        """Seconds since the block began (the block's seconds once it has ended)."""
        return self.seconds if self.done else time.perf_counter() - self.start

    def cpu_elapsed(self) -> float:
        """CPU seconds of this process (every thread) since the clock started."""
        return time.process_time() - self.cpu_start

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


def synchronize(device: Any) -> None:
    """Wait for the device's queued work (a GPU runs asynchronously), so a clock read after it is honest."""
    import torch  # noqa: PLC0415  (torch only to wait for a GPU: the CLI imports timing)

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def median_interval(values: Any, level: float = 0.95) -> dict[str, float]:
    """The median of ``values`` and its distribution-free interval from two order statistics.

    The interval [x₍ₖ₎, x₍ₙ₋ₖ₊₁₎] of the sorted values covers the population median with probability
    1 − 2·P(Bin(n, ½) ≤ k − 1) whatever the distribution (for independent draws); k is the largest with that
    coverage at least ``level``. With too few values for ``level`` (fewer than 6 at 95 %) it is the range, and
    ``coverage`` says how much less it covers. Returns median, low, high, coverage and n.
    """
    from scipy import stats  # noqa: PLC0415  (the CLI imports this module: scipy only for the intervals)

    values = np.sort(np.asarray(values, dtype=float).reshape(-1))
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ParameterError("values", values, "one or more finite numbers")
    check_number("level", level, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    n = values.size
    # the largest k with P(Bin(n, ½) ≤ k − 1) ≤ (1 − level) / 2; k = 1 (the range) when even that is too wide
    k = 1
    while k + 1 <= (n + 1) // 2 and stats.binom.cdf(k, n, 0.5) <= (1 - level) / 2:
        k += 1
    coverage = float(1 - 2 * stats.binom.cdf(k - 1, n, 0.5))
    return {
        "median": float(np.median(values)),
        "low": float(values[k - 1]),
        "high": float(values[n - k]),
        "coverage": coverage,
        "n": int(n),
    }


def ratio_interval(
    rounds_ms: dict[str, list[float]], method: str, baseline: str = "sgd", level: float = 0.95
) -> dict[str, float]:
    """The time of ``method`` over that of ``baseline`` in the same round: the median over the rounds and its
    distribution-free interval (:func:`median_interval`). The interval covers the variation of this machine's
    speed from round to round during this measurement, not that of other machines."""
    for name, value in (("method", method), ("baseline", baseline)):
        if value not in rounds_ms:
            raise ParameterError(name, value, ", ".join(repr(m) for m in rounds_ms))
    ratios = np.asarray(rounds_ms[method], dtype=float) / np.asarray(rounds_ms[baseline], dtype=float)
    return median_interval(ratios, level)


def goal_reading(interval: dict[str, float], goal: float) -> str:
    """Whether a measured ratio meets a goal "at most ``goal``": *met* when the whole interval lies at or below it,
    *not met* when the whole interval lies above it, *not settled* when the interval straddles it (never from
    the median alone)."""
    check_number("goal", goal, low=0.0, low_inclusive=False)
    if interval["high"] <= goal:
        return "met"
    if interval["low"] > goal:
        return "not met"
    return "not settled"
