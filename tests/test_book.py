"""End to end: every notebook executes in the smoke profile, the book builds with -W -n, and its pages
render in headless Chromium with their figures.

This is the slow part of the suite (minutes): one session-wide fixture runs the notebooks once.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reprobook import book, runner

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("book")
    out, res = base / "executed", base / "results"
    lines: list[str] = []
    outcomes = runner.run(runner.discover(ROOT / "notebooks"), params={"profile": "smoke"},
                          out_dir=out, res_dir=res, root=ROOT / "notebooks", echo=lines.append)
    print("\n".join(lines))
    print(runner.format_table(outcomes))
    failed = {o.notebook: o.error for o in outcomes if o.status != "ok"}
    assert not failed, f"notebooks failed in the smoke profile: {failed}"
    html = book.build(ROOT, out_dir=out, res_dir=res, output=base)
    return {"html": html, "outcomes": outcomes, "results": res}


def test_every_chapter_page_is_built(built):
    html = built["html"]
    assert (html / "index.html").exists()
    for name in book.toc_notebooks(ROOT):
        assert (html / "notebooks" / f"{name}.html").exists(), name


def test_status_page_lists_claims_and_runs(built):
    page = (built["html"] / "book" / "status.html").read_text()
    for outcome in built["outcomes"]:
        assert outcome.notebook in page
    assert "Paper claims" in page and "Execution" in page
    assert page.count("<tr") > 2 * len(built["outcomes"])


def test_chapter_pages_have_figures_and_glued_numbers(built):
    for name in book.toc_notebooks(ROOT):
        page = (built["html"] / "notebooks" / f"{name}.html").read_text()
        images = re.findall(r'<img[^>]+src="([^"]+)"', page)
        assert images, f"{name}: no figure"
        for src in images:
            if not src.startswith("data:"):
                assert (built["html"] / "notebooks" / Path(name).parent / src).resolve().stat().st_size > 1000
        assert "Paper vs this run" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("CI"), reason="chromium is not installed")
def test_pages_render_in_headless_chromium(built, tmp_path):
    """A browser loads each page, runs its scripts, and the figures it shows have loaded."""
    assert CHROMIUM, "CI must have chromium (make test installs it as root)"
    pages = [built["html"] / "book" / "intro.html", built["html"] / "book" / "status.html",
             built["html"] / "book" / "sharpness" / "theory.html"]
    pages += [built["html"] / "notebooks" / f"{n}.html" for n in book.toc_notebooks(ROOT)]
    for page in pages:
        dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                              "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                             capture_output=True, text=True, timeout=120)
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert "<main" in dom.stdout and "</html>" in dom.stdout, page
        if page.stem == "theory":  # the book serves MathJax itself: equations typeset without a network
            assert "<mjx-container" in dom.stdout, "equations were not typeset"
        for src in re.findall(r'<img[^>]+src="([^"]+)"', dom.stdout):
            if not src.startswith(("data:", "http")):
                assert (page.parent / src).resolve().exists(), f"{page.name}: missing figure {src}"
        shot = tmp_path / f"{page.stem}.png"
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000",
                               f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True, timeout=120)
        assert shot.exists(), f"{page.name}: no screenshot ({done.stderr[-1000:]})"
        from PIL import Image

        pixels = Image.open(shot).convert("L")
        lo, hi = pixels.getextrema()
        assert hi - lo > 100, f"{page.name} rendered blank"
