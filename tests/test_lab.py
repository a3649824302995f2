"""One prose for JupyterLab and the book: the conversion both ways, the sources' text copies, and
JupyterLab itself in headless Chromium (MyST rendered, glued numbers shown)."""

import json
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprobook import lab

ROOT = Path(__file__).resolve().parents[1]

BOOK_PROSE = """(demo)=
# Demo

Accuracy {glue:text}`demo_acc` over {glue:text}`demo_n` seeds, gap {glue:text}`demo_gap:+.2%`.

```{glue:figure} demo_fig
:name: fig-demo
:figwidth: 80%

The caption, with {glue:text}`demo_n` seeds.
```

```python
rec.glue("demo_acc", acc)  # {glue:text}`demo_acc` in code stays as it is
```

:::{note}
Inside a directive: {glue:text}`demo_n`.
:::
"""

LAB_PROSE = """(demo)=
# Demo

Accuracy {eval}`demo_acc` over {eval}`demo_n` seeds, gap {eval}`format(demo_gap, "+.2%")`.

```{figure}
:name: fig-demo
:figwidth: 80%

{eval}`demo_fig`

The caption, with {eval}`demo_n` seeds.
```

```python
rec.glue("demo_acc", acc)  # {glue:text}`demo_acc` in code stays as it is
```

:::{note}
Inside a directive: {eval}`demo_n`.
:::
"""


def test_book_prose_becomes_jupyterlab_prose_and_back():
    assert lab.to_lab(BOOK_PROSE) == LAB_PROSE
    assert lab.to_lab(LAB_PROSE) == LAB_PROSE  # idempotent
    assert lab.to_book(LAB_PROSE) == BOOK_PROSE


def test_the_book_cannot_show_other_expressions():
    with pytest.raises(lab.ProseError, match=r"\{eval\}`demo_acc \* 100`.*glued"):
        lab.to_book("{eval}`demo_acc * 100`")
    image = "```{figure} images/diagram.png\n:name: fig-x\n\nA drawn figure.\n```"
    assert lab.to_book(image) == image and lab.to_lab(image) == image


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
WORDS = st.text(alphabet="abc xyz,.()$-", min_size=0, max_size=20)


