"""Explained in `notebooks/ood/mode_ensemble.ipynb`: the tables and figures that describe the chapter's K modes.

:func:`describe_modes`: every mode's InD accuracy and loss, its loss on each OoD set, whether the modes
converged (:func:`reprobook.ood.modes.convergence`), how often they disagree, and the training curves;
:func:`run_scale`: the run's scale in words for the claims table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from ...ood.modes import ModeSet, convergence, disagreement, msp_loss, plateau_row
from ...results import facts, glued


def mode_losses(modes: ModeSet) -> Any:
    """One row per mode: InD test accuracy and cross-entropy (all InD test samples), the convergence measures
    (:func:`~reprobook.ood.modes.plateau_row`), and the mean MSP loss (:func:`~reprobook.ood.modes.msp_loss`) on
    every OoD set (its scored samples)."""
    rows = []
    for k, mode in enumerate(modes.modes):
        test = mode.benchmark.test
        row = {
            "mode": k + 1,
            "seed": mode.seed,
            "InD test accuracy": test.accuracy(),
            "InD test loss": float(nn.functional.cross_entropy(test.logits, test.labels)),
            **plateau_row(mode.benchmark.history),
            "loaded": mode.benchmark.loaded,
        }
        for name in modes.ood_sets:
            row[f"OoD loss {name}"] = float(msp_loss(modes.outputs(k, name).logits).mean())
        rows.append(row)
    return pd.DataFrame(rows).set_index("mode")


@dataclass
class ModeTraining:
    """The K modes on InD data. ``table`` one row per mode (:func:`mode_losses`)."""

    table: Any
    converged: bool
    convergence_detail: str
    # n_modes, seeds, acc_mean, acc_min, acc_max, loss_min, loss_max, train_loss_min, train_loss_max, disagreement,
    # convergence, loaded_note, n_scored
    facts: pd.Series = glued()
    figure: Any = glued()


def describe_modes(modes: ModeSet) -> ModeTraining:
    """Every mode's InD accuracy and loss, whether the modes converged (:func:`~reprobook.ood.modes.convergence`), how
    often the modes disagree, and the training curves as a figure."""
    import matplotlib.pyplot as plt

    table = mode_losses(modes)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.0))
    for k, mode in enumerate(modes.modes):
        history = mode.benchmark.history
        if history is not None:
            axes[0].plot(
                range(1, len(history.train_loss) + 1),
                history.train_loss,
                marker="o",
                ms=2,
                lw=1,
                label=f"mode {k + 1}" if k < 10 else None,
            )
    axes[0].set(xlabel="epoch", ylabel="training loss", yscale="log", title="Training of each mode")
    axes[0].legend(fontsize=6, ncol=2)
    x = np.arange(1, len(table) + 1)
    axes[1].bar(x, table["InD test loss"], color="grey", label="InD test (cross-entropy)")
    for c in [c for c in table.columns if c.startswith("OoD loss ")]:
        axes[1].plot(x, table[c], "o-", ms=3, label=c.removeprefix("OoD loss ") + " (−log max p)")
    axes[1].set(xlabel="mode", ylabel="mean loss", title="Each mode: InD vs OoD loss", xticks=list(x))
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    loaded = int(table["loaded"].sum())
    note = (
        "All modes were loaded from the checkpoint cache."
        if loaded == len(table)
        else "All modes were trained in this run."
        if loaded == 0
        else f"{loaded} of {len(table)} modes were loaded from the checkpoint cache, the others trained in this run."
    )
    sizes = {split: len(rows) for split, rows in modes.index.items()}
    scored = f"{sizes['test']} InD test samples and " + ", ".join(f"{n} {s}" for s, n in sizes.items() if s != "test")
    acc = table["InD test accuracy"]
    converged, detail = convergence(table)
    return ModeTraining(
        table=table,
        converged=converged,
        convergence_detail=detail,
        figure=fig,
        facts=facts(
            {
                "acc_mean": ".1%",
                "acc_min": ".1%",
                "acc_max": ".1%",
                "loss_min": ".3f",
                "loss_max": ".3f",
                "train_loss_min": ".3f",
                "train_loss_max": ".3f",
                "disagreement": ".1%",
            },
            n_modes=len(table),
            seeds=", ".join(str(s) for s in modes.seeds),
            acc_mean=float(acc.mean()),
            acc_min=float(acc.min()),
            acc_max=float(acc.max()),
            loss_min=float(table["InD test loss"].min()),
            loss_max=float(table["InD test loss"].max()),
            train_loss_min=float(table["InD train loss"].min()),
            train_loss_max=float(table["InD train loss"].max()),
            disagreement=disagreement(modes),
            convergence=("converged" if converged else "not converged") + f" ({detail})",
            loaded_note=note,
            n_scored=scored,
        ),
    )


def run_scale(modes: ModeSet, profile: str) -> str:
    """The scale of a run in words (data, model, epochs, modes, scored samples, device), for the claims table."""
    cfg, bench = modes.config, modes.modes[0].benchmark
    sizes = {split: len(rows) for split, rows in modes.index.items()}
    return (
        f"{profile} profile: {cfg.in_dataset} ({len(bench.train)} train images), {cfg.model} "
        f"({bench.train.features.shape[1]}-d features), {cfg.epochs} epochs; K = {len(modes)} modes (seeds "
        f"{', '.join(str(s) for s in modes.seeds)}); {sizes['test']} InD test and "
        f"{min(v for k, v in sizes.items() if k != 'test')} samples per OoD set ({', '.join(modes.ood_sets)}); "
        f"{bench.device.type}"
    )
