"""Explained in `notebooks/alignment/baichuan2.ipynb`: small Llama-style language models pre-trained like Baichuan 2.

The model is ``transformers``' ``LlamaForCausalLM`` (rotary position embeddings, SwiGLU, pre-RMSNorm:
Baichuan 2-7B's architecture) at a small size, optionally with :class:`~reprobook.alignment.normhead.NormHead`
and the max-z loss. Training follows Baichuan 2's optimiser settings (AdamW with β = (0.9, 0.95), weight
decay 0.1, gradient-norm clipping, linear warm-up then cosine decay) on packed token blocks: every
document ends with ``</s>``, the stream is cut into blocks of ``seq_len`` tokens.

One loop, :func:`train_lm`, runs on a CPU, one GPU or several under ``accelerate launch``; it records the
cross-entropy, the largest logit and the gradient norm of every step, the validation loss at regular
steps, the throughput in tokens per second, and whether the run diverged. :func:`train_cached` wraps it
in :func:`reprobook.training.train_or_load`, keyed by the model, the optimiser settings, the token
data and this code, so a re-run loads instead of re-training.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..cache import tensor_fingerprint
from ..checks import ParameterError, check_int, check_number
from ..pool import pool_size, train_many
from ..results import glued
from ..timing import timed
from ..training import History, make_accelerator, resolve_device, train_or_load
from .normhead import MAX_Z_WEIGHT, apply_normhead, causal_lm_loss, normhead_init_

if TYPE_CHECKING:
    from transformers import PreTrainedModel


# what train_lm records of every step besides its cross-entropy (History.series): the largest logit in the
# batch, the mean over tokens of each token's largest logit, and the gradient norm before clipping
CURVES = ("max_logit", "mean_max_logit", "grad_norm")


# --------------------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class ModelSize:
    """A Llama-style decoder's shape. ``intermediate`` defaults to the SwiGLU width ⌈8·hidden/3⌉ rounded up to 8."""

    hidden: int
    layers: int
    heads: int
    intermediate: int | None = None

    def __post_init__(self) -> None:
        check_int("hidden", self.hidden, low=1)
        check_int("layers", self.layers, low=1)
        check_int("heads", self.heads, low=1)
        if self.hidden % self.heads:
            raise ParameterError("heads", self.heads, f"a divisor of hidden ({self.hidden})")

    @property
    def ffn(self) -> int:
        return self.intermediate or 8 * math.ceil(8 * self.hidden / 3 / 8)

    @property
    def name(self) -> str:
        return f"d{self.hidden}-L{self.layers}"

    @classmethod
    def parse(cls, value: Any) -> ModelSize:
        """A ModelSize from itself, a dict of its fields or a tuple ``(hidden, layers, heads[, intermediate])``."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        if isinstance(value, (tuple, list)) and 3 <= len(value) <= 4:
            return cls(*value)
        raise ParameterError("model size", value, "a ModelSize, a dict of its fields or (hidden, layers, heads)")


def llama_config(size: ModelSize, vocab_size: int, max_positions: int):
    """The ``LlamaConfig`` of a small Baichuan-2-7B-like model (RoPE, SwiGLU, RMSNorm, untied output)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        intermediate_size=size.ffn,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.heads,
        max_position_embeddings=max_positions,
        hidden_act="silu",
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )


