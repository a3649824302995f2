"""Notebooks at once on a CPU: is one process with every core faster than one process per core?

Run from the shell as ``reprobook bench cpu-jobs --device cpu``; what ``make book`` decides with it is
described in :mod:`reprobook.dispatch` (``--jobs auto``).

How it measures: two of the book's workloads, each timed three ways on this machine's cores:

* ``cnn step``: one SGD training step of the Part I/II small CNN (``batch_size`` FashionMNIST-sized
  images, stride-2 convolutions), the unit of the RWP, m-ARWP and mode-ensemble chapters;
* ``lm pass``: one teacher-forced pass of ``model`` over ``lm_tokens`` tokens with the output layer on
  the last 8 positions, the unit of the DomainRAG, PAS and SlimPLM chapters' likelihood scoring
  (``"tiny"``: a random tiny model with SmolLM2's tokenizer).

Ways: ``1 process, every core`` (torch's threads = the cores: how ``reprobook run`` runs one notebook),
``1 process, 1 thread``, and ``jobs processes side by side`` (each with cores / jobs threads, started
together, each timing its own units). After ``warmup`` untimed units every process times ``repeats``
units; a row gives the median seconds per unit and the throughput (units per second, summed over the
processes) relative to one process with every core. Above 1, running the notebooks ``jobs`` at once
gets through more of that workload than running them one after another.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
from typing import Any

import pandas as pd
import torch

from .. import llm
from ..checks import check_choices
from ..configs.ood_benchmark import SMOKE
from ..models import build_model
from ..timing import Timer
from . import check_count

WORKLOADS = ("cnn step", "lm pass")
SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(workloads=WORKLOADS, batch_size=16, model="tiny", lm_tokens=32, jobs=2, warmup=1, repeats=3),
    "smoke": dict(
        workloads=WORKLOADS, batch_size=128, model="gemma-3-270m", lm_tokens=420, jobs=2, warmup=3, repeats=20
    ),
    "paper": dict(
        workloads=WORKLOADS, batch_size=128, model="gemma-3-270m", lm_tokens=420, jobs=2, warmup=3, repeats=40
    ),
}


def _unit(workload: str, batch_size: int, model: str, lm_tokens: int):
    """A function that runs one unit of ``workload`` (built here, in the process that times it)."""
    torch.manual_seed(0)
    if workload == "cnn step":
        net = build_model(SMOKE["model"], **SMOKE["model_kwargs"])
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,))

        def step() -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

        return step

    lm = llm.tiny_causal_lm() if model == "tiny" else llm.load_causal_lm(model)
    ids = torch.randint(100, min(20000, lm.model.config.vocab_size), (1, lm_tokens))

    def score() -> None:
        with torch.inference_mode():
            lm.model(input_ids=ids, logits_to_keep=8)

    return score


def _time_units(workload: str, threads: int, settings: dict[str, Any], barrier: Any = None) -> list[float]:
    """Seconds of each of ``repeats`` units of ``workload`` on ``threads`` threads, after ``warmup`` units
    (with ``barrier``: every process starts timing together)."""
    torch.set_num_threads(threads)
    unit = _unit(workload, settings["batch_size"], settings["model"], settings["lm_tokens"])
    for _ in range(settings["warmup"]):
        unit()
    if barrier is not None:
        barrier.wait()
    seconds = []
    for _ in range(settings["repeats"]):
        clock = Timer()
        unit()
        seconds.append(clock.elapsed())
    return seconds


def _worker(workload: str, threads: int, settings: dict[str, Any], barrier: Any, out: Any) -> None:
    out.put(_time_units(workload, threads, settings, barrier))


def side_by_side(workload: str, jobs: int, threads: int, settings: dict[str, Any]) -> list[list[float]]:
    """:func:`_time_units` in ``jobs`` fresh processes at once (spawned), ``threads`` threads each."""
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(jobs), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(workload, threads, settings, barrier, out)) for _ in range(jobs)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return results


def measure(device: Any, profile: str, **overrides: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    settings = {**SIZES[profile], **overrides}
    workloads = check_choices("workloads", settings["workloads"], WORKLOADS)
    for name in ("batch_size", "lm_tokens", "jobs", "repeats"):
        settings[name] = check_count(name, settings[name])
    settings["warmup"] = check_count("warmup", settings["warmup"], low=0)

    cores = os.cpu_count() or 1
    jobs = min(settings["jobs"], cores)
    threads_before = torch.get_num_threads()
    rows = []
    share = max(1, cores // jobs)
    for workload in workloads:
        ways = [
            ("1 process, every core", 1, cores, [_time_units(workload, cores, settings)]),
            ("1 process, 1 thread", 1, 1, [_time_units(workload, 1, settings)]),
            (f"{jobs} processes side by side", jobs, share, side_by_side(workload, jobs, share, settings)),
        ]
        base = None
        for way, processes, threads, seconds in ways:
            per_unit = [statistics.median(s) for s in seconds]
            throughput = sum(1.0 / s for s in per_unit)
            base = base or throughput
            rows.append(
                {
                    "workload": workload,
                    "way": way,
                    "processes": processes,
                    "threads each": threads,
                    "median s per unit": statistics.median(per_unit),
                    "units per s": throughput,
                    "throughput vs every core": throughput / base,
                }
            )
    torch.set_num_threads(threads_before)
    return pd.DataFrame(rows), {**settings, "workloads": list(workloads), "jobs": jobs, "cores": cores}
