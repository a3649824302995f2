"""Reward models: Bradley–Terry with Baichuan Alignment's pointwise term, the data splits, and a length baseline.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

The report trains its reward model on preference pairs with the Bradley–Terry loss plus, where a pair
carries absolute quality scores, a pointwise squared error toward those scores (weight α; α = 0 for
pairwise-only data). The HHH pairs have no absolute scores (α = 0 for them). The stand-in for absolute
scores here: natural-instructions pairs whose *chosen* answer is a reference answer and whose
*rejected* answer is a reference answer of another example of the same task; each answer's score is
its ROUGE-L F-measure against the example's references (1 for the reference itself), a graded measure
of how well it answers this input.

Splits are by prompt: the HHH data repeats prompts with different answer pairs, so a random split by
pair would put the same prompt on both sides.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..checks import check_fraction
from ..results import glued


def split_by_prompt(rows: Sequence[dict[str, Any]], fractions: dict[str, float], *, seed: int
                    ) -> dict[str, list[dict[str, Any]]]:
    """Rows split into named parts of (about) the given fractions of the *prompts*, stratified by
    category, so that all pairs of one prompt land in one part."""
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-9:
        check_fraction("fractions", total, open_low=False)  # fails with the sum named
    rng = random.Random(seed)
    parts: dict[str, list[dict[str, Any]]] = {k: [] for k in fractions}
    by_category: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        by_category.setdefault(r.get("category", ""), {}).setdefault(r["prompt"], []).append(r)
    for category in sorted(by_category):
        prompts = sorted(by_category[category])
        rng.shuffle(prompts)
        start = 0
        for k, (name, frac) in enumerate(fractions.items()):
            stop = len(prompts) if k == len(fractions) - 1 else start + round(frac * len(prompts))
            for p in prompts[start:stop]:
                parts[name] += by_category[category][p]
            start = stop
    return parts


def rouge_l(candidate: str, references: Sequence[str]) -> float:
    """ROUGE-L F-measure of ``candidate`` against the best of ``references`` (Google's rouge-score
    when installed, else the longest common subsequence of lower-cased words, the same definition)."""
    from .evaluation import rouge_l_f

    return max(rouge_l_f(candidate, r) for r in references) if references else 0.0


def ni_scored_pairs(examples: Sequence[dict[str, Any]], n: int, *, seed: int, alpha: float) -> list[dict[str, Any]]:
    """``n`` natural-instructions preference pairs with absolute scores (see the module docstring)."""
    rng = random.Random(seed)
    by_task: dict[str, list[dict[str, Any]]] = {}
    for e in examples:
        by_task.setdefault(e["task"], []).append(e)
    out = []
    for e in examples:
        others = [o for o in by_task[e["task"]] if o["answer"] != e["answer"]]
        if not others:
            continue
        wrong = rng.choice(others)["answer"]
        out.append({"prompt": e["prompt"], "chosen": e["answer"], "rejected": wrong, "category": "ni",
                    "chosen_score": 1.0, "rejected_score": rouge_l(wrong, e["targets"]), "score_weight": alpha})
        if len(out) == n:
            break
    return out


def reward_rows(pairs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the reward trainer: conversational pairs with the score columns (α = 0 without scores)."""
    from ..llm.trainers import preference_rows

    return preference_rows([p["prompt"] for p in pairs], [p["chosen"] for p in pairs], [p["rejected"] for p in pairs],
                           chosen_score=[float(p.get("chosen_score", 0.0)) for p in pairs],
                           rejected_score=[float(p.get("rejected_score", 0.0)) for p in pairs],
                           score_weight=[float(p.get("score_weight", 0.0)) for p in pairs])


def length_baseline(pairs: Sequence[dict[str, Any]]) -> list[int]:
    """1 where the longer answer (in characters) is the chosen one: a judge that reads only the length."""
    return [int(len(p["chosen"]) > len(p["rejected"])) for p in pairs]


