"""The benchmark machinery on a tiny model: the table's shape, its ratios, the saved format, bad input.

These tests check how the numbers are computed and reported, never how fast anything is.
"""

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

from reprobook import benchmarks, profiles, timing
from reprobook.benchmarks import step_cost
from reprobook.checks import ParameterError
from reprobook.cli import main

TINY = dict(batch_size=4, model_kwargs={"width": 2}, image_size=8, warmup=1, repeats=3, steps_per_repeat=1)


@pytest.fixture(scope="module")
def tiny_result():
    return benchmarks.run("step-cost", device="cpu", profile="smoke", **TINY)


def test_step_cost_table_has_one_row_per_method(tiny_result):
    table = tiny_result.table
    assert table["method"].tolist() == list(step_cost.METHODS)
    assert {
        "optimizer",
        "gradients",
        "sequential_passes",
        "median_ms",
        "p25_ms",
        "p75_ms",
        "ratio_to_sgd",
        "ratio_low",
        "ratio_high",
        "cpu_ms",
        "cpu_ratio_to_sgd",
    } <= set(table.columns)
    assert (table["median_ms"] > 0).all()
    assert (table["p25_ms"] <= table["median_ms"]).all() and (table["median_ms"] <= table["p75_ms"]).all()
    assert dict(zip(table.method, table.sequential_passes)) == {
        "sgd": 1,
        "sam": 2,
        "rwp": 2,
        "rwp-batched": 1,
        "sgd-double-batch": 1,
        "mrwp": 2,
        "arwp": 1,
        "marwp": 2,
    }


def test_operator_calls_count_forward_backward_and_update(tiny_result):
    calls = dict(zip(tiny_result.table.method, tiny_result.table.operator_calls))
    # two forward-backward passes issue more calls than one; SAM and RWP both have two
    assert calls["sam"] > 1.5 * calls["sgd"] and calls["rwp"] > 1.5 * calls["sgd"]
    # a plain linear model: one step of SGD by hand, counted
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3), torch.tensor([0, 1, 0, 1])

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    n = step_cost.count_operator_calls(step)
    # forward (addmm, log_softmax, nll_loss) + backward + the update: more than a handful, far fewer than 100
    assert 8 <= n < 100
    assert step_cost.count_operator_calls(lambda: None) == 0


def test_ratio_is_time_over_sgd_time_round_by_round(tiny_result):
    rounds = {m: np.array(v) for m, v in tiny_result.settings["rounds_ms"].items()}
    assert all(len(v) == TINY["repeats"] == tiny_result.settings["rounds_run"] for v in rounds.values())
    for row in tiny_result.table.itertuples():
        per_round = rounds[row.method] / rounds["sgd"]
        assert row.ratio_to_sgd == pytest.approx(float(np.median(per_round)))
        assert row.ratio_low == pytest.approx(float(np.percentile(per_round, 25)))
        assert row.median_ms == pytest.approx(float(np.median(rounds[row.method])))
    sgd = tiny_result.table.set_index("method").loc["sgd"]
    assert sgd.ratio_to_sgd == 1.0 and sgd.ratio_low == 1.0 and sgd.ratio_high == 1.0 and sgd.cpu_ratio_to_sgd == 1.0
    cpu = {m: np.array(v) for m, v in tiny_result.settings["rounds_cpu_ms"].items()}
    for row in tiny_result.table.itertuples():
        assert row.cpu_ratio_to_sgd == pytest.approx(float(np.median(cpu[row.method] / cpu["sgd"])))
        assert row.cpu_ms == pytest.approx(float(np.median(cpu[row.method])))


def test_settings_and_machine_are_reported(tiny_result):
    s = tiny_result.settings
    assert s["profile"] == "smoke" and s["batch_size"] == 4 and s["input_shape"] == [4, 1, 8, 8]
    assert s["model"] == "small_cnn" and s["model_kwargs"]["width"] == 2
    assert s["torch_threads"] == torch.get_num_threads() and s["repeats"] == 3 and s["warmup"] == 1
    assert s["cpu_count"] == os.cpu_count()
    assert all(
        isinstance(s[k], float) if hasattr(os, "getloadavg") else s[k] is None
        for k in ("load_average_before", "load_average_after")
    )
    assert tiny_result.machine["device_type"] == "cpu"
    assert tiny_result.device.startswith("cpu")
    assert "git_commit" in tiny_result.machine and "torch_threads" in tiny_result.machine


