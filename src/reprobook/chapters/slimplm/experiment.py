"""The SlimPLM experiment: every method on the same questions, costs per question, the verdicts.

Explained in `notebooks/rag/slimplm.ipynb`; its tables, figure and traces are in :mod:`.report`.

Four methods answer every evaluation question with the same large model:

==================  =====================================================================================
``never``           closed book (the large model alone)
``always``          the question's top-k passages (one retrieval per question)
``self-judgement``  the large model first judges its own need (one more LLM call), then ``always`` or ``never``
``SlimPLM``         the proxy's heuristic answer, the judge, the claims, then ``never`` (Known) or the
                    passages of the question and its NeedSearch claims (Unknown)
==================  =====================================================================================

For the threshold sweep every question is also answered as SlimPLM would answer it if it were Unknown, so
any threshold's outcome is a selection among answers already generated; the costs of each method count
only what that method uses. Costs per question: retrievals (queries sent to the retriever), calls of the
large model, calls of the proxy (generation and scoring passes), and seconds: each stage's measured time,
shared equally among the prompts (or queries) of its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ... import claims, llm
from ...checks import ParameterError
from ...configs.slimplm import SlimPLMConfig
from ...rag.retrievers import BM25Retriever
from ...rag.slimplm import (
    DocumentSearch,
    Judge,
    PipelineTrace,
    answer_scores,
    check_settings,
    closed_book_logprob,
    generate_answers,
    judge_claims,
    plan_queries,
    read_with_proxy,
    retrieve,
    self_judgement,
)
from ...rag.squad import SquadOpen, SquadQuestion
from ...results import facts, glued
from ...timing import timed

METHODS = ("never", "always", "self-judgement", "SlimPLM")
METRICS = {
    "em": "EM",
    "recall": "recall",
    "rougeL": "ROUGE-L",
    "retrievals": "retrievals",
    "llm_calls": "LLM calls",
    "proxy_calls": "proxy calls",
    "seconds": "seconds",
    "gold_shown": "gold passage shown",
}


def build_retriever(data: SquadOpen, cfg: SlimPLMConfig, *, cache: bool = True) -> DocumentSearch:
    """The official search (:class:`~reprobook.rag.slimplm.DocumentSearch`) over ``data``: English BM25
    (``bm25s`` words, English stop words) over the paragraphs (documents) and over their passages (the
    rerank); both indexes cached."""
    passages = BM25Retriever(language="en", k1=cfg.bm25_k1, b=cfg.bm25_b, cache=cache).index(data.corpus)
    return DocumentSearch(passages, docs_per_query=cfg.docs_per_query, cache=cache)


def load_models(cfg: SlimPLMConfig, *, device: Any = "cpu", seed: int = 0) -> tuple[Any, Any]:
    """(proxy, large) language models of a configuration: tiny random models of the same families in the
    tiny profile (seeds ``seed`` and ``seed + 1``), else the registry models, folders or Hugging Face ids."""
    if cfg.tiny_models:
        return (
            llm.tiny_causal_lm(cfg.proxy, seed=seed, device=device),
            llm.tiny_causal_lm(cfg.large, seed=seed + 1, device=device),
        )
    return llm.load_causal_lm(cfg.proxy, device=device), llm.load_causal_lm(cfg.large, device=device)


def format_passages(corpus: Any, ids: Sequence[str]) -> list[str]:
    """The passages as the large model reads them: ``(title) text``."""
    return [f"({corpus[i].title}) {corpus[i].text}" for i in ids]


@dataclass
class SlimRun:
    """Every method's answers to the evaluation questions, scored, with costs per question."""

    rows: Any  # DataFrame: one row per (question, method)
    traces: list[PipelineTrace]
    per_question: Any  # DataFrame: one row per question (probabilities, queries, the answers of every method)
    stage_seconds: dict[str, float]
    # n_questions; threshold; known_share: questions the judge calls Known at the threshold; closed_correct:
    # questions the large model answers correctly closed-book; self_retrieve_share: questions on which
    # self-judgement retrieves; mean_claims per heuristic answer; searched_claims: NeedSearch claims per question;
    # queries_unknown: queries per Unknown question (the question and its claims); seconds: all stages, including
    # the sweep's extra answers
    facts: pd.Series = glued()

    @property
    def n_questions(self) -> int:
        return int(self.facts["n_questions"])

    @property
    def threshold(self) -> float:
        return float(self.facts["threshold"])


