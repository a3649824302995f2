"""Every answer of the DomainRAG reader over the chapter's plan, generated and scored with the official metrics:
the descriptive table beside the likelihood tests (:mod:`.likelihood`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ...configs.domainrag import DomainRAGConfig
from ...rag.domainrag import Question
from ...rag.retrievers import Retriever
from ...results import facts, glued
from .experiment import ReadStats, run_settings


@dataclass
class AnswerRun:
    """Every answer of one reader over a chapter's plan, scored, with what reading cost."""

    rows: Any  # DataFrame: one row per (label, question, setting)
    stats: ReadStats
    # reader, prompts (distinct prompts generated), answers (scored rows (a prompt shared by two settings is
    # generated once)), prompt_tokens, new_tokens, seconds, truncated (prompts whose passages the context guard
    # shortened), at_cap (share of answers that ran to the new-token limit), questions_per_ability
    facts: pd.Series = glued()


def run_answers(
    lm: Any,
    plan: Sequence[tuple[str, Sequence[Question], Sequence[str]]],
    cfg: DomainRAGConfig,
    *,
    retrievers: dict[str, Retriever] | None = None,
    seed: int = 0,
) -> AnswerRun:
    """:func:`run_settings` with a chapter configuration's generation settings; one result object."""
    long = {"conversational", "multi_document"}
    max_new = {
        a: cfg.max_new_tokens_long if a in long else cfg.max_new_tokens
        for a in ("extractive", "conversational", "structural", "faithful", "time_sensitive", "multi_document", "noise")
    }
    rows, stats = run_settings(
        lm,
        plan,
        retrievers=retrievers,
        html_view=cfg.html_view,
        max_new_tokens=max_new,
        batch_size=cfg.batch_size,
        temperature=cfg.temperature,
        max_prompt_tokens=cfg.max_prompt_tokens,
        seed=seed,
    )
    counts = ", ".join(f"{label} {len(qs)}" for label, qs, _ in plan)
    frame = pd.DataFrame(rows)
    cap = [max_new.get(a, cfg.max_new_tokens) for a in frame.ability.map(lambda a: "extractive" if a == "noise" else a)]
    at_cap = float((frame.new_tokens >= cap).mean()) if len(frame) else 0.0
    return AnswerRun(
        frame,
        stats,
        facts(
            {"prompt_tokens": ",d", "new_tokens": ",d", "seconds": ".0f", "at_cap": ".0%"},
            reader=getattr(lm, "name", str(lm)),
            prompts=stats.prompts,
            answers=len(rows),
            prompt_tokens=stats.prompt_tokens,
            new_tokens=stats.new_tokens,
            seconds=stats.seconds,
            truncated=stats.truncated,
            at_cap=at_cap,
            questions_per_ability=counts,
        ),
    )
