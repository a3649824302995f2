"""PAS stage 3, select and classify: a quality filter by explicit rules, then a category per prompt.

Explained in `notebooks/alignment/pas.ipynb`.

**Selection.** A prompt is kept when it has between ``min_words`` and ``max_words`` words (a Chinese
character counts as half a word), is mostly text (at least half of its characters letters or CJK
characters) and is one request (no dialogue turns). Each rejected prompt keeps its reason.

**Classification.** The categories are the seed data's 13. The classifier is a multinomial logistic
regression on sentence embeddings of the seed prompts: p(c | x) = softmax(W e(x) + b)_c. The seed is
Chinese and the smoke profile's prompts are English, so the embeddings must put both languages in one
space: multilingual-e5-small does (it was trained on parallel and multilingual data), English-only
all-MiniLM-L6-v2 does not (its vocabulary reads Chinese as rare characters). The classifier is scored
on held-out folds of the Chinese seed, and across languages: trained on the Chinese prompts of the
other folds, tested on the English renderings of the held-out ones.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...checks import ParameterError, check_int
from ...claims import rate
from ...configs.pas import PASConfig
from ...encoders import embed
from ...results import facts, glued
from .data import Prompt, is_multi_turn, parallel_seed

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
CLASSIFY_CHARS = 160  # a prompt's first characters are what the classifier embeds (the request comes first)


def cjk_share(text: str) -> float:
    """Share of the non-space characters of ``text`` that are CJK ideographs."""
    chars = [c for c in text if not c.isspace()]
    return sum(bool(_CJK.match(c)) for c in chars) / len(chars) if chars else 0.0


def word_count(text: str) -> float:
    """Words of ``text``: whitespace-separated Latin words, plus half the CJK characters (a Chinese word
    is about two characters)."""
    cjk = len(_CJK.findall(text))
    latin = len(_CJK.sub(" ", text).split())
    return latin + cjk / 2


def quality_reason(text: str, *, min_words: int, max_words: int) -> str:
    """Why ``text`` fails the quality rules ("" when it passes)."""
    n = word_count(text)
    if n < min_words:
        return f"shorter than {min_words} words"
    if n > max_words:
        return f"longer than {max_words} words"
    chars = [c for c in text if not c.isspace()]
    if sum(c.isalpha() or bool(_CJK.match(c)) for c in chars) < 0.5 * len(chars):
        return "mostly symbols or digits"
    if is_multi_turn(text):
        return "a dialogue, not one request"
    return ""


@dataclass
class CategoryClassifier:
    """A logistic regression on sentence embeddings that names a seed category for a prompt."""

    model: Any
    encoder: str
    categories: tuple[str, ...]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.predict_proba(embed(texts, self.encoder, query=True, max_chars=CLASSIFY_CHARS))

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.model.classes_[k] for k in proba.argmax(1)]


def fit_classifier(x: np.ndarray, labels: Sequence[str] | np.ndarray, *, seed: int = 0):
    """The multinomial logistic regression of the classifier (scikit-learn, L2, C = 10 on unit vectors)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=10.0, max_iter=2000, random_state=seed).fit(np.asarray(x), list(labels))


def folds(labels: Sequence[str] | np.ndarray, k: int, *, seed: int) -> list[np.ndarray]:
    """Held-out index sets of a stratified k-fold split (scikit-learn)."""
    from sklearn.model_selection import StratifiedKFold

    check_int("k", k, low=2)
    smallest = min(Counter(labels).values())
    if smallest < k:
        raise ParameterError("classifier_folds", k, f"at most {smallest} (the smallest category's size)")
    split = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in split.split(np.zeros(len(labels)), list(labels))]


def held_out_accuracy(
    x_train: np.ndarray, x_test: np.ndarray, labels: Sequence[str] | np.ndarray, k: int, *, seed: int
) -> tuple[int, int]:
    """(correct, n) of a classifier trained on ``x_train`` rows outside each fold and tested on the
    ``x_test`` rows of the fold: ``x_test = x_train`` is plain cross-validation, another rendering of
    the same items (another language) tests the transfer."""
    labels = np.asarray(labels)
    correct = 0
    for test in folds(labels, k, seed=seed):
        train = np.setdiff1d(np.arange(len(labels)), test)
        model = fit_classifier(x_train[train], labels[train], seed=seed)
        correct += int((model.predict(x_test[test]) == labels[test]).sum())
    return correct, len(labels)