def test_saved_result_round_trips_and_is_found_as_a_recording(tiny_result, tmp_path):
    path = tiny_result.save(tmp_path / "book" / "measurements" / "step-cost-test.json")
    json.loads(path.read_text())  # plain JSON
    loaded = benchmarks.BenchResult.load(path)
    pd.testing.assert_frame_equal(loaded.table, tiny_result.table, check_dtype=False)
    assert loaded.settings["rounds_ms"].keys() == tiny_result.settings["rounds_ms"].keys()
    found = benchmarks.recorded("step-cost", root=tmp_path)
    assert [r.name for r in found] == ["step-cost"] and found[0].device == tiny_result.device
    assert benchmarks.recorded("step-cost", root=tmp_path / "elsewhere") == []


def test_a_subset_of_methods_keeps_its_order():
    table, used = step_cost.measure(torch.device("cpu"), "smoke", **{**TINY, "methods": ["arwp", "sgd"], "repeats": 1})
    assert table["method"].tolist() == ["arwp", "sgd"] and used["methods"] == ["arwp", "sgd"]


@pytest.mark.parametrize(
    "settings, parameter",
    [
        (dict(methods=["sgd", "adam"]), "methods"),
        (dict(methods=["sam", "rwp"]), "methods"),
        (dict(methods="sgd"), "methods"),
        (dict(repeats=0), "repeats"),
        (dict(batch_size=2.5), "batch_size"),
        (dict(warmup=-1), "warmup"),
        (dict(time_budget=0), "time_budget"),
        (dict(speed="fast"), "speed"),
    ],
)
def test_bad_settings_name_the_parameter(settings, parameter):
    with pytest.raises(ParameterError, match=f"'{parameter}'") as info:
        step_cost.measure(torch.device("cpu"), "smoke", **settings)
    assert "allowed" in str(info.value)


def test_bad_benchmark_names_and_profiles():
    with pytest.raises(ParameterError, match="'benchmark'.*'step-cost'"):
        benchmarks.run("step_cost")
    with pytest.raises(ParameterError, match="'profile'"):
        benchmarks.run("step-cost", profile="huge")
    with pytest.raises(ParameterError, match="'benchmark'"):
        benchmarks.recorded("nope")


def test_cli_lists_and_rejects(capsys):
    assert main(["bench", "--list"]) == 0
    assert "step-cost" in capsys.readouterr().out
    assert main(["bench", "no-such-benchmark"]) == 2
    assert "allowed" in capsys.readouterr().err


