"""What both sharpness chapters show of their runs: the data, the loss landscape, the power table, the scale and budget
notes.

Explained in ``notebooks/sharpness/rwp.ipynb``; the analyses are in :mod:`.analysis`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ... import claims, sample_size
from ...checks import check_int
from ...configs.rwp import RWPConfig
from ...plots import image_grid, loss_profiles
from ...results import facts, glued
from ...sharpness.landscape import filter_normalized_direction, loss_along_direction
from .analysis import Experiment, Key
from .power import seed_plan


@dataclass
class DataOverview:
    """What a chapter says about its data: sizes, class balance, and a figure of the first images."""

    facts: pd.Series = glued()  # dataset, n_train, n_test, min_class, max_class (the training set's class counts)
    fig_samples: Any = glued()


def labels_of(dataset: Dataset) -> np.ndarray:
    """The integer label of every sample of ``dataset``."""
    # torch stubs: Dataset has no __len__ (the datasets given here have one)
    return np.asarray([int(dataset[i][1]) for i in range(len(dataset))])  # type: ignore[arg-type]


def data_overview(dataset_name: str, train_ds: Dataset, test_ds: Dataset, n_images: int = 16) -> DataOverview:
    """Sizes and class counts of the training set, and the first ``n_images`` training images with their class."""
    check_int("n_images", n_images, low=1)
    counts = np.bincount(labels_of(train_ds))
    # torch stubs: Dataset has no __len__ (the datasets given here have one)
    shown = [train_ds[i] for i in range(min(n_images, len(train_ds)))]  # type: ignore[arg-type]
    figure = image_grid([x for x, _ in shown], [str(int(y)) for _, y in shown], ncols=8)
    return DataOverview(
        facts(
            None,
            dataset=dataset_name,
            n_train=len(train_ds),  # type: ignore[arg-type]  # as above
            n_test=len(test_ds),  # type: ignore[arg-type]
            min_class=int(counts.min()),
            max_class=int(counts.max()),
        ),
        figure,
    )


def landscape_figure(
    experiment: Experiment, cfg: RWPConfig, batches: list[tuple], *, keys: tuple[Key, ...] | None = None, loss_fn=None
):
    """The training loss along one random filter-normalised direction through the first seed's model of each
    key, for t in [−radius, radius] (the direction seeded alike for every method)."""
    loss_fn = loss_fn or torch.nn.CrossEntropyLoss()
    ts = np.linspace(-cfg.landscape_radius, cfg.landscape_radius, cfg.landscape_points)
    first = experiment.seeds[0]
    losses = {}
    for key in keys or experiment.keys:
        model = experiment.runs[key, first].model
        direction = filter_normalized_direction(model, generator=torch.Generator().manual_seed(2000 + first))
        losses[experiment.labels[key]] = loss_along_direction(model, direction, loss_fn, batches, ts)
    # loss_profiles is annotated for sequences of floats; it plots these arrays alike
    return loss_profiles(
        cast(Sequence[float], ts),
        cast(dict[str, Sequence[float]], losses),
        title="Loss along a filter-normalised direction",
    )


def scale_text(cfg: RWPConfig, n_train: int, n_test: int, n_seeds: int, device: torch.device) -> str:
    """The scale of a run in words, as the claims tables of both chapters note it."""
    return (
        f"{cfg.profile} profile: {cfg.dataset} ({n_train} train / {n_test} test images), {cfg.model} "
        f"({', '.join(f'{k}={v}' for k, v in cfg.model_kwargs.items())}), {cfg.epochs} epochs of batch "
        f"{cfg.batch_size}, {n_seeds} seeds, {torch.device(device).type}"
    )


def mean_std_text(values: list[float], fmt: str = ".2%") -> str:
    """ "mean ± std" of ``values`` in ``fmt``."""
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{format(mean, fmt)} ± {format(std, fmt)}"


def profile_note(profile: str) -> str:
    """Which profile this copy of a chapter ran, for its "Deviations from the paper"."""
    if profile == "paper":
        return "This copy of the chapter ran the paper profile."
    return f"This copy of the chapter ran the {profile} profile; the paper profile needs a GPU and was not run for it."


def budget_note(specs: list[claims.ClaimSpec], pilot: dict, n_seeds: int) -> str:
    """:func:`reprobook.sample_size.budget_note` over seeds: which claims the pilot says stay below 80 % power at the
    paper's effect with ``n_seeds`` seeds, and the cold time the seeds they need would take."""
    return sample_size.budget_note(specs, pilot, n_seeds, unit="seeds")


@dataclass
class PowerReport:
    """What this run's spread says about its power: for every tested claim, the seeds 80 % power would need,
    and a sentence naming the claims that stayed below it."""

    table: Any  # pandas.DataFrame (seed_plan with this run's standard deviations)
    # family: tested claims in the chapter's Holm family; level: the Holm level α/m power is computed at; n_run;
    # below: the claims below 80 % power at the SESOI, or "none"
    facts: pd.Series = glued()


def power_report(tests: list[claims.ClaimTest], values: dict[str, tuple[list[float], list[float]]]) -> PowerReport:
    """:func:`seed_plan` with the standard deviations of this run's paired differences (``values``, as the
    claim tests used them); only claims the run tested (not *not comparable*) count."""
    tested = [t for t in tests if t.verdict.tested and t.verdict.verdict != "not comparable" and t.key in values]
    sd = {}
    for t in tested:
        a, b = values[t.key]
        diffs = np.subtract(a, b)
        sd[t.key] = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else float("nan")
    n_run = max((t.verdict.n or 0 for t in tested), default=0)
    table = seed_plan([t.spec for t in tested], sd, n_run)
    low = [t.spec.claim for t in tested if t.verdict.power is None or not t.verdict.power >= claims.TARGET_POWER]
    below = "none" if not low else "; ".join(low)
    return PowerReport(
        table,
        facts({"level": ".4f"}, family=len(tested), level=claims.ALPHA / max(1, len(tested)), n_run=n_run, below=below),
    )
