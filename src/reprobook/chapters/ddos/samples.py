"""The images of the DDoS chapter: the seeded subset of InD training images the DDPM learns from, and the
scored InD test rows with the held-out calibration rows, disjoint."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ...checks import ParameterError
from ...data import vision
from ...ood.diffusion import to_pixels
from ...ood.modes import scoring_index


def images_of(dataset, rows: Tensor) -> Tensor:
    """The images of ``dataset`` at ``rows``, stacked."""
    return torch.stack([dataset[int(i)][0] for i in rows])


def training_pixels(bench: Any, n: int | None, *, seed: int = 0) -> Tensor:
    """A seeded subset of ``n`` InD training images of ``bench`` (all when None), as pixels in [0, 1]: what the
    DDPM learns from."""
    return pixels_of(bench.train_dataset, bench.config.in_dataset, n, seed=seed)


def pixels_of(dataset: Any, in_dataset: str, n: int | None, *, seed: int = 0) -> Tensor:
    """:func:`training_pixels` of the training images ``dataset`` of the registry set ``in_dataset``."""
    rows = scoring_index(len(dataset), n, seed=4000 + seed)
    return to_pixels(images_of(dataset, rows), vision.input_spec(in_dataset)).clamp(0, 1)


def split_rows(n_test: int, n_score: int | None, n_calibration: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The scored InD test rows and the held-out calibration rows, disjoint (seeded)."""
    gen = torch.Generator().manual_seed(2000 + seed)
    order = torch.randperm(n_test, generator=gen)
    scored = n_test - n_calibration if n_score is None else n_score
    if scored + n_calibration > n_test:
        raise ParameterError(
            "n_calibration",
            n_calibration,
            f"at most {n_test - scored} (the InD test images not scored: {n_test} − {scored})",
        )
    return order[:scored].sort().values, order[scored : scored + n_calibration].sort().values
