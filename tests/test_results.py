import json

import numpy as np
import pytest

from reprobook import claims
from reprobook.claims import mean_std
from reprobook.results import RunRecord, atomic_write_text, load_results


def test_record_round_trip(tmp_path):
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=3, title="Demo")
    rec.glue("acc", np.float32(0.5))
    rec.metric("curve", np.arange(3))
    with rec.timer("train"):
        pass
    spec = claims.ClaimSpec("xy", "X beats Y", "1.0", "Table 1", "seeds", 3, "superiority", 0.1, "a stated threshold")
    rec.add_claims([claims.evaluate(spec, [0.2, 0.1, 0.15], [0.5, 0.6, 0.55], scale="tiny")])
    path = rec.save(tmp_path)
    saved = json.loads(path.read_text())
    assert saved["metrics"] == {"acc": 0.5, "curve": [0, 1, 2]}
    assert saved["claims"][0]["verdict"] == "contradicted" and saved["claims"][0]["power"] is not None
    assert saved["provenance"]["device"].startswith("cpu")
    assert saved["provenance"]["libraries"]["torch"]
    assert saved["provenance"]["threads"] == __import__("torch").get_num_threads()
    assert saved["provenance"]["cpu_capability"] == __import__("torch").backends.cpu.get_cpu_capability()
    assert "train" in saved["timings"]
    assert [r["chapter"] for r in load_results(tmp_path)] == ["demo"]


def test_claims_are_claim_tests_added_once():
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    with pytest.raises(ValueError, match="'tests'.*ClaimTest"):
        rec.add_claims([{"claim": "c", "verdict": "yes"}])
    spec = claims.ClaimSpec("k", "c", "p", "s", "", None, "none", untestable="one device")
    with pytest.raises(ValueError, match="'tests'.*distinct keys"):
        rec.add_claims([claims.evaluate(spec), claims.evaluate(spec)])
    rec.add_claims([claims.evaluate(spec)])
    rec.add_claims([claims.evaluate(spec)])  # a re-run cell replaces, never duplicates
    assert len(rec.claims) == 1


def test_tiny_and_dry_runs_are_never_evidence():
    spec = claims.ClaimSpec("xy", "X beats Y", "1.0", "Table 1", "seeds", 3, "superiority", 0.1, "a stated threshold")
    test = claims.evaluate(spec, [1.0, 1.1, 1.2], [0.0, 0.1, 0.1])
    tiny = RunRecord("demo", profile="tiny", device="cpu", seed=0)
    assert tiny.add_claims([test])[0]["reason"] == "tiny run"
    dry = RunRecord("demo", profile="paper", device="cpu", seed=0, dry_run=True)
    row = dry.add_claims([test])[0]
    assert row["verdict"] == "not comparable" and row["reason"] == "dry run" and row["estimate"] is not None


