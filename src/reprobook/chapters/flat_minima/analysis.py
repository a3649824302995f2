"""The analyses both sharpness chapters run: their data, training every (method, seed), the regime the training
reached and the flatness of the solutions (the cost of a step measured in this run is in :mod:`.cost`, the seeds
the claims need in :mod:`.power`; the data overview, the landscape figure, the power table and the notes are in
:mod:`.report`).

Explained in ``notebooks/sharpness/rwp.ipynb`` and used unchanged by ``notebooks/sharpness/marwp.ipynb``.
Every function returns one result object; its fields declared with :func:`reprobook.results.glued` are
what the chapter's prose quotes (``rec.glue_result(result, prefix)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from ...checks import check_int
from ...configs.rwp import RWPConfig
from ...data.vision import classification_datasets
from ...plots import training_curves
from ...pool import pool_size, train_many
from ...results import facts, glued
from ...sharpness.landscape import filter_normalized_sharpness, hessian_lambda_max
from ...training import batches, evaluate
from . import runs as _experiment

Key = str  # a method name, or a variant's name (e.g. "arwp-var")


# ---------------------------------------------------------------------------------------------------
# The data
# ---------------------------------------------------------------------------------------------------


def datasets(cfg: RWPConfig, seed: int) -> tuple[Dataset, Dataset, Dataset]:
    """``(train, test, train_plain)`` of ``cfg``: the training set as the optimisers see it (augmented when
    ``cfg.augment``), the test set, and the same training images without augmentation (what the training
    loss at the final weights and the flatness measures are taken on)."""
    train, test = classification_datasets(
        cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=seed, augment=cfg.augment
    )
    plain = (
        train
        if not cfg.augment
        else classification_datasets(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=seed, augment=False)[0]
    )
    return train, test, plain


def probe_batches(dataset: Dataset, n: int, device: torch.device, batch_size: int = 256) -> list[tuple]:
    """The first ``n`` samples of ``dataset`` as (x, y) batches of at most ``batch_size`` on ``device``: the fixed
    subset on which the flatness measures are taken."""
    # torch stubs: Dataset has no __len__ (the datasets given here have one)
    n = min(check_int("n", n, low=1), len(dataset))  # type: ignore[arg-type]
    x = torch.stack([dataset[i][0] for i in range(n)])
    y = torch.tensor([int(dataset[i][1]) for i in range(n)])
    return [(x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)) for i in range(0, n, batch_size)]


# ---------------------------------------------------------------------------------------------------
# Training every (method, seed)
# ---------------------------------------------------------------------------------------------------


@dataclass
class Experiment:
    """Every trained run of a chapter: ``runs[key, seed]``, ``key`` a method or a variant of one."""

    runs: dict[tuple[Key, int], Any]
    seeds: list[int]
    labels: dict[Key, str]
    fit_loss: dict[tuple[Key, int], float] = field(default_factory=dict)  # training loss at the final weights
    fit_acc: dict[tuple[Key, int], float] = field(default_factory=dict)
    n_seeds: int = glued(default=0)
    trained: int = glued(default=0)  # runs trained by this execution
    loaded: int = glued(default=0)  # runs loaded from the checkpoint cache

    @property
    def keys(self) -> list[Key]:
        return list(dict.fromkeys(k for k, _ in self.runs))

    def seeds_of(self, key: Key) -> list[int]:
        """The seeds ``key`` was trained for, in seed order (every seed, but a variant may have fewer)."""
        return [s for s in self.seeds if (key, s) in self.runs]

    def values(self, key: Key, what: str, seeds: list[int] | None = None) -> list[float]:
        """A per-run quantity in seed order: ``test_acc``, ``test_loss``, ``fit_loss`` or ``fit_acc``; of the
        given ``seeds`` (default: every seed ``key`` was trained for)."""
        seeds = self.seeds_of(key) if seeds is None else seeds
        if what in ("fit_loss", "fit_acc"):
            return [getattr(self, what)[key, s] for s in seeds]
        return [float(getattr(self.runs[key, s], what)) for s in seeds]

    def table(self):
        """One row per run: method, seed, test accuracy and loss, training loss and accuracy at the end."""
        return pd.DataFrame(
            [
                {
                    "method": self.labels[k],
                    "seed": s,
                    "test accuracy": r.test_acc,
                    "test loss": r.test_loss,
                    "training loss at w": self.fit_loss.get((k, s)),
                    "training accuracy at w": self.fit_acc.get((k, s)),
                    "from the cache": r.loaded,
                }
                for (k, s), r in self.runs.items()
            ]
        )


def train_all(
    cfg: RWPConfig,
    seeds: list[int],
    train_ds: Dataset,
    test_ds: Dataset,
    device: torch.device,
    *,
    variants: dict[Key, tuple[Any, str, str]] | None = None,
    variant_seeds: int | None = None,
    train_plain: Dataset | None = None,
    log: Callable[[str], None] | None = print,
) -> Experiment:
    """Train (or load) every method of ``cfg.methods`` for every seed, plus ``variants``
    (``{key: (cfg, method, label)}``, e.g. an ablation) for the first ``variant_seeds`` seeds (default: every
    seed), then measure each model's training loss and accuracy at its final weights on ``train_plain`` (the
    training images without augmentation; default ``train_ds``), in eval mode. ``log`` gets one line per run
    (None: silent). On a CPU the runs train ``cfg.train_workers`` at a time (:func:`reprobook.pool.pool_size`),
    one process each, into the same models as one after the other."""
    plan = [(m, cfg, m, _experiment.LABELS[m], seeds) for m in cfg.methods]
    plan += [(key, c, method, label, seeds[:variant_seeds]) for key, (c, method, label) in (variants or {}).items()]
    labels = {key: label for key, _, _, label, _ in plan}
    jobs = [(key, c, method, label, s) for key, c, method, label, key_seeds in plan for s in key_seeds]
    # on a CPU, as many (method, seed) runs at once as the run's cores hold, one process each: the same models
    workers = pool_size(cfg.train_threads, device.type, torch.get_num_threads(), cfg.train_workers)
    progress = None if workers == 1 else False  # no progress bars from the pool's processes
    trained = train_many(
        _experiment.train_state, [(c, method, s, train_ds, device, progress) for _, c, method, _, s in jobs], workers
    )
    runs = {}
    for (key, c, method, label, s), (state, info) in zip(jobs, trained, strict=True):
        run = _experiment.tested_run(c, method, s, state, info, test_ds, device)
        runs[key, s] = run
        if log is not None:
            log(f"{label:22s} seed {s}: test accuracy {run.test_acc:.4f}{'  (from the cache)' if run.loaded else ''}")
    result = Experiment(
        runs,
        list(seeds),
        labels,
        n_seeds=len(seeds),
        trained=sum(not r.loaded for r in runs.values()),
        loaded=sum(r.loaded for r in runs.values()),
    )
    loader = batches(train_plain if train_plain is not None else train_ds, 512)
    for key_seed, run in runs.items():
        result.fit_loss[key_seed], result.fit_acc[key_seed] = evaluate(run.model, loader, device)
    return result


# ---------------------------------------------------------------------------------------------------
# The regime the training reached
# ---------------------------------------------------------------------------------------------------


@dataclass
class Regime:
    """Whether the runs reached the converged (interpolating) regime, and the training curves.

    ``converged``: every run's training loss at its final weights is below the profile's ``fit_loss`` and
    its training accuracy at least ``fit_accuracy``. ``still_falling``: the largest relative drop of a
    method's epoch-mean training loss over the last fifth of the epochs.
    """

    converged: bool
    detail: str  # why (not) converged, for the verdicts that need convergence
    # regime: the sentence the prose quotes; worst_fit_loss, worst_fit_acc against the rules fit_loss_rule,
    # fit_acc_rule; still_falling
    facts: pd.Series = glued()
    fig_curves: Any = glued()


REGIME_FORMATS = {
    "worst_fit_loss": ".3f",
    "worst_fit_acc": ".1%",
    "still_falling": ".0%",
    "fit_loss_rule": "g",
    "fit_acc_rule": ".0%",
}


def training_regime(experiment: Experiment, cfg: RWPConfig, *, dashed: tuple[Key, ...] = ()) -> Regime:
    """The regime of every run of ``experiment`` (see :class:`Regime`) and the figure of its training curves
    (training loss and accuracy of each step's first pass, per epoch; ``dashed`` keys drawn dashed, those the
    run left out ignored)."""
    keys = experiment.keys
    worst_loss = max(experiment.fit_loss.values())
    worst_acc = min(experiment.fit_acc.values())
    converged = worst_loss < cfg.fit_loss and worst_acc >= cfg.fit_accuracy
    drops = []
    for key in keys:
        losses = np.array([experiment.runs[key, s].history.train_loss for s in experiment.seeds_of(key)]).mean(0)
        window = max(1, len(losses) // 5)
        if len(losses) > window:
            # relative drop of the loss over the last fifth of the epochs
            drops.append((losses[-window - 1] - losses[-1]) / max(losses[-window - 1], 1e-12))
    still_falling = float(max(drops)) if drops else float("nan")
    detail = (
        f"largest training loss at the final weights {worst_loss:.3f} (rule: < {cfg.fit_loss:g}), "
        f"lowest training accuracy {worst_acc:.1%} (rule: ≥ {cfg.fit_accuracy:.0%})"
    )
    if converged:
        regime = (
            f"every run fits its training set (training loss at the final weights at most {worst_loss:.3f}, "
            f"training accuracy at least {worst_acc:.1%}): the converged regime the flat-minima claims are about"
        )
    else:
        regime = (
            f"not every run fits its training set ({detail}): the budget ends before the converged regime "
            "the flat-minima claims are about, so those claims are read as not comparable"
        )
    curves: dict[str, dict[str, list[list[float]]]] = {"training loss": {}, "training accuracy": {}}
    for key in keys:
        label = experiment.labels[key]
        curves["training loss"][label] = [experiment.runs[key, s].history.train_loss for s in experiment.seeds_of(key)]
        curves["training accuracy"][label] = [
            experiment.runs[key, s].history.train_acc for s in experiment.seeds_of(key)
        ]
    figure = training_curves(curves, dashed=[experiment.labels[k] for k in dashed if k in experiment.labels])
    return Regime(
        converged,
        detail,
        facts(
            REGIME_FORMATS,
            regime=regime,
            worst_fit_loss=worst_loss,
            worst_fit_acc=worst_acc,
            still_falling=still_falling,
            fit_loss_rule=cfg.fit_loss,
            fit_acc_rule=cfg.fit_accuracy,
        ),
        figure,
    )


# ---------------------------------------------------------------------------------------------------
# Flatness
# ---------------------------------------------------------------------------------------------------


@dataclass
class Flatness:
    """λ_max (Lanczos) and the filter-normalised sharpness of every model, with how the Lanczos runs converged."""

    table: Any  # pandas.DataFrame, one row per model
    lambda_max: dict[Key, list[float]]  # seed order; only the keys λ_max was computed for
    sharpness: dict[Key, list[float]]  # seed order, every key
    # probe_n: training images behind the sharpness, hessian_n: behind λ_max (the first of them); radius,
    # directions; lanczos_tol, lanczos_converged (how many of the runs), lanczos_max_residual, lanczos_max_matvecs
    facts: pd.Series = glued()


def flatness(
    experiment: Experiment,
    cfg: RWPConfig,
    batches: list[tuple],
    *,
    lambda_keys: tuple[Key, ...] | None = None,
    loss_fn=None,
) -> Flatness:
    """λ_max of the models of ``lambda_keys`` (default: every key) of the first ``cfg.lambda_seeds`` seeds
    (None: every seed) and the filter-normalised sharpness of every model of ``experiment``, on the probe
    ``batches``. Each model's directions and Lanczos start vector are seeded by its seed, so every method
    meets the same draws."""
    loss_fn = loss_fn or torch.nn.CrossEntropyLoss()
    keys = experiment.keys
    lambda_keys = tuple(keys if lambda_keys is None else lambda_keys)
    lambda_at = set(experiment.seeds[: cfg.lambda_seeds])
    hessian_batches = first_samples(batches, cfg.hessian_samples)
    rows = []
    for key in keys:
        for s in experiment.seeds_of(key):
            model = experiment.runs[key, s].model
            sharp = filter_normalized_sharpness(
                model,
                loss_fn,
                batches,
                radius=cfg.sharpness_radius,
                n_directions=cfg.sharpness_directions,
                generator=torch.Generator().manual_seed(1000 + s),
            )
            row = {"key": key, "method": experiment.labels[key], "seed": s, "sharpness": sharp.value}
            if key in lambda_keys and s in lambda_at:
                eig = hessian_lambda_max(
                    model, loss_fn, hessian_batches, tol=cfg.lanczos_tol, max_matvecs=cfg.lanczos_max_matvecs, seed=s
                )
                row.update(lambda_max=eig.value, residual=eig.residual, matvecs=eig.matvecs, converged=eig.converged)
            rows.append(row)
    table = pd.DataFrame(rows)
    with_lambda = table[table.key.isin(lambda_keys) & table.seed.isin(lambda_at)]
    n_converged = int(with_lambda.converged.sum())
    converged = f"all {len(with_lambda)}" if n_converged == len(with_lambda) else f"{n_converged} of {len(with_lambda)}"

    def per_key(column, subset):
        return {
            k: [float(v) for v in subset[subset.key == k].sort_values("seed")[column]]
            for k in dict.fromkeys(subset.key)
        }

    return Flatness(
        table,
        per_key("lambda_max", with_lambda),
        per_key("sharpness", table),
        facts(
            {"radius": ".0%", "lanczos_tol": "g", "lanczos_max_residual": ".0e"},
            probe_n=sum(len(y) for _, y in batches),
            hessian_n=sum(len(y) for _, y in hessian_batches),
            radius=cfg.sharpness_radius,
            directions=cfg.sharpness_directions,
            lambda_n_seeds=len(lambda_at),
            lanczos_tol=cfg.lanczos_tol,
            lanczos_converged=converged,
            lanczos_max_residual=float(with_lambda.residual.max()),
            lanczos_max_matvecs=int(with_lambda.matvecs.max()),
        ),
    )


def first_samples(batches: list[tuple], n: int) -> list[tuple]:
    """The first ``n`` samples of ``batches`` (a list of (x, y)), as batches."""
    check_int("n", n, low=1)
    out, left = [], n
    for x, y in batches:
        if left <= 0:
            break
        out.append((x[:left], y[:left]))
        left -= len(y[:left])
    return out
