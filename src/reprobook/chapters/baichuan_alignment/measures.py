"""What every Baichuan Alignment stage is measured by: the prompt as the unit (pairs that share a prompt are one),
the movement guard against the stage's parent, and DPO's implicit reward margin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...alignment.scoring import encode_pairs, moved, score
from ...configs.baichuan_alignment import BaichuanAlignmentConfig
from ...llm import generate


# --------------------------------------------------------------------------------------------- metrics
def per_prompt(values: Sequence[float], prompts: Sequence[str]) -> tuple[list[str], list[float]]:
    """The mean of ``values`` per distinct prompt (pairs that share a prompt are one unit), in first-seen order."""
    groups: dict[str, list[float]] = {}
    for v, p in zip(values, prompts):
        groups.setdefault(p, []).append(float(v))
    return list(groups), [float(np.mean(v)) for v in groups.values()]


# --------------------------------------------------------------------------------------------- guards
@dataclass
class Parent:
    """A model's greedy answers to the guard prompts, against which its children's movement is measured."""

    lm: Any
    prompts: list[str]
    answers: list[str]


def parent(lm: Any, prompts: Sequence[str], cfg: BaichuanAlignmentConfig) -> Parent:
    """``lm`` with its greedy answers to ``prompts`` (``cfg.guard_tokens`` new tokens)."""
    answers = generate(lm, list(prompts), max_new_tokens=cfg.guard_tokens, batch_size=cfg.eval_batch).texts
    return Parent(lm, list(prompts), answers)


def movement(stage: Any, of: Parent, cfg: BaichuanAlignmentConfig, answers: Sequence[str] | None = None):
    """:func:`reprobook.alignment.scoring.moved` of ``stage`` against ``of`` with the chapter's thresholds
    (``answers``: the stage's greedy answers to the guard prompts, when already generated)."""
    return moved(
        stage,
        of.lm,
        of.prompts,
        of.answers,
        max_identical=cfg.max_identical,
        min_kl=cfg.min_kl,
        max_new_tokens=cfg.guard_tokens,
        batch_size=cfg.eval_batch,
        stage_answers=answers,
    )


MOVED_FORMATS = {"identical": ".0%", "kl": ".3g"}  # a stage's movement: answers identical to its parent's, KL


# --------------------------------------------------------------------------------------------- DPO's margin
def implicit_margins(lm: Any, pairs: Sequence[dict[str, Any]], ref_logprob: dict, batch_size: int = 8) -> list[float]:
    """Per pair, DPO's implicit reward margin Δ = [log π − log π_ref](chosen) − [log π − log π_ref](rejected),
    log-probabilities summed over each answer's tokens (π_ref the SFT model, from ``ref_logprob``)."""
    prompts = [p["prompt"] for p in pairs]
    s = score(
        lm,
        encode_pairs(lm, prompts * 2, [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs]),
        batch_size=batch_size,
    ).logprob
    n = len(pairs)
    return [
        float((s[i] - ref_logprob[(p["prompt"], p["chosen"])]) - (s[n + i] - ref_logprob[(p["prompt"], p["rejected"])]))
        for i, p in enumerate(pairs)
    ]
