"""The GPU check: what one GPU settles for the book, in one command, with no network.

    reprobook data pack                                  # on a machine with the data: reprobook-pack.tar, <= 64 MiB
    reprobook gpu-check --pack reprobook-pack.tar        # on the GPU machine (make gpu-check)
    reprobook gpu-check --executor slurm --partition gpu # the same as one Slurm job

Three measurements, each written with the machine (GPU, CPU, library versions) and the commit:

1. **The cost of a step** (:mod:`reprobook.benchmarks.step_cost`) at the paper profile's model and batch
   size (ResNet-18, batch 256): every method, the ARWP goal of <= 1.1x SGD. Kept as
   ``book/measurements/step-cost-<machine>.json``, which the step-cost chapter shows beside its own run.
2. **Part I at power**: the RWP and m-ARWP chapters executed (papermill, the ordinary runner) in the
   smoke profile at a larger scale (:data:`SIZES`: 5,000 FashionMNIST images, 12 seeds), their claims
   tables with power and MDE kept in the summary.
3. **A language-model training stage**: supervised fine-tuning (trl's SFTTrainer through
   :func:`reprobook.llm.sft`, full fine-tuning) at the Baichuan Alignment chapter's paper batch (16
   sequences of 2,048 tokens, packed), on a randomly initialised model of Qwen2-7B's architecture at a
   reduced width and depth (:func:`reprobook.llm.loading.stand_in_causal_lm`: the weights cannot be
   downloaded here), on the HHH pairs: steps/s, tokens/s and peak memory.

The summary goes to ``<out>/gpu-check-<machine>.json``; ``out`` is ``book/measurements`` at the
default size and ``results/gpu-check`` otherwise (a smallest-size run on a CPU tests the script and is
no measurement). The chapters' executed copies and results go to ``executed/gpu-check`` and
``results/gpu-check``; trained models to a scratch cache (:func:`reprobook.paths.scratch_cache`).
At the default size it is meant to finish within 8 minutes on one recent GPU; ``--size smallest`` runs
every step at its minimum (the test suite runs it on the CPU).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from . import benchmarks, data, dispatch, llm, runner
from . import pack as packing
from .checks import ParameterError, check_choice
from .llm import loading, trainers
from .paths import executed_dir, project_root, results_dir, scratch_cache
from .results import _jsonable, atomic_write_text
from .timing import timed
from .training import resolve_device

NOTEBOOKS = ("sharpness/rwp", "sharpness/marwp")
PART_I_CHAPTERS = ("rwp", "marwp")  # the same overrides for both (SGD and SAM are shared checkpoints)
LLM_MODEL = "Qwen/Qwen2-7B"  # the Baichuan Alignment chapter's paper model, as a stand-in of its architecture
FOLDER = "gpu-check"

# Each size: the step-cost benchmark's settings (over the paper profile's), the Part I chapters' overrides of
# the smoke profile, and the language-model stage (stand-in depth and width, steps, batch, tokens per sequence).
SIZES: dict[str, dict[str, Any]] = {
    "smallest": {
        "bench": dict(methods=["sgd", "arwp"], batch_size=8, warmup=0, repeats=1, steps_per_repeat=1, time_budget=1.0),
        "part1": dict(
            n_train=64,
            n_test=128,
            epochs=1,
            n_seeds=2,
            probe_samples=32,
            hessian_samples=32,
            lanczos_max_matvecs=8,
            sharpness_directions=2,
            landscape_points=3,
            step_timing_steps=1,
        ),
        "llm": dict(layers=2, hidden=64, steps=2, batch_size=2, max_length=128),
    },
    # 5,000 images, 12 seeds: the power the Part I claims need (>= 12 seeds); batch 128 for 30 epochs (1,170
    # steps per run) toward the converged regime of the smoke profile. Estimated, not yet measured on a GPU: a
    # small-CNN step costs ~2 ms there (launch-bound), SAM and the RWP family twice that, so ~5 min for the
    # 108 runs of both chapters; `--set epochs N` changes it
    "default": {
        "bench": {},
        "part1": dict(
            n_train=5000, n_test=5000, epochs=30, batch_size=128, n_seeds=12, probe_samples=1024, hessian_samples=512
        ),
        "llm": dict(layers=16, hidden=1536, steps=20, batch_size=16, max_length=2048),
    },
}
STEPS = ("bench", "part1", "llm")


def machine_slug(info: dict[str, Any]) -> str:
    """A file-name part for a machine: ``cuda-nvidia-h200``, ``cpu-amd-epyc-7763-2-cores``."""

    def clean(name: str) -> str:
        return re.sub(r"\(r\)|\(tm\)|\bprocessor\b|\b\d+-core\b|\b\d+gb\b|\bhbm\d*e?\b", "", name.lower())

    device = str(info.get("device", ""))
    if info.get("device_type") == "cuda" or device.startswith("cuda"):
        name = device[device.find("(") + 1 : device.rfind(")")] if "(" in device else "gpu"
        text = f"cuda-{clean(name)}"
    else:
        text = f"cpu-{clean(info.get('cpu_model') or info.get('processor') or 'cpu')}-{info.get('cpu_count')}-cores"
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def bench_step(device: Any, settings: dict[str, Any], out: Path, slug: str) -> dict[str, Any]:
    """The step-cost benchmark at the paper profile's model and batch size; kept as step-cost-<machine>.json."""
    result = benchmarks.run("step-cost", device=device, profile="paper", **settings)
    path = result.save(out / f"step-cost-{slug}.json")
    return {
        "file": path.name,
        "table": result.to_dict()["table"],
        "settings": {k: v for k, v in result.settings.items() if k != "rounds_ms"},
    }


