"""Tables, figures and verdicts of the DomainRAG chapter.

Explained in `notebooks/rag/domainrag.ipynb`.

Every interval here is over *questions*: a percentile bootstrap of the questions a cell averages (the
units that vary); the reader's greedy decoding is deterministic, so there is no seed variation to add.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import claims
from ..checks import ParameterError
from ..results import glued
from .domainrag import Question
from .experiment import PRIMARY_METRIC
from .metrics import hit_at_k, recall_at_k, reciprocal_rank
from .retrievers import Retriever, RetrieverStats

METRIC_NAMES = {"em": "EM", "ems": "EMS", "f1": "F1", "f1_official": "F1 (official)", "rouge1": "ROUGE-1",
                "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "cf_em": "EM vs counterfactual answer"}


def _frame(rows):
    import pandas as pd

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
    n_questions: int = glued("d")
    corpus_size: int = glued(",d")
    ks: tuple[int, ...] = ()


def retrieval_evaluation(questions: Sequence[Question], retrievers: dict[str, Retriever], *,
                         ks: Sequence[int] = (1, 3, 5, 20), shipped: Sequence[str] = ("bm25", "dense"),
                         n_boot: int = 1000, seed: int = 0) -> RetrievalResult:
    """Rank every question's query with each retriever and score the golden passages' ranks.

    recall@k: the share of a question's golden passages in the top k (one golden passage: found or not);
    MRR: the mean reciprocal rank of the first golden passage within the top ``max(ks)``. The shipped lists
    are the paper's top-20, retrieved from the full 14,406-passage corpus; golden passages are matched by
    text (whitespace ignored), as every passage of the pool is.
    """
    import pandas as pd

    if not questions:
        raise ParameterError("questions", questions, "at least one question")
    depth = max(ks)
    rankings: dict[str, list[list[str]]] = {}
    for name, r in retrievers.items():
        rankings[f"{_label(name)} (this library)"] = r.search_ids([q.query for q in questions], depth)
    for name in shipped:
        rankings[f"{_label(name)} (shipped lists, paper)"] = [[p.id for p in q.shipped[name]][:depth] for q in questions]
    per_query = []
    for method, ranked in rankings.items():
        for q, ids in zip(questions, ranked):
            row = {"method": method, "qid": q.qid, "ability": q.ability,
                   "rr": reciprocal_rank(ids, q.golden_ids)}
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
    return RetrievalResult(pd.DataFrame(rows).set_index("method"), per_query, costs, len(questions),
                           len(corpus) if corpus is not None else 0, tuple(ks))


def _label(name: str) -> str:
    return "BM25" if name == "bm25" else name


def _cost_row(s: RetrieverStats) -> dict[str, Any]:
    return {"retriever": s.name, "passages": s.passages, "index seconds": s.index_seconds,
            "index from cache": s.from_cache, "queries": s.queries, "ms per query": s.ms_per_query}


# --------------------------------------------------------------------------------------------- answers
def ability_table(rows, *, metrics: Sequence[str] = ("em", "f1", "rougeL"), n_boot: int = 1000, seed: int = 0,
                  order: Sequence[str] | None = None):
    """Mean of each metric per (ability, setting) with its bootstrap interval over questions.

    Returns ``(shown, numbers)``: a table of "mean [low, high]" strings, and the long numeric table.
    """
    import pandas as pd

    frame = _frame(rows)
    numbers = []
    for (ability, setting), part in frame.groupby(["ability", "setting"], sort=False):
        for metric in metrics:
            m, lo, hi = mean_interval(part[metric], n_boot=n_boot, seed=seed)
            numbers.append({"ability": ability, "setting": setting, "metric": metric, "mean": m, "low": lo,
                            "high": hi, "questions": len(part)})
    numbers = pd.DataFrame(numbers)
    shown = numbers.assign(cell=[f"{m:.2f} [{lo:.2f}, {hi:.2f}]" for m, lo, hi in
                                 zip(numbers["mean"], numbers["low"], numbers["high"])])
    shown = shown.pivot_table(index=["ability", "setting"], columns="metric", values="cell", aggfunc="first", sort=False)
    shown = shown[list(metrics)].rename(columns=METRIC_NAMES)
    counts = numbers.groupby(["ability", "setting"], sort=False)["questions"].first()
    shown.insert(0, "questions", counts)
    if order is not None:
        shown = shown.reindex([i for i in shown.index if i[0] in order], level=0)
    return shown, numbers


def paired(rows, ability: str | Sequence[str], setting_a: str, setting_b: str, metric: str):
    """The per-question values of ``metric`` in two settings, paired by question (only questions in both)."""
    frame = _frame(rows)
    abilities = [ability] if isinstance(ability, str) else list(ability)
    part = frame[frame.ability.isin(abilities)]
    a = part[part.setting == setting_a].set_index("qid")[metric]
    b = part[part.setting == setting_b].set_index("qid")[metric]
    common = [q for q in a.index if q in b.index]
    return a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)


def primary_scores(rows, setting: str, abilities: Sequence[str]):
    """Each question's primary metric (EM for short answers, ROUGE-L for conversations and multi-document
    answers: the metrics the official evaluator reports for them) in ``setting``, keyed by question id."""
    frame = _frame(rows)
    out = {}
    for ability in abilities:
        part = frame[(frame.ability == ability) & (frame.setting == setting)]
        for qid, value in zip(part.qid, part[PRIMARY_METRIC[ability]]):
            out[(ability, qid)] = float(value)
    return out


def unpaired_bootstrap(a: Sequence[float], b: Sequence[float], *, n_boot: int = 1000, seed: int = 0) -> dict[str, float]:
    """mean(a) − mean(b) for two independent samples (different questions), bootstrapped within each.

    Returns the dict :func:`reprobook.claims.bootstrap_superiority` takes: ``improvement``, its 95%
    interval ``low``/``high``, and ``p_better``, the share of rounds where a was not larger.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        raise ParameterError("a", f"{len(a)} and {len(b)} values", "at least two values in each sample")
    rng = np.random.default_rng(seed)
    diffs = np.array([a[rng.integers(0, len(a), len(a))].mean() - b[rng.integers(0, len(b), len(b))].mean()
                      for _ in range(n_boot)])
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return {"improvement": float(a.mean() - b.mean()), "low": float(lo), "high": float(hi),
            "p_better": float(np.mean(diffs <= 0))}


