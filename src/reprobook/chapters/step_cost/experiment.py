"""The step-cost chapter's checks, measurement and claim tests, each a function returning one result object.

Explained in ``notebooks/sharpness/step_cost.ipynb``. The timing itself is the benchmark
``reprobook bench step-cost`` (:mod:`reprobook.benchmarks.step_cost`); this module runs it for the
chapter and reads ARWP's ratio to SGD, with its interval over the rounds, against the goal (the figure and
the notes that say so are in :mod:`.report`). What one device can check of the papers' cost claims is a fact
(passes per step, counted); the savings they claim need two devices.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from ... import claims
from ...batchnorm import frozen_bn_stats
from ...configs import marwp as marwp_paper
from ...configs.marwp import MARWPConfig
from ...models import build_model
from ...results import facts, glued
from ...sharpness.parallel import BatchedRWP
from ...sharpness.rwp import RWP
from ..flat_minima.runs import LABELS, make_optimizer
from .report import (
    ARWP_GOAL,
    arwp_goal_note,
    arwp_over_sgd,
    arwp_reading,
    batched_note,
    before_batched,
    calls_note,
    ratio_figure,
    scale_note,
)

# the formats of StepCost.facts (the rest as glue formats them by default)
FACT_FORMATS = {
    **dict.fromkeys(
        (
            "ratio_sam",
            "ratio_rwp",
            "ratio_rwp_batched",
            "ratio_sgd_double_batch",
            "ratio_mrwp",
            "ratio_arwp",
            "ratio_marwp",
            "cpu_ratio_arwp",
            "arwp_low",
            "arwp_high",
            "arwp_extra_ms",
        ),
        ".2f",
    ),
    "arwp_coverage": ".1%",
    "arwp_goal": "g",
    "sgd_ms": ".1f",
}


@dataclass
class UpdateCheck:
    """The batched RWP step against the sequential one: largest relative gap after a few steps."""

    passed: bool
    detail: str
    facts: pd.Series = glued()  # gap (the largest relative gap), tensors compared, steps taken


def same_update_check(cfg: MARWPConfig, seed: int, steps: int = 3, tolerance: float = 1e-10) -> UpdateCheck:
    """Train a small float64 CNN with BatchNorm ``steps`` steps with
    :class:`~reprobook.sharpness.parallel.BatchedRWP` and with the sequential :class:`~reprobook.sharpness.rwp.RWP`
    from the same initialisation, batches and noise seed; passed when every weight and BatchNorm tensor agrees to
    a relative ``tolerance``."""
    torch.manual_seed(seed)
    sequential_model = build_model("small_cnn", in_channels=1, num_classes=10, width=4).double()
    batched_model = copy.deepcopy(sequential_model)
    kwargs: dict[str, Any] = dict(
        gamma=cfg.gamma, alpha=cfg.alpha, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    sequential = RWP(sequential_model.parameters(), generator=torch.Generator().manual_seed(seed), **kwargs)
    batched = BatchedRWP(batched_model, generator=torch.Generator().manual_seed(seed), **kwargs)
    data = torch.Generator().manual_seed(seed + 1)
    for _ in range(steps):
        x = torch.randn(32, 1, 28, 28, generator=data, dtype=torch.float64)
        y = torch.randint(0, 10, (32,), generator=data)

        def closure():
            sequential.zero_grad()
            with frozen_bn_stats(sequential_model, enabled=sequential.in_perturbed_pass):
                loss = torch.nn.functional.cross_entropy(sequential_model(x), y)
            loss.backward()
            return loss

        sequential.step(closure)
        batched.step_batch(x, y)
    gaps = [
        float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))
        for a, b in zip(batched_model.state_dict().values(), sequential_model.state_dict().values())
        if a.is_floating_point()
    ]
    gap = max(gaps)
    detail = f"largest relative gap {gap:.1e} over {len(gaps)} tensors after {steps} steps (tolerance {tolerance:g})"
    return UpdateCheck(gap < tolerance, detail, facts({"gap": ".0e"}, gap=gap, tensors=len(gaps), steps=steps))


@dataclass
class StepCost:
    """One run of ``reprobook bench step-cost`` on this machine, with what the chapter says about it."""

    result: Any  # the BenchResult
    table: Any  # pandas.DataFrame as the chapter shows it
    recorded: Any  # pandas.DataFrame of the measurements kept from other machines (None if there are none)
    busy: bool  # more runnable processes than cores before and after the timing
    # what the prose quotes: ratio_<method> (sam, rwp, rwp_batched, sgd_double_batch, mrwp, arwp, marwp) and
    # cpu_ratio_arwp, ARWP's median per-round ratio with its distribution-free interval (arwp_low, arwp_high,
    # arwp_coverage: 95 % or more with 6 rounds or more) against arwp_goal (arwp_goal_met: met, not met or not
    # settled, read on the interval; arwp_extra_ms), the run's settings (machine, threads, model, batch, warmup,
    # rounds, steps, sgd_ms) and the notes (scale_note, arwp_goal_recorded, load_note, batched_note, calls_sgd,
    # calls_arwp, calls_note, recorded_note)
    facts: pd.Series = glued()
    fig_ratios: Any = glued()


def session_is_gpu(device) -> bool:
    return torch.device(device).type == "cuda"


def recorded_table(others: list) -> Any:
    """The step-cost measurements recorded on other machines, one row per measurement (machine, commit, scale,
    each method's time per step as a multiple of SGD's on that machine); a method a machine did not time shows
    a dash. None when there are none."""
    if not others:
        return None
    rows = []
    for r in others:
        row = {
            "machine": r.device,
            "commit": r.machine.get("git_commit") or "unknown",
            "profile": r.settings.get("profile"),
            "model": r.settings.get("model"),
            "batch": r.settings.get("batch_size"),
            "torch threads": r.settings.get("torch_threads"),
        }
        row.update({m: round(v, 2) for m, v in zip(r.table.method, r.table.ratio_to_sgd)})
        rows.append(row)
    return pd.DataFrame(rows).set_index("machine").astype(object).fillna("—")


def step_cost(result: Any, others: list, device: torch.device) -> StepCost:
    """What the chapter shows of ``result``, the step-cost benchmark run on ``device`` (``reprobook bench
    step-cost``, run by the notebook: the benchmarks sit above the methods), beside ``others``, the
    measurements recorded in ``book/measurements`` (``benchmarks.recorded("step-cost")``)."""
    table, settings = result.table, result.settings
    ratio = dict(zip(table.method, table.ratio_to_sgd))
    load = [settings["load_average_before"], settings["load_average_after"]]
    busy = None not in load and min(load) > settings["cpu_count"]
    load_note = (
        "The system reports no load average."
        if None in load
        else f"The machine's load average (runnable processes, 1 min) was {load[0]:.1f} before and {load[1]:.1f} "
        f"after the measurement, on {settings['cpu_count']} cores: "
        + (
            "other work competed for the cores, so these ratios are noisier than on an idle machine and the "
            "cost verdicts read not comparable."
            if busy
            else "the cores were not oversubscribed."
        )
    )
    shown = table.assign(
        **{
            "time per step (ms)": table.median_ms.round(2),
            "quartiles (ms)": [f"{a:.2f} – {b:.2f}" for a, b in zip(table.p25_ms, table.p75_ms)],
            "× SGD": table.ratio_to_sgd.round(2),
            "× SGD, quartiles": [f"{a:.2f} – {b:.2f}" for a, b in zip(table.ratio_low, table.ratio_high)],
            "× SGD, CPU time": table.cpu_ratio_to_sgd.round(2),
        }
    )
    shown = shown.rename(
        columns={"optimizer": "optimiser", "sequential_passes": "passes in a chain", "operator_calls": "operator calls"}
    )
    shown = shown[
        [
            "optimiser",
            "gradients",
            "passes in a chain",
            "time per step (ms)",
            "quartiles (ms)",
            "× SGD",
            "× SGD, quartiles",
            "× SGD, CPU time",
            "operator calls",
        ]
    ].set_index("optimiser")
    recorded = recorded_table(others)
    recorded_note = (
        f"{len(others)} such measurement(s) are shown in the figure and the table below (ratios to SGD on "
        "their own machine)."
        if others
        else "none is recorded in this copy of the book, so only this run's numbers appear."
    )
    gpu_after = [r for r in others if r.machine.get("device_type") == "cuda" and not before_batched(r)]
    if session_is_gpu(device):
        gpu_note = "This run itself ran on a GPU."
    elif gpu_after:
        gpu_note = "The batched ARWP step has a GPU measurement among them."
    else:
        gpu_note = (
            "No GPU measurement of the batched ARWP step is recorded yet: the recorded GPU rows time the "
            "per-parameter step it replaced."
            if others
            else "No GPU measurement is recorded."
        )
    recorded_note = f"{recorded_note} {gpu_note}"
    panels = [(table, f"this run: {result.device}, {settings['model']}, batch {settings['batch_size']}")] + [
        (
            r.table,
            f"recorded: {r.device}, {r.settings.get('model')}, batch {r.settings.get('batch_size')}, "
            f"{r.settings.get('rounds_run')} rounds"
            + (",\nbefore the ARWP step was batched" if before_batched(r) else ""),
        )
        for r in others
    ]
    calls = dict(zip(table.method, table.operator_calls))
    model = f"{settings['model']} ({', '.join(f'{k}={v}' for k, v in settings['model_kwargs'].items())})"
    interval, arwp_met = arwp_reading(result)
    if busy:
        arwp_met = "not settled (the machine was busier than its cores)"
    by_method = table.set_index("method")
    _, sgd_ms, arwp_extra = arwp_over_sgd(table)
    return StepCost(
        result,
        shown,
        recorded,
        busy,
        facts(
            FACT_FORMATS,
            ratio_sam=ratio["sam"],
            ratio_rwp=ratio["rwp"],
            ratio_rwp_batched=ratio["rwp-batched"],
            ratio_sgd_double_batch=ratio["sgd-double-batch"],
            ratio_mrwp=ratio["mrwp"],
            ratio_arwp=ratio["arwp"],
            ratio_marwp=ratio["marwp"],
            cpu_ratio_arwp=float(by_method.loc["arwp", "cpu_ratio_to_sgd"]),
            arwp_low=interval["low"],
            arwp_high=interval["high"],
            arwp_coverage=interval["coverage"],
            arwp_goal=ARWP_GOAL,
            arwp_goal_met=arwp_met,
            arwp_extra_ms=arwp_extra,
            scale_note=scale_note(settings, settings["profile"]),
            arwp_goal_recorded=arwp_goal_note(others),
            machine=result.device,
            threads=settings["torch_threads"],
            model=model,
            batch=" × ".join(str(n) for n in settings["input_shape"]),
            warmup=settings["warmup"],
            rounds=settings["rounds_run"],
            steps=settings["steps_per_repeat"],
            sgd_ms=sgd_ms,
            load_note=load_note,
            batched_note=batched_note(ratio),
            calls_sgd=int(calls["sgd"]),
            calls_arwp=int(calls["arwp"]),
            calls_note=calls_note(others),
            recorded_note=recorded_note,
        ),
        ratio_figure(panels),
    )


@dataclass
class Passes:
    """Forward-backward passes one optimiser step of each method takes, counted (the cost claims' facts)."""

    counts: dict[str, int]
    table: Any  # pandas.DataFrame: passes counted, and whether the second pass needs the first's gradient
    facts: pd.Series = glued()  # sam, arwp: the passes of one step of each


# methods whose second pass needs the first's gradient (the perturbation is the normalised clean gradient)
CHAINED = ("sam",)


def passes_per_step(cfg: MARWPConfig, seed: int) -> Passes:
    """Count the forward-backward passes (calls of the closure) one step of every method of the chapters takes,
    on a freshly initialised model of ``cfg`` and one random batch: the number each cost claim rests on."""
    data = torch.Generator().manual_seed(seed)
    channels = int(cfg.model_kwargs.get("in_channels", 3))
    side = 28 if channels == 1 else 32
    x = torch.randn(4, channels, side, side, generator=data)
    y = torch.randint(0, int(cfg.model_kwargs.get("num_classes", 10)), (4,), generator=data)
    counts = {}
    for method in ("sgd", "sam", "rwp", "mrwp", "arwp", "marwp"):
        torch.manual_seed(seed)
        model = build_model(cfg.model, **cfg.model_kwargs).train()
        optimizer = make_optimizer(method, model.parameters(), cfg, generator=torch.Generator().manual_seed(seed))
        calls = [0]

        def closure(model=model, optimizer=optimizer, calls=calls):
            calls[0] += 1
            optimizer.zero_grad()
            with frozen_bn_stats(model, enabled=getattr(optimizer, "in_perturbed_pass", False)):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        optimizer.step(closure)
        counts[method] = calls[0]
    table = pd.DataFrame(
        [
            {
                "method": LABELS[m],
                "forward-backward passes per step": c,
                "second pass needs the first's gradient": "yes" if m in CHAINED else "no" if c > 1 else "—",
            }
            for m, c in counts.items()
        ]
    ).set_index("method")
    return Passes(counts, table, facts(None, sam=counts["sam"], arwp=counts["arwp"]))


def chapter_claims(cfg: MARWPConfig, cost: StepCost, profile: str) -> list[claims.ClaimTest]:
    """The papers' cost claims (:func:`reprobook.configs.marwp.step_cost_claim_specs`): every one whose saving
    rests on two devices computing the two gradients at once is *not comparable* on one device."""
    settings, f = cost.result.settings, cost.facts
    scale = (
        f"{profile} profile: {settings['model']}, batch {settings['batch_size']}, one device: {f.machine}, "
        f"{settings['torch_threads']} torch thread(s), {settings['rounds_run']} rounds"
    )
    said = {
        "rwp_parallel": (
            f"one device: RWP batched {f.ratio_rwp_batched:.2f}×, sequential {f.ratio_rwp:.2f}× "
            "SGD; the two-process step is checked for correctness by the test suite, not timed on two "
            "devices"
        ),
        "marwp_cheaper": (
            f"one device, gradients one after the other: m-ARWP {f.ratio_marwp:.2f}×, SAM {f.ratio_sam:.2f}× SGD"
        ),
    }
    tests = [
        claims.evaluate(spec, this_run=said[spec.key], scale=scale) for spec in marwp_paper.step_cost_claim_specs(cfg)
    ]
    return claims.holm_tests(tests)
