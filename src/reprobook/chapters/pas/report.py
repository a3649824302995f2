"""Explained in ``notebooks/alignment/pas.ipynb``: the PAS chapter's figures, drawn from what each stage returns.

The stages (:mod:`reprobook.alignment.pas`) compute; the chapter draws: the deduplication threshold sweep
(:func:`dedup_figure`), the critique of the generated complements (:func:`critique_figure`) and the reward-model
scores of the answers under each condition (:func:`plug_and_play_figure`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...alignment.pas.dedup import Deduplicated
from ...alignment.pas.evaluate import PlugAndPlay
from ...alignment.pas.generate import Generated


def dedup_figure(deduped: Deduplicated) -> Any:
    """Per cosine-distance threshold τ, the planted copies caught and the share of the pool removed; the
    threshold the stage ran at marked."""
    import matplotlib.pyplot as plt

    sweep, distance = deduped.sweep, float(deduped.facts.distance)
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    ax.plot(sweep["threshold τ"], sweep["planted copies caught"], "o-", label="planted copies caught")
    ax.plot(sweep["threshold τ"], sweep["pool removed"], "s-", label="share of the pool removed")
    ax.axvline(distance, color="grey", ls=":", lw=1, label=f"τ = {distance:g} (this run)")
    ax.set(xlabel="cosine-distance threshold τ", ylabel="share", ylim=(-0.03, 1.03), title="Deduplication threshold")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def critique_figure(generated: Generated) -> Any:
    """Per criterion of the critique, the complements failing it in the first round and after regeneration."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 2.8))
    generated.failures.plot.barh(ax=ax, color=["tab:red", "tab:blue"])
    ax.set(xlabel="complementary prompts failing the criterion", title="Critique of generated complements")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def plug_and_play_figure(pnp: PlugAndPlay) -> Any:
    """Per condition, the mean reward-model score of the answers with its 95 % interval; no augmentation marked."""
    import matplotlib.pyplot as plt

    table = pnp.table
    fig, ax = plt.subplots(figsize=(6.4, 0.42 * len(table) + 1.0))
    y = np.arange(len(table))[::-1]
    mean = table["mean score"].to_numpy(dtype=float)
    ax.errorbar(
        mean,
        y,
        xerr=[mean - table["low"].to_numpy(dtype=float), table["high"].to_numpy(dtype=float) - mean],
        fmt="o",
        capsize=3,
    )
    ax.axvline(float(table.loc["none", "mean score"]), color="grey", ls=":", lw=1)
    ax.set(
        yticks=y,
        yticklabels=list(table.index),
        xlabel="reward-model score of the answers (RM standard deviations), mean and 95% interval",
    )
    fig.tight_layout()
    return fig