def test_cli_settings_reach_the_measurement(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REPROBOOK_RESULTS", str(tmp_path))
    argv = [
        "bench",
        "step-cost",
        "--profile",
        "tiny",
        "--device",
        "cpu",
        "--set",
        "methods",
        "[sgd, arwp]",
        "--set",
        "batch_size",
        "2",
        "--set",
        "model_kwargs",
        "{width: 2}",
        "--set",
        "repeats",
        "3",
    ]
    assert main(argv) == 0
    saved = benchmarks.BenchResult.load(tmp_path / "bench" / "step-cost-cpu.json")
    assert list(saved.table.method) == ["sgd", "arwp"]
    assert saved.settings["batch_size"] == 2 and saved.settings["model_kwargs"]["width"] == 2
    assert saved.settings["rounds_run"] == 3
    capsys.readouterr()
    # a setting the benchmark does not have is named, with the allowed ones; two benchmarks take no --set
    assert main(["bench", "step-cost", "--profile", "tiny", "--set", "speed", "fast"]) == 2
    assert "'speed'" in capsys.readouterr().err
    assert main(["bench", "step-cost", "ood-throughput", "--set", "repeats", "3"]) == 2
    assert "'names'" in capsys.readouterr().err
    assert main(["bench", "step-cost", "--set", "device", "cuda"]) == 2
    assert "--device" in capsys.readouterr().err


def test_paired_ratio_and_ratio_interval():
    rounds = {"sgd": [10.0, 20.0, 10.0], "sam": [20.0, 40.0, 25.0]}
    r = step_cost.paired_ratio(rounds, "sam", "sgd")
    assert r["median"] == 2.0 and r["low"] == 2.0 and r["high"] == 2.25
    with pytest.raises(ParameterError, match="'method'"):
        step_cost.paired_ratio(rounds, "rwp", "sgd")
    # three rounds are too few for a 95 % interval of the median: the range, with its lower coverage
    interval = timing.ratio_interval(rounds, "sam")
    assert (interval["low"], interval["median"], interval["high"]) == (2.0, 2.0, 2.5)
    assert interval["coverage"] == pytest.approx(0.75) and interval["n"] == 3
    assert timing.goal_reading(interval, 2.0) == "not settled"
    with pytest.raises(ParameterError, match="'goal'"):
        timing.goal_reading(interval, 0.0)


def test_the_tiny_profile_times_every_method_quickly():
    table, used = step_cost.measure(torch.device("cpu"), "tiny", batch_size=4, model_kwargs={"width": 2})
    assert table["method"].tolist() == list(step_cost.METHODS)
    assert used["repeats"] == step_cost.TIMING["tiny"]["repeats"] == used["rounds_run"]
    assert used["model_kwargs"]["downsample"] == profiles.config("step_cost", "tiny").model_kwargs["downsample"]


def test_time_budget_stops_starting_rounds_after_the_minimum():
    _, used = step_cost.measure(
        torch.device("cpu"), "smoke", **{**TINY, "methods": ["sgd"], "repeats": 10, "time_budget": 1e-9}
    )
    assert used["rounds_run"] == step_cost.MIN_ROUNDS == len(used["rounds_ms"]["sgd"])


def test_cpu_jobs_times_each_workload_three_ways():
    """The table's shape and arithmetic (not its speeds): every workload alone on every core, on one thread, and
    in processes side by side, each throughput relative to the first way."""
    from reprobook.benchmarks import cpu_jobs

    result = benchmarks.run("cpu-jobs", device="cpu", profile="tiny", repeats=2, warmup=0)
    table = result.table
    assert table["workload"].tolist() == [w for w in cpu_jobs.WORKLOADS for _ in range(3)]
    assert table.groupby("workload")["throughput vs every core"].first().eq(1.0).all()
    side = table[table["processes"] > 1]
    assert (side["processes"] == result.settings["jobs"]).all() and result.settings["jobs"] <= (os.cpu_count() or 1)
    # units per second of processes side by side: the sum over the processes of 1 / their median seconds
    assert (side["units per s"] >= side["processes"] / side["median s per unit"] * 0.5).all()
    assert np.allclose(
        table["throughput vs every core"],
        table["units per s"] / table.groupby("workload")["units per s"].transform("first"),
    )
    with pytest.raises(ParameterError, match="'workloads'"):
        benchmarks.run("cpu-jobs", device="cpu", profile="tiny", workloads=("gpu step",))


def test_machine_says_whether_the_cpu_multiplies_bfloat16_natively(tmp_path, monkeypatch):
    import builtins

    from reprobook import benchmarks

    info = benchmarks.machine(torch.device("cpu"))
    assert info["cpu_bf16"] is None or set(info["cpu_bf16"]) <= set(benchmarks.BF16_FLAGS)
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 amx_tile amx_bf16\n")
    real_open = builtins.open
    monkeypatch.setattr(
        builtins, "open", lambda path, *a, **k: real_open(fake if path == "/proc/cpuinfo" else path, *a, **k)
    )
    assert benchmarks.cpu_bf16_flags() == ["amx_bf16", "amx_tile"]
    fake.write_text("flags\t\t: fpu sse2 avx2\n")
    assert benchmarks.cpu_bf16_flags() == []
