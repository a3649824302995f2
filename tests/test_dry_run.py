"""The dry run: a profile's configuration with every loop capped, stand-ins where the network is missing,
results that are never evidence (the record, the runner's key, the book's refusal)."""

import dataclasses
import json
from pathlib import Path

import pytest

from helpers import make_notebook
from reprobook import book, dryrun, profiles, runner
from reprobook.checks import ParameterError
from reprobook.configs import dry
from reprobook.results import load_results

# A chapter-like notebook: start() (the banner, the dry record), a config with its caps, a stand-in, a claim
CHAPTER = """
import os
from reprobook import claims, dryrun, profiles
from reprobook.notebook import start
session = start("demo_dry", profile=profile, seed=seed, device="cpu", title="Demo")
rec = session.record
cfg = profiles.config("rwp", profile)
rec.metric("n_seeds", cfg.n_seeds)
rec.metric("epochs", cfg.epochs)
rec.metric("cache", os.environ["REPROBOOK_CACHE"])
if dryrun.active():
    dryrun.note_stand_in("demo-set", "FakeData of its shape", "no network in this test")
spec = claims.ClaimSpec(key="demo", claim="a demo claim", paper="p", source="s", unit="seeds", n=6,
                        test="superiority", sesoi=0.01, sesoi_source="a stated threshold", fmt=".3f")
rec.add_claims([claims.evaluate(spec, [0.3, 0.4, 0.35, 0.32, 0.38, 0.31], [0.1, 0.2, 0.15, 0.12, 0.18, 0.11])])
rec.save()
"""


@pytest.fixture
def chapter(tmp_path):
    root = tmp_path / "notebooks"
    nb = make_notebook(root / "part" / "demo.ipynb", CHAPTER)
    return {"root": root, "nb": nb, "out": tmp_path / "executed", "res": tmp_path / "results", "tmp": tmp_path}


def _run(c, **kw):
    return runner.run([c["nb"]], root=c["root"], out_dir=c["out"], res_dir=c["res"], echo=lambda *_: None, **kw)


def test_caps_apply_only_in_a_dry_run_of_that_profile(monkeypatch):
    paper = profiles.config("rwp", "paper")
    assert paper.n_seeds > 1 and paper.epochs > 1
    monkeypatch.setenv(dryrun.ENV, "paper")
    capped = profiles.config("rwp", "paper")
    assert capped.n_seeds == 1 and capped.epochs == 1
    assert capped.n_train <= dry.MAX_STEPS * capped.batch_size and capped.n_test <= dry.MAX_ITEMS
    # what the paper's configuration fixes stays: model, batch size, optimiser, data
    for name in ("model", "model_kwargs", "batch_size", "lr", "weight_decay", "dataset", "methods", "gamma", "rho"):
        assert getattr(capped, name) == getattr(paper, name), name
    assert profiles.config("rwp", "paper", dry=False) == paper  # the paper's own values, for quoting
    assert profiles.config("rwp", "smoke") == profiles.config("rwp", "smoke", dry=False)  # another profile: uncapped


def test_every_cap_names_a_field_and_every_chapter_has_caps():
    for name, spec in profiles._chapters().items():
        fields = {f.name for f in dataclasses.fields(spec.config_class)}
        assert name in dry.CAPS, f"chapter {name} declares no dry-run caps in reprobook.configs.dry"
        assert not dry.unknown_caps(name, fields), f"{name}: caps on fields its configuration lacks"


def test_the_stand_ins_share_one_width_and_depth():
    from reprobook.llm.loading import STAND_IN_SIZE

    assert dry.LM_SIZE[:2] == (STAND_IN_SIZE["hidden"], STAND_IN_SIZE["layers"])


@pytest.mark.parametrize("chapter", sorted(dry.CAPS))
def test_caps_never_raise_a_value_and_leave_one_seed(chapter, monkeypatch):
    base = profiles.config(chapter, "paper", dry=False)
    monkeypatch.setenv(dryrun.ENV, "1")
    capped = profiles.config(chapter, "paper")
    for f in dataclasses.fields(base):
        a, b = getattr(base, f.name), getattr(capped, f.name)
        if isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(b, (int, float)):
            assert b <= a, f"{chapter}.{f.name}: the cap raised {a} to {b}"
    for name in ("n_seeds", "n_classifiers"):
        if hasattr(capped, name):
            assert getattr(capped, name) == 1


def test_overrides_of_the_run_profile_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(
        profiles.OVERRIDES_ENV, json.dumps({"smoke": {"rwp": {"n_seeds": 12, "methods": ["sgd", "rwp"]}}})
    )
    cfg = profiles.config("rwp", "smoke")
    assert cfg.n_seeds == 12 and cfg.methods == ("sgd", "rwp")
    assert profiles.config("rwp", "paper").n_seeds != 12  # only the run's profile
    assert profiles.config("rwp", "smoke", n_seeds=3).n_seeds == 3  # an explicit override wins
    monkeypatch.setenv(profiles.OVERRIDES_ENV, "[1, 2]")
    with pytest.raises(ParameterError, match=profiles.OVERRIDES_ENV):
        profiles.config("rwp", "smoke")


