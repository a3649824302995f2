"""fit() under a multi-process launcher: two CPU processes (gloo) stand in for two GPUs."""

import json
from pathlib import Path

from helpers import run_two_processes

SCRIPT = Path(__file__).with_name("ddp_fit.py")


def test_two_processes_train_one_model_with_rwp(tmp_path):
    run_two_processes(SCRIPT, tmp_path)
    results = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("rank-*.json"))]
    assert sorted(r["rank"] for r in results) == [0, 1]
    a, b = results
    assert a["weights"] == b["weights"]  # gradients were averaged: the replicas stayed identical
    assert a["loss"] == b["loss"] and a["acc"] == b["acc"]  # the reported metrics cover both shards
    assert a["loss"][-1] < a["loss"][0]
