"""Figures that more than one chapter draws, in the book's one style (:func:`reprobook.notebook.plot_style`).

Each function returns a matplotlib ``Figure`` and leaves showing or gluing it to the caller
(``RunRecord.figure`` / a figure field of a result object).

- :func:`image_grid`: a grid of images with titles (the data of ``notebooks/sharpness/rwp.ipynb``, the
  OoD sets of ``notebooks/ood/kpca.ipynb``, the diffusion samples of the OoD chapters).
"""

from __future__ import annotations

from typing import Any, Sequence

from .checks import ParameterError, check_int


def _as_hwc(image: Any):
    """One image as an H×W (grayscale) or H×W×3 float array scaled to [0, 1] for ``imshow``."""
    import numpy as np

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


def image_grid(images: Sequence[Any], titles: Sequence[str] | None = None, *, ncols: int = 8,
               size: float = 1.0, title_size: int = 8):
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
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.25 * nrows if titles else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(_as_hwc(images[i]), cmap="gray", vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=title_size)
    fig.tight_layout()
    return fig
