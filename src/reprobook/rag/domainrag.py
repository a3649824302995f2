"""The DomainRAG benchmark: its questions per ability, their references, and the passage pool.

Explained in `notebooks/rag/domainrag.ipynb`.

DomainRAG (Wang et al., 2024) asks Chinese questions about one university's admissions, answered from its
web pages. The labelled files (registry entry ``domainrag``, from the official repository) hold, per
question, the answers and the *positive* (golden) reference passages; three of them also hold the top-20
passages that the paper's BM25 and dense retrievers returned from the full corpus (14,406 passages, not
public). :func:`load_domainrag` reads them all into :class:`Question` objects, one list per ability:

==================  ==============================================  ===============================
ability             file                                            what the reader must do
==================  ==============================================  ===============================
extractive          extractive_qa/basic_qa.jsonl                    find the answer in a passage
conversational      conversation_qa/conversation_qa.jsonl           use the dialogue history
structural          structured_qa/structured_qa_twopositive.jsonl   read an HTML page (a table)
faithful            faithful_qa/faithful_qa.jsonl                   follow a counterfactual passage
time_sensitive      time-sensitive_qa/time_sensitive.jsonl          answer for the year asked
multi_document      multi-doc_qa/multidoc_qa.jsonl                  combine several passages
==================  ==============================================  ===============================

Noise robustness has its own file, which the registry's copy (a later commit) lacks: the official
``noisy_qa/noisy_qa.jsonl`` of commit b49ea64 (30 questions, one positive and five noise passages each) is
read by :func:`load_official_noise` from the DomainRAG folder or from ``$REPROBOOK_LOCAL_DATA/domainrag``,
checked against its sha256. :func:`noisy_references` lays out the golden passage among noise passages:
the official ones where a question has them, otherwise passages of the shipped retrieved lists that come
from another page than the golden passage and contain no part of any gold answer.

Every passage met in the files (positive references, the history's references and the shipped retrieved
lists; never the counterfactual edits) goes through one :class:`~reprobook.rag.corpus.PassagePool`, so a
passage has one id wherever it appears; :meth:`DomainRAG.pool` assembles the retrieval corpus from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from .. import data
from ..checks import ParameterError, check_choice, check_int
from ..data.errors import DataError
from ..paths import local_data_dir
from .corpus import Corpus, Passage, PassagePool, passage_key
from .metrics import gold_alternatives

ABILITIES: tuple[str, ...] = (
    "extractive",
    "conversational",
    "structural",
    "faithful",
    "time_sensitive",
    "multi_document",
)
FILES: dict[str, str] = {
    "extractive": "extractive_qa/basic_qa.jsonl",
    "conversational": "conversation_qa/conversation_qa.jsonl",
    "structural": "structured_qa/structured_qa_twopositive.jsonl",
    "faithful": "faithful_qa/faithful_qa.jsonl",
    "time_sensitive": "time-sensitive_qa/time_sensitive.jsonl",
    "multi_document": "multi-doc_qa/multidoc_qa.jsonl",
}
SHIPPED_RETRIEVERS: tuple[str, ...] = ("bm25", "dense")
WITH_RETRIEVED: tuple[str, ...] = ("extractive", "conversational", "time_sensitive")
REPOSITORY = "https://github.com/ShootingWong/DomainRAG (folder BCM/labeled_data)"


def retrieved_file(ability: str, retriever: str) -> str:
    """The shipped file of ``retriever``'s top-20 lists for ``ability`` (relative to the data folder)."""
    check_choice("ability", ability, WITH_RETRIEVED)
    check_choice("retriever", retriever, SHIPPED_RETRIEVERS)
    return FILES[ability].replace(".jsonl", f"_retrieved_{retriever}.jsonl")


def required_files() -> list[str]:
    return [*FILES.values(), *(retrieved_file(a, r) for a in WITH_RETRIEVED for r in SHIPPED_RETRIEVERS)]


class DomainRAGDataError(DataError, FileNotFoundError):
    """A DomainRAG file is missing (or the data folder is wrong); the message names it and how to get it."""

    def __init__(self, path: Path, what: str = "file"):
        self.path = Path(path)
        super().__init__(
            f"DomainRAG {what} not found: {self.path}\n"
            "To get the DomainRAG labelled data, any one of:\n"
            "  - `reprobook data fetch domainrag` (from $REPROBOOK_LOCAL_DATA/domainrag when set, else downloaded "
            "from the official repository), then call load_domainrag() without a folder;\n"
            f"  - pass the folder that holds the files of {REPOSITORY}, e.g. "
            "load_domainrag('<clone>/BCM/labeled_data');\n"
            f"  - download {self.path.name} from {REPOSITORY} into {self.path.parent}."
        )


