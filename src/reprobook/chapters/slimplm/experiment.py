"""The SlimPLM experiment: every method on the same questions, costs per question, the trade-off, the verdicts.

Explained in `notebooks/rag/slimplm.ipynb`.

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
from scipy.stats import kendalltau

from ... import claims, llm
from ...checks import ParameterError
from ...configs.slimplm import SlimPLMConfig
from ...rag.retrievers import BM25Retriever
from ...rag.slimplm import (
    DocumentSearch,
    Judge,
    PipelineTrace,
    ReaderPrompt,
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
METRICS = {"em": "EM", "recall": "recall", "rougeL": "ROUGE-L", "retrievals": "retrievals", "llm_calls": "LLM calls",
           "proxy_calls": "proxy calls", "seconds": "seconds", "gold_shown": "gold passage shown"}


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
        return (llm.tiny_causal_lm(cfg.proxy, seed=seed, device=device),
                llm.tiny_causal_lm(cfg.large, seed=seed + 1, device=device))
    return llm.load_causal_lm(cfg.proxy, device=device), llm.load_causal_lm(cfg.large, device=device)


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
    for name, qs, arts in (("train (judge labels)", split.train, split.train_articles),
                           ("evaluation", split.eval, split.eval_articles)):
        q = qs[0]
        rows.append({"split": name, "articles": len(arts), "questions drawn": len(qs),
                     "questions available": sum(x.title in set(arts) and (keep is None or keep(x))
                                                for x in data.questions),
                     "example question": q.question, "gold answers": " | ".join(q.answers), "article": q.title})
    words = float(np.mean([len(p.text.split()) for p in data.corpus]))
    return DataSummary(pd.DataFrame(rows).set_index("split"), facts(
        dict(passages=",d", paragraphs=",d", questions=",d", mean_passage_words=".0f"), passages=len(data.corpus),
        paragraphs=data.paragraphs(), articles=len(data.articles), questions=len(data.questions),
        mean_passage_words=words, train=len(split.train), eval=len(split.eval),
        train_articles=len(split.train_articles), eval_articles=len(split.eval_articles)))


def metric_examples():
    """Worked examples of EM, recall and ROUGE-L (:func:`reprobook.rag.slimplm.answer_scores`)."""
    cases = [("Denver Broncos", ["Denver Broncos"], "exact answer"),
             ("The Denver Broncos won Super Bowl 50.", ["Denver Broncos", "Broncos"],
              "verbose but right: EM is containment"),
             ("The Broncos.", ["Denver Broncos", "Broncos", "the Carolina Panthers"], "one gold of three: recall 1/3"),
             ("Carolina Panthers", ["Denver Broncos"], "wrong: only ROUGE-L would credit shared words")]
    rows = []
    for pred, golds, note in cases:
        s = answer_scores(pred, golds)
        rows.append({"prediction": pred, "gold answers": " | ".join(golds), "EM": s["em"], "recall": s["recall"],
                     "ROUGE-L": s["rougeL"], "note": note})
    return pd.DataFrame(rows)


def format_passages(corpus: Any, ids: Sequence[str]) -> list[str]:
    """The passages as the large model reads them: ``(title) text``."""
    return [f"({corpus[i].title}) {corpus[i].text}" for i in ids]


def example_prompt(data: SquadOpen, question: SquadQuestion, cfg: SlimPLMConfig) -> str:
    """The large model's retrieval-augmented prompt for ``question`` with its gold passages as the reference."""
    return ReaderPrompt(cfg.large_chat)(question.question, format_passages(data.corpus, question.gold_ids))


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


RUN_FORMATS = dict(threshold=".2f", known_share=".0%", closed_correct=".0%", self_retrieve_share=".0%",
                   mean_claims=".1f", searched_claims=".1f", queries_unknown=".1f", seconds=".0f")


