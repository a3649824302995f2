"""Likelihood scoring of the DomainRAG settings: how probable the reader finds the gold answer.

Explained in `notebooks/rag/domainrag.ipynb`.

Generation answers a question once per setting and the metrics then decide whether the answer is right;
a small reader writes long, off-format answers, and a few generated answers per ability decide nothing.
Teacher forcing asks a sharper question at a fraction of the cost: given the prompt of a setting, how
probable is the gold answer? One forward pass per (question, setting) gives

    ℓ(q, s) = max over the gold alternatives a of (1/|a|) Σ_t log p(a_t | prompt(q, s), a_<t),

the mean log-probability per token of the best-scored alternative (an alternative's parts joined by
"、"). A claim about a setting then compares ℓ in two settings on the *same* questions. Faithful
questions score the counterfactual answers too (``counter``), so a forced choice between the true and the
counterfactual answer is read from the same pass.

Prompts are the generation prompts (:func:`reprobook.chapters.domainrag.experiment.build_items`) through the same
context guard; the prompts of one label, every setting together, go to one call of
:func:`reprobook.llm.generation.score_completions`, which computes what they share (the instruction, a
question's passage in two settings) once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ...checks import check_int
from ...configs.domainrag import DomainRAGConfig
from ...llm import fit_context
from ...llm.generation import ScoreStats, score_completions
from ...rag.corpus import passage_key
from ...rag.domainrag import Question
from ...rag.metrics import gold_alternatives
from ...results import facts, glued
from ...timing import timed
from .experiment import build_items

PART_JOIN = "、"  # the Chinese enumeration comma joins the parts of one alternative


def answer_texts(answers: Any, max_alternatives: int | None = None) -> list[str]:
    """The gold alternatives as completions: each alternative's parts joined by "、", duplicates dropped,
    the first ``max_alternatives`` (None: all).

    >>> answer_texts([["汉语", "法语"], ["中文"]])
    ['汉语、法语', '中文']
    """
    texts = list(dict.fromkeys(PART_JOIN.join(p.strip() for p in parts) for parts in gold_alternatives(answers)))
    texts = [t for t in texts if t]
    return texts if max_alternatives is None else texts[: check_int("max_alternatives", max_alternatives, low=1)]


def answer_in_text(text: str, answers: Any) -> bool:
    """True when every part of some gold alternative occurs in ``text`` (whitespace ignored)."""
    flat = passage_key(text)
    return any(all(passage_key(p) in flat for p in parts) for parts in gold_alternatives(answers))


@dataclass
class LikelihoodRun:
    """ℓ(q, s) for every (label, question, setting) of a plan, and what scoring cost."""

    rows: Any  # DataFrame: label, ability, qid, setting, gold, counter, prompt_tokens, truncated, answer_in_prompt
    # reader, prompts, pairs ((prompt, alternative) pairs scored), prompt_tokens, computed_tokens (tokens through
    # the model (shared prefixes once)), seconds, pairs_per_second, prompts_per_second, truncated, questions
    # (questions per label)
    facts: pd.Series = glued()


def score_plan(
    lm: Any,
    plan: Sequence[tuple[str, Sequence[Question], Sequence[str]]],
    *,
    max_prompt_tokens: int | None,
    html_view: str = "page",
    retrievers: dict | None = None,
    max_alternatives: int | None = 4,
    share_prefix: bool = True,
) -> LikelihoodRun:
    """Score every (label, questions, settings) of ``plan`` (see the module docstring); one call of
    :func:`~reprobook.llm.generation.score_completions` per label, so what its prompts share (an
    instruction, a question's passage) is computed once. ``max_alternatives``: the gold alternatives scored
    per question, the file's first ones (ℓ is the best of them)."""
    rows: list[dict[str, Any]]
    rows, stats = [], ScoreStats()
    with timed() as t:
        for label, questions, settings in plan:
            # every setting of a label in one call: an instruction is computed once for all its prompts, and two
            # settings of a question that share a beginning (a passage, then noise) share it
            prompts, groups, sizes, first = [], [], [], len(rows)
            for setting in settings:
                for it in build_items(questions, setting, retrievers=retrievers, html_view=html_view):
                    q = it.question
                    full = it.template(question=q.prompt_question(), passages=it.passages)
                    prompt = fit_context(
                        lm,
                        q.prompt_question(),
                        it.passages,
                        template=it.template,
                        chat=False,
                        max_prompt_tokens=max_prompt_tokens,
                        reserve=0,
                    )
                    gold = answer_texts(q.answers, max_alternatives)
                    counter = answer_texts(q.counter_answers, max_alternatives) if q.counter_answers is not None else []
                    prompts.append(prompt)
                    groups.append(gold + counter)
                    sizes.append(len(gold))
                    rows.append(
                        {
                            "label": label,
                            "ability": q.ability,
                            "qid": q.qid,
                            "setting": it.setting.name,
                            "truncated": prompt != full,
                            "answer_in_prompt": answer_in_text(prompt, q.answers),
                            "counter_in_prompt": bool(counter) and answer_in_text(prompt, q.counter_answers),
                            "references": len(it.passage_ids),
                        }
                    )
            scores, st = score_completions(lm, prompts, groups, chat=False, average=True, share_prefix=share_prefix)
            stats = stats.add(st)
            for row, values, k, prompt in zip(rows[first:], scores, sizes, prompts):
                row.update(
                    gold=max(values[:k]),
                    counter=max(values[k:]) if len(values) > k else float("nan"),
                    prompt_tokens=len(lm.tokenizer(prompt)["input_ids"]),
                )
        frame = pd.DataFrame(rows)
    seconds = t.seconds
    counts = ", ".join(f"{label.replace('_', '-')} {len(qs)}" for label, qs, _ in plan)
    return LikelihoodRun(
        frame,
        facts(
            {
                **dict.fromkeys(("prompts", "pairs", "prompt_tokens", "computed_tokens"), ",d"),
                "seconds": ".0f",
                "pairs_per_second": ".2f",
                "prompts_per_second": ".2f",
            },
            reader=getattr(lm, "name", str(lm)),
            prompts=stats.prompts,
            pairs=stats.completions,
            prompt_tokens=stats.prompt_tokens,
            computed_tokens=stats.computed_tokens,
            seconds=seconds,
            pairs_per_second=stats.completions / seconds if seconds else float("nan"),
            prompts_per_second=stats.prompts / seconds if seconds else float("nan"),
            truncated=int(frame.truncated.sum()),
            questions=counts,
        ),
    )


def paired_values(
    rows: Any,
    labels: str | Sequence[str],
    setting_a: str,
    setting_b: str,
    column: str = "gold",
    column_b: str | None = None,
):
    """(values in ``setting_a``, values in ``setting_b``, question ids) of the questions of ``labels`` scored
    in both settings, in the same order (``column_b``: another column for the second setting)."""
    labels = [labels] if isinstance(labels, str) else list(labels)
    part = rows[rows.label.isin(labels)]
    a = part[part.setting == setting_a].set_index(["label", "qid"])[column]
    b = part[part.setting == setting_b].set_index(["label", "qid"])[column_b or column]
    common = [k for k in a.index if k in b.index]
    return a.loc[common].to_numpy(float), b.loc[common].to_numpy(float), [q for _, q in common]


def likelihood_plan(data: Any, noise_questions: Sequence[Question], cfg: DomainRAGConfig, *, seed: int = 0):
    """The (label, questions, settings) of a chapter configuration's ``lik_plan``: each ability's first
    ``n`` questions of one seeded permutation (:meth:`~reprobook.rag.domainrag.DomainRAG.sample`; None: all),
    the noise label's from the official noise file, in file order."""
    plan = []
    for label, n, settings in cfg.lik_plan:
        if label == "noise":
            questions = list(noise_questions) if n is None else list(noise_questions)[:n]
        else:
            questions = data.sample(label, n, seed=seed)
        plan.append((label, questions, tuple(settings)))
    return plan
