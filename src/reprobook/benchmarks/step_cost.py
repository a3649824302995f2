"""The wall time of one optimiser step, every method on the same model and batch, as a ratio to SGD.

Explained in ``notebooks/sharpness/step_cost.ipynb``; run from the shell as ``reprobook bench step-cost``.
A step of each method is what :func:`reprobook.training.fit` does per batch (zero the gradients,
forward, backward, ``optimizer.step(closure)``, with BatchNorm frozen on perturbed passes), except the
batched RWP, whose entry point is ``step_batch(x, y)`` (:class:`reprobook.sharpness.BatchedRWP`). One
reference row, ``sgd-double-batch``, is an SGD step on the batch repeated twice (2B samples): one pass
that does the work of two gradients, the best a single batched pass can hope for on the same device.

How it measures, so that the ratios between methods mean something:

* one model per method, all from the same initialisation, one fixed random batch of the profile's
  shape (a FashionMNIST-shaped batch for the smoke profile, a CIFAR-shaped one for the paper profile);
* ``warmup`` untimed steps per method first (allocator, kernel selection, the adaptive methods'
  accumulators);
* ``repeats`` rounds; in every round each method runs ``steps_per_repeat`` steps back to back, timed
  together (``torch.cuda.synchronize()`` before and after on a GPU), and the order of the methods is
  shuffled from round to round, so a drift of the machine's speed hits every method alike; past
  ``time_budget`` seconds no new round starts (after at least three), so a busy machine shortens the
  measurement instead of stretching it;
* per method: the median time per step and its quartiles over the rounds; ``ratio_to_sgd`` is the
  median over the rounds of the method's time over SGD's time *in the same round* (paired, so a slow
  spell of the machine cancels out), ``ratio_low`` / ``ratio_high`` are the quartiles of those ratios;
* ``operator_calls``: the tensor operator calls one step dispatches (:func:`count_operator_calls`),
  counted after the timing: the part of a step's cost that does not shrink with faster arithmetic;
* ``cpu_ms`` and ``cpu_ratio_to_sgd``: the same from the CPU time of this process (``time.process_time``),
  which on a CPU shared with other work moves less than wall time (on a GPU it is the host's share).
  The settings returned hold every round's time per step (``rounds_ms``, ``rounds_cpu_ms``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from .. import profiles
from ..batchnorm import frozen_bn_stats
from ..chapters.flat_minima import runs as experiment
from ..checks import ParameterError, check_choices, check_int, check_number, check_seed
from ..configs.marwp import MARWPConfig
from ..models import build_model
from ..sharpness.parallel import BatchedRWP
from ..timing import Timer, synchronize

# method -> (label, gradients per step, passes one after the other)
METHODS: dict[str, tuple[str, int, int]] = {
    "sgd": ("SGD", 1, 1),
    "sam": ("SAM", 2, 2),
    "rwp": ("RWP, sequential", 2, 2),
    "rwp-batched": ("RWP, batched (vmap)", 2, 1),
    "sgd-double-batch": ("SGD on the batch twice over (reference)", 1, 1),
    "mrwp": ("m-RWP", 2, 2),
    "arwp": ("ARWP", 1, 1),
    "marwp": ("m-ARWP", 2, 2),
}
# the input shape of one image of each dataset the profiles name
INPUT_SHAPES: dict[str, tuple[int, int, int]] = {
    "fashion-mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
}
# timing sizes per profile; the model, its width and the batch size come from the m-ARWP chapter's profile
# time_budget: seconds after which no new round starts (at least MIN_ROUNDS run), so a busy machine cannot
# stretch a chapter's run without bound; the settings report the rounds actually run
TIMING: dict[str, dict[str, float]] = {
    "tiny": dict(warmup=1, repeats=3, steps_per_repeat=1, time_budget=5.0),
    "smoke": dict(warmup=3, repeats=12, steps_per_repeat=3, time_budget=45.0),
    "paper": dict(warmup=10, repeats=15, steps_per_repeat=10, time_budget=600.0),
}
# a dry run (reprobook.configs.dry) of any profile: each method's step once, timed once (the code path, not a
# measurement; one step of the paper's model at its batch is seconds on a CPU) ...
DRY_TIMING: dict[str, float] = dict(warmup=0, repeats=1, steps_per_repeat=1, time_budget=1.0)
DRY_BATCH = 4  # ... on a batch of four images (reprobook.dryrun.MAX_ITEMS)
MIN_ROUNDS = 3
SETTINGS = (
    "methods",
    "batch_size",
    "model_kwargs",
    "image_size",
    "warmup",
    "repeats",
    "steps_per_repeat",
    "time_budget",
    "seed",
)


def check_methods(methods: Any) -> tuple[str, ...]:
    """``methods`` as a tuple of known method names that includes ``"sgd"`` (the ratios' denominator)."""
    return check_choices("methods", methods, METHODS, required="sgd", why="every ratio is to SGD")


def _load_average() -> float | None:
    """The machine's 1-minute load average (runnable processes), or None where the system has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def make_step(
    method: str, model: nn.Module, cfg: MARWPConfig, generator: torch.Generator, x: torch.Tensor, y: torch.Tensor
) -> Callable[[], object]:
    """One training step of ``method`` on (``x``, ``y``), as :func:`reprobook.training.fit` takes it."""
    loss_fn = nn.CrossEntropyLoss()
    if method == "sgd-double-batch":
        # one pass over 2B samples: what a perfectly batched pair of gradients would cost on this device
        x, y = torch.cat([x, x]), torch.cat([y, y])
        method = "sgd"
    if method == "rwp-batched":
        optimizer = BatchedRWP(
            model,
            torch.optim.SGD,
            gamma=cfg.gamma,
            alpha=cfg.alpha,
            generator=generator,
            lr=cfg.lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
        )
        return lambda: optimizer.step_batch(x, y)
    optimizer = experiment.make_optimizer(method, model.parameters(), cfg, generator=generator)

    def closure():
        optimizer.zero_grad()
        with frozen_bn_stats(model, enabled=getattr(optimizer, "in_perturbed_pass", False)):
            loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    return lambda: optimizer.step(closure)


def count_operator_calls(step: Callable[[], object]) -> int:
    """The number of tensor operator calls (aten ops, forward, backward and optimiser) one ``step()`` dispatches.

    Counted with a ``TorchDispatchMode``, below autograd, so the backward pass counts too. Every call costs
    a fixed overhead (Python, dispatch, a kernel launch on a GPU) whatever the size of its tensors: on a
    device where one step's kernels are short, a method that issues many small calls per parameter pays
    for them in wall time even if its arithmetic is the same.
    """

    class _Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            _Count.calls += 1
            return func(*args, **(kwargs or {}))

    with _Count():
        step()
    return _Count.calls


def measure(device: torch.device, profile: str, **settings: Any):
    """Time one step of every method on ``device``; return ``(table, settings used)``.

    Settings (each defaults to the profile's): ``methods`` (a list of :data:`METHODS` names, with
    ``"sgd"``), ``batch_size``, ``model_kwargs`` (merged over the profile's), ``image_size`` (the side of
    the square input), ``warmup``, ``repeats``, ``steps_per_repeat``, ``time_budget`` (seconds; once past
    it, no new round starts after the first :data:`MIN_ROUNDS`), ``seed``.
    """
    profiles.check_profile(profile)
    for key in settings:
        if key not in SETTINGS:
            raise ParameterError(key, settings[key], f"a step-cost setting: {', '.join(SETTINGS)}")
    cfg = profiles.config("step_cost", profile)
    methods = check_methods(settings.get("methods", tuple(METHODS)))
    sizes = DRY_TIMING if profiles.dry_run(profile) else TIMING[profile]
    timing = {
        k: check_int(k, settings.get(k, v), low=0 if k == "warmup" else 1)
        for k, v in sizes.items()
        if k != "time_budget"
    }
    budget = check_number(
        "time_budget", settings.get("time_budget", sizes["time_budget"]), low=0.0, low_inclusive=False
    )
    min_rounds = min(MIN_ROUNDS, timing["repeats"]) if profiles.dry_run(profile) else MIN_ROUNDS
    batch_size = check_int(
        "batch_size",
        settings.get("batch_size", min(cfg.batch_size, DRY_BATCH) if profiles.dry_run(profile) else cfg.batch_size),
        low=1,
    )
    model_kwargs = {**cfg.model_kwargs, **settings.get("model_kwargs", {})}
    channels, height, _ = INPUT_SHAPES[cfg.dataset]
    side = check_int("image_size", settings.get("image_size", height), low=1)
    seed = check_seed("seed", settings.get("seed", 0))

    data = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, channels, side, side, generator=data).to(device)
    y = torch.randint(0, int(model_kwargs.get("num_classes", 10)), (batch_size,), generator=data).to(device)
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(seed)
        initial = build_model(cfg.model, **model_kwargs)
    steps = {}
    for method in methods:
        model = copy.deepcopy(initial).to(device).train()
        # the noise is drawn where the weights are: a CPU generator would add a host-to-device copy per step
        noise = torch.Generator(device=device).manual_seed(seed)
        steps[method] = make_step(method, model, cfg, noise, x, y)

    load_before = _load_average()
    began = Timer()
    for _ in range(timing["warmup"]):
        for method in methods:
            steps[method]()
    synchronize(device)
    order = np.random.default_rng(seed)
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    cpu_seconds: dict[str, list[float]] = {m: [] for m in methods}  # CPU time of this process per step
    rounds = 0
    while rounds < timing["repeats"] and (rounds < min_rounds or began.elapsed() < budget):
        rounds += 1
        for i in order.permutation(len(methods)):  # a new order every round
            method = methods[i]
            synchronize(device)
            clock = Timer()
            for _ in range(timing["steps_per_repeat"]):
                steps[method]()
            synchronize(device)
            seconds[method].append(clock.elapsed() / timing["steps_per_repeat"])
            cpu_seconds[method].append(clock.cpu_elapsed() / timing["steps_per_repeat"])

    # after the timing (counting slows a step down): operator calls of one step of each method
    calls = {method: count_operator_calls(steps[method]) for method in methods}
    sgd, sgd_cpu = np.array(seconds["sgd"]), np.array(cpu_seconds["sgd"])
    rows = []
    for method in methods:
        label, gradients, passes = METHODS[method]
        t = np.array(seconds[method])
        per_round = t / sgd  # each round's time over the same round's SGD time
        rows.append(
            {
                "method": method,
                "optimizer": label,
                "gradients": gradients,
                "sequential_passes": passes,
                "median_ms": 1000 * float(np.median(t)),
                "p25_ms": 1000 * float(np.percentile(t, 25)),
                "p75_ms": 1000 * float(np.percentile(t, 75)),
                # time / time of SGD, round by round; the median over the rounds
                "ratio_to_sgd": float(np.median(per_round)),
                "ratio_low": float(np.percentile(per_round, 25)),
                "ratio_high": float(np.percentile(per_round, 75)),
                "operator_calls": calls[method],
                # the same from this process's CPU time: on a shared CPU, less moved by other processes than wall time
                "cpu_ms": 1000 * float(np.median(cpu_seconds[method])),
                "cpu_ratio_to_sgd": float(np.median(np.asarray(cpu_seconds[method]) / sgd_cpu)),
            }
        )

    table = pd.DataFrame(rows)
    used = {
        "methods": list(methods),
        "model": cfg.model,
        "model_kwargs": model_kwargs,
        "input_shape": [batch_size, channels, side, side],
        "batch_size": batch_size,
        **timing,
        "seed": seed,
        "parameters": sum(p.numel() for p in initial.parameters()),
        "parameter_tensors": sum(1 for _ in initial.parameters()),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "rounds_ms": {m: [1000 * v for v in seconds[m]] for m in methods},
        "rounds_cpu_ms": {m: [1000 * v for v in cpu_seconds[m]] for m in methods},
        "time_budget": float(budget),
        "rounds_run": rounds,
        # other work on the machine competes for its cores: more runnable processes than cores skews the ratios
        "load_average_before": load_before,
        "load_average_after": _load_average(),
        "cpu_count": os.cpu_count(),
        "hyper_parameters": {
            "lr": cfg.lr,
            "momentum": cfg.momentum,
            "weight_decay": cfg.weight_decay,
            "rho": cfg.rho,
            "gamma": cfg.gamma,
            "alpha": cfg.alpha,
            "sigma": cfg.sigma,
            "lam": cfg.lam,
            "eta": cfg.eta,
            "beta": cfg.beta,
        },
    }
    return table, used


def paired_ratio(rounds_ms: dict[str, list[float]], method: str, baseline: str) -> dict[str, float]:
    """The time of ``method`` over the time of ``baseline``, round by round: median and quartiles.

    ``rounds_ms`` is the ``rounds_ms`` entry of :func:`measure`'s settings.
    """
    for name, value in (("method", method), ("baseline", baseline)):
        if value not in rounds_ms:
            raise ParameterError(name, value, ", ".join(repr(m) for m in rounds_ms))
    # r_k = t_k(method) / t_k(baseline), one ratio per round k
    ratios = np.asarray(rounds_ms[method], dtype=float) / np.asarray(rounds_ms[baseline], dtype=float)
    return {
        "median": float(np.median(ratios)),
        "low": float(np.percentile(ratios, 25)),
        "high": float(np.percentile(ratios, 75)),
    }