def run_slimplm(proxy: Any, large: Any, retriever: DocumentSearch, questions: Sequence[SquadQuestion], judge: Judge,
                cfg: SlimPLMConfig, *, seed: int = 0) -> SlimRun:
    """Run the four methods on ``questions`` (see the module docstring) and score every answer."""
    check_settings(cfg)
    if not questions:
        raise ParameterError("questions", questions, "at least one evaluation question")
    n, texts, tau = len(questions), [q.question for q in questions], cfg.judge_threshold
    # steps 1-3: heuristic answers, claims, the judge on answers and on claims
    reading = read_with_proxy(proxy, texts, max_new_tokens=cfg.proxy_max_new_tokens, max_claims=cfg.max_claims,
                              min_claim_words=cfg.min_claim_words, batch_size=cfg.batch_size, seed=seed)
    p_known = judge.p_known(reading.question_features)
    claim_sets = [judge_claims(judge, reading.claims[i], reading.claim_features[i], tau) for i in range(n)]
    # step 4 (for every question, as if Unknown: the sweep needs it) and the always-retrieve queries
    slim_queries = [plan_queries(t, c, known=False) for t, c in zip(texts, claim_sets)]
    slim_ids, slim_ret_s = retrieve(retriever, texts, slim_queries, k=cfg.top_k)
    always_ids, always_ret_s = retrieve(retriever, texts, [[t] for t in texts], k=cfg.top_k)
    # step 5 and the baselines: closed-book answers, then every retrieval-augmented answer in one batch
    gen: dict[str, Any] = dict(chat=cfg.large_chat, max_new_tokens=cfg.answer_max_new_tokens,
                               batch_size=cfg.batch_size, seed=seed)
    closed, _, closed_s = generate_answers(large, texts, [[] for _ in texts], max_prompt_tokens=None, **gen)
    shown = [format_passages(retriever.passages.corpus, ids) for ids in always_ids + slim_ids]
    rag, _, rag_s = generate_answers(large, texts + texts, shown, max_prompt_tokens=cfg.max_prompt_tokens, **gen)
    p_need, self_s = self_judgement(large, texts, chat=cfg.large_chat, batch_size=cfg.batch_size)
    # what the large model knows of each question, the judge's target: its closed-book log p(gold) per token
    with timed() as knowledge:
        closed_lp = closed_book_logprob(large, questions, chat=cfg.large_chat, batch_size=cfg.batch_size)
    stages = {"proxy answers": reading.generate_seconds, "proxy scoring": reading.score_seconds,
              "retrieval": slim_ret_s + always_ret_s, "closed-book answers": sum(closed_s),
              "retrieval-augmented answers": sum(rag_s), "self-judgement": self_s,
              "closed-book log-probabilities": knowledge.seconds}
    per_query = (slim_ret_s + always_ret_s) / max(n + sum(len(q) for q in slim_queries), 1)
    proxy_s = (reading.generate_seconds + reading.score_seconds) / n
    rows, traces, table = [], [], []
    for i, q in enumerate(questions):
        known, retrieve_self = bool(p_known[i] >= tau), bool(p_need[i] >= cfg.self_judge_threshold)
        outcome = {
            "never": (closed[i], [], 0, 1, 0, closed_s[i]),
            "always": (rag[i], always_ids[i], 1, 1, 0, per_query + rag_s[i]),
            "self-judgement": (rag[i], always_ids[i], 1, 2, 0, self_s / n + per_query + rag_s[i]) if retrieve_self
            else (closed[i], [], 0, 2, 0, self_s / n + closed_s[i]),
            "SlimPLM": (closed[i], [], 0, 1, reading.proxy_calls[i], proxy_s + closed_s[i]) if known
            else (rag[n + i], slim_ids[i], len(slim_queries[i]), 1, reading.proxy_calls[i],
                  proxy_s + per_query * len(slim_queries[i]) + rag_s[n + i]),
        }
        for method, (answer, ids, n_ret, calls, proxy_calls, secs) in outcome.items():
            rows.append({"qid": q.qid, "method": method, "answer": answer, **answer_scores(answer, q.answers),
                         "retrievals": n_ret, "llm_calls": calls, "proxy_calls": proxy_calls, "seconds": secs,
                         "gold_shown": float(bool(set(ids) & set(q.gold_ids)))})
        traces.append(PipelineTrace(q, reading.answers[i], float(p_known[i]), known, claim_sets[i],
                                    slim_queries[i] if not known else []))
        table.append({"qid": q.qid, "question": q.question, "gold": " | ".join(q.answers),
                      "heuristic answer": reading.answers[i], "p_known": float(p_known[i]), "known": known,
                      "closed_logprob": float(closed_lp[i]),
                      "claims": len(claim_sets[i]), "searched claims": sum(c.need_search for c in claim_sets[i]),
                      "slim_queries": len(slim_queries[i]), "p_need": float(p_need[i]),
                      **{f"slimrag_{m}": v for m, v in answer_scores(rag[n + i], q.answers).items()},
                      **{f"never_{m}": v for m, v in answer_scores(closed[i], q.answers).items()},
                      **{f"always_{m}": v for m, v in answer_scores(rag[i], q.answers).items()},
                      "closed answer": closed[i], "always answer": rag[i], "slim answer (if Unknown)": rag[n + i]})
    per_question = pd.DataFrame(table)
    unknown = ~per_question.known
    return SlimRun(pd.DataFrame(rows), traces, per_question, stages, facts(
        RUN_FORMATS, n_questions=n, threshold=tau, known_share=float(per_question.known.mean()),
        closed_correct=float(per_question.never_em.mean()),
        self_retrieve_share=float(np.mean(p_need >= cfg.self_judge_threshold)),
        mean_claims=float(np.mean([len(c) for c in claim_sets])),
        searched_claims=float(per_question["searched claims"].mean()),
        queries_unknown=float(per_question.slim_queries[unknown].mean()) if unknown.any() else 0.0,
        seconds=sum(stages.values())))