RUN_FORMATS = dict(
    threshold=".2f",
    known_share=".0%",
    closed_correct=".0%",
    self_retrieve_share=".0%",
    mean_claims=".1f",
    searched_claims=".1f",
    queries_unknown=".1f",
    seconds=".0f",
)


def run_slimplm(
    proxy: Any,
    large: Any,
    retriever: DocumentSearch,
    questions: Sequence[SquadQuestion],
    judge: Judge,
    cfg: SlimPLMConfig,
    *,
    seed: int = 0,
) -> SlimRun:
    """Run the four methods on ``questions`` (see the module docstring) and score every answer."""
    check_settings(cfg)
    if not questions:
        raise ParameterError("questions", questions, "at least one evaluation question")
    n, texts, tau = len(questions), [q.question for q in questions], cfg.judge_threshold
    # steps 1-3: heuristic answers, claims, the judge on answers and on claims
    reading = read_with_proxy(
        proxy,
        texts,
        max_new_tokens=cfg.proxy_max_new_tokens,
        max_claims=cfg.max_claims,
        min_claim_words=cfg.min_claim_words,
        batch_size=cfg.batch_size,
        seed=seed,
    )
    p_known = judge.p_known(reading.question_features)
    claim_sets = [judge_claims(judge, reading.claims[i], reading.claim_features[i], tau) for i in range(n)]
    # step 4 (for every question, as if Unknown: the sweep needs it) and the always-retrieve queries
    slim_queries = [plan_queries(t, c, known=False) for t, c in zip(texts, claim_sets)]
    slim_ids, slim_ret_s = retrieve(retriever, texts, slim_queries, k=cfg.top_k)
    always_ids, always_ret_s = retrieve(retriever, texts, [[t] for t in texts], k=cfg.top_k)
    # step 5 and the baselines: closed-book answers, then every retrieval-augmented answer in one batch
    gen: dict[str, Any] = dict(
        chat=cfg.large_chat, max_new_tokens=cfg.answer_max_new_tokens, batch_size=cfg.batch_size, seed=seed
    )
    closed, _, closed_s = generate_answers(large, texts, [[] for _ in texts], max_prompt_tokens=None, **gen)
    shown = [format_passages(retriever.passages.corpus, ids) for ids in always_ids + slim_ids]
    rag, _, rag_s = generate_answers(large, texts + texts, shown, max_prompt_tokens=cfg.max_prompt_tokens, **gen)
    p_need, self_s = self_judgement(large, texts, chat=cfg.large_chat, batch_size=cfg.batch_size)
    # what the large model knows of each question, the judge's target: its closed-book log p(gold) per token
    with timed() as knowledge:
        closed_lp = closed_book_logprob(large, questions, chat=cfg.large_chat, batch_size=cfg.batch_size)
    stages = {
        "proxy answers": reading.generate_seconds,
        "proxy scoring": reading.score_seconds,
        "retrieval": slim_ret_s + always_ret_s,
        "closed-book answers": sum(closed_s),
        "retrieval-augmented answers": sum(rag_s),
        "self-judgement": self_s,
        "closed-book log-probabilities": knowledge.seconds,
    }
    per_query = (slim_ret_s + always_ret_s) / max(n + sum(len(q) for q in slim_queries), 1)
    proxy_s = (reading.generate_seconds + reading.score_seconds) / n
    rows, traces, table = [], [], []
    for i, q in enumerate(questions):
        known, retrieve_self = bool(p_known[i] >= tau), bool(p_need[i] >= cfg.self_judge_threshold)
        outcome = {
            "never": (closed[i], [], 0, 1, 0, closed_s[i]),
            "always": (rag[i], always_ids[i], 1, 1, 0, per_query + rag_s[i]),
            "self-judgement": (rag[i], always_ids[i], 1, 2, 0, self_s / n + per_query + rag_s[i])
            if retrieve_self
            else (closed[i], [], 0, 2, 0, self_s / n + closed_s[i]),
            "SlimPLM": (closed[i], [], 0, 1, reading.proxy_calls[i], proxy_s + closed_s[i])
            if known
            else (
                rag[n + i],
                slim_ids[i],
                len(slim_queries[i]),
                1,
                reading.proxy_calls[i],
                proxy_s + per_query * len(slim_queries[i]) + rag_s[n + i],
            ),
        }
        for method, (answer, ids, n_ret, calls, proxy_calls, secs) in outcome.items():
            rows.append(
                {
                    "qid": q.qid,
                    "method": method,
                    "answer": answer,
                    **answer_scores(answer, q.answers),
                    "retrievals": n_ret,
                    "llm_calls": calls,
                    "proxy_calls": proxy_calls,
                    "seconds": secs,
                    "gold_shown": float(bool(set(ids) & set(q.gold_ids))),
                }
            )
        traces.append(
            PipelineTrace(
                q, reading.answers[i], float(p_known[i]), known, claim_sets[i], slim_queries[i] if not known else []
            )
        )
        table.append(
            {
                "qid": q.qid,
                "question": q.question,
                "gold": " | ".join(q.answers),
                "heuristic answer": reading.answers[i],
                "p_known": float(p_known[i]),
                "known": known,
                "closed_logprob": float(closed_lp[i]),
                "claims": len(claim_sets[i]),
                "searched claims": sum(c.need_search for c in claim_sets[i]),
                "slim_queries": len(slim_queries[i]),
                "p_need": float(p_need[i]),
                **{f"slimrag_{m}": v for m, v in answer_scores(rag[n + i], q.answers).items()},
                **{f"never_{m}": v for m, v in answer_scores(closed[i], q.answers).items()},
                **{f"always_{m}": v for m, v in answer_scores(rag[i], q.answers).items()},
                "closed answer": closed[i],
                "always answer": rag[i],
                "slim answer (if Unknown)": rag[n + i],
            }
        )
    per_question = pd.DataFrame(table)
    unknown = ~per_question.known
    return SlimRun(
        pd.DataFrame(rows),
        traces,
        per_question,
        stages,
        facts(
            RUN_FORMATS,
            n_questions=n,
            threshold=tau,
            known_share=float(per_question.known.mean()),
            closed_correct=float(per_question.never_em.mean()),
            self_retrieve_share=float(np.mean(p_need >= cfg.self_judge_threshold)),
            mean_claims=float(np.mean([len(c) for c in claim_sets])),
            searched_claims=float(per_question["searched claims"].mean()),
            queries_unknown=float(per_question.slim_queries[unknown].mean()) if unknown.any() else 0.0,
            seconds=sum(stages.values()),
        ),
    )