# --------------------------------------------------------------------------------------------- claims
@dataclass
class ClaimTest:
    """One claim of the paper, the verdict this run's numbers give, and the numbers shown beside it."""

    key: str
    claim: str
    verdict: Any  # claims.Verdict
    this_run: str
    paper: str
    operationalised: str  # how the claim is turned into a test here
    extra: dict[str, Any] = field(default_factory=dict)


SHORT = ("extractive", "time_sensitive", "structural", "faithful")


def domainrag_claims(rows, *, hardness_metric: str = "f1", noise_settings: Sequence[str] = (),
                     retrieved_setting: str = "bm25@1", alpha: float = 0.05, n_boot: int = 1000,
                     seed: int = 0) -> list[ClaimTest]:
    """The paper's claims, each tested by a rule of :mod:`reprobook.claims` on this run's rows.

    1. closed-book fails: the share of short-answer questions (extractive, time-sensitive, structural,
       faithful) answered wrongly without references (EM < 1) is above one half (exact binomial test);
    2. RAG helps: each question's primary metric with golden references beats its closed-book value
       (paired one-sided t-test over questions, every ability pooled);
    3. retrieval helps: ``retrieved_setting`` beats closed book on the extractive and time-sensitive
       questions (paired, EM);
    4. conversation is hard / 5. multi-document is hard: with golden references, ``hardness_metric`` on
       these questions is lower than on extractive questions (unpaired bootstrap over questions);
    6. structure is hard: the HTML page gives a lower EM than its text on the same questions (paired);
    7. noise is hard: the golden reference among noise (EM averaged over ``noise_settings``, e.g. the
       positions of the largest noise count) gives a lower EM than alone (paired, extractive questions);
    8. faithfulness is hard: given the counterfactual reference, the answer matches the counterfactual
       answer (cf-EM) less often than it matches the true answer given the true reference (paired).

    The paired and bootstrap tests are Holm-adjusted together.
    """
    frame = _frame(rows)
    tests: list[ClaimTest] = []

    def have(ability: str, *settings: str) -> bool:
        part = frame[frame.ability == ability]
        return all((part.setting == s).sum() >= 1 for s in settings)

    # 1. closed-book fails
    closed = frame[(frame.setting == "closed") & frame.ability.isin(SHORT)]
    wrong = int((closed.em < 1).sum())
    v = claims.rate_above(wrong, len(closed), threshold=0.5, alpha=alpha, unit="questions") if len(closed) else \
        claims.not_comparable("no closed-book short-answer question in this run")
    tests.append(ClaimTest("closed_fails", "Closed-book LLMs fail on domain-specific questions", v,
                           f"{wrong} of {len(closed)} short-answer questions wrong without references"
                           + (f" (mean EM {closed.em.mean():.2f})" if len(closed) else ""),
                           "existing closed-book LLMs struggle with domain-specific questions (abstract)",
                           "share of wrong closed-book answers (EM < 1) > 1/2"))

    # 2. RAG (golden references) helps
    abilities = [a for a in PRIMARY_METRIC if a != "noise" and have(a, "closed", "golden")]
    g, c = primary_scores(frame, "golden", abilities), primary_scores(frame, "closed", abilities)
    keys = [k for k in g if k in c]
    v = claims.superiority([g[k] for k in keys], [c[k] for k in keys], alpha=alpha, unit="questions")
    tests.append(ClaimTest("rag_helps", "RAG with golden references beats closed book", v,
                           _diff_text(v, "primary metric"), "external knowledge is needed to solve expert problems (abstract)",
                           "golden − closed, primary metric per question, all abilities"))

    # 3. retrieval helps
    a_vals, b_vals = [], []
    for ability in ("extractive", "time_sensitive"):
        if have(ability, retrieved_setting, "closed"):
            a_, b_ = paired(frame, ability, retrieved_setting, "closed", "em")
            a_vals += list(a_)
            b_vals += list(b_)
    v = claims.superiority(a_vals, b_vals, alpha=alpha, unit="questions") if a_vals else \
        claims.not_comparable(f"no {retrieved_setting} answers in this run")
    tests.append(ClaimTest("retrieval_helps", f"RAG with retrieved references ({retrieved_setting}) beats closed book",
                           v, _diff_text(v, "EM"), "RAG models are needed to solve expert problems (abstract)",
                           f"{retrieved_setting} − closed, EM per question, extractive and time-sensitive"))

    # 4, 5. conversation and multi-document are hard (relative to plain extractive reading)
    base = frame[(frame.ability == "extractive") & (frame.setting == "golden")][hardness_metric].to_numpy(float)
    for key, ability, label, paper in (
            ("conversation_hard", "conversational", "Conversational history is hard to use",
             "room to improve in comprehending conversational history (abstract)"),
            ("multidoc_hard", "multi_document", "Combining several documents is hard",
             "room to improve in processing multi-document interactions (abstract)")):
        vals = frame[(frame.ability == ability) & (frame.setting == "golden")][hardness_metric].to_numpy(float)
        if len(vals) >= 2 and len(base) >= 2:
            boot = unpaired_bootstrap(base, vals, n_boot=n_boot, seed=seed)
            v = claims.bootstrap_superiority(boot, alpha=alpha, covers=f"{len(base)} + {len(vals)} questions, "
                                             f"{n_boot} bootstrap rounds")
            v = v.replace(n=len(base) + len(vals),
                          rule=f"unpaired bootstrap over questions (two different question sets), difference > 0 "
                               f"with p < {alpha:g}")
            text = (f"{METRIC_NAMES[hardness_metric]} with golden references: {vals.mean():.2f} vs {base.mean():.2f} "
                    f"on extractive questions (difference {boot['improvement']:+.2f} [{boot['low']:+.2f}, {boot['high']:+.2f}])")
        else:
            v, text = claims.not_comparable("too few questions in this run"), "—"
        tests.append(ClaimTest(key, label, v, text, paper,
                               f"extractive − {ability}, golden references, {METRIC_NAMES[hardness_metric]} "
                               "(different questions: unpaired bootstrap)"))

    # 6. structure is hard: the HTML page vs its text
    tests.append(_paired_claim(frame, "structure_hard", "Structural (HTML) information is hard to use",
                               "structural", "golden", "html", "em", alpha,
                               "room to improve in analysing structural information (abstract)",
                               "text − HTML of the same page, EM per question"))
    # 7. noise is hard: per question, EM among noise averaged over the given settings (positions)
    noise_settings = list(noise_settings)
    if noise_settings and have("noise", "golden", *noise_settings):
        part = frame[frame.ability == "noise"]
        alone = part[part.setting == "golden"].set_index("qid")["em"]
        noisy = part[part.setting.isin(noise_settings)].groupby("qid")["em"].mean()
        common = [q for q in alone.index if q in noisy.index]
        a, b = alone.loc[common].to_numpy(float), noisy.loc[common].to_numpy(float)
        v = claims.superiority(a, b, alpha=alpha, unit="questions")
        text = f"EM {a.mean():.2f} alone vs {b.mean():.2f} among noise; " + _diff_text(v, "EM")
    else:
        v, text = claims.not_comparable("no noise settings in this run"), "—"
    tests.append(ClaimTest("noise_hard", "Noisy references (irrelevant passages) hurt", v, text,
                           "room to improve in denoising (abstract)",
                           f"golden alone − golden among noise ({', '.join(noise_settings) or 'none'}), EM per question"))
    # 8. faithfulness is hard
    if have("faithful", "golden", "counterfactual"):
        a, _ = paired(frame, "faithful", "golden", "counterfactual", "em")
        _, b = paired(frame, "faithful", "golden", "counterfactual", "cf_em")
        v = claims.superiority(a, b, alpha=alpha, unit="questions")
        text = (f"EM {a.mean():.2f} with the true reference vs {b.mean():.2f} agreement with the counterfactual "
                f"answer given the counterfactual reference ({len(a)} questions)")
    else:
        v, text = claims.not_comparable("no counterfactual answers in this run"), "—"
    tests.append(ClaimTest("faithful_hard", "Following counterfactual references is hard (faithfulness)", v, text,
                           "room to improve in faithfulness to expert knowledge (abstract)",
                           "EM(true answer | true reference) − EM(counterfactual answer | counterfactual reference)"))

    adjusted = claims.holm({t.key: t.verdict for t in tests if t.key != "closed_fails"}, alpha=alpha)
    for t in tests:
        if t.key in adjusted:
            t.verdict = adjusted[t.key]
    return tests


