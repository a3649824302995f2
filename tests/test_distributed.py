"""fit() under a multi-process launcher: two CPU processes (gloo) stand in for two GPUs."""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("ddp_fit.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_one_model_with_rwp(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        torchrun = shutil.which("torchrun")
    assert torchrun, "torchrun comes with torch"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                           "--master_port", str(_free_port()), str(SCRIPT), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("rank-*.json"))]
    assert sorted(r["rank"] for r in results) == [0, 1]
    a, b = results
    assert a["weights"] == b["weights"]  # gradients were averaged: the replicas stayed identical
    assert a["loss"] == b["loss"] and a["acc"] == b["acc"]  # the reported metrics cover both shards
    assert a["loss"][-1] < a["loss"][0]