# -------------------------------------------------------------------------------------------- checks
def consistency_checks(run: SlimRun, retriever: DocumentSearch) -> list[tuple[str, bool, str]]:
    """In-chapter checks: no NeedSearch = False claim is searched; a Known question retrieves nothing; the
    queries the retriever received are those the methods count."""
    skipped = [(t, c) for t in run.traces for c in t.claims if not c.need_search]
    leaked = [c.text for t, c in skipped if c.text in t.queries]
    known_with_queries = [t.question.qid for t in run.traces if t.known and t.queries]
    sent = retriever.queries
    expected = run.n_questions + int(run.per_question.slim_queries.sum())
    return [
        (
            "no NeedSearch=False claim is searched",
            not leaked,
            f"{len(skipped)} claims with NeedSearch=False, {len(leaked)} of them among the queries",
        ),
        (
            "a Known question retrieves nothing",
            not known_with_queries,
            f"{sum(t.known for t in run.traces)} Known questions, {len(known_with_queries)} with queries",
        ),
        (
            "queries counted = queries sent",
            sent == expected,
            f"{expected} queries planned (one per question for always-retrieve, the rest for SlimPLM's plans); "
            f"the retriever answered {sent}",
        ),
    ]


# -------------------------------------------------------------------------------------------- claims
def _paired(run: SlimRun, method: str, column: str) -> np.ndarray:
    part = run.rows[run.rows.method == method].set_index("qid")[column]
    return part.loc[[t.question.qid for t in run.traces]].to_numpy(dtype=float)


def selection_gain(retrieved: Any, gain: Any) -> float:
    """EM of a selection minus the expected EM of a random selection of as many questions, with the same
    answers: mean((r − r̄) g), r_i = 1 when question i is retrieved for, g_i its EM with retrieval minus its
    EM without (a random choice of the same size gains r̄ · mean(g) in expectation)."""
    r, g = np.asarray(retrieved, dtype=float), np.asarray(gain, dtype=float)
    return float(np.mean((r - r.mean()) * g))


