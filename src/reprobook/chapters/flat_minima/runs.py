"""The sharpness chapters' runs: the same model, data, budget and seeds for every optimiser.

Explained in ``notebooks/sharpness/rwp.ipynb``. One trained run per (method, seed) is cached by a
hash of its whole configuration *and* of the code that trains it (:data:`TRAINING_CODE`, through
:func:`reprobook.training.train_or_load`), so re-executing a chapter re-evaluates without re-training,
a fix to an optimiser retrains, and the RWP and m-ARWP chapters share their SGD and SAM models when
their training settings coincide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ...cache import dataset_fingerprint
from ...checks import ParameterError, check_choice
from ...configs.rwp import RWPConfig
from ...models import build_model
from ...pool import launch_processes
from ...sharpness.arwp import ARWP, CosineIncreasingSigma
from ...sharpness.rwp import RWP
from ...sharpness.sam import SAM
from ...training import History, batches, evaluate, fit, seed_everything, train_or_load

# "rwp" is the RWP chapter's mixed RWP (γ, α); the m-ARWP chapter adds the perturbed-only RWP ("prwp"),
# m-RWP ("mrwp"), ARWP ("arwp") and m-ARWP ("marwp"), whose hyper-parameters come from a MARWPConfig
METHODS = ("sgd", "sam", "rwp", "prwp", "mrwp", "arwp", "marwp")
# methods whose σ rises on the cosine schedule of ARWP (σ from arwp_sigma_start to arwp_sigma_end)
SIGMA_SCHEDULED = ("prwp", "arwp")
# how the chapters name the methods
LABELS = {
    "sgd": "SGD",
    "sam": "SAM",
    "rwp": "RWP",
    "prwp": "RWP (perturbed only)",
    "mrwp": "m-RWP",
    "arwp": "ARWP",
    "marwp": "m-ARWP",
}
# the modules whose code determines a trained model: their fingerprint is part of every checkpoint's key (the
# analysis modules are not, so a change to the analysis re-evaluates without re-training)
TRAINING_CODE = (
    "reprobook.training",
    "reprobook.models",
    "reprobook.sharpness.base",
    "reprobook.batchnorm",
    "reprobook.sharpness.sam",
    "reprobook.sharpness.rwp",
    "reprobook.sharpness.arwp",
    "reprobook.chapters.flat_minima.runs",
)


def _marwp_field(cfg: RWPConfig, name: str, method: str):
    if not hasattr(cfg, name):
        raise ParameterError(
            "cfg",
            type(cfg).__name__,
            f"a configuration with the field '{name}' for method '{method}' (profiles.MARWPConfig)",
        )
    return getattr(cfg, name)


def make_optimizer(method: str, params, cfg: RWPConfig, *, generator: torch.Generator | None = None):
    """The optimiser of ``method`` with the chapter's hyper-parameters (SGD with momentum as the base).

    ``sgd``, ``sam`` and ``rwp`` read an RWPConfig; ``prwp`` (perturbed-only RWP), ``mrwp``, ``arwp`` and
    ``marwp`` (:class:`.arwp.ARWP`) need a MARWPConfig. ``prwp`` and ``arwp`` start at σ_start; their σ
    schedule comes from :func:`make_sigma_schedule`.
    """
    base: dict[str, Any] = dict(lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if method == "sgd":
        return torch.optim.SGD(params, **base)
    if method == "sam":
        return SAM(params, torch.optim.SGD, rho=cfg.rho, **base)
    if method == "rwp":
        return RWP(params, torch.optim.SGD, gamma=cfg.gamma, alpha=cfg.alpha, generator=generator, **base)
    if method in ("prwp", "mrwp", "arwp", "marwp"):
        sigma, lam, eta, beta, scaling, sigma_start = (
            _marwp_field(cfg, name, method) for name in ("sigma", "lam", "eta", "beta", "scaling", "arwp_sigma_start")
        )
        if method == "prwp":  # perturbed gradient only, σ on ARWP's schedule, no adaptivity
            return ARWP(
                params, torch.optim.SGD, sigma=sigma_start, alpha=1.0, eta=0.0, beta=beta, generator=generator, **base
            )
        if method == "mrwp":  # (1 − λ) ∇L(w) + λ ∇L(w + ε), no adaptivity
            return ARWP(
                params, torch.optim.SGD, sigma=sigma, alpha=lam, eta=0.0, beta=beta, generator=generator, **base
            )
        if method == "arwp":  # perturbed gradient only, adaptive noise, σ on the cosine-increasing schedule
            return ARWP(
                params,
                torch.optim.SGD,
                sigma=sigma_start,
                alpha=1.0,
                eta=eta,
                beta=beta,
                scaling=scaling,
                generator=generator,
                **base,
            )
        # m-ARWP: mixed gradients, adaptive noise, constant σ
        return ARWP(
            params,
            torch.optim.SGD,
            sigma=sigma,
            alpha=lam,
            eta=eta,
            beta=beta,
            scaling=scaling,
            generator=generator,
            **base,
        )
    raise ParameterError("method", method, ", ".join(repr(m) for m in METHODS))


def make_sigma_schedule(method: str, optimizer, cfg: RWPConfig, total_steps: int) -> CosineIncreasingSigma | None:
    """ARWP's σ schedule for ``method`` (stepped once per optimiser step), or None for a constant σ."""
    check_choice("method", method, METHODS)
    if method not in SIGMA_SCHEDULED:
        return None
    return CosineIncreasingSigma(
        optimizer,
        _marwp_field(cfg, "arwp_sigma_start", method),
        _marwp_field(cfg, "arwp_sigma_end", method),
        total_steps,
    )


