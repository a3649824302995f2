"""Answer metrics as the official DomainRAG evaluator defines them, and retrieval metrics.

Explained in `notebooks/rag/domainrag.ipynb`.

Gold answers come in three shapes, all accepted by every answer metric:

* a string: one answer;
* a list of strings: alternatives, any one of which is right (``["80人", "80"]``);
* a list of lists of strings: alternatives, each made of *parts* that must all appear
  (``[["汉语", "法语", "英语"]]``: one alternative with three parts).

The rules, read from ``BCM/evaluation/Evaluator.py`` of the official repository (ShootingWong/DomainRAG):

* **EM** (:func:`exact_match`): 1 when the gold answer is a substring of the prediction. For a list of
  lists, each alternative scores the *fraction* of its parts found, and the best alternative counts.
* **EMS** (:func:`exact_match_strict`): the same with equality instead of containment.
* **F1, official** (:func:`f1_jieba_chars`): precision and recall between ``" ".join(jieba.cut(prediction))``
  and ``" ".join(jieba.cut(gold))`` where the evaluator's ``Counter`` runs over the *characters* of these
  two strings, the spaces included. Parts of an alternative are joined by a space first.
* **ROUGE-1/2/L** (:func:`rouge_scores`): ``rouge_chinese`` F-scores on the jieba-segmented strings (the
  library the evaluator uses), the best alternative per metric; an empty prediction scores 0.

The evaluator defines a SQuAD-style :func:`normalize_answer` but calls every metric with the identity, so
predictions and golds are compared as they are; ``normalize=normalize_answer`` applies it instead.

The official F1 is a character overlap in disguise (a Chinese word contributes its characters, and every
space counts as a matching character), so :func:`f1_tokens` offers the usual token-level F1 over jieba
words beside it. The book's tables report :func:`f1_tokens` as "F1" and keep the official value as
``f1_official`` in the saved results.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, cast

from ..checks import ParameterError
from .text import jieba_join, words

Golds = str | Sequence[str] | Sequence[Sequence[str]]
Normalizer = Callable[[str], str] | None

METRICS: tuple[str, ...] = ("em", "ems", "f1", "f1_official", "rouge1", "rouge2", "rougeL")


# --------------------------------------------------------------------------------------------- golds
def gold_alternatives(golds: Golds) -> list[list[str]]:
    """The golds as a list of alternatives, each a list of parts (a plain answer is one part).

    >>> gold_alternatives("80人")
    [['80人']]
    >>> gold_alternatives(["80人", "80"])
    [['80人'], ['80']]
    >>> gold_alternatives([["汉语", "法语"]])
    [['汉语', '法语']]
    """
    if isinstance(golds, str):
        return [[golds]]
    if not isinstance(golds, Sequence) or not golds:
        raise ParameterError(
            "golds", golds, "a string, a non-empty list of strings or a non-empty list of lists of strings"
        )
    if all(isinstance(g, str) for g in golds):
        return [[cast(str, g)] for g in golds]  # all strings: checked just above
    if all(
        isinstance(g, Sequence) and not isinstance(g, str) and g and all(isinstance(x, str) for x in g) for g in golds
    ):
        return [list(g) for g in golds]
    raise ParameterError(
        "golds", golds, "a string, a list of strings or a list of non-empty lists of strings (not mixed)"
    )


def _alternatives_joined(golds: Golds) -> list[str]:
    """Each alternative as one string (parts joined by a space, as the evaluator does for F1 and ROUGE)."""
    return [" ".join(parts) for parts in gold_alternatives(golds)]


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, ASCII punctuation and English articles removed, spaces collapsed.

    The official evaluator defines it but scores with the identity (see the module docstring).
    """
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _norm(normalize: Normalizer) -> Callable[[str], str]:
    if normalize is None:
        return lambda s: s
    if not callable(normalize):
        raise ParameterError("normalize", normalize, "None (the official evaluator: no normalisation) or a callable")
    return normalize


# --------------------------------------------------------------------------------------------- EM
def exact_match(prediction: str, golds: Golds, *, normalize: Normalizer = None) -> float:
    """EM: the share of an alternative's parts contained in the prediction, best alternative.

    >>> exact_match("答案是80人。", ["80人", "八十"])
    1.0
    >>> exact_match("汉语和法语", [["汉语", "法语", "英语"]])
    0.6666666666666666
    """
    norm = _norm(normalize)
    pred = norm(prediction)
    # one alternative scores (1/|parts|) Σ_part [norm(part) ⊂ norm(prediction)]; the best alternative counts
    return max(sum(norm(part) in pred for part in parts) / len(parts) for parts in gold_alternatives(golds))


def exact_match_strict(prediction: str, golds: Golds, *, normalize: Normalizer = None) -> float:
    """EMS: like :func:`exact_match` with equality (a part equals the whole prediction)."""
    norm = _norm(normalize)
    pred = norm(prediction)
    return max(sum(norm(part) == pred for part in parts) / len(parts) for parts in gold_alternatives(golds))


# --------------------------------------------------------------------------------------------- F1
def _f1(pred_items: Sequence[Any], gold_items: Sequence[Any]) -> float:
    common = Counter(pred_items) & Counter(gold_items)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_items), same / len(gold_items)
    return 2 * precision * recall / (precision + recall)


