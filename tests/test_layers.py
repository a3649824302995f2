"""The package's layers, read from the source: which parts may import which."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "reprobook"


def imported_modules(path: Path) -> set[str]:
    """Every ``reprobook`` module that ``path`` imports, at any depth (relative imports resolved)."""
    package = ["reprobook", *path.relative_to(SRC).with_suffix("").parts][:-1]  # the package holding path
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{a.name}" for a in node.names]
            found.update(n for n in names if n.startswith("reprobook"))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("reprobook"))
    return found


def test_imported_modules_resolves_relative_imports():
    here = SRC / "alignment" / "pas" / "dedup.py"
    assert "reprobook.encoders.embed" in imported_modules(here)
    assert "reprobook.alignment.pas.data" in imported_modules(here)


@pytest.mark.parametrize("part", ["alignment", "llm"])
def test_the_alignment_side_does_not_reach_into_rag(part):
    """The text encoders both parts use live below both (``reprobook.encoders``): PAS's deduplication,
    classifier and reward model embed text without importing the RAG package."""
    offenders = {str(p.relative_to(SRC)): sorted(m for m in imported_modules(p) if m.startswith("reprobook.rag"))
                 for p in (SRC / part).rglob("*.py")}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, offenders


def test_one_encoder_module_serves_retrievers_and_pas():
    from reprobook import encoders
    from reprobook.alignment.pas import classify, dedup, reward
    from reprobook.rag import retrievers

    assert retrievers.make_encoder is encoders.make_encoder and retrievers.Encoder is encoders.Encoder
    assert dedup.embed is encoders.embed
    for module in (classify, reward):
        assert "reprobook.encoders.embed" in imported_modules(Path(module.__file__))
