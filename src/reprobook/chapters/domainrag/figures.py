"""The DomainRAG chapter's figures: each ability's score per setting, and the retrievers' recall."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .analysis import METRIC_NAMES, RetrievalResult
from .report import ABILITY_LABELS


def ability_figure(numbers, *, metric: str = "f1", order: Sequence[str] | None = None):
    """Small multiples: per ability, the mean of ``metric`` in each setting with its interval over questions."""
    import matplotlib.pyplot as plt

    part = numbers[numbers.metric == metric]
    abilities = [a for a in (order or part.ability.unique()) if a in set(part.ability)]
    cols = 4
    rows_n = int(np.ceil(len(abilities) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(11, 2.6 * rows_n), sharey=True, squeeze=False)
    for ax, ability in zip(axes.flat, abilities):
        sub = part[part.ability == ability]
        x = np.arange(len(sub))
        ax.errorbar(x, sub["mean"], yerr=[sub["mean"] - sub["low"], sub["high"] - sub["mean"]], fmt="o", capsize=3)
        ax.set_xticks(x, sub.setting, rotation=45, ha="right", fontsize=8)
        ax.set_title(ABILITY_LABELS.get(ability, ability), fontsize=9)
        ax.set_ylim(-0.05, 1.05)
    for ax in list(axes.flat)[len(abilities) :]:
        ax.axis("off")
    axes[0, 0].set_ylabel(METRIC_NAMES[metric])
    fig.tight_layout()
    return fig


def retrieval_figure(result: RetrievalResult):
    """Recall@k against k for each method (this library's retrievers and the shipped lists)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for method, row in result.table.iterrows():
        ax.plot(result.ks, [row[f"recall@{k}"] for k in result.ks], "o-", label=method)
    ax.set(
        xscale="log",
        xlabel="k (passages given to the reader)",
        ylabel="recall@k of the golden passage",
        ylim=(0, 1.02),
        title="Retrieval of the golden passage",
    )
    ax.set_xticks(result.ks, [str(k) for k in result.ks])
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
