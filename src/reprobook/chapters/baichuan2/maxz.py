"""Explained in `notebooks/alignment/baichuan2.ipynb`: the max-z loss, dose by dose, where the other brakes on the
logits are off.

Baichuan 2 reports that the max-z loss keeps the logits small, which "stabilises training and makes inference
more robust" to the repetition penalty. :func:`maxz_dose_response`: NormHead off and no weight decay on the output
layer (the two other brakes on the logits removed), the max-z weight at 0 and at increasing doses, the same seeds.
Per run: the quantity the loss penalises, the mean over tokens of each token's largest logit, measured on held-out
text under the trained model (:func:`held_out_max_logit`: the penalty acts on the training batches, the claim is
read where it did not; the training curve's late mean, :func:`late_mean`, is kept for the record); the sensitivity
of the trained model to the repetition penalty (:func:`repetition_sensitivity`, forward passes only); the final
validation loss. Each measure's decline per dose step is :func:`decline_per_step`.
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
from .ablations import budget_change


# --------------------------------------------------------------------------------------------- measures
def late_mean(values: Sequence[float], share: float = 0.25) -> float:
    """The mean of the last ``share`` of ``values`` (NaN when empty)."""
    if not values:
        return float("nan")
    k = max(1, int(round(share * len(values))))
    return float(np.mean(values[-k:]))


@torch.no_grad()
def held_out_max_logit(model: torch.nn.Module, blocks: torch.Tensor, batch_size: int = 8) -> float:
    """The mean over the positions of ``blocks`` (held-out text) of the trained model's largest logit."""
    total, count = 0.0, 0
    for start in range(0, len(blocks), batch_size):
        z = model(input_ids=blocks[start : start + batch_size]).logits.float().amax(-1)
        total += float(z.sum())
        count += z.numel()
    return total / count


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


# --------------------------------------------------------------------------------------------- max-z
@dataclass
class DoseRun:
    weight: float
    seed: int
    history: History
    loaded: bool
    mean_max_logit: float  # held_out_max_logit of the trained model (the claim's measure)
    repetition_kl: float  # repetition_sensitivity of the trained model
    training_max_logit: float  # late mean over training of the batches' mean largest logit (the record)

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
    # largest weight (logit_largest, kl_largest); diverged, loaded; the budget check as the sweep's (budget_steps,
    # budget_change, budget_run) on the first seed's runs at weight 0 and the paper's weight
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
    check_factor: int = 2,
    device: Any = "auto",
    threads: int | None = None,
) -> DoseResponse:
    """Train ``size`` with every max-z weight of ``weights`` (NormHead off, no weight decay on the output
    layer) and every seed (on ``threads`` intra-op threads; None: the run's; side by side where they can be:
    :func:`train_runs`); measure each run's mean largest logit on held-out text and its repetition sensitivity.
    The budget check: the first seed's runs at weight 0 and ``paper_weight`` also at ``check_factor`` times the
    steps."""
    check_factor = check_int("sweep_check_factor", check_factor, low=2)
    weights = tuple(sorted(float(w) for w in weights))

    def run(steps: int, w: float) -> TrainSettings:
        return replace(base, steps=steps, normhead=False, output_weight_decay=False, max_z_weight=w)

    plan = [(w, run(base.steps, w), s) for w in weights for s in seeds]
    compared = (weights[0], float(paper_weight))
    longer = [(run(base.steps * check_factor, w), seeds[0]) for w in compared]
    # one pool for both, the longer runs first: the longest loops start first when they train side by side
    jobs = [*longer, *[(s, seed) for _, s, seed in plan]]
    done = train_runs(data, size, jobs, device=device, threads=threads, return_model=True)
    checked = [next(done)[1].final_eval_loss for _ in longer]
    runs = []
    blocks = data.val_blocks[:eval_blocks]
    kl: float | str  # a run's KL in the loop, a column name below
    for (w, _, seed), (model, history, loaded) in zip(plan, done):
        kl = float("nan") if history.diverged else repetition_sensitivity(model, blocks, penalty)
        z = float("nan") if history.diverged else held_out_max_logit(model, blocks)
        runs.append(DoseRun(w, seed, history, loaded, z, kl, late_mean(history.series["mean_max_logit"])))
    frame = pd.DataFrame(
        [
            {
                "max-z weight": r.weight,
                "seed": r.seed,
                "mean max-logit (held-out)": r.mean_max_logit,
                "mean max-logit (training, last quarter)": r.training_max_logit,
                "KL under the repetition penalty": r.repetition_kl,
                "final validation loss": r.history.final_eval_loss,
                "diverged": r.history.diverged,
            }
            for r in runs
        ]
    )
    table = frame.drop(columns="seed").groupby("max-z weight").mean(numeric_only=True)
    first = {r.weight: r.loss for r in runs if r.seed == seeds[0]}
    change, which = budget_change([first[w] for w in compared], checked, math.log(data.vocab_size))
    mean_at = lambda col, w: float(frame[frame["max-z weight"] == w][col].mean())  # noqa: E731
    logit, kl, loss = "mean max-logit (held-out)", "KL under the repetition penalty", "final validation loss"
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
                "budget_change": ".3f",
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
            budget_steps=base.steps * check_factor,
            budget_change=change,
            budget_run="–" if which < 0 else f"max-z weight {compared[which]:g}",
        ),
    )


def _dose_figure(frame: Any, weights: Sequence[float]):
    """The held-out mean max-logit and the repetition sensitivity against the max-z weight (per seed and mean)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.0))
    index = np.arange(len(weights))
    for ax, col in zip(axes, ("mean max-logit (held-out)", "KL under the repetition penalty")):
        for _, group in frame.groupby("seed"):
            ax.plot(index, group.sort_values("max-z weight")[col], ".-", color="C0", alpha=0.3, lw=0.8)
        ax.plot(index, frame.groupby("max-z weight")[col].mean().to_numpy(), "o-", color="C3", label="mean of seeds")
        ax.set(xticks=index, xticklabels=[f"{w:g}" for w in weights], xlabel="max-z weight", ylabel=col, yscale="log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
