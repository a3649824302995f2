"""The DomainRAG prompts: the instructions, the passage layout and the dialogue history of the paper.

Explained in `notebooks/rag/domainrag.ipynb`.

The wording is the paper's (official ``BCM/evaluation/config/config.json``); it is part of the
experimental setting, so it is kept verbatim. Each reference passage is shown as
``[信息 i]: [题目: <title>. 内容: <text>]`` ("[Information i]: [Title: … Content: …]"); an HTML page is
shown as it is. The instruction asks for a short answer, in entity form, on one line. Closed-book prompts
drop the references; conversational prompts add the earlier turns.

A :class:`PromptTemplate` is a callable ``template(question=..., passages=[...])``, the form the context
guard :func:`reprobook.llm.fit_context` takes: the guard may shorten the passages (never the question)
before the template lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..checks import check_choice

PASSAGE = "[信息 {id}]: [题目: {title}. 内容: {contents}]\n"
_RULES = (
    "确保:\n1. {brevity}\n2. 如果用户的请求涉及推理，你应该根据给定的信息一步一步地思考，推理出最终的答案。\n"
    "3. 只给我最后的答案，不输出推理过程。\n4.只给我答案，不要输出任何其他的话。\n"
    "5.在一行上生成答案，换行和句号被认为是终止符。\n"
)
_SHORT_RULES = _RULES.format(brevity="尽可能简洁的回答问题，用实体形式而不是句子形式回答问题。")
_CONV_RULES = _RULES.format(brevity="尽可能简洁的回答问题。")
_DOCS = " **给定信息:** \n{docs}\n"
_ASK_OPEN = " **问题:**\n{query}\n**回答:**\n"
_ASK_CLOSED = "**问题:**\n{query}\n**回答:**\n"

# (with references, closed book) for each prompt kind of the official configuration
TEMPLATES: dict[str, tuple[str, str]] = {
    # extractive, time-sensitive, structural, faithful and the noisy setting share one prompt
    "short": (
        "使用给定的信息，请对用户的问题给出准确的回答。" + _SHORT_RULES + _DOCS + _ASK_OPEN,
        "请对用户的问题给出准确的回答。" + _SHORT_RULES + _ASK_CLOSED,
    ),
    "conversation": (
        "根据用户的对话历史和提供的外部知识，请对用户当前的问题给出准确的回答。"
        + _CONV_RULES
        + "**对话历史:**: \n{history}\n**外部知识:** \n{docs}\n"
        + _ASK_OPEN,
        "根据用户的对话历史，请对用户当前的问题给出准确的回答。"
        + _CONV_RULES
        + "**对话历史:**: \n{history}\n"
        + _ASK_OPEN,
    ),
    # multi-document answers are long: "an accurate and complete answer"
    "long": (
        "使用给定的信息，请对用户的问题给出准确且完整的回答。\n" + _DOCS + _ASK_OPEN,
        "请对用户的问题给出准确且完整的回答。" + _ASK_CLOSED,
    ),
}
TURN = "**问题:**\n{query}\n**回答:**\n{answer}\n"  # one earlier turn of a conversation
KIND_OF_ABILITY = {
    "extractive": "short",
    "time_sensitive": "short",
    "structural": "short",
    "faithful": "short",
    "noise": "short",
    "conversational": "conversation",
    "multi_document": "long",
}


def format_references(passages: Sequence[str], titles: Sequence[str] | None) -> str:
    """The references block: each passage as ``[信息 i]: [题目: title. 内容: text]`` (``titles`` None: each
    passage as it is, on its own line, the official layout of HTML pages)."""
    if titles is None:
        return "".join(f"{p}\n" for p in passages)
    return "".join(PASSAGE.format(id=i, title=t, contents=p) for i, (p, t) in enumerate(zip(passages, titles), 1))


def format_history(history: Sequence[tuple[str, str]]) -> str:
    return "".join(TURN.format(query=q, answer=a) for q, a in history)


@dataclass(frozen=True)
class PromptTemplate:
    """One question's prompt layout: ``template(question=..., passages=[...])`` returns the prompt text.

    ``closed``: the closed-book prompt (passages ignored); ``titles``: the passages' titles in order
    (None: raw passages such as HTML pages); ``history``: the earlier (question, answer) turns.
    """

    kind: str = "short"
    closed: bool = False
    titles: tuple[str, ...] | None = ()
    history: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, tuple(TEMPLATES))

    def __call__(self, question: str, passages: Sequence[str] = ()) -> str:
        with_refs, closed_book = TEMPLATES[self.kind]
        fields = {"query": question, "history": format_history(self.history)}
        if self.closed:
            return closed_book.format(**fields)
        titles = None if self.titles is None else list(self.titles)[: len(passages)]
        if titles is not None and len(titles) < len(passages):
            titles += [""] * (len(passages) - len(titles))
        return with_refs.format(docs=format_references(passages, titles), **fields)
