"""Explained in `notebooks/alignment/baichuan2.ipynb`: NormHead and the max-z loss, switched on and off.

Baichuan 2 reports that NormHead "stabilises training significantly" and that the max-z loss keeps the
logits small, which "stabilises training and makes inference more robust". :func:`factorial_ablation`
trains one small model four ways — NormHead on/off × max-z on/off, a 2 × 2 factorial — at a learning
rate high enough to stress training, each with the same seeds, so that each piece is compared with and
without the other on paired runs (same seed, same data order, same other setting):

- **NormHead**: final validation loss with vs without it (a run that diverged counts as the uniform
  predictor, ln V); how many runs diverged;
- **max-z**: the largest logit of the last quarter of training with vs without it; and whether it
  costs validation loss (non-inferiority within a margin stated in the chapter's configuration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from ..claims import Verdict, non_inferiority, superiority
from ..results import glued
from .pretraining import LMData, ModelSize, RunRecord, TrainSettings, train_cached


@dataclass
class AblationRun:
    normhead: bool
    max_z: bool
    seed: int
    record: RunRecord
    loaded: bool

    @property
    def label(self) -> str:
        return f"NormHead {'on' if self.normhead else 'off'}, max-z {'on' if self.max_z else 'off'}"

    def late_max_logit(self) -> float:
        """The mean, over the last quarter of the steps run, of each step's largest logit."""
        z = self.record.max_logit
        return float("nan") if not z else sum(z[-max(1, len(z) // 4):]) / max(1, len(z) // 4)

    def loss_for_comparison(self, vocab_size: int) -> float:
        """The final validation loss; ln V (the uniform predictor) for a run that diverged."""
        loss = self.record.final_val_loss
        return math.log(vocab_size) if self.record.diverged or not math.isfinite(loss) else loss


@dataclass
class Ablation:
    """The 2 × 2 ablation: its runs, table, figures and verdicts."""

    runs: list[AblationRun]
    table: Any  # pandas DataFrame, one row per run
    fig_loss: Any = glued()
    fig_logit: Any = glued()
    size: str = glued()
    lr: float = glued(".3g")
    tokens: int = glued(",")
    seeds: int = glued()
    loss_normhead_on: float = glued(".3f")  # mean final validation loss (diverged runs at ln V)
    loss_normhead_off: float = glued(".3f")
    diverged_normhead_on: int = glued()
    diverged_normhead_off: int = glued()
    runs_per_arm: int = glued()
    logit_maxz_on: float = glued(".2f")  # mean late max logit
    logit_maxz_off: float = glued(".2f")
    loss_maxz_on: float = glued(".3f")
    loss_maxz_off: float = glued(".3f")
    uniform_loss: float = glued(".3f")
    loaded: int = glued()
    normhead_verdict: Verdict | None = None
    maxz_logit_verdict: Verdict | None = None
    maxz_loss_verdict: Verdict | None = None
    extra: dict = field(default_factory=dict)


def factorial_ablation(data: LMData, size: ModelSize, base: TrainSettings, seeds: list[int], *,
                       max_z_weight: float, loss_margin: float, device: Any = "auto") -> Ablation:
    """Train ``size`` under NormHead on/off × max-z (``max_z_weight``) on/off with every seed; compare."""
    import pandas as pd

    runs = []
    for seed in seeds:
        for normhead in (True, False):
            for max_z in (True, False):
                settings = replace(base, normhead=normhead, max_z_weight=max_z_weight if max_z else 0.0)
                record, loaded = train_cached(size, data.vocab_size, data.train_blocks, data.val_blocks, settings,
                                              seed=seed, device=device, data_key=data.key)
                runs.append(AblationRun(normhead, max_z, seed, record, loaded))
    v = data.vocab_size
    table = pd.DataFrame([{"NormHead": r.normhead, "max-z": r.max_z, "seed": r.seed,
                           "final validation loss": r.record.final_val_loss, "diverged": r.record.diverged,
                           "largest logit (peak)": max(r.record.max_logit, default=float("nan")),
                           "largest logit (last quarter)": r.late_max_logit(),
                           "tokens/s": r.record.tokens_per_second} for r in runs])

    loss = lambda r: r.loss_for_comparison(v)  # noqa: E731
    nh_on, nh_off = _paired(runs, "normhead", loss)
    mz_logit_on, mz_logit_off = _paired(runs, "max_z", AblationRun.late_max_logit)
    mz_loss_on, mz_loss_off = _paired(runs, "max_z", loss)
    unit = "paired runs (seed × other setting)"
    normhead_verdict = superiority(nh_off, nh_on, unit=unit)  # lower loss with NormHead
    finite = all(math.isfinite(x) for x in mz_logit_on + mz_logit_off)
    maxz_logit_verdict = (superiority(mz_logit_off, mz_logit_on, unit=unit) if finite else
                          Verdict("not comparable", rule="one-sided paired t-test over paired runs",
                                  reason="a run diverged before its last quarter", kind="superiority"))
    # "max-z does not cost validation loss": −loss with max-z is no worse than without, within the margin
    maxz_loss_verdict = non_inferiority([-x for x in mz_loss_on], [-x for x in mz_loss_off], margin=loss_margin,
                                        unit=unit)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return Ablation(
        runs=runs, table=table, fig_loss=_curves(runs, "loss", "training cross-entropy (nats)", v),
        fig_logit=_curves(runs, "max_logit", "largest logit in the batch", v), size=size.name, lr=base.lr,
        tokens=base.tokens, seeds=len(seeds), loss_normhead_on=mean(nh_on), loss_normhead_off=mean(nh_off),
        diverged_normhead_on=sum(r.record.diverged for r in runs if r.normhead),
        diverged_normhead_off=sum(r.record.diverged for r in runs if not r.normhead), runs_per_arm=len(nh_on),
        logit_maxz_on=mean(mz_logit_on), logit_maxz_off=mean(mz_logit_off), loss_maxz_on=mean(mz_loss_on),
        loss_maxz_off=mean(mz_loss_off), uniform_loss=math.log(v), loaded=sum(r.loaded for r in runs),
        normhead_verdict=normhead_verdict, maxz_logit_verdict=maxz_logit_verdict, maxz_loss_verdict=maxz_loss_verdict,
    )


def _paired(runs: list[AblationRun], factor: str, metric) -> tuple[list[float], list[float]]:
    """``metric`` of the runs with ``factor`` ("normhead" or "max_z") on and off, matched on the seed and
    the other factor's setting: the paired units of the verdicts."""
    other = "max_z" if factor == "normhead" else "normhead"
    index = {(r.seed, getattr(r, other), getattr(r, factor)): r for r in runs}
    units = sorted({(seed, level) for seed, level, _ in index})
    return ([metric(index[(s, o, True)]) for s, o in units], [metric(index[(s, o, False)]) for s, o in units])


def _curves(runs: list[AblationRun], attribute: str, ylabel: str, vocab_size: int):
    """Per-step curves of the four settings (one colour each, one line per seed), smoothed over 5 steps."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    colours = {}
    for r in runs:
        y = np.asarray(getattr(r.record, attribute), dtype=float)
        if len(y) >= 5:
            y = np.convolve(y, np.ones(5) / 5, mode="valid")
        colour = colours.setdefault(r.label, f"C{len(colours)}")
        ax.plot(np.arange(len(y)) + 1, y, color=colour, lw=1.2, alpha=0.85,
                label=r.label if r.seed == runs[0].seed else None)
        if r.record.diverged:
            ax.plot([len(y)], [y[-1] if len(y) else np.nan], "x", color=colour, ms=8)
    if attribute == "loss":
        ax.axhline(math.log(vocab_size), color="grey", ls=":", lw=1, label="uniform predictor (ln V)")
    ax.set(xlabel="step", ylabel=ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
