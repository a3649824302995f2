"""Reward models: Bradley–Terry with Baichuan Alignment's pointwise term, the data splits, and a length baseline.

The chapter's reward models are heads on the frozen SFT model's last-token features (:class:`RewardHead`):
a convex fit that converges in seconds, so the claims about them are never decided by a step budget.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

The report trains its reward model on preference pairs with the Bradley–Terry loss plus, where a pair
carries absolute quality scores, a pointwise squared error toward those scores (weight α; α = 0 for
pairwise-only data). The HHH pairs have no absolute scores (α = 0 for them). The stand-in for absolute
scores here: natural-instructions pairs whose *chosen* answer is a reference answer and whose
*rejected* answer is a reference answer of another example of the same task; each answer's score is
its ROUGE-L F-measure against the example's references (:func:`reprobook.rouge.rouge_l`, Google's
``rouge-score``; 1 for the reference itself), a graded measure of how well it answers this input.

Splits are by prompt: the HHH data repeats prompts with different answer pairs, so a random split by
pair would put the same prompt on both sides.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..checks import check_fraction
from ..llm import prompt_tokens
from ..rouge import rouge_l


def split_by_prompt(
    rows: Sequence[dict[str, Any]], fractions: dict[str, float], *, seed: int
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
        out.append(
            {
                "prompt": e["prompt"],
                "chosen": e["answer"],
                "rejected": wrong,
                "category": "ni",
                "chosen_score": 1.0,
                "rejected_score": rouge_l(wrong, e["targets"]),
                "score_weight": alpha,
            }
        )
        if len(out) == n:
            break
    return out


def length_baseline(pairs: Sequence[dict[str, Any]]) -> list[int]:
    """1 where the longer answer (in characters) is the chosen one: a judge that reads only the length."""
    return [int(len(p["chosen"]) > len(p["rejected"])) for p in pairs]


# --------------------------------------------------------------------------------------------- the reward head
CONVERGED_GRADIENT = 1e-4  # a fitted head has converged when the gradient norm of its loss is below this


@dataclass
class RewardHead:
    """r(x, y) = wᵀ (φ − μ)/σ + b on the frozen SFT model's last-token feature φ of (x, y), in units of its
    scores' standard deviation on the training answers (``unit``: the scores are divided by it)."""

    w: np.ndarray
    b: float
    mean: np.ndarray
    scale: np.ndarray
    unit: float  # SD of the raw scores on the training answers: scores are reported in these units
    alpha: float
    lam: float
    converged: bool
    gradient_norm: float
    iterations: int

    def score(self, features: np.ndarray) -> np.ndarray:
        return (((np.asarray(features) - self.mean) / self.scale) @ self.w + self.b) / self.unit


def fit_reward_head(
    chosen: np.ndarray,
    rejected: np.ndarray,
    *,
    chosen_score: Sequence[float] = (),
    rejected_score: Sequence[float] = (),
    score_weight: Sequence[float] = (),
    alpha: float,
    lam: float,
    seed: int = 0,
    tol: float = 1e-7,
    max_iter: int = 500,
) -> RewardHead:
    """The Bradley–Terry head with Baichuan Alignment's pointwise term, fitted to convergence (L-BFGS on a
    convex loss: the optimum does not depend on the seeded start):

        L(w, b) = mean_i [ −log σ(r_c − r_r) + α·ωᵢ·½((r_c − s_c)² + (r_r − s_r)²) ] + λ‖w‖²

    with ωᵢ = ``score_weight`` (1 where a pair has absolute scores, 0 for pairwise-only pairs)."""
    xc, xr = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    n = len(xc)
    both = np.concatenate([xc, xr])
    mean, scale = both.mean(0), both.std(0) + 1e-6
    zc, zr = (torch.tensor((x - mean) / scale) for x in (xc, xr))
    weight = torch.tensor(np.asarray(score_weight, dtype=np.float64) if len(score_weight) else np.zeros(n))
    sc = torch.tensor(np.asarray(chosen_score, dtype=np.float64) if len(chosen_score) else np.zeros(n))
    sr = torch.tensor(np.asarray(rejected_score, dtype=np.float64) if len(rejected_score) else np.zeros(n))
    generator = torch.Generator().manual_seed(seed)
    w = (0.01 * torch.randn(zc.shape[1], generator=generator, dtype=torch.float64)).requires_grad_()
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)

    def loss_fn():
        rc, rr = zc @ w + b, zr @ w + b
        # −log σ(r_c − r_r) + α ω ½ [(r_c − s_c)² + (r_r − s_r)²], plus λ‖w‖²
        pointwise = 0.5 * ((rc - sc) ** 2 + (rr - sr) ** 2)
        return (-torch.nn.functional.logsigmoid(rc - rr) + alpha * weight * pointwise).mean() + lam * (w**2).sum()

    optimiser = torch.optim.LBFGS(
        [w, b],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=1e-14,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimiser.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    optimiser.step(closure)
    optimiser.zero_grad()
    loss_fn().backward()
    assert w.grad is not None and b.grad is not None  # set by the backward pass just above
    grad = float(torch.cat([w.grad.flatten(), b.grad.flatten()]).norm())
    iterations = int(optimiser.state[optimiser._params[0]].get("n_iter", 0))
    wv, bv = w.detach().numpy(), float(b.detach())
    raw = np.concatenate([zc.numpy(), zr.numpy()]) @ wv + bv
    converged = grad < CONVERGED_GRADIENT
    return RewardHead(wv, bv, mean, scale, float(raw.std()) or 1.0, alpha, lam, converged, grad, iterations)


def choose_lambda(
    chosen: np.ndarray,
    rejected: np.ndarray,
    groups: Sequence[Any],
    lambdas: Sequence[float],
    *,
    folds: int = 4,
    seed: int = 0,
    **scores: Any,
) -> float:
    """The L2 weight of the Bradley–Terry head with the best held-out Bradley–Terry log-likelihood, by
    ``folds``-fold cross-validation over the training pairs grouped by prompt (α = 0 for the choice: the
    same λ then serves the head with and without the pointwise term)."""
    keys = sorted(set(groups))
    random.Random(seed).shuffle(keys)
    fold_of = {k: i % folds for i, k in enumerate(keys)}
    fold = np.array([fold_of[g] for g in groups])
    best, best_ll = lambdas[0], -np.inf
    for lam in lambdas:
        ll = 0.0
        for f in range(folds):
            train, test = fold != f, fold == f
            if not test.any() or not train.any():
                continue
            head = fit_reward_head(chosen[train], rejected[train], alpha=0.0, lam=lam, seed=seed)
            margin = (head.score(chosen[test]) - head.score(rejected[test])) * head.unit
            ll += float(-np.logaddexp(0.0, -margin).sum())
        if ll > best_ll:
            best, best_ll = lam, ll
    return float(best)


def fits(lm: Any, pairs: Sequence[dict[str, Any]], max_length: int) -> list[dict[str, Any]]:
    """The pairs whose prompt and longer answer fit ``max_length`` tokens (the trainer drops the others)."""
    keep = []
    for p in pairs:
        answer = max(p["chosen"], p["rejected"], key=len)
        n = prompt_tokens(lm, p["prompt"]) + len(lm.tokenizer(answer, add_special_tokens=False)["input_ids"]) + 4
        if n <= max_length:
            keep.append(p)
    return keep