@dataclass
class Classified:
    """Stage 3: the selected prompts with their categories, what the rules threw away, and the
    classifier's held-out accuracy (the verdict: above chance)."""

    prompts: list[Prompt]
    categories: list[str]
    confidence: list[float]
    rejected: Any  # table: prompt, reason
    accuracy: Any  # table: encoder × (Chinese held out, Chinese → English), with chance
    per_category: Any  # table: category → selected prompts
    classifier: CategoryClassifier
    verdict: Any  # reprobook.claims.Verdict: e5 accuracy Chinese → English above chance (an in-chapter check)
    # n_selected, n_rejected, n_categories, accuracy_zh, accuracy_transfer, accuracy_contrast_transfer, contrast,
    # chance, rule, encoder
    facts: pd.Series = glued()


def classify_prompts(prompts: Sequence[Prompt], cfg: PASConfig, *, seed: int, seed_data: Any = None) -> Classified:
    """Select ``prompts`` by the quality rules, score the category classifier on held-out seed folds
    (``cfg.classifier_embedder`` and, for contrast, ``cfg.classifier_contrast``), then train it on the seed prompts
    in ``cfg.classifier_languages`` and name a category for every selected prompt."""
    reasons = [quality_reason(p.text, min_words=cfg.min_words, max_words=cfg.max_words) for p in prompts]
    selected = [p for p, r in zip(prompts, reasons) if not r]
    rejected = pd.DataFrame(
        [{"prompt": p.text[:90], "source": p.source, "reason": r} for p, r in zip(prompts, reasons) if r],
        columns=["prompt", "source", "reason"],
    )
    pairs = parallel_seed(seed_data)
    labels = [zh["category"] for zh, _ in pairs]
    rows, embedded = [], {}
    for encoder in dict.fromkeys(e for e in (cfg.classifier_embedder, cfg.classifier_contrast) if e):
        zh = embed([a["prompt"] for a, _ in pairs], encoder, query=True, max_chars=CLASSIFY_CHARS)
        en = embed([b["prompt"] for _, b in pairs], encoder, query=True, max_chars=CLASSIFY_CHARS)
        embedded[encoder] = {"zh": zh, "en": en}
        c_zh, n = held_out_accuracy(zh, zh, labels, cfg.classifier_folds, seed=seed)
        c_en, _ = held_out_accuracy(zh, en, labels, cfg.classifier_folds, seed=seed)
        rows.append(
            {
                "encoder": encoder,
                "Chinese, held-out folds": c_zh / n,
                "Chinese → English": c_en / n,
                "correct (→ English)": c_en,
                "n": n,
            }
        )
    accuracy = pd.DataFrame(rows).set_index("encoder")
    chance = max(Counter(labels).values()) / len(labels)  # the majority category's share (≥ 1/13)
    main = accuracy.loc[cfg.classifier_embedder]
    verdict = rate(int(main["correct (→ English)"]), int(main["n"]), threshold=chance, unit="held-out seed prompts")
    train_x = np.concatenate([embedded[cfg.classifier_embedder][lang] for lang in cfg.classifier_languages])
    model = fit_classifier(train_x, labels * len(cfg.classifier_languages), seed=seed)
    clf = CategoryClassifier(model, cfg.classifier_embedder, tuple(model.classes_))
    proba = clf.predict_proba([p.text for p in selected]) if selected else np.zeros((0, len(clf.categories)))
    cats = [clf.categories[k] for k in proba.argmax(1)]
    per_category = pd.Series(Counter(cats)).reindex(clf.categories, fill_value=0).rename("selected prompts")
    contrast = cfg.classifier_contrast
    other = accuracy.loc[contrast, "Chinese → English"] if contrast in accuracy.index else float("nan")
    found = facts(
        dict.fromkeys(("accuracy_zh", "accuracy_transfer", "accuracy_contrast_transfer", "chance"), ".0%"),
        n_selected=len(selected),
        n_rejected=len(rejected),
        n_categories=len(clf.categories),
        accuracy_zh=float(main["Chinese, held-out folds"]),
        accuracy_transfer=float(main["Chinese → English"]),
        accuracy_contrast_transfer=float(other),
        contrast=contrast or "no contrast encoder",
        chance=chance,
        rule=verdict.rule,
        encoder=cfg.classifier_embedder,
    )
    return Classified(
        selected,
        cats,
        [float(p.max()) for p in proba],
        rejected,
        accuracy,
        per_category.to_frame(),
        clf,
        verdict,
        found,
    )


__all__ = [
    "CategoryClassifier",
    "Classified",
    "cjk_share",
    "classify_prompts",
    "fit_classifier",
    "folds",
    "held_out_accuracy",
    "quality_reason",
    "word_count",
]