def part1_step(device: str, overrides: dict[str, Any], out_dir: Path, res_dir: Path, echo: Callable) -> dict:
    """The RWP and m-ARWP chapters, smoke profile with ``overrides``, executed by the ordinary runner."""
    notebooks = runner.resolve(list(NOTEBOOKS))
    outcomes = runner.run(
        notebooks,
        params={"profile": "smoke", "device": device},
        force=True,
        out_dir=out_dir,
        res_dir=res_dir,
        echo=echo,
        overrides={c: dict(overrides) for c in PART_I_CHAPTERS},
        progress=False,
    )
    found = {}
    for o in outcomes:
        entry: dict[str, Any] = {"status": o.status, "seconds": o.seconds, "error": o.error, "device": o.device}
        for name in o.results:
            saved = json.loads((res_dir / name).read_text())
            keep = (
                "key",
                "claim",
                "verdict",
                "reason",
                "estimate",
                "low",
                "high",
                "p",
                "power",
                "power_paper",
                "mde",
                "n",
                "unit",
                "sesoi",
            )
            entry["claims"] = [{k: c.get(k) for k in keep} for c in saved.get("claims", [])]
            entry["timings"] = saved.get("timings", {})
            entry["checks"] = [{"name": c["name"], "passed": c["passed"]} for c in saved.get("checks", [])]
        found[o.notebook] = entry
    return {"overrides": overrides, "notebooks": found}


