"""The sharpness chapters' experiment: the same model, data, budget and seeds for every optimiser.

Explained in ``notebooks/sharpness/rwp.ipynb``. One trained run per (method, seed) is cached by a
hash of its whole configuration (:func:`reprobook.training.train_or_load`), so re-executing a chapter
re-evaluates without re-training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..models import build_model
from ..profiles import ParameterError
from ..training import History, evaluate, fit, seed_everything, train_or_load
from .rwp import RWP
from .sam import SAM

METHODS = ("sgd", "sam", "rwp")


def make_optimizer(method: str, params, cfg, *, generator: torch.Generator | None = None):
    """The optimiser of ``method`` with the chapter's hyper-parameters (SGD with momentum as the base)."""
    base = dict(lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if method == "sgd":
        return torch.optim.SGD(params, **base)
    if method == "sam":
        return SAM(params, torch.optim.SGD, rho=cfg.rho, **base)
    if method == "rwp":
        return RWP(params, torch.optim.SGD, gamma=cfg.gamma, alpha=cfg.alpha, generator=generator, **base)
    raise ParameterError("method", method, ", ".join(METHODS))


@dataclass
class TrainedRun:
    method: str
    seed: int
    model: torch.nn.Module
    history: History
    test_loss: float
    test_acc: float
    loaded: bool  # True when the checkpoint came from the cache


def _loaders(cfg, train_ds: Dataset, test_ds: Dataset, seed: int, device: torch.device):
    workers = 0 if device.type == "cpu" else 4
    g = torch.Generator().manual_seed(seed)
    train = DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=True, generator=g, drop_last=False,
                       num_workers=workers, pin_memory=device.type == "cuda")
    test = DataLoader(test_ds, batch_size=512, shuffle=False, num_workers=workers,
                      pin_memory=device.type == "cuda")
    return train, test


def training_config(cfg, method: str, seed: int, data_fingerprint: str) -> dict[str, Any]:
    """Everything that determines a trained model: the cache key of :func:`train_one`."""
    keep = ("dataset", "model", "model_kwargs", "n_train", "epochs", "batch_size", "lr", "momentum",
            "weight_decay", "augment")
    config = {k: v for k, v in cfg.as_dict().items() if k in keep}
    if method == "sam":
        config["rho"] = cfg.rho
    if method == "rwp":
        config.update(gamma=cfg.gamma, alpha=cfg.alpha)
    return {**config, "method": method, "seed": seed, "data": data_fingerprint}


def data_fingerprint(dataset: Dataset) -> str:
    """A short hash of a dataset's raw content, independent of random augmentation (a changed subset retrains).

    Understands ``Subset`` (indices + parent), ``TensorDataset`` (its tensors) and torchvision-style
    datasets (``data`` and ``targets``); anything else is hashed by its length and type only.
    """
    import hashlib

    from torch.utils.data import Subset, TensorDataset

    digest = hashlib.sha256()
    if isinstance(dataset, Subset):
        digest.update(np.asarray(dataset.indices, dtype=np.int64).tobytes())
        digest.update(data_fingerprint(dataset.dataset).encode())
    elif isinstance(dataset, TensorDataset):
        for tensor in dataset.tensors:
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    elif hasattr(dataset, "data") and hasattr(dataset, "targets"):
        digest.update(np.ascontiguousarray(np.asarray(dataset.data)).tobytes())
        digest.update(np.asarray(dataset.targets, dtype=np.int64).tobytes())
    else:
        digest.update(f"{type(dataset).__qualname__}:{len(dataset)}".encode())
    return digest.hexdigest()[:16]


def train_one(cfg, method: str, seed: int, train_ds: Dataset, test_ds: Dataset, device: torch.device,
              *, progress: bool | None = None) -> TrainedRun:
    """Train ``method`` from the initialisation of ``seed`` (or load the cached run) and test it."""
    config = training_config(cfg, method, seed, data_fingerprint(train_ds))

    def train():
        generator = seed_everything(seed)
        model = build_model(cfg.model, **cfg.model_kwargs)
        optimizer = make_optimizer(method, model.parameters(), cfg, generator=generator)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
        train_loader, _ = _loaders(cfg, train_ds, test_ds, seed, device)
        history = fit(model, optimizer, train_loader, epochs=cfg.epochs, scheduler=scheduler, device=device,
                      progress=progress, desc=f"{method} seed {seed}")
        return model, history

    state, info = train_or_load(config, train, name=f"{cfg.model}-{method}")
    model = build_model(cfg.model, **cfg.model_kwargs)
    model.load_state_dict(state)
    model.to(device)
    _, test_loader = _loaders(cfg, train_ds, test_ds, seed, device)
    test_loss, test_acc = evaluate(model, test_loader, device)
    return TrainedRun(method, seed, model, info["history"], test_loss, test_acc, info["loaded"])
