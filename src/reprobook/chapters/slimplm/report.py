"""The SlimPLM chapter's report: the data described, the tables, the trade-off figure, traces, paper vs this run.

Explained in `notebooks/rag/slimplm.ipynb`; the runs and the claim tests are in :mod:`.experiment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ... import claims
from ...configs.slimplm import SlimPLMConfig
from ...rag.slimplm import ReaderPrompt, answer_scores
from ...rag.squad import SquadOpen, SquadQuestion
from ...results import facts, glued
from .experiment import METHODS, METRICS, SlimRun, format_passages

MEAN_FORMATS = dict(
    em=".2f",
    recall=".2f",
    rougel=".2f",
    retrievals=".2f",
    llm_calls=".1f",
    proxy_calls=".1f",
    seconds=".1f",
    gold=".0%",
)


def model_label(lm: Any) -> str:
    """``name (N M parameters)``."""
    return f"{lm.name} ({lm.parameters / 1e6:.0f}M parameters)"


@dataclass
class DataSummary:
    """The knowledge source and the question split, in numbers."""

    table: Any  # DataFrame: one row per split
    # passages, paragraphs, articles, questions, mean_passage_words; the split: train, eval, train_articles,
    # eval_articles
    facts: pd.Series = glued()


def describe_data(data: SquadOpen, split: Any, *, keep: Any = None) -> DataSummary:
    """How many passages, paragraphs, articles and questions; the split's sizes and an example of each side
    (``keep``: the question rule; the questions available are those it keeps)."""
    rows = []
    for name, qs, arts in (
        ("train (judge labels)", split.train, split.train_articles),
        ("evaluation", split.eval, split.eval_articles),
    ):
        q = qs[0]
        rows.append(
            {
                "split": name,
                "articles": len(arts),
                "questions drawn": len(qs),
                "questions available": sum(x.title in set(arts) and (keep is None or keep(x)) for x in data.questions),
                "example question": q.question,
                "gold answers": " | ".join(q.answers),
                "article": q.title,
            }
        )
    words = float(np.mean([len(p.text.split()) for p in data.corpus]))
    return DataSummary(
        pd.DataFrame(rows).set_index("split"),
        facts(
            dict(passages=",d", paragraphs=",d", questions=",d", mean_passage_words=".0f"),
            passages=len(data.corpus),
            paragraphs=data.paragraphs(),
            articles=len(data.articles),
            questions=len(data.questions),
            mean_passage_words=words,
            train=len(split.train),
            eval=len(split.eval),
            train_articles=len(split.train_articles),
            eval_articles=len(split.eval_articles),
        ),
    )


def metric_examples():
    """Worked examples of EM, recall and ROUGE-L (:func:`reprobook.rag.slimplm.answer_scores`)."""
    cases = [
        ("Denver Broncos", ["Denver Broncos"], "exact answer"),
        (
            "The Denver Broncos won Super Bowl 50.",
            ["Denver Broncos", "Broncos"],
            "verbose but right: EM is containment",
        ),
        ("The Broncos.", ["Denver Broncos", "Broncos", "the Carolina Panthers"], "one gold of three: recall 1/3"),
        ("Carolina Panthers", ["Denver Broncos"], "wrong: only ROUGE-L would credit shared words"),
    ]
    rows = []
    for pred, golds, note in cases:
        s = answer_scores(pred, golds)
        rows.append(
            {
                "prediction": pred,
                "gold answers": " | ".join(golds),
                "EM": s["em"],
                "recall": s["recall"],
                "ROUGE-L": s["rougeL"],
                "note": note,
            }
        )
    return pd.DataFrame(rows)


def example_prompt(data: SquadOpen, question: SquadQuestion, cfg: SlimPLMConfig) -> str:
    """The large model's retrieval-augmented prompt for ``question`` with its gold passages as the reference."""
    return ReaderPrompt(cfg.large_chat)(question.question, format_passages(data.corpus, question.gold_ids))