# -------------------------------------------------------------------------------------------- tables
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
    cell = [(fmt.get(k, "{:.2f}").format(m) + ("" if lo == hi else f" [{fmt.get(k, '{:.2f}').format(lo)}, "
                                               f"{fmt.get(k, '{:.2f}').format(hi)}]"))
            for k, m, lo, hi in zip(numbers.metric, numbers["mean"], numbers.low, numbers.high)]
    shown = numbers.assign(cell=cell).pivot(index="method", columns="metric", values="cell")
    return shown.loc[list(METHODS), list(METRICS)].rename(columns=METRICS), numbers


@dataclass
class MethodComparison:
    """The methods side by side: means with intervals over questions, and the means glued (``<metric>_<method>``:
    ``em_slimplm``, ``gold_always``, ``seconds_self`` …)."""

    table: Any  # "mean [low, high]" per method and metric
    numbers: Any  # the long numeric table
    means: pd.DataFrame = glued()  # rows metric (gold: gold passage shown), columns method (self: self-judgement)


MEAN_FORMATS = dict(em=".2f", recall=".2f", rougel=".2f", retrievals=".2f", llm_calls=".1f", proxy_calls=".1f",
                    seconds=".1f", gold=".0%")


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
    for key, label in (("SlimPLM", "SlimPLM, P(Known) threshold swept"),
                       ("self", "self-judgement, P(Yes) threshold swept")):
        part = sweep.sort_values(f"{key}_retrievals")
        ax.plot(part[f"{key}_retrievals"], part[f"{key}_{metric}"], ".-", ms=4, lw=1, alpha=0.7, label=label)
    point = numbers[numbers.metric.isin([metric, "retrievals"])].pivot(index="method", columns="metric", values="mean")
    for method, marker in zip(("never", "always", "self-judgement", "SlimPLM"), "osD*"):
        ax.plot(point.loc[method, "retrievals"], point.loc[method, metric], marker, ms=9 if marker == "*" else 7,
                label=f"{method} (operating point)")
    ax.set(xlabel="retrievals per question (queries sent to BM25)", ylabel=METRICS.get(metric, metric),
           title=f"Quality against retrieval ({run.n_questions} questions)")
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
    return Tradeoff(sweep, tradeoff_figure(run, sweep, comparison.numbers),
                    facts(dict(best_em_slimplm=".2f", best_em_retrievals=".2f"), slim_thresholds=points,
                          best_em_slimplm=float(best.SlimPLM_em), best_em_retrievals=float(best.SlimPLM_retrievals)))