@dataclass(frozen=True)
class Question:
    """One DomainRAG question with everything the settings need.

    ``answers`` keeps the file's shape (a string, alternatives, or alternatives of parts: see
    :mod:`reprobook.rag.metrics`). ``query`` is what a retriever is asked: the question, preceded by the
    year for time-sensitive questions and by the earlier questions for conversational ones (as in the
    official retrieval script). ``shipped`` holds the paper's retrieved lists, by retriever.
    """

    qid: str
    ability: str
    question: str
    answers: Any
    golden: tuple[Passage, ...]
    query: str
    date: str = ""
    history: tuple[tuple[str, str], ...] = ()  # (question, answer) of the earlier turns
    history_golden: tuple[Passage, ...] = ()  # conversational: the earlier turns' references
    counterfactual: tuple[Passage, ...] = ()  # faithful: the edited reference
    counter_answers: Any = None  # faithful: the answers the edited reference supports
    html: str = ""  # structural: the raw HTML page of the golden reference
    shipped: dict[str, tuple[Passage, ...]] = field(default_factory=dict)
    noise: tuple[Passage, ...] = ()  # the official noise file's noise passages (noise-robustness questions)

    @property
    def golden_ids(self) -> set[str]:
        return {p.id for p in self.golden}

    def prompt_question(self) -> str:
        """The question as the official prompts show it (time-sensitive: ``"<year>年 <question>"``)."""
        return f"{self.date}年 {self.question}" if self.ability == "time_sensitive" and self.date else self.question


@dataclass
class DomainRAG:
    """The loaded benchmark: questions by ability and the pool their passages came from."""

    root: Path
    questions: dict[str, list[Question]]
    passages: PassagePool

    def __getitem__(self, ability: str) -> list[Question]:
        return self.questions[check_choice("ability", ability, ABILITIES)]

    def counts(self) -> dict[str, int]:
        return {a: len(qs) for a, qs in self.questions.items()}

    def sample(self, ability: str, n: int | None, *, seed: int = 0) -> list[Question]:
        """``n`` questions of ``ability`` drawn at random without replacement (None: all), in file order.

        The draw is the first ``n`` of one seeded permutation, so a smaller sample is always part of a larger one.
        """
        qs = self[ability]
        if n is None or n >= len(qs):
            return list(qs)
        check_int("n", n, low=1)
        order = np.random.default_rng([seed, ABILITIES.index(ability)]).permutation(len(qs))
        return [qs[i] for i in sorted(order[:n])]

    def pool(self, questions: Iterable[Question] | None = None, *, shipped_top: int = 20) -> Corpus:
        """The retrieval corpus: the golden passages (and conversational history's references) plus the first
        ``shipped_top`` passages of each shipped retrieved list, deduplicated, in order of first appearance.

        ``questions``: only these questions' passages (None: every question of every ability).
        """
        check_int("shipped_top", shipped_top, low=0, high=20)
        if questions is None:
            questions = [q for qs in self.questions.values() for q in qs]
        seen: dict[str, Passage] = {}
        for q in questions:
            for p in q.golden:
                seen.setdefault(p.id, p)
            for p in q.history_golden:
                seen.setdefault(p.id, p)
            for ranked in q.shipped.values():
                for p in ranked[:shipped_top]:
                    seen.setdefault(p.id, p)
        return Corpus(seen.values())


# --------------------------------------------------------------------------------------------- loading
def _official_text(contents: str) -> str:
    """A passage's text as the official prompts show it: the word-separating spaces removed."""
    return "".join(str(contents).split(" "))


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise DomainRAGDataError(path)
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line, strict=False) for line in handle if line.strip()]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _add(pool: PassagePool, ref: dict, *, clean: bool = True, url: str = "") -> Passage:
    text = _official_text(ref["contents"]) if clean else str(ref["contents"])
    return pool.add(
        text,
        title=_official_text(ref.get("title", "")),
        date=str(ref.get("date", "") or ""),
        url=str(ref.get("url", "") or url),
        doc_id=str(ref.get("id", "") or ""),
    )


