"""Seeding, devices, threads, a training loop on ``accelerate``, and train-or-load checkpoints.

Used by every chapter that trains a classifier (first: ``notebooks/sharpness/rwp.ipynb``). The same
:func:`fit` runs on a CPU, one GPU, or several GPUs under ``accelerate launch``; it drives plain torch
optimisers and the two-pass ones (SAM, RWP) alike, through ``optimizer.step(closure)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .paths import cache_dir
from .profiles import check_device
from .sharpness.bn import frozen_bn_stats


def seed_everything(seed: int, deterministic: bool = False) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` → the first of CUDA, MPS, CPU that is available; other names are checked and returned."""
    check_device(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def set_threads(n: int | None = None) -> int:
    """Use ``n`` intra-op threads (default: every core) and one inter-op thread; return ``n``."""
    n = int(n or os.cpu_count() or 1)
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # can only be set once, before any parallel work
        pass
    return n


@dataclass
class History:
    """Per-epoch measurements of :func:`fit`."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    def to_dict(self) -> dict[str, list[float]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> "History":
        return cls(**{k: list(v) for k, v in data.items() if k in {f.name for f in dataclasses.fields(cls)}})


def _default_progress() -> bool:
    return os.environ.get("REPROBOOK_PROGRESS", "1") != "0"


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device | str = "cpu",
             loss_fn: Callable | None = None) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``loader`` (eval mode; the mode is restored)."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = torch.device(device)
    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total += float(loss_fn(logits, y)) * len(y)
        correct += int((logits.argmax(1) == y).sum())
        count += len(y)
    model.train(was_training)
    return total / count, correct / count


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, train_loader, *, epochs: int, scheduler=None,
        device: torch.device | str = "auto", loss_fn: Callable | None = None, eval_loader=None,
        progress: bool | None = None, desc: str = "") -> History:
    """Train for ``epochs`` epochs; the scheduler (if any) steps once per epoch.

    Every step is ``optimizer.step(closure)``. The closure runs the forward pass with BatchNorm running
    statistics frozen whenever the optimiser says it is in a perturbed pass (``in_perturbed_pass``).
    """
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"invalid value for parameter 'epochs': {epochs!r}; allowed: an integer >= 1")
    device = resolve_device(device) if isinstance(device, str) else device
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    progress = _default_progress() if progress is None else progress
    accelerator = Accelerator(cpu=device.type == "cpu")
    model, prepared_optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    history = History()
    bar = tqdm(total=epochs * len(train_loader), desc=desc, disable=not progress, leave=False)
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        total, correct, count = 0.0, 0, 0
        for x, y in train_loader:
            outputs: dict[str, torch.Tensor] = {}

            def closure():
                prepared_optimizer.zero_grad()
                with frozen_bn_stats(model, enabled=getattr(optimizer, "in_perturbed_pass", False)):
                    logits = model(x)
                    loss = loss_fn(logits, y)
                accelerator.backward(loss)
                # the first call is the clean pass: its loss and logits are the step's
                outputs.setdefault("logits", logits.detach())
                outputs.setdefault("loss", loss.detach())
                return loss

            prepared_optimizer.step(closure)  # accelerate's wrapper does not return the loss
            total += float(outputs["loss"]) * len(y)
            correct += int((outputs["logits"].argmax(1) == y).sum())
            count += len(y)
            bar.update(1)
        if scheduler is not None:
            scheduler.step()
        history.epoch_seconds.append(time.perf_counter() - start)
        history.train_loss.append(total / count)
        history.train_acc.append(correct / count)
        if eval_loader is not None:
            eval_loss, eval_acc = evaluate(model, eval_loader, accelerator.device, loss_fn)
            history.eval_loss.append(eval_loss)
            history.eval_acc.append(eval_acc)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
    bar.close()
    return history


def config_hash(config: dict[str, Any]) -> str:
    """The first 16 hex digits of the SHA-256 of ``config`` as canonical JSON."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def train_or_load(config: dict[str, Any], train_fn: Callable[[], tuple[nn.Module, History]], *, name: str,
                  cache: Path | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The trained weights for ``config``: loaded from the cache, or trained by ``train_fn`` and saved.

    The checkpoint ``<cache>/checkpoints/<name>-<hash>.pt`` holds the state dict, the config and the
    training history; it is written through a temporary file, so an interrupted run leaves no
    half-written checkpoint. Returns ``(state_dict, info)`` with ``info = {"loaded", "history", "path"}``.
    """
    folder = Path(cache or cache_dir()) / "checkpoints"
    path = folder / f"{name}-{config_hash(config)}.pt"
    if path.exists():
        saved = torch.load(path, map_location="cpu", weights_only=False)
        return saved["state_dict"], {"loaded": True, "history": History.from_dict(saved["history"]), "path": path}
    model, history = train_fn()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"state_dict": state, "config": config, "history": history.to_dict()}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    path.with_suffix(".json").write_text(json.dumps({"config": config, "history": history.to_dict()},
                                                    indent=2, default=str))
    return state, {"loaded": False, "history": history, "path": path}
