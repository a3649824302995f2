"""The DDoS chapter's tables and cost: one row per (detector, OoD set), the shown table, the cost per image.

Explained in ``notebooks/ood/ddos.ipynb``; the runs, ablations and claim tests are in :mod:`.experiment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from torch import Tensor

from ...ood.ddos import COMPONENTS, DM_BASELINE, PERCEPTUAL
from ...ood.metrics import ood_metrics
from ...results import facts, glued


def family(name: str) -> str:
    if name in PERCEPTUAL:
        return "perceptual (x, x̂)"
    if name == DM_BASELINE:
        return "DM-based, every t"
    if name in COMPONENTS:
        return "DDoS (x, x̂)"
    return "classifier on x"


def metrics_table(scores: dict[str, dict[str, Tensor]], ood_sets: Sequence[str]):
    """One row per (detector, OoD set) and each detector's ``average``: FPR95 and AUROC."""
    rows = []
    for name, per in scores.items():
        values = [ood_metrics(per["test"], per[s]) for s in ood_sets]
        for s, v in zip(ood_sets, values):
            rows.append({"detector": name, "family": family(name), "ood_set": s, "FPR95": v["FPR95"],
                         "AUROC": v["AUROC"]})
        rows.append({"detector": name, "family": family(name), "ood_set": "average",
                     "FPR95": float(np.mean([v["FPR95"] for v in values])),
                     "AUROC": float(np.mean([v["AUROC"] for v in values]))})
    return pd.DataFrame(rows)


def shown_table(table):
    """FPR95 ↓ and AUROC ↑ in percent, detector × OoD set (and the average), mean over the classifiers."""
    mean = table.groupby(["detector", "ood_set"], sort=False)[["FPR95", "AUROC"]].mean().reset_index()
    sets = list(dict.fromkeys(mean.ood_set))
    order = list(dict.fromkeys(mean.detector))
    parts = {s: mean[mean.ood_set == s].set_index("detector").loc[order, ["FPR95", "AUROC"]] * 100 for s in sets}
    out = pd.concat({s: p.rename(columns={"FPR95": "FPR95 ↓", "AUROC": "AUROC ↑"}) for s, p in parts.items()}, axis=1)
    out.insert(0, ("", "family"), [family(n) for n in order])
    return out.round(1)


@dataclass
class DDoSCost:
    """Images per second of the whole DDoS detector and of a plain classifier detector, one run, one machine."""

    table: Any
    facts: pd.Series = glued()  # device; ddos_per_s, classifier_per_s (images per second), slowdown; the settings


def ddos_cost(result: Any) -> DDoSCost:
    """The glued numbers of a ``reprobook bench ddos-throughput`` result."""
    table = result.table.set_index("method")
    return DDoSCost(table, facts(dict(ddos_per_s=",.1f", classifier_per_s=",.0f", slowdown=",.0f"),
                                 device=result.device, ddos_per_s=float(table.loc["ddos", "images_per_s"]),
                                 classifier_per_s=float(table.loc["classifier", "images_per_s"]),
                                 slowdown=float(table.loc["ddos", "slowdown"]),
                                 n_images=int(result.settings["n_images"]),
                                 evaluations=int(result.settings["unet_evaluations"])))
