"""PAS stage 6, plug-and-play evaluation: answers of unseen models with each complement, without it, with a
generic suffix; judged by a reward model independent of every language model.

Explained in `notebooks/alignment/pas.ipynb`.

Each answering model — one that took no part in PAS (neither its generator nor its base: the invariant of
:func:`reprobook.configs.pas.check_roles`) — answers every held-out prompt x under each *condition*: x
alone ("none"), x followed by a fixed prompt-engineering sentence ("generic"), and x followed by the
complementary prompt of each PAS variant (the full model, the one trained on a few pairs, the untrained
base given the same instruction, the one trained on unfiltered complements). The **primary judge** is
the held-out reward model of :mod:`reprobook.alignment.pas.reward` (sentence embeddings, no language
model): each answer gets a score, and every comparison is a paired difference of scores over the held-out
prompts, pooled over the answering models (their mean per prompt). The judge sees the user's original
prompt, never a complement.

A language model may judge as well (the position-swapped pairwise judge of :mod:`reprobook.llm`), only on
answers of models other than itself, and only when its agreement with human labels is significantly above
½; otherwise its verdicts are *not comparable (judge at chance)*.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ... import llm
from ...claims import mean_ci
from ...configs.pas import PASConfig
from ...results import facts, glued
from ...timing import timed
from .generate import complete, model_inputs
from .model import augmented, write_complements

JUDGE_CRITERIA = "helpful, accurate and well organised"
JUDGE_BATCH = 8  # the judge scores every position of its inputs: small batches bound the memory of the logits


@contextlib.contextmanager
def _clock(seconds: dict[str, float], name: str):
    try:
        with timed() as t:
            yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + t.seconds


# --------------------------------------------------------------------------------------------- models
def load_model(name: str, cfg: PASConfig, *, seed: int = 0, device: Any = "cpu"):
    """A language model of the chapter: ``name`` loaded, or a random tiny model of its family (tiny profile)."""
    if cfg.tiny_models:
        return llm.tiny_causal_lm(name, seed=seed, layers=2, hidden=64, device=device)
    return llm.load_causal_lm(name, device=device)


class Models:
    """The chapter's language models by name, each loaded at most once (the generator and the PAS base may
    be one model). ``get(name, keep=False)`` loads a model without keeping it (an answering model needed once)."""

    def __init__(self, cfg: PASConfig, *, seed: int = 0, device: Any = "cpu"):
        self.cfg, self.seed, self.device = cfg, seed, device
        self.loaded: dict[str, Any] = {}

    def get(self, name: str, *, keep: bool = True) -> Any:
        if name in self.loaded:
            return self.loaded[name]
        lm = load_model(name, self.cfg, seed=self.seed, device=self.device)
        if keep:
            self.loaded[name] = lm
        return lm

    def loader(self, name: str):
        """A function that loads ``name`` when called (kept only if already loaded)."""
        return lambda: self.get(name, keep=False)


def cut_tokens(tokenizer: Any, texts: Sequence[str], n: int) -> list[str]:
    """Each text cut to its first ``n`` tokens (judges compare answers of bounded length)."""
    return [tokenizer.decode(tokenizer(t, add_special_tokens=False)["input_ids"][:n]) for t in texts]


# --------------------------------------------------------------------------------------------- answers
def answer(lm: Any, user_prompts: Sequence[str], cfg: PASConfig, *, seed: int = 0):
    """Answers of ``lm`` to ``user_prompts`` (greedy, ``cfg.answer_tokens`` new tokens)."""
    out = complete(
        lm,
        [model_inputs(lm, p) for p in user_prompts],
        max_new_tokens=cfg.answer_tokens,
        batch_size=cfg.batch_size,
        seed=seed,
    )
    out.texts = [t.strip() for t in out.texts]
    return out


def condition_prompts(
    prompts: Sequence[str], complements: dict[str, Sequence[str]], generic_suffix: str
) -> dict[str, list[str]]:
    """The user messages of each condition: the prompt alone, with the generic suffix, with each
    set of complements (``{"PAS": [...], ...}``)."""
    out = {"none": list(prompts), "generic": [augmented(p, generic_suffix) for p in prompts]}
    for name, comps in complements.items():
        out[name] = [augmented(p, c) for p, c in zip(prompts, comps)]
    return out


def answer_conditions(lm: Any, messages: dict[str, list[str]], cfg: PASConfig, *, seed: int = 0):
    """Every condition answered in one call; returns ({condition: answers}, the Generation)."""
    flat = [m for msgs in messages.values() for m in msgs]
    out = answer(lm, flat, cfg, seed=seed)
    answers, k = {}, 0
    for name, msgs in messages.items():
        answers[name] = out.texts[k : k + len(msgs)]
        k += len(msgs)
    return answers, out


# --------------------------------------------------------------------------------------------- the LLM judge
def judge_agreement(judge: Any, pairs: Sequence[dict[str, Any]], tokenizer: Any, n_tokens: int) -> tuple[int, int]:
    """(pairs on which the position-swapped judge prefers the human's choice, pairs): its check before it
    judges anything."""
    prompts = [p["prompt"] for p in pairs]
    chosen, rejected = (cut_tokens(tokenizer, [p[k] for p in pairs], n_tokens) for k in ("chosen", "rejected"))
    comparisons = judge.compare_many(prompts, chosen, rejected)
    return int(sum(c.p_a > 0.5 for c in comparisons)), len(pairs)


# --------------------------------------------------------------------------------------------- the experiment
@dataclass
class PlugAndPlay:
    """Stage 6: every variant's complements, every answering model's answers under each condition, and the
    reward model's score of each answer."""

    prompts: list[str]
    complements: dict  # PAS variant -> complement per prompt
    answers: dict  # answering model -> {condition: answers}
    scores: dict  # answering model -> {condition: reward-model score per prompt}
    pooled: dict  # condition -> score per prompt, the mean over the answering models
    table: Any  # condition -> mean score, 95 % interval, mean answer length
    examples: Any
    seconds: Any  # wall seconds of each part of the evaluation
    # n_eval, models, generic_suffix, answer_tokens, tokens_per_second, mean_none, mean_generic, mean_pas,
    # judge_name
    facts: pd.Series = glued()
    judge_outcomes: dict = field(default_factory=dict)  # answering model -> PAS-vs-none outcomes ("a"/"b"/"tie")
    judge_check: tuple = (0, 0)  # (agreements, pairs) of the LLM judge with the human labels


def plug_and_play(
    pas_models: dict[str, Any],
    answerers: dict[str, Any],
    rm: Any,
    prompts: Sequence[str],
    cfg: PASConfig,
    *,
    judge_lm: Any = None,
    check_pairs: Sequence[dict[str, Any]] = (),
    seed: int = 0,
) -> PlugAndPlay:
    """Each PAS variant (name → model) writes a complement for each held-out prompt; each answering model
    (name → model, or a loader called once) answers under every condition; the reward model scores every
    answer against the user's prompt. With ``judge_lm``, the position-swapped judge is checked on
    ``check_pairs`` and compares PAS with no augmentation on the answers of every other model."""
    seconds: dict[str, float] = {}
    comps = {}
    for name, lm in pas_models.items():
        with _clock(seconds, "complements"):
            comps[name] = write_complements(lm, prompts, cfg, seed=seed).texts
    messages = condition_prompts(prompts, comps, cfg.generic_suffix)
    answers, scores, lengths, speeds, outcomes = {}, {}, {}, [], {}
    judge = None if judge_lm is None else llm.PairwiseJudge(judge_lm, criteria=JUDGE_CRITERIA, batch_size=JUDGE_BATCH)
    for name, model in answerers.items():
        with _clock(seconds, f"answers: {name}"):
            lm = model() if callable(model) else model
            answers[name], gen = answer_conditions(lm, messages, cfg, seed=seed)
            del lm
            gc.collect()
        speeds.append(gen.tokens_per_second)
        k = len(prompts)
        lengths[name] = {c: float(np.mean(gen.new_tokens[i * k : (i + 1) * k])) for i, c in enumerate(messages)}
        with _clock(seconds, "reward model"):
            scores[name] = {c: rm.score(list(prompts), a) for c, a in answers[name].items()}
        if judge is not None and name != getattr(judge_lm, "name", None):
            with _clock(seconds, "LLM judge"):
                cut = {
                    c: cut_tokens(judge_lm.tokenizer, answers[name][c], cfg.judge_answer_tokens)
                    for c in ("PAS", "none")
                }
                outcomes[name] = [
                    "a" if c.p_a > 0.5 else "b" if c.p_a < 0.5 else "tie"
                    for c in judge.compare_many(list(prompts), cut["PAS"], cut["none"])
                ]
    check = (0, 0)
    if judge is not None and check_pairs:
        with _clock(seconds, "LLM judge"):
            check = judge_agreement(judge, check_pairs, judge_lm.tokenizer, cfg.judge_answer_tokens)
    pooled = {c: list(np.mean([scores[m][c] for m in scores], axis=0)) for c in messages}
    rows = []
    for c, values in pooled.items():
        mean, low, high = mean_ci(values)
        rows.append(
            {
                "condition": c,
                "mean score": mean,
                "low": low,
                "high": high,
                "answer tokens": float(np.mean([lengths[m][c] for m in lengths])),
            }
        )
    table = pd.DataFrame(rows).set_index("condition")
    first = next(iter(answers))
    examples = pd.DataFrame(
        {
            "prompt": [p[:100] for p in prompts],
            "PAS complement": comps.get("PAS", [""] * len(prompts)),
            **{f"{first}: {c}": [a[:120] for a in answers[first][c]] for c in ("none", "generic", "PAS")},
        }
    )
    found = facts(
        {"tokens_per_second": ".1f", "mean_none": ".3f", "mean_generic": ".3f", "mean_pas": ".3f"},
        n_eval=len(prompts),
        models=", ".join(answers),
        generic_suffix=cfg.generic_suffix,
        answer_tokens=cfg.answer_tokens,
        tokens_per_second=float(np.mean(speeds)) if speeds else 0.0,
        mean_none=float(np.mean(pooled["none"])),
        mean_generic=float(np.mean(pooled["generic"])),
        mean_pas=float(np.mean(pooled["PAS"])),
        judge_name=getattr(judge_lm, "name", "none") if judge_lm is not None else "none",
    )
    return PlugAndPlay(
        list(prompts),
        comps,
        answers,
        scores,
        pooled,
        table,
        examples,
        pd.Series(seconds, name="seconds").to_frame(),
        found,
        judge_outcomes=outcomes,
        judge_check=check,
    )


__all__ = [
    "JUDGE_CRITERIA",
    "Models",
    "PlugAndPlay",
    "answer",
    "answer_conditions",
    "condition_prompts",
    "cut_tokens",
    "judge_agreement",
    "load_model",
    "plug_and_play",
]
