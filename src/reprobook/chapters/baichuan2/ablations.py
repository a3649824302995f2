"""Explained in `notebooks/alignment/baichuan2.ipynb`: NormHead where instabilities exist.

Baichuan 2 reports that NormHead "stabilises training significantly". At a small scale, instability shows as
*learning-rate sensitivity* (Wortsman et al., 2023, small-scale proxies): how much worse the final loss gets away
from the best learning rate. :func:`lr_sweep`: one model size trained at every learning rate of a sweep, NormHead
on and off (max-z off in both), with the same seeds. Per seed and arm the **learning-rate sensitivity** is

    S = mean over η of [min(L(η), L₀) − L*],     L* = min over η of min(L(η), L₀),

with L(η) the final validation loss at learning rate η and L₀ = ln V the loss of the uniform predictor (a run
that diverged counts as L₀). The claim: S is lower with NormHead, paired by seed. The first seed's runs are
trained again with twice the steps: where that moves a final loss by the claim's smallest effect of interest or
more, the budget still decides the losses, and the claim is not read (:func:`budget_change`). The max-z loss's
dose-response is in :mod:`.maxz`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ...alignment.pretraining import LMData, ModelSize, TrainSettings, train_runs
from ...checks import check_int
from ...results import facts, glued
from ...training import History

NEAR_BEST = 0.1  # nats: a learning rate "works" when its final loss is within this of the best of the sweep


def cap_loss(loss: float, initial: float) -> float:
    """min(L, L₀): a final loss capped at the uniform predictor's ``initial``; a non-finite one (a diverged run)
    counts as ``initial``."""
    return min(loss, initial) if math.isfinite(loss) else initial


def budget_change(short: Sequence[float], long: Sequence[float], initial: float) -> tuple[float, int]:
    """The largest absolute change of a capped final loss (:func:`cap_loss`) between the same runs trained at two
    budgets (``short``, ``long``: the runs' final losses, in the same order), and the index of its run (NaN, −1:
    no runs). At the claim's SESOI or above, the budget still decides the losses: they measure speed, not
    stability."""
    changes = [abs(cap_loss(a, initial) - cap_loss(b, initial)) for a, b in zip(short, long, strict=True)]
    if not changes:
        return float("nan"), -1
    i = int(np.argmax(changes))
    return float(changes[i]), i


# --------------------------------------------------------------------------------------------- measures
def lr_sensitivity(losses: Sequence[float], initial: float) -> float:
    """Wortsman et al.'s learning-rate sensitivity of one sweep: mean over the learning rates of
    min(L, L₀) − the best of them (a non-finite loss counts as L₀)."""
    capped = [cap_loss(x, initial) for x in losses]
    return float(np.mean(capped) - min(capped))


def largest_good_lr(
    lrs: Sequence[float], losses: Sequence[float], initial: float, tolerance: float = NEAR_BEST
) -> float:
    """The largest learning rate whose final loss is within ``tolerance`` nats of the sweep's best."""
    capped = [cap_loss(x, initial) for x in losses]
    best = min(capped)
    return float(max(lr for lr, x in zip(lrs, capped) if x <= best + tolerance))


# --------------------------------------------------------------------------------------------- the sweep
@dataclass
class SweepRun:
    normhead: bool
    lr: float
    seed: int
    history: History
    loaded: bool


@dataclass
class LRSweep:
    """NormHead on and off across a learning-rate sweep: runs, per-seed sensitivities and the figure."""

    runs: list[SweepRun]
    table: Any  # DataFrame: arm × learning rate → mean final loss, diverged runs
    sensitivity: dict  # arm ("on"/"off") → [S per seed]
    fig: Any = glued()
    # size, steps, seeds, lrs, uniform_loss; per arm (on, off): sensitivity_<arm>, best_<arm> (the best mean final
    # loss), good_lr_<arm> (median over seeds of the largest learning rate within NEAR_BEST of the best),
    # diverged_<arm>; loaded; budget_steps: the steps of the budget check (the first seed's runs trained again
    # longer); budget_change: the largest change of a run's final loss there (nats), budget_run: which run
    facts: pd.Series = glued()
    budget: Any = None  # DataFrame: the first seed's runs, final loss at the sweep's steps and at budget_steps


SWEEP_FORMATS = {
    **dict.fromkeys(("uniform_loss", "sensitivity_on", "sensitivity_off", "best_on", "best_off"), ".3f"),
    "good_lr_on": ".3g",
    "good_lr_off": ".3g",
    "budget_change": ".3f",
}


