"""Running several notebooks at once: one per GPU of this machine, or one Slurm job each.

``reprobook run`` executes its notebooks through :func:`dispatch`, which starts each notebook once the
notebooks it needs (a producer of a shared artefact, see :func:`reprobook.profiles.run_order`) have
finished, on one of a fixed set of *slots*:

* ``--jobs 1`` (the default): one slot, the notebook runs in this process, exactly as always;
* ``--jobs N --devices cuda:0,cuda:1,...``: N worker processes, each notebook on one GPU of its own
  (``CUDA_VISIBLE_DEVICES``), its torch threads a share of the cores;
* ``--jobs N`` on a machine without a GPU (or ``--devices cpu``): N worker processes on the CPU, each
  notebook's threads an equal share of the cores (never more threads than cores). On the book's 2-core
  CPU two one-thread notebooks get through more work than one two-thread notebook: two one-thread
  processes side by side do 1.36 times the small CNN's training steps and 1.25 times the Gemma-3-270M
  scoring passes of one process with both cores (``reprobook bench cpu-jobs``, kept in
  ``book/measurements/cpu-jobs-cpu-amd-epyc-2-cores.json``; an earlier run: 1.72 and 1.30), and the cold
  smoke book took 34.0 minutes two at a time against 47.8 one at a time;
* ``--jobs auto`` (what ``make book`` asks for): one job per GPU, or :data:`CPU_JOBS` on a machine without
  one (:func:`auto_jobs`);
* ``--executor slurm``: every notebook a Slurm job submitted through submitit (partition, GPUs,
  time limit and memory from :class:`SlurmOptions`, with defaults per profile), all of them at once
  but for the order of producers and consumers. The job runs the same :func:`reprobook.runner.execute_one`
  on the shared file system, so its executed copy and results land in the same folders and a failed
  job never replaces the last good copy. ``SlurmOptions(cluster="local")`` runs the jobs through
  submitit's local executor instead (a machine without Slurm; the tests).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from .checks import ParameterError, check_choice, check_device, check_int, check_optional_int

EXECUTORS = ("local", "slurm")
CPU = "cpu"  # the slot of a notebook that shares the CPU cores (no GPU)
# notebooks at once on a machine without a GPU under --jobs auto: measured on the book's 2-core CPU (see the
# module docstring); a machine with more cores gives each of the two a larger share
CPU_JOBS = 2
SLURM_CLUSTERS = ("slurm", "local")

# Resources of one Slurm job per profile (a tiny or smoke run is a CPU job of minutes; a paper run
# trains on a GPU for hours). Each can be overridden on the command line.
SLURM_DEFAULTS: dict[str, dict[str, Any]] = {
    "tiny": {"gpus_per_job": 0, "time_min": 15, "mem_gb": 8, "cpus_per_job": 2},
    "smoke": {"gpus_per_job": 0, "time_min": 60, "mem_gb": 16, "cpus_per_job": 4},
    "paper": {"gpus_per_job": 1, "time_min": 24 * 60, "mem_gb": 64, "cpus_per_job": 8},
}


@dataclass(frozen=True)
class SlurmOptions:
    """Resources of each notebook's Slurm job; None takes the profile's default (:data:`SLURM_DEFAULTS`)."""

    partition: str | None = None
    gpus_per_job: int | None = None
    time_min: int | None = None
    mem_gb: int | None = None
    cpus_per_job: int | None = None
    cluster: str = "slurm"  # "local": submitit's local executor (no Slurm needed)
    poll_seconds: float = 10.0

    def __post_init__(self) -> None:
        check_choice("cluster", self.cluster, SLURM_CLUSTERS)
        for name in ("gpus_per_job", "time_min", "mem_gb", "cpus_per_job"):
            check_optional_int(name, getattr(self, name), low=0 if name == "gpus_per_job" else 1)
        if self.partition is not None and (not isinstance(self.partition, str) or not self.partition):
            raise ParameterError("partition", self.partition, "None or a partition name")

    def resolved(self, profile: str) -> dict[str, Any]:
        """The options with the profile's defaults filled in."""
        defaults = SLURM_DEFAULTS[check_choice("profile", profile, tuple(SLURM_DEFAULTS))]
        return {k: (defaults[k] if v is None and k in defaults else v) for k, v in asdict(self).items()}


def visible_gpus() -> list[str]:
    """``cuda:0`` ... for every GPU torch sees here (empty on a machine without one)."""
    try:
        import torch  # noqa: PLC0415  (only to count GPUs: the runner's own process loads no model)

        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    except Exception:  # noqa: BLE001 - no torch, no driver: no GPU
        return []