def _diff_text(v: Any, metric: str) -> str:
    if v.estimate is None:
        return "—"
    if v.low is None or v.p is None:  # too few questions for a test
        return f"{metric} difference {v.estimate:+.2f} over {v.n} question(s)"
    return f"{metric} difference {v.estimate:+.2f} [{v.low:+.2f}, {v.high:+.2f}] over {v.n} questions (p = {v.p:.3f})"


def _paired_claim(frame, key, claim, ability, setting_a, setting_b, metric, alpha, paper, how) -> ClaimTest:
    a, b = paired(frame, ability, setting_a, setting_b, metric) if not frame.empty else ([], [])
    if len(a) == 0:
        return ClaimTest(key, claim, claims.not_comparable(f"no {ability} {setting_b} answers in this run"), "—", paper, how)
    v = claims.superiority(a, b, alpha=alpha, unit="questions")
    text = f"{METRIC_NAMES[metric]} {np.mean(a):.2f} ({setting_a}) vs {np.mean(b):.2f} ({setting_b}); " + _diff_text(v, METRIC_NAMES[metric])
    return ClaimTest(key, claim, v, text, paper, how)


# --------------------------------------------------------------------------------------------- chapter views
ABILITY_LABELS = {"extractive": "extractive", "conversational": "conversational", "structural": "structural (HTML)",
                  "faithful": "faithful (counterfactual)", "time_sensitive": "time-sensitive",
                  "multi_document": "multi-document", "noise": "noise robustness (rebuilt)"}


