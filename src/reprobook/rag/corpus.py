"""A corpus of passages with ids, titles and dates, and its deduplication.

Explained in `notebooks/rag/domainrag.ipynb`.

A :class:`Corpus` is what a retriever indexes: an ordered list of :class:`Passage` objects whose ids are
unique. :class:`PassagePool` assembles one from passages met in several places (the positive references
and the retrieved lists of a benchmark), keeping one copy of each text: two passages are the same when
their texts agree once all whitespace is removed (:func:`passage_key`), so a passage stored segmented into
words (``"中国 人民 大学"``) and the same passage stored plain (``"中国人民大学"``) become one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import overload

from ..checks import ParameterError


@dataclass(frozen=True)
class Passage:
    """One retrievable unit of text.

    ``id`` is unique within a corpus; ``doc_id`` names the document the passage was cut from (several
    passages share it); ``date`` is the document's publication date as written in the source (may be "").
    """

    id: str
    text: str
    title: str = ""
    date: str = ""
    url: str = ""
    doc_id: str = ""

    def indexed_text(self) -> str:
        """What a retriever indexes: the title, then the text."""
        return f"{self.title} {self.text}" if self.title else self.text


def passage_key(text: str) -> str:
    """The identity of a passage's text: the text with every whitespace character removed."""
    return "".join(str(text).split())


def stable_id(text: str) -> str:
    """A short id derived from the text alone (whitespace ignored): the same in every run and every pool."""
    return _id_of_key(passage_key(text))


def _id_of_key(key: str) -> str:
    return "p" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


class Corpus(Sequence[Passage]):
    """An ordered collection of passages with unique ids.

    >>> c = Corpus([Passage("a", "first"), Passage("b", "second")])
    >>> c.index_of("b"), c["a"].text
    (1, 'first')
    """

    def __init__(self, passages: Iterable[Passage]):
        self._passages = tuple(passages)
        self._index: dict[str, int] = {}
        for i, p in enumerate(self._passages):
            if not isinstance(p, Passage):
                raise ParameterError("passages", p, "Passage objects")
            if p.id in self._index:
                raise ParameterError("passages", p.id, "passages with unique ids (this id appears twice)")
            self._index[p.id] = i

    def __len__(self) -> int:
        return len(self._passages)

    @overload
    def __getitem__(self, key: int) -> Passage: ...
    @overload
    def __getitem__(self, key: str) -> Passage: ...
    @overload
    def __getitem__(self, key: slice) -> Corpus: ...

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._passages[self.index_of(key)]
        if isinstance(key, slice):
            return Corpus(self._passages[key])
        return self._passages[key]

    def __iter__(self) -> Iterator[Passage]:
        return iter(self._passages)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Passage):
            return item.id in self._index
        return item in self._index

    def __repr__(self) -> str:
        return f"Corpus({len(self)} passages)"

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self._passages]

    def index_of(self, passage_id: str) -> int:
        try:
            return self._index[passage_id]
        except KeyError:
            raise ParameterError("passage_id", passage_id, f"an id of this corpus ({len(self)} passages)") from None

    def subset(self, ids: Iterable[str]) -> Corpus:
        """The passages with these ids, in corpus order."""
        wanted = set(ids)
        missing = wanted - set(self._index)
        if missing:
            raise ParameterError("ids", sorted(missing)[:5], "ids of this corpus")
        return Corpus(p for p in self._passages if p.id in wanted)

    def fingerprint(self) -> str:
        """A hash of the ids, titles and texts in order: the key of any index built on this corpus."""
        digest = hashlib.sha256()
        for p in self._passages:
            for part in (p.id, p.title, p.text):
                digest.update(part.encode("utf-8"))
                digest.update(b"\x00")
        return digest.hexdigest()[:20]


class PassagePool:
    """Passages gathered from several sources, one copy of each text.

    ``add`` returns the passage kept for the text: the first one met, with a missing ``date``, ``url`` or
    ``doc_id`` filled in from later copies. Ids are derived from the text alone (:func:`stable_id`), so the
    same text gets the same id whatever else is in the pool; a passage without text (the title of an
    empty page) is known by its title.
    """

    def __init__(self) -> None:
        self._by_key: dict[str, Passage] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def add(self, text: str, *, title: str = "", date: str = "", url: str = "", doc_id: str = "") -> Passage:
        key = self._key(text, title)
        kept = self._by_key.get(key)
        if kept is None:
            kept = Passage(
                _id_of_key(key),  # stable_id(text), or the title's key for a passage without text
                text,
                title=title,
                date=date,
                url=url,
                doc_id=doc_id,
            )
        else:
            kept = replace(
                kept,
                date=kept.date or date,
                url=kept.url or url,
                doc_id=kept.doc_id or doc_id,
                title=kept.title or title,
            )
        self._by_key[key] = kept
        return kept

    @staticmethod
    def _key(text: str, title: str = "") -> str:
        """The text's identity; a passage without text (a title alone) is known by its title."""
        key = passage_key(text)
        if key:
            return key
        if not passage_key(title):
            raise ParameterError("text", text, "a passage with some non-whitespace text or title")
        return "\x00title\x00" + passage_key(title)

    def get(self, text: str, title: str = "") -> Passage | None:
        """The pooled passage with this text (whitespace ignored), or None."""
        return self._by_key.get(self._key(text, title))

    def corpus(self) -> Corpus:
        """The pool as a corpus, in the order the texts were first added."""
        return Corpus(self._by_key.values())


def as_corpus(passages: Corpus | Sequence[Passage]) -> Corpus:
    return passages if isinstance(passages, Corpus) else Corpus(passages)