def check_jobs(
    jobs: Any, devices: Iterable[str] | None = None, available: list[str] | None = None, cpu_count: int | None = None
) -> list[str]:
    """The devices the ``jobs`` parallel notebooks run on, one each; for one job, the device asked for
    (``[]``: none asked for, the notebook sees every device).

    ``devices`` (default: every visible GPU) must be CUDA devices of this machine, or ``["cpu"]``: the
    notebooks share the CPU cores, as they do by default on a machine without a GPU (then ``jobs`` may
    not exceed the cores, each notebook needs one).
    """
    jobs = check_int("jobs", jobs, low=1)
    if jobs == 1 and devices is None:
        return []
    available = visible_gpus() if available is None else list(available)
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    explicit = devices is not None
    devices = None if devices is None else list(devices)
    if devices == [CPU] or (devices is None and not available and jobs > 1):
        if jobs > cores:
            raise ParameterError(
                "jobs",
                jobs,
                f"at most {cores} on this CPU (a core for each notebook; "
                "a machine with GPUs runs one notebook per GPU)",
            )
        return [CPU] * jobs
    if devices is None:
        devices = list(available)
    else:
        devices = [check_device("devices", d) for d in devices]
        for d in devices:
            if d not in available:
                raise ParameterError(
                    "devices",
                    d,
                    "GPUs of this machine, as cuda:N, or cpu alone: " + (", ".join(available) or "no GPU here"),
                )
        if len(set(devices)) != len(devices):
            raise ParameterError("devices", ",".join(devices), "distinct GPUs (one notebook per GPU)")
    if jobs == 1:
        return list(devices[:1]) if explicit else []
    if jobs > len(devices):
        raise ParameterError(
            "jobs",
            jobs,
            f"at most {len(devices)}, one per GPU ({', '.join(devices)}), or --devices cpu to share the CPU cores",
        )
    return list(devices[:jobs])


def auto_jobs(available: list[str] | None = None, cpu_count: int | None = None) -> int:
    """``--jobs auto``: one notebook per visible GPU, else :data:`CPU_JOBS` sharing the cores (fewer on a
    machine with fewer cores)."""
    available = visible_gpus() if available is None else list(available)
    if available:
        return len(available)
    return max(1, min(CPU_JOBS, cpu_count if cpu_count is not None else (os.cpu_count() or 1)))


def parse_jobs(value: Any) -> int | Literal["auto"]:
    """``--jobs``: a whole number ≥ 1 or ``auto``."""
    if value == "auto":
        return "auto"
    try:
        return check_int("jobs", int(value), low=1)
    except (TypeError, ValueError):
        raise ParameterError(
            "jobs", value, f"a whole number >= 1, or auto (one per GPU, or {CPU_JOBS} sharing the CPU cores)"
        ) from None


def device_environment(device: str | None, jobs: int, cpu_count: int) -> dict[str, str]:
    """The environment of a notebook that runs on ``device`` beside ``jobs - 1`` others."""
    env: dict[str, str] = {}
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = "" if device == "cpu" else device.split(":", 1)[1]
    if jobs > 1:  # a share of the cores for each notebook's threads
        env["REPROBOOK_THREADS"] = str(max(1, cpu_count // jobs))
    return env


@dataclass
class Task:
    """One notebook to execute: its name, the names of the tasks that must finish first, its arguments."""

    name: str
    needs: frozenset[str]
    kwargs: dict[str, Any]


def dispatch(
    tasks: list[Task],
    start: Callable[[Task, Any], Any],
    slots: list[Any],
    on_done: Callable[[Task, Any], None],
    *,
    poll_seconds: float = 0.5,
) -> None:
    """Start every task on a free slot once the tasks it needs have finished; call ``on_done`` as each ends.

    ``start(task, slot)`` returns a handle with ``done()`` (a ``concurrent.futures.Future`` or a
    submitit job). Tasks start in list order when their slots and predecessors allow. A task whose
    predecessors can never finish (a cycle) starts when nothing else can.
    """
    if not slots:
        raise ParameterError("slots", slots, "at least one slot")
    pending = list(tasks)
    running: dict[str, tuple[Task, Any, Any]] = {}
    free = list(slots)
    while pending or running:
        started = False
        for task in list(pending):
            if not free:
                break
            waiting = {t.name for t in pending if t is not task} | set(running)
            if task.needs & waiting:
                continue
            slot = free.pop(0)
            running[task.name] = (task, start(task, slot), slot)
            pending.remove(task)
            started = True
        if not running and pending and not started:  # a cycle: start the first one anyway
            task = pending.pop(0)
            slot = free.pop(0)
            running[task.name] = (task, start(task, slot), slot)
        finished = [name for name, (_, handle, _) in running.items() if handle.done()]
        for name in finished:
            task, handle, slot = running.pop(name)
            free.append(slot)
            on_done(task, handle)
        if running and not finished:
            time.sleep(poll_seconds)


def done_future(fn: Callable[..., Any], /, **kwargs: Any) -> Future:
    """Run ``fn(**kwargs)`` now and return a finished future holding its result or exception."""
    future: Future = Future()
    try:
        future.set_result(fn(**kwargs))
    except Exception as exc:  # noqa: BLE001 - handed to the caller through the future (Ctrl-C still stops the run)
        future.set_exception(exc)
    return future


def submitit_executor(options: SlurmOptions, profile: str, folder: Path):
    """A submitit executor for ``profile``'s jobs (Slurm, or submitit's local executor)."""
    import submitit

    opts = options.resolved(profile)
    executor = submitit.AutoExecutor(folder=str(folder), cluster=opts["cluster"])
    params: dict[str, Any] = {
        "timeout_min": opts["time_min"],
        "mem_gb": opts["mem_gb"],
        "cpus_per_task": opts["cpus_per_job"],
        "tasks_per_node": 1,
        "nodes": 1,
    }
    if opts["gpus_per_job"]:
        params["gpus_per_node"] = opts["gpus_per_job"]
    if opts["cluster"] == "slurm" and opts["partition"]:
        params["slurm_partition"] = opts["partition"]
    executor.update_parameters(**params)
    return executor


def job_error(exc: BaseException) -> str:
    """A one-line reason for a job that did not return (a failed, killed or timed-out Slurm job)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:])[:500] if lines else type(exc).__name__
