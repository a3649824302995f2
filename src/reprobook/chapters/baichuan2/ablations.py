"""Explained in `notebooks/alignment/baichuan2.ipynb`: NormHead and the max-z loss where instabilities exist.

Baichuan 2 reports that NormHead "stabilises training significantly" and that the max-z loss keeps the
logits small, which "stabilises training and makes inference more robust" to the repetition penalty.
At a small scale, instability shows as *learning-rate sensitivity* (Wortsman et al., 2023, small-scale
proxies): how much worse the final loss gets away from the best learning rate. Two experiments:

- :func:`lr_sweep`: one model size trained at every learning rate of a sweep, NormHead on and off (max-z
  off in both), with the same seeds. Per seed and arm the **learning-rate sensitivity** is

      S = mean over η of [min(L(η), L₀) − L*],     L* = min over η of min(L(η), L₀),

  with L(η) the final validation loss at learning rate η and L₀ = ln V the loss of the uniform predictor
  (a run that diverged counts as L₀). The claim: S is lower with NormHead, paired by seed. The first seed's
  runs are trained again with twice the steps: where that moves a final loss by the claim's smallest effect of
  interest or more, the budget still decides the losses, and the claim is not read (:func:`budget_change`).
- :func:`maxz_dose_response`: NormHead off and no weight decay on the output layer (the two other brakes
  on the logits removed), the max-z weight at 0 and at increasing doses, the same seeds. Per run: the
  mean over the last quarter of training of the quantity the loss penalises, the mean over tokens of each
  token's largest logit; the sensitivity of the trained model to the repetition penalty
  (:func:`repetition_sensitivity`, forward passes only); the final validation loss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

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


def late_mean(values: Sequence[float], share: float = 0.25) -> float:
    """The mean of the last ``share`` of ``values`` (NaN when empty)."""
    if not values:
        return float("nan")
    k = max(1, int(round(share * len(values))))
    return float(np.mean(values[-k:]))


@torch.no_grad()
def repetition_sensitivity(
    model: torch.nn.Module, blocks: torch.Tensor, penalty: float = 1.3, batch_size: int = 8
) -> float:
    """How much the repetition penalty changes the model's next-token distribution: the mean over the
    positions of ``blocks`` of KL(p ‖ p_θ), p the model's distribution and p_θ the distribution after the
    penalty θ of ``transformers``' ``RepetitionPenaltyLogitsProcessor`` (a logit z of a token already in
    the context becomes z/θ if z > 0, z·θ otherwise). The larger the logits, the larger the change."""
    total, count = 0.0, 0
    for start in range(0, len(blocks), batch_size):
        x = blocks[start : start + batch_size]
        logits = model(input_ids=x).logits.float()
        # seen[b, t, v]: token v occurs in x[b, :t + 1], the context of the prediction at position t
        seen = torch.nn.functional.one_hot(x, logits.shape[-1]).cumsum(1) > 0
        penalised = torch.where(seen, torch.where(logits > 0, logits / penalty, logits * penalty), logits)
        logp, logq = logits.log_softmax(-1), penalised.log_softmax(-1)
        kl = (logp.exp() * (logp - logq)).sum(-1)
        total += float(kl.sum())
        count += kl.numel()
    return total / count


def decline_per_step(values: Sequence[float]) -> float:
    """−slope of log(value) against the dose index 0, 1, 2, …: how much a measure falls per dose step
    (a relative change: 0.105 is about 10 % less per step)."""
    y = np.log(np.asarray(values, dtype=float))
    k = np.arange(len(y), dtype=float)
    return float(-np.polyfit(k, y, 1)[0])


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


# --------------------------------------------------------------------------------------------- max-z
@dataclass
class DoseRun:
    weight: float
    seed: int
    history: History
    loaded: bool
    mean_max_logit: float  # late mean of the mean over tokens of each token's largest logit
    repetition_kl: float  # repetition_sensitivity of the trained model

    @property
    def loss(self) -> float:
        return self.history.final_eval_loss


@dataclass
class DoseResponse:
    """The max-z weight from 0 up, NormHead off and no weight decay on the output layer."""

    runs: list[DoseRun]
    table: Any  # DataFrame: weight → mean max logit, repetition KL, loss (means over seeds)
    weights: tuple
    seeds_list: tuple
    fig: Any = glued()
    # size, lr, steps, seeds, penalty, doses; means over seeds of the mean max-logit, the repetition KL and the
    # loss at weight 0 (logit_none, kl_none, loss_none), the paper's weight (logit_paper, loss_paper) and the
    # largest weight (logit_largest, kl_largest); diverged, loaded
    facts: pd.Series = glued()

    def per_seed(self, attribute: str, weight: float) -> list[float]:
        """``attribute`` of the runs at ``weight``, in the order of the seeds."""
        index = {(r.weight, r.seed): r for r in self.runs}
        return [getattr(index[(weight, s)], attribute) for s in self.seeds_list]

    def declines(self, attribute: str) -> list[float]:
        """Per seed, :func:`decline_per_step` of ``attribute`` across the weights (smallest first)."""
        index = {(r.weight, r.seed): r for r in self.runs}
        return [decline_per_step([getattr(index[(w, s)], attribute) for w in self.weights]) for s in self.seeds_list]


def maxz_dose_response(
    data: LMData,
    size: ModelSize,
    base: TrainSettings,
    weights: Sequence[float],
    seeds: Sequence[int],
    *,
    paper_weight: float,
    penalty: float,
    eval_blocks: int,
    device: Any = "auto",
    threads: int | None = None,
) -> DoseResponse:
    """Train ``size`` with every max-z weight of ``weights`` (NormHead off, no weight decay on the output
    layer) and every seed (on ``threads`` intra-op threads; None: the run's; side by side where they can be:
    :func:`train_runs`); measure each run's late mean max-logit and its repetition sensitivity."""
    weights = tuple(sorted(float(w) for w in weights))
    plan = [
        (w, replace(base, normhead=False, output_weight_decay=False, max_z_weight=w), s) for w in weights for s in seeds
    ]
    done = train_runs(data, size, [(s, seed) for _, s, seed in plan], device=device, threads=threads, return_model=True)
    runs = []
    blocks = data.val_blocks[:eval_blocks]
    kl: float | str  # a run's KL in the loop, a column name below
    for (w, _, seed), (model, history, loaded) in zip(plan, done):
        kl = float("nan") if history.diverged else repetition_sensitivity(model, blocks, penalty)
        runs.append(DoseRun(w, seed, history, loaded, late_mean(history.series["mean_max_logit"]), kl))
    frame = pd.DataFrame(
        [
            {
                "max-z weight": r.weight,
                "seed": r.seed,
                "mean max-logit (last quarter)": r.mean_max_logit,
                "KL under the repetition penalty": r.repetition_kl,
                "final validation loss": r.history.final_eval_loss,
                "diverged": r.history.diverged,
            }
            for r in runs
        ]
    )
    table = frame.drop(columns="seed").groupby("max-z weight").mean(numeric_only=True)
    mean_at = lambda col, w: float(frame[frame["max-z weight"] == w][col].mean())  # noqa: E731
    logit, kl, loss = "mean max-logit (last quarter)", "KL under the repetition penalty", "final validation loss"
    return DoseResponse(
        runs,
        table,
        weights,
        tuple(seeds),
        fig=_dose_figure(frame, weights),
        facts=facts(
            {
                "lr": ".3g",
                "penalty": "g",
                "logit_none": ".2f",
                "logit_paper": ".2f",
                "logit_largest": ".2f",
                "kl_none": ".4f",
                "kl_largest": ".4f",
                "loss_none": ".3f",
                "loss_paper": ".3f",
            },
            size=size.name,
            lr=base.lr,
            steps=base.steps,
            seeds=len(seeds),
            penalty=penalty,
            doses=", ".join(f"{w:g}" for w in weights),
            logit_none=mean_at(logit, weights[0]),
            logit_paper=mean_at(logit, paper_weight),
            logit_largest=mean_at(logit, weights[-1]),
            kl_none=mean_at(kl, weights[0]),
            kl_largest=mean_at(kl, weights[-1]),
            loss_none=mean_at(loss, weights[0]),
            loss_paper=mean_at(loss, paper_weight),
            diverged=sum(r.history.diverged for r in runs),
            loaded=sum(r.loaded for r in runs),
        ),
    )


def _dose_figure(frame: Any, weights: Sequence[float]):
    """The late mean max-logit and the repetition sensitivity against the max-z weight (per seed and mean)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.0))
    index = np.arange(len(weights))
    for ax, col in zip(axes, ("mean max-logit (last quarter)", "KL under the repetition penalty")):
        for _, group in frame.groupby("seed"):
            ax.plot(index, group.sort_values("max-z weight")[col], ".-", color="C0", alpha=0.3, lw=0.8)
        ax.plot(index, frame.groupby("max-z weight")[col].mean().to_numpy(), "o-", color="C3", label="mean of seeds")
        ax.set(xticks=index, xticklabels=[f"{w:g}" for w in weights], xlabel="max-z weight", ylabel=col, yscale="log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