def mean_interval(values: Sequence[float] | np.ndarray, *, n_boot: int, seed: int) -> tuple[float, float, float]:
    """Mean and 95% percentile-bootstrap interval over questions (one question, or no spread: no interval)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.ptp(values) == 0:
        m = float(values.mean()) if len(values) else float("nan")
        return m, m, m
    return claims.bootstrap_ci(values, n_boot=n_boot, seed=seed)


def method_table(run: SlimRun, *, n_boot: int = 1000, seed: int = 0):
    """Per method, the mean of every metric and cost per question with its bootstrap interval over questions.

    Returns ``(shown, numbers)``: "mean [low, high]" strings, and the long numeric table."""
    numbers = []
    for method in METHODS:
        part = run.rows[run.rows.method == method]
        for col in METRICS:
            m, lo, hi = mean_interval(part[col], n_boot=n_boot, seed=seed)
            numbers.append({"method": method, "metric": col, "mean": m, "low": lo, "high": hi})
    numbers = pd.DataFrame(numbers)
    fmt = {"seconds": "{:.2f}", "retrievals": "{:.2f}", "llm_calls": "{:.1f}", "proxy_calls": "{:.1f}"}
    cell = [
        (
            fmt.get(k, "{:.2f}").format(m)
            + ("" if lo == hi else f" [{fmt.get(k, '{:.2f}').format(lo)}, {fmt.get(k, '{:.2f}').format(hi)}]")
        )
        for k, m, lo, hi in zip(numbers.metric, numbers["mean"], numbers.low, numbers.high)
    ]
    shown = numbers.assign(cell=cell).pivot(index="method", columns="metric", values="cell")
    return shown.loc[list(METHODS), list(METRICS)].rename(columns=METRICS), numbers


@dataclass
class MethodComparison:
    """The methods side by side: means with intervals over questions, and the means glued (``<metric>_<method>``:
    ``em_slimplm``, ``gold_always``, ``seconds_self`` …)."""

    table: Any  # "mean [low, high]" per method and metric
    numbers: Any  # the long numeric table
    means: pd.DataFrame = glued()  # rows metric (gold: gold passage shown), columns method (self: self-judgement)


def compare_methods(run: SlimRun, *, n_boot: int = 1000, seed: int = 0) -> MethodComparison:
    """:func:`method_table` with its headline numbers."""
    shown, numbers = method_table(run, n_boot=n_boot, seed=seed)
    means = numbers.pivot(index="metric", columns="method", values="mean").loc[list(METRICS), list(METHODS)]
    means = means.rename(index={"rougeL": "rougel", "gold_shown": "gold"}, columns={"self-judgement": "self"})
    means.attrs["fmt"] = MEAN_FORMATS
    return MethodComparison(shown, numbers, means)


def threshold_sweep(run: SlimRun, thresholds: Sequence[float] | None = None):
    """Quality against retrievals as the thresholds move: SlimPLM's question-level P(Known) threshold (the
    claims searched stay those of the operating threshold) and self-judgement's P(Yes) threshold.

    A SlimPLM question is Known (closed-book answer, no retrieval) when P(Known) ≥ t, else it gets the
    retrieval-augmented answer of its queries; a self-judgement question retrieves (one query) when
    P(Yes) ≥ t. Returns one row per (method, threshold) with the mean EM, recall, ROUGE-L, retrievals."""
    pq = run.per_question
    grid = sorted(set(np.round(np.linspace(0, 1, 21), 4)) | set(pq.p_known) | set(pq.p_need) | {1.0 + 1e-9})
    grid = list(thresholds) if thresholds is not None else grid
    out = []
    for t in grid:
        known = pq.p_known.to_numpy() >= t
        need = pq.p_need.to_numpy() >= t
        row = {"threshold": t}
        for m in ("em", "recall", "rougeL"):
            row[f"SlimPLM_{m}"] = float(np.where(known, pq[f"never_{m}"], pq[f"slimrag_{m}"]).mean())
            row[f"self_{m}"] = float(np.where(need, pq[f"always_{m}"], pq[f"never_{m}"]).mean())
        row["SlimPLM_retrievals"] = float(np.where(known, 0, pq.slim_queries).mean())
        row["self_retrievals"] = float(need.mean())
        out.append(row)
    return pd.DataFrame(out)


def tradeoff_figure(run: SlimRun, sweep, numbers, *, metric: str = "em"):
    """EM against retrievals per question: both swept thresholds as curves, every method at its operating point."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for key, label in (
        ("SlimPLM", "SlimPLM, P(Known) threshold swept"),
        ("self", "self-judgement, P(Yes) threshold swept"),
    ):
        part = sweep.sort_values(f"{key}_retrievals")
        ax.plot(part[f"{key}_retrievals"], part[f"{key}_{metric}"], ".-", ms=4, lw=1, alpha=0.7, label=label)
    point = numbers[numbers.metric.isin([metric, "retrievals"])].pivot(index="method", columns="metric", values="mean")
    for method, marker in zip(("never", "always", "self-judgement", "SlimPLM"), "osD*"):
        ax.plot(
            point.loc[method, "retrievals"],
            point.loc[method, metric],
            marker,
            ms=9 if marker == "*" else 7,
            label=f"{method} (operating point)",
        )
    ax.set(
        xlabel="retrievals per question (queries sent to BM25)",
        ylabel=METRICS.get(metric, metric),
        title=f"Quality against retrieval ({run.n_questions} questions)",
    )
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