def f1_jieba_chars(prediction: str, golds: Golds, *, normalize: Normalizer = None) -> float:
    """The official DomainRAG F1: overlap of the *characters* (spaces included) of the jieba-joined strings.

    ``" ".join(jieba.cut(x))`` is a string, and a ``Counter`` of a string counts characters, so this is
    a character-level F1 in which every space between two words is a character that usually matches.
    Alternatives of a list of lists are first joined by spaces (their parts all in one string).
    """
    norm = _norm(normalize)
    pred = jieba_join(norm(prediction))
    # Counter(str) counts characters: precision = |common chars| / len(pred string), spaces included
    return max(_f1(pred, jieba_join(norm(gold))) for gold in _alternatives_joined(golds))


def f1_tokens(prediction: str, golds: Golds, *, normalize: Normalizer = None) -> float:
    """Token-level F1 over jieba words (no whitespace or punctuation tokens), best alternative.

    The parts of an alternative are joined by a space, as for the official F1.

    >>> f1_tokens("校长是林尚立", "林尚立")
    0.5
    """
    norm = _norm(normalize)
    pred = words(norm(prediction))
    return max(_f1(pred, words(norm(gold))) for gold in _alternatives_joined(golds))


# --------------------------------------------------------------------------------------------- ROUGE
_ROUGE = None


def _rouge():
    global _ROUGE
    if _ROUGE is None:
        from rouge_chinese import Rouge

        _ROUGE = Rouge()
    return _ROUGE


def _rouge_one(prediction: str, gold: str) -> tuple[float, float, float]:
    try:
        # rouge_chinese splits on spaces: both texts are segmented by jieba first, as the evaluator does
        result = _rouge().get_scores(jieba_join(prediction), jieba_join(gold), avg=True)
    except (ValueError, ZeroDivisionError, RecursionError):  # e.g. "Hypothesis is empty." for a whitespace prediction
        return 0.0, 0.0, 0.0
    return result["rouge-1"]["f"], result["rouge-2"]["f"], result["rouge-l"]["f"]


def rouge_scores(prediction: str, golds: Golds) -> tuple[float, float, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-scores (``rouge_chinese`` on jieba words), each the best over alternatives.

    An empty prediction, or golds that are all empty, score (0, 0, 0).
    """
    alternatives = [g for g in _alternatives_joined(golds) if len(g) > 0]
    if len(prediction) == 0 or not alternatives:
        return 0.0, 0.0, 0.0
    scores = [_rouge_one(prediction, gold) for gold in alternatives]
    return tuple(max(s[i] for s in scores) for i in range(3))  # type: ignore[return-value]


def score_answer(prediction: str, golds: Golds, *, normalize: Normalizer = None) -> dict[str, float]:
    """Every answer metric of one prediction: ``em``, ``ems``, ``f1`` (token-level), ``f1_official``,
    ``rouge1``, ``rouge2``, ``rougeL``."""
    if not isinstance(prediction, str):
        raise ParameterError("prediction", prediction, "a string")
    r1, r2, rl = rouge_scores(prediction, golds)
    return {
        "em": exact_match(prediction, golds, normalize=normalize),
        "ems": exact_match_strict(prediction, golds, normalize=normalize),
        "f1": f1_tokens(prediction, golds, normalize=normalize),
        "f1_official": f1_jieba_chars(prediction, golds, normalize=normalize),
        "rouge1": r1,
        "rouge2": r2,
        "rougeL": rl,
    }


# --------------------------------------------------------------------------------------------- retrieval
def _relevant_set(relevant: str | Sequence[str] | set[str]) -> set[str]:
    if isinstance(relevant, str):
        return {relevant}
    out = set(relevant)
    if not out:
        raise ParameterError("relevant", relevant, "at least one relevant passage id per query")
    return out


def recall_at_k(ranked: Sequence[str], relevant: str | Sequence[str] | set[str], k: int) -> float:
    """The share of the relevant passages found in the first ``k`` of ``ranked`` (1 or 0 for one golden).

    >>> recall_at_k(["a", "b", "c"], {"b", "z"}, 2)
    0.5
    """
    if not isinstance(k, int) or k < 1:
        raise ParameterError("k", k, "an integer >= 1")
    rel = _relevant_set(relevant)
    return len(rel & set(ranked[:k])) / len(rel)


def hit_at_k(ranked: Sequence[str], relevant: str | Sequence[str] | set[str], k: int) -> float:
    """1 when at least one relevant passage is among the first ``k`` of ``ranked``."""
    if not isinstance(k, int) or k < 1:
        raise ParameterError("k", k, "an integer >= 1")
    return float(bool(_relevant_set(relevant) & set(ranked[:k])))


def reciprocal_rank(ranked: Sequence[str], relevant: str | Sequence[str] | set[str]) -> float:
    """1 / rank of the first relevant passage in ``ranked`` (0 when none is there); MRR is its mean.

    >>> reciprocal_rank(["a", "b", "c"], "c")
    0.3333333333333333
    """
    rel = _relevant_set(relevant)
    for rank, pid in enumerate(ranked, 1):
        if pid in rel:
            return 1.0 / rank
    return 0.0
