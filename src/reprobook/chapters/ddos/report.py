"""The DDoS chapter's tables, figure and cost: the DDPM's loss curve, one row per (detector, OoD set), the cost
per image.

Explained in ``notebooks/ood/ddos.ipynb``; the runs, ablations and claim tests are in :mod:`.experiment`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from torch import Tensor

from ...configs.ddos import DDoSConfig
from ...ood.ddos import COMPONENTS, DM_BASELINE, PERCEPTUAL
from ...ood.diffusion import Diffusion
from ...ood.metrics import ood_metrics
from ...plots import image_grid
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
            rows.append(
                {"detector": name, "family": family(name), "ood_set": s, "FPR95": v["FPR95"], "AUROC": v["AUROC"]}
            )
        rows.append(
            {
                "detector": name,
                "family": family(name),
                "ood_set": "average",
                "FPR95": float(np.mean([v["FPR95"] for v in values])),
                "AUROC": float(np.mean([v["AUROC"] for v in values])),
            }
        )
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
    return DDoSCost(
        table,
        facts(
            dict(ddos_per_s=",.1f", classifier_per_s=",.0f", slowdown=",.0f"),
            device=result.device,
            ddos_per_s=float(table.loc["ddos", "images_per_s"]),
            classifier_per_s=float(table.loc["classifier", "images_per_s"]),
            slowdown=float(table.loc["ddos", "slowdown"]),
            n_images=int(result.settings["n_images"]),
            evaluations=int(result.settings["unet_evaluations"]),
        ),
    )


@dataclass
class DiffusionSummary:
    """What the DDPM learned: its loss curve, with the numbers the prose quotes."""

    # n_params, steps, batch, n_images, max_t, final_loss, first_loss, loaded_note
    facts: pd.Series = glued()
    loss_figure: Any = glued()


def describe_diffusion(diffusion: Diffusion, cfg: DDoSConfig, n_images: int) -> DiffusionSummary:
    """The loss curve (every step, and its running mean)."""
    import matplotlib.pyplot as plt

    losses = np.asarray(diffusion.history.train_loss if diffusion.history else [np.nan])
    window = max(1, len(losses) // 20)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    ax.plot(np.arange(1, len(losses) + 1), losses, color="lightgrey", lw=1, label="one step")
    ax.plot(np.arange(window, len(losses) + 1), smooth, color="C0", label=f"running mean of {window}")
    ax.set(xlabel="training step", ylabel="‖ε − ε_θ‖² (mean)", yscale="log", title="DDPM training loss")
    ax.legend(fontsize=8)
    fig.tight_layout()
    tail = losses[-max(1, len(losses) // 10) :]
    note = (
        "It was loaded from the checkpoint cache."
        if diffusion.loaded
        else f"It was trained in this run, in {diffusion.train_seconds:.0f} s."
    )
    return DiffusionSummary(
        loss_figure=fig,
        facts=facts(
            {"n_params": ",", "steps": ",", "n_images": ",", "final_loss": ".3f", "first_loss": ".3f"},
            n_params=diffusion.n_params,
            steps=cfg.ddpm_steps,
            batch=cfg.ddpm_batch,
            n_images=n_images,
            max_t=diffusion.max_t,
            final_loss=float(np.mean(tail)),
            first_loss=float(np.mean(losses[: max(1, window)])),
            loaded_note=note,
        ),
    )


def pairs_figure(pixels: Mapping[str, Tensor], reconstructed: Mapping[str, Tensor], n_pairs: int):
    """For the InD test set (``"test"``) and each OoD set, in the order of ``pixels``, ``n_pairs`` images x with
    their reconstructions x̂ (``reconstructed``, by the same names) beside them."""
    images, titles = [], []
    for split, shown in pixels.items():
        label = "InD" if split == "test" else split
        for i in range(min(n_pairs, len(shown))):
            images += [shown[i], reconstructed[split][i]]
            titles += [f"{label[:12]}: x", "x̂"]
    return image_grid(images, titles, ncols=2 * n_pairs, size=0.95, title_size=7)
