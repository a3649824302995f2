"""PAS stage 5, the PAS model: supervised fine-tuning on (prompt → complementary prompt) pairs, and its use.

Explained in `notebooks/alignment/pas.ipynb`.

The model is trained to continue the instruction :data:`PAS_INSTRUCTION` around a user prompt x (after the
system message :data:`PAS_SYSTEM`) with
the complementary prompt y of the pair, and only y is scored: with trl's ``SFTTrainer`` on
prompt–completion rows the loss is the negative log-likelihood of the assistant's tokens,

    L(θ) = − Σ_(x, y) Σ_t log p_θ(y_t | instruction(x), y_<t) ,

so the model learns to write complements, never answers: no answer is ever a training target
(:func:`pairs_with_answers` proves it on the pairs, and :func:`train_pas` refuses pairs that contain one).

At use, PAS is plug-and-play: the final prompt is the user's prompt followed by the complement,
``x ⊕ PAS(x)``, given unchanged to any answering model (:func:`augmented`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from ... import llm
from ...checks import ParameterError, check_int
from ...configs.pas import PASConfig
from .critique import gives_answer
from .generate import complete, model_inputs

PAS_SYSTEM = "You write complementary prompts; you never answer them."
PAS_INSTRUCTION = (
    "Supplement this prompt with guidance on answering it well: what to cover, how to organise the "
    "reply. Do not answer it. At most {max_words} words.\n\nUser prompt: {prompt}"
)


def pas_input(prompt: str, max_words: int = 30) -> str:
    """The PAS model's user message for ``prompt``."""
    return PAS_INSTRUCTION.format(prompt=prompt.strip(), max_words=max_words)


def augmented(prompt: str, complement: str) -> str:
    """The plug-and-play prompt: the user's prompt, a blank line, the complementary prompt."""
    return f"{prompt.rstrip()}\n\n{complement.strip()}" if complement.strip() else prompt


def pairs_with_answers(pairs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pairs whose complementary prompt contains one of the prompt's known answers (should be none)."""
    return [p for p in pairs if gives_answer(p["complement"], p["prompt"], p.get("references", ()))]


def training_rows(pairs: Sequence[dict[str, Any]], max_words: int = 30) -> list[dict[str, Any]]:
    """Conversational prompt–completion rows (the completion, the complementary prompt, is all that is scored)."""
    return llm.sft_rows(
        [pas_input(p["prompt"], max_words) for p in pairs], [p["complement"] for p in pairs], system=PAS_SYSTEM
    )


LORA_MODULES = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)


def lora_targets(lm: Any, last_layers: int | None) -> tuple[str, ...]:
    """LoRA's target modules: the attention and MLP projections of every layer (None), or of the last
    ``last_layers`` layers only, named by their path (back-propagation then stops at those layers)."""
    if last_layers is None:
        return tuple(m.split(".")[-1] for m in LORA_MODULES)
    check_int("lora_last_layers", last_layers, low=1)
    n = lm.model.config.get_text_config().num_hidden_layers
    return tuple(f"layers.{k}.{m}" for k in range(max(0, n - last_layers), n) for m in LORA_MODULES)


def subset(pairs: Sequence[dict[str, Any]], size: int, *, seed: int) -> list[dict[str, Any]]:
    """The first ``size`` pairs of a seeded shuffle: the training sets of several sizes are nested."""
    check_int("size", size, low=1)
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    return [pairs[i] for i in order[:size]]


def train_pas(
    lm: Any, pairs: Sequence[dict[str, Any]], cfg: PASConfig, *, seed: int, name: str = "pas", unfiltered: bool = False
):
    """The PAS model: ``lm`` fine-tuned with trl's SFT (through :func:`reprobook.llm.sft`, cached by its
    settings, data and code) for ``cfg.sft_epochs`` epochs over ``pairs``. Returns ``llm.Trained``.

    Pairs whose complement contains a known answer are refused, unless ``unfiltered`` (the ablation that
    trains on complements no critique has seen)."""
    if not pairs:
        raise ParameterError("pairs", pairs, "at least one (prompt, complement) pair")
    leaking = pairs_with_answers(pairs)
    if leaking and not unfiltered:
        raise ParameterError("pairs", leaking[0]["complement"], "complementary prompts that contain no answer")
    steps = max(1, math.ceil(cfg.sft_epochs * len(pairs) / cfg.sft_batch))
    r = cfg.lora_r
    config = llm.TrainConfig(
        steps=steps,
        batch_size=min(cfg.sft_batch, len(pairs)),
        learning_rate=cfg.sft_lr,
        max_length=cfg.sft_max_length,
        lora_r=r,
        lora_alpha=2 * (r or 1),
        lora_targets=lora_targets(lm, cfg.lora_last_layers),
        seed=seed,
    )
    return llm.sft(lm, training_rows(pairs, cfg.max_complement_words), config=config, output_name=name)


def write_complements(pas_lm: Any, prompts: Sequence[str], cfg: PASConfig, *, seed: int = 0):
    """The PAS model's complementary prompt for each of ``prompts`` (greedy). Returns ``llm.Generation``."""
    out = complete(
        pas_lm,
        [model_inputs(pas_lm, pas_input(p, cfg.max_complement_words), system=PAS_SYSTEM) for p in prompts],
        max_new_tokens=cfg.complement_tokens,
        batch_size=cfg.batch_size,
        seed=seed,
    )
    out.texts = [" ".join(t.split()) for t in out.texts]
    return out


__all__ = [
    "PAS_INSTRUCTION",
    "PAS_SYSTEM",
    "augmented",
    "lora_targets",
    "pairs_with_answers",
    "pas_input",
    "subset",
    "train_pas",
    "training_rows",
    "write_complements",
]
