"""ROUGE-L for English text: Google's ``rouge-score``, a re-implementation of Lin's (2004) ROUGE package.

One function serves every English measure of the book: the absolute scores of Baichuan Alignment's
natural-instructions pairs (:mod:`reprobook.alignment.reward`) and SlimPLM's answer table
(:mod:`reprobook.rag.slimplm`). ``rouge-score``'s tokenizer lower-cases the text and keeps runs of ASCII
letters and digits as words (no stemming here); the F-measure is that of the longest common subsequence,
2PR / (P + R). Chinese text is scored as DomainRAG's official evaluator scores it, by ``rouge-chinese`` on
jieba words (:func:`reprobook.rag.metrics.rouge_scores`, which gives ROUGE-1, -2 and -L in one call).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any


@cache
def _scorer() -> Any:
    # imported on first use: rouge-score imports nltk (about 2 s), which no other part of a chapter needs
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(candidate: str, references: str | Sequence[str]) -> float:
    """ROUGE-L F-measure of ``candidate`` against ``references`` (one text, or several: the best is kept);
    0 when either side has no words, or when there is no reference."""
    refs = [references] if isinstance(references, str) else list(references)
    return max((float(_scorer().score(r, candidate)["rougeL"].fmeasure) for r in refs), default=0.0)
