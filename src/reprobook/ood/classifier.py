"""The in-distribution classifier every OoD chapter protects: trained once per seed, then loaded from the cache.

Explained in ``notebooks/ood/kpca.ipynb``. The classifier of a seed is trained by SGD (momentum, weight decay,
a cosine learning rate) on the benchmark's training images and kept by
:func:`reprobook.training.train_or_load`, keyed by the settings that determine it (:data:`TRAINING_FIELDS`),
the seed, a fingerprint of the training images and a fingerprint of the code that trains it (this module,
:mod:`reprobook.training`, :mod:`reprobook.models`): a fix to any of them trains anew. Every OoD chapter that
asks for the same settings and seed loads the same checkpoint (the Kernel PCA chapter's classifiers are the
first modes of the mode-ensemble chapter).

The convolutions run in the channels-last memory layout (weights and inputs N×H×W×C), the layout the CPU
convolution kernels are fastest in: the same network and the same arithmetic, in about two thirds of the time
per step of the default layout on a CPU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..cache import dataset_fingerprint
from ..checks import check_seed, check_type
from ..configs.ood_benchmark import OODConfig
from ..models import build_model
from ..training import fit, seed_everything, train_or_load

# the fields of an OODConfig that determine the trained classifier (its checkpoint's cache key, with the seed,
# a fingerprint of the training images and one of the training code); the OoD sets and detectors do not
TRAINING_FIELDS = (
    "in_dataset",
    "model",
    "model_kwargs",
    "n_train",
    "epochs",
    "batch_size",
    "lr",
    "momentum",
    "weight_decay",
    "augment",
    "converged_window",
)
# the modules whose source determines the trained weights
TRAINING_CODE = ("reprobook.ood.classifier", "reprobook.training", "reprobook.models")


def channels_last(model: nn.Module) -> nn.Module:
    """``model`` with its weights in the channels-last layout and a hook that brings every 4-D input to it."""

    def to_channels_last(_module, args):
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            return (args[0].contiguous(memory_format=torch.channels_last), *args[1:])
        return None

    model = model.to(memory_format=torch.channels_last)
    if not getattr(model, "_reprobook_channels_last", False):
        model.register_forward_pre_hook(to_channels_last)
        model._reprobook_channels_last = True  # type: ignore[assignment]  # torch stubs: only Tensor or Module values
    return model


def training_config(cfg: OODConfig, seed: int, data_fingerprint: str) -> dict[str, Any]:
    """Everything that determines the trained classifier but the code: the cache key of its checkpoint."""
    values = cfg.as_dict()
    return {
        **{k: values[k] for k in TRAINING_FIELDS},
        "optimizer": "sgd-cosine",
        "seed": check_seed("seed", seed),
        "data": data_fingerprint,
    }


def plateau_epochs(epochs: int, window: float) -> list[int]:
    """The epochs after which the whole training set's loss is measured for the convergence check: the last
    one and the one ``window`` of the epochs before it (at least one epoch before; only the last for a run of
    one epoch, which cannot show a plateau)."""
    back = max(1, round(window * epochs))
    return sorted({max(1, epochs - back), epochs})


def train_classifier(
    cfg: OODConfig,
    train_ds: Dataset,
    *,
    seed: int,
    device: torch.device,
    progress: bool | None = None,
    plain_ds: Dataset | None = None,
    trained: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """The in-distribution classifier of ``seed``: trained with SGD (momentum, weight decay, cosine learning
    rate) for ``cfg.epochs`` epochs, or loaded from the cache. Returns ``(model on device, eval mode;
    train_or_load's info)``. Its history holds the loss of the whole training set (``plain_ds``: its images
    without augmentation, default ``train_ds``; eval mode) after the epochs of :func:`plateau_epochs`.
    ``trained``: the ``(state, info)`` that :func:`classifier_state` already returned for it (in a worker
    process: :func:`reprobook.ood.benchmark.pretrain_classifiers`)."""
    check_type("device", device, torch.device, "a torch.device (reprobook.training.resolve_device)")
    if trained is None:
        trained = classifier_state(cfg, train_ds, seed=seed, device=device, progress=progress, plain_ds=plain_ds)
    state, info = trained
    model = build_model(cfg.model, **cfg.model_kwargs)
    model.load_state_dict(state)
    return channels_last(model.to(device)).eval(), info


def classifier_state(
    cfg: OODConfig,
    train_ds: Dataset,
    *,
    seed: int,
    device: torch.device,
    progress: bool | None = None,
    plain_ds: Dataset | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`reprobook.training.train_or_load`'s ``(state, info)`` of the classifier of ``seed`` (see
    :func:`train_classifier`)."""
    check_type("device", device, torch.device, "a torch.device (reprobook.training.resolve_device)")
    config = training_config(cfg, seed, dataset_fingerprint(train_ds))

    def train():
        generator = seed_everything(seed)
        model = channels_last(build_model(cfg.model, **cfg.model_kwargs))
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
        workers = 0 if device.type == "cpu" else 4
        loader = DataLoader(
            train_ds,
            batch_size=cfg.batch_size,
            shuffle=True,
            generator=generator,
            num_workers=workers,
            pin_memory=device.type == "cuda",
        )
        whole = DataLoader(plain_ds if plain_ds is not None else train_ds, batch_size=512, shuffle=False, num_workers=0)
        history = fit(
            model,
            optimizer,
            loader,
            epochs=cfg.epochs,
            scheduler=scheduler,
            device=device,
            progress=progress,
            desc=f"{cfg.model} on {cfg.in_dataset}, seed {seed}",
            eval_loader=whole,
            eval_epochs=plateau_epochs(cfg.epochs, cfg.converged_window),
        )
        return model, history

    return train_or_load(
        config, train, name=f"ood-{cfg.in_dataset}-{cfg.model}", code=TRAINING_CODE, threads=cfg.train_threads
    )


__all__ = [
    "TRAINING_CODE",
    "TRAINING_FIELDS",
    "channels_last",
    "classifier_state",
    "plateau_epochs",
    "train_classifier",
    "training_config",
]
