"""The DDoS chapter's ablations, read from the run: the detectors' AUROC against the noise level t, and each
DDoS term with and without anomaly removal at the main t."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ...ood.ddos import (
    CLASSIFIER,
    COMPONENTS,
    DDOS,
    DDOS_NO_REMOVAL,
    DM_BASELINE,
    PERCEPTUAL,
)
from ...results import facts, glued
from .experiment import DDoSResults, DDoSRun, all_classifiers


@dataclass
class NoiseAblation:
    """Average AUROC over the OoD sets (mean over the classifiers) against the noise level t."""

    table: Any  # one row per (detector, t)
    facts: pd.Series = glued()  # best_t_ddos, best_t_mse: the t of the highest AUROC; levels: every t
    figure: Any = glued()


def noise_ablation(run: DDoSRun) -> NoiseAblation:
    """AUROC (mean over the OoD sets and the classifiers) of the pair detectors at every reconstructed t; the DM
    baseline (every t at once) and the classifier detectors as horizontal references."""
    import matplotlib.pyplot as plt

    shown = (*PERCEPTUAL, DDOS, DDOS_NO_REMOVAL)
    rows = []
    for t in run.noise_levels:
        table = all_classifiers(run, t)
        avg = table[(table.ood_set == "average") & table.detector.isin(shown)].groupby("detector")["AUROC"].mean()
        rows += [{"detector": name, "t": t, "AUROC": float(v)} for name, v in avg.items()]
    table = pd.DataFrame(rows)
    main = all_classifiers(run)
    refs = (
        main[(main.ood_set == "average") & main.detector.isin([DM_BASELINE, *CLASSIFIER])]
        .groupby("detector")["AUROC"]
        .mean()
    )
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for i, name in enumerate(shown):
        part = table[table.detector == name]
        ax.plot(part.t, 100 * part.AUROC, "o-", color=f"C{i}", label=name, lw=2.2 if name == DDOS else 1.2)
    for j, (name, v) in enumerate(refs.items()):
        ax.axhline(
            100 * v, color=f"C{len(shown) + j}", ls=":", lw=1, label=name if name == DM_BASELINE else f"{name} (on x)"
        )
    ax.axvline(run.main_t, color="grey", ls="--", lw=1)
    ax.set(xlabel="noise level t", ylabel="AUROC (%), mean over OoD sets ↑", title="Ablation of the noise level")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    best = lambda name: int(table[table.detector == name].sort_values("AUROC").iloc[-1]["t"])  # noqa: E731
    return NoiseAblation(
        table,
        facts(best_t_ddos=best(DDOS), best_t_mse=best("MSE"), levels=", ".join(str(t) for t in run.noise_levels)),
        figure=fig,
    )


@dataclass
class ComponentAblation:
    """Each DDoS term with and without anomaly removal, at the main noise level (mean over sets and classifiers)."""

    table: Any
    facts: pd.Series = glued(".1%")  # auroc_feature, auroc_probability, auroc_both: each term alone, both


def component_ablation(results: DDoSResults) -> ComponentAblation:
    """Average FPR95 and AUROC of every entry of :data:`~reprobook.ood.ddos.COMPONENTS` at the main t."""
    table = results.table
    avg = table[(table.ood_set == "average") & table.detector.isin(list(COMPONENTS))]
    avg = avg.groupby("detector")[["FPR95", "AUROC"]].mean().loc[list(COMPONENTS)]
    avg.insert(0, "terms", [" + ".join(COMPONENTS[n][0]) for n in avg.index])
    avg.insert(1, "anomaly removal on x̂", ["yes" if COMPONENTS[n][1] else "no" for n in avg.index])
    return ComponentAblation(
        avg,
        facts(
            auroc_feature=float(avg.loc["DDoS feature term only", "AUROC"]),
            auroc_probability=float(avg.loc["DDoS probability term only", "AUROC"]),
            auroc_both=float(avg.loc[DDOS, "AUROC"]),
        ),
    )