def consistency_checks(run: SlimRun, retriever: DocumentSearch) -> list[tuple[str, bool, str]]:
    """In-chapter checks: no NeedSearch = False claim is searched; a Known question retrieves nothing; the
    queries the retriever received are those the methods count."""
    skipped = [(t, c) for t in run.traces for c in t.claims if not c.need_search]
    leaked = [c.text for t, c in skipped if c.text in t.queries]
    known_with_queries = [t.question.qid for t in run.traces if t.known and t.queries]
    sent = retriever.queries
    expected = run.n_questions + int(run.per_question.slim_queries.sum())
    return [("no NeedSearch=False claim is searched", not leaked,
             f"{len(skipped)} claims with NeedSearch=False, {len(leaked)} of them among the queries"),
            ("a Known question retrieves nothing", not known_with_queries,
             f"{sum(t.known for t in run.traces)} Known questions, {len(known_with_queries)} with queries"),
            ("queries counted = queries sent", sent == expected,
             f"{expected} queries planned (one per question for always-retrieve, the rest for SlimPLM's plans); "
             f"the retriever answered {sent}")]


def concordance(labels: Any, scores: Any) -> float:
    """Harrell's C of ``scores`` for ``labels``: over the pairs of units whose labels differ, the share whose
    scores are ordered as their labels (ties in the scores count half). For 0/1 labels it is the AUROC; for
    a continuous label, (Somers' D + 1) / 2. 0.5 when every label is equal (no order to judge: the value
    under the null).

    O(n log n) through Kendall's τ-b (scipy's merge sort): concordant − discordant pairs = τ-b · √((n₀ − n₁)(n₀ − n₂)),
    with n₀ all pairs and n₁, n₂ those tied in the labels, in the scores; C = ((concordant − discordant) /
    (n₀ − n₁) + 1) / 2. The bootstrap calls it once per resample, at paper scale on thousands of questions."""
    y, p = np.asarray(labels, dtype=float), np.asarray(scores, dtype=float)
    n0 = len(y) * (len(y) - 1) / 2
    untied = {name: n0 - float(sum(c * (c - 1) / 2 for c in np.unique(v, return_counts=True)[1]))
              for name, v in (("labels", y), ("scores", p))}
    if untied["labels"] == 0:
        return 0.5
    if untied["scores"] == 0:  # every score equal: no pair is ordered either way
        return 0.5
    tau = float(kendalltau(y, p, variant="b").statistic)
    return (tau * np.sqrt(untied["labels"] * untied["scores"]) / untied["labels"] + 1) / 2


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
    return JudgeQuality(facts(dict(concordance=".2f", label_mean=".2f", auroc=".2f", accuracy=".0%", majority=".0%",
                                   retrieve_share=".0%"),
                              concordance=concordance(label, p), label_mean=float(label.mean()),
                              auroc=concordance(y, p), accuracy=accuracy, majority=float(max(y.mean(), 1 - y.mean())),
                              n_known=int(y.sum()), n=len(y), retrieve_share=float((~pq.known).mean())))


