"""Benchmarks: the measured cost of the book's methods, every method timed in one run on one machine.

    reprobook bench [NAME ...] [--device auto|cpu|cuda] [--profile smoke|paper]

Each benchmark is a module of this package with one function,
``measure(device: torch.device, profile: str, **settings) -> (pandas.DataFrame, dict)``, returning its
table (one row per method) and the settings it used (``settings`` override the profile's sizes). :func:`run`
adds the machine it ran on and :meth:`BenchResult.save` writes it to
``results/bench/<name>-<device type>.json`` (write-then-rename).
Chapters call :func:`run` themselves and glue the table, so the numbers in the book were measured in
the run that built it; ratios are only ever taken between rows of one table (same run, same machine).

Measurements kept from other machines (a GPU run, say) live in ``book/measurements/`` as the same JSON;
:func:`recorded` reads them, so a chapter can show them beside this run's, labelled with their machine.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..checks import ParameterError, check_choice, check_choices, check_int  # noqa: F401
from ..paths import project_root, results_dir
from ..profiles import PROFILES
from ..results import _jsonable, atomic_write_text, cpu_model, cpuinfo_value, provenance
from ..training import resolve_device

# name -> (module, what it measures)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "step-cost": (
        "reprobook.benchmarks.step_cost",
        "wall time of one optimiser step (SGD, SAM, RWP sequential and batched, ARWP, m-ARWP), as a ratio to SGD",
    ),
    "ood-throughput": (
        "reprobook.benchmarks.ood_throughput",
        "OoD scoring time per test sample: KPCA against exact and approximate KNN (scikit-learn, faiss) "
        "as the training set grows (to 30,000 features in smoke, 60,000 in paper)",
    ),
    "ddos-throughput": (
        "reprobook.benchmarks.ddos_throughput",
        "images per second: DDoS against a classifier detector",
    ),
    "llm-throughput": ("reprobook.benchmarks.llm_throughput", "generated tokens per second by batch size, and scoring"),
    "cpu-jobs": (
        "reprobook.benchmarks.cpu_jobs",
        "throughput of notebooks at once on a CPU: one process with "
        "every core against one process per core (a CNN training step, a language-model pass)",
    ),
}


def check_name(name: Any) -> str:
    """A benchmark's name (a key of :data:`BENCHMARKS`)."""
    return check_choice("benchmark", name, BENCHMARKS)


def check_count(name: str, value: Any, low: int = 1) -> int:
    """A setting of a benchmark: an integer >= ``low`` (:func:`reprobook.checks.check_int`)."""
    return check_int(name, value, low=low)


def check_methods(methods: Any, known: Any, required: str, why: str) -> tuple[str, ...]:
    """``methods`` as a tuple of names from ``known`` (duplicates dropped) that includes ``required``.

    ``why`` says what the required method is for (it is the reference of every ratio of the table).
    """
    return check_choices("methods", methods, known, required=required, why=why)


def machine(device: Any) -> dict[str, Any]:
    """The machine a measurement ran on: processor, cores and torch threads, GPU, library versions."""
    info = provenance(device)
    info.update(
        processor=platform.processor() or platform.machine(),
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        cpu_bf16=cpu_bf16_flags(),
    )
    return info


BF16_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")  # x86 instructions that multiply bfloat16 natively


def cpu_bf16_flags() -> list[str] | None:
    """Which of :data:`BF16_FLAGS` the CPU reports (``/proc/cpuinfo`` on Linux; None where it cannot be read):
    a CPU without them computes in bfloat16 several times slower than in float32."""
    flags = cpuinfo_value("flags")
    return None if flags is None else [f for f in BF16_FLAGS if f in set(flags.split())]


@dataclass
class BenchResult:
    name: str
    table: Any  # pandas.DataFrame, one row per method
    settings: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> str:
        return str(self.machine.get("device", "?"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "settings": _jsonable(self.settings),
            "machine": _jsonable(self.machine),
            "table": _jsonable(self.table.to_dict(orient="records")),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        return cls(
            data["name"], pd.DataFrame.from_records(data["table"]), data.get("settings", {}), data.get("machine", {})
        )

    def save(self, path: Path | str | None = None) -> Path:
        if path is None:
            kind = str(self.machine.get("device_type", "cpu"))
            path = results_dir() / "bench" / f"{self.name}-{kind}.json"
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def load(cls, path: Path | str) -> BenchResult:
        return cls.from_dict(json.loads(Path(path).read_text()))


def run(name: str, *, device: Any = "auto", profile: str = "smoke", **settings: Any) -> BenchResult:
    """Measure benchmark ``name`` on ``device`` with the sizes of ``profile`` (``settings`` override them)."""
    check_name(name)
    check_choice("profile", profile, PROFILES)
    dev = resolve_device(device)
    module = importlib.import_module(BENCHMARKS[name][0])
    table, used = module.measure(dev, profile, **settings)
    info = machine(dev)
    info["device_type"] = dev.type
    return BenchResult(name, table, {"profile": profile, **used}, info)


def recorded(name: str, root: Path | None = None) -> list[BenchResult]:
    """Measurements of ``name`` kept in ``book/measurements/`` (from other machines), oldest file name first."""
    check_name(name)
    folder = (root or project_root()) / "book" / "measurements"
    return [BenchResult.load(p) for p in sorted(folder.glob(f"{name}-*.json"))]
