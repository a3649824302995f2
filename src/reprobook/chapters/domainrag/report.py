"""The DomainRAG chapter's report: data and metric examples, tables, sample answers, paper vs run (the figures
are in :mod:`.figures`).

Explained in `notebooks/rag/domainrag.ipynb`; the measurements and the claim tests are in :mod:`.analysis`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ... import claims
from ...configs.domainrag import DomainRAGConfig
from ...rag.domainrag import ABILITIES, FILES, Question, contains_gold
from ...rag.metrics import score_answer
from ...results import facts, glued
from .analysis import METRIC_NAMES, RetrievalResult, _frame, mean_interval
from .experiment import build_items, read, score_items

ABILITY_LABELS = {
    "extractive": "extractive",
    "conversational": "conversational",
    "structural": "structural (HTML)",
    "faithful": "faithful (counterfactual)",
    "time_sensitive": "time-sensitive",
    "multi_document": "multi-document",
    "noise": "noise robustness (official file)",
}


def ability_table(
    rows,
    *,
    metrics: Sequence[str] = ("em", "f1", "rougeL"),
    n_boot: int = 1000,
    seed: int = 0,
    order: Sequence[str] | None = None,
):
    """Mean of each metric per (ability, setting) with its bootstrap interval over questions.

    Returns ``(shown, numbers)``: a table of "mean [low, high]" strings, and the long numeric table.
    """
    frame = _frame(rows)
    numbers = []
    for (ability, setting), part in frame.groupby(["ability", "setting"], sort=False):
        for metric in metrics:
            m, lo, hi = mean_interval(part[metric], n_boot=n_boot, seed=seed)
            numbers.append(
                {
                    "ability": ability,
                    "setting": setting,
                    "metric": metric,
                    "mean": m,
                    "low": lo,
                    "high": hi,
                    "questions": len(part),
                }
            )
    numbers = pd.DataFrame(numbers)
    shown = numbers.assign(
        cell=[f"{m:.2f} [{lo:.2f}, {hi:.2f}]" for m, lo, hi in zip(numbers["mean"], numbers["low"], numbers["high"])]
    )
    shown = shown.pivot_table(
        index=["ability", "setting"], columns="metric", values="cell", aggfunc="first", sort=False
    )
    shown = shown[list(metrics)].rename(columns=METRIC_NAMES)
    counts = numbers.groupby(["ability", "setting"], sort=False)["questions"].first()
    shown.insert(0, "questions", counts)
    if order is not None:
        shown = shown.reindex([i for i in shown.index if i[0] in order], level=0)
    return shown, numbers


def likelihood_table(lik):
    """Mean ℓ (nats per gold-answer token) per label and setting with its 95 % t-interval over questions, the
    share of prompts the context guard cut and the share that still contain the gold answer."""
    rows = getattr(lik, "rows", lik)
    out = []
    for (label, setting), part in rows.groupby(["label", "setting"], sort=False):
        m, lo, hi = claims.mean_ci(part.gold) if len(part) > 1 else (float(part.gold.mean()),) * 3
        out.append(
            {
                "ability": ABILITY_LABELS.get(label, label),
                "setting": setting,
                "questions": len(part),
                "ℓ (nats/token)": f"{m:.2f} [{lo:.2f}, {hi:.2f}]",
                "prompt tokens": int(part.prompt_tokens.median()),
                "cut": float(part.truncated.mean()),
                "answer in prompt": float(part.answer_in_prompt.mean()),
            }
        )
    return pd.DataFrame(out).set_index(["ability", "setting"])


@dataclass
class ContextFacts:
    """What the context guard and the data did to the claims' prompts (for the deviations): the facts budget;
    multidoc_cut of multidoc_n all-references prompts the guard cut, multidoc_later_cut of them losing a whole
    later golden passage; noise_cut of noise_n noisy prompts the guard cut (noise passages shortened; the golden
    one is first), noise_gold_lost whose gold answer it cut away; noise_with_gold of noise_passages official noise
    passages that contain a gold answer part; html_answer, text_answer: structural prompts that contain the
    answer, HTML and text view."""

    facts: pd.Series = glued()


def context_facts(lik, noise_questions: Sequence[Question], budget: Any) -> ContextFacts:
    """:class:`ContextFacts` from the likelihood rows and the official noise questions."""
    rows = getattr(lik, "rows", lik)
    md = rows[(rows.label == "multi_document") & (rows.setting == "golden")]
    later = md[md.truncated & (md.references > 1)]
    noisy = rows[(rows.label == "noise") & rows.setting.str.startswith("noise")]
    st = rows[rows.label == "structural"]
    with_gold = sum(contains_gold(p.text, q.answers) for q in noise_questions for p in q.noise)
    html, text = (
        float(st[st.setting == v].answer_in_prompt.mean()) if len(st) else float("nan") for v in ("html", "golden")
    )
    return ContextFacts(
        facts(
            dict(html_answer=".0%", text_answer=".0%"),
            budget=str(budget),
            multidoc_cut=int(md.truncated.sum()),
            multidoc_later_cut=len(later),
            multidoc_n=len(md),
            noise_cut=int(noisy.truncated.sum()),
            noise_gold_lost=int((~noisy.answer_in_prompt).sum()),
            noise_n=len(noisy),
            noise_with_gold=with_gold,
            noise_passages=sum(len(q.noise) for q in noise_questions),
            html_answer=html,
            text_answer=text,
        )
    )


def data_overview(data: Any):
    """One row per ability: questions, golden passages per question, shipped lists, an example."""
    rows = []
    for ability in ABILITIES:
        qs = data[ability]
        q = qs[0]
        rows.append(
            {
                "ability": ability,
                "questions": len(qs),
                "file": FILES[ability],
                "golden passages per question": float(np.mean([len(x.golden) for x in qs])),
                "shipped top-20 lists": "BM25, dense" if q.shipped else "—",
                "example question": q.prompt_question(),
                "example answer": str(q.answers)[:60],
            }
        )
    return pd.DataFrame(rows).set_index("ability")


def metric_examples():
    """Worked examples of every answer metric (the official rules and the token-level F1)."""
    cases = [
        ("林尚立", [["林尚立"]], "exact answer"),
        ("中国人民大学的校长是林尚立。", [["林尚立"]], "verbose but right: EM counts containment"),
        ("汉语和法语", [["汉语", "法语", "英语"]], "two of three parts"),
        ("招生人数为80人", ["80人", "80"], "alternatives: the best one counts"),
        ("a b", "a c", "the official F1 counts the spaces"),
    ]
    rows = []
    for pred, golds, note in cases:
        s = score_answer(pred, golds)
        rows.append(
            {
                "prediction": pred,
                "gold": str(golds),
                "EM": s["em"],
                "EMS": s["ems"],
                "F1 (tokens)": s["f1"],
                "F1 (official)": s["f1_official"],
                "ROUGE-L": s["rougeL"],
                "note": note,
            }
        )
    return pd.DataFrame(rows)


@dataclass
class ReaderContrast:
    """The same golden-reference prompts answered by several readers, and how each tokenizer cuts Chinese."""

    table: Any
    tokens_per_char: dict[str, float]
    em: dict[str, float]
    note: str = glued()


def reader_contrast(
    answered,
    main_reader: Any,
    others: dict[str, Any],
    questions: Sequence[Question],
    *,
    max_new_tokens: int = 24,
    max_prompt_tokens: int | None = None,
) -> ReaderContrast:
    """The main reader's golden-reference answers (taken from ``answered``, the main run's rows) beside
    the answers of ``others`` to the same prompts; and each tokenizer's tokens per character of the golden
    passages (many tokens per character: a tokenizer, and a model, that saw little Chinese)."""
    frame = _frame(answered)
    main = frame[(frame.ability == "extractive") & (frame.setting == "golden")].set_index("qid")
    name = getattr(main_reader, "name", "reader")
    table = pd.DataFrame(
        {
            "question": [q.question for q in questions],
            "gold": [str(q.answers) for q in questions],
            name: [main.loc[q.qid, "prediction"] for q in questions],
            f"{name} EM": [float(main.loc[q.qid, "em"]) for q in questions],
        }
    )
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
        return (
            f"{where}, {better} ranks the golden passage higher (MRR {h[f'rag_mrr_{a}']:.2f} "
            f"vs {h[f'rag_mrr_{b}']:.2f})"
        )

    return (
        order("bm25", "dense", "Over this run's corpus")
        + "; "
        + order("shipped_bm25", "shipped_dense", "in the shipped lists")
        + " (BM25 first in each pair)"
    )


def sample_answers(rows, n: int = 2, setting: str = "golden"):
    """The first ``n`` answers of each ability in ``setting``: the question id, the gold, the prediction, EM and F1."""
    frame = _frame(rows)
    part = frame[frame.setting == setting].groupby("ability", sort=False).head(n)
    out = part[["ability", "qid", "gold", "prediction", "em", "f1"]].copy()
    out["prediction"] = [p if len(p) <= 80 else p[:80] + "…" for p in out.prediction]
    return out.set_index(["ability", "qid"]).round(2)


def scale_text(cfg: DomainRAGConfig, run: Any, retrieval: RetrievalResult, profile: str, lik: Any = None) -> str:
    """The scale of this run in words, for the claims table."""
    scored = (
        (f"likelihood over {lik.facts.questions} questions per ability (budget {cfg.lik_max_prompt_tokens} tokens); ")
        if lik is not None
        else ""
    )
    return (
        f"{profile} profile: reader {run.facts.reader}; {scored}generated answers for "
        f"{run.facts.questions_per_ability} questions per ability (at most {cfg.max_new_tokens}/"
        f"{cfg.max_new_tokens_long} new tokens, greedy); retrieval over {retrieval.facts.corpus_size} passages "
        f"for {retrieval.facts.n_questions} questions"
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


def precision_note(recorded: Sequence[Any]) -> str:
    """What the ``llm-throughput`` measurements kept in ``book/measurements`` (:func:`reprobook.benchmarks.
    recorded`) say of scoring in another precision: per machine, the pairs per second against the first
    precision's and the largest change of a pair's log-probability."""
    parts = []
    for r in recorded:
        table = r.table.set_index("method")
        others = [m for m in table.index if m.startswith("score, shared prefix, ")]
        if "score, shared prefix" not in table.index or not others or "max |Δ log p|" not in table:
            continue
        flags = r.machine.get("cpu_bf16")
        hardware = (
            ""
            if flags is None
            else f", native bfloat16: {', '.join(flags)}"
            if flags
            else ", no native bfloat16 instructions"
        )
        where = (
            f"{r.machine.get('cpu_model') or r.device}{hardware}, {r.machine.get('torch_threads', '?')} "
            f"threads; commit {r.machine.get('git_commit', '?')}"
        )
        s = r.settings
        workload = (
            f" on {s.get('score_prompts', '?')} prompts of about {s.get('score_prompt_tokens', '?')} tokens "
            f"(median of {s.get('repeats', '?')} rounds)"
        )
        base = table.loc["score, shared prefix", "pairs/s"]
        first = r.settings.get("score_dtype", "float32")
        for m in others:
            parts.append(
                f"{m.removeprefix('score, shared prefix, ')} scored {table.loc[m, 'pairs/s'] / base:.2f}× "
                f"the pairs per second of {first}{workload}, every pair's log-probability within "
                f"{table.loc[m, 'max |Δ log p|']:.2f} nats of it ({where})"
            )
    if not parts:
        return "No measurement of scoring in another precision is kept in this copy of the book."
    return "Kept in `book/measurements`: " + "; ".join(parts) + "."
