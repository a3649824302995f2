"""SQuAD v1.1 dev as an open-domain knowledge source: a passage corpus, its questions, an article-wise split.

Explained in `notebooks/rag/slimplm.ipynb`.

SQuAD (Rajpurkar et al., 2016) pairs crowd-sourced questions with the Wikipedia paragraph that answers them.
*Open* SQuAD drops the pairing: every paragraph of the dev set goes into one corpus, and a system must
find the paragraph before reading it. This module builds that corpus from the registry's copy
(``data.load("squad-dev")``):

* each paragraph is cut into **passages** of whole sentences of at most ``passage_words`` words (None:
  the paragraph is one passage), the retrieval unit; a passage keeps its article's title and knows its
  paragraph (``doc_id``) and the characters it covers;
* each question keeps its distinct gold answers (the annotators' spans, duplicates removed, order kept)
  and its **gold passages**: those that contain an annotated answer start;
* :func:`split_by_article` separates questions by *article*, so that a model trained on one side (the
  retrieval-necessity judge of SlimPLM) never sees a question about a topic of the other side.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import data
from ..checks import ParameterError, check_fraction, check_int, check_optional_int, check_seed
from .corpus import Corpus, Passage

# a sentence ends at ., ! or ? (optionally closed by a quote or bracket) followed by space and a capital,
# digit or opening quote: good enough for encyclopaedic text, and never cuts inside a word
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])")


@dataclass(frozen=True)
class SquadQuestion:
    """One SQuAD question: its id, text, distinct gold answers, article and gold passage ids."""

    qid: str
    question: str
    answers: tuple[str, ...]
    title: str  # the article (a Wikipedia page title, underscores as spaces)
    gold_ids: tuple[str, ...]  # passages that contain an annotated answer start


@dataclass(frozen=True)
class SquadOpen:
    """The corpus of every dev paragraph (cut into passages) and every dev question."""

    corpus: Corpus
    questions: tuple[SquadQuestion, ...]
    passage_words: int | None

    @property
    def articles(self) -> list[str]:
        """Article titles in file order."""
        return list(dict.fromkeys(q.title for q in self.questions))

    def paragraphs(self) -> int:
        return len({p.doc_id for p in self.corpus})


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences of ``text`` (whitespace between them excluded).

    >>> t = "Paris is big. It has 2 million people! Really?"
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['Paris is big.', 'It has 2 million people!', 'Really?']
    """
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        end = m.start() + len(m.group(0).rstrip())
        spans.append((start, end))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def passage_spans(text: str, max_words: int | None) -> list[tuple[int, int]]:
    """Whole sentences of ``text`` grouped greedily into passages of at most ``max_words`` words.

    A single sentence longer than ``max_words`` is a passage of its own (never cut inside). ``max_words``
    None: the whole text is one passage.
    """
    if max_words is None:
        return [(0, len(text))]
    check_int("max_words", max_words, low=1)
    out: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    words = 0
    for a, b in sentence_spans(text):
        n = len(text[a:b].split())
        if current is not None and words + n <= max_words:
            current, words = (current[0], b), words + n
        else:
            if current is not None:
                out.append(current)
            current, words = (a, b), n
    if current is not None:
        out.append(current)
    return out or [(0, len(text))]


def _distinct(answers: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a.strip() for a in answers if a.strip()))


def squad_open(rows: Sequence[dict[str, Any]] | None = None, *, passage_words: int | None = None) -> SquadOpen:
    """Open SQuAD from the registry's flat rows (``data.load("squad-dev")``; ``rows`` for tests).

    Passage ids are ``"<article>-<paragraph>-<part>"`` (zero-padded numbers in file order); the
    paragraph id ``"<article>-<paragraph>"`` is the passage's ``doc_id``.
    """
    check_optional_int("passage_words", passage_words, low=1)
    if rows is None:
        rows = data.load("squad-dev")
    if not rows:
        raise ParameterError("rows", rows, "SQuAD rows (id, title, context, question, answers, answer_starts)")
    passages: list[Passage] = []
    questions: list[SquadQuestion] = []
    articles: dict[str, int] = {}
    per_article: dict[str, int] = {}
    paragraphs: dict[tuple[str, str], tuple[str, list[tuple[str, int, int]]]] = {}
    for row in rows:
        title = row["title"].replace("_", " ")
        a = articles.setdefault(title, len(articles))
        key = (title, row["context"])
        if key not in paragraphs:
            para_id = f"{a:03d}-{per_article.get(title, 0):03d}"
            per_article[title] = per_article.get(title, 0) + 1
            parts = []
            for j, (s, e) in enumerate(passage_spans(row["context"], passage_words)):
                pid = f"{para_id}-{j:02d}"
                passages.append(Passage(pid, row["context"][s:e].strip(), title=title, doc_id=para_id))
                parts.append((pid, s, e))
            paragraphs[key] = (para_id, parts)
        _, parts = paragraphs[key]
        starts = row.get("answer_starts") or []
        gold = tuple(dict.fromkeys(pid for st in starts for pid, s, e in parts if s <= st < e)) or tuple(
            pid for pid, _, _ in parts
        )  # no offsets: every passage of the paragraph
        questions.append(SquadQuestion(str(row["id"]), row["question"].strip(), _distinct(row["answers"]), title, gold))
    return SquadOpen(Corpus(passages), tuple(questions), passage_words)


