"""The cost of a step of each method, timed in this run on its device (both sharpness chapters)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ... import dryrun
from ...batchnorm import frozen_bn_stats
from ...checks import ParameterError, check_int
from ...configs.rwp import RWPConfig
from ...models import build_model
from ...results import glued
from ...timing import Timer, synchronize
from . import runs as _experiment
from .analysis import Key


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


def step_timing(
    cfg: RWPConfig,
    train_ds: Dataset,
    device: torch.device,
    methods: tuple[str, ...],
    *,
    rounds: int | None = None,
    seed: int = 0,
) -> StepTiming:
    """The seconds per step of each of ``methods`` (one of them ``"sgd"``), timed now (see :class:`StepTiming`):
    ``rounds`` rounds (None: 7) of ``cfg.step_timing_steps`` steps each, after one untimed step. A dry run times
    nothing (a step of the paper's model and batch is seconds on a CPU): one round, no untimed step, on
    :data:`reprobook.dryrun.MAX_ITEMS` images."""
    if "sgd" not in methods:
        raise ParameterError("methods", methods, "a list that includes 'sgd' (every ratio is to SGD)")
    dry = dryrun.active(cfg.profile)
    rounds = check_int("rounds", (1 if dry else 7) if rounds is None else rounds, low=1)
    n_steps = cfg.step_timing_steps
    x, y = next(iter(DataLoader(train_ds, batch_size=dryrun.MAX_ITEMS if dry else cfg.batch_size)))
    x, y = x.to(device), y.to(device)
    steps = {}
    for m in methods:
        torch.manual_seed(seed)
        model = build_model(cfg.model, **cfg.model_kwargs).to(device).train()
        optimizer = _experiment.make_optimizer(
            m, model.parameters(), cfg, generator=torch.Generator(device=device).manual_seed(seed)
        )

        def closure(model=model, optimizer=optimizer):
            optimizer.zero_grad()
            with frozen_bn_stats(model, enabled=getattr(optimizer, "in_perturbed_pass", False)):
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            return loss

        if not dry:
            optimizer.step(closure)  # warm-up
        steps[m] = (optimizer, closure)
    times: dict[Key, list[float]] = {m: [] for m in methods}
    order = np.random.default_rng(seed)
    for _ in range(rounds):
        for i in order.permutation(len(methods)):
            optimizer, closure = steps[methods[i]]
            synchronize(device)
            clock = Timer()
            for _ in range(n_steps):
                optimizer.step(closure)
            synchronize(device)
            times[methods[i]].append(clock.elapsed() / n_steps)
    seconds = {m: float(np.median(t)) for m, t in times.items()}
    ratio = {m: float(np.median(np.divide(times[m], times["sgd"]))) for m in methods}
    source = (
        f"{rounds} rounds of {n_steps} steps of each method on one batch of {len(x)} training images, "
        "timed in this run on this device (the methods' order shuffled in each round; the ratio to SGD is the "
        "median of the per-round ratios)"
    )
    return StepTiming(seconds, ratio, source)