@dataclass
class Tradeoff:
    """The threshold sweep and its figure."""

    sweep: Any  # DataFrame: one row per threshold
    figure: Any = glued()
    # slim_thresholds: distinct operating points SlimPLM's sweep reaches; best_em_slimplm: the best EM over
    # SlimPLM's thresholds, with best_em_retrievals retrievals per question there
    facts: pd.Series = glued()


def tradeoff(run: SlimRun, comparison: MethodComparison) -> Tradeoff:
    """:func:`threshold_sweep` and :func:`tradeoff_figure` in one result."""
    sweep = threshold_sweep(run)
    best = sweep.sort_values(["SlimPLM_em", "SlimPLM_retrievals"], ascending=[False, True]).iloc[0]
    points = len(sweep[["SlimPLM_retrievals", "SlimPLM_em"]].drop_duplicates())
    return Tradeoff(
        sweep,
        tradeoff_figure(run, sweep, comparison.numbers),
        facts(
            dict(best_em_slimplm=".2f", best_em_retrievals=".2f"),
            slim_thresholds=points,
            best_em_slimplm=float(best.SlimPLM_em),
            best_em_retrievals=float(best.SlimPLM_retrievals),
        ),
    )


@dataclass
class JudgeQuality:
    """How well P(Known) predicts the large model's closed-book knowledge on the evaluation questions: the
    continuous label the judge is trained on (its concordance, the claim ``judge_selects``) and the
    correctness of the generated closed-book answers (the AUROC)."""

    # concordance: Harrell's C of P(Known) for the closed-book log p(gold) per token, label_mean: that label's mean
    # (nats per token); auroc (0.5 when one class is missing); accuracy at the operating threshold against the
    # majority rule; n_known of n evaluation questions answered correctly closed-book; retrieve_share: questions
    # SlimPLM retrieves for (judged Unknown)
    facts: pd.Series = glued()


def judge_quality(run: SlimRun) -> JudgeQuality:
    """Harrell's C of P(Known) for the large model's closed-book log p(gold) (the claim ``judge_selects``
    tests it), the AUROC against closed-book correctness, and accuracy at the threshold against the
    majority rule."""
    pq = run.per_question
    y = (pq.never_em.to_numpy() == 1).astype(int)
    p = pq.p_known.to_numpy()
    label = pq.closed_logprob.to_numpy(float)
    accuracy = float(np.mean((p >= run.threshold) == (y == 1)))
    return JudgeQuality(
        facts(
            dict(
                concordance=".2f", label_mean=".2f", auroc=".2f", accuracy=".0%", majority=".0%", retrieve_share=".0%"
            ),
            concordance=claims.concordance(label, p),
            label_mean=float(label.mean()),
            auroc=claims.concordance(y, p),
            accuracy=accuracy,
            majority=float(max(y.mean(), 1 - y.mean())),
            n_known=int(y.sum()),
            n=len(y),
            retrieve_share=float((~pq.known).mean()),
        )
    )


