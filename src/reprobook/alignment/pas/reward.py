"""The held-out reward model that judges PAS's answers: Bradley–Terry on frozen sentence embeddings.

Explained in `notebooks/alignment/pas.ipynb`.

An answer y to a prompt x is scored by a linear function of frozen sentence embeddings e (unit vectors),

    r(x, y) = wᵀ φ(x, y),   φ(x, y) = [ e(y) ; e(x) ⊙ e(y) ] ,

the second block letting the score depend on how the answer relates to the prompt. Trained on
human preference pairs (y_c preferred to y_r) by the Bradley–Terry likelihood

    P(y_c ≻ y_r | x) = σ( r(x, y_c) − r(x, y_r) ) = σ( wᵀ [φ(x, y_c) − φ(x, y_r)] ) ,

which is a logistic regression without intercept on the feature differences (scikit-learn), each pair
entered in both orders. It is trained on HHH prompts that are never PAS prompts (held out from PAS's
data) and checked on other held-out HHH prompts before it judges anything.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...checks import ParameterError
from ...encoders import embed

_CACHE: dict[tuple[str, str], np.ndarray] = {}


def _embed(texts: list[str], encoder: str) -> np.ndarray:
    """:func:`reprobook.encoders.embed` with a memo per (encoder, text): the cross-validation embeds each text once."""
    todo = list(dict.fromkeys(t for t in texts if (encoder, t) not in _CACHE))
    if todo:
        for t, v in zip(todo, embed(todo, encoder)):
            _CACHE[(encoder, t)] = v
    return np.array([_CACHE[(encoder, t)] for t in texts])


@dataclass
class EmbeddingRewardModel:
    """A Bradley–Terry reward model on frozen embeddings: ``score(prompts, answers)`` like ``llm.RewardJudge``."""

    weights: np.ndarray
    encoder: str
    name: str = "embedding Bradley–Terry reward model"
    unit: float = 1.0  # the SD of the raw scores on the training answers: scores are reported in these units

    def features(self, prompts: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        if isinstance(prompts, str) or isinstance(answers, str) or len(prompts) != len(answers):
            raise ParameterError("answers", answers, "a list with one answer per prompt")
        ex, ey = _embed(list(prompts), self.encoder), _embed(list(answers), self.encoder)
        return np.concatenate([ey, ex * ey], axis=1)

    def score(self, prompts: Sequence[str], answers: Sequence[str]) -> list[float]:
        """r(x, y) for each (prompt, answer); larger is better."""
        return [float(v) / self.unit for v in self.features(prompts, answers) @ self.weights]


def train_embedding_reward_model(
    pairs: Sequence[dict[str, Any]], encoder: str = "all-minilm-l6-v2", *, C: float = 1.0
) -> EmbeddingRewardModel:
    """Fit w by the Bradley–Terry likelihood on ``pairs`` (``{prompt, chosen, rejected}``)."""
    from sklearn.linear_model import LogisticRegression

    if len(pairs) < 2:
        raise ParameterError("pairs", len(pairs), "at least 2 preference pairs")
    model = EmbeddingRewardModel(np.zeros(1), encoder)
    prompts = [p["prompt"] for p in pairs]
    chosen = model.features(prompts, [p["chosen"] for p in pairs])
    diff = chosen - model.features(prompts, [p["rejected"] for p in pairs])
    x = np.concatenate([diff, -diff])
    y = np.r_[np.ones(len(diff)), np.zeros(len(diff))]
    fit = LogisticRegression(C=C, fit_intercept=False, max_iter=5000).fit(x, y)
    model.weights = fit.coef_[0]
    raw = np.concatenate([chosen, chosen - diff]) @ model.weights
    model.unit = float(raw.std()) or 1.0
    return model


def cross_validated_agreement(
    pairs: Sequence[dict[str, Any]], encoder: str = "all-minilm-l6-v2", *, folds: int = 5, seed: int = 0, C: float = 1.0
) -> tuple[int, int]:
    """(pairs whose human-preferred answer the reward model scores higher, pairs), each pair scored by a
    model trained on the other folds; folds are drawn by prompt, so no prompt is on both sides."""
    prompts = sorted({p["prompt"] for p in pairs})
    random.Random(seed).shuffle(prompts)
    fold_of = {p: i % folds for i, p in enumerate(prompts)}
    correct = 0
    for f in range(folds):
        train = [p for p in pairs if fold_of[p["prompt"]] != f]
        test = [p for p in pairs if fold_of[p["prompt"]] == f]
        if test and len(train) >= 2:
            correct += pairwise_accuracy(train_embedding_reward_model(train, encoder, C=C), test)[0]
    return correct, len(pairs)


def pairwise_accuracy(judge: Any, pairs: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """(pairs whose chosen answer the reward model scores higher, pairs)."""
    prompts = [p["prompt"] for p in pairs]
    chosen = judge.score(prompts, [p["chosen"] for p in pairs])
    rejected = judge.score(prompts, [p["rejected"] for p in pairs])
    return int(sum(c > r for c, r in zip(chosen, rejected))), len(pairs)


__all__ = ["EmbeddingRewardModel", "cross_validated_agreement", "pairwise_accuracy", "train_embedding_reward_model"]
