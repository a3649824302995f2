"""The papermill runner: parameter checks, atomic promotion, skipping, failure isolation."""

import json

import pytest

from helpers import make_notebook
from reprobook import runner
from reprobook.profiles import ParameterError

WRITES_RESULT = """
from reprobook.results import RunRecord
rec = RunRecord("{name}", profile=profile, device="cpu", seed=seed)
rec.metric("seed_seen", seed)
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
    return runner.run(notebooks, root=book["root"], out_dir=book["out"], res_dir=book["res"], echo=lambda *_: None, **kw)


def test_notebook_parameters_are_read(book):
    assert runner.notebook_parameters(book["good"]) == {"profile": "smoke", "seed": 0, "device": "auto", "data_dir": None}


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


@pytest.mark.parametrize("params, name", [
    ({"sed": 1}, "sed"),
    ({"seed": "one"}, "seed"),
    ({"seed": -1}, "seed"),
    ({"profile": "huge"}, "profile"),
    ({"device": "gpu"}, "device"),
])
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


def test_table_flags_smoke_runs_over_budget():
    from reprobook.profiles import SMOKE_BUDGET_SECONDS

    rows = [runner.RunOutcome("a", "ok", "smoke", seconds=SMOKE_BUDGET_SECONDS + 1),
            runner.RunOutcome("b", "ok", "smoke", seconds=1.0),
            runner.RunOutcome("c", "ok", "paper", seconds=10_000.0)]
    lines = runner.format_table(rows).splitlines()
    assert "OVER" in lines[2] and "within" in lines[3] and "OVER" not in lines[4]