def test_overrides_are_checked_before_any_work(chapter):
    with pytest.raises(ParameterError, match="rwp.n_sedes"):
        _run(chapter, overrides={"rwp": {"n_sedes": 3}})
    with pytest.raises(ParameterError, match="'chapter'"):
        _run(chapter, overrides={"nope": {"n_seeds": 3}})
    assert not chapter["out"].exists()


def test_cli_parses_chapter_field_overrides():
    from reprobook.cli import parse_overrides

    assert parse_overrides([["rwp.n_seeds", "12"], ["rwp.methods", "[sgd, rwp]"]]) == {
        "rwp": {"n_seeds": 12, "methods": ["sgd", "rwp"]}
    }
    with pytest.raises(ParameterError, match="CHAPTER.FIELD"):
        parse_overrides([["n_seeds", "3"]])


def test_a_dry_run_is_marked_everywhere_and_never_taken_for_a_real_run(chapter, monkeypatch):
    monkeypatch.setenv("REPROBOOK_CACHE", str(chapter["tmp"] / "cache"))
    dry_out = _run(chapter, params={"profile": "paper"}, dry_run=True)
    assert [o.status for o in dry_out] == ["ok"], dry_out[0].error
    assert dry_out[0].dry_run and dry_out[0].budget == dry.BUDGET_SECONDS
    saved = json.loads((chapter["res"] / "demo_dry.json").read_text())
    assert saved["dry_run"] is True and saved["metrics"]["n_seeds"] == 1 and saved["metrics"]["epochs"] == 1
    assert saved["claims"][0]["verdict"].startswith("not comparable")
    assert saved["claims"][0]["reason"] in ("dry run", "no variation; dry run")  # one seed: no spread
    assert saved["metrics"]["dry_run_stand_ins"][0]["what"] == "demo-set"
    # its checkpoints go to a scratch cache that shares the data
    assert saved["metrics"]["cache"].endswith("scratch/dry-run")
    assert (chapter["tmp"] / "cache" / "scratch" / "dry-run" / "data").is_symlink()
    executed = (chapter["out"] / "part" / "demo.ipynb").read_text()
    assert "DRY RUN: not evidence" in executed and "DRY RUN stand-in: demo-set" in executed
    runs = runner.read_runs(chapter["out"])
    assert runs["part/demo"]["dry_run"] is True and "paper dry" in runs["part/demo"]["cold"]
    table = runner.format_table(dry_out, runs=runs)
    assert "paper dry" in table and f"{dry.BOOK_GOAL_SECONDS / 60:.0f} min" in table
    # the same notebook and parameters, dry and real, are different runs; each is skipped only by itself
    assert [o.status for o in _run(chapter, params={"profile": "paper"}, dry_run=True)] == ["skipped"]
    real = _run(chapter, params={"profile": "paper"})
    assert [o.status for o in real] == ["ok"] and not real[0].dry_run
    saved = json.loads((chapter["res"] / "demo_dry.json").read_text())
    assert saved["dry_run"] is False and saved["metrics"]["n_seeds"] > 1
    assert not saved["claims"][0]["verdict"].startswith("not comparable (dry")
    assert "DRY RUN" not in (chapter["out"] / "part" / "demo.ipynb").read_text()
    assert [o.status for o in _run(chapter, params={"profile": "paper"}, dry_run=True)] == ["ok"]


def test_dry_runs_go_to_their_own_folders_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("REPROBOOK_EXECUTED", str(tmp_path / "executed"))
    monkeypatch.setenv("REPROBOOK_RESULTS", str(tmp_path / "results"))
    called = {}
    monkeypatch.setattr(runner, "ensure_kernel", lambda: called.setdefault("kernel", True))
    runner.run([], params={"profile": "paper"}, dry_run=True, echo=lambda *_: None)
    assert (tmp_path / "executed" / runner.DRY_RUN_FOLDER).is_dir()
    assert (tmp_path / "results" / runner.DRY_RUN_FOLDER).is_dir()


def test_the_book_refuses_dry_results_unless_asked(tmp_path):
    results = [{"chapter": "demo", "title": "Demo", "profile": "paper", "dry_run": True}]
    runs = {"part/demo": {"profile": "paper", "status": "ok", "dry_run": True}}
    assert book.dry_runs(results, runs) == ["Demo", "part/demo"]
    assert book.dry_runs([{"chapter": "x", "profile": "smoke"}], {"a": {"status": "ok"}}) == []
    out, res = tmp_path / "executed", tmp_path / "results"
    res.mkdir()
    (res / "demo.json").write_text(
        json.dumps({**results[0], "claims": [], "checks": [], "metrics": {}, "provenance": {}})
    )
    root = tmp_path / "root"
    (root / "book").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (root / "_config.yml").write_text("title: t\n")
    with pytest.raises(book.BuildError, match="dry run.*--allow-dry-run"):
        book.stage(root, out_dir=out, res_dir=res, stage_dir=tmp_path / "stage")