def sample_traces(run: SlimRun, n: int = 3):
    """The first ``n`` questions through SlimPLM: heuristic answer, P(Known), claims with NeedSearch, queries."""
    rows = []
    for t in run.traces[:n]:
        claims_text = "; ".join(f"[{'search' if c.need_search else 'skip'} {c.p_known:.2f}] {c.text}" for c in t.claims)
        rows.append(
            {
                "question": t.question.question,
                "gold": " | ".join(t.question.answers),
                "heuristic answer": t.heuristic,
                "P(Known)": round(t.p_known, 2),
                "decision": "Known: no retrieval" if t.known else f"Unknown: {len(t.queries)} queries",
                "claims [NeedSearch, P(Known)]": claims_text or "—",
            }
        )
    return pd.DataFrame(rows)


def answers_table(run: SlimRun, n: int = 4):
    """The first ``n`` questions' answers by every method, with EM."""
    rows = run.rows[run.rows.qid.isin([t.question.qid for t in run.traces[:n]])]
    out = rows.pivot(index="qid", columns="method", values="answer")[list(METHODS)]
    gold = {t.question.qid: " | ".join(t.question.answers) for t in run.traces}
    out.insert(0, "gold", [gold[q] for q in out.index])
    return out


def cost_table(run: SlimRun):
    """What each method costs per question, as the paper counts it: calls of the large model, questions
    retrieved for, queries sent, proxy calls, and measured seconds (the proxy's share included)."""
    rows = []
    for method in METHODS:
        part = run.rows[run.rows.method == method]
        rows.append(
            {
                "method": method,
                "large-model calls": part.llm_calls.mean(),
                "questions retrieved for": float((part.retrievals > 0).mean()),
                "queries": part.retrievals.mean(),
                "proxy calls": part.proxy_calls.mean(),
                "seconds": part.seconds.mean(),
            }
        )
    return pd.DataFrame(rows).set_index("method")


def cost_facts(run: SlimRun) -> list[tuple[str, bool, str, str]]:
    """The costs the method fixes, as in-chapter checks (name, passed, detail, the paper's words)."""
    calls = run.rows.groupby("method").llm_calls.agg(["min", "max"])
    slim = run.rows[run.rows.method == "SlimPLM"]
    retrieved = int((slim.retrievals > 0).sum())
    return [
        (
            "SlimPLM calls the large model once per question, self-judgement twice",
            bool(calls.loc["SlimPLM"].tolist() == [1, 1] and calls.loc["self-judgement"].tolist() == [2, 2]),
            f"large-model calls per question: SlimPLM {calls.loc['SlimPLM', 'max']}, self-judgement "
            f"{calls.loc['self-judgement', 'max']}, always {calls.loc['always', 'max']}",
            "“lower LLM inference costs” (abstract): the decision is the proxy's",
        ),
        (
            "SlimPLM retrieves only for the questions its judge calls Unknown",
            bool(retrieved == int((~run.per_question.known).sum())),
            f"{retrieved} of {len(slim)} questions retrieved for (always retrieving: all {len(slim)})",
            "“We only conduct retrieval for the missing knowledge” (abstract)",
        ),
    ]


def scale_text(
    cfg: SlimPLMConfig, run: SlimRun, judge_training: Any, proxy: Any, large: Any, corpus_size: int, profile: str
) -> str:
    """The scale of this run in words, for the claims table."""
    return (
        f"{profile} profile: proxy {proxy.name}, large {large.name}; {run.n_questions} evaluation and "
        f"{judge_training.facts.n_train} training questions (SQuAD v1.1 dev, split by article); BM25 over "
        f"{corpus_size:,} passages, top {cfg.top_k}; at most {cfg.answer_max_new_tokens} new tokens, greedy"
    )


def paper_vs_run(tests: Sequence[claims.ClaimTest]):
    """The paper's words beside this run's numbers and verdict, one row per claim."""
    return pd.DataFrame(
        [
            {
                "claim": t.spec.claim.split(":")[0],
                "paper": t.spec.paper,
                "this run": t.this_run or "—",
                "verdict": str(t.verdict),
            }
            for t in tests
        ]
    ).set_index("claim")
