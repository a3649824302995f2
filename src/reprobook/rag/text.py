"""Word segmentation for Chinese (jieba) and the word lists the metrics and BM25 use.

Explained in `notebooks/rag/domainrag.ipynb`.

Chinese is written without spaces between words, so both the answer metrics and BM25 first cut a text into
words with jieba's default dictionary (the segmenter of the DomainRAG paper's evaluator and retriever).
"""

from __future__ import annotations

import functools
import logging
import unicodedata


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # silence "Building prefix dict ..." on first use
    jieba.initialize()
    return jieba


def jieba_cut(text: str) -> list[str]:
    """jieba's segmentation of ``text`` exactly as ``jieba.cut`` returns it (whitespace runs included)."""
    return list(_jieba().cut(text))


def jieba_join(text: str) -> str:
    """``" ".join(jieba.cut(text))``: the form the official DomainRAG evaluator scores."""
    return " ".join(jieba_cut(text))


def _is_word(token: str) -> bool:
    """A token that carries a letter, digit or ideograph (not whitespace, not punctuation alone)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def words(text: str) -> list[str]:
    """The words of ``text`` (jieba), lower-cased, without whitespace and punctuation tokens.

    >>> words("中国人民大学的校长是谁？")
    ['中国人民大学', '的', '校长', '是', '谁']
    """
    return [t.lower() for t in jieba_cut(text) if _is_word(t)]
