"""Explained in `notebooks/ood/mode_ensemble.ipynb`: the loss around and between modes, the chapter's landscape study.

The directions and the fixed-target loss are :mod:`reprobook.ood.mode_landscape`. Here what the chapter
measures with them: :func:`mode_slices`, one-dimensional slices of the loss around each mode along a
filter-normalised random direction, on in-distribution and OoD images (how deep each basin is); and
:func:`mode_segment`, the loss along the straight segment between two modes (whether they are separate
basins), each with its table and figure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ...checks import ParameterError, check_int
from ...configs.mode_ensemble import ModeEnsembleConfig
from ...ood.mode_landscape import combine_states, filter_normalized_direction, fixed_target_loss, segment_alphas
from ...ood.modes import ModeSet
from ...results import facts, glued


@torch.no_grad()
def _logits(model: nn.Module, x: Tensor, device: torch.device) -> Tensor:
    model.eval()
    return torch.cat([model(x[i : i + 512].to(device)) for i in range(0, len(x), 512)]).cpu()


def _slice_losses(
    model: nn.Module, data: Mapping[str, Tensor], targets: Mapping[str, Tensor], device: torch.device
) -> dict[str, float]:
    """The mean :func:`fixed_target_loss` of ``model`` on each set of ``data``."""
    return {name: float(fixed_target_loss(_logits(model, x, device), targets[name]).mean()) for name, x in data.items()}


@dataclass
class Slices:
    """The loss on a plane of two filter-normalised random directions around every mode (``table``: one row per
    mode, grid point and set), and each mode's relative depth of every slice below the mode (``depths``)."""

    table: Any
    depths: Any  # one row per mode: "InD" and each OoD set's depth, and "OoD" their mean
    # n_points, radius, n_samples, depth_ind (mean over the modes), depth_ood, ind_at_min (modes whose InD slice has
    # its minimum at the mode), ood_at_min (modes whose OoD slice (mean over the OoD sets) has its minimum at the
    # mode), n_modes
    facts: pd.Series = glued()
    figure: Any = glued()


def _slice_data(modes: ModeSet, ood_sets: Sequence[str], n: int) -> dict[str, Tensor]:
    data = {"InD test": modes.images("test")[:n]}
    for name in ood_sets:
        data[name] = modes.images(name)[:n]
    return data


def mode_slices(modes: ModeSet, cfg: ModeEnsembleConfig, ood_sets: Sequence[str], *, seed: int = 0) -> Slices:
    """The loss on a ``cfg.slice_points`` × ``cfg.slice_points`` grid over [−r, r]² (r = ``cfg.slice_radius``)
    of two filter-normalised directions around each mode (drawn from ``seed`` and the mode's index), on
    ``cfg.slice_samples`` InD test images and as many of each of ``ood_sets``."""
    points = check_int("slice_points", cfg.slice_points, low=3)
    if points % 2 == 0:
        raise ParameterError("slice_points", points, "an odd number (the mode is the centre of the grid)")
    grid = np.linspace(-cfg.slice_radius, cfg.slice_radius, points)
    data = _slice_data(modes, ood_sets, cfg.slice_samples)
    device = modes.modes[0].benchmark.device
    rows = []
    for k, mode in enumerate(modes.modes):
        scratch = copy.deepcopy(mode.model)
        base = {n: p.detach().clone() for n, p in scratch.named_parameters()}
        # ŷ(x): the mode's own decisions, fixed along its slice
        targets = {name: _logits(scratch, x, device).argmax(1) for name, x in data.items()}
        generator = torch.Generator().manual_seed(10_007 * seed + k)
        d1 = filter_normalized_direction(scratch, generator)
        d2 = filter_normalized_direction(scratch, generator)
        for a in grid:
            for b in grid:
                with torch.no_grad():
                    for name, p in scratch.named_parameters():
                        # θ(a, b) = θ + a·d₁ + b·d₂
                        p.copy_(base[name] + float(a) * d1[name].to(p) + float(b) * d2[name].to(p))
                for name, loss in _slice_losses(scratch, data, targets, device).items():
                    rows.append({"mode": k + 1, "a": float(a), "b": float(b), "set": name, "loss": loss})
    table = pd.DataFrame(rows)
    depths = slice_depths(table)
    return Slices(
        table=table,
        depths=depths,
        figure=slices_figure(table, depths, ood_sets),
        facts=facts(
            {"radius": "g", "depth_ind": ".3f", "depth_ood": ".3f"},
            n_points=points,
            radius=cfg.slice_radius,
            n_samples=len(data["InD test"]),
            depth_ind=float(depths["InD"].mean()),
            depth_ood=float(depths["OoD"].mean()),
            ind_at_min=int((depths["InD"] == 0).sum()),
            ood_at_min=int((depths["OoD mean-loss depth"] == 0).sum()),
            n_modes=len(modes),
        ),
    )