def test_start_in_a_dry_run_marks_the_record_and_shows_the_banner(monkeypatch, capsys):
    import torch

    from reprobook.notebook import start

    threads = torch.get_num_threads()
    try:
        monkeypatch.setenv(dryrun.ENV, "paper")
        session = start("rwp", profile="paper", seed=0, device="cpu")
        assert session.record.dry_run
        banner = capsys.readouterr().out
        assert "DRY RUN: not evidence" in banner and "`n_seeds` = 1" in banner
        assert not start("rwp", profile="smoke", seed=0, device="cpu").record.dry_run  # another profile
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------------ the book, dry
# Every chapter's paper-profile path, dry: each notebook reaches its claims table, every tested claim reads
# "not comparable (dry run)", and the book refuses the results. The slow part of the suite (about a minute per
# chapter on a 2-core CPU, dry.BOOK_GOAL_SECONDS for the book), in two halves of the book, one run per class:
# `make test`'s pytest-xdist workers (--dist loadscope: a class or a module at a time) take one each.
ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 300  # seconds: a cell that hangs fails its chapter instead of the suite


def _notebooks(parts: tuple[str, ...]) -> list[Path]:
    return [p for p in runner.discover(ROOT / "notebooks") if p.relative_to(ROOT / "notebooks").parts[0] in parts]


def _names(paths: list[Path]) -> set[str]:
    return {p.relative_to(ROOT / "notebooks").with_suffix("").as_posix() for p in paths}


class _DryBook:
    """The dry run of the notebooks of the book's parts ``PARTS`` (folders of notebooks/)."""

    PARTS: tuple[str, ...] = ()

    @pytest.fixture(scope="class")
    @classmethod
    def dry_book(cls, request, tmp_path_factory):
        base = tmp_path_factory.mktemp("dry-book")
        out, res = base / "executed", base / "results"
        lines: list[str] = []
        outcomes = runner.run(
            _notebooks(request.cls.PARTS),
            params={"profile": "paper"},
            dry_run=True,
            out_dir=out,
            res_dir=res,
            root=ROOT / "notebooks",
            echo=lines.append,
            timeout=CELL_TIMEOUT,
        )
        print("\n".join(lines))
        print(runner.format_table(outcomes, runs=runner.read_runs(out)))
        return {"outcomes": outcomes, "out": out, "res": res, "base": base}

    @pytest.mark.slow
    def test_every_chapter_runs_its_paper_path_dry(self, dry_book):
        failed = {o.notebook: o.error for o in dry_book["outcomes"] if o.status != "ok"}
        assert not failed, (
            f"notebooks failed in the paper dry run (logs beside the executed copies in {dry_book['out']}): {failed}"
        )
        assert {o.notebook for o in dry_book["outcomes"]} == _names(_notebooks(self.PARTS)) != set()
        assert all(o.dry_run and o.profile == "paper" for o in dry_book["outcomes"])

    @pytest.mark.slow
    def test_every_dry_chapter_reaches_its_claims_table_and_no_verdict_is_evidence(self, dry_book):
        results = load_results(dry_book["res"])
        names = _names(_notebooks(self.PARTS))
        chapters = {spec.name for spec in profiles._chapters().values() if spec.notebook in names}
        assert chapters and chapters <= {r["chapter"] for r in results}
        for record in results:
            assert record["dry_run"] is True and record["profile"] == "paper", record["chapter"]
            assert record.get("claims"), f"{record['chapter']}: no claims table"
            for claim in record["claims"]:
                assert claim["verdict"] == "not comparable" and claim["reason"].endswith("dry run"), (
                    record["chapter"],
                    claim,
                )
        for outcome in dry_book["outcomes"]:
            executed = (dry_book["out"] / f"{outcome.notebook}.ipynb").read_text(encoding="utf-8")
            assert "DRY RUN: not evidence" in executed, outcome.notebook

    @pytest.mark.slow
    def test_the_book_refuses_the_dry_results(self, dry_book):
        """What `reprobook build` refuses names every chapter and notebook of the run (``book.stage`` raises on
        any: test_the_book_refuses_dry_results_unless_asked)."""
        results, runs = load_results(dry_book["res"]), runner.read_runs(dry_book["out"])
        refused = set(book.dry_runs(results, runs))
        assert {o.notebook for o in dry_book["outcomes"]} <= refused
        assert {r.get("title") or r["chapter"] for r in results} <= refused


class TestDryBookPartsIAndII(_DryBook):
    PARTS = ("sharpness", "ood")


class TestDryBookPartsIIIAndIV(_DryBook):
    PARTS = ("alignment", "rag")


def test_the_two_halves_hold_every_notebook_once():
    halves = [set(TestDryBookPartsIAndII.PARTS), set(TestDryBookPartsIIIAndIV.PARTS)]
    assert halves[0].isdisjoint(halves[1])
    assert {p.relative_to(ROOT / "notebooks").parts[0] for p in runner.discover(ROOT / "notebooks")} == halves[
        0
    ] | halves[1]
