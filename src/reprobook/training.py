"""Seeding, devices, threads, a training loop on ``accelerate``, and train-or-load checkpoints.

Used by every chapter that trains a classifier (first: ``notebooks/sharpness/rwp.ipynb``). The same
:func:`fit` runs on a CPU, one GPU, or several GPUs under ``accelerate launch``; it drives plain torch
optimisers and the two-pass ones (SAM, RWP) alike, through ``optimizer.step(closure)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .batchnorm import frozen_bn_stats
from .cache import code_fingerprint, json_key
from .checks import (
    ParameterError,
    check_choice,
    check_device,
    check_int,
    check_optional_int,
    check_seed,
    check_type,
)
from .paths import cache_dir, exclusive_lock
from .pool import launch_processes
from .results import atomic_write, note_checkpoint, provenance
from .timing import Timer, timed


def seed_everything(seed: int, deterministic: bool = False) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded with ``seed``.

    ``deterministic=True`` also asks torch for deterministic kernels (warning, not failing, where an
    operation has none) and turns off cuDNN's autotuner; it is a process-wide switch.
    """
    seed = check_seed("seed", seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → the first of CUDA, MPS, CPU that is available; other names are checked and returned.

    Allowed: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` (or a ``torch.device``). Asking
    for a device this machine does not have is an error, not a silent fallback to the CPU.
    """
    if isinstance(device, torch.device):
        device = str(device)
    check_device("device", device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {device!r} was asked for, but CUDA is not available here; use device='auto' or 'cpu'"
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device {device!r} was asked for, but only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
    if resolved.type == "mps" and not _mps_available():
        raise RuntimeError(
            f"device {device!r} was asked for, but MPS is not available here; use device='auto' or 'cpu'"
        )
    return resolved


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def set_threads(n: int | None = None) -> int:
    """Use ``n`` intra-op threads (default: every core) and one inter-op thread; return ``n``."""
    n = check_optional_int("n", n, low=1)
    n = int(n or os.cpu_count() or 1)
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # can only be set once, before any parallel work
        pass
    return n


@contextlib.contextmanager
def fixed_threads(n: int | None):
    """Run the block on ``n`` intra-op threads (None: as many as the run has), then restore the count.

    On a CPU a reduction's result depends, in its last bits, on how many threads split it; over hundreds of
    training steps that difference grows into another model (measured: the RWP chapter's smoke run alone on
    two threads and inside the book on one read different accuracies and, for three claims, other verdicts). A
    trainer that must give one model whatever the run's core count fixes the count for its loop here
    (:func:`train_or_load`'s ``threads``, which also puts the count in the model's cache key). (A GPU's kernels
    do not use these threads.)"""
    n = check_optional_int("train_threads", n, low=1)
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


UNITS = ("epoch", "step")
# the names a history saved before the trainers shared one type gave two of its fields
_RENAMED = {"epoch_seconds": "seconds", "eval_epochs": "eval_at"}


@dataclass
class History:
    """What one training run measured as it went: the package's one record of a training curve.

    :func:`fit` writes one entry per epoch; the language-model trainers (:mod:`reprobook.llm.trainers`,
    :mod:`reprobook.alignment.pretraining`) and the diffusion model one per optimiser step (``unit``). Per entry:
    ``train_loss``, ``train_acc`` (where there is an accuracy), ``seconds`` (the wall time of the entry's
    training steps, no evaluation; empty where only the total was timed) and ``series``, any other measurement
    by name (the largest logit, the gradient norm, …). ``eval_loss`` and ``eval_acc`` were measured after the
    entries numbered in ``eval_at`` (epochs 1-based; steps as the trainer counts them).

    Of the whole run: ``total_seconds`` (the call, evaluation included), ``cpu_seconds`` (process CPU time, where
    measured), the optimiser ``steps`` taken, ``tokens`` and ``samples`` trained on (0: not counted),
    ``parameters`` (the trained model's parameter counts, where the trainer records them), ``diverged`` (a
    non-finite loss stopped the run), ``logs`` (a trainer's own log rows, as it wrote them) and ``started_at``
    (when training began, UTC ISO 8601: set by :func:`train_or_load` from its checkpoint).
    """

    unit: str = "epoch"
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    eval_acc: list[float] = field(default_factory=list)
    eval_at: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    series: dict[str, list[float]] = field(default_factory=dict)
    total_seconds: float = 0.0
    cpu_seconds: float = 0.0
    steps: int = 0
    tokens: int = 0
    samples: int = 0
    parameters: dict[str, int] = field(default_factory=dict)
    diverged: bool = False
    logs: list[dict[str, float]] = field(default_factory=list)
    started_at: str = ""

    def __post_init__(self) -> None:
        check_choice("unit", self.unit, UNITS)

    @property
    def train_seconds(self) -> float:
        """The wall time of the training steps: the sum of ``seconds``, else ``total_seconds``."""
        return float(sum(self.seconds)) if self.seconds else self.total_seconds

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds > 0 else float("nan")

    @property
    def final_eval_loss(self) -> float:
        """The last evaluation loss; NaN when the run diverged or was never evaluated."""
        return self.eval_loss[-1] if self.eval_loss and not self.diverged else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """The history ``to_dict`` wrote (older dicts, with fewer fields or the former names, load too)."""
        floats = lambda v: [float(x) for x in v]  # noqa: E731
        cast: dict[str, Callable[[Any], Any]] = {
            "unit": str,
            "eval_at": lambda v: [int(x) for x in v],
            "series": lambda v: {str(k): floats(x) for k, x in v.items()},
            "total_seconds": float,
            "cpu_seconds": float,
            "steps": int,
            "tokens": int,
            "samples": int,
            "parameters": lambda v: {str(k): int(x) for k, x in v.items()},
            "diverged": bool,
            "logs": lambda v: [dict(r) for r in v],
            "started_at": str,
        }
        names = {f.name for f in dataclasses.fields(cls)}
        values = {_RENAMED.get(k, k): v for k, v in data.items()}
        return cls(**{k: cast.get(k, floats)(v) for k, v in values.items() if k in names})


def _default_progress() -> bool:
    return os.environ.get("REPROBOOK_PROGRESS", "1") != "0"


class TensorBatches:
    """The batches ``DataLoader(dataset, batch_size)`` yields from a ``TensorDataset`` (same order, same values),
    as slices of its tensors instead of items collated one by one. Scoring the 10,000 FashionMNIST test images
    with the smoke profile's small CNN on a 2-core CPU: 0.52 s through the DataLoader, 0.44 s through these slices
    (two threads; on one, 0.48 s and 0.47 s: the model's own passes cost most of it)."""

    def __init__(self, dataset: TensorDataset, batch_size: int):
        self.tensors = dataset.tensors
        self.batch_size = check_int("batch_size", batch_size, low=1)

    def __len__(self) -> int:
        return -(-len(self.tensors[0]) // self.batch_size)

    def __iter__(self):
        for i in range(0, len(self.tensors[0]), self.batch_size):
            yield tuple(t[i : i + self.batch_size] for t in self.tensors)


def batches(dataset: Any, batch_size: int, **loader_kwargs: Any) -> Iterable:
    """In-order batches of ``dataset`` for scoring: :class:`TensorBatches` for a ``TensorDataset``, otherwise a
    ``DataLoader`` (``loader_kwargs``: its other arguments, e.g. ``num_workers``)."""
    if isinstance(dataset, TensorDataset):
        return TensorBatches(dataset, batch_size)
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, **loader_kwargs)


@torch.no_grad()
def evaluate(
    model: nn.Module, loader, device: torch.device | str = "cpu", loss_fn: Callable | None = None
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``loader`` (eval mode; the mode is restored).

    ``loss_fn`` (default cross-entropy) must average over its batch; batches are moved to ``device``.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = resolve_device(device)
    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0, 0
    try:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total += float(loss_fn(logits, y)) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            count += len(y)
    finally:
        model.train(was_training)
    if count == 0:
        raise ParameterError("loader", loader, "a loader that yields at least one sample")
    return total / count, correct / count


def make_accelerator(device: torch.device | str = "auto"):
    """An ``accelerate.Accelerator`` on ``device`` (CPU, or the launcher's GPU), safe to create repeatedly.

    accelerate keeps one process-wide state. In a single process (a notebook, the tests) a call for a
    different device type than the last one resets that state instead of failing (asking for the CPU
    after a GPU) or silently staying where it was (asking for a GPU after the CPU). Under
    ``accelerate launch`` with several processes the state is never reset: the launcher owns it.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, PartialState

    device = resolve_device(device)
    cpu = device.type == "cpu"
    if PartialState._shared_state:
        state = PartialState()
        if state.num_processes == 1 and (state.device.type == "cpu") != cpu:
            AcceleratorState._reset_state(reset_partial_state=True)
    if device.type == "cuda" and device.index is not None and launch_processes() == 1:
        torch.cuda.set_device(device.index)  # accelerate's single-process "cuda" is the current device
    return Accelerator(cpu=cpu)


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader,
    *,
    epochs: int,
    scheduler=None,
    device: torch.device | str = "auto",
    loss_fn: Callable | None = None,
    eval_loader=None,
    progress: bool | None = None,
    desc: str = "",
    step_scheduler=None,
    eval_epochs: Iterable[int] | None = None,
) -> History:
    """Train ``model`` in place for ``epochs`` epochs with ``accelerate``; return the :class:`History`.

    The same code runs on a CPU, one GPU, or several GPUs under ``accelerate launch`` (then the loader
    is sharded and the reported training loss and accuracy are summed over the processes). Every step
    is ``optimizer.step(closure)``, so plain torch optimisers and the two-pass ones (SAM, RWP) run
    alike; the closure freezes BatchNorm running statistics whenever the optimiser says it is in a
    perturbed pass (``in_perturbed_pass``). The training loss and accuracy of a step are those of its
    clean (first) pass. ``scheduler`` (if any) steps once per epoch, ``step_scheduler`` (if any, e.g.
    ARWP's σ schedule) once after every optimiser step. ``eval_loader`` (if any) is evaluated after
    every epoch, or only after the epochs in ``eval_epochs`` (1-based). ``progress=None`` shows a tqdm
    bar unless the environment sets ``REPROBOOK_PROGRESS=0``.
    """
    from tqdm.auto import tqdm

    check_int("epochs", epochs, low=1)
    if eval_epochs is not None:
        eval_epochs = {check_int("eval_epochs", e, low=1, high=epochs) for e in eval_epochs}
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    progress = _default_progress() if progress is None else progress
    clock = Timer()
    accelerator = make_accelerator(device)
    # accelerate wraps the optimiser; its step(closure) calls ours with the closure (no mixed precision here)
    model, prepared_optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    history = History()
    bar = tqdm(
        total=epochs * len(train_loader),
        desc=desc,
        disable=not progress or not accelerator.is_main_process,
        leave=False,
    )
    for epoch in range(1, epochs + 1):
        model.train()
        with timed() as t:
            sums = torch.zeros(3, dtype=torch.float64, device=accelerator.device)  # loss·n, correct, n
            for x, y in train_loader:
                clean: dict[str, torch.Tensor] = {}

                def closure():
                    prepared_optimizer.zero_grad()
                    with frozen_bn_stats(model, enabled=getattr(optimizer, "in_perturbed_pass", False)):
                        logits = model(x)
                        loss = loss_fn(logits, y)
                    accelerator.backward(loss)
                    if not clean:  # the first call is the clean pass at w
                        clean.update(logits=logits.detach(), loss=loss.detach())
                    return loss

                prepared_optimizer.step(closure)  # accelerate's wrapper does not return the loss
                history.steps += 1
                if step_scheduler is not None:
                    step_scheduler.step()
                sums += torch.stack(
                    [
                        clean["loss"].double() * len(y),
                        (clean["logits"].argmax(1) == y).sum().double(),
                        torch.tensor(float(len(y)), dtype=torch.float64, device=sums.device),
                    ]
                )
                bar.update(1)
            if accelerator.num_processes > 1:
                sums = accelerator.reduce(sums, reduction="sum")
        history.seconds.append(t.seconds)
        total, correct, count = sums.tolist()
        history.train_loss.append(total / count)
        history.train_acc.append(correct / count)
        if scheduler is not None:
            scheduler.step()
        if eval_loader is not None and (eval_epochs is None or epoch in eval_epochs):
            eval_loss, eval_acc = evaluate(model, eval_loader, accelerator.device, loss_fn)
            history.eval_loss.append(eval_loss)
            history.eval_acc.append(eval_acc)
            history.eval_at.append(epoch)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
    bar.close()
    history.total_seconds = clock.elapsed()
    return history


def config_hash(config: dict[str, Any]) -> str:
    """The first 16 hex digits of the SHA-256 of ``config`` as canonical JSON (sorted keys, no spaces)."""
    check_type("config", config, dict, "a dict")
    return json_key(config)


def _split_trained(result: Any) -> tuple[dict[str, torch.Tensor], History | None]:
    """What ``train_fn`` returned — a module, a state dict, or either with a History — as (state, history)."""
    history = None
    if isinstance(result, tuple) and len(result) == 2:
        result, history = result
        if isinstance(history, dict):
            history = History.from_dict(history)
        if history is not None and not isinstance(history, History):
            raise TypeError(
                f"train_fn returned a history of type {type(history).__name__}; allowed: History, dict, None"
            )
    if isinstance(result, nn.Module):
        result = result.state_dict()
    if not isinstance(result, dict) or not all(isinstance(v, torch.Tensor) for v in result.values()):
        raise TypeError(
            "train_fn must return an nn.Module or a state dict, optionally as (model_or_state, history); "
            f"it returned {type(result).__name__}"
        )
    return {k: v.detach().cpu().clone() for k, v in result.items()}, history


def checkpoint_path(config: dict[str, Any], name: str, cache: Path | str | None = None) -> Path:
    """``<cache>/checkpoints/<name>-<config_hash(config)>.pt``; ``cache`` defaults to :func:`cache_dir`."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ParameterError("name", name, "a non-empty file-name part")
    return Path(cache or cache_dir()) / "checkpoints" / f"{name}-{config_hash(config)}.pt"


def _read_checkpoint(path: Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it exists, is readable and was trained with ``config``; else None."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        saved_config = saved["config"]
        saved_config = json.loads(saved_config) if isinstance(saved_config, str) else saved_config
        if config_hash(saved_config) != config_hash(config):  # a hash collision, or a hand-copied file
            return None
        saved.setdefault("history", None)
        return saved if isinstance(saved.get("state_dict"), dict) else None
    except Exception:  # an older format or a damaged file: train again and overwrite it
        return None


def train_or_load(
    config: dict[str, Any],
    train_fn: Callable[[], Any],
    *,
    name: str,
    cache: Path | str | None = None,
    code: tuple[Any, ...] = (),
    threads: int | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The trained weights for ``config``: loaded from the cache, or trained by ``train_fn`` and saved.

    ``code`` names the modules that determine training (e.g. ``("reprobook.training",
    "reprobook.sharpness")``): their :func:`~reprobook.cache.code_fingerprint` joins the key, so a change to them
    retrains. ``threads`` (a chapter's ``train_threads``): ``train_fn`` runs on that many intra-op threads
    (:func:`fixed_threads`) and the count joins the key as ``train_threads``; None: on the run's threads.
    The checkpoint records the commit that trained it (``info["trained_at"]``). Under a multi-process
    launch (``accelerate launch``, ``torchrun``: ``WORLD_SIZE`` > 1) the number of processes joins the key,
    since every process trains on its own batch: such a model is never taken for a single-process one.

    ``train_fn()`` returns the trained ``nn.Module`` or its state dict, optionally as a pair with the
    :class:`History` of :func:`fit`. The checkpoint ``<cache>/checkpoints/<name>-<hash>.pt`` holds the
    state dict, the config and the history, with a readable ``.json`` (config and history) beside it;
    both are written to a temporary file and renamed, so an interrupted run leaves no half-written
    checkpoint. A second call with the same config loads without calling ``train_fn``.

    Returns ``(state_dict, info)`` with ``info = {"loaded", "history", "path", "config"}`` (``history``
    is a :class:`History`, or None when ``train_fn`` returned none). Every call is counted as loaded or
    trained (:func:`reprobook.results.note_checkpoint`); the chapter's results file reports the counts.
    """
    threads = check_optional_int("train_threads", threads, low=1)
    if code:
        config = {**config, "code": code_fingerprint(*code)}
    if threads is not None:
        config = {**config, "train_threads": threads}
    world_size = launch_processes()
    if world_size > 1:  # trained under a multi-process launch: each process had its own batch, a different run
        config = {**config, "world_size": world_size}
    path = checkpoint_path(config, name, cache)
    # two notebooks run at once that need the same checkpoint: the second waits for the first and loads it
    # (not under a multi-process launch, whose processes must train together)
    lock = exclusive_lock(path.with_name(path.name + ".lock")) if world_size == 1 else contextlib.nullcontext()

    def train() -> Any:
        with fixed_threads(threads):
            return train_fn()

    with lock:
        return _train_or_load_locked(path, config, train)


def _train_or_load_locked(
    path: Path, config: dict[str, Any], train_fn: Callable[[], Any]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    saved = _read_checkpoint(path, config)
    if saved is not None:
        history = None if saved["history"] is None else History.from_dict(saved["history"])
        if history is not None and not history.started_at:  # saved before histories recorded it
            history.started_at = str((saved.get("trained_at") or {}).get("finished_at") or "")
        note_checkpoint(loaded=True)
        return saved["state_dict"], {
            "loaded": True,
            "history": history,
            "path": path,
            "config": config,
            "trained_at": saved.get("trained_at"),
        }

    trained_at = {k: v for k, v in provenance().items() if k in ("git_commit", "device", "finished_at")}
    state, history = _split_trained(train_fn())
    if history is not None:
        history.started_at = str(trained_at.get("finished_at") or "")  # provenance's time: taken before training
    path.parent.mkdir(parents=True, exist_ok=True)
    config_json = json.dumps(config, sort_keys=True, default=str)
    history_dict = None if history is None else history.to_dict()
    atomic_write(
        path.with_suffix(".json"),
        lambda tmp: Path(tmp).write_text(
            json.dumps({"config": json.loads(config_json), "history": history_dict, "trained_at": trained_at}, indent=2)
        ),
    )
    # the .pt last: its presence means the whole checkpoint is there
    atomic_write(
        path,
        lambda tmp: torch.save(
            {"state_dict": state, "config": config_json, "history": history_dict, "trained_at": trained_at}, tmp
        ),
    )
    note_checkpoint(loaded=False)
    return state, {"loaded": False, "history": history, "path": path, "config": config, "trained_at": trained_at}
