"""Several notebooks at once (one GPU each) and one Slurm job per notebook (through submitit's local executor)."""

import dataclasses
import json
from concurrent.futures import Future

import pytest

from helpers import make_notebook
from reprobook import dispatch, runner
from reprobook.checks import ParameterError
from test_runner import WRITES_RESULT


@pytest.fixture
def book(tmp_path):
    nb_root = tmp_path / "notebooks"
    notebooks = [make_notebook(nb_root / "part" / f"{n}.ipynb", WRITES_RESULT.format(name=n)) for n in ("a", "b")]
    return {"root": nb_root, "notebooks": notebooks, "out": tmp_path / "executed", "res": tmp_path / "results"}


def _run(book, notebooks=None, **kw):
    lines = []
    outcomes = runner.run(
        notebooks or book["notebooks"],
        root=book["root"],
        out_dir=book["out"],
        res_dir=book["res"],
        echo=lines.append,
        params={"profile": "tiny", **kw.pop("params", {})},
        **kw,
    )
    return outcomes, lines


def _metrics(book, name):
    return json.loads((book["res"] / f"{name}.json").read_text())["metrics"]


# ------------------------------------------------------------------------------------------- jobs and devices
def test_several_jobs_take_a_gpu_each_or_share_the_cpu_cores():
    assert dispatch.check_jobs(2, None, available=[], cpu_count=2) == ["cpu", "cpu"]  # no GPU: the cores
    with pytest.raises(ParameterError, match="'jobs'.*at most 2 on this CPU"):
        dispatch.check_jobs(3, None, available=[], cpu_count=2)
    assert dispatch.check_jobs(2, ["cpu"], available=["cuda:0"], cpu_count=4) == ["cpu", "cpu"]  # asked for
    assert dispatch.check_jobs(1, ["cpu"], available=["cuda:0"], cpu_count=4) == ["cpu"]
    with pytest.raises(ParameterError, match="'jobs'.*at most 1, one per GPU.*--devices cpu"):
        dispatch.check_jobs(2, None, available=["cuda:0"], cpu_count=16)
    with pytest.raises(ParameterError, match="'jobs'.*at most 2"):
        dispatch.check_jobs(3, None, available=["cuda:0", "cuda:1"])
    with pytest.raises(ParameterError, match="'devices'.*cuda:0, cuda:1"):
        dispatch.check_jobs(2, ["cuda:0", "cuda:7"], available=["cuda:0", "cuda:1"])
    with pytest.raises(ParameterError, match="'devices'"):
        dispatch.check_jobs(2, ["gpu0", "cuda:1"], available=["cuda:0", "cuda:1"])
    with pytest.raises(ParameterError, match="'devices'.*distinct"):
        dispatch.check_jobs(2, ["cuda:1", "cuda:1"], available=["cuda:0", "cuda:1"])
    assert dispatch.check_jobs(2, ["cuda:1", "cuda:0"], available=["cuda:0", "cuda:1"]) == ["cuda:1", "cuda:0"]
    assert dispatch.check_jobs(2, None, available=["cuda:0", "cuda:1", "cuda:2"]) == ["cuda:0", "cuda:1"]
    assert dispatch.check_jobs(1) == []
    assert dispatch.check_jobs(1, ["cuda:1"], available=["cuda:0", "cuda:1"]) == ["cuda:1"]  # one notebook, one GPU


def test_jobs_auto_is_one_per_gpu_or_two_sharing_the_cores():
    assert dispatch.auto_jobs(["cuda:0", "cuda:1", "cuda:2"], 16) == 3
    assert dispatch.auto_jobs([], 2) == dispatch.CPU_JOBS == 2
    assert dispatch.auto_jobs([], 1) == 1  # never more notebooks than cores
    assert dispatch.parse_jobs("auto") == "auto" and dispatch.parse_jobs("3") == 3
    for bad in ("0", "two", "1.5", None):
        with pytest.raises(ParameterError, match="'jobs'"):
            dispatch.parse_jobs(bad)


def test_the_command_line_refuses_more_jobs_than_cores(capsys, monkeypatch):
    from reprobook.cli import main

    monkeypatch.setattr(dispatch, "visible_gpus", lambda: [])
    monkeypatch.setattr(dispatch.os, "cpu_count", lambda: 2)
    assert main(["run", "sharpness/rwp", "--jobs", "3"]) == 2
    assert "at most 2 on this CPU" in capsys.readouterr().err
    assert main(["run", "sharpness/rwp", "--jobs", "many"]) == 2
    assert "auto" in capsys.readouterr().err


