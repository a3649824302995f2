"""PAS stage 4, generate and critique: a complementary prompt per prompt from few-shot category templates.

Explained in `notebooks/alignment/pas.ipynb`.

For a prompt of category c the generating model sees the rules (the smoke profile: :data:`RULES`; the
paper profile: the "Background" of the repository's own generation prompts, read from the seed data)
and ``shots`` seed pairs of category c, as earlier turns of a conversation, then the prompt. Its reply is
the complementary prompt. Every complementary prompt is critiqued
(:func:`reprobook.alignment.pas.critique.critique_complement`); one that fails is generated again by
sampling, up to ``regenerate_rounds`` times, and a prompt whose complement never passes is dropped.

Models are prompted through :func:`model_inputs` and :func:`complete`: the chat template where the
tokenizer has one, and otherwise the plain "User: … Assistant:" layout *with* the tokenizer's BOS token
(a base model such as Gemma-3 produces noise without it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ... import llm
from ...checks import check_int, check_number
from ...configs.pas import PASConfig
from ...results import facts, glued
from .critique import CRITERIA, critique_complement
from .data import Prompt, official_rules, seed_pairs

RULES = (
    "You write complementary prompts. Given a user prompt, write one or two sentences telling an assistant "
    "how to answer it well: what to cover, how to organise the reply, what to watch for. Only supplement "
    "the prompt: never answer it, never change what it asks, and keep within {max_words} words."
)
TURN = "User prompt: {prompt}"
PLAIN_STOPS = ("\nUser:", "\nAssistant:", "\nUser prompt:")


# --------------------------------------------------------------------------------------------- prompting
def model_inputs(lm: Any, user: str, *, system: str | None = None, history: Sequence[Any] = ()) -> str:
    """The exact text a model continues: the chat template with the assistant's turn opened, or the plain
    layout for a tokenizer without one, with the tokenizer's BOS token where it adds one."""
    text = llm.chat_prompt(lm, user, system=system, history=history)
    tok = lm.tokenizer
    bos = tok.bos_token
    adds_bos = bos is not None and tok("a")["input_ids"][:1] == [tok.bos_token_id]
    if adds_bos and text.startswith(bos):
        text = text[len(bos) :]  # the tokenizer adds it again: never twice
    return text


def complete(
    lm: Any, texts: Sequence[str], *, max_new_tokens: int, batch_size: int = 24, temperature: float = 0.0, seed: int = 0
):
    """:func:`reprobook.llm.generate` on texts from :func:`model_inputs` (special tokens added by the
    tokenizer, as for raw text), cut where a plain-layout model starts the next turn."""
    plain = not getattr(lm.tokenizer, "chat_template", None)
    return llm.generate(
        lm,
        list(texts),
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        chat=False,
        temperature=temperature,
        seed=seed,
        stop=list(PLAIN_STOPS) if plain else None,
    )


# --------------------------------------------------------------------------------------------- templates
def examples_by_category(language: str, seed_data: Any = None) -> dict[str, list[dict[str, str]]]:
    """Seed pairs of each category, shortest prompt first (a few-shot prompt uses the first ``shots``)."""
    out: dict[str, list[dict[str, str]]] = {}
    for row in seed_pairs(language, seed_data):
        out.setdefault(row["category"], []).append(row)
    return {c: sorted(rows, key=lambda r: len(r["prompt"])) for c, rows in out.items()}


def rules_text(language: str, max_words: int, seed_data: Any = None) -> str:
    """The generating model's instructions: :data:`RULES` (English) or the repository's own (Chinese seed)."""
    return RULES.format(max_words=max_words) if language == "en" else official_rules(seed_data)


def generation_input(
    lm: Any, prompt: str, category: str, examples: dict[str, list[dict[str, str]]], *, shots: int, rules: str
) -> str:
    """The few-shot input for one prompt: the rules as the system message, ``shots`` seed pairs of its
    category as earlier turns, then the prompt."""
    history = [(TURN.format(prompt=e["prompt"]), e["complement"]) for e in examples[category][:shots]]
    return model_inputs(lm, TURN.format(prompt=prompt), system=rules, history=history)