def build_model(size: ModelSize, vocab_size: int, *, normhead: bool, seed: int, max_positions: int = 2048):
    """A freshly initialised ``LlamaForCausalLM`` (seeded), with NormHead when ``normhead``: its output
    rows then start as the released code's NormHead starts them (:func:`~.normhead.normhead_init_`)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(size, vocab_size, max_positions))
    if not normhead:
        return model
    normhead_init_(model.get_output_embeddings().weight)
    return apply_normhead(model)


def parameter_counts(model: PreTrainedModel) -> dict[str, int]:
    """``total``; ``non_embedding`` (all but the input and output embeddings); ``compute`` (all but the
    input embedding table, a lookup: the parameters that take part in a matrix product per token)."""
    total = sum(p.numel() for p in model.parameters())
    # the input embedding's weight: torch types a Module's attributes as Tensor | Module
    emb: torch.Tensor = model.get_input_embeddings().weight  # type: ignore[assignment]
    out = model.get_output_embeddings().weight
    tied = emb is out
    return {
        "total": total,
        "non_embedding": total - emb.numel() - (0 if tied else out.numel()),
        "compute": total - (0 if tied else emb.numel()),
    }


# --------------------------------------------------------------------------------------------- data
def pack_tokens(tokenizer: Any, texts: Sequence[str], seq_len: int, *, max_tokens: int | None = None) -> torch.Tensor:
    """Token blocks (n, ``seq_len``) of int64: every text encoded without special tokens and followed by
    the end-of-text id, all concatenated and cut (the remainder dropped; at most ``max_tokens``)."""
    check_int("seq_len", seq_len, low=2)
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ParameterError("tokenizer", type(tokenizer).__name__, "a tokenizer with an end-of-sequence token")
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    stream = np.fromiter((t for row in ids for t in (*row, eos)), dtype=np.int64)
    if max_tokens is not None:
        stream = stream[:max_tokens]
    n = len(stream) // seq_len
    if n == 0:
        raise ParameterError("texts", f"{len(stream)} tokens", f"at least seq_len = {seq_len} tokens")
    return torch.from_numpy(stream[: n * seq_len].reshape(n, seq_len).copy())


@dataclass
class LMData:
    """The token data every language model of the chapter trains and is validated on."""

    tokenizer: Any
    train_blocks: torch.Tensor  # (n, seq_len) int64
    val_blocks: torch.Tensor
    key: str  # fingerprint of the tokens (part of every run's cache key)
    tokenizer_name: str = glued()
    vocab_size: int = glued(",")  # len(tokenizer): the embedding rows
    train_tokens: int = glued(",")
    val_tokens: int = glued(",")
    seconds: float = glued(".1f")  # tokenising and packing


def lm_data(
    tokenizer: Any,
    train_texts: Sequence[str],
    val_texts: Sequence[str],
    *,
    seq_len: int,
    train_tokens: int,
    val_blocks: int,
    name: str = "",
    seed: int = 0,
) -> LMData:
    """Shuffle the documents (``seed``: the data order, fixed for every run) and pack just enough of them:
    ``train_tokens`` for training (every run sees each token once) and ``val_blocks`` blocks for validation."""
    check_int("train_tokens", train_tokens, low=seq_len)
    check_int("val_blocks", val_blocks, low=1)

    def take(texts: Sequence[str], tokens: int) -> torch.Tensor:
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        chosen, chars = [], 0
        for i in order:  # twice the characters needed: these tokenizers need fewer tokens than characters
            chosen.append(texts[i])
            chars += len(texts[i])
            if chars >= 2 * tokens:
                break
        blocks = pack_tokens(tokenizer, chosen, seq_len)
        if blocks.numel() < tokens and len(chosen) < len(texts):
            blocks = pack_tokens(tokenizer, [texts[i] for i in order], seq_len)
        return blocks[: math.ceil(tokens / seq_len)]

    with timed() as t:
        train = take(train_texts, train_tokens)
        val = take(val_texts, val_blocks * seq_len)
    return LMData(
        tokenizer,
        train,
        val,
        tensor_fingerprint(train, val),
        name,
        len(tokenizer),
        train.numel(),
        val.numel(),
        t.seconds,
    )


# --------------------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainSettings:
    """Optimisation of one run. Defaults: Baichuan 2's AdamW settings (Section 2.6 of the paper)."""

    steps: int
    batch_size: int
    seq_len: int
    lr: float
    warmup_fraction: float = 0.1  # linear warm-up over this share of the steps
    min_lr_ratio: float = 0.1  # cosine decay to lr × this
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 0.5
    max_z_weight: float = MAX_Z_WEIGHT  # 0: no max-z loss
    normhead: bool = True
    output_weight_decay: bool = True  # False: the output layer's weight is left out of the weight decay
    eval_every: int = 0  # 0: only at the end
    eval_blocks: int | None = None  # validation blocks per evaluation (None: all)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "seq_len"):
            check_int(name, getattr(self, name), low=1)
        check_number("lr", self.lr, low=0.0, low_inclusive=False)
        check_number("warmup_fraction", self.warmup_fraction, low=0.0, high=1.0)
        check_number("min_lr_ratio", self.min_lr_ratio, low=0.0, high=1.0)
        check_number("max_z_weight", self.max_z_weight, low=0.0)
        check_int("eval_every", self.eval_every, low=0)

    @property
    def tokens(self) -> int:
        """Training tokens seen: steps × batch × sequence length."""
        return self.steps * self.batch_size * self.seq_len

    def lr_at(self, step: int) -> float:
        """Linear warm-up to ``lr``, then cosine decay to ``lr × min_lr_ratio`` at the last step."""
        warm = max(1, round(self.warmup_fraction * self.steps))
        if step < warm:
            return self.lr * (step + 1) / warm
        progress = (step - warm) / max(1, self.steps - warm - 1)
        return self.lr * (
            self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
        )


