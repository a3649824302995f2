"""The loss between modes: on the segment joining two modes and on the plane through three, InD vs OoD data.

Explained in ``notebooks/ood/mode_ensemble.ipynb``. The paper's picture (Fang et al., IJCV 2024): modes that
are equally deep in the InD loss sit in OoD landscapes of very different heights. Along
θ(α) = (1 − α)·θ_a + α·θ_b (α = 0 and 1 are the two modes; the segment may extend beyond them) and on the
plane θ_1 + a·u + b·v spanned by three modes (Garipov et al., 2018: u along θ_2 − θ_1, v the part of
θ_3 − θ_1 orthogonal to it), the InD loss is the cross-entropy with the labels of the InD test images, and
the OoD loss, with no labels to use, the cross-entropy to the uniform distribution (the Outlier Exposure
objective, :func:`~reprobook.ood.modes.uniform_cross_entropy`): low when the network is unsure of an OoD
image, as a detector wants it to be.

Interpolating weights breaks BatchNorm's running statistics, so at every point they are re-estimated on
training images (``torch.optim.swa_utils.update_bn``), at the modes too, as in the mode-connectivity
literature.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..checks import ParameterError, check_int
from ..results import glued
from .modes import ModeSet, uniform_cross_entropy


def combine_states(states: Sequence[Mapping[str, Tensor]], weights: Sequence[float]) -> dict[str, Tensor]:
    """Σ_i w_i·θ_i for every floating-point tensor of the state dicts; integer buffers come from the first."""
    if len(states) != len(weights) or not states:
        raise ParameterError("weights", list(weights), f"one weight per state dict ({len(states)})")
    keys = list(states[0])
    if any(list(s) != keys for s in states):
        raise ParameterError("states", "state dicts with different keys", "state dicts of one architecture")
    out = {}
    for key in keys:
        first = states[0][key]
        if first.is_floating_point():
            # θ = Σ_i w_i θ_i
            out[key] = sum(float(w) * s[key] for w, s in zip(weights, states))
        else:
            out[key] = first.clone()
    return out


@torch.no_grad()
def _losses_at(model: nn.Module, state: Mapping[str, Tensor], bn_batches: Sequence[Tensor],
               data: Mapping[str, tuple[Tensor, Tensor | None]], device: torch.device) -> dict[str, float]:
    """Load ``state``, re-estimate BatchNorm on ``bn_batches``, then the mean loss on each set of ``data``:
    cross-entropy with the labels where there are labels, cross-entropy to the uniform distribution where not."""
    model.load_state_dict(state)
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        torch.optim.swa_utils.update_bn([b.to(device) for b in bn_batches], model)
    model.eval()
    out = {}
    for name, (x, y) in data.items():
        logits = torch.cat([model(x[i:i + 500].to(device)) for i in range(0, len(x), 500)]).cpu()
        out[name] = float(nn.functional.cross_entropy(logits, y) if y is not None else uniform_cross_entropy(logits).mean())
    return out


def plane_basis(states: Sequence[Mapping[str, Tensor]]) -> tuple[dict[str, Tensor], dict[str, Tensor], np.ndarray]:
    """Orthonormal directions (û, v̂) of the plane through three modes and the modes' (a, b) coordinates.

    u = θ_2 − θ_1, v = (θ_3 − θ_1) − ⟨θ_3 − θ_1, û⟩·û (over the floating-point tensors); θ_1 sits at (0, 0).
    """
    if len(states) != 3:
        raise ParameterError("states", f"{len(states)} state dicts", "three state dicts (three modes)")
    keys = [k for k, v in states[0].items() if v.is_floating_point()]
    flat = [torch.cat([s[k].double().flatten() for k in keys]) for s in states]
    u = flat[1] - flat[0]
    u_hat = u / u.norm()
    w = flat[2] - flat[0]
    v = w - (w @ u_hat) * u_hat
    v_hat = v / v.norm()
    coords = np.array([[0.0, 0.0], [float(u.norm()), 0.0], [float(w @ u_hat), float(v.norm())]])

    def unflatten(vec: Tensor) -> dict[str, Tensor]:
        out, start = {}, 0
        for k in keys:
            n = states[0][k].numel()
            out[k] = vec[start:start + n].view_as(states[0][k]).to(states[0][k].dtype)
            start += n
        return out

    return unflatten(u_hat), unflatten(v_hat), coords


def segment_alphas(points: int, margin: float) -> np.ndarray:
    """``points`` equally spaced α from 0 to 1 (the two modes are on the grid), continued with the same step
    for ``margin`` beyond each end."""
    check_int("landscape_points", points, low=2)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin < 0:
        raise ParameterError("landscape_margin", margin, "a number >= 0")
    step = 1.0 / (points - 1)
    extra = int(round(margin / step))
    return np.arange(-extra, points + extra) * step


@dataclass
class Landscape:
    """Loss on the segment between modes 1 and 2 (``segment``: one row per α) and, when asked, on the plane
    through modes 1–3 (``plane``: one row per grid point, ``plane_modes`` their coordinates)."""

    segment: Any
    plane: Any
    plane_modes: Any
    ind_loss_a: float = glued(".3f")
    ind_loss_b: float = glued(".3f")
    ind_barrier: float = glued(".3f")
    ood_gap: float = glued(".1%")
    ood_gap_set: str = glued()
    n_points: int = glued()
    n_samples: int = glued()
    figure: Any = glued()


def _landscape_data(modes: ModeSet, n_samples: int, bn_samples: int, device: torch.device):
    data = {"InD test": (modes.images("test")[:n_samples], modes.labels("test")[:n_samples])}
    for name in modes.ood_sets:
        data[name] = (modes.images(name)[:n_samples], None)
    train = modes.modes[0].benchmark.train_dataset
    gen = torch.Generator().manual_seed(0)
    rows = torch.randperm(len(train), generator=gen)[:bn_samples]
    images = torch.stack([train[int(i)][0] for i in rows])
    bn_batches = [images[i:i + 250] for i in range(0, len(images), 250)]
    return data, bn_batches


def mode_landscape(modes: ModeSet, cfg: Any) -> Landscape:
    """The loss on the segment between modes 1 and 2 (``cfg.landscape_points`` points, extended by
    ``cfg.landscape_margin``) and, if ``cfg.plane_points`` > 0 and there are three modes, on their plane."""
    import pandas as pd

    if len(modes) < 2:
        raise ParameterError("modes", f"{len(modes)} mode", "at least two modes")
    points = check_int("landscape_points", cfg.landscape_points, low=2)
    device = modes.modes[0].benchmark.device
    data, bn_batches = _landscape_data(modes, cfg.landscape_samples, cfg.bn_samples, device)
    states = [{k: v.detach().cpu() for k, v in m.model.state_dict().items()} for m in modes.modes[:3]]
    scratch = copy.deepcopy(modes.modes[0].model)
    rows = []
    for alpha in segment_alphas(points, cfg.landscape_margin):
        # θ(α) = (1 − α)·θ_a + α·θ_b
        state = combine_states(states[:2], [1 - alpha, alpha])
        rows.append({"alpha": float(alpha), **_losses_at(scratch, state, bn_batches, data, device)})
    segment = pd.DataFrame(rows)
    plane, plane_modes = None, None
    if cfg.plane_points and len(states) == 3:
        u_hat, v_hat, coords = plane_basis(states)
        pad = 0.2 * max(np.ptp(coords[:, 0]), np.ptp(coords[:, 1]))
        a_grid = np.linspace(coords[:, 0].min() - pad, coords[:, 0].max() + pad, cfg.plane_points)
        b_grid = np.linspace(coords[:, 1].min() - pad, coords[:, 1].max() + pad, cfg.plane_points)
        grid_rows = []
        for a in a_grid:
            for b in b_grid:
                # θ = θ_1 + a·û + b·v̂ (û, v̂ zero on integer buffers)
                state = {k: (v + a * u_hat[k] + b * v_hat[k]) if k in u_hat else v.clone() for k, v in states[0].items()}
                grid_rows.append({"a": float(a), "b": float(b), **_losses_at(scratch, state, bn_batches, data, device)})
        plane = pd.DataFrame(grid_rows)
        plane_modes = pd.DataFrame(coords, columns=["a", "b"], index=[f"mode {i + 1}" for i in range(3)])
    ends = tuple(segment.iloc[int(np.argmin(np.abs(segment.alpha.to_numpy() - a)))] for a in (0.0, 1.0))
    inside = segment[(segment.alpha >= 0) & (segment.alpha <= 1)]
    gaps = {name: abs(ends[0][name] - ends[1][name]) / min(ends[0][name], ends[1][name]) for name in modes.ood_sets}
    gap_set = max(gaps, key=gaps.get)
    return Landscape(segment=segment, plane=plane, plane_modes=plane_modes,
                     ind_loss_a=float(ends[0]["InD test"]), ind_loss_b=float(ends[1]["InD test"]),
                     ind_barrier=float(inside["InD test"].max() - max(ends[0]["InD test"], ends[1]["InD test"])),
                     ood_gap=float(gaps[gap_set]), ood_gap_set=gap_set, n_points=points,
                     n_samples=len(data["InD test"][0]), figure=landscape_figure(segment, plane, plane_modes, modes.ood_sets))


def landscape_figure(segment, plane, plane_modes, ood_sets: Sequence[str]):
    """Left: InD test cross-entropy along the segment; middle: each OoD set's uniform cross-entropy; right
    (with a plane): the InD and one OoD loss over the plane through three modes."""
    import matplotlib.pyplot as plt

    panels = 2 + (2 if plane is not None else 0)
    fig, axes = plt.subplots(1, panels, figsize=(3.4 * panels, 3.2))
    axes[0].plot(segment.alpha, segment["InD test"], "o-", color="black", ms=3)
    axes[0].set(xlabel="α (0: mode 1, 1: mode 2)", ylabel="cross-entropy", title="InD test")
    for i, name in enumerate(ood_sets):
        axes[1].plot(segment.alpha, segment[name], "o-", ms=3, color=f"C{i}", label=name)
    axes[1].set(xlabel="α (0: mode 1, 1: mode 2)", ylabel="cross-entropy to uniform", yscale="log", title="OoD sets")
    axes[1].legend(fontsize=7)
    for ax in axes[:2]:
        for a in (0, 1):
            ax.axvline(a, color="grey", ls=":", lw=1)
    if plane is not None:
        for ax, name in zip(axes[2:], ("InD test", ood_sets[0])):
            grid = plane.pivot(index="b", columns="a", values=name)
            cs = ax.contourf(grid.columns, grid.index, np.log(grid.to_numpy()), levels=20, cmap="viridis")
            ax.plot(plane_modes.a, plane_modes.b, "w*", ms=9)
            fig.colorbar(cs, ax=ax, label="log loss")
            ax.set(title=f"plane through modes 1–3: {name}", xlabel="a", ylabel="b")
    fig.tight_layout()
    return fig


__all__ = ["Landscape", "combine_states", "landscape_figure", "mode_landscape", "plane_basis", "segment_alphas"]