@st.composite
def book_prose(draw):
    """Book-form prose: text, glued values (with and without a format), glued figures with captions."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["text", "value", "format", "figure"]))
        if kind == "text":
            parts.append(draw(WORDS))
        elif kind == "value":
            parts.append(f"{{glue:text}}`{draw(NAMES)}`")
        elif kind == "format":
            parts.append(f"{{glue:text}}`{draw(NAMES)}:{draw(st.sampled_from(['.1%', '+.2f', ',d', '.3g']))}`")
        else:
            caption = draw(WORDS).strip() or "caption"
            parts.append(f"\n```{{glue:figure}} {draw(NAMES)}\n:name: fig-{draw(NAMES)}\n\n{caption}\n```\n")
    return " ".join(parts)


@given(book_prose())
@settings(max_examples=200, deadline=None)
def test_the_conversion_round_trips(prose):
    converted = lab.to_lab(prose)
    assert "{glue" not in converted
    assert lab.to_book(converted) == prose


def _notebook(path: Path, prose: str = BOOK_PROSE) -> Path:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1\nx")
    code.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "1"}, execution_count=1)]
    code.execution_count = 1
    md = nbformat.v4.new_markdown_cell(prose)
    md.metadata["user_expressions"] = [
        {"expression": "demo_n", "result": {"status": "ok", "data": {"text/plain": "3"}}}
    ]
    nb.cells = [md, code]
    nb.metadata["kernelspec"] = {"name": "reprobook", "display_name": "Python 3 (reprobook)", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_sync_cleans_the_source_and_writes_its_text_copy(tmp_path):
    import jupytext

    path = _notebook(tmp_path / "part" / "demo.ipynb")
    assert len(lab.sync([path], check=True)) == 2 and not lab.text_path(path).exists()  # check changes nothing
    changes = lab.sync([path])
    assert [c.split(":")[0] for c in changes] == [str(path), str(lab.text_path(path))]
    assert changes[0] == (
        f"{path}: outputs, run metadata, not paired with its text copy, prose written with "
        "{glue:text} / {glue:figure} (the {eval} form is the source's)"
    )
    nb = nbformat.read(path, 4)
    assert nb.cells[0].source == LAB_PROSE and "user_expressions" not in nb.cells[0].metadata
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert "-user_expressions" in nb.metadata["jupytext"]["cell_metadata_filter"]  # a lab run's values stay out
    text = lab.text_path(path).read_text()
    assert "# %% [markdown]" in text and "x = 1" in text
    assert [c.source for c in jupytext.read(lab.text_path(path)).cells] == [c.source for c in nb.cells]
    assert lab.sync([path], check=True) == []
    lab.text_path(path).write_text(text.replace("x = 1", "x = 2"))  # edited by hand, or stale
    assert lab.sync([path], check=True) == [f"{lab.text_path(path)}: differs from the notebook's text"]


def test_cli_sync_check_exits_non_zero_when_out_of_sync(tmp_path, capsys):
    from reprobook.cli import main

    path = _notebook(tmp_path / "part" / "demo.ipynb")
    assert main(["sync", str(path), "--check"]) == 1
    assert "run `reprobook sync`" in capsys.readouterr().err
    assert main(["sync", str(path)]) == 0
    assert main(["sync", str(path), "--check"]) == 0


def test_lab_command_opens_the_notebooks_folder():
    command = lab.lab_command(ROOT, port=8890, token="t", browser=False)
    assert command[1] == "lab" and f"--ServerApp.root_dir={ROOT / 'notebooks'}" in command
    assert "--ServerApp.port=8890" in command and "--no-browser" in command


def test_the_lab_settings_are_merged_into_the_environments_overrides(tmp_path):
    path = lab.overrides_path(tmp_path)
    path.parent.mkdir(parents=True)
    plugin = "@jupyterlab/apputils-extension:notification"
    path.write_text(
        json.dumps(
            {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}, plugin: {"doNotDisturbMode": True}}
        )
    )
    assert lab.install_settings(tmp_path) == path
    merged = json.loads(path.read_text())
    assert merged["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}  # a reader's own kept
    assert merged[plugin] == {"doNotDisturbMode": True, "fetchNews": "false", "checkForUpdates": False}
    lab.install_settings(tmp_path)
    assert json.loads(path.read_text()) == merged  # idempotent


def test_jupyterlab_of_make_lab_does_not_ask_to_fetch_news(tmp_path):
    """The server make lab starts serves the overridden settings (no "fetch Jupyter news?" prompt)."""
    import urllib.request

    (tmp_path / "project" / "notebooks").mkdir(parents=True)
    with jupyterlab(tmp_path / "project", tmp_path / "lab.log") as (base, token):
        url = f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}"
        with urllib.request.urlopen(url, timeout=30) as response:
            served = json.loads(response.read())
    # overrides become the defaults of the plugin's schema; a reader's own settings (none here) would win
    defaults = {name: p.get("default") for name, p in served["schema"]["properties"].items()}
    composite = {**defaults, **served.get("settings", {})}
    assert composite["fetchNews"] == "false" and composite["checkForUpdates"] is False


# ------------------------------------------------------------------------------------------- in a browser
from browser import CHROMIUM, Browser, jupyterlab, rendered_markdown, run_in_lab  # noqa: E402

needs_chromium = pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="chromium is not installed")

DEMO_CODE = """from reprobook.results import RunRecord
import matplotlib.pyplot as plt
rec = RunRecord("demo", profile="tiny", device="cpu", seed=0)
rec.glue("demo_acc", 0.91234, fmt=".1%")
rec.glue("demo_n", 3)
rec.glue("demo_gap", 0.0123)
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.plot([1, 2, 3], [2, 1, 3])
rec.figure("demo_fig", fig)"""

DEMO_PROSE = """(demo)=
# A demo chapter

{cite:t}`li2022rwp` claim it. The mean of $x$ is in {eq}`eq-demo` and the curve in {numref}`fig-demo`.