def data_overview(data: Any):
    """One row per ability: questions, golden passages per question, shipped lists, an example."""
    import pandas as pd

    from .domainrag import ABILITIES, FILES

    rows = []
    for ability in ABILITIES:
        qs = data[ability]
        q = qs[0]
        rows.append({"ability": ability, "questions": len(qs), "file": FILES[ability],
                     "golden passages per question": float(np.mean([len(x.golden) for x in qs])),
                     "shipped top-20 lists": "BM25, dense" if q.shipped else "—",
                     "example question": q.prompt_question(),
                     "example answer": str(q.answers)[:60]})
    return pd.DataFrame(rows).set_index("ability")


def metric_examples():
    """Worked examples of every answer metric (the official rules and the token-level F1)."""
    import pandas as pd

    from .metrics import score_answer

    cases = [("林尚立", [["林尚立"]], "exact answer"),
             ("中国人民大学的校长是林尚立。", [["林尚立"]], "verbose but right: EM counts containment"),
             ("汉语和法语", [["汉语", "法语", "英语"]], "two of three parts"),
             ("招生人数为80人", ["80人", "80"], "alternatives: the best one counts"),
             ("a b", "a c", "the official F1 counts the spaces")]
    rows = []
    for pred, golds, note in cases:
        s = score_answer(pred, golds)
        rows.append({"prediction": pred, "gold": str(golds), "EM": s["em"], "EMS": s["ems"], "F1 (tokens)": s["f1"],
                     "F1 (official)": s["f1_official"], "ROUGE-L": s["rougeL"], "note": note})
    return pd.DataFrame(rows)


