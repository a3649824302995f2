"""The analyses both sharpness chapters run: data overview, training every (method, seed), the regime the
training reached, the cost of a step measured in this run, and the flatness of the solutions.

Explained in ``notebooks/sharpness/rwp.ipynb`` and used unchanged by ``notebooks/sharpness/marwp.ipynb``.
Every function returns one result object; its fields declared with :func:`reprobook.results.glued` are
what the chapter's prose quotes (``rec.glue_result(result, prefix)``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..checks import ParameterError, check_int
from ..results import glued
from ..training import evaluate
from . import experiment as _experiment
from .landscape import filter_normalized_direction, filter_normalized_sharpness, hessian_lambda_max, loss_along_direction

Key = str  # a method name, or a variant's name (e.g. "arwp-var")


# ---------------------------------------------------------------------------------------------------
# The data
# ---------------------------------------------------------------------------------------------------


@dataclass
class DataOverview:
    """What a chapter says about its data: sizes, class balance, and a figure of the first images."""

    dataset: str = glued()
    n_train: int = glued()
    n_test: int = glued()
    min_class: int = glued()
    max_class: int = glued()
    fig_samples: Any = glued()


def datasets(cfg, seed: int) -> tuple[Dataset, Dataset, Dataset]:
    """``(train, test, train_plain)`` of ``cfg``: the training set as the optimisers see it (augmented when
    ``cfg.augment``), the test set, and the same training images without augmentation (what the training
    loss at the final weights and the flatness measures are taken on)."""
    from ..data.vision import classification_datasets

    train, test = classification_datasets(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=seed,
                                          augment=cfg.augment)
    plain = train if not cfg.augment else classification_datasets(cfg.dataset, n_train=cfg.n_train,
                                                                   n_test=cfg.n_test, seed=seed, augment=False)[0]
    return train, test, plain


def labels_of(dataset: Dataset) -> np.ndarray:
    """The integer label of every sample of ``dataset``."""
    return np.asarray([int(dataset[i][1]) for i in range(len(dataset))])


def data_overview(dataset_name: str, train_ds: Dataset, test_ds: Dataset, n_images: int = 16) -> DataOverview:
    """Sizes and class counts of the training set, and the first ``n_images`` training images with their class."""
    from ..plots import image_grid

    check_int("n_images", n_images, low=1)
    counts = np.bincount(labels_of(train_ds))
    shown = [train_ds[i] for i in range(min(n_images, len(train_ds)))]
    figure = image_grid([x for x, _ in shown], [str(int(y)) for _, y in shown], ncols=8)
    return DataOverview(dataset_name, len(train_ds), len(test_ds), int(counts.min()), int(counts.max()), figure)


def probe_batches(dataset: Dataset, n: int, device: torch.device, batch_size: int = 256) -> list[tuple]:
    """The first ``n`` samples of ``dataset`` as (x, y) batches of at most ``batch_size`` on ``device``: the fixed
    subset on which the flatness measures are taken."""
    n = min(check_int("n", n, low=1), len(dataset))
    x = torch.stack([dataset[i][0] for i in range(n)])
    y = torch.tensor([int(dataset[i][1]) for i in range(n)])
    return [(x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)) for i in range(0, n, batch_size)]


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

    def values(self, key: Key, what: str) -> list[float]:
        """A per-run quantity in seed order: ``test_acc``, ``test_loss``, ``fit_loss`` or ``fit_acc``."""
        if what in ("fit_loss", "fit_acc"):
            return [getattr(self, what)[key, s] for s in self.seeds]
        return [float(getattr(self.runs[key, s], what)) for s in self.seeds]

    def table(self):
        """One row per run: method, seed, test accuracy and loss, training loss and accuracy at the end."""
        import pandas as pd

        return pd.DataFrame([{"method": self.labels[k], "seed": s, "test accuracy": r.test_acc,
                              "test loss": r.test_loss, "training loss at w": self.fit_loss.get((k, s)),
                              "training accuracy at w": self.fit_acc.get((k, s)),
                              "from the cache": r.loaded} for (k, s), r in self.runs.items()])


def train_all(cfg, seeds: list[int], train_ds: Dataset, test_ds: Dataset, device: torch.device, *,
              variants: dict[Key, tuple[Any, str, str]] | None = None, train_plain: Dataset | None = None,
              log: Callable[[str], None] | None = print) -> Experiment:
    """Train (or load) every method of ``cfg.methods`` for every seed, plus ``variants``
    (``{key: (cfg, method, label)}``, e.g. an ablation), then measure each model's training loss and
    accuracy at its final weights on ``train_plain`` (the training images without augmentation; default
    ``train_ds``), in eval mode. ``log`` gets one line per run (None: silent)."""
    plan = [(m, cfg, m, _experiment.LABELS[m]) for m in cfg.methods]
    plan += [(key, c, method, label) for key, (c, method, label) in (variants or {}).items()]
    labels = {key: label for key, _, _, label in plan}
    runs = {}
    for key, c, method, label in plan:
        for s in seeds:
            run = _experiment.train_one(c, method, s, train_ds, test_ds, device)
            runs[key, s] = run
            if log is not None:
                log(f"{label:22s} seed {s}: test accuracy {run.test_acc:.4f}{'  (from the cache)' if run.loaded else ''}")
    result = Experiment(runs, list(seeds), labels, n_seeds=len(seeds),
                        trained=sum(not r.loaded for r in runs.values()), loaded=sum(r.loaded for r in runs.values()))
    loader = DataLoader(train_plain if train_plain is not None else train_ds, batch_size=512)
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
    regime: str = glued()  # the sentence the prose quotes
    worst_fit_loss: float = glued(".3f")
    worst_fit_acc: float = glued(".1%")
    still_falling: float = glued(".0%")
    fit_loss_rule: float = glued("g")
    fit_acc_rule: float = glued(".0%")
    fig_curves: Any = glued()


def training_regime(experiment: Experiment, cfg, *, dashed: tuple[Key, ...] = ()) -> Regime:
    """The regime of every run of ``experiment`` (see :class:`Regime`) and the figure of its training curves
    (training loss and accuracy of each step's first pass, per epoch; ``dashed`` keys drawn dashed)."""
    from ..plots import training_curves

    keys = experiment.keys
    worst_loss = max(experiment.fit_loss.values())
    worst_acc = min(experiment.fit_acc.values())
    converged = worst_loss < cfg.fit_loss and worst_acc >= cfg.fit_accuracy
    drops = []
    for key in keys:
        losses = np.array([experiment.runs[key, s].history.train_loss for s in experiment.seeds]).mean(0)
        window = max(1, len(losses) // 5)
        if len(losses) > window:
            # relative drop of the loss over the last fifth of the epochs
            drops.append((losses[-window - 1] - losses[-1]) / max(losses[-window - 1], 1e-12))
    still_falling = float(max(drops)) if drops else float("nan")
    detail = (f"largest training loss at the final weights {worst_loss:.3f} (rule: < {cfg.fit_loss:g}), "
              f"lowest training accuracy {worst_acc:.1%} (rule: ≥ {cfg.fit_accuracy:.0%})")
    if converged:
        regime = (f"every run fits its training set (training loss at the final weights at most {worst_loss:.3f}, "
                  f"training accuracy at least {worst_acc:.1%}): the converged regime the flat-minima claims are about")
    else:
        regime = (f"not every run fits its training set ({detail}): the budget ends before the converged regime "
                  "the flat-minima claims are about, so those claims are read as not comparable")
    curves = {"training loss": {}, "training accuracy": {}}
    for key in keys:
        label = experiment.labels[key]
        curves["training loss"][label] = [experiment.runs[key, s].history.train_loss for s in experiment.seeds]
        curves["training accuracy"][label] = [experiment.runs[key, s].history.train_acc for s in experiment.seeds]
    figure = training_curves(curves, dashed=[experiment.labels[k] for k in dashed])
    return Regime(converged, detail, regime, worst_loss, worst_acc, still_falling, cfg.fit_loss, cfg.fit_accuracy,
                  figure)


# ---------------------------------------------------------------------------------------------------
# The cost of a step, measured in this run
# ---------------------------------------------------------------------------------------------------


@dataclass
class StepTiming:
    """Seconds per training step of each method on this run's device, and the ratio to SGD.

    Timed in this run, never taken from a cached model's history (which may come from another machine):
    a few steps of each method on one batch of the training set, in rounds whose order of the methods is
    shuffled, so that a change in the machine's load hits every method alike; the ratio to SGD is the
    median over the rounds of the round's ratio.
    """

    seconds: dict[Key, float]
    ratio: dict[Key, float]
    source: str = glued()


def step_timing(cfg, train_ds: Dataset, device: torch.device, methods: tuple[str, ...], *, rounds: int = 7,
                seed: int = 0) -> StepTiming:
    """The seconds per step of each of ``methods`` (one of them ``"sgd"``), timed now (see :class:`StepTiming`):
    ``rounds`` rounds of ``cfg.step_timing_steps`` steps each, after one untimed step."""
    from ..benchmarks import synchronize
    from ..models import build_model
    from ..sharpness.bn import frozen_bn_stats

    if "sgd" not in methods:
        raise ParameterError("methods", methods, "a list that includes 'sgd' (every ratio is to SGD)")
    check_int("rounds", rounds, low=1)
    n_steps = cfg.step_timing_steps
    x, y = next(iter(DataLoader(train_ds, batch_size=cfg.batch_size)))
    x, y = x.to(device), y.to(device)
    steps = {}
    for m in methods:
        torch.manual_seed(seed)
        model = build_model(cfg.model, **cfg.model_kwargs).to(device).train()
        optimizer = _experiment.make_optimizer(m, model.parameters(), cfg,
                                               generator=torch.Generator(device=device).manual_seed(seed))

        def closure(model=model, optimizer=optimizer):
            optimizer.zero_grad()
            with frozen_bn_stats(model, enabled=getattr(optimizer, "in_perturbed_pass", False)):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        optimizer.step(closure)  # warm-up
        steps[m] = (optimizer, closure)
    times: dict[Key, list[float]] = {m: [] for m in methods}
    order = np.random.default_rng(seed)
    for _ in range(rounds):
        for i in order.permutation(len(methods)):
            optimizer, closure = steps[methods[i]]
            synchronize(device)
            start = time.perf_counter()
            for _ in range(n_steps):
                optimizer.step(closure)
            synchronize(device)
            times[methods[i]].append((time.perf_counter() - start) / n_steps)
    seconds = {m: float(np.median(t)) for m, t in times.items()}
    ratio = {m: float(np.median(np.divide(times[m], times["sgd"]))) for m in methods}
    source = (f"{rounds} rounds of {n_steps} steps of each method on one batch of {cfg.batch_size} training images, "
              "timed in this run on this device (the methods' order shuffled in each round; the ratio to SGD is the "
              "median of the per-round ratios)")
    return StepTiming(seconds, ratio, source)


# ---------------------------------------------------------------------------------------------------
# Flatness
# ---------------------------------------------------------------------------------------------------


@dataclass
class Flatness:
    """λ_max (Lanczos) and the filter-normalised sharpness of every model, with how the Lanczos runs converged."""

    table: Any  # pandas.DataFrame, one row per model
    lambda_max: dict[Key, list[float]]  # seed order; only the keys λ_max was computed for
    sharpness: dict[Key, list[float]]  # seed order, every key
    probe_n: int = glued()  # training images behind the sharpness
    hessian_n: int = glued()  # ... and behind λ_max (the first of them)
    radius: float = glued(".0%")
    directions: int = glued()
    lanczos_tol: float = glued("g")
    lanczos_converged: str = glued()
    lanczos_max_residual: float = glued(".0e")
    lanczos_max_matvecs: int = glued()


def flatness(experiment: Experiment, cfg, batches: list[tuple], *, lambda_keys: tuple[Key, ...] | None = None,
             loss_fn=None) -> Flatness:
    """λ_max of the models of ``lambda_keys`` (default: every key) and the filter-normalised sharpness of
    every model of ``experiment``, on the probe ``batches``. Each model's directions and Lanczos start
    vector are seeded by its seed, so every method meets the same draws."""
    import pandas as pd

    loss_fn = loss_fn or torch.nn.CrossEntropyLoss()
    keys = experiment.keys
    lambda_keys = tuple(keys if lambda_keys is None else lambda_keys)
    hessian_batches = first_samples(batches, cfg.hessian_samples)
    rows = []
    for key in keys:
        for s in experiment.seeds:
            model = experiment.runs[key, s].model
            sharp = filter_normalized_sharpness(model, loss_fn, batches, radius=cfg.sharpness_radius,
                                                n_directions=cfg.sharpness_directions,
                                                generator=torch.Generator().manual_seed(1000 + s))
            row = {"key": key, "method": experiment.labels[key], "seed": s, "sharpness": sharp.value}
            if key in lambda_keys:
                eig = hessian_lambda_max(model, loss_fn, hessian_batches, tol=cfg.lanczos_tol,
                                         max_matvecs=cfg.lanczos_max_matvecs, seed=s)
                row.update(lambda_max=eig.value, residual=eig.residual, matvecs=eig.matvecs, converged=eig.converged)
            rows.append(row)
    table = pd.DataFrame(rows)
    with_lambda = table[table.key.isin(lambda_keys)]
    n_converged = int(with_lambda.converged.sum())
    converged = (f"all {len(with_lambda)}" if n_converged == len(with_lambda) else f"{n_converged} of {len(with_lambda)}")
    per_key = lambda column, subset: {k: [float(v) for v in subset[subset.key == k].sort_values("seed")[column]]  # noqa: E731
                                      for k in dict.fromkeys(subset.key)}
    return Flatness(table, per_key("lambda_max", with_lambda), per_key("sharpness", table),
                    sum(len(y) for _, y in batches), sum(len(y) for _, y in hessian_batches), cfg.sharpness_radius,
                    cfg.sharpness_directions, cfg.lanczos_tol, converged, float(with_lambda.residual.max()),
                    int(with_lambda.matvecs.max()))


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


def landscape_figure(experiment: Experiment, cfg, batches: list[tuple], *, keys: tuple[Key, ...] | None = None,
                     loss_fn=None):
    """The training loss along one random filter-normalised direction through the first seed's model of each
    key, for t in [−radius, radius] (the direction seeded alike for every method)."""
    from ..plots import loss_profiles

    loss_fn = loss_fn or torch.nn.CrossEntropyLoss()
    ts = np.linspace(-cfg.landscape_radius, cfg.landscape_radius, cfg.landscape_points)
    first = experiment.seeds[0]
    losses = {}
    for key in (keys or experiment.keys):
        model = experiment.runs[key, first].model
        direction = filter_normalized_direction(model, generator=torch.Generator().manual_seed(2000 + first))
        losses[experiment.labels[key]] = loss_along_direction(model, direction, loss_fn, batches, ts)
    return loss_profiles(ts, losses, title="Loss along a filter-normalised direction")


def scale_text(cfg, n_train: int, n_test: int, n_seeds: int, device: torch.device) -> str:
    """The scale of a run in words, as the claims tables of both chapters note it."""
    return (f"{cfg.profile} profile: {cfg.dataset} ({n_train} train / {n_test} test images), {cfg.model} "
            f"({', '.join(f'{k}={v}' for k, v in cfg.model_kwargs.items())}), {cfg.epochs} epochs of batch "
            f"{cfg.batch_size}, {n_seeds} seeds, {torch.device(device).type}")


def mean_std_text(values: list[float], fmt: str = ".2%") -> str:
    """"mean ± std" of ``values`` in ``fmt``."""
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return f"{format(mean, fmt)} ± {format(std, fmt)}"


def claims_table(rec):
    """The record's claims as the chapters show them: one row per claim, full text (the scale is said once below)."""
    frame = rec.claims_frame().drop(columns="Scale of this run").set_index("Claim")
    return frame.style.set_properties(**{"text-align": "left", "white-space": "normal"})


def profile_note(profile: str) -> str:
    """Which profile this copy of a chapter ran, for its "Deviations from the paper"."""
    if profile == "paper":
        return "This copy of the chapter ran the paper profile."
    return (f"This copy of the chapter ran the {profile} profile; the paper profile needs a GPU and was not run "
            "for it.")


# ---------------------------------------------------------------------------------------------------
# The claims table (both chapters)
# ---------------------------------------------------------------------------------------------------


@dataclass
class Claims:
    """The claims table's rows (``rec.add_claims(result.rows)``) and the rules the prose states before it."""

    rows: list[dict]
    verdicts: dict[str, Any]  # name -> reprobook.claims.Verdict
    rule_better: str = glued()
    rule_parity: str = glued()
    margin_points: float = glued(".1f")
    n_tests: int = glued()
    alpha: float = glued("g")
    covers: str = glued()


def p_text(v: Any) -> str:
    """", p = …" for a verdict's (Holm-adjusted) p-value, with the unadjusted one where they differ."""
    return "" if v.p is None else f", p = {v.p:.3f}" + (f" (unadjusted {v.p_raw:.3f})" if v.p_raw not in (None, v.p) else "")
