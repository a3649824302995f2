"""End to end: every notebook executes in the tiny profile (every cell, the glue, the claims, the
checks), the book builds from those results with -W -n (explicitly allowed: a tiny run is no
evidence, and the status page says so), and its pages render in headless Chromium with their figures.

This is the slow part of the suite (minutes): one session-wide fixture runs the notebooks once. The
smoke profile, the evidence the book shows, is `make book`'s.
"""

import html as _html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reprobook import book, runner
from reprobook.results import load_results

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("book")
    out, res = base / "executed", base / "results"
    lines: list[str] = []
    outcomes = runner.run(
        runner.discover(ROOT / "notebooks"),
        params={"profile": "tiny"},
        out_dir=out,
        res_dir=res,
        root=ROOT / "notebooks",
        echo=lines.append,
    )
    print("\n".join(lines))
    print(runner.format_table(outcomes))
    failed = {o.notebook: o.error for o in outcomes if o.status != "ok"}
    assert not failed, f"notebooks failed in the tiny profile (logs beside the executed copies in {out}): {failed}"
    with pytest.raises(book.BuildError, match="tiny profile"):
        book.stage(ROOT, out_dir=out, res_dir=res, stage_dir=base / "refused")
    html = book.build(ROOT, out_dir=out, res_dir=res, output=base, allow_tiny=True)
    return {"html": html, "outcomes": outcomes, "results": res}


def test_every_recorded_check_passed(built):
    failed = [
        (r["chapter"], c["name"], c["detail"])
        for r in load_results(built["results"])
        for c in r.get("checks", [])
        if not c["passed"]
    ]
    assert not failed, f"in-chapter checks failed: {failed}"


def _plain(text: str) -> str:
    """Text without the inline markup the page renders away (emphasis, code, math delimiters)."""
    for mark in ("**", "*", "`", "$", "\\(", "\\)"):
        text = text.replace(mark, "")
    for curly, straight in (
        ("\u2019", "'"),
        ("\u2018", "'"),
        ("\u201c", '"'),
        ("\u201d", '"'),
        ("\u2013", "--"),
        ("\u2014", "---"),
    ):  # Sphinx's smart quotes and dashes
        text = text.replace(curly, straight)
    return " ".join(text.split())


def _rows(page: str) -> list[str]:
    """The text of every table row of an HTML page."""
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, flags=re.S)
    rows = [re.sub(r"<wbr\s*/?>", "", row) for row in rows]  # a line-break opportunity, no text
    return [_plain(_html.unescape(re.sub(r"<[^>]+>", " ", row))) for row in rows]


def test_every_chapter_page_is_built(built):
    html = built["html"]
    assert (html / "index.html").exists()
    for name in book.toc_notebooks(ROOT):
        assert (html / "notebooks" / f"{name}.html").exists(), name


def test_status_page_has_a_row_per_claim_with_its_verdict_and_marks_the_tiny_runs(built):
    page = (built["html"] / "book" / "status.html").read_text()
    rows = _rows(page)
    results = load_results(built["results"])
    for record in results:
        for claim in record.get("claims", []):
            text = _plain(claim["claim"])
            matching = [r for r in rows if r.startswith(text)]
            assert len(matching) >= 1, f"{record['chapter']}: no row for the claim {text!r}"
            assert book.shown_verdict(claim) in matching[0], matching[0]
            # a tiny run is never evidence (a claim without power because its units did not vary says so too)
            assert re.search(r"not comparable \((no variation, )?tiny run\)", matching[0]), matching[0]
    for outcome in built["outcomes"]:
        assert any(r.startswith(outcome.notebook) for r in rows), f"no execution row for {outcome.notebook}"
    assert "Tiny runs" in page and "At a glance" in page
    assert any(r.startswith("total") for r in rows)


