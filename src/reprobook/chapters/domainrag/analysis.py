"""The DomainRAG chapter's measurements and verdicts: retrieval quality, the reader's capability, the claim tests.

Explained in `notebooks/rag/domainrag.ipynb`; its tables and figures are in :mod:`.report`.

Every interval here is over *questions*: a percentile bootstrap of the questions a cell averages (the
units that vary); the reader's greedy decoding is deterministic, so there is no seed variation to add.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ... import claims
from ...checks import ParameterError
from ...rag.domainrag import Question
from ...rag.metrics import hit_at_k, recall_at_k, reciprocal_rank
from ...rag.retrievers import Retriever, RetrieverStats
from ...results import facts, glued
from .likelihood import paired_values

METRIC_NAMES = {
    "em": "EM",
    "ems": "EMS",
    "f1": "F1",
    "f1_official": "F1 (official)",
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "cf_em": "EM vs counterfactual answer",
}


def _frame(rows):
    return rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))


def mean_interval(values: Sequence[float], *, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% percentile-bootstrap interval over the values (questions); one value: no interval."""
    values = [float(v) for v in values]
    if len(values) < 2:
        m = values[0] if values else float("nan")
        return m, m, m
    return claims.bootstrap_ci(values, n_boot=n_boot, seed=seed)


# --------------------------------------------------------------------------------------------- retrieval
@dataclass
class RetrievalResult:
    """Recall@k of the golden passage and MRR, for this library's retrievers and the paper's shipped lists."""

    table: Any  # DataFrame: one row per method, recall@k and MRR with intervals
    per_query: Any  # DataFrame: one row per (method, question)
    costs: Any  # DataFrame: indexing seconds, cache, ms per query, corpus size
    # n_questions, corpus_size
    facts: pd.Series = glued()
    ks: tuple[int, ...] = ()


def retrieval_evaluation(
    questions: Sequence[Question],
    retrievers: dict[str, Retriever],
    *,
    ks: Sequence[int] = (1, 3, 5, 20),
    shipped: Sequence[str] = ("bm25", "dense"),
    n_boot: int = 1000,
    seed: int = 0,
) -> RetrievalResult:
    """Rank every question's query with each retriever and score the golden passages' ranks.

    recall@k: the share of a question's golden passages in the top k (one golden passage: found or not);
    MRR: the mean reciprocal rank of the first golden passage within the top ``max(ks)``. The shipped lists
    are the paper's top-20, retrieved from the full 14,406-passage corpus; golden passages are matched by
    text (whitespace ignored), as every passage of the pool is.
    """
    if not questions:
        raise ParameterError("questions", questions, "at least one question")
    depth = max(ks)
    rankings: dict[str, list[list[str]]] = {}
    for name, r in retrievers.items():
        rankings[f"{_label(name)} (this library)"] = r.search_ids([q.query for q in questions], depth)
    for name in shipped:
        rankings[f"{_label(name)} (shipped lists, paper)"] = [
            [p.id for p in q.shipped[name]][:depth] for q in questions
        ]
    per_query = []
    for method, ranked in rankings.items():
        for q, ids in zip(questions, ranked):
            row = {"method": method, "qid": q.qid, "ability": q.ability, "rr": reciprocal_rank(ids, q.golden_ids)}
            row.update({f"recall@{k}": recall_at_k(ids, q.golden_ids, k) for k in ks})
            row.update({f"hit@{k}": hit_at_k(ids, q.golden_ids, k) for k in ks})
            per_query.append(row)
    per_query = pd.DataFrame(per_query)
    rows = []
    for method, part in per_query.groupby("method", sort=False):
        row = {"method": method, "questions": len(part)}
        for col in [*(f"recall@{k}" for k in ks), "rr"]:
            m, lo, hi = mean_interval(part[col], n_boot=n_boot, seed=seed)
            row[col if col != "rr" else "MRR"] = m
            row[(col if col != "rr" else "MRR") + " interval"] = f"[{lo:.2f}, {hi:.2f}]"
        rows.append(row)
    costs = pd.DataFrame([_cost_row(r.stats()) for r in retrievers.values()])
    corpus = next(iter(retrievers.values())).corpus if retrievers else None
    return RetrievalResult(
        pd.DataFrame(rows).set_index("method"),
        per_query,
        costs,
        facts({"corpus_size": ",d"}, n_questions=len(questions), corpus_size=len(corpus) if corpus is not None else 0),
        tuple(ks),
    )


