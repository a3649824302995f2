"""trl trainers set up once for a CPU and a GPU: SFT, reward model, DPO and GRPO, cached by configuration.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

Every trainer here is the trl class (``SFTTrainer``, ``RewardTrainer``, ``DPOTrainer``,
``GRPOTrainer``) with the arguments this trl version needs on each device, kept in one place
(:func:`training_arguments`): on a CPU ``use_cpu=True``, no bf16/fp16, no gradient checkpointing
(trl's GRPO turns it on by default), no pinned memory, no loader workers; on a GPU bf16 where the GPU
supports it. LoRA (peft) is an option of :class:`TrainConfig` (``lora_r=None`` trains every weight).

A trained model is cached like the book's classifiers (``training.train_or_load``): the key hashes the
method, the starting model's fingerprint, the configuration, the training data and the source of this
module, so a second run with the same inputs loads the weights (LoRA: only the adapter is stored, and
merged into a copy of the starting model on load) and a change to any of them trains again. Each
call returns the trained model and a :class:`TrainRecord` (its history: losses, steps, seconds, tokens/s).
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import dataclasses
import gc
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch

from ..cache import code_fingerprint, json_key
from ..checks import ParameterError, check_choice, check_int, check_number, check_seed, check_str
from ..timing import Timer
from ..training import History, train_or_load
from .loading import LanguageModel, wrap

METHODS = ("sft", "reward", "dpo", "grpo")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (the fields each method does not use are ignored by it)."""

    steps: int = 20  # optimiser steps
    batch_size: int = 4  # sequences (SFT), pairs (reward, DPO) or completions (GRPO) per device and step
    grad_accum: int = 1
    learning_rate: float = 1e-4
    max_length: int = 256  # tokens per sequence (prompt + answer); longer ones are truncated or dropped
    lora_r: int | None = 16  # LoRA rank; None: full fine-tuning
    lora_alpha: int = 32
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    scheduler: str = "constant"  # transformers' lr_scheduler_type
    warmup_steps: int = 0
    weight_decay: float = 0.0
    seed: int = 0  # initialisation (LoRA) and data order
    gradient_checkpointing: bool = False  # never on a CPU (slower there, and trl's GRPO default is True)
    # SFT
    packing: bool = False  # best-fit-decreasing packing into max_length bins, padding-free
    # reward model
    mse_alpha: float = 0.0  # weight of the pointwise MSE term toward absolute scores (Baichuan Alignment's RM)
    # DPO
    beta: float = 0.1
    # GRPO
    num_generations: int = 4  # completions per prompt (the group)
    max_completion_length: int = 32
    temperature: float = 1.0
    kl_beta: float = 0.0  # GRPO's KL coefficient toward the starting model (trl's default 0)
    loss_type: str = "grpo"  # GRPO's loss, set explicitly: trl 1.16's default is "dapo", not the GRPO of the paper

    def __post_init__(self) -> None:
        check_int("steps", self.steps, low=1)
        check_int("batch_size", self.batch_size, low=1)
        check_int("grad_accum", self.grad_accum, low=1)
        check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
        check_int("max_length", self.max_length, low=8)
        if self.lora_r is not None:
            check_int("lora_r", self.lora_r, low=1)
        check_seed("seed", self.seed)
        check_number("mse_alpha", self.mse_alpha, low=0.0)
        check_number("beta", self.beta, low=0.0, low_inclusive=False)
        check_int("num_generations", self.num_generations, low=2)
        check_int("max_completion_length", self.max_completion_length, low=1)
        check_number("temperature", self.temperature, low=0.0, low_inclusive=False)
        check_number("kl_beta", self.kl_beta, low=0.0)
        check_choice("loss_type", self.loss_type, ("grpo", "dr_grpo", "dapo", "bnpo"))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainRecord:
    """One run of a trainer: which method trained what, and its :class:`~reprobook.training.History` (one entry
    per logged step: the training loss, trl's log rows, the seconds, tokens and samples); restored from the cache
    with ``loaded=True``."""

    method: str
    name: str
    history: History
    loaded: bool = False
    path: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds_per_step(self) -> float:
        """Wall time of ``trainer.train()`` per optimiser step."""
        h = self.history
        return h.total_seconds / h.steps if h.steps else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Trained(NamedTuple):
    """A trained model and its record (unpacks as ``model, record``)."""

    model: Any  # a LanguageModel (SFT, DPO, GRPO) or a reward model (sequence classifier)
    record: TrainRecord


