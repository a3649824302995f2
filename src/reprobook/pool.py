"""Training several models at once on a CPU: one process per model, each on its own fixed threads.

A chapter that trains many small models on a CPU (the sharpness chapters: every method for every seed) fixes
each training loop's thread count (:func:`reprobook.training.fixed_threads`), so that the run alone on every
core and the same run inside the book (one core per notebook) train the same models. On one thread a loop
leaves the run's other cores idle; :func:`train_many` fills them with other loops, one process each (joblib's
process pool), and gives the same models as training them one after the other: each loop depends on its
arguments alone, not on the process that runs it (tested bit for bit).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from joblib import Parallel, delayed

from .checks import check_optional_int
from .results import note_checkpoint


def pool_size(train_threads: int | None, device: Any, workers: int | None = None) -> int:
    """How many training loops may run at once: ``workers`` when given; else, on a CPU with a fixed thread
    count per loop, as many as the run's threads hold (``torch.get_num_threads() // train_threads``: the
    runner's share of the cores for this notebook); else one (a GPU, loops on the run's threads, or a
    multi-process launch, whose processes train one model together)."""
    workers = check_optional_int("train_workers", workers, low=1)
    train_threads = check_optional_int("train_threads", train_threads, low=1)
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        return 1
    if workers is not None:
        return workers
    if train_threads is None or torch.device(device).type != "cpu":
        return 1
    return max(1, torch.get_num_threads() // train_threads)


def train_many(
    fn: Callable[..., tuple[dict[str, torch.Tensor], dict[str, Any]]],
    jobs: Sequence[tuple[Any, ...]],
    workers: int,
) -> Iterator[tuple[dict[str, torch.Tensor], dict[str, Any]]]:
    """``fn(*job)`` for every job, in the jobs' order, as each is done: in this process when ``workers`` is 1,
    else in a pool of ``workers`` processes. ``fn`` is a module-level function that returns
    :func:`reprobook.training.train_or_load`'s ``(state, info)``; the models a pool trained or loaded are
    counted in this process's results (:func:`reprobook.results.note_checkpoint`), as if trained here."""
    workers = check_optional_int("train_workers", workers, low=1) or 1
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield fn(*job)
        return
    # each loop sets its own thread count (fixed_threads), whatever the pool leaves a process
    results = Parallel(n_jobs=min(workers, len(jobs)), backend="loky", return_as="generator")(
        delayed(fn)(*job) for job in jobs
    )
    for state, info in results:
        note_checkpoint(loaded=bool(info["loaded"]))
        yield state, info
