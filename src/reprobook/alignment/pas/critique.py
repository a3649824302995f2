"""PAS stage 4b, critique: explicit criteria every complementary prompt must meet.

Explained in `notebooks/alignment/pas.ipynb`.

The repository's critique asks GPT-4 whether a complementary prompt (its "APE") is wrong by five
criteria: it deviates from or conflicts with the prompt's intention; it adds too much to a complex
prompt; it answers the prompt instead of supplementing it; it makes excessive demands; its language
differs from the prompt's. Without an API model, each criterion here is a rule that can be read and
tested:

``answers``
    it gives the answer away: it contains one of the answers the source knows for the prompt (a short
    answer as a whole, any run of five words of a long one; words already in the prompt do not count),
    or it opens like a reply ("Yes", "Sure", "I think", ...) or presents one ("here is", "the answer is");
``changes the request``
    it asks its own question (a question mark), or redirects ("instead", "ignore", "do not answer", ...);
``too long`` / ``too short``
    more than ``max_words`` words (the repository's "within 30 words": adding too much) or fewer than three;
``excessive demands``
    it demands quantities ("at least" or five or more examples, words, points, steps, …) or piles up
    demands (two or more of "must", "every", "comprehensive", "exhaustive", "in depth", …);
``ill-formed``
    empty, a near copy of the prompt (four fifths of its words are the prompt's), or generation-template
    text ("User prompt:", "Complementary prompt", "Assistant:", "##");
``other language``
    Chinese for an English prompt or the reverse.

A complementary prompt passes when no criterion fires.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ...checks import check_int
from .classify import cjk_share, word_count

CRITERIA = (
    "answers",
    "changes the request",
    "too long",
    "too short",
    "excessive demands",
    "ill-formed",
    "other language",
)

REPLY_OPENINGS = (
    "yes",
    "no,",
    "no.",
    "sure",
    "certainly",
    "of course",
    "absolutely",
    "the answer",
    "answer:",
    "i think",
    "i believe",
    "i'm sorry",
    "i am sorry",
    "sorry",
    "as an ai",
    "hello",
    "hi,",
    "hi!",
    "here is",
    "here are",
    "here's",
    "是的",
    "不是",
    "答案",
    "好的",
    "当然",
)
PRESENTS_AN_ANSWER = ("here is", "here are", "here's", "the answer is", "answer:", "revised version:", "答案是")
REDIRECTS = (
    "instead",
    "ignore",
    "rather than answering",
    "do not answer",
    "don't answer",
    "another question",
    "new question",
    "change the question",
    "不要回答",
    "忽略",
    "改为",
)
TEMPLATE_TEXT = (
    "user prompt",
    "complementary prompt",
    "complementary information",
    "complement:",
    "prompt:",
    "<user",
    "<complement",
    "##",
    "assistant:",
    "user:",
)
DEMAND_WORDS = (
    "must",
    "every",
    "all possible",
    "comprehensive",
    "exhaustive",
    "in depth",
    "in-depth",
    "thorough",
    "as many as possible",
    "complete list",
    "detailed",
    "extensive",
    "必须",
    "所有",
    "全面",
    "详尽",
    "至少",
)
_QUANTITY = re.compile(
    r"\b(at least|no fewer than|a minimum of|minimum|\d+)\s+(\w+\s+)?(examples?|words?|paragraphs?|"
    r"points?|items?|ways?|reasons?|sources?|pages?|steps?|references?|sentences?|tips?)\b"
)
_STOP = frozenset(
    "a an the of to in on at for and or is are was were be by with as from that this it its "
    "what which who whom how why when where do does did".split()
)


def tokens(text: str) -> list[str]:
    """Lower-case words and single CJK characters, punctuation dropped."""
    return re.findall(r"[\u3400-\u9fff]|[a-z0-9]+(?:'[a-z]+)?", text.lower())


def _contains(seq: list[str], sub: list[str]) -> bool:
    n = len(sub)
    return n > 0 and any(seq[i : i + n] == sub for i in range(len(seq) - n + 1))


def gives_answer(complement: str, prompt: str, references: Sequence[str], *, run: int = 5) -> bool:
    """True when ``complement`` contains a reference answer: a short one (under ``run`` words) whole,
    or any ``run`` consecutive words of a long one; a piece counts only if one of its content words is
    not already in the prompt (repeating the prompt gives nothing away)."""
    comp, known = tokens(complement), set(tokens(prompt))
    for ref in references:
        ref_tokens = tokens(ref)
        pieces = (
            [ref_tokens]
            if len(ref_tokens) < run
            else [ref_tokens[i : i + run] for i in range(len(ref_tokens) - run + 1)]
        )
        for piece in pieces:
            new = [w for w in piece if w not in known and w not in _STOP]
            if new and _contains(comp, piece):
                return True
    return False


def opens_like_a_reply(complement: str) -> bool:
    """True when ``complement`` opens like a reply, or presents one ("here is ...", "the answer is ...")."""
    head = complement.strip().lower()
    return head.startswith(REPLY_OPENINGS) or any(m in head for m in PRESENTS_AN_ANSWER)


def makes_excessive_demands(complement: str) -> bool:
    """True when ``complement`` demands quantities ("at least 2 examples", "500 words": "at least", or five
    or more of something) or piles up two or
    more demand words ("must", "every", "comprehensive", …): the repository's "excessive demands"."""
    low = complement.lower()
    quantity = any(not m.group(1).isdigit() or int(m.group(1)) >= 5 for m in _QUANTITY.finditer(low))
    return quantity or sum(w in low for w in DEMAND_WORDS) >= 2


@dataclass(frozen=True)
class Critique:
    """The criteria a complementary prompt fails (none: it passes)."""

    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def critique_complement(
    prompt: str, complement: str, references: Sequence[str] = (), *, max_words: int = 30
) -> Critique:
    """Check ``complement`` against every criterion of :data:`CRITERIA` for ``prompt`` and its known answers."""
    check_int("max_words", max_words, low=3)
    text = complement.strip()
    low = text.lower()
    failures = []
    if gives_answer(text, prompt, references) or opens_like_a_reply(text):
        failures.append("answers")
    if "?" in text or "？" in text or any(r in low for r in REDIRECTS):
        failures.append("changes the request")
    n = word_count(text)
    if n > max_words:
        failures.append("too long")
    elif n < 3:
        failures.append("too short")
    if makes_excessive_demands(text):
        failures.append("excessive demands")
    words, prompt_words = tokens(text), set(tokens(prompt))
    copy = bool(words) and sum(w in prompt_words for w in words) >= 0.8 * len(words)
    if not text or copy or any(t in low for t in TEMPLATE_TEXT):
        failures.append("ill-formed")
    if text and (cjk_share(text) > 0.3) != (cjk_share(prompt) > 0.3):
        failures.append("other language")
    return Critique(tuple(failures))


__all__ = [
    "CRITERIA",
    "Critique",
    "critique_complement",
    "gives_answer",
    "makes_excessive_demands",
    "opens_like_a_reply",
    "tokens",
]