$$
\\bar x = \\frac{1}{n}\\sum_i x_i
$$ (eq-demo)
"""


@needs_chromium
def test_jupyterlab_renders_the_myst_and_shows_the_glued_numbers(tmp_path):
    assert CHROMIUM, "CI must have chromium (make test installs it as root)"
    project = tmp_path / "project"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(DEMO_PROSE),
        nbformat.v4.new_code_cell(DEMO_CODE),
        nbformat.v4.new_markdown_cell(lab.to_lab(BOOK_PROSE.split("```python")[0])),
    ]
    nb.metadata["kernelspec"] = {"name": "reprobook", "display_name": "Python 3 (reprobook)", "language": "python"}
    (project / "notebooks").mkdir(parents=True)
    nbformat.write(nb, project / "notebooks" / "demo.ipynb")
    browser = Browser(tmp_path / "chrome")
    try:
        with jupyterlab(project, tmp_path / "lab.log") as (base, token):
            assert run_in_lab(browser, base, token, "demo.ipynb", timeout=180)
            height = browser.wait(
                "(() => { const img = document.querySelector('.jp-MarkdownCell figure img'); "
                "return img && img.complete && img.getBoundingClientRect().height; })()",
                30,
            )
            text = "\n".join(rendered_markdown(browser, "demo.ipynb"))
            shot = browser.screenshot(tmp_path / "lab.png")
    finally:
        browser.close()
    print(f"screenshot: {shot}")
    assert "Accuracy 91.2% over 3 seeds, gap +1.23%" in text
    assert "The caption, with 3 seeds." in text and "Figure 1" in text and "(1)" in text
    assert height > 100, f"the glued figure is drawn {height} px high"
    for raw in ("{eval}", "{glue", "(demo)=", ":name:", "{cite", "{numref}", "{eq}", "$$"):
        assert raw not in text, f"{raw} shows raw in JupyterLab"


@needs_chromium
@pytest.mark.slow
def test_a_chapter_rerun_in_jupyterlab_shows_numbers_not_roles(tmp_path):
    """The first chapter of the book, in the form `reprobook sync` gives the sources, re-run in JupyterLab
    (tiny profile): its prose shows numbers. The screenshot is kept in $REPROBOOK_SCREENSHOTS if set."""
    from reprobook.book import toc_notebooks

    chapter = toc_notebooks(ROOT)[0]
    project = tmp_path / "project"
    copy = project / "notebooks" / f"{chapter}.ipynb"
    copy.parent.mkdir(parents=True)
    nb = lab.clean(nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", 4))
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = re.sub(r'(?m)^profile = "\w+"', 'profile = "tiny"', params.source)
    nbformat.write(nb, copy)
    browser = Browser(tmp_path / "chrome")
    try:
        with jupyterlab(project, tmp_path / "lab.log") as (base, token):
            ok = run_in_lab(browser, base, token, f"{chapter}.ipynb", timeout=600)
            text = "\n".join(rendered_markdown(browser, f"{chapter}.ipynb"))
            shown_as_code = set(
                browser.js(
                    "Array.from(document.querySelectorAll('.jp-MarkdownCell code')).map(x => x.innerText.trim())"
                )
            )
            browser.js(
                "(() => { const e = Array.from(document.querySelectorAll("
                "'.jp-MarkdownCell .myst-RenderedExpression'))"
                ".find(x => /\\d/.test(x.innerText)); if (e) e.scrollIntoView({block: 'center'}); })()"
            )
            time.sleep(1)
            shot = browser.screenshot(tmp_path / f"{Path(chapter).name}-lab.png")
    finally:
        browser.close()
    if os.environ.get("REPROBOOK_SCREENSHOTS"):
        target = Path(os.environ["REPROBOOK_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target / shot.name)
    assert ok, f"a cell failed when {chapter} ran in JupyterLab (see {tmp_path / 'lab.log'})"
    assert list((tmp_path / "results").glob("*.json")), "the chapter's results did not go to the test's folder"
    for raw in ("{eval}", "{glue", ":name:", "{cite", "{numref}"):
        assert raw not in text, f"{raw} shows raw in the re-run {chapter}"
    names = {m for c in nb.cells if c.cell_type == "markdown" for m in re.findall(r"\{eval\}`([^`]+)`", c.source)}
    assert names, f"{chapter} has no {{eval}} in its prose"
    unfilled = sorted(names & shown_as_code)  # jupyterlab-myst shows an expression it did not evaluate as code
    assert not unfilled, (
        f"{len(unfilled)} of {len(names)} glued values show their name, not their value: {unfilled[:8]}"
    )