def test_every_claim_keeps_the_verdict_contract(built):
    """Each claim declares its unit, n, test and (for a tested claim) its SESOI with the source; every tested
    claim carries its power and MDE (or says none is reachable); the keys are distinct within a chapter."""
    from reprobook.claims import RULES

    for record in load_results(built["results"]):
        keys = [c["key"] for c in record.get("claims", [])]
        assert len(keys) == len(set(keys)), (record["chapter"], keys)
        for c in record.get("claims", []):
            where = f"{record['chapter']}: {c['claim']!r}"
            assert c["test"] in (*RULES, "none", "all_of"), where
            if c["test"] == "none":
                assert c["verdict"] == "not comparable" and c["reason"], where
                continue
            assert c["unit"] and c["n_planned"] is not None, where
            assert c["sesoi"] is not None and c["sesoi_source"], f"{where}: no smallest effect of interest"
            if c["tested"]:
                assert "power" in c and "mde" in c and c["n"], where
                assert c["power"] is not None or c["reason"].startswith("no variation"), f"{where}: no power"


def test_chapter_pages_have_figures_and_glued_numbers(built):
    for name in book.toc_notebooks(ROOT):
        page = (built["html"] / "notebooks" / f"{name}.html").read_text()
        images = re.findall(r'<img[^>]+src="([^"]+)"', page)
        assert images, f"{name}: no figure"
        for src in images:
            if not src.startswith("data:"):
                assert (built["html"] / "notebooks" / Path(name).parent / src).resolve().stat().st_size > 1000
        assert "Paper vs this run" in page
        for raw in ("{eval}", "{glue"):  # every glued value was found and shown
            assert raw not in page, f"{name}: {raw} shows raw in the book"


from browser import CHROMIUM, FLAGS  # noqa: E402


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="chromium is not installed")
def test_pages_render_in_headless_chromium(built, tmp_path):
    """A browser loads each page, runs its scripts, and the figures it shows have loaded."""
    assert CHROMIUM, "CI must have chromium (make test installs it as root)"
    pages = [
        built["html"] / "book" / "intro.html",
        built["html"] / "book" / "status.html",
        built["html"] / "book" / "sharpness" / "theory.html",
    ]
    pages += [built["html"] / "notebooks" / f"{n}.html" for n in book.toc_notebooks(ROOT)]
    for page in pages:
        dom = subprocess.run(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert "<main" in dom.stdout and "</html>" in dom.stdout, page
        if page.stem == "theory":  # the book serves MathJax itself: equations typeset without a network
            assert "<mjx-container" in dom.stdout, "equations were not typeset"
        for src in re.findall(r'<img[^>]+src="([^"]+)"', dom.stdout):
            if not src.startswith(("data:", "http")):
                assert (page.parent / src).resolve().exists(), f"{page.name}: missing figure {src}"
        shot = tmp_path / f"{page.stem}.png"
        done = subprocess.run(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                "--window-size=1280,2000",
                f"--screenshot={shot}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert shot.exists(), f"{page.name}: no screenshot ({done.stderr[-1000:]})"
        from PIL import Image

        pixels = Image.open(shot).convert("L")
        lo, hi = pixels.getextrema()
        assert hi - lo > 100, f"{page.name} rendered blank"
        if os.environ.get("REPROBOOK_SCREENSHOTS"):
            keep = Path(os.environ["REPROBOOK_SCREENSHOTS"]) / "book"
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, keep / shot.name)


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="chromium is not installed")
def test_status_page_tables_fit_the_page_width(built, tmp_path):
    from browser import Browser

    browser = Browser(tmp_path / "chrome", size="1280,1000")
    try:
        browser.open((built["html"] / "book" / "status.html").as_uri())
        browser.wait("document.readyState === 'complete' && document.querySelectorAll('table').length > 2", 60)
        widths = browser.js(
            "Array.from(document.querySelectorAll('main table')).map(t => [t.scrollWidth, t.parentElement.clientWidth])"
        )
    finally:
        browser.close()
    assert widths and all(table <= room + 1 for table, room in widths), f"tables wider than the page: {widths}"