@dataclass
class ReaderContrast:
    """The same golden-reference prompts answered by several readers, and how each tokenizer cuts Chinese."""

    table: Any
    tokens_per_char: dict[str, float]
    em: dict[str, float]
    note: str = glued()


def reader_contrast(answered, main_reader: Any, others: dict[str, Any], questions: Sequence[Question], *,
                    max_new_tokens: int = 24, max_prompt_tokens: int | None = None) -> ReaderContrast:
    """The main reader's golden-reference answers (taken from ``answered``, the main run's rows) beside
    the answers of ``others`` to the same prompts; and each tokenizer's tokens per character of the golden
    passages (many tokens per character: a tokenizer, and a model, that saw little Chinese)."""
    import pandas as pd

    from .experiment import build_items, read, score_items

    frame = _frame(answered)
    main = frame[(frame.ability == "extractive") & (frame.setting == "golden")].set_index("qid")
    name = getattr(main_reader, "name", "reader")
    table = pd.DataFrame({"question": [q.question for q in questions], "gold": [str(q.answers) for q in questions],
                          name: [main.loc[q.qid, "prediction"] for q in questions],
                          f"{name} EM": [float(main.loc[q.qid, "em"]) for q in questions]})
    em = {name: float(table[f"{name} EM"].mean())}
    text = "".join(p.text for q in questions for p in q.golden)
    per_char = {name: len(main_reader.tokenizer(text, add_special_tokens=False)["input_ids"]) / max(len(text), 1)}
    for other, lm in others.items():
        items = build_items(questions, "golden")
        read(lm, items, max_new_tokens=max_new_tokens, max_prompt_tokens=max_prompt_tokens, batch_size=len(items))
        scores = score_items(items)
        table[other] = [it.prediction for it in items]
        table[f"{other} EM"] = [s["em"] for s in scores]
        em[other] = float(np.mean([s["em"] for s in scores]))
        per_char[other] = len(lm.tokenizer(text, add_special_tokens=False)["input_ids"]) / max(len(text), 1)
    note = "; ".join(f"{n}: {v:.2f} tokens per character, mean EM {em[n]:.2f}" for n, v in per_char.items())
    return ReaderContrast(table, per_char, em, note)


def ability_figure(numbers, *, metric: str = "f1", order: Sequence[str] | None = None):
    """Small multiples: per ability, the mean of ``metric`` in each setting with its interval over questions."""
    import matplotlib.pyplot as plt

    part = numbers[numbers.metric == metric]
    abilities = [a for a in (order or part.ability.unique()) if a in set(part.ability)]
    cols = 4
    rows_n = int(np.ceil(len(abilities) / cols))
    fig, axes = plt.subplots(rows_n, cols, figsize=(11, 2.6 * rows_n), sharey=True, squeeze=False)
    for ax, ability in zip(axes.flat, abilities):
        sub = part[part.ability == ability]
        x = np.arange(len(sub))
        ax.errorbar(x, sub["mean"], yerr=[sub["mean"] - sub["low"], sub["high"] - sub["mean"]], fmt="o", capsize=3)
        ax.set_xticks(x, sub.setting, rotation=45, ha="right", fontsize=8)
        ax.set_title(ABILITY_LABELS.get(ability, ability), fontsize=9)
        ax.set_ylim(-0.05, 1.05)
    for ax in list(axes.flat)[len(abilities):]:
        ax.axis("off")
    axes[0, 0].set_ylabel(METRIC_NAMES[metric])
    fig.tight_layout()
    return fig