def lr_sweep(
    data: LMData,
    size: ModelSize,
    base: TrainSettings,
    lrs: Sequence[float],
    seeds: Sequence[int],
    *,
    check_factor: int = 2,
    device: Any = "auto",
    threads: int | None = None,
) -> LRSweep:
    """Train ``size`` at every learning rate of ``lrs``, NormHead on and off (max-z off), with every seed (on
    ``threads`` intra-op threads; None: the run's; side by side where they can be: :func:`train_runs`); the
    first seed's runs also at ``check_factor`` times the steps, the budget check (:func:`budget_change`)."""
    check_factor = check_int("sweep_check_factor", check_factor, low=2)
    pairs = [(normhead, float(lr)) for normhead in (True, False) for lr in lrs]

    def run(steps: int, normhead: bool, lr: float) -> TrainSettings:
        return replace(base, steps=steps, lr=lr, normhead=normhead, max_z_weight=0.0)

    plan = [(nh, lr, run(base.steps, nh, lr), seed) for nh, lr in pairs for seed in seeds]
    longer = [(run(base.steps * check_factor, nh, lr), seeds[0]) for nh, lr in pairs]
    # the longer runs first: the longest loops start first when they train side by side
    done = list(train_runs(data, size, [*longer, *[(s, seed) for *_, s, seed in plan]], device=device, threads=threads))
    checked, done = done[: len(longer)], done[len(longer) :]
    runs = [SweepRun(nh, lr, seed, history, loaded) for (nh, lr, _, seed), (history, loaded) in zip(plan, done)]
    initial = math.log(data.vocab_size)
    first = {(r.normhead, r.lr): r.history.final_eval_loss for r in runs if r.seed == seeds[0]}
    short_loss = [first[arm] for arm in pairs]
    long_loss = [history.final_eval_loss for history, _ in checked]
    change, which = budget_change(short_loss, long_loss, initial)
    budget = pd.DataFrame(
        {
            "NormHead": ["on" if nh else "off" for nh, _ in pairs],
            "learning rate": [lr for _, lr in pairs],
            f"final loss, {base.steps} steps": short_loss,
            f"final loss, {base.steps * check_factor} steps": long_loss,
        }
    )
    loss = {(r.normhead, r.lr, r.seed): r.history.final_eval_loss for r in runs}
    arms = {"on": True, "off": False}
    sens = {a: [lr_sensitivity([loss[(nh, lr, s)] for lr in lrs], initial) for s in seeds] for a, nh in arms.items()}
    good = {
        a: float(np.median([largest_good_lr(lrs, [loss[(nh, lr, s)] for lr in lrs], initial) for s in seeds]))
        for a, nh in arms.items()
    }
    table = pd.DataFrame(
        [
            {
                "NormHead": a,
                "learning rate": lr,
                "final validation loss (mean)": float(np.mean([cap_loss(loss[(nh, lr, s)], initial) for s in seeds])),
                "diverged": sum(r.history.diverged for r in runs if r.normhead == nh and r.lr == lr),
            }
            for a, nh in arms.items()
            for lr in lrs
        ]
    )
    best = {a: float(table[table["NormHead"] == a]["final validation loss (mean)"].min()) for a in arms}
    return LRSweep(
        runs,
        table,
        sens,
        fig=_sweep_figure(runs, lrs, initial),
        facts=facts(
            SWEEP_FORMATS,
            size=size.name,
            steps=base.steps,
            seeds=len(seeds),
            lrs=", ".join(f"{lr:g}" for lr in lrs),
            uniform_loss=initial,
            sensitivity_on=float(np.mean(sens["on"])),
            sensitivity_off=float(np.mean(sens["off"])),
            best_on=best["on"],
            best_off=best["off"],
            good_lr_on=good["on"],
            good_lr_off=good["off"],
            diverged_on=sum(r.history.diverged for r in runs if r.normhead),
            diverged_off=sum(r.history.diverged for r in runs if not r.normhead),
            loaded=sum(r.loaded for r in runs) + sum(loaded for _, loaded in checked),
            budget_steps=base.steps * check_factor,
            budget_change=change,
            budget_run="–" if which < 0 else f"learning rate {pairs[which][1]:g}, NormHead {budget.NormHead[which]}",
        ),
        budget=budget,
    )


def _sweep_figure(runs: list[SweepRun], lrs: Sequence[float], initial: float):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for k, (nh, label) in enumerate(((True, "NormHead on"), (False, "NormHead off"))):
        colour = f"C{k}"
        for r in runs:
            if r.normhead == nh:
                y = r.history.final_eval_loss
                ax.plot(
                    [r.lr],
                    [cap_loss(y, initial)],
                    "x" if r.history.diverged else ".",
                    color=colour,
                    alpha=0.6,
                )
        means = [
            np.mean([cap_loss(r.history.final_eval_loss, initial) for r in runs if r.normhead == nh and r.lr == lr])
            for lr in lrs
        ]
        ax.plot(lrs, means, "o-", color=colour, label=f"{label} (mean; dots: seeds, ×: diverged)")
    ax.axhline(initial, color="grey", ls=":", lw=1, label="uniform predictor (ln V)")
    ax.set(xscale="log", xlabel="peak learning rate", ylabel="final validation loss (nats)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
