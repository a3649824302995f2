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
    offenders = {
        str(p.relative_to(SRC)): sorted(m for m in imported_modules(p) if m.startswith("reprobook.rag"))
        for p in (SRC / part).rglob("*.py")
    }
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


def _module_name(path: Path) -> str:
    parts = ["reprobook", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """module → the reprobook modules it imports (a name imported from a package counts as the package's
    submodule when one exists, else as the package)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for m in imported_modules(path):
            while m not in modules:
                m = m.rpartition(".")[0]
            if m and m != name:
                targets.add(m)
        graph[name] = targets
    return graph


def _part(module: str) -> str:
    """The top-level part of the package a module belongs to (``reprobook.ood.modes`` → ``ood``)."""
    return module.split(".")[1] if module.count(".") else module


def test_no_two_parts_of_the_package_import_each_other():
    """The layers run one way (cli → runner → chapters → methods → results): a part that imports another
    is never imported by it, at module top or inside a function."""
    graph = _graph()
    edges = {(_part(a), _part(b)) for a, targets in graph.items() for b in targets if _part(a) != _part(b)}
    both = sorted({tuple(sorted(e)) for e in edges if (e[1], e[0]) in edges})
    assert not both, both


def test_no_two_modules_import_each_other():
    graph = _graph()
    circles = sorted(
        {
            tuple(sorted((a, b)))
            for a, targets in graph.items()
            for b in targets
            if a in graph.get(b, ()) and not (a.startswith(b + ".") or b.startswith(a + "."))
        }
    )
    assert not circles, circles


def test_the_import_graph_sees_a_circle_when_there_is_one(tmp_path, monkeypatch):
    """The two checks above can fail: on a copy of the package with one import added they do."""
    import shutil

    import test_layers as here

    copy = tmp_path / "reprobook"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    # reprobook.ood.modes imports reprobook.checks: checks importing it back closes a circle of both kinds
    (copy / "checks.py").write_text((copy / "checks.py").read_text() + "\nfrom .ood import modes  # noqa\n")
    monkeypatch.setattr(here, "SRC", copy)
    with pytest.raises(AssertionError, match="'checks', 'ood'"):
        here.test_no_two_parts_of_the_package_import_each_other()
    with pytest.raises(AssertionError, match="'reprobook.checks', 'reprobook.ood.modes'"):
        here.test_no_two_modules_import_each_other()


def test_chapter_configurations_are_typed_where_they_are_read():
    """A parameter named ``cfg`` carries its configuration class (mypy then checks every field read), never
    ``Any``; a validator of arbitrary input takes ``object``."""
    untyped = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                untyped += [
                    f"{path.relative_to(SRC)}:{node.lineno} {node.name}"
                    for a in args
                    if a.arg == "cfg" and (a.annotation is None or ast.unparse(a.annotation) == "Any")
                ]
    assert not untyped, untyped


@pytest.mark.parametrize(
    "module", ["reprobook.cli", "reprobook.data", "reprobook.profiles", "reprobook.runner", "reprobook.cache"]
)
def test_the_command_line_path_imports_no_heavy_library(module):
    """``reprobook --help``, ``reprobook data`` and the runner's own process load neither torch nor the plotting,
    table or model libraries: importing these modules in a fresh interpreter leaves them out of ``sys.modules``."""
    import subprocess
    import sys

    heavy = ("torch", "pandas", "matplotlib", "transformers", "sklearn", "torchvision")
    code = f"import sys, {module}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"{module} imports {loaded}"


METHOD_PARTS = ("sharpness", "ood", "llm", "alignment", "rag", "training", "models", "data", "encoders", "batchnorm")


def test_chapters_sit_above_the_methods_and_configurations_below():
    """A chapter's experiment (``reprobook.chapters``) imports the methods; no method imports a chapter, and a
    configuration (``reprobook.configs``) imports no method, so a method may read its settings."""
    graph = _graph()
    up = sorted(
        f"{a} → {b}"
        for a, targets in graph.items()
        for b in targets
        if _part(b) == "chapters" and _part(a) in METHOD_PARTS + ("configs",)
    )
    assert not up, up
    # one exception, inside a function: the dry run's caps ask the model loader where a dense encoder is served
    down = sorted(
        f"{a} → {b}"
        for a, targets in graph.items()
        for b in targets
        if _part(a) == "configs"
        and _part(b) in METHOD_PARTS + ("chapters",)
        and not (a == "reprobook.configs.dry" and b.startswith("reprobook.llm"))
    )
    assert not down, down
    experiments = {a for a in graph if _part(a) == "chapters" and a.endswith(".experiment")}
    assert len(experiments) >= 10, sorted(experiments)
    assert any(_part(b) in METHOD_PARTS for a in experiments for b in graph[a])


def test_no_module_of_the_chapter_layer_is_over_400_lines():
    """A chapter's experiment stays short enough to read beside its notebook: its tables, figures and text go to
    ``report.py`` (CONTRIBUTING.md)."""
    long = {
        str(p.relative_to(SRC)): n
        for p in (SRC / "chapters").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, long


def test_methods_compute_and_the_chapters_draw():
    """No module of a method package imports matplotlib: a method returns numbers and tables, and the figure a
    chapter shows is drawn by the chapter layer (its ``report.py`` or the module of the study it shows) or by
    :mod:`reprobook.plots`."""
    import ast

    drawing = []
    for part in METHOD_PARTS:
        base = SRC / part
        for path in sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]:
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else []
                )
                if any(n == "matplotlib" or n.startswith("matplotlib.") for n in names):
                    drawing.append(str(path.relative_to(SRC)))
    assert not drawing, sorted(set(drawing))
    assert list((SRC / "chapters").rglob("report.py")), "no chapter draws"
