"""The generated *Reproduction status* page and the staging of the book."""

import os
import platform
import shutil
from pathlib import Path

import nbformat
import pytest
import torch

from reprobook import book, claims
from reprobook.results import RunRecord, cpu_model, load_results

ROOT = Path(__file__).resolve().parents[1]

RUNS = {
    "part/demo": {
        "status": "ok",
        "profile": "smoke",
        "device": "cpu (2 cores)",
        "seconds": 300.0,
        "finished_at": "2026-01-01T00:00:00+00:00",
        "results": ["demo.json"],
        "cold": {"smoke": {"seconds": 410.5, "finished_at": "2025-12-31T00:00:00+00:00"}},
        "last_failure": {"finished_at": "2026-01-02T00:00:00+00:00", "error": "boom"},
    }
}


SPECS = [
    claims.ClaimSpec(
        "beats",
        "A | B beats C",
        "+1%",
        "abstract",
        "seeds",
        3,
        "superiority",
        0.005,
        "half the paper's +1 %",
        0.01,
        fmt="+.2%",
    ),
    claims.ClaimSpec("cheap", "B is cheap", "1x", "Table 2", "", None, "none", untestable="needs two devices"),
    claims.ClaimSpec("holds", "C holds", "yes", "Table 3", "questions", 20, "mcnemar", 0.1, "a practical threshold"),
    claims.ClaimSpec(
        "parity", "D matches C", "equal", "Table 4", "seeds", 3, "non_inferiority", 0.02, "a stated practical margin"
    ),
]


def _results(tmp_path, profile="smoke"):
    rec = RunRecord("demo", profile=profile, device="cpu", seed=0, title="Demo chapter")
    tests = [
        claims.evaluate(
            SPECS[0], [0.71, 0.69, 0.74], [0.70, 0.70, 0.71], this_run="+0.43 points", scale="FashionMNIST, 3 seeds"
        ),
        claims.evaluate(SPECS[1], scale="FashionMNIST, 3 seeds"),
        claims.evaluate(SPECS[2], [1] * 15 + [0] * 5, [0] * 15 + [0] * 5, scale="FashionMNIST, 3 seeds"),
        claims.evaluate(SPECS[3], [0.5, 0.45, 0.48], [0.7, 0.7, 0.71], scale="FashionMNIST, 3 seeds"),
    ]
    rec.add_claims(claims.holm_tests(tests))
    rec.check("noise scale", True, "largest relative gap 2.1%")
    rec.check("step count", False, "3 of 4 operator calls")
    rec.check("nested vocabularies compress better", True, "0 violations", paper="0.498 at 125,696")
    rec.metric("checkpoints", {"trained": 1, "loaded": 2})
    rec.save(tmp_path)
    return load_results(tmp_path)


def _list_rows(text: str, after: str, before: str) -> list[str]:
    """The rows of the list-tables between two headings, each as the text of its cells."""
    text = text[text.index(after) : text.index(before)]
    rows, current = [], None
    for line in text.splitlines():
        if line.startswith("* - "):
            current = [line[4:]]
            rows.append(current)
        elif current is not None and line.strip():
            current.append(line.strip().removeprefix("- "))
        if line.startswith("```") and current is not None and not line.startswith("```{"):
            current = None
    return [" ".join(r) for r in rows if r[0] not in ("Claim", "Chapter")]


def _claim_rows(text: str) -> list[str]:
    return _list_rows(text, "## Paper claims", "## Execution")


def test_one_row_per_claim_with_its_verdict_reason_rule_power_and_mde(tmp_path):
    results = _results(tmp_path)
    text = book.status_markdown(results, RUNS)
    rows = _claim_rows(text)
    assert len(rows) == 4
    for claim in results[0]["claims"]:
        row = next(r for r in rows if r.startswith(claim["claim"]))
        assert book.shown_verdict(claim) in row and claim["paper"] in row
        if claim["tested"]:
            assert "power at SESOI" in row and "MDE" in row and f"SESOI {format(claim['sesoi'], claim['fmt'])}" in row
            assert "Holm over 3" in row
    beats = next(r for r in rows if r.startswith("A | B beats C"))
    assert "{bdg-secondary}`inconclusive`" in beats and "*Rule:* one-sided paired t-test" in beats
    assert "+0.43 points" in beats and "3 seeds" in beats
    assert "{bdg-success}`reproduced`" in next(r for r in rows if r.startswith("C holds"))
    assert "{bdg-danger}`contradicted`" in next(r for r in rows if r.startswith("D matches C"))
    assert "{bdg-muted}`not comparable (needs two devices)`" in next(r for r in rows if r.startswith("B is cheap"))
    assert ":widths: 40 18 42" in text  # three columns that fit the page