@dataclass
class TrainedRun:
    """One trained model of the experiment, its training history and its test loss and accuracy."""

    method: str
    seed: int
    model: torch.nn.Module
    history: History
    test_loss: float
    test_acc: float
    loaded: bool  # True when the checkpoint came from the cache (its history's timings are another run's)


def _workers(device: torch.device) -> int:
    return 0 if device.type == "cpu" else 4


def _train_loader(cfg: RWPConfig, train_ds: Dataset, seed: int, device: torch.device) -> DataLoader:
    return DataLoader(
        train_ds,
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
        drop_last=False,
        num_workers=_workers(device),
        pin_memory=device.type == "cuda",
    )


def _test_loader(test_ds: Dataset, device: torch.device) -> Iterable:
    return batches(test_ds, 512, num_workers=_workers(device), pin_memory=device.type == "cuda")


def training_config(cfg: RWPConfig, method: str, seed: int, data_fingerprint: str) -> dict[str, Any]:
    """Everything that determines a trained model: the cache key of :func:`train_one`."""
    keep = (
        "dataset",
        "model",
        "model_kwargs",
        "n_train",
        "epochs",
        "batch_size",
        "lr",
        "momentum",
        "weight_decay",
        "augment",
    )
    config = {k: v for k, v in cfg.as_dict().items() if k in keep}
    if method == "sam":
        config["rho"] = cfg.rho
    if method == "rwp":
        config.update(gamma=cfg.gamma, alpha=cfg.alpha)
    marwp = (
        (("mrwp", "marwp"), ("sigma", "lam")),
        (SIGMA_SCHEDULED, ("arwp_sigma_start", "arwp_sigma_end")),
        (("arwp", "marwp"), ("eta", "beta", "scaling")),
    )  # the fields of a MARWPConfig each method reads
    for methods, names in marwp:
        if method in methods:
            config.update({name: _marwp_field(cfg, name, method) for name in names})
    return {**config, "method": method, "seed": seed, "data": data_fingerprint}


def train_state(
    cfg: RWPConfig,
    method: str,
    seed: int,
    train_ds: Dataset,
    device: torch.device,
    progress: bool | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Train ``method`` from the initialisation of ``seed`` (or load the cached run): the weights and
    :func:`reprobook.training.train_or_load`'s ``info``. It depends on its arguments alone, so a pool of
    processes may run it (:func:`.analysis.train_all`)."""
    config = training_config(cfg, method, seed, dataset_fingerprint(train_ds))

    def train():
        seed_everything(seed)
        # the noise generator lives where the weights are: drawing on the CPU would add a host-to-device copy
        # per parameter and step (on a GPU that made an RWP step cost several SGD steps instead of two); on
        # the CPU it is the generator seed_everything returns, so CPU runs are unchanged
        generator = torch.Generator(device=device).manual_seed(seed)
        model = build_model(cfg.model, **cfg.model_kwargs)
        optimizer = make_optimizer(method, model.parameters(), cfg, generator=generator)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
        train_loader = _train_loader(cfg, train_ds, seed, device)
        # fit() shards the loader over the processes of a multi-GPU launch: count the steps of one process
        steps_per_epoch = math.ceil(len(train_loader) / launch_processes())
        sigma_schedule = make_sigma_schedule(method, optimizer, cfg, cfg.epochs * steps_per_epoch)
        history = fit(
            model,
            optimizer,
            train_loader,
            epochs=cfg.epochs,
            scheduler=scheduler,
            device=device,
            progress=progress,
            desc=f"{method} seed {seed}",
            step_scheduler=sigma_schedule,
        )
        return model, history

    return train_or_load(config, train, name=f"{cfg.model}-{method}", code=TRAINING_CODE, threads=cfg.train_threads)


def tested_run(
    cfg: RWPConfig,
    method: str,
    seed: int,
    state: dict[str, torch.Tensor],
    info: dict[str, Any],
    test_ds: Dataset,
    device: torch.device,
) -> TrainedRun:
    """The trained run of ``state`` (from :func:`train_state`), tested on ``test_ds``."""
    model = build_model(cfg.model, **cfg.model_kwargs)
    model.load_state_dict(state)
    model.to(device)
    test_loss, test_acc = evaluate(model, _test_loader(test_ds, device), device)
    return TrainedRun(method, seed, model, info["history"], test_loss, test_acc, info["loaded"])


def train_one(
    cfg: RWPConfig,
    method: str,
    seed: int,
    train_ds: Dataset,
    test_ds: Dataset,
    device: torch.device,
    *,
    progress: bool | None = None,
) -> TrainedRun:
    """Train ``method`` from the initialisation of ``seed`` (or load the cached run) and test it."""
    state, info = train_state(cfg, method, seed, train_ds, device, progress=progress)
    return tested_run(cfg, method, seed, state, info, test_ds, device)