def load_domainrag(root: str | Path | None = None) -> DomainRAG:
    """Read every DomainRAG file from ``root`` (None: the registry's verified copy, fetched if needed).

    A missing file or a folder that is not the DomainRAG data raises :class:`DomainRAGDataError`, which
    names the file and says how to get it.
    """
    if root is None:
        root = data.path("domainrag")
    elif not isinstance(root, (str, Path)):
        raise ParameterError("root", root, "None (the registry's copy) or the DomainRAG data folder")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DomainRAGDataError(root, "data folder")
    for rel in required_files():
        if not (root / rel).is_file():
            raise DomainRAGDataError(root / rel)

    pool = PassagePool()
    questions: dict[str, list[Question]] = {}
    for ability in ABILITIES:
        rows = _read_jsonl(root / FILES[ability])
        shipped_rows = (
            {r: _read_jsonl(root / retrieved_file(ability, r)) for r in SHIPPED_RETRIEVERS}
            if ability in WITH_RETRIEVED
            else {}
        )
        for name, other in shipped_rows.items():
            if [o["question"] for o in other] != [row["question"] for row in rows]:
                raise ParameterError(
                    "root",
                    str(root),
                    f"DomainRAG files whose {name} list matches {FILES[ability]} question by question",
                )
        out = []
        for i, row in enumerate(rows):
            out.append(_question(ability, i, row, pool, {n: rs[i] for n, rs in shipped_rows.items()}))
        questions[ability] = out
    return DomainRAG(root, questions, pool)


def _question(ability: str, i: int, row: dict, pool: PassagePool, shipped_rows: dict[str, dict]) -> Question:
    qid = f"{ability}-{i:03d}"
    question = str(row["question"])
    if ability == "multi_document":
        golden = tuple(_add(pool, r) for r in row["positive_references"])
        answers = row["answer"]
    elif ability == "structural":
        ref = row["positive_reference"]
        # the table as text, unsegmented in the file (the official prompt shows it as it is)
        golden = (_add(pool, ref, clean=False, url=row.get("url", "")),)
        answers = row["answers"]
    else:
        golden = tuple(_add(pool, r) for r in _as_list(row["positive_reference"]))
        answers = row["answers"]
    history, history_golden = [], []
    for turn in row.get("history_qa", []):
        history_golden.append(_add(pool, turn["positive_reference"]))
        history.append((str(turn["question"]), str(_as_list(turn["answers"])[0])))
    counterfactual: tuple[Passage, ...] = ()
    if ability == "faithful":
        counterfactual = tuple(
            Passage(
                f"cf-{qid}-{j}",
                _official_text(r["contents"]),
                title=_official_text(r.get("title", "")),
                date=str(r.get("date", "") or ""),
                url=str(r.get("url", "") or ""),
                doc_id=str(r.get("id", "")),
            )
            for j, r in enumerate(_as_list(row["counterfact_reference"]))
        )
    date = str(row.get("date", "") or "")
    if ability == "time_sensitive":
        query = f"{date}年 {question}"
    elif ability == "conversational":
        query = " ".join([h for h, _ in history] + [question])
    else:
        query = question
    shipped = {name: tuple(_add(pool, p) for p in r["retrieved_psgs"]) for name, r in shipped_rows.items()}
    return Question(
        qid,
        ability,
        question,
        answers,
        golden,
        query,
        date=date,
        history=tuple(history),
        history_golden=tuple(dict.fromkeys(history_golden)),
        counterfactual=counterfactual,
        counter_answers=row.get("counterfact_answers"),
        html=str(row.get("positive_html", "") or ""),
        shipped=shipped,
    )


# --------------------------------------------------------------------------------------------- official noise
NOISE_FILE = "noisy_qa/noisy_qa.jsonl"
NOISE_SHA256 = "06c184d4597326d98c3e9db397a46e1319afed4b893b70deb2df3abb5ba6c6c6"
NOISE_COMMIT = "b49ea645578be9cca588f836dad7288adfe11296"


def official_noise_path(root: str | Path | None = None) -> Path:
    """Where the official noise file is: ``<root>/noisy_qa/noisy_qa.jsonl`` (``root``: the DomainRAG folder;
    None: the registry's copy), else under ``$REPROBOOK_LOCAL_DATA/domainrag``. A missing file raises
    :class:`DomainRAGDataError`."""
    candidates = []
    if root is not None:
        candidates.append(Path(root).expanduser() / NOISE_FILE)
    else:
        for entry in ("domainrag-noise", "domainrag"):  # its own registry entry (when there), the benchmark's folder
            try:
                candidates.append(Path(data.path(entry)) / NOISE_FILE)
            except Exception:  # noqa: BLE001 - a registry copy is one candidate among others
                pass
    if local_data_dir() is not None:
        candidates.append(cast(Path, local_data_dir()) / "domainrag" / NOISE_FILE)  # not None: checked just above
    for path in candidates:
        if path.is_file():
            return path
    raise DomainRAGDataError(
        candidates[0] if candidates else Path(NOISE_FILE), f"noise file (official, commit {NOISE_COMMIT[:7]})"
    )