def pairwise_correct(judge: Any, pairs: Sequence[dict[str, Any]]) -> list[int]:
    """1 where the reward model scores the chosen answer above the rejected one."""
    prompts = [p["prompt"] for p in pairs]
    chosen = judge.score(prompts, [p["chosen"] for p in pairs])
    rejected = judge.score(prompts, [p["rejected"] for p in pairs])
    return [int(c > r) for c, r in zip(chosen, rejected)]


def fits(lm: Any, pairs: Sequence[dict[str, Any]], max_length: int) -> list[dict[str, Any]]:
    """The pairs whose prompt and longer answer fit ``max_length`` tokens (the trainer drops the others)."""
    from ..llm import prompt_tokens

    keep = []
    for p in pairs:
        answer = max(p["chosen"], p["rejected"], key=len)
        n = prompt_tokens(lm, p["prompt"]) + len(lm.tokenizer(answer, add_special_tokens=False)["input_ids"]) + 4
        if n <= max_length:
            keep.append(p)
    return keep


@dataclass
class RewardResult:
    """Two reward models trained on disjoint HHH splits (A: GRPO's reward; B: the evaluator), and their
    held-out pairwise accuracy against the length-only baseline."""

    table: Any  # DataFrame: judge × accuracy, interval
    correct: dict[str, list[int]]  # per held-out pair: RM A, RM B, length
    judges: dict[str, Any] = field(repr=False, default_factory=dict)  # "A", "B" -> RewardJudge
    records: dict[str, Any] = field(repr=False, default_factory=dict)
    n_train_a: int = glued("d", default=0)
    n_train_b: int = glued("d", default=0)
    n_ni_pairs: int = glued("d", default=0)
    n_test: int = glued("d", default=0)
    acc_a: float = glued(".1%", default=0.0)
    acc_b: float = glued(".1%", default=0.0)
    acc_length: float = glued(".1%", default=0.0)
    alpha: float = glued("g", default=0.0)
    steps: int = glued("d", default=0)


def reward_stage(lm: Any, split_a: Sequence[dict[str, Any]], split_b: Sequence[dict[str, Any]],
                 ni_pairs_a: Sequence[dict[str, Any]], ni_pairs_b: Sequence[dict[str, Any]],
                 test: Sequence[dict[str, Any]], *, config: dict[str, Any], alpha: float,
                 name: str = "baichuan-rm") -> RewardResult:
    """Train RM A on HHH split A + NI pairs A and RM B on the disjoint split B + NI pairs B (same
    settings); score both and the length baseline on the held-out HHH pairs."""
    import pandas as pd

    from .. import llm
    from ..claims import proportion_ci

    judges, records, correct = {}, {}, {}
    for key, hhh, ni in (("A", split_a, ni_pairs_a), ("B", split_b, ni_pairs_b)):
        trained = llm.train_reward_model(lm, reward_rows(list(hhh) + list(ni)), config=config,
                                         output_name=f"{name}-{key.lower()}")
        judges[key], records[key] = llm.RewardJudge(trained.model, lm.tokenizer), trained.record
        correct[f"reward model {key}"] = pairwise_correct(judges[key], test)
    correct["length only"] = length_baseline(test)
    rows = []
    for judge, hits in correct.items():
        p, lo, hi = proportion_ci(sum(hits), len(hits))
        rows.append({"judge": judge, "held-out accuracy": p, "95% interval": f"[{lo:.2f}, {hi:.2f}]"})
    acc = {k: sum(v) / len(v) for k, v in correct.items()}
    return RewardResult(pd.DataFrame(rows).set_index("judge"), correct, judges, records, n_train_a=len(split_a),
                        n_train_b=len(split_b), n_ni_pairs=len(ni_pairs_a), n_test=len(test),
                        acc_a=acc["reward model A"], acc_b=acc["reward model B"], acc_length=acc["length only"],
                        alpha=alpha, steps=records["A"].steps)