# --------------------------------------------------------------------------------------------- settings
def as_config(config: TrainConfig | dict[str, Any] | None) -> TrainConfig:
    if config is None:
        return TrainConfig()
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ParameterError("config", unknown[0], "fields of TrainConfig: " + ", ".join(sorted(names)))
        return TrainConfig(**config)
    raise ParameterError("config", config, "a TrainConfig, a dict of its fields, or None")


def training_arguments(cfg: TrainConfig, device: Any, output_dir: str) -> dict[str, Any]:
    """The transformers/trl arguments every trainer shares, right for ``device`` (CPU or GPU)."""
    cuda = torch.device(device).type == "cuda"
    return dict(
        output_dir=output_dir,
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.scheduler,
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=cuda,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        fp16=False,
        activation_checkpointing=cfg.gradient_checkpointing and cuda,  # transformers 5's name for it
    )


def lora_config(cfg: TrainConfig, task_type: str = "CAUSAL_LM"):
    """The peft ``LoraConfig`` of ``cfg`` (None for full fine-tuning)."""
    if cfg.lora_r is None:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.lora_targets),
        task_type=task_type,
        bias="none",
    )


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc keeps them otherwise, and a
    chapter that trains several models one after another would hold every copy it ever made)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


# --------------------------------------------------------------------------------------------- data
def to_dataset(rows: Any):
    """A ``datasets.Dataset`` from a list of dicts (a Dataset passes through)."""
    from datasets import Dataset

    if isinstance(rows, Dataset):
        return rows
    if not isinstance(rows, (list, tuple)) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ParameterError("dataset", type(rows).__name__, "a non-empty list of dicts or a datasets.Dataset")
    return Dataset.from_list(list(rows))


def data_hash(dataset: Any) -> str:
    """16 hex digits of the sha256 of the dataset's rows as canonical JSON (the cache key's data part)."""
    rows = dataset.to_list() if hasattr(dataset, "to_list") else list(dataset)
    return json_key(rows, compact=False, ascii_only=False)


def sft_rows(prompts: Sequence[str], answers: Sequence[str], system: str | None = None) -> list[dict[str, Any]]:
    """Conversational prompt–completion rows: trl trains on the completion (the assistant turn) only."""
    sys_ = [] if system is None else [{"role": "system", "content": system}]
    return [
        {"prompt": sys_ + [{"role": "user", "content": p}], "completion": [{"role": "assistant", "content": a}]}
        for p, a in zip(prompts, answers)
    ]


def preference_rows(
    prompts: Sequence[str], chosen: Sequence[str], rejected: Sequence[str], **extra: Sequence[Any]
) -> list[dict[str, Any]]:
    """Conversational preference rows (explicit prompt), plus any extra columns (scores, weights)."""
    rows = []
    for k, (p, c, r) in enumerate(zip(prompts, chosen, rejected)):
        row = {
            "prompt": [{"role": "user", "content": p}],
            "chosen": [{"role": "assistant", "content": c}],
            "rejected": [{"role": "assistant", "content": r}],
        }
        row.update({key: values[k] for key, values in extra.items()})
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------- models
def reward_backbone(lm: LanguageModel):
    """A sequence classifier with one output whose body is ``lm``'s weights (a copy); the head is new."""
    from transformers import AutoModelForSequenceClassification

    config = copy.deepcopy(lm.model.config)
    config.num_labels = 1
    config.pad_token_id = lm.tokenizer.pad_token_id
    dtype = next(lm.model.parameters()).dtype
    model = AutoModelForSequenceClassification.from_config(config, dtype=dtype)
    body = {k: v for k, v in lm.model.state_dict().items() if not k.startswith("lm_head")}
    missing, unexpected = model.load_state_dict(body, strict=False)
    if unexpected or [k for k in missing if not k.startswith("score")]:
        raise RuntimeError(f"reward backbone: unexpected {unexpected[:3]}, missing {missing[:3]}")
    return model.to(lm.device).to(torch.float32 if lm.device.type == "cpu" else dtype)


def _trained_state(model: Any, cfg: TrainConfig) -> dict[str, Any]:
    if cfg.lora_r is None:
        return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(model).items()}