# --------------------------------------------------------------------------------------------- generation
@dataclass
class Generated:
    """Stage 4: the kept (prompt, complementary prompt) pairs, every attempt, and what the critique did."""

    pairs: list[dict[str, Any]]  # prompt, complement, category, references, source
    first_round: list[dict[str, Any]]  # every prompt with its first (greedy) complement, critique or not
    attempts: Any  # table: prompt, round, complement, failures
    failures: Any  # table: criterion → complements failing it in the first round / in the last round
    # n_prompts, n_failed_first, n_fixed, n_dropped, n_pairs, share_kept, tokens_per_second, new_tokens, seconds,
    # generator
    facts: pd.Series = glued()


def _failure_table(attempts: Any, last_round: dict[int, int]):
    first = attempts[attempts["round"] == 0]
    final = attempts[[last_round[i] == r for i, r in zip(attempts["index"], attempts["round"])]]
    count = lambda frame: [sum(c in f for f in frame["failures"]) for c in CRITERIA]  # noqa: E731
    return pd.DataFrame({"first round": count(first), "after regeneration": count(final)}, index=list(CRITERIA))


def generate_pairs(
    lm: Any, prompts: Sequence[Prompt], categories: Sequence[str], cfg: PASConfig, *, seed: int, seed_data: Any = None
) -> Generated:
    """Generate, critique and regenerate a complementary prompt for each of ``prompts`` (greedy first,
    then up to ``cfg.regenerate_rounds`` sampled rounds for those that fail); keep those that pass."""
    check_int("shots", cfg.shots, low=0)
    check_int("regenerate_rounds", cfg.regenerate_rounds, low=0)
    check_number("regenerate_temperature", cfg.regenerate_temperature, low=0.0, low_inclusive=False)
    examples = examples_by_category(cfg.examples_language, seed_data)
    rules = rules_text(cfg.examples_language, cfg.max_complement_words, seed_data)
    inputs = [
        generation_input(lm, p.text, c, examples, shots=cfg.shots, rules=rules) for p, c in zip(prompts, categories)
    ]
    rows, final, last_round = [], {}, {}
    todo = list(range(len(prompts)))
    seconds, tokens = 0.0, 0
    for round_ in range(cfg.regenerate_rounds + 1):
        if not todo:
            break
        out = complete(
            lm,
            [inputs[i] for i in todo],
            max_new_tokens=cfg.complement_tokens,
            batch_size=cfg.batch_size,
            temperature=0.0 if round_ == 0 else cfg.regenerate_temperature,
            seed=seed + round_,
        )
        seconds, tokens = seconds + out.seconds, tokens + sum(out.new_tokens)
        failed = []
        for i, text in zip(todo, out.texts):
            text = " ".join(text.split())
            verdict = critique_complement(
                prompts[i].text, text, prompts[i].references, max_words=cfg.max_complement_words
            )
            rows.append(
                {
                    "index": i,
                    "prompt": prompts[i].text,
                    "round": round_,
                    "complement": text,
                    "failures": verdict.failures,
                }
            )
            last_round[i] = round_
            if verdict.passed:
                final[i] = text
            else:
                failed.append(i)
        todo = failed
    attempts = pd.DataFrame(rows)
    failures = _failure_table(attempts, last_round)

    def pair(i: int, complement: str) -> dict[str, Any]:
        return {
            "prompt": prompts[i].text,
            "complement": complement,
            "category": categories[i],
            "references": list(prompts[i].references),
            "source": prompts[i].source,
        }

    pairs = [pair(i, final[i]) for i in sorted(final)]
    first = attempts[attempts["round"] == 0]
    first_round = [pair(int(i), c) for i, c in zip(first["index"], first["complement"]) if c.strip()]
    n_failed = int((attempts[attempts["round"] == 0]["failures"].map(len) > 0).sum())
    return Generated(
        pairs,
        first_round,
        attempts.drop(columns="index"),
        failures,
        facts=facts(
            {"share_kept": ".0%", "tokens_per_second": ".1f", "seconds": ".0f"},
            n_prompts=len(prompts),
            n_failed_first=n_failed,
            n_fixed=n_failed - (len(prompts) - len(final)),
            n_dropped=len(prompts) - len(final),
            n_pairs=len(final),
            share_kept=len(final) / len(prompts) if prompts else 0.0,
            tokens_per_second=tokens / seconds if seconds else 0.0,
            new_tokens=tokens,
            seconds=seconds,
            generator=lm.name,
        ),
    )


__all__ = [
    "Generated",
    "PLAIN_STOPS",
    "RULES",
    "TURN",
    "complete",
    "examples_by_category",
    "generate_pairs",
    "generation_input",
    "model_inputs",
    "rules_text",
]
