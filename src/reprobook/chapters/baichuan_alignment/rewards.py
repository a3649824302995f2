"""The Baichuan Alignment reward models: two heads on the SFT model's features, with and without the pointwise
term, and their ranking of the held-out HHH pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...alignment.reward import CONVERGED_GRADIENT, choose_lambda, fit_reward_head, length_baseline
from ...alignment.scoring import encode_pairs, score
from ...claims import p_format, proportion_ci, rate
from ...configs.baichuan_alignment import BaichuanAlignmentConfig
from ...results import facts, glued
from .data import AlignmentData


@dataclass
class RewardModels:
    """Reward heads on the frozen SFT model's last-token features, fitted on HHH split B (+ NI scored pairs),
    with and without the pointwise term; their ranking of the held-out HHH pairs."""

    heads: dict  # "with"/"without" the pointwise term -> RewardHead
    test: dict  # per held-out pair: "correct" by head, "length", "margin" by head (in head units)
    test_prompts: list  # the prompt of each held-out pair
    ref_logprob: dict  # (prompt, answer) -> log π_SFT(answer | prompt): the reference of the DPO margins
    table: Any
    # lam (chosen by cross-validation), alpha, n_train, n_test; held-out accuracy acc_with, acc_without (the
    # pointwise term) and acc_length (length only); converged, iterations (the heads' fits)
    facts: pd.Series = glued()

    def above_chance(self, head: str) -> tuple[bool, str]:
        """Whether ``head`` ("with" or "without" the pointwise term) ranks the held-out human pairs above chance
        (an exact binomial test against ½), and the sentence that says how often it agrees."""
        correct = [int(c) for c in self.test[f"correct {head}"]]
        agree = rate(sum(correct), len(correct), threshold=0.5, unit="held-out HHH pairs")
        return agree.verdict == "reproduced", (
            f"the head {head} the pointwise term agrees with {sum(correct)} of {len(correct)} human labels, "
            f"p {p_format(float(agree.p or 1.0), relation=True)}"
        )

    def judge(self, sft: Any, prompts: Sequence[str], answers: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """The judge's scores (the head with the pointwise term) of ``answers``."""
        return self.heads["with"].score(
            score(sft, encode_pairs(sft, prompts, answers), features=True, batch_size=batch_size).features
        )


def reward_models(sft: Any, d: AlignmentData, cfg: BaichuanAlignmentConfig, *, seed: int) -> RewardModels:
    """Features of split B, the NI scored pairs and the test pairs under the SFT model (one forward pass
    each, which also gives the SFT model's log-probabilities of the test answers); λ by cross-validation
    on the training pairs; the heads with α = ``cfg.mse_alpha`` and α = 0; their held-out ranking."""
    train = list(d.hhh["B"]) + list(d.ni_pairs)
    test = d.first_pairs()  # one pair per held-out request, the pairs DPO's margins are measured on
    rows = train + test
    prompts = [p["prompt"] for p in rows] * 2
    answers = [p["chosen"] for p in rows] + [p["rejected"] for p in rows]
    s = score(sft, encode_pairs(sft, prompts, answers), features=True, batch_size=cfg.eval_batch)
    n, m = len(rows), len(train)
    assert s.features is not None  # score(..., features=True) returns them
    fc, fr = s.features[:n], s.features[n:]
    weights = [float(p.get("score_weight", 0.0)) for p in train]
    scores: dict[str, Any] = dict(
        chosen_score=[float(p.get("chosen_score", 0.0)) for p in train],
        rejected_score=[float(p.get("rejected_score", 0.0)) for p in train],
    )
    lam = choose_lambda(fc[:m], fr[:m], [p["prompt"] for p in train], cfg.rm_lambdas, seed=seed)
    heads = {
        "with": fit_reward_head(
            fc[:m], fr[:m], alpha=cfg.mse_alpha, lam=lam, seed=seed, score_weight=weights, **scores
        ),
        "without": fit_reward_head(fc[:m], fr[:m], alpha=0.0, lam=lam, seed=seed),
    }
    result = {"length": length_baseline(test)}
    for k, h in heads.items():
        margin = h.score(fc[m:]) - h.score(fr[m:])
        result[f"margin {k}"], result[f"correct {k}"] = list(margin), [int(x > 0) for x in margin]
    ref = {(p, a): float(v) for p, a, v in zip(prompts, answers, s.logprob)}
    table_rows = []
    for judge, hits in (
        ("reward head, with the pointwise term", result["correct with"]),
        ("reward head, Bradley–Terry only", result["correct without"]),
        ("length only", result["length"]),
    ):
        acc, lo, hi = proportion_ci(sum(hits), len(hits))
        table_rows.append({"judge": judge, "held-out accuracy": acc, "95% interval": f"[{lo:.2f}, {hi:.2f}]"})
    converged, iterations = all(h.converged for h in heads.values()), max(h.iterations for h in heads.values())
    return RewardModels(
        heads,
        result,
        [p["prompt"] for p in test],
        ref,
        pd.DataFrame(table_rows).set_index("judge"),
        facts(
            {"lam": "g", "alpha": "g", "acc_with": ".1%", "acc_without": ".1%", "acc_length": ".1%"},
            lam=lam,
            alpha=cfg.mse_alpha,
            n_train=m,
            n_test=len(test),
            acc_with=float(np.mean(result["correct with"])),
            acc_without=float(np.mean(result["correct without"])),
            acc_length=float(np.mean(result["length"])),
            converged=converged,
            iterations=iterations,
            fit=(
                f"both fits converged (gradient norm below {CONVERGED_GRADIENT:g})"
                if converged
                else f"a fit stopped before its gradient norm fell below {CONVERGED_GRADIENT:g}"
            )
            + f", in at most {iterations} L-BFGS iterations",
        ),
    )
