"""The papermill runner: parameter checks, atomic promotion, skipping, failure isolation."""

import json

import pytest

from helpers import make_notebook
from reprobook import runner
from reprobook.profiles import ParameterError

WRITES_RESULT = """
import os
from reprobook.results import RunRecord
rec = RunRecord("{name}", profile=profile, device="cpu", seed=seed)
rec.metric("seed_seen", seed)
rec.metric("cuda_visible_devices", os.environ.get("CUDA_VISIBLE_DEVICES"))
rec.metric("threads", os.environ.get("REPROBOOK_THREADS"))
rec.save()
if seed == 13:
    raise RuntimeError("seed 13 is unlucky")
"""


@pytest.fixture
def book(tmp_path):
    nb_root = tmp_path / "notebooks"
    good = make_notebook(nb_root / "part" / "good.ipynb", WRITES_RESULT.format(name="good"))
    other = make_notebook(nb_root / "part" / "other.ipynb", WRITES_RESULT.format(name="other"))
    return {"root": nb_root, "good": good, "other": other, "out": tmp_path / "executed", "res": tmp_path / "results"}


def _run(book, notebooks, **kw):
    return runner.run(
        notebooks, root=book["root"], out_dir=book["out"], res_dir=book["res"], echo=lambda *_: None, **kw
    )


def test_notebook_parameters_are_read(book):
    assert runner.notebook_parameters(book["good"]) == {
        "profile": "smoke",
        "seed": 0,
        "device": "auto",
        "data_dir": None,
    }


def test_run_promotes_notebook_and_results_then_skips(book):
    first = _run(book, [book["good"]], params={"seed": 2})
    assert [o.status for o in first] == ["ok"]
    assert first[0].results == ["good.json"]
    assert (book["out"] / "part" / "good.ipynb").exists()
    assert json.loads((book["res"] / "good.json").read_text())["metrics"]["seed_seen"] == 2
    assert not list(book["res"].glob(".staging-*"))
    second = _run(book, [book["good"]], params={"seed": 2})
    assert [o.status for o in second] == ["skipped"]
    forced = _run(book, [book["good"]], params={"seed": 2}, force=True)
    assert [o.status for o in forced] == ["ok"]
    changed = _run(book, [book["good"]], params={"seed": 3})  # new parameters: not skipped
    assert [o.status for o in changed] == ["ok"]


def test_failed_run_keeps_last_good_copy_and_others_go_on(book):
    _run(book, [book["good"]], params={"seed": 1})
    good_copy = (book["out"] / "part" / "good.ipynb").read_bytes()
    good_result = (book["res"] / "good.json").read_text()
    outcomes = _run(book, [book["good"], book["other"]], params={"seed": 13})
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert "unlucky" in outcomes[0].error
    assert (book["out"] / "part" / "good.ipynb").read_bytes() == good_copy
    assert (book["res"] / "good.json").read_text() == good_result  # the failed run's results were discarded
    assert (book["out"] / "part" / "good.failed.ipynb").exists()
    runs = runner.read_runs(book["out"])
    assert runs["part/good"]["status"] == "ok" and "last_failure" in runs["part/good"]
    # the second notebook ran although the first failed
    assert (book["out"] / "part" / "other.failed.ipynb").exists()
    # a later good run clears the failed copy
    _run(book, [book["good"]], params={"seed": 4})
    assert not (book["out"] / "part" / "good.failed.ipynb").exists()


@pytest.mark.parametrize(
    "params, name",
    [
        ({"sed": 1}, "sed"),
        ({"seed": "one"}, "seed"),
        ({"seed": -1}, "seed"),
        ({"profile": "huge"}, "profile"),
        ({"device": "gpu"}, "device"),
    ],
)
def test_bad_parameters_stop_before_any_work(book, params, name):
    with pytest.raises(ParameterError) as err:
        _run(book, [book["good"], book["other"]], params=params)
    assert err.value.name == name
    assert "allowed" in str(err.value)
    assert not book["out"].exists()


def test_resolve_names(book):
    assert runner.resolve(["part/good"], root=book["root"]) == [book["good"]]
    assert runner.resolve(["other"], root=book["root"]) == [book["other"]]
    with pytest.raises(ParameterError, match="'notebook'.*part/good"):
        runner.resolve(["missing"], root=book["root"])