@dataclass(frozen=True)
class ArticleSplit:
    """Questions split by article: ``train`` and ``eval`` share no article (and so no question)."""

    train: tuple[SquadQuestion, ...]
    eval: tuple[SquadQuestion, ...]
    train_articles: tuple[str, ...]
    eval_articles: tuple[str, ...]


# words that point into a paragraph the reader of an open-domain question does not see
_DEICTIC = re.compile(
    r"\b(he|she|him|his|her|hers|they|them|their|it|its|this|these|those|mentioned|"
    r"passage|article|paragraph|text|according)\b",
    re.I,
)


def self_contained(question: SquadQuestion, *, max_answer_words: int = 3) -> bool:
    """The chapter's cheap rule for a question that makes sense without its paragraph and has a short
    factoid answer: it names its subject (a capitalised word or a number after the first word), it has no
    pronoun or phrase that points into a paragraph ("he", "this", "mentioned", "according to"), and its
    shortest gold answer has at most ``max_answer_words`` words.

    >>> q = SquadQuestion("1", "How many Grammys has Lady Gaga won?", ("Six",), "t", ())
    >>> self_contained(q), self_contained(SquadQuestion("2", "What did he study?", ("physics",), "t", ()))
    (True, False)
    """
    words = question.question.split()
    names = any(w[:1].isupper() or w[:1].isdigit() for w in words[1:])
    short = min((len(a.split()) for a in question.answers), default=99) <= max_answer_words
    return names and short and not _DEICTIC.search(question.question)


def split_by_article(
    questions: Sequence[SquadQuestion],
    *,
    n_train: int | None,
    n_eval: int | None,
    eval_fraction: float = 0.5,
    seed: int = 0,
    keep: Callable[[SquadQuestion], bool] | None = None,
) -> ArticleSplit:
    """A seeded split of the articles (``eval_fraction`` of them for evaluation), then a seeded sample of
    ``n_eval`` questions from the evaluation articles and ``n_train`` from the others (None: all), among the
    questions ``keep`` accepts (None: every question); the articles are split before the rule applies.

    Each sample is the first ``n`` of a seeded order of its side's questions, drawn from a random stream of
    its own: a larger ``n_eval`` adds questions to a smaller one's and changes neither the articles nor the
    training questions (likewise for ``n_train``). The questions keep the file's order."""
    check_fraction("eval_fraction", eval_fraction, open_high=True)
    check_optional_int("n_train", n_train, low=1)
    check_optional_int("n_eval", n_eval, low=1)
    check_seed("seed", seed)
    articles = list(dict.fromkeys(q.title for q in questions))
    if len(articles) < 2:
        raise ParameterError("questions", f"{len(articles)} article(s)", "questions from at least two articles")
    rng = np.random.default_rng(seed)
    order = [articles[i] for i in rng.permutation(len(articles))]
    n_eval_articles = min(max(1, round(eval_fraction * len(articles))), len(articles) - 1)
    eval_articles, train_articles = set(order[:n_eval_articles]), set(order[n_eval_articles:])

    def draw(pool: list[SquadQuestion], n: int | None, stream: int) -> tuple[SquadQuestion, ...]:
        if n is None or n >= len(pool):
            return tuple(pool)
        shuffled = np.random.default_rng([seed, stream]).permutation(len(pool))
        return tuple(pool[i] for i in sorted(shuffled[:n]))

    kept = [q for q in questions if keep is None or keep(q)]
    eval_qs = draw([q for q in kept if q.title in eval_articles], n_eval, 1)
    train_qs = draw([q for q in kept if q.title in train_articles], n_train, 2)
    return ArticleSplit(
        train_qs,
        eval_qs,
        tuple(a for a in articles if a in train_articles),
        tuple(a for a in articles if a in eval_articles),
    )


def check_disjoint(train: Sequence[SquadQuestion], evaluation: Sequence[SquadQuestion]) -> None:
    """A ParameterError when a training question, or its article, is among the evaluation questions."""
    shared_q = {q.qid for q in train} & {q.qid for q in evaluation}
    shared_a = {q.title for q in train} & {q.title for q in evaluation}
    if shared_q or shared_a:
        raise ParameterError(
            "train_questions",
            sorted(shared_q or shared_a)[:3],
            "questions whose ids and articles are disjoint from the evaluation questions",
        )