def test_nan_is_stored_as_null(tmp_path):
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    rec.metric("x", float("nan"))
    assert json.loads(rec.save(tmp_path).read_text())["metrics"]["x"] is None


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    atomic_write_text(target, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def test_mean_std_against_numpy():
    values = [0.81, 0.79, 0.86]
    mean, std = mean_std(values)
    assert mean == pytest.approx(np.mean(values))
    assert std == pytest.approx(np.std(values, ddof=1))
    assert mean_std([2.0]) == (2.0, 0.0)


def test_glue_turns_array_scalars_into_python_numbers():
    import torch

    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    assert type(rec.glue("a", np.float64(1.5))) is float
    assert type(rec.glue("b", torch.tensor(3))) is int


def test_glue_table_glues_each_cell_under_its_row_and_column():
    import pandas as pd

    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    frame = pd.DataFrame(
        {"AUROC": [0.91, np.float64(0.8)], "FPR95 ↓": [0.2, 0.35], "": [1, 2]},
        index=pd.Index(["CoP + MSP", "KNN"], name="detector"),
    )
    assert rec.glue_table("kpca", frame, fmt={"AUROC": ".1%"}) is frame
    assert rec.metrics == {
        "kpca_cop_msp_auroc": 0.91,
        "kpca_cop_msp_fpr95": 0.2,
        "kpca_cop_msp": 1,
        "kpca_knn_auroc": 0.8,
        "kpca_knn_fpr95": 0.35,
        "kpca_knn": 2,
    }
    assert str(rec.glued["kpca_knn_auroc"]) == "80.0%" and str(rec.glued["kpca_knn_fpr95"]) == "0.35"
    assert type(rec.metrics["kpca_knn_auroc"]) is float
    rec.glue_table("n", pd.Series({"train": 1000, "OoD sets": 4}), fmt=",")
    assert str(rec.glued["n_train"]) == "1,000" and rec.metrics["n_ood_sets"] == 4
    # formats per cell, column or row (the most specific applies), by default from the table's attrs
    cost = pd.DataFrame({"knn": [12.34, 0.512], "cop": [0.0123, -0.0456]}, index=["us", "slope"])
    cost.attrs["fmt"] = {"us": ".1f", "slope": ".2f", ("us", "cop"): ".3f"}
    rec.glue_table("tp", cost)
    assert [str(rec.glued[n]) for n in ("tp_us_knn", "tp_us_cop", "tp_slope_knn", "tp_slope_cop")] == [
        "12.3",
        "0.012",
        "0.51",
        "-0.05",
    ]


def test_glue_table_refuses_cells_that_give_one_name_or_no_identifier():
    import pandas as pd

    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    with pytest.raises(ValueError, match="'table'.*'x_co_p'"):
        rec.glue_table("x", pd.Series({"Co-P": 1, "co p": 2}))
    with pytest.raises(ValueError, match="'table'.*identifier"):
        rec.glue_table("my-chapter", pd.Series({"a": 1}))
    with pytest.raises(ValueError, match="'table'.*DataFrame or Series"):
        rec.glue_table("x", {"a": 1})


def test_glue_result_formats_a_facts_field_by_one_source():
    from dataclasses import dataclass

    import pandas as pd

    from reprobook.results import facts, glued

    @dataclass
    class Result:
        facts: pd.Series = glued()

    @dataclass
    class Fixed:
        facts: pd.Series = glued(".2f")

    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    rec.glue_result(Result(facts({"share": ".0%"}, n=1200, share=0.25)), "c")
    assert (str(rec.glued["c_n"]), str(rec.glued["c_share"])) == ("1200", "25%")
    rec.glue_result(Fixed(facts(None, a=1.234)), "d")
    assert str(rec.glued["d_a"]) == "1.23"
    with pytest.raises(ValueError, match="'facts'.*one format source"):
        rec.glue_result(Fixed(facts({"a": ".0%"}, a=0.5)), "e")
    # a table field that got something else (an argument in the wrong place) is refused, not glued as one value
    with pytest.raises(ValueError, match="'facts'.*pandas Series.*Result"):
        rec.glue_result(Result(1.5), "f")


def test_provenance_names_the_commit_given_by_the_environment(monkeypatch):
    from reprobook.results import provenance

    monkeypatch.setenv("REPROBOOK_GIT_COMMIT", "0123456789ab")
    assert provenance("cpu")["git_commit"] == "0123456789ab"
    monkeypatch.delenv("REPROBOOK_GIT_COMMIT")
    assert provenance("cpu")["git_commit"] != "0123456789ab"


def test_checks_are_recorded_and_a_rerun_replaces_them(tmp_path):
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    first = rec.check("noise scale", np.bool_(True), "largest relative gap 2.1%")
    assert first.passed is True and str(first) == "passed: noise scale (largest relative gap 2.1%)"
    rec.check("step count", 3 == 4, "3 of 4 operator calls")
    rec.check("noise scale", False, "rerun")  # the same check again replaces the first
    saved = json.loads(rec.save(tmp_path).read_text())
    assert saved["checks"] == [
        {"name": "step count", "passed": False, "detail": "3 of 4 operator calls", "paper": ""},
        {"name": "noise scale", "passed": False, "detail": "rerun", "paper": ""},
    ]
    assert saved["checkpoints"] == {"loaded": 0, "trained": 0}
    with pytest.raises(ValueError, match="'name'"):
        rec.check("", True)
    with pytest.raises(ValueError, match="'detail'"):
        rec.check("x", True, detail=3)


@pytest.fixture
def shell():
    """An IPython shell, as in a kernel: RunRecord glues into it."""
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    yield sh
    InteractiveShell.clear_instance()


def test_glue_binds_the_formatted_value_for_jupyterlabs_eval(shell):
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    rec.glue("demo_acc", 0.91234, fmt=".1%")
    rec.glue("demo_n", 500)
    assert repr(shell.user_ns["demo_acc"]) == "91.2%" and str(shell.user_ns["demo_n"]) == "500"
    assert format(shell.user_ns["demo_acc"], ".3f") == "0.912"  # {eval}`format(demo_acc, ".3f")`
    # what an inline expression in JupyterLab receives
    assert shell.user_expressions({"e": "demo_acc"})["e"]["data"]["text/plain"] == "91.2%"
    rec.glue("demo_acc", 0.5, fmt=".0%")  # a re-run cell rebinds its own glued value
    assert str(shell.user_ns["demo_acc"]) == "50%"


def test_glue_refuses_a_name_the_notebook_uses_for_a_variable(shell):
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    shell.user_ns["n_draws"] = 500
    with pytest.raises(ValueError, match="'n_draws'.*no variable of the notebook"):
        rec.glue("n_draws", 500)
    assert shell.user_ns["n_draws"] == 500
    with pytest.raises(ValueError, match="'demo-acc'.*identifier"):
        rec.glue("demo-acc", 1.0)


def test_a_glued_figure_shows_as_an_image_of_its_own_size(shell):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1])
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    rec.figure("demo_fig", fig)
    html = shell.user_expressions({"f": "demo_fig"})["f"]["data"]["text/html"]
    assert html.startswith('<img src="data:image/png;base64,') and "height:auto" in html


@pytest.mark.parametrize(
    "value, fmt, shown",
    [(22746, ",", "22,746"), (0.35, ".3f", "0.350"), (0.183, "+.3f", "+0.183"), ("a, b", None, "a, b"), (3, None, "3")],
)
def test_the_book_shows_the_glued_text_as_formatted(shell, value, fmt, shown):
    """MyST-NB literal-evaluates glued text: what it renders must be the formatted value, not a tuple or a float."""
    from myst_nb.core.variables import format_plain_text

    captured = {}
    shell.display_pub.publish = lambda data, metadata=None, **kw: captured.update(data)
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    rec.glue("demo_value", value, fmt=fmt)
    text = next(v for k, v in captured.items() if k.endswith("text/plain"))  # glue's record of the value
    assert format_plain_text(text, "") == shown