def _label(name: str) -> str:
    return "BM25" if name == "bm25" else name


def _cost_row(s: RetrieverStats) -> dict[str, Any]:
    return {
        "retriever": s.name,
        "passages": s.passages,
        "index seconds": s.index_seconds,
        "index from cache": s.from_cache,
        "queries": s.queries,
        "ms per query": s.ms_per_query,
    }


# --------------------------------------------------------------------------------------------- claims
SHORT = ("extractive", "time_sensitive", "structural", "faithful")


@dataclass
class Capability:
    """Can the reader answer when the answer is in its prompt? EM with golden references on the generated
    short-answer sample, against the bar the chapter declared before the run."""

    # em_golden, em_closed, questions, bar, text
    facts: pd.Series = glued()
    passed: bool = False


CAPABILITY_FORMATS = {"em_golden": ".2f", "em_closed": ".2f", "bar": ".2f"}


def capability(gen_rows, bar: float) -> Capability:
    """:class:`Capability` from the generated answers (short-answer abilities, golden and closed book).

    The reader fails when its golden-reference EM is *shown* to be below ``bar``: the upper end of the 95 %
    Wilson interval of the EM (its answers' mean, rounded to whole answers) lies under it. A sample of a few
    tens of answers cannot place a reader on either side of a bar near its EM; a reader that almost never
    answers with the answer in its prompt is stopped."""
    frame = _frame(gen_rows)
    part = frame[frame.ability.isin(SHORT)]
    golden, closed = part[part.setting == "golden"].em, part[part.setting == "closed"].em
    em = float(golden.mean()) if len(golden) else float("nan")
    high = claims.proportion_ci(int(round(golden.sum())), len(golden))[2] if len(golden) else float("nan")
    passed = bool(len(golden)) and high >= bar
    text = (
        f"EM {em:.2f} with golden references on {len(golden)} short-answer questions (95 % interval up to "
        f"{high:.2f}: {'not shown below' if passed else 'below'} the bar of {bar:.2f})"
    )
    em_closed = float(closed.mean()) if len(closed) else float("nan")
    return Capability(
        facts(CAPABILITY_FORMATS, em_golden=em, em_closed=em_closed, questions=len(golden), bar=bar, text=text), passed
    )