def _rebuild(base: Any, state: dict[str, Any], cfg: TrainConfig, task_type: str) -> Any:
    """``base`` (a fresh copy of the starting model) with the trained weights: loaded, or the LoRA
    adapter loaded and merged into the weights."""
    if cfg.lora_r is None:
        base.load_state_dict(state)
        return base.eval()
    from peft import get_peft_model, set_peft_model_state_dict

    peft_model = get_peft_model(base, lora_config(cfg, task_type))
    set_peft_model_state_dict(peft_model, state)
    return peft_model.merge_and_unload().eval()


# --------------------------------------------------------------------------------------------- trainers
def _reward_trainer_class():
    """trl's RewardTrainer with Baichuan Alignment's pointwise term (built on first use).

    The loss is the Bradley–Terry loss plus α times the squared error of each reward toward its
    normalised absolute score, for the pairs that have scores (weight ``score_weight``; 0 for
    pairwise-only data, as in the report):

        L = −log σ(r(x, y_c) − r(x, y_r)) + α_i · ½ [(r(x, y_c) − s_c)² + (r(x, y_r) − s_r)²]
    """
    from trl import RewardTrainer
    from trl.trainer.reward_trainer import DataCollatorForPreference

    class _Collator(DataCollatorForPreference):
        def torch_call(self, examples):
            out = super().torch_call(examples)
            if "score_weight" in examples[0]:
                for key in ("chosen_score", "rejected_score", "score_weight"):
                    out[key] = torch.tensor([float(e[key]) for e in examples], dtype=torch.float)
            return out

    class _Trainer(RewardTrainer):
        def _set_signature_columns_if_needed(self):
            if self._signature_columns is None:
                self._signature_columns = [
                    "chosen_ids",
                    "rejected_ids",
                    "margin",
                    "chosen_score",
                    "rejected_score",
                    "score_weight",
                ]

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            scores = {k: inputs.pop(k) for k in ("chosen_score", "rejected_score", "score_weight") if k in inputs}
            if not scores:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
            r_c, r_r = torch.chunk(outputs.logits.squeeze(-1), chunks=2)
            # α_i · ½ [(r_c − s_c)² + (r_r − s_r)²], averaged over the batch (α_i = 0: pairwise-only rows)
            mse = 0.5 * ((r_c - scores["chosen_score"]) ** 2 + (r_r - scores["rejected_score"]) ** 2)
            loss = loss + (scores["score_weight"].to(mse.device) * mse).mean()
            return (loss, outputs) if return_outputs else loss

    _Trainer.collator_class = _Collator
    return _Trainer


def _trainable(model: Any, cfg: TrainConfig) -> Any:
    """``model`` in training mode; for full fine-tuning every weight trainable (a model whose LoRA adapter
    was merged keeps peft's frozen flags on its base weights)."""
    if cfg.lora_r is None:
        model.requires_grad_(True)
    return model.train()


def build_trainer(
    method: str, lm: LanguageModel, dataset: Any, cfg: TrainConfig, *, output_dir: str, reward: Callable | None = None
):
    """The trl trainer of ``method`` on a copy of ``lm`` (nothing trained yet): for training, and for
    looking at what it feeds the model (tokenised data, collated batches)."""
    from trl import DPOConfig, DPOTrainer, GRPOConfig, GRPOTrainer, RewardConfig, SFTConfig, SFTTrainer

    check_choice("method", method, METHODS)
    dataset = to_dataset(dataset)
    common = training_arguments(cfg, lm.device, output_dir)
    tokenizer = copy.copy(lm.tokenizer)
    args: SFTConfig | RewardConfig | DPOConfig | GRPOConfig
    if method == "sft":
        tokenizer.padding_side = "right"
        args = SFTConfig(
            **common,
            max_length=cfg.max_length,
            packing=cfg.packing,
            completion_only_loss=True,
            dataset_num_proc=None,
            pad_to_multiple_of=None,
        )
        return SFTTrainer(
            model=_trainable(lm.copy().model, cfg),
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora_config(cfg),
        )
    if method == "reward":
        tokenizer.padding_side = "right"
        args = RewardConfig(**common, max_length=cfg.max_length, pad_to_multiple_of=None)
        cls = _reward_trainer_class()
        collator = cls.collator_class(pad_token_id=tokenizer.pad_token_id)
        return cls(
            model=_trainable(reward_backbone(lm), cfg),
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            data_collator=collator,
            peft_config=lora_config(cfg, "SEQ_CLS"),
        )
    if method == "dpo":
        tokenizer.padding_side = "right"
        args = DPOConfig(**common, max_length=cfg.max_length, beta=cfg.beta, pad_to_multiple_of=None)
        policy = _trainable(lm.copy().model, cfg)
        # LoRA: the reference is the policy with its adapter switched off; full fine-tuning: a frozen copy
        ref = None if cfg.lora_r is not None else copy.deepcopy(policy).eval()
        return DPOTrainer(
            model=policy,
            ref_model=ref,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora_config(cfg),
        )
    if reward is None:
        raise ParameterError("reward", None, "a reward function reward(prompts, completions) -> list[float] for GRPO")
    args = GRPOConfig(
        **common,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.kl_beta,
        loss_type=cfg.loss_type,
        shuffle_dataset=True,
        pad_to_multiple_of=None,
    )
    tokenizer.padding_side = "left"
    return GRPOTrainer(
        model=_trainable(lm.copy().model, cfg),
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
    )


