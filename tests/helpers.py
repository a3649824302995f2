"""Small builders shared by the tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import nbformat


def make_notebook(
    path: Path, body: str, params: str = 'profile = "smoke"\nseed = 0\ndevice = "auto"\ndata_dir = None\n'
) -> Path:
    """A notebook with a ``parameters`` cell and one code cell ``body``."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A test chapter"), cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "reprobook", "display_name": "Python 3 (reprobook)", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def run_two_processes(script: Path, out_dir: Path) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node 2 script out_dir`` on CPU (gloo), one thread per process; fails loudly."""
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        torchrun = shutil.which("torchrun")
    assert torchrun, "torchrun comes with torch"
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(port),
            str(script),
            str(out_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def closure_for(model, optimizer, x, y):
    """The standard closure of a two-pass optimiser, as ``reprobook.training.fit`` builds it: BatchNorm
    running statistics frozen while the optimiser is in its perturbed pass."""
    import torch

    from reprobook.sharpness import frozen_bn_stats

    def closure():
        optimizer.zero_grad()
        with frozen_bn_stats(model, enabled=getattr(optimizer, "in_perturbed_pass", False)):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    return closure