def test_the_page_explains_the_five_words_and_holm_per_chapter(tmp_path):
    text = book.status_markdown(_results(tmp_path), RUNS)
    for word in claims.VERDICTS:
        assert f"`{word}` {claims.MEANINGS[word]}" in text
    assert "Holm is per chapter" in text and "α = 0.025" in text
    assert "of 3 tested claims" in text  # the power goal, counted


def test_the_power_goal_is_also_counted_over_the_claims_no_guard_read_not_comparable(tmp_path):
    """A claim a guard read *not comparable* keeps the power its test had at α (outside the Holm family); the page
    counts the goal over every tested claim and again over those the guards let through."""
    results = _results(tmp_path)
    every = [c for r in results for c in r["claims"]]
    hit, tested = claims.powered(every)
    read = [c for c in every if c["verdict"] != "not comparable"]
    assert len(read) == tested == 3  # the untestable claim is not tested
    guarded = dict(read[0], verdict="not comparable", reason="not converged", power=0.99, power_paper=0.99)
    results[0]["claims"] = [guarded if c is read[0] else c for c in results[0]["claims"]]
    text = book.status_markdown(results, RUNS)
    hit_all, _ = claims.powered([guarded, *read[1:]])
    hit_read, _ = claims.powered(read[1:])
    assert f"{hit_all} of 3 tested claims" in text
    assert f"of the 2 that no guard read *not comparable*, {hit_read} had." in text
    assert "stands outside its chapter's Holm family: its power is its test's at α, unadjusted." in text


def test_the_summary_counts_the_verdicts_of_each_chapter_in_colour(tmp_path):
    text = book.status_markdown(_results(tmp_path), RUNS)
    (summary,) = _list_rows(text, "## At a glance", "## Paper claims")
    assert summary.startswith("Demo chapter (smoke)")
    assert (
        "{bdg-success}`1 reproduced` {bdg-secondary}`1 inconclusive` {bdg-danger}`1 contradicted` "
        "{bdg-muted}`1 not comparable`"
    ) in summary
    assert "partly" not in summary  # only the verdicts the chapter has
    assert "{bdg-danger}`1 of 3 failed`" in summary
    assert text.index("## At a glance") < text.index("## Paper claims") < text.index("## Execution")


def test_checks_and_the_execution_table_with_budget_and_cold_time(tmp_path):
    text = book.status_markdown(_results(tmp_path), RUNS)
    assert "| Demo chapter | step count | {bdg-danger}`FAILED` | 3 of 4 operator calls | - |" in text
    assert "| nested vocabularies compress better | passed | 0 violations | 0.498 at 125,696 |" in text
    row = next(line for line in text.splitlines() if line.startswith("| part/<wbr>demo"))  # may break after "/"
    assert "| 300.0 | 240 (OVER) | 410.5 |" in row and "last attempt failed" in row
    assert "2 of 3 trained models loaded from the checkpoint cache" in row
    assert next(line for line in text.splitlines() if line.startswith("| **total**")).startswith(
        "| **total** |  | 300.0 | 240 |"
    )
    assert "## Machines and versions" in text
    # a CPU run names its model (budgets are seconds) and the instruction set its kernels used (its last digits, and
    # so its models, can depend on it)
    capability = torch.backends.cpu.get_cpu_capability()
    model = cpu_model()
    assert (
        f"| cpu ({model + ', ' if model else ''}{os.cpu_count()} cores, {platform.machine()}), {capability} |" in text
    )


def test_a_reason_with_a_semicolon_shows_whole_in_its_badge(tmp_path):
    flat = claims.evaluate(SPECS[0], [0.7, 0.7, 0.7], [0.6, 0.6, 0.6], scale="FashionMNIST, 3 seeds")
    rec = RunRecord("demo", profile="tiny", device="cpu", seed=0, title="Demo chapter")
    rec.add_claims([flat])
    rec.save(tmp_path)
    claim = load_results(tmp_path)[0]["claims"][0]
    assert claim["reason"] == "no variation; tiny run"
    text = book.status_markdown(load_results(tmp_path), RUNS)
    assert "{bdg-muted}`not comparable (no variation, tiny run)`" in text and book.shown_verdict(claim) in text