def sample_traces(run: SlimRun, n: int = 3):
    """The first ``n`` questions through SlimPLM: heuristic answer, P(Known), claims with NeedSearch, queries."""
    rows = []
    for t in run.traces[:n]:
        claims_text = "; ".join(f"[{'search' if c.need_search else 'skip'} {c.p_known:.2f}] {c.text}" for c in t.claims)
        rows.append({"question": t.question.question, "gold": " | ".join(t.question.answers),
                     "heuristic answer": t.heuristic, "P(Known)": round(t.p_known, 2),
                     "decision": "Known: no retrieval" if t.known else f"Unknown: {len(t.queries)} queries",
                     "claims [NeedSearch, P(Known)]": claims_text or "—"})
    return pd.DataFrame(rows)


def answers_table(run: SlimRun, n: int = 4):
    """The first ``n`` questions' answers by every method, with EM."""
    rows = run.rows[run.rows.qid.isin([t.question.qid for t in run.traces[:n]])]
    out = rows.pivot(index="qid", columns="method", values="answer")[list(METHODS)]
    gold = {t.question.qid: " | ".join(t.question.answers) for t in run.traces}
    out.insert(0, "gold", [gold[q] for q in out.index])
    return out


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


def slimplm_tests(specs: Sequence[claims.ClaimSpec], run: SlimRun, cfg: SlimPLMConfig, *, scale: str = "",
                  seed: int = 0) -> list[claims.ClaimTest]:
    """The declared claims tested on the run (paired over the evaluation questions), guarded, Holm-adjusted.

    * ``judge_selects``: Harrell's C of P(Known) for the large model's closed-book log-probability of the
      gold answer per token (what the judge is trained to predict), a paired bootstrap of the questions;
      a label without spread: not comparable;
    * ``retrieves_where_needed``: :func:`selection_gain` of SlimPLM's decisions, bootstrapped; a judge that
      retrieves for every question or for none has not selected: not comparable;
    * ``vs_always``, ``vs_self``: non-inferiority of paired EM (Newcombe); ``vs_never``: McNemar; each not
      comparable at a floor (both methods right on at most ``cfg.floor_k`` questions); the two parity claims
      also when the judge retrieves for every question or for none (SlimPLM is then always- or never-retrieve:
      the method did not act, and parity would say nothing of its judge).
    """
    by = {s.key: s for s in specs}
    pq = run.per_question.set_index("qid").loc[[t.question.qid for t in run.traces]]
    n, boot = len(pq), claims.bootstrap_resamples(len(specs))
    correct = (pq.never_em.to_numpy() == 1).astype(int)
    retrieved = (~pq.known.to_numpy()).astype(int)
    gain = pq.slimrag_em.to_numpy(float) - pq.never_em.to_numpy(float)
    tests = []
    label, p_known = pq.closed_logprob.to_numpy(float), pq.p_known.to_numpy(float)
    t = claims.evaluate(by["judge_selects"], [label, p_known], statistic=lambda y, p: concordance(y, p) - 0.5,
                        n_resamples=boot, seed=seed, scale=scale,
                        this_run=f"C {concordance(label, p_known):.2f} for the closed-book log p(gold) per token "
                                 f"(mean {label.mean():.2f}); AUROC {concordance(correct, p_known):.2f} for the "
                                 f"{int(correct.sum())} of {n} questions answered right closed-book")
    tests.append(replace(t, verdict=claims.guard(t.verdict, bool(np.ptp(label) > 0),
                                                 "no variation in the large model's closed-book log p(gold)")))
    t = claims.evaluate(by["retrieves_where_needed"], [retrieved, gain], statistic=selection_gain, n_resamples=boot,
                        seed=seed, scale=scale,
                        this_run=f"retrieves for {retrieved.mean():.0%} of the questions; EM {_em(run, 'SlimPLM'):.2f} "
                                 f"against {_em(run, 'SlimPLM') - selection_gain(retrieved, gain):.2f} expected of a "
                                 "random choice")
    rate = float(retrieved.mean())
    selected = (f"the judge did not select: it retrieves for {rate:.0%} of the questions (the large model answers "
                f"{int(correct.sum())} of {n} right closed-book)")
    tests.append(replace(t, verdict=claims.guard(t.verdict, 0 < rate < 1, selected)))
    slim = _paired(run, "SlimPLM", "em")
    for key, rival in (("vs_always", "always"), ("vs_self", "self-judgement"), ("vs_never", "never")):
        other = _paired(run, rival, "em")
        t = claims.evaluate(by[key], slim, other, scale=scale,
                            this_run=f"EM {slim.mean():.2f} (SlimPLM) vs {other.mean():.2f} ({rival})")
        verdict = t.verdict
        if key != "vs_never":  # a judge that selects nothing makes SlimPLM always- (or never-) retrieve: its
            # parity with always retrieving or with the large model's own judgement then says nothing of the judge
            verdict = claims.guard_acted(verdict, 0 < rate < 1, selected)
        verdict = claims.guard_floor(verdict, [int(slim.sum()), int(other.sum())], n, k=cfg.floor_k, what="EM")
        tests.append(replace(t, verdict=verdict))
    return claims.holm_tests(tests)