def _count(trainer: Any, method: str, cfg: TrainConfig, logs: list[dict[str, float]]) -> tuple[int, int]:
    """Tokens processed (trl's running ``num_tokens``) and samples trained on."""
    tokens = max((int(r["num_tokens"]) for r in logs if "num_tokens" in r), default=0)
    samples = cfg.steps * cfg.batch_size * cfg.grad_accum
    return tokens, samples


@contextlib.contextmanager
def quiet_training():
    """No progress bars, printed log rows or deprecation warnings from datasets, transformers and trl."""
    import datasets
    from transformers.utils import logging as hf_logging

    verbosity, bars = hf_logging.get_verbosity(), datasets.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            datasets.enable_progress_bars()


def _train(
    method: str, lm: LanguageModel, dataset: Any, cfg: TrainConfig, reward: Callable | None
) -> tuple[dict[str, Any], History]:
    """Train; return (trained state, history)."""
    from transformers import PrinterCallback

    with tempfile.TemporaryDirectory(prefix=f"reprobook-{method}-") as out, quiet_training():
        trainer = build_trainer(method, lm, dataset, cfg, output_dir=out, reward=reward)
        trainer.remove_callback(PrinterCallback)  # the record keeps every log row
        clock = Timer()
        trainer.train()
        wall, cpu = clock.elapsed(), clock.cpu_elapsed()
        logs = [
            {k: float(v) for k, v in row.items() if isinstance(v, (int, float))}
            for row in trainer.state.log_history
            if "loss" in row
        ]
        tokens, samples = _count(trainer, method, cfg, logs)
        state = _trained_state(trainer.model, cfg)
        steps = int(trainer.state.global_step)
        del trainer  # its copy of the model, before the caller builds the trained one
        release_memory()
    history = History(
        unit="step",
        train_loss=[r["loss"] for r in logs],
        total_seconds=wall,
        cpu_seconds=cpu,
        steps=steps,
        tokens=tokens,
        samples=samples,
        logs=logs,
    )
    return state, history


def _train_or_load(
    method: str,
    lm: LanguageModel,
    dataset: Any,
    config: Any,
    output_name: str,
    extra_key: dict[str, Any],
    reward: Callable | None,
    task_type: str,
    base_factory: Callable[[], Any],
) -> tuple[Any, TrainRecord, str]:
    cfg = as_config(config)
    check_str("output_name", output_name)
    dataset = to_dataset(dataset)
    key = {
        "method": method,
        "base": lm.fingerprint or lm.name,
        "config": cfg.as_dict(),
        "data": data_hash(dataset),
        **extra_key,
        "code": code_fingerprint(__name__),
    }
    state, info = train_or_load(key, lambda: _train(method, lm, dataset, cfg, reward), name=output_name)
    history = info["history"] or History(unit="step", steps=cfg.steps)  # a checkpoint saved without one
    record = TrainRecord(
        method=method,
        name=output_name,
        history=history,
        loaded=bool(info["loaded"]),
        path=str(info["path"]),
        config=cfg.as_dict(),
    )
    with quiet_training():
        model = _rebuild(base_factory(), state, cfg, task_type)
    fingerprint = f"{output_name}-{Path(info['path']).stem.rsplit('-', 1)[-1]}"
    return model, record, fingerprint