def retrieval_figure(result: RetrievalResult):
    """Recall@k against k for each method (this library's retrievers and the shipped lists)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for method, row in result.table.iterrows():
        ax.plot(result.ks, [row[f"recall@{k}"] for k in result.ks], "o-", label=method)
    ax.set(xscale="log", xlabel="k (passages given to the reader)", ylabel="recall@k of the golden passage",
           ylim=(0, 1.02), title="Retrieval of the golden passage")
    ax.set_xticks(result.ks, [str(k) for k in result.ks])
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def setting_means(rows, label: str, metrics: Sequence[str] = ("em", "f1")):
    """Mean metrics per setting for one label (e.g. the noise experiment), with the question count."""
    frame = _frame(rows)
    part = frame[frame.ability == label]
    out = part.groupby("setting", sort=False)[list(metrics)].mean()
    out.insert(0, "questions", part.groupby("setting", sort=False).size())
    return out.rename(columns=METRIC_NAMES)


def faithfulness_table(rows):
    """Faithful questions: how often the answer matches the true and the counterfactual answers, per reference."""
    frame = _frame(rows)
    part = frame[frame.ability == "faithful"]
    if part.empty:
        return part
    out = part.groupby("setting", sort=False)[["em", "cf_em"]].mean()
    out.insert(0, "questions", part.groupby("setting", sort=False).size())
    return out.rename(columns={"em": "EM vs true answer", "cf_em": "EM vs counterfactual answer"})


def claims_frame(tests: Sequence[ClaimTest]):
    """The claims with their rule, this run's numbers and verdict (before the record's own table)."""
    import pandas as pd

    return pd.DataFrame([{"claim": t.claim, "test here": t.operationalised, "this run": t.this_run,
                          "verdict": str(t.verdict)} for t in tests]).set_index("claim")


def largest_noise_settings(cfg: Any) -> list[str]:
    """The noise settings of the largest noise count, every position (the noise claim averages over them)."""
    if not cfg.noise_counts:
        return []
    n = max(cfg.noise_counts)
    return [f"noise{n}@{p}" for p in cfg.noise_positions]


def retrieval_highlights(result: RetrievalResult) -> dict[str, float]:
    """recall@1 and MRR of each method under short glue names (``rag_r1_bm25``, ``rag_mrr_shipped_dense``, ...)."""
    out = {}
    for method, row in result.table.iterrows():
        kind = "bm25" if method.startswith("BM25") else "dense"
        key = f"shipped_{kind}" if "shipped" in method else kind
        out[f"rag_r1_{key}"] = float(row[f"recall@{result.ks[0]}"])
        out[f"rag_mrr_{key}"] = float(row["MRR"])
    return out


def retrieval_ordering(result: RetrievalResult) -> str:
    """A sentence on which retriever ranks the golden passage better, here and in the shipped lists (MRR)."""
    h = retrieval_highlights(result)

    def order(a: str, b: str, where: str) -> str:
        if abs(h[f"rag_mrr_{a}"] - h[f"rag_mrr_{b}"]) < 1e-9:
            return f"{where}, BM25 and dense retrieval tie (MRR {h[f'rag_mrr_{a}']:.2f})"
        better = "BM25" if h[f"rag_mrr_{a}"] > h[f"rag_mrr_{b}"] else "dense retrieval"
        return f"{where}, {better} ranks the golden passage higher (MRR {h[f'rag_mrr_{a}']:.2f} vs {h[f'rag_mrr_{b}']:.2f})"

    return order("bm25", "dense", "Over this run's corpus") + "; " + order(
        "shipped_bm25", "shipped_dense", "in the shipped lists") + " (BM25 first in each pair)"


def sample_answers(rows, n: int = 2, setting: str = "golden"):
    """The first ``n`` answers of each ability in ``setting``: the question id, the gold, the prediction, EM and F1."""
    frame = _frame(rows)
    part = frame[frame.setting == setting].groupby("ability", sort=False).head(n)
    out = part[["ability", "qid", "gold", "prediction", "em", "f1"]].copy()
    out["prediction"] = [p if len(p) <= 80 else p[:80] + "…" for p in out.prediction]
    return out.set_index(["ability", "qid"]).round(2)


def scale_text(cfg: Any, run: Any, retrieval: RetrievalResult, profile: str) -> str:
    """The scale of this run in words, for the claims table."""
    return (f"{profile} profile: reader {run.reader}; questions per ability {run.questions_per_ability}; "
            f"retrieval over {retrieval.corpus_size} passages for {retrieval.n_questions} questions; "
            f"at most {cfg.max_new_tokens}/{cfg.max_new_tokens_long} new tokens, greedy")


def headline(rows) -> dict[str, float]:
    """Token F1 and EM pooled over every ability (noise left out), with golden references and closed-book."""
    frame = _frame(rows)
    part = frame[frame.ability != "noise"]
    out = {}
    for setting in ("golden", "closed"):
        sub = part[part.setting == setting]
        out[f"rag_f1_{setting}"] = float(sub.f1.mean()) if len(sub) else float("nan")
        out[f"rag_em_{setting}"] = float(sub.em.mean()) if len(sub) else float("nan")
    return out