def test_a_device_gets_a_gpu_and_a_share_of_the_cores():
    assert dispatch.device_environment("cuda:3", 2, 16) == {"CUDA_VISIBLE_DEVICES": "3", "REPROBOOK_THREADS": "8"}
    assert dispatch.device_environment(None, 1, 16) == {}


def test_parallel_jobs_write_what_a_sequential_run_writes(book, tmp_path):
    """Two notebooks at once, as on a machine with two GPUs (here each "GPU" is only a name)."""
    outcomes, lines = _run(book, jobs=2, devices=["cuda:0", "cuda:1"])
    assert [o.status for o in outcomes] == ["ok", "ok"]
    seen = {_metrics(book, n)["cuda_visible_devices"] for n in ("a", "b")}
    assert seen == {"0", "1"}  # one device each
    assert {_metrics(book, n)["threads"] for n in ("a", "b")} == {str(max(1, (__import__("os").cpu_count() or 1) // 2))}
    parallel = {n: json.loads((book["res"] / f"{n}.json").read_text()) for n in ("a", "b")}
    sequential_book = {**book, "out": tmp_path / "seq-executed", "res": tmp_path / "seq-results"}
    _run(sequential_book)
    for n in ("a", "b"):
        seq = json.loads((sequential_book["res"] / f"{n}.json").read_text())
        assert seq["metrics"]["seed_seen"] == parallel[n]["metrics"]["seed_seen"]
        assert seq["claims"] == parallel[n]["claims"] and seq["chapter"] == parallel[n]["chapter"]
        assert (book["out"] / "part" / f"{n}.ipynb").exists() and (book["out"] / "part" / f"{n}.log").exists()
    assert set(runner.read_runs(book["out"])) == set(runner.read_runs(sequential_book["out"])) == {"part/a", "part/b"}


def test_notebooks_sharing_the_cpu_get_a_core_each_and_are_not_held_to_their_budgets(book, tmp_path):
    outcomes, _ = _run(book, jobs=2, devices=["cpu", "cpu"])
    assert [o.status for o in outcomes] == ["ok", "ok"] and [o.jobs for o in outcomes] == [2, 2]
    cores = __import__("os").cpu_count() or 1
    assert {_metrics(book, n)["threads"] for n in ("a", "b")} == {str(max(1, cores // 2))}
    assert {_metrics(book, n)["cuda_visible_devices"] for n in ("a", "b")} == {""}  # the CPU, even beside a GPU
    runs = runner.read_runs(book["out"])
    assert {r["jobs"] for r in runs.values()} == {2}
    table = runner.format_table([dataclasses.replace(o, budget=0.001) for o in outcomes], wall_seconds=61.0)
    assert "OVER" not in table and table.count(runner.SHARED) == 3  # two rows and the total
    assert "wall clock: 1.0 min" in table
    alone, _ = _run({**book, "out": tmp_path / "alone", "res": tmp_path / "alone-res"})
    table = runner.format_table([dataclasses.replace(o, budget=0.001) for o in alone])
    assert table.count("OVER") == 3 and runner.SHARED not in table  # a notebook run alone is held to its budget


def test_parallel_slots_start_the_longest_chain_first(monkeypatch):
    budgets = {"short": 60.0, "producer": 100.0, "consumer": 300.0, "long": 350.0}
    monkeypatch.setattr(
        runner, "budget_seconds", lambda name, profile, dry=False: budgets[name] if profile == "smoke" else None
    )
    tasks = [
        dispatch.Task("short", frozenset(), {}),
        dispatch.Task("producer", frozenset(), {}),
        dispatch.Task("consumer", frozenset({"producer"}), {}),
        dispatch.Task("long", frozenset(), {}),
    ]
    # the producer's chain (100 + 300 s) outranks the longest single notebook (350 s)
    assert [t.name for t in runner.longest_first(tasks, "smoke")] == ["producer", "long", "consumer", "short"]
    # no budgets (the paper profile): the run order
    assert [t.name for t in runner.longest_first(tasks, "paper")] == ["short", "producer", "consumer", "long"]


# ------------------------------------------------------------------------------------------- the scheduler
class _Later:
    """A handle that finishes on the second poll."""

    def __init__(self, value):
        self.value, self.polls = value, 0

    def done(self):
        self.polls += 1
        return self.polls > 1

    def result(self):
        return self.value


def test_dispatch_starts_a_consumer_only_after_its_producer_finished():
    events = []
    tasks = [
        dispatch.Task("producer", frozenset(), {}),
        dispatch.Task("consumer", frozenset({"producer"}), {}),
        dispatch.Task("other", frozenset(), {}),
    ]

    def start(task, slot):
        events.append(("start", task.name, slot))
        return _Later(task.name)

    dispatch.dispatch(tasks, start, ["gpu0", "gpu1"], lambda t, h: events.append(("done", t.name)), poll_seconds=0)
    order = [e[:2] for e in events]
    assert order.index(("done", "producer")) < order.index(("start", "consumer"))
    assert order.index(("start", "other")) < order.index(("done", "producer"))  # the free slot was used
    running, most = set(), 0
    for event in events:
        (running.add if event[0] == "start" else running.discard)(event[1])
        most = max(most, len(running))
    assert most == 2


def test_dispatch_breaks_a_cycle_instead_of_waiting_forever():
    tasks = [dispatch.Task("x", frozenset({"y"}), {}), dispatch.Task("y", frozenset({"x"}), {})]
    done = []
    dispatch.dispatch(tasks, lambda t, s: _Later(t.name), [None], lambda t, h: done.append(t.name), poll_seconds=0)
    assert sorted(done) == ["x", "y"]


# ------------------------------------------------------------------------------------------- Slurm (submitit)
def test_slurm_options_default_per_profile_and_are_checked():
    opts = dispatch.SlurmOptions(partition="gpu", mem_gb=32).resolved("paper")
    assert opts["gpus_per_job"] == 1 and opts["mem_gb"] == 32 and opts["partition"] == "gpu"
    assert dispatch.SlurmOptions().resolved("tiny")["gpus_per_job"] == 0
    with pytest.raises(ParameterError, match="'time_min'"):
        dispatch.SlurmOptions(time_min=0)
    with pytest.raises(ParameterError, match="'cluster'"):
        dispatch.SlurmOptions(cluster="pbs")


def test_slurm_jobs_through_submitits_local_executor_collect_into_the_same_folders(book):
    options = dispatch.SlurmOptions(cluster="local", poll_seconds=0.5)
    outcomes, lines = _run(book, executor="slurm", slurm=options)
    assert [o.status for o in outcomes] == ["ok", "ok"], [o.error for o in outcomes]
    assert all("local job" in line for line in lines if line.startswith("[run ]"))
    for n in ("a", "b"):
        assert (book["out"] / "part" / f"{n}.ipynb").exists() and _metrics(book, n)["seed_seen"] == 0
        assert _metrics(book, n)["threads"] == str(dispatch.SLURM_DEFAULTS["tiny"]["cpus_per_job"])  # the job's cores
    # a failing notebook is a failed outcome; the last good copy and its results stay
    good = (book["res"] / "a.json").read_text()
    failed, _ = _run(book, book["notebooks"][:1], executor="slurm", slurm=options, params={"seed": 13})
    assert [o.status for o in failed] == ["failed"] and "unlucky" in failed[0].error
    assert (book["res"] / "a.json").read_text() == good
    assert (book["out"] / "part" / "a.failed.ipynb").exists()


def test_a_job_that_never_returns_is_a_failed_run(book, monkeypatch):
    """A Slurm job killed or timed out: submitit raises on its result; reported as a failed run."""
    _run(book, book["notebooks"][:1], params={"seed": 1})
    good = (book["res"] / "a.json").read_text()

    class Killed:
        def submit(self, fn, **kwargs):
            future = Future()
            future.set_exception(
                RuntimeError("Job 1234 (task: 0) with path /x\nhas not produced any output (state: TIMEOUT)")
            )
            return future

    monkeypatch.setattr(dispatch, "submitit_executor", lambda *a, **k: Killed())
    outcomes, lines = _run(
        book, book["notebooks"][:1], executor="slurm", slurm=dispatch.SlurmOptions(poll_seconds=0), params={"seed": 2}
    )
    assert [o.status for o in outcomes] == ["failed"] and "TIMEOUT" in outcomes[0].error
    assert (book["res"] / "a.json").read_text() == good
    assert runner.read_runs(book["out"])["part/a"]["last_failure"]["error"] == outcomes[0].error