def sft(
    lm: LanguageModel, dataset: Any, *, config: TrainConfig | dict | None = None, output_name: str = "sft"
) -> Trained:
    """Supervised fine-tuning with trl's ``SFTTrainer`` on conversational prompt–completion rows
    (:func:`sft_rows`): the loss covers the assistant's tokens only. Returns the trained LanguageModel."""
    model, record, fp = _train_or_load(
        "sft", lm, dataset, config, output_name, {}, None, "CAUSAL_LM", lambda: copy.deepcopy(lm.model)
    )
    return Trained(wrap(model, lm.tokenizer, name=output_name, fingerprint=fp, device=lm.device), record)


def train_reward_model(
    lm: LanguageModel, dataset: Any, *, config: TrainConfig | dict | None = None, output_name: str = "reward"
) -> Trained:
    """A reward model (Bradley–Terry, plus the pointwise MSE term where rows carry ``chosen_score``,
    ``rejected_score`` and ``score_weight``) with trl's ``RewardTrainer``, its body initialised from ``lm``.
    Returns the sequence classifier (use it through :class:`~reprobook.llm.judges.RewardJudge`)."""
    model, record, fp = _train_or_load(
        "reward", lm, dataset, config, output_name, {}, None, "SEQ_CLS", lambda: reward_backbone(lm)
    )
    model.reprobook_fingerprint = fp
    return Trained(model, record)


def dpo(
    lm: LanguageModel, dataset: Any, *, config: TrainConfig | dict | None = None, output_name: str = "dpo"
) -> Trained:
    """Direct preference optimisation with trl's ``DPOTrainer`` from ``lm`` (also the reference model)
    on preference rows (:func:`preference_rows`). Returns the trained LanguageModel."""
    model, record, fp = _train_or_load(
        "dpo", lm, dataset, config, output_name, {}, None, "CAUSAL_LM", lambda: copy.deepcopy(lm.model)
    )
    return Trained(wrap(model, lm.tokenizer, name=output_name, fingerprint=fp, device=lm.device), record)


def reward_function(judge: Any) -> Callable:
    """A GRPO reward function ``f(prompts, completions, **kw) -> list[float]`` from a judge with
    ``score(prompts, answers)`` (a :class:`~reprobook.llm.judges.RewardJudge`)."""

    def text(x: Any) -> str:
        if isinstance(x, str):
            return x
        turns = [m for m in x if m.get("role") in ("user", "assistant")] or list(x)
        return turns[-1]["content"]

    def reward(prompts, completions, **_):
        return judge.score([text(p) for p in prompts], [text(c) for c in completions])

    reward.__name__ = "reward_model"
    return reward


def grpo(
    lm: LanguageModel,
    prompts: Any,
    *,
    reward: Any,
    config: TrainConfig | dict | None = None,
    output_name: str = "grpo",
    reward_key: str | None = None,
) -> Trained:
    """Group relative policy optimisation with trl's ``GRPOTrainer``: ``num_generations`` completions per
    prompt, each scored by ``reward`` (a RewardJudge, or any ``f(prompts, completions) -> list[float]``),
    advantages normalised within each prompt's group. ``prompts``: a list of user messages or rows with
    a ``prompt`` column. ``reward_key`` names the reward in the cache key (default: the reward model's
    fingerprint)."""
    if isinstance(prompts, (list, tuple)) and prompts and isinstance(prompts[0], str):
        prompts = [{"prompt": [{"role": "user", "content": p}]} for p in prompts]
    fn = reward if callable(reward) and not hasattr(reward, "score") else reward_function(reward)
    if reward_key is None:
        reward_key = getattr(getattr(reward, "model", None), "reprobook_fingerprint", None) or getattr(
            fn, "__name__", ""
        )
    model, record, fp = _train_or_load(
        "grpo",
        lm,
        prompts,
        config,
        output_name,
        {"reward": reward_key},
        fn,
        "CAUSAL_LM",
        lambda: copy.deepcopy(lm.model),
    )
    return Trained(wrap(model, lm.tokenizer, name=output_name, fingerprint=fp, device=lm.device), record)