def _json_stream(text: str) -> list[dict]:
    """The objects of a file of concatenated (pretty-printed) JSON objects."""
    out: list[dict]
    decoder, i, out = json.JSONDecoder(strict=False), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        obj, i = decoder.raw_decode(text, i)
        out.append(obj)


def load_official_noise(
    root: str | Path | None = None, pool: PassagePool | None = None, *, verify: bool = True
) -> list[Question]:
    """The official noise-robustness questions (ability ``"noise"``): the question, its answers, its
    positive passage as ``golden`` and its five noise passages as ``noise``, in file order.

    The file's sha256 is checked (``verify``) against the official version's. Its answers are a flat list,
    which the official evaluator (and :mod:`reprobook.rag.metrics`) reads as alternatives.
    """
    path = official_noise_path(root)
    raw = path.read_bytes()
    if verify and hashlib.sha256(raw).hexdigest() != NOISE_SHA256:
        raise ParameterError("root", str(path), f"the official noise file (sha256 {NOISE_SHA256[:12]}…)")
    pool = pool if pool is not None else PassagePool()
    out = []
    for i, row in enumerate(_json_stream(raw.decode("utf-8"))):
        golden = tuple(_add(pool, r) for r in _as_list(row["positive_reference"]))
        noise = tuple(_add(pool, r) for r in _as_list(row["noisy_reference"]))
        question = str(row["question"])
        out.append(Question(f"noise-{i:03d}", "noise", question, row["answers"], golden, question, noise=noise))
    return out


def contains_gold(text: str, answers: Any) -> bool:
    """True when ``text`` (whitespace ignored) contains some part of some gold alternative."""
    flat = passage_key(text)
    return any(
        passage_key(part) and passage_key(part) in flat for parts in gold_alternatives(answers) for part in parts
    )


# --------------------------------------------------------------------------------------------- noise
POSITIONS = ("first", "middle", "last")


def noise_passages(question: Question, n_noise: int, *, sources: Sequence[str] = SHIPPED_RETRIEVERS) -> list[Passage]:
    """The noise passages of ``question``: the first ``n_noise`` of the official noise file's when it has
    them; otherwise the first ``n_noise`` passages of the shipped retrieved lists (``sources`` in turn) that
    are not golden, are not cut from a golden passage's document (windows of one page overlap, so a passage
    of the golden document may repeat the golden text) and contain no part of any gold answer
    (:func:`contains_gold`). Fewer when the lists run out."""
    check_int("n_noise", n_noise, low=0)
    if question.noise:
        return list(question.noise[:n_noise])
    sources = [check_choice("sources", s, SHIPPED_RETRIEVERS) for s in sources]
    if not all(s in question.shipped for s in sources):
        raise ParameterError(
            "question", question.qid, f"a question with shipped retrieved lists (abilities {', '.join(WITH_RETRIEVED)})"
        )
    golden_docs = {p.doc_id for p in question.golden if p.doc_id}
    out: dict[str, Passage] = {}
    for source in sources:
        for p in question.shipped[source]:
            if len(out) == n_noise:
                return list(out.values())
            if (
                p.id in question.golden_ids
                or (p.doc_id and p.doc_id in golden_docs)
                or contains_gold(p.text, question.answers)
            ):
                continue
            out.setdefault(p.id, p)
    return list(out.values())[:n_noise]


def noisy_references(
    question: Question, n_noise: int, position: str | int, *, sources: Sequence[str] = SHIPPED_RETRIEVERS
) -> list[Passage]:
    """The golden passage(s) among ``n_noise`` noise passages (:func:`noise_passages`), at ``position``:
    ``"first"``, ``"middle"``, ``"last"`` or an index into the noise list (the official layout
    ``noise[:i] + golden + noise[i:]``)."""
    noise = noise_passages(question, n_noise, sources=sources)
    if isinstance(position, str):
        check_choice("position", position, POSITIONS)
        index = {"first": 0, "middle": len(noise) // 2, "last": len(noise)}[position]
    else:
        index = check_int("position", position, low=0, high=len(noise))
    return [*noise[:index], *question.golden, *noise[index:]]
