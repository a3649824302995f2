"""Explained in `notebooks/alignment/baichuan2.ipynb`: NormHead and the max-z loss where instabilities exist.

Baichuan 2 reports that NormHead "stabilises training significantly" and that the max-z loss keeps the
logits small, which "stabilises training and makes inference more robust" to the repetition penalty.
At a small scale, instability shows as *learning-rate sensitivity* (Wortsman et al., 2023, small-scale
proxies): how much worse the final loss gets away from the best learning rate. Two experiments:

- :func:`lr_sweep`: one model size trained at every learning rate of a sweep, NormHead on and off (max-z
  off in both), with the same seeds. Per seed and arm the **learning-rate sensitivity** is

      S = mean over η of [min(L(η), L₀) − L*],     L* = min over η of min(L(η), L₀),

  with L(η) the final validation loss at learning rate η and L₀ = ln V the loss of the uniform predictor
  (a run that diverged counts as L₀). The claim: S is lower with NormHead, paired by seed.
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
from ...results import facts, glued
from ...training import History

NEAR_BEST = 0.1  # nats: a learning rate "works" when its final loss is within this of the best of the sweep


def still_falling(loss: Sequence[float]) -> float:
    """The relative drop of the training loss from the second-to-last tenth of the steps to the last tenth
    (window means, so one noisy batch does not decide it): below :data:`.pretraining.PLATEAU`, the run has stopped
    improving. NaN with fewer than two steps per window."""
    w = len(loss) // 10
    if w < 1:
        return float("nan")
    before, last = float(np.mean(loss[-2 * w : -w])), float(np.mean(loss[-w:]))
    return (before - last) / before if before > 0 else float("nan")


# --------------------------------------------------------------------------------------------- measures
def lr_sensitivity(losses: Sequence[float], initial: float) -> float:
    """Wortsman et al.'s learning-rate sensitivity of one sweep: mean over the learning rates of
    min(L, L₀) − the best of them (a non-finite loss counts as L₀)."""
    capped = [min(x, initial) if math.isfinite(x) else initial for x in losses]
    return float(np.mean(capped) - min(capped))


def largest_good_lr(
    lrs: Sequence[float], losses: Sequence[float], initial: float, tolerance: float = NEAR_BEST
) -> float:
    """The largest learning rate whose final loss is within ``tolerance`` nats of the sweep's best."""
    capped = [min(x, initial) if math.isfinite(x) else initial for x in losses]
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
    # diverged_<arm>; loaded; still_falling: the largest last-tenth drop of the loss over the runs that did not
    # diverge
    facts: pd.Series = glued()


SWEEP_FORMATS = {
    **dict.fromkeys(("uniform_loss", "sensitivity_on", "sensitivity_off", "best_on", "best_off"), ".3f"),
    "good_lr_on": ".3g",
    "good_lr_off": ".3g",
    "still_falling": ".1%",
}


def lr_sweep(
    data: LMData,
    size: ModelSize,
    base: TrainSettings,
    lrs: Sequence[float],
    seeds: Sequence[int],
    *,
    device: Any = "auto",
    threads: int | None = None,
) -> LRSweep:
    """Train ``size`` at every learning rate of ``lrs``, NormHead on and off (max-z off), with every seed (on
    ``threads`` intra-op threads; None: the run's; side by side where they can be: :func:`train_runs`)."""
    plan = [
        (normhead, float(lr), replace(base, lr=float(lr), normhead=normhead, max_z_weight=0.0), seed)
        for normhead in (True, False)
        for lr in lrs
        for seed in seeds
    ]
    done = train_runs(data, size, [(s, seed) for *_, s, seed in plan], device=device, threads=threads)
    runs = [SweepRun(nh, lr, seed, history, loaded) for (nh, lr, _, seed), (history, loaded) in zip(plan, done)]
    initial = math.log(data.vocab_size)
    loss = {(r.normhead, r.lr, r.seed): r.history.final_eval_loss for r in runs}
    arms = {"on": True, "off": False}
    sens = {a: [lr_sensitivity([loss[(nh, lr, s)] for lr in lrs], initial) for s in seeds] for a, nh in arms.items()}
    good = {
        a: float(np.median([largest_good_lr(lrs, [loss[(nh, lr, s)] for lr in lrs], initial) for s in seeds]))
        for a, nh in arms.items()
    }
    capped = lambda x: min(x, initial) if math.isfinite(x) else initial  # noqa: E731
    table = pd.DataFrame(
        [
            {
                "NormHead": a,
                "learning rate": lr,
                "final validation loss (mean)": float(np.mean([capped(loss[(nh, lr, s)]) for s in seeds])),
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
            loaded=sum(r.loaded for r in runs),
            still_falling=max(
                (still_falling(r.history.train_loss) for r in runs if not r.history.diverged), default=float("nan")
            ),
        ),
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
                    [min(y, initial) if math.isfinite(y) else initial],
                    "x" if r.history.diverged else ".",
                    color=colour,
                    alpha=0.6,
                )
        means = [
            np.mean(
                [
                    min(r.history.final_eval_loss, initial) if math.isfinite(r.history.final_eval_loss) else initial
                    for r in runs
                    if r.normhead == nh and r.lr == lr
                ]
            )
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