def _em(run: SlimRun, method: str) -> float:
    return float(run.rows[run.rows.method == method].em.mean())


def cost_table(run: SlimRun):
    """What each method costs per question, as the paper counts it: calls of the large model, questions
    retrieved for, queries sent, proxy calls, and measured seconds (the proxy's share included)."""
    rows = []
    for method in METHODS:
        part = run.rows[run.rows.method == method]
        rows.append({"method": method, "large-model calls": part.llm_calls.mean(),
                     "questions retrieved for": float((part.retrievals > 0).mean()),
                     "queries": part.retrievals.mean(), "proxy calls": part.proxy_calls.mean(),
                     "seconds": part.seconds.mean()})
    return pd.DataFrame(rows).set_index("method")


def cost_facts(run: SlimRun) -> list[tuple[str, bool, str, str]]:
    """The costs the method fixes, as in-chapter checks (name, passed, detail, the paper's words)."""
    calls = run.rows.groupby("method").llm_calls.agg(["min", "max"])
    slim = run.rows[run.rows.method == "SlimPLM"]
    retrieved = int((slim.retrievals > 0).sum())
    return [("SlimPLM calls the large model once per question, self-judgement twice",
             bool(calls.loc["SlimPLM"].tolist() == [1, 1] and calls.loc["self-judgement"].tolist() == [2, 2]),
             f"large-model calls per question: SlimPLM {calls.loc['SlimPLM', 'max']}, self-judgement "
             f"{calls.loc['self-judgement', 'max']}, always {calls.loc['always', 'max']}",
             "“lower LLM inference costs” (abstract): the decision is the proxy's"),
            ("SlimPLM retrieves only for the questions its judge calls Unknown",
             bool(retrieved == int((~run.per_question.known).sum())),
             f"{retrieved} of {len(slim)} questions retrieved for (always retrieving: all {len(slim)})",
             "“We only conduct retrieval for the missing knowledge” (abstract)")]


def scale_text(cfg: SlimPLMConfig, run: SlimRun, judge_training: Any, proxy: Any, large: Any, corpus_size: int,
               profile: str) -> str:
    """The scale of this run in words, for the claims table."""
    return (f"{profile} profile: proxy {proxy.name}, large {large.name}; {run.n_questions} evaluation and "
            f"{judge_training.facts.n_train} training questions (SQuAD v1.1 dev, split by article); BM25 over "
            f"{corpus_size:,} passages, top {cfg.top_k}; at most {cfg.answer_max_new_tokens} new tokens, greedy")


def paper_vs_run(tests: Sequence[claims.ClaimTest]):
    """The paper's words beside this run's numbers and verdict, one row per claim."""
    return pd.DataFrame([{"claim": t.spec.claim.split(":")[0], "paper": t.spec.paper, "this run": t.this_run or "—",
                          "verdict": str(t.verdict)} for t in tests]).set_index("claim")
