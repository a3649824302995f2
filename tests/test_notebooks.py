"""Notebook sources: no outputs, one ``parameters`` cell with the common parameters, the template's sections."""

import json
from pathlib import Path

import pytest

from reprobook import lab
from reprobook.book import toc_notebooks
from reprobook.runner import discover, notebook_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = discover(ROOT / "notebooks")
COMMON = ("profile", "seed", "device", "data_dir")
SECTIONS = ("Paper vs this run", "Deviations from the paper")


def test_there_are_notebooks_and_all_are_in_the_book():
    assert NOTEBOOKS
    names = {p.relative_to(ROOT / "notebooks").with_suffix("").as_posix() for p in NOTEBOOKS}
    assert names == set(toc_notebooks(ROOT))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_is_clean(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not [c for c in code if c.get("outputs") or c.get("execution_count")], "outputs must be stripped"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert nb["metadata"]["kernelspec"]["name"] == "reprobook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_and_defaults(path):
    params = notebook_parameters(path)
    assert tuple(params)[:4] == COMMON
    assert params["profile"] == "smoke" and params["device"] == "auto" and params["data_dir"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_template_sections(path):
    nb = json.loads(path.read_text())
    headings = [
        line.lstrip("# ").strip()
        for c in nb["cells"]
        if c["cell_type"] == "markdown"
        for line in "".join(c["source"]).splitlines()
        if line.startswith("#")
    ]
    for section in SECTIONS:
        assert section in headings, f"{path.name} lacks the section '{section}'"
    assert headings.index(SECTIONS[0]) < headings.index(SECTIONS[1])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_code_cell_over_25_lines(path):
    nb = json.loads(path.read_text())
    long = [
        (i, len("".join(c["source"]).splitlines()))
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and len("".join(c["source"]).splitlines()) > 25
    ]
    assert not long, f"{path.name}: code cells over 25 lines (cell index, lines): {long}; move the code into src"


# The rendered book's code column: 786 pixels at most, 8.43 pixels per character of its 14-pixel monospace font
# (measured in Chromium on the built book at window widths 1,440 and 1,920): 89 characters before a line scrolls
CODE_COLUMN = 88


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_code_line_scrolls_sideways_in_the_book(path):
    nb = json.loads(path.read_text())
    long = [
        (i, line)
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code"
        for line in "".join(c["source"]).splitlines()
        if len(line) > CODE_COLUMN
    ]
    assert not long, f"{path.name}: code lines over {CODE_COLUMN} characters (cell index, line): {long[:3]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_shows_its_code(path):
    """One rule for every chapter: no cell hides its input (only the parameters papermill injects are
    hidden, by the runner, in every chapter alike)."""
    nb = json.loads(path.read_text())
    hidden = [i for i, c in enumerate(nb["cells"]) if "hide-input" in c.get("metadata", {}).get("tags", [])]
    assert not hidden, f"{path.name}: cells tagged hide-input: {hidden}"


def test_sources_are_in_the_form_jupyterlab_and_the_book_read_and_have_text_copies():
    """Prose in the {eval} form, no outputs or run metadata, a jupytext percent script beside each notebook
    (for review and duplicate-code scans): what `reprobook sync` writes."""
    changes = lab.sync(NOTEBOOKS, check=True)
    assert not changes, "run `reprobook sync`:\n" + "\n".join(changes)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_is_valid_in_its_own_nbformat_version(path):
    """A cell id in an nbformat 4.4 notebook, or any other schema error, makes papermill and the book warn and some
    readers refuse the file: the notebook validates against the schema of the version it declares."""
    import nbformat

    nbformat.validate(nbformat.from_dict(json.loads(path.read_text(encoding="utf-8"))))