def llm_step(device: Any, size: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Full fine-tuning (SFT, packed) of a stand-in of :data:`LLM_MODEL`'s architecture on the HHH pairs."""
    lm = loading.stand_in_causal_lm(LLM_MODEL, layers=size["layers"], hidden=size["hidden"], device=device)
    pairs = data.load("hhh-alignment")
    rows = trainers.sft_rows([p["prompt"] for p in pairs], [p["chosen"] for p in pairs])
    config = trainers.TrainConfig(
        steps=size["steps"],
        batch_size=size["batch_size"],
        max_length=size["max_length"],
        lora_r=None,
        packing=True,
        learning_rate=1e-5,
        seed=seed,
    )
    if lm.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(lm.device)
    trained = llm.sft(lm, trainers.to_dataset(rows), config=config, output_name="gpu-check-sft")
    record = trained.record
    peak = torch.cuda.max_memory_allocated(lm.device) if lm.device.type == "cuda" else None
    return {
        "model": f"stand-in of {LLM_MODEL}",
        **lm.info,
        "layers": size["layers"],
        "hidden": size["hidden"],
        "parameters": lm.parameters,
        "steps": record.history.steps,
        "batch_size": size["batch_size"],
        "max_length": size["max_length"],
        "seconds": record.history.total_seconds,
        "seconds_per_step": record.seconds_per_step,
        "tokens": record.history.tokens,
        "tokens_per_second": record.history.tokens_per_second,
        "losses": record.history.train_loss,
        "peak_memory_gb": None if peak is None else round(peak / 1e9, 2),
        "loaded_from_cache": record.loaded,
    }


def run(
    *,
    device: str = "auto",
    size: str = "default",
    pack: Path | str | None = None,
    out: Path | str | None = None,
    steps: tuple[str, ...] = STEPS,
    part1: dict[str, Any] | None = None,
    echo: Callable = print,
) -> Path:
    """Run the GPU check (see the module docstring); return the path of its summary. ``part1`` overrides fields
    of the Part I chapters' configuration over the size's (``reprobook gpu-check --set epochs 20``)."""
    check_choice("size", size, SIZES)
    for step in steps:
        check_choice("steps", step, STEPS)
    if pack is not None:
        manifest = packing.unpack(pack)
        echo(f"unpacked {', '.join([*manifest['entries'], *manifest['folders']])} from {pack}")
    dev = resolve_device(device)
    info = benchmarks.machine(dev)
    info["device_type"] = dev.type
    slug = machine_slug(info)
    out = Path(out or (project_root() / "book" / "measurements" if size == "default" else results_dir() / FOLDER))
    out.mkdir(parents=True, exist_ok=True)
    chosen = {**SIZES[size], "part1": {**SIZES[size]["part1"], **(part1 or {})}}
    summary: dict[str, Any] = {
        "name": "gpu-check",
        "size": size,
        "machine": info,
        "started_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seconds": {},
    }
    saved_cache = os.environ.get("REPROBOOK_CACHE")
    os.environ["REPROBOOK_CACHE"] = str(scratch_cache(FOLDER))  # its trained models never meet the book's
    try:
        for step in steps:
            with timed() as t:
                echo(f"[gpu-check] {step} ({size}) on {info.get('device')} ...")
                if step == "bench":
                    summary["step_cost"] = bench_step(dev, chosen["bench"], out, slug)
                elif step == "part1":
                    summary["part1"] = part1_step(
                        str(dev), chosen["part1"], executed_dir() / FOLDER, results_dir() / FOLDER, echo
                    )
                else:
                    summary["llm_training"] = llm_step(dev, chosen["llm"])
            summary["seconds"][step] = round(t.seconds, 1)
            echo(f"[gpu-check] {step}: {summary['seconds'][step]:.1f} s")
    finally:
        if saved_cache is None:
            os.environ.pop("REPROBOOK_CACHE", None)
        else:
            os.environ["REPROBOOK_CACHE"] = saved_cache
    summary["finished_at"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    summary["total_seconds"] = round(sum(summary["seconds"].values()), 1)

    path = out / f"gpu-check-{slug}.json"
    atomic_write_text(path, json.dumps(_jsonable(summary), indent=2) + "\n")
    failed = [n for n, e in summary.get("part1", {}).get("notebooks", {}).items() if e["status"] == "failed"]
    if failed:
        raise RuntimeError(
            f"the GPU check's chapters failed: {', '.join(failed)} (logs in {executed_dir() / FOLDER}); "
            f"what was measured is in {path}"
        )
    return path


def submit(options: Any, **kwargs: Any) -> Path:
    """Run :func:`run` as one Slurm job (submitit, ``options``: a :class:`reprobook.dispatch.SlurmOptions`) and
    wait for it; the job's logs go to ``executed/gpu-check/.jobs``."""
    if options.gpus_per_job == 0:
        raise ParameterError("gpus_per_job", 0, "at least 1 (the GPU check measures a GPU)")
    executor = dispatch.submitit_executor(options, "paper", executed_dir() / FOLDER / ".jobs")
    executor.update_parameters(timeout_min=options.time_min or 30)
    job = executor.submit(run, **kwargs)
    return job.result()