@torch.no_grad()
def validation_loss(model: torch.nn.Module, blocks: torch.Tensor, *, batch_size: int, device) -> float:
    """Mean next-token cross-entropy of ``model`` over the token ``blocks`` (eval mode, restored after)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for start in range(0, len(blocks), batch_size):
            x = blocks[start : start + batch_size].to(device)
            _, ce, _ = causal_lm_loss(model(input_ids=x).logits, x)
            n = x.shape[0] * (x.shape[1] - 1)
            total += float(ce) * n
            count += n
    finally:
        model.train(was_training)
    return total / count


def parameter_groups(model: PreTrainedModel, settings: TrainSettings) -> list[dict[str, Any]]:
    """AdamW's parameter groups: the matrices with weight decay, the vectors (norm gains) without, and the
    output layer's weight without when ``settings.output_weight_decay`` is False."""
    head = model.get_output_embeddings().weight
    exempt = (lambda p: p.ndim < 2) if settings.output_weight_decay else (lambda p: p.ndim < 2 or p is head)
    return [
        {"params": [p for p in model.parameters() if not exempt(p)], "weight_decay": settings.weight_decay},
        {"params": [p for p in model.parameters() if exempt(p)], "weight_decay": 0.0},
    ]


def train_lm(
    model: PreTrainedModel,
    train_blocks: torch.Tensor,
    val_blocks: torch.Tensor,
    settings: TrainSettings,
    *,
    seed: int,
    device: Any = "auto",
) -> History:
    """Pre-train ``model`` in place on ``train_blocks`` (batches drawn in a seeded random order, repeated
    when the steps need more blocks than there are) and return its :class:`~reprobook.training.History`: per step
    the cross-entropy (``train_loss``, the max-z term excluded), the seconds and the :data:`CURVES`; the
    validation loss every ``settings.eval_every`` steps and after the last (``eval_at``, ``eval_loss``).

    Each step minimises cross-entropy + ``settings.max_z_weight`` · max-z. The learning rate follows
    :meth:`TrainSettings.lr_at`. A non-finite loss stops the run (``diverged``); its final validation
    loss is then NaN. Under ``accelerate launch`` the batches are sharded over the processes.
    """
    if train_blocks.shape[1] != settings.seq_len:
        raise ParameterError("train_blocks", tuple(train_blocks.shape), f"blocks of seq_len = {settings.seq_len}")
    accelerator = make_accelerator(device)
    generator = torch.Generator().manual_seed(seed)
    need = settings.steps * settings.batch_size
    order = torch.cat(
        [torch.randperm(len(train_blocks), generator=generator) for _ in range(math.ceil(need / len(train_blocks)))]
    )[:need]
    batches = order.view(settings.steps, settings.batch_size)
    optimizer = torch.optim.AdamW(parameter_groups(model, settings), lr=settings.lr, betas=settings.betas)
    model, optimizer = accelerator.prepare(model, optimizer)
    rank, world = accelerator.process_index, accelerator.num_processes
    rec = History(
        unit="step",
        parameters=parameter_counts(accelerator.unwrap_model(model)),
        series={name: [] for name in CURVES},
    )
    eval_x = val_blocks if settings.eval_blocks is None else val_blocks[: settings.eval_blocks]

    def evaluate(step: int) -> None:
        rec.eval_at.append(step)
        rec.eval_loss.append(validation_loss(model, eval_x, batch_size=settings.batch_size, device=accelerator.device))

    model.train()
    for step in range(settings.steps):
        if settings.eval_every and step % settings.eval_every == 0:
            evaluate(step)
        with timed() as t:
            for group in optimizer.param_groups:
                group["lr"] = settings.lr_at(step)
            x = train_blocks[batches[step][rank::world]].to(accelerator.device)
            logits = model(input_ids=x).logits
            loss, ce, _ = causal_lm_loss(logits, x, max_z_weight=settings.max_z_weight)
            if not torch.isfinite(loss):
                rec.diverged = True
                break
            accelerator.backward(loss)
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), settings.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            with torch.no_grad():
                z = logits[:, :-1].max(dim=-1).values
            stats = torch.stack([ce.detach().float(), z.max().float(), z.mean().float(), grad_norm.float()])
            stats = accelerator.reduce(stats, reduction="mean") if world > 1 else stats
            rec.train_loss.append(float(stats[0]))
            for name, value in zip(CURVES, stats[1:].tolist()):
                rec.series[name].append(float(value))
        rec.seconds.append(t.seconds)
        rec.steps += 1
        rec.tokens += settings.batch_size * settings.seq_len
    if not rec.diverged:
        evaluate(settings.steps)
    return rec


def run_config(size: ModelSize, vocab_size: int, settings: TrainSettings, seed: int, data_key: str) -> dict[str, Any]:
    """The cache key of one run: model shape, vocabulary, optimiser settings, seed and token data."""
    return {
        "size": asdict(size),
        "vocab_size": vocab_size,
        "settings": asdict(settings),
        "seed": seed,
        "data": data_key,
    }