def test_cli_values_are_yaml_scalars():
    assert runner.parse_cli_value("3") == 3
    assert runner.parse_cli_value("0.5") == 0.5
    assert runner.parse_cli_value("true") is True
    assert runner.parse_cli_value("cuda") == "cuda"


def test_cli_reports_bad_profile(capsys):
    from reprobook.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--profile", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_cli_reports_unknown_parameter(capsys):
    from reprobook.cli import main

    assert main(["run", "sharpness/rwp", "-p", "epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert "'epochs'" in err and "profile, seed, device, data_dir" in err


def test_cli_profile_flag_and_parameter_must_agree(capsys):
    from reprobook.cli import main

    assert main(["run", "sharpness/rwp", "--profile", "smoke", "-p", "profile", "paper"]) == 2
    assert "'profile'" in capsys.readouterr().err


def test_table_checks_each_chapter_against_its_own_budget_and_sums_them():
    from reprobook.profiles import budget_seconds

    rwp, kpca = budget_seconds("sharpness/rwp", "smoke"), budget_seconds("ood/kpca", "smoke")
    rows = [
        runner.RunOutcome("sharpness/rwp", "ok", "smoke", seconds=rwp + 1),
        runner.RunOutcome("ood/kpca", "ok", "smoke", seconds=1.0),
    ]
    lines = runner.format_table(rows).splitlines()
    assert "OVER" in lines[2] and f"{rwp:.0f}" in lines[2]
    assert "within" in lines[3] and f"{kpca:.0f}" in lines[3]
    total = next(line for line in lines if line.startswith("total"))
    assert f"{rwp + 2:.1f}" in total and f"{rwp + kpca:.0f}" in total
    assert "45 min" in lines[-1] and lines[-1].endswith("within)")  # the whole smoke book's goal, and the run's
    over = runner.format_table([runner.RunOutcome("sharpness/rwp", "ok", "smoke", seconds=46 * 60.0)]).splitlines()
    assert "46.0 min, OVER" in over[-1]  # a run over the whole book's goal says so
    tiny = runner.format_table([runner.RunOutcome("sharpness/rwp", "ok", "tiny", seconds=61.0)]).splitlines()
    assert "60" in tiny[2] and "OVER" in tiny[2]  # the tiny profile's budget
    paper = runner.format_table([runner.RunOutcome("sharpness/rwp", "ok", "paper", seconds=1e4)]).splitlines()
    assert "OVER" not in paper[2] and "within" not in paper[2]  # no budget at paper scale


def test_run_orders_producers_before_the_chapters_that_need_them():
    from reprobook.profiles import chapter_of_notebook

    root = runner.notebooks_dir()
    consumer = chapter_of_notebook("sharpness/marwp")
    producers = [
        n
        for n in ("sharpness/rwp",)
        if chapter_of_notebook(n) and set(chapter_of_notebook(n).produces) & set(consumer.needs)
    ]
    assert producers, "the m-ARWP chapter needs what the RWP chapter produces"
    order = [runner.chapter_name(p, root) for p in runner.ordered(runner.discover(root), root)]
    assert order.index("sharpness/rwp") < order.index("sharpness/marwp")


def test_a_run_logs_every_cell_records_its_budget_and_cold_time(book):
    (outcome,) = _run(book, [book["good"]], params={"profile": "tiny"})
    log = (book["out"] / "part" / "good.log").read_text()
    assert outcome.log == str(book["out"] / "part" / "good.log")
    assert "Executing Cell 3" in log and "Ending Cell 3" in log and "finished in" in log
    assert outcome.budget == 60 and outcome.checkpoints == {"loaded": 0, "trained": 0} and outcome.cold
    runs = runner.read_runs(book["out"])
    assert runs["part/good"]["cold"]["tiny"]["seconds"] == outcome.seconds
    assert "last cold s" in runner.format_table([outcome], runs=runs)


def test_a_failed_run_keeps_its_log(book):
    _run(book, [book["good"]], params={"seed": 13})
    log = (book["out"] / "part" / "good.log").read_text()
    assert "FAILED after" in log and "unlucky" in log
