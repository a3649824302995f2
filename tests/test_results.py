import json

import numpy as np
import pytest

from reprobook.results import RunRecord, atomic_write_text, load_results, mean_std


def test_record_round_trip(tmp_path):
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=3, title="Demo")
    rec.glue("acc", np.float32(0.5))
    rec.metric("curve", np.arange(3))
    with rec.timer("train"):
        pass
    rec.claim("X beats Y", paper="1.0", this_run="0.5", verdict="not reproduced", source="Table 1", scale="tiny")
    path = rec.save(tmp_path)
    saved = json.loads(path.read_text())
    assert saved["metrics"] == {"acc": 0.5, "curve": [0, 1, 2]}
    assert saved["claims"][0]["verdict"] == "not reproduced"
    assert saved["provenance"]["device"].startswith("cpu")
    assert saved["provenance"]["libraries"]["torch"]
    assert "train" in saved["timings"]
    assert [r["chapter"] for r in load_results(tmp_path)] == ["demo"]


def test_claim_verdict_is_checked():
    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    with pytest.raises(ValueError, match="'verdict'.*reproduced"):
        rec.claim("c", paper="", this_run="", verdict="yes", source="", scale="")


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


def test_paired_comparison_against_scipy():
    from scipy import stats

    from reprobook.results import paired_comparison, verdict_greater

    a, b = [0.90, 0.92, 0.91, 0.93], [0.88, 0.91, 0.89, 0.90]
    cmp = paired_comparison(a, b)
    assert cmp["mean_diff"] == pytest.approx(np.mean(np.subtract(a, b)))
    assert cmp["p_greater"] == pytest.approx(stats.ttest_rel(a, b, alternative="greater").pvalue)
    assert verdict_greater(cmp) == "reproduced"
    assert verdict_greater(paired_comparison(b, a)) == "not reproduced"
    noisy = paired_comparison([0.90, 0.80, 0.95], [0.85, 0.86, 0.88])
    assert noisy["mean_diff"] > 0 and verdict_greater(noisy) == "partly"
    with pytest.raises(ValueError, match="as many values as a"):
        paired_comparison([1.0], [1.0, 2.0])


def test_glue_turns_array_scalars_into_python_numbers():
    import torch

    rec = RunRecord("demo", profile="smoke", device="cpu", seed=0)
    assert type(rec.glue("a", np.float64(1.5))) is float
    assert type(rec.glue("b", torch.tensor(3))) is int


def test_provenance_names_the_commit_given_by_the_environment(monkeypatch):
    from reprobook.results import provenance

    monkeypatch.setenv("REPROBOOK_GIT_COMMIT", "0123456789ab")
    assert provenance("cpu")["git_commit"] == "0123456789ab"
    monkeypatch.delenv("REPROBOOK_GIT_COMMIT")
    assert provenance("cpu")["git_commit"] != "0123456789ab"