def domainrag_tests(
    specs: Sequence[claims.ClaimSpec], lik, cap: Capability, *, scale: str = ""
) -> list[claims.ClaimTest]:
    """Every declared claim tested on the likelihood rows (``lik``: :class:`.likelihood.LikelihoodRun` or its
    rows), guarded by the reader's capability, Holm-adjusted over the chapter.

    Each test pairs questions: the same question's ℓ (mean log-probability per token of the gold answer) in
    two settings. A reader below the capability bar makes every claim *not comparable*: a reader that fails
    with the answer in its prompt can show neither what references add nor how it reads them.
    """
    rows = getattr(lik, "rows", lik)
    by_key = {s.key: s for s in specs}
    short = ("extractive", "time_sensitive")
    tests = []

    def test(key: str, labels, a: str, b: str, **kw) -> claims.ClaimTest:
        if by_key[key].test == "none":  # declared, not tested by this profile (the reason is the declaration's)
            return claims.evaluate(by_key[key], scale=scale)
        x, y, qids = paired_values(rows, labels, a, b, **kw)
        if not len(x):
            return claims.untested(by_key[key], f"no question scored in both {a} and {b}", scale=scale)
        return claims.evaluate(by_key[key], x, y, scale=scale, this_run=_means_text(x, y, a, b))

    tests.append(test("closed_fails", short, "golden", "closed"))
    if by_key["retrieval_helps"].test == "none":
        tests.append(test("retrieval_helps", short, "", ""))
    else:
        parts = [test("retrieval_helps", short, f"shipped-{r}@1", "closed") for r in ("bm25", "dense")]
        tests.append(
            claims.ClaimTest(
                by_key["retrieval_helps"],
                claims.all_of(*(t.verdict for t in parts)),
                "; ".join(f"{r}: {t.this_run}" for r, t in zip(("BM25", "dense"), parts)),
                scale,
            )
        )
    tests.append(test("structure_hard", "structural", "golden", "html"))
    tests.append(test("noise_hard", "noise", "golden", "noise4@first"))
    # faithfulness: the margin for the reference's own answer, true reference against counterfactual one
    true_gold, true_cf, _ = paired_values(rows, "faithful", "golden", "golden", "gold", "counter")
    cf_cf, cf_gold, _ = paired_values(rows, "faithful", "counterfactual", "counterfactual", "counter", "gold")
    if by_key["faithful_hard"].test == "none":
        tests.append(test("faithful_hard", "faithful", "", ""))
    elif len(true_gold) and len(cf_cf) == len(true_gold):
        margin_true, margin_cf = true_gold - true_cf, cf_cf - cf_gold
        text = (
            f"mean margin {margin_true.mean():+.2f} nats/token for the true answer given the true reference, "
            f"{margin_cf.mean():+.2f} for the counterfactual answer given the counterfactual reference"
        )
        tests.append(claims.evaluate(by_key["faithful_hard"], margin_true, margin_cf, scale=scale, this_run=text))
    else:
        tests.append(claims.untested(by_key["faithful_hard"], "no faithful question scored", scale=scale))
    tests.append(test("multidoc_uses_all", "multi_document", "golden", "golden-first"))
    tests.append(test("history_used", "conversational", "golden", "golden-nohistory"))
    order = [s.key for s in specs]
    tests = sorted(tests, key=lambda t: order.index(t.key))
    tests = claims.guard_tests(
        tests,
        order,
        lambda v: claims.guard(v, cap.passed, f"the reader fails with the answer in its prompt: {cap.facts.text}"),
    )
    return claims.holm_tests(tests)


@dataclass
class Faithfulness:
    """The forced choice on the faithful questions: which answer the reader finds more likely, per reference."""

    table: Any
    # follows_true: prefers the true answer given the true reference; follows_cf: prefers the counterfactual
    # answer given the counterfactual reference; cf_with_true of the questions: counterfactual prompts that still
    # contain the true answer
    facts: pd.Series = glued()


def faithfulness_choice(lik) -> Faithfulness:
    """:class:`Faithfulness` from the likelihood rows (the faithful questions score both answers)."""
    rows = getattr(lik, "rows", lik)
    part = rows[rows.label == "faithful"]
    true = part[part.setting == "golden"]
    cf = part[part.setting == "counterfactual"]
    table = pd.DataFrame(
        {
            "reference": ["true", "counterfactual"],
            "questions": [len(true), len(cf)],
            "prefers the true answer": [float((true.gold > true.counter).mean()), float((cf.gold > cf.counter).mean())],
            "prefers the counterfactual answer": [
                float((true.counter > true.gold).mean()),
                float((cf.counter > cf.gold).mean()),
            ],
            "true answer in the prompt": [float(true.answer_in_prompt.mean()), float(cf.answer_in_prompt.mean())],
        }
    ).set_index("reference")
    return Faithfulness(
        table,
        facts(
            dict(follows_true=".0%", follows_cf=".0%"),
            follows_true=float((true.gold > true.counter).mean()),
            follows_cf=float((cf.counter > cf.gold).mean()),
            cf_with_true=int(cf.answer_in_prompt.sum()),
            questions=len(cf),
        ),
    )


def _means_text(x, y, a: str, b: str) -> str:
    return f"ℓ {np.mean(x):.2f} ({a}) vs {np.mean(y):.2f} ({b}) nats/token over {len(x)} questions"