def test_tiny_runs_are_marked(tmp_path):
    text = book.status_markdown(
        _results(tmp_path, profile="tiny"), {**RUNS, "part/demo": {**RUNS["part/demo"], "profile": "tiny"}}
    )
    assert ":::{warning}" in text and "Tiny runs" in text
    assert all("not comparable (tiny run)" in row for row in _claim_rows(text))
    assert "Demo chapter {bdg-info}`tiny run`" in text and "| 300.0 | 60 (OVER) |" in text


def test_chapters_link_to_their_notebook_when_the_book_has_it(tmp_path):
    text = book.status_markdown(_results(tmp_path), RUNS, in_book=["part/demo"])
    assert "{doc}`Demo chapter <../notebooks/part/demo>`" in text


def test_status_markdown_without_results():
    text = book.status_markdown([], {})
    assert "No chapter has recorded results yet" in text and "No notebook has been executed yet" in text


def test_stage_refuses_a_book_with_unexecuted_chapters(tmp_path):
    with pytest.raises(book.BuildError, match="no executed copy of sharpness/rwp.*reprobook run"):
        book.stage(ROOT, out_dir=tmp_path / "empty", res_dir=tmp_path, stage_dir=tmp_path / "stage")


def _project(tmp_path, prose: str) -> dict:
    """A one-chapter project whose executed copy has ``prose`` in a markdown cell."""
    root = tmp_path / "project"
    (root / "book").mkdir(parents=True)
    (root / "book" / "intro.md").write_text("# Intro\n")
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: notebooks/part/demo\n  - file: book/status\n"
    )
    out, res = tmp_path / "executed", tmp_path / "results"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(prose)]
    (out / "part").mkdir(parents=True)
    nbformat.write(nb, out / "part" / "demo.ipynb")
    res.mkdir()
    return {"root": root, "out": out, "res": res, "stage": tmp_path / "stage"}


def test_stage_turns_the_notebooks_prose_into_the_books_glue(tmp_path):
    p = _project(
        tmp_path, "Accuracy {eval}`demo_acc`.\n\n```{figure}\n:name: fig-demo\n\n{eval}`demo_fig`\n\nCaption.\n```"
    )
    staged = book.stage(p["root"], out_dir=p["out"], res_dir=p["res"], stage_dir=p["stage"])
    source = nbformat.read(staged / "notebooks" / "part" / "demo.ipynb", 4).cells[0].source
    assert source == "Accuracy {glue:text}`demo_acc`.\n\n```{glue:figure} demo_fig\n:name: fig-demo\n\nCaption.\n```"
    assert "{eval}" in nbformat.read(p["out"] / "part" / "demo.ipynb", 4).cells[0].source  # the executed copy is kept


def test_stage_stops_on_prose_the_book_cannot_show(tmp_path):
    p = _project(tmp_path, "Twice: {eval}`2 * demo_acc`.")
    with pytest.raises(
        book.BuildError, match=r"notebooks/part/demo: demo.ipynb, markdown cell 1: \{eval\}`2 \* demo_acc`"
    ):
        book.stage(p["root"], out_dir=p["out"], res_dir=p["res"], stage_dir=p["stage"])


def test_stage_refuses_tiny_results_unless_asked(tmp_path):
    p = _project(tmp_path, "No numbers.")
    RunRecord("demo", profile="tiny", device="cpu", seed=0, title="Demo").save(p["res"])
    with pytest.raises(book.BuildError, match="tiny profile.*--allow-tiny"):
        book.stage(p["root"], out_dir=p["out"], res_dir=p["res"], stage_dir=p["stage"])
    staged = book.stage(p["root"], out_dir=p["out"], res_dir=p["res"], stage_dir=p["stage"], allow_tiny=True)
    assert "Tiny runs" in (staged / "book" / "status.md").read_text()


def test_cli_build_refuses_tiny_results(tmp_path, monkeypatch, capsys):
    from reprobook import cli

    def refuse(**kw):
        assert kw["allow_tiny"] is False
        raise book.BuildError("the results of Demo come from the tiny profile ... --allow-tiny")

    monkeypatch.setattr(book, "build", refuse)
    assert cli.main(["build"]) == 1
    assert "--allow-tiny" in capsys.readouterr().err


def test_toc_lists_the_chapters_in_order():
    files = book.toc_files(ROOT)
    assert files[0] == "book/intro"
    assert files.index("book/sharpness/theory") < files.index("notebooks/sharpness/rwp")
    assert "book/status" in files
    for f in files:
        assert (ROOT / f"{f}.md").exists() or (ROOT / f"{f}.ipynb").exists(), f