def slice_depths(table) -> Any:
    """Per mode and set, (L(θ) − min L)/L(θ) over the slice (0: the mode is the minimum); "OoD" the mean over the
    OoD sets, "OoD mean-loss depth" the depth of the OoD sets' mean loss."""
    rows = []
    for mode, part in table.groupby("mode"):
        centre = part[(part.a.abs() < 1e-12) & (part.b.abs() < 1e-12)].set_index("set")["loss"]
        lowest = part.groupby("set")["loss"].min()
        depth = (centre - lowest) / centre
        ood = [s for s in depth.index if s != "InD test"]
        pooled = part[part.set.isin(ood)].groupby(["a", "b"])["loss"].mean()
        pooled_centre = float(centre[ood].mean())
        row = {
            "mode": mode,
            "InD": float(depth["InD test"]),
            **{s: float(depth[s]) for s in ood},
            "OoD": float(depth[ood].mean()),
            "OoD mean-loss depth": float((pooled_centre - pooled.min()) / pooled_centre),
        }
        rows.append(row)
    return pd.DataFrame(rows).set_index("mode")


def slices_figure(table, depths, ood_sets: Sequence[str]):
    """Mode 1's InD and OoD slices as contour maps (the OoD sets' mean loss), and every mode's depths."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3))
    first = table[table["mode"] == 1]
    panels = (
        ("InD test", first[first.set == "InD test"]),
        (
            "OoD (mean of " + ", ".join(ood_sets) + ")",
            first[first.set.isin(list(ood_sets))].groupby(["a", "b"], as_index=False)["loss"].mean(),
        ),
    )
    for ax, (title, part) in zip(axes[:2], panels):
        grid = part.pivot_table(index="b", columns="a", values="loss")
        cs = ax.contourf(grid.columns, grid.index, grid.to_numpy(), levels=15, cmap="viridis")
        ax.clabel(
            ax.contour(grid.columns, grid.index, grid.to_numpy(), levels=6, colors="white", linewidths=0.5), fontsize=6
        )
        ax.plot([0], [0], "r*", ms=10)
        fig.colorbar(cs, ax=ax, label="cross-entropy to the mode's decisions")
        ax.set(title=f"mode 1: {title}"[:60], xlabel="direction 1", ylabel="direction 2")
    x = np.arange(len(depths))
    axes[2].bar(x - 0.2, depths["InD"], width=0.4, color="black", label="InD test")
    axes[2].bar(x + 0.2, depths["OoD"], width=0.4, color="C1", label="OoD (mean over sets)")
    axes[2].set(
        xticks=list(x),
        xticklabels=[str(m) for m in depths.index],
        xlabel="mode",
        ylabel="(L(mode) − min L) / L(mode)",
        title="Depth of each slice below its mode",
    )
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    return fig


@torch.no_grad()
def _losses_at(
    model: nn.Module,
    state: Mapping[str, Tensor],
    bn_batches: Sequence[Tensor],
    data: Mapping[str, Tensor],
    targets: Mapping[str, Tensor],
    device: torch.device,
) -> dict[str, float]:
    """Load ``state``, re-estimate BatchNorm on ``bn_batches``, then the mean fixed-target loss on each set."""
    model.load_state_dict(state)
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        torch.optim.swa_utils.update_bn([b.to(device) for b in bn_batches], model)
    return _slice_losses(model, data, targets, device)


@dataclass
class Segment:
    """The loss on the segment between modes 1 and 2 (``segment``: one row per α)."""

    segment: Any
    # ind_loss_a, ind_loss_b, ind_barrier, ood_gap, ood_gap_set, n_points, n_samples
    facts: pd.Series = glued()
    figure: Any = glued()


def mode_segment(modes: ModeSet, cfg: ModeEnsembleConfig, ood_sets: Sequence[str]) -> Segment:
    """The loss on the segment between modes 1 and 2 (``cfg.landscape_points`` points, extended by
    ``cfg.landscape_margin``), BatchNorm re-estimated on ``cfg.bn_samples`` training images at every point; the
    fixed targets are the decisions of the two modes' ensemble (their averaged logits), the same for both ends."""
    if len(modes) < 2:
        raise ParameterError("modes", f"{len(modes)} mode", "at least two modes")
    points = check_int("landscape_points", cfg.landscape_points, low=2)
    device = modes.modes[0].benchmark.device
    data = _slice_data(modes, ood_sets, cfg.landscape_samples)
    train = modes.modes[0].benchmark.train_dataset
    assert train is not None  # build_benchmark sets it (and a ModeSet's benchmarks share the first one's)
    # torch stubs: Dataset has no __len__ (this one has)
    rows = torch.randperm(
        len(train),  # type: ignore[arg-type]
        generator=torch.Generator().manual_seed(0),
    )[: cfg.bn_samples]
    images = torch.stack([train[int(i)][0] for i in rows])
    bn_batches = [images[i : i + 250] for i in range(0, len(images), 250)]
    states = [{k: v.detach().cpu() for k, v in m.model.state_dict().items()} for m in modes.modes[:2]]
    targets = {
        name: (_logits(modes.modes[0].model, x, device) + _logits(modes.modes[1].model, x, device)).argmax(1)
        for name, x in data.items()
    }
    scratch = copy.deepcopy(modes.modes[0].model)
    out = []
    for alpha in segment_alphas(points, cfg.landscape_margin):
        # θ(α) = (1 − α)·θ_a + α·θ_b
        state = combine_states(states, [1 - alpha, alpha])
        out.append({"alpha": float(alpha), **_losses_at(scratch, state, bn_batches, data, targets, device)})
    segment = pd.DataFrame(out)
    ends = tuple(segment.iloc[int(np.argmin(np.abs(segment.alpha.to_numpy() - a)))] for a in (0.0, 1.0))
    inside = segment[(segment.alpha >= 0) & (segment.alpha <= 1)]
    gaps = {name: abs(ends[0][name] - ends[1][name]) / min(ends[0][name], ends[1][name]) for name in ood_sets}
    gap_set = max(gaps, key=gaps.__getitem__)
    return Segment(
        segment=segment,
        figure=segment_figure(segment, ood_sets),
        facts=facts(
            {"ind_loss_a": ".3f", "ind_loss_b": ".3f", "ind_barrier": ".3f", "ood_gap": ".1%"},
            ind_loss_a=float(ends[0]["InD test"]),
            ind_loss_b=float(ends[1]["InD test"]),
            ind_barrier=float(inside["InD test"].max() - max(ends[0]["InD test"], ends[1]["InD test"])),
            ood_gap=float(gaps[gap_set]),
            ood_gap_set=gap_set,
            n_points=points,
            n_samples=len(data["InD test"]),
        ),
    )


def segment_figure(segment, ood_sets: Sequence[str]):
    """The fixed-target loss along the segment: InD test (black) and each OoD set."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    ax.plot(segment.alpha, segment["InD test"], "o-", color="black", ms=3, label="InD test")
    for i, name in enumerate(ood_sets):
        ax.plot(segment.alpha, segment[name], "o-", ms=3, color=f"C{i}", label=name)
    for a in (0, 1):
        ax.axvline(a, color="grey", ls=":", lw=1)
    ax.set(xlabel="α (0: mode 1, 1: mode 2)", ylabel="cross-entropy to the pair's decisions", title="Between two modes")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
