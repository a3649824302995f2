"""Processes side by side: the runner's notebooks, and several small models trained at once on a CPU.

:func:`process_pool` is the one pool of worker processes (spawned: a fresh interpreter, no inherited torch
state): the runner executes notebooks in it (:func:`reprobook.runner.run`), :func:`train_many` training loops.

A chapter that trains many small models on a CPU (the sharpness chapters: every method for every seed; the OoD
chapters' classifiers, :func:`reprobook.ood.benchmark.pretrain_classifiers`, and DDoS's DDPM beside them,
:func:`reprobook.chapters.ddos.training.pretrain`; Baichuan 2's language models,
:func:`reprobook.alignment.pretraining.pretrain_runs`) fixes
each training loop's thread count (:func:`reprobook.training.fixed_threads`), so that the run alone on every
core and the same run inside the book (one core per notebook) train the same models. On one thread a loop
leaves the run's other cores idle; :func:`train_many` fills them with other loops, one process each, and gives
the same models as training them one after the other: each loop depends on its arguments alone, not on the
process that runs it (tested bit for bit).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .checks import check_int, check_optional_int
from .results import note_checkpoint


def launch_processes() -> int:
    """The processes of a multi-process launch (``torchrun``, ``accelerate launch``) this process belongs to: its
    ``WORLD_SIZE``, 1 outside one (unset or empty)."""
    return int(os.environ.get("WORLD_SIZE", "") or 1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` worker processes (spawned: a fresh interpreter, no inherited torch state)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def pool_size(train_threads: int | None, device_type: str, run_threads: int, workers: int | None = None) -> int:
    """How many training loops may run at once: one under a multi-process launch (``WORLD_SIZE`` > 1, whose
    processes train one model together); else ``workers`` when given; else, on a CPU (``device_type``
    ``"cpu"``) with a fixed thread count per loop, as many as the run's threads hold (``run_threads //
    train_threads``; ``run_threads``: the runner's share of the cores for this notebook); else one (another
    device, or loops on the run's threads)."""
    workers = check_optional_int("train_workers", workers, low=1)
    train_threads = check_optional_int("train_threads", train_threads, low=1)
    run_threads = check_int("run_threads", run_threads, low=1)
    if launch_processes() > 1:
        return 1
    if workers is not None:
        return workers
    if train_threads is None or device_type != "cpu":
        return 1
    return max(1, run_threads // train_threads)


def call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """``fn(*args)``: :func:`train_many`'s ``fn`` for jobs of several kinds, each job ``(fn, args)`` (module-level
    functions, so that a worker process can unpickle them)."""
    return fn(*args)


def train_many(
    fn: Callable[..., tuple[dict[str, Any], dict[str, Any]]],
    jobs: Sequence[tuple[Any, ...]],
    workers: int,
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``fn(*job)`` for every job, in the jobs' order, as each is done: in this process when ``workers`` is 1,
    else in a :func:`process_pool` of ``workers`` processes. ``fn`` is a module-level function that returns
    :func:`reprobook.training.train_or_load`'s ``(state, info)``; the models a pool trained or loaded are
    counted in this process's results (:func:`reprobook.results.note_checkpoint`), as if trained here."""
    workers = check_int("train_workers", workers, low=1)
    if workers == 1 or len(jobs) <= 1:
        for job in jobs:
            yield fn(*job)
        return
    # each loop sets its own thread count (fixed_threads), whatever its process has
    with process_pool(min(workers, len(jobs))) as pool:
        try:
            for state, info in pool.map(fn, *zip(*jobs, strict=True)):
                note_checkpoint(loaded=bool(info["loaded"]))
                yield state, info
        except BaseException:  # a failed loop or an interrupt: the loops not yet started do not start
            pool.shutdown(cancel_futures=True)
            raise
