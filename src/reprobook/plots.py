"""Figures that more than one chapter draws, in the book's one style (:func:`reprobook.notebook.plot_style`).

Each function returns a matplotlib ``Figure`` and leaves showing or gluing it to the caller
(``RunRecord.figure`` / a figure field of a result object).

- :func:`image_grid`: a grid of images with titles (the data of ``notebooks/sharpness/rwp.ipynb``, the
  OoD sets of ``notebooks/ood/kpca.ipynb``, the diffusion samples of the OoD chapters).
- :func:`training_curves`: per-epoch curves of several methods over seeds (mean and band), one panel per
  quantity (``notebooks/sharpness/rwp.ipynb``, ``notebooks/sharpness/marwp.ipynb``).
- :func:`loss_profiles`: loss curves along a one-dimensional path through the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import ParameterError, check_int


def _as_hwc(image: Any):
    """One image as an H×W (grayscale) or H×W×3 float array scaled to [0, 1] for ``imshow``."""
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    array = array.astype("float64")
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)  # C×H×W -> H×W×C
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3):
        raise ParameterError("images", array.shape, "images of shape H×W, C×H×W or H×W×C")
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low + 1e-8)


def image_grid(
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    *,
    ncols: int = 8,
    size: float = 1.0,
    title_size: int = 8,
):
    """A grid of ``images`` (tensors or arrays, C×H×W or H×W[×C], any range: each is rescaled to [0, 1]).

    ``titles`` (one per image) go above them; ``size`` is the side of one panel in inches.
    """
    import matplotlib.pyplot as plt

    images = list(images)
    if not images:
        raise ParameterError("images", images, "at least one image")
    if titles is not None and len(titles) != len(images):
        raise ParameterError("titles", f"{len(titles)} titles", f"one title per image ({len(images)})")
    ncols = min(check_int("ncols", ncols, low=1), len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + (0.25 * nrows if titles else 0)), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(_as_hwc(images[i]), cmap="gray", vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=title_size)
    fig.tight_layout()
    return fig


def training_curves(
    curves: dict[str, Any], *, panels: dict[str, str] | None = None, dashed: Sequence[str] = (), xlabel: str = "epoch"
):
    """Per-epoch curves of several methods, one panel per quantity: the mean over seeds with a band from
    the lowest to the highest seed.

    ``curves[quantity][label]`` is an array of seeds × epochs (e.g. ``curves["training loss"]["SGD"]``);
    ``panels`` maps each quantity to its panel title (default: the quantity); labels in ``dashed`` are
    drawn dashed. The colours follow the labels' order, the same in every panel. Used by
    ``notebooks/sharpness/rwp.ipynb`` and ``notebooks/sharpness/marwp.ipynb``.
    """
    import matplotlib.pyplot as plt

    if not curves or not all(curves.values()):
        raise ParameterError("curves", curves, "a dict {quantity: {label: seeds × epochs array}}, none empty")
    labels = list(dict.fromkeys(label for series in curves.values() for label in series))
    fig, axes = plt.subplots(1, len(curves), figsize=(4.8 * len(curves), 3.6), squeeze=False)
    for ax, (quantity, series) in zip(axes[0], curves.items()):
        for label, values in series.items():
            values = np.atleast_2d(np.asarray(values, dtype=float))
            epochs = np.arange(1, values.shape[1] + 1)
            colour = f"C{labels.index(label) % 10}"
            ax.plot(
                epochs,
                values.mean(0),
                "--" if label in dashed else "-",
                color=colour,
                label=label,
                marker="o" if values.shape[1] <= 12 else None,
                markersize=3,
            )  # few points: each one seen
            ax.fill_between(epochs, values.min(0), values.max(0), color=colour, alpha=0.15, linewidth=0)
        ax.set(xlabel=xlabel, ylabel=quantity, title=(panels or {}).get(quantity, quantity))
    shown: set[str] = set()
    for ax in axes[0]:  # a legend where a panel brings labels the panels before it did not name
        names = {line.get_label() for line in ax.lines}
        if not names <= shown:
            ax.legend(fontsize=8)
            shown |= names
    fig.tight_layout()
    return fig


def loss_profiles(
    ts: Sequence[float],
    losses: dict[str, Sequence[float]],
    *,
    xlabel: str = "t",
    ylabel: str = "training loss",
    title: str = "",
):
    """Loss curves L(w + t·d) against t, one line per label (the one-dimensional landscapes of
    ``notebooks/sharpness/rwp.ipynb``)."""
    import matplotlib.pyplot as plt

    if not losses:
        raise ParameterError("losses", losses, "a dict {label: one loss per t}")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, values in losses.items():
        if len(values) != len(ts):
            raise ParameterError(f"losses[{label!r}]", f"{len(values)} values", f"one per t ({len(ts)})")
        ax.plot(ts, values, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