def train_cached(
    size: ModelSize,
    vocab_size: int,
    train_blocks: torch.Tensor,
    val_blocks: torch.Tensor,
    settings: TrainSettings,
    *,
    seed: int,
    device: Any = "auto",
    data_key: str | None = None,
    name: str = "baichuan2-lm",
    return_model: bool = False,
    threads: int | None = None,
    trained: tuple[dict[str, Any], dict[str, Any]] | None = None,
):
    """:func:`train_lm` of a fresh :func:`build_model`, through the checkpoint cache.

    Returns ``(history, loaded)``: the run's :class:`~reprobook.training.History` (its ``started_at`` from the
    checkpoint), ``loaded`` True when the run came from the cache; with ``return_model``
    ``(model, history, loaded)``, the trained model in eval mode on the CPU. ``threads``: the intra-op threads the
    run trains on, part of its key (:func:`~reprobook.training.train_or_load`); None: the run's threads.
    ``trained``: the run's ``(state, info)`` when :func:`pretrain_runs` already has it.
    """
    data_key = data_key or tensor_fingerprint(train_blocks, val_blocks)
    if trained is None:
        trained = _train_or_load_lm(
            size, vocab_size, train_blocks, val_blocks, settings, seed, data_key, name, threads, device
        )
    state, info = trained
    history = info["history"]
    if not return_model:
        return history, bool(info["loaded"])
    model = build_model(
        size, vocab_size, normhead=settings.normhead, seed=seed, max_positions=max(settings.seq_len, 16)
    )
    model.load_state_dict(state)
    return model.eval(), history, bool(info["loaded"])


def _train_or_load_lm(
    size: ModelSize,
    vocab_size: int,
    train_blocks: torch.Tensor,
    val_blocks: torch.Tensor,
    settings: TrainSettings,
    seed: int,
    data_key: str,
    name: str = "baichuan2-lm",
    threads: int | None = None,
    device: Any = "cpu",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`train_cached`'s run as :func:`~reprobook.training.train_or_load`'s ``(state, info)``; module-level,
    so that a worker process of :func:`pretrain_runs` can run it."""

    def train():
        model = build_model(
            size, vocab_size, normhead=settings.normhead, seed=seed, max_positions=max(settings.seq_len, 16)
        )
        history = train_lm(model, train_blocks, val_blocks, settings, seed=seed, device=device)
        return model.state_dict(), history

    return train_or_load(
        run_config(size, vocab_size, settings, seed, data_key),
        train,
        name=name,
        code=("reprobook.alignment.pretraining", "reprobook.alignment.normhead"),
        threads=threads,
    )


def pretrain_runs(
    data: LMData,
    size: ModelSize,
    runs: Sequence[tuple[TrainSettings, int]],
    *,
    device: Any = "auto",
    threads: int | None = None,
) -> dict[tuple[TrainSettings, int], tuple[dict[str, Any], dict[str, Any]]]:
    """The runs ``(settings, seed)`` of ``size`` on ``data`` trained (or loaded) side by side, ``{run: (state,
    info)}`` for :func:`train_cached`'s ``trained``: on a CPU with ``threads`` fixed, as many at once as the run's
    threads hold (:func:`reprobook.pool.pool_size`), one process each; else nothing (``{}``: each run trains in
    :func:`train_cached`, one after the other). The models are the same either way: a loop on a fixed thread
    count depends on its arguments alone."""
    workers = pool_size(threads, resolve_device(device).type, torch.get_num_threads())
    runs = list(dict.fromkeys(runs))
    if workers == 1 or len(runs) <= 1:
        return {}
    jobs = [
        (size, data.vocab_size, data.train_blocks, data.val_blocks, settings, seed, data.key, "baichuan2-lm", threads)
        for settings, seed in runs
    ]
    return dict(zip(runs, train_many(_train_or_load_lm, jobs, workers), strict=True))


def train_runs(
    data: LMData,
    size: ModelSize,
    runs: Sequence[tuple[TrainSettings, int]],
    *,
    device: Any = "auto",
    threads: int | None = None,
    return_model: bool = False,
) -> Iterator[Any]:
    """:func:`train_cached` of every run ``(settings, seed)`` of ``size`` on ``data``, in order, the runs trained
    side by side first where they can be (:func:`pretrain_runs`); each result is made when it is read, so that one
    model at a time is built (``return_model``) and, without the pool, trained."""
    trained = pretrain_runs(data, size, runs, device=device, threads=threads)
    return (
        train_cached(
            size,
            data.vocab_size,
            data.train_blocks,
            data.val_blocks,
            settings,
            seed=seed,
            device=device,
            data_key=data.key,
            return_model=return_model,
            threads=threads,
            trained=trained.get((settings, seed)),
        )
        for settings, seed in runs
    )