def slimplm_tests(
    specs: Sequence[claims.ClaimSpec], run: SlimRun, cfg: SlimPLMConfig, *, scale: str = "", seed: int = 0
) -> list[claims.ClaimTest]:
    """The declared claims tested on the run (paired over the evaluation questions), guarded, Holm-adjusted.

    * ``judge_selects``: Harrell's C of P(Known) for the large model's closed-book log-probability of the
      gold answer per token (what the judge is trained to predict), a paired bootstrap of the questions;
      a label without spread: not comparable;
    * ``retrieves_where_needed``: :func:`selection_gain` of SlimPLM's decisions, bootstrapped; a judge that
      retrieves for every question or for none has not selected: not comparable;
    * ``vs_always``, ``vs_self``: non-inferiority of paired EM (Newcombe); ``vs_never``: McNemar; each not
      comparable at a floor (both methods right on at most ``cfg.floor_k`` questions), and when the judge
      retrieves for every question or for none (SlimPLM is then always- or never-retrieve: the method did not
      act; parity would say nothing of its judge, and a gain over the large model alone would be retrieval's).
    """
    by = {s.key: s for s in specs}
    pq = run.per_question.set_index("qid").loc[[t.question.qid for t in run.traces]]
    n, boot = len(pq), claims.bootstrap_resamples(len(specs))
    correct = (pq.never_em.to_numpy() == 1).astype(int)
    retrieved = (~pq.known.to_numpy()).astype(int)
    gain = pq.slimrag_em.to_numpy(float) - pq.never_em.to_numpy(float)
    tests = []
    label, p_known = pq.closed_logprob.to_numpy(float), pq.p_known.to_numpy(float)
    t = claims.evaluate(
        by["judge_selects"],
        [label, p_known],
        statistic=lambda y, p: claims.concordance(y, p) - 0.5,
        n_resamples=boot,
        seed=seed,
        scale=scale,
        this_run=f"C {claims.concordance(label, p_known):.2f} for the closed-book log p(gold) per token "
        f"(mean {label.mean():.2f}); AUROC {claims.concordance(correct, p_known):.2f} for the "
        f"{int(correct.sum())} of {n} questions answered right closed-book",
    )
    tests.append(
        replace(
            t,
            verdict=claims.guard(
                t.verdict, bool(np.ptp(label) > 0), "no variation in the large model's closed-book log p(gold)"
            ),
        )
    )
    t = claims.evaluate(
        by["retrieves_where_needed"],
        [retrieved, gain],
        statistic=selection_gain,
        n_resamples=boot,
        seed=seed,
        scale=scale,
        this_run=f"retrieves for {retrieved.mean():.0%} of the questions; EM {_em(run, 'SlimPLM'):.2f} "
        f"against {_em(run, 'SlimPLM') - selection_gain(retrieved, gain):.2f} expected of a "
        "random choice",
    )
    rate = float(retrieved.mean())
    selected = (
        f"the judge did not select: it retrieves for {rate:.0%} of the questions (the large model answers "
        f"{int(correct.sum())} of {n} right closed-book)"
    )
    tests.append(replace(t, verdict=claims.guard(t.verdict, 0 < rate < 1, selected)))
    slim = _paired(run, "SlimPLM", "em")
    for key, rival in (("vs_always", "always"), ("vs_self", "self-judgement"), ("vs_never", "never")):
        other = _paired(run, rival, "em")
        t = claims.evaluate(
            by[key],
            slim,
            other,
            scale=scale,
            this_run=f"EM {slim.mean():.2f} (SlimPLM) vs {other.mean():.2f} ({rival})",
        )
        # a judge that selects nothing makes SlimPLM always- (or never-) retrieve: its parity with always
        # retrieving or with the large model's own judgement then says nothing of the judge, and its gain over
        # the large model alone is retrieval's (always against never retrieving), not SlimPLM's
        verdict = claims.guard_acted(t.verdict, 0 < rate < 1, selected)
        verdict = claims.guard_floor(verdict, [int(slim.sum()), int(other.sum())], n, k=cfg.floor_k, what="EM")
        tests.append(replace(t, verdict=verdict))
    return claims.holm_tests(tests)


def _em(run: SlimRun, method: str) -> float:
    return float(run.rows[run.rows.method == method].em.mean())
