"""What every chapter does in its first cell: check parameters, fix threads and seeds, pick the device.

Also the small display helpers that put the package's code beside the paper's equations
(:func:`show_source`) and the one plotting style of the book (:func:`plot_style`).
"""

from __future__ import annotations

import inspect
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checks import ParameterError, check_choice, check_device, check_seed
from .profiles import PROFILES
from .results import RunRecord


@dataclass
class Session:
    """What :func:`start` returns: the checked parameters, the device and the run's record."""

    profile: str
    seed: int
    device: Any  # torch.device
    threads: int
    record: RunRecord


def start(chapter: str, *, profile: str, seed: int, device: str = "auto", data_dir: str | None = None,
          title: str = "", params: dict[str, Any] | None = None) -> Session:
    """Check a notebook's parameters and prepare the run.

    ``data_dir`` moves the data and checkpoint cache (``REPROBOOK_CACHE``) for this kernel.
    Threads: ``REPROBOOK_THREADS`` if set (the runner sets it), else every core.
    """
    check_choice("profile", profile, PROFILES)
    check_seed("seed", seed)
    check_device("device", device)
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise ParameterError("data_dir", data_dir, "None or a folder path (string)")
        os.environ["REPROBOOK_CACHE"] = str(Path(data_dir).expanduser().resolve())
    from .training import resolve_device, seed_everything, set_threads

    threads = set_threads(int(os.environ["REPROBOOK_THREADS"]) if os.environ.get("REPROBOOK_THREADS") else None)
    torch_device = resolve_device(device)
    seed_everything(seed)
    plot_style()
    record = RunRecord(chapter, profile=profile, device=torch_device, seed=seed, title=title,
                       params={"profile": profile, "seed": seed, "device": device, "data_dir": data_dir,
                               **(params or {})})
    return Session(profile=profile, seed=seed, device=torch_device, threads=threads, record=record)


def show_source(obj: Any, *, lines: tuple[int, int] | None = None):
    """Display the source of a helper (a function, class or method) as a highlighted code block.

    The chapters use it to put the implementation right under the equation it implements.
    """
    from IPython.display import Markdown

    source = textwrap.dedent(inspect.getsource(obj))
    if lines is not None:
        source = "\n".join(source.splitlines()[lines[0]:lines[1]])
    module = inspect.getmodule(obj)
    where = f"`{module.__name__}.{getattr(obj, '__qualname__', '')}`" if module else ""
    return Markdown(f"{where}\n\n```python\n{source}\n```")


def plot_style() -> None:
    """The book's one plotting style (seaborn's whitegrid, a colour-blind palette, crisp PNGs)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette="colorblind", context="notebook")
    mpl.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (6.4, 3.6),
                         "axes.titleweight": "bold"})
