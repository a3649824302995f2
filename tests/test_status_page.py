"""The generated *Reproduction status* page and the staging of the book."""

from pathlib import Path

import pytest

from reprobook import book
from reprobook.results import RunRecord

ROOT = Path(__file__).resolve().parents[1]


def _results(tmp_path):
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0, title="Demo chapter")
    rec.claim("A | B beats C", paper="+1%", this_run="+0.2%", verdict="partly", source="abstract", scale="tiny")
    rec.metric("checkpoints", {"trained": 1, "loaded": 2})
    rec.save(tmp_path)
    from reprobook.results import load_results

    return load_results(tmp_path)


def test_status_markdown_has_a_row_per_claim_and_per_run(tmp_path):
    runs = {"part/demo": {"status": "ok", "profile": "smoke", "device": "cpu (2 cores)", "seconds": 300.0,
                          "finished_at": "2026-01-01T00:00:00+00:00", "results": ["demo.json"],
                          "last_failure": {"finished_at": "2026-01-02T00:00:00+00:00", "error": "boom"}}}
    text = book.status_markdown(_results(tmp_path), runs)
    assert "| Demo chapter | A \\| B beats C | **partly** | +1% | +0.2% | smoke |" in text
    assert "| Demo chapter | smoke | tiny |" in text
    row = next(line for line in text.splitlines() if line.startswith("| part/demo"))
    assert "| 300.0 | OVER |" in row and "last attempt failed" in row
    assert "2 of 3 trained models loaded from the checkpoint cache" in row
    assert "## Machines and versions" in text


def test_status_markdown_without_results():
    text = book.status_markdown([], {})
    assert "No chapter has recorded results yet" in text and "No notebook has been executed yet" in text


def test_stage_refuses_a_book_with_unexecuted_chapters(tmp_path):
    with pytest.raises(book.BuildError, match="no executed copy of sharpness/rwp.*reprobook run"):
        book.stage(ROOT, out_dir=tmp_path / "empty", res_dir=tmp_path, stage_dir=tmp_path / "stage")


def test_toc_lists_the_chapters_in_order():
    files = book.toc_files(ROOT)
    assert files[0] == "book/intro"
    assert files.index("book/sharpness/theory") < files.index("notebooks/sharpness/rwp")
    assert "book/status" in files
    for f in files:
        assert (ROOT / f"{f}.md").exists() or (ROOT / f"{f}.ipynb").exists(), f
