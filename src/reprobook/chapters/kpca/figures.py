"""The figures of the Kernel PCA chapter, in the book's one style (:func:`reprobook.notebook.plot_style`).

Explained in ``notebooks/ood/kpca.ipynb``. Each function returns a matplotlib ``Figure`` and leaves gluing it
to the caller (a figure field of a result object, :meth:`reprobook.results.RunRecord.glue_result`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def spectra(detectors: Mapping[str, Any]):
    """Cumulative explained variance of each fitted reconstruction detector's mapped training features, with
    its ratio r (dotted) and the q it picks (a dot)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for name, det in detectors.items():
        cumulative = det.explained_variance_ratio_.cumsum(0).cpu().numpy()
        (line,) = ax.plot(np.arange(1, len(cumulative) + 1), cumulative, label=f"{name} (dimension {len(cumulative)})")
        ax.plot([det.q_], [cumulative[det.q_ - 1]], "o", color=line.get_color())
        ax.axhline(det.ratio, color=line.get_color(), ls=":", lw=1)
    ax.set(
        xscale="log",
        xlabel="number of components k",
        ylabel="cumulative explained variance",
        title="Spectra of the mapped training features",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def error_histograms(scores: Mapping[str, Mapping[str, Any]], names: Sequence[str]):
    """One panel per detector in ``names``: the distribution of its outlier score on the InD test set (black)
    and on each OoD set (``scores[name][set]``)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.0), squeeze=False)
    for ax, name in zip(axes[0], names):
        everything = np.concatenate([np.asarray(v) for v in scores[name].values()])
        bins = np.linspace(everything.min(), np.quantile(everything, 0.99), 60)
        for s, values in scores[name].items():
            ax.hist(
                np.asarray(values),
                bins=bins,
                density=True,
                histtype="step",
                lw=1.5 if s == "test" else 1,
                color="black" if s == "test" else None,
                label="InD test" if s == "test" else s,
            )
        ax.set(title=name, xlabel="reconstruction error e(z)", yticks=[])
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def per_classifier(averages, detectors: Sequence[str], metric: str = "AUROC"):
    """Each detector's average ``metric`` over the OoD sets, one dot per trained classifier (``averages``: rows
    detector, columns ``(metric, seed)``), the mean as a bar: how much a detector varies between trainings."""
    import matplotlib.pyplot as plt

    values = averages[metric].loc[list(detectors)]
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    x = np.arange(len(values))
    ax.bar(x, values.mean(axis=1), color="0.85", width=0.6, label="mean over classifiers")
    for j, seed in enumerate(values.columns):
        ax.plot(x + (j - (len(values.columns) - 1) / 2) * 0.12, values[seed], "o", ms=4, label=f"seed {seed}")
    low = float(np.nanmin(values.to_numpy()))
    ax.set(xticks=x, ylabel=f"average {metric}", ylim=(max(0.0, low - 0.05), 1.0))
    ax.set_xticklabels(values.index, rotation=30, ha="right", fontsize=8)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def ratio_curves(sensitivity, chosen: Mapping[str, float]):
    """Average AUROC against the explained-variance ratio r, one line per detector (``sensitivity``: columns
    detector, ratio, AUROC); dotted: the ratio each detector uses."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for name, part in sensitivity.groupby("detector", sort=False):
        (line,) = ax.plot(part.ratio, part.AUROC, "o-", label=name)
        ax.axvline(chosen[name], color=line.get_color(), ls=":", lw=1)
    ax.set(xlabel="explained-variance ratio r", ylabel="average AUROC", title="Post-hoc sensitivity to r")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scoring_cost(table, device: str):
    """Median time per test sample against N (log-log, bars: quartiles over the rounds), one line per method
    of the ``ood-throughput`` benchmark's table."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for _, part in table.groupby("method", sort=False):
        part = part.sort_values("n_train")
        ax.errorbar(
            part.n_train,
            part.median_us,
            yerr=[part.median_us - part.p25_us, part.p75_us - part.median_us],
            fmt="o-",
            capsize=2,
            label=part.detector.iloc[0],
        )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="training features N",
        ylabel="µs per test sample",
        title=f"Scoring cost, {device}",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


__all__ = ["error_histograms", "per_classifier", "ratio_curves", "scoring_cost", "spectra"]
