"""What every chapter does in its first cell: check parameters, fix threads and seeds, pick the device.

Also the small display helpers that put the package's code beside the paper's equations
(:func:`show_source`) and the one plotting style of the book (:func:`plot_style`).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import textwrap
from pathlib import Path
from typing import Any

from . import dryrun, profiles
from .checks import ParameterError, check_choice, check_device, check_seed
from .configs import dry
from .profiles import PROFILES
from .results import RunRecord
from .training import resolve_device, seed_everything, set_threads


@dataclasses.dataclass
class Session:
    """What :func:`start` returns: the checked parameters, the device and the run's record."""

    profile: str
    seed: int
    device: Any  # torch.device
    threads: int
    record: RunRecord


def start(
    chapter: str,
    *,
    profile: str,
    seed: int,
    device: str = "auto",
    data_dir: str | None = None,
    title: str = "",
    params: dict[str, Any] | None = None,
) -> Session:
    """Check a notebook's parameters and prepare the run.

    ``data_dir`` moves the data and checkpoint cache (``REPROBOOK_CACHE``) for this kernel.
    Threads: ``REPROBOOK_THREADS`` if set (the runner sets it), else every core.

    In a dry run (``REPROBOOK_DRY_RUN``, set by ``reprobook run --dry-run``; see
    :mod:`reprobook.configs.dry`) the record is a dry run's (every verdict *not comparable (dry run)*),
    the stand-ins the loaders use are recorded in it, and a banner says so at the top of the executed copy.
    """
    check_choice("profile", profile, PROFILES)
    check_seed("seed", seed)
    check_device("device", device)
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise ParameterError("data_dir", data_dir, "None or a folder path (string)")
        os.environ["REPROBOOK_CACHE"] = str(Path(data_dir).expanduser().resolve())

    threads = set_threads(int(os.environ["REPROBOOK_THREADS"]) if os.environ.get("REPROBOOK_THREADS") else None)
    torch_device = resolve_device(device)
    seed_everything(seed)
    plot_style()

    is_dry = dryrun.active(profile)
    record = RunRecord(
        chapter,
        profile=profile,
        device=torch_device,
        seed=seed,
        title=title,
        params={"profile": profile, "seed": seed, "device": device, "data_dir": data_dir, **(params or {})},
        dry_run=is_dry,
    )
    if is_dry:
        dryrun.attach(record)
        _show(dry_run_banner(chapter, profile))
    return Session(profile=profile, seed=seed, device=torch_device, threads=threads, record=record)


def dry_run_banner(chapter: str, profile: str) -> str:
    """The banner a dry run's executed copy opens with: what a dry run is and this chapter's caps."""
    capped = {}
    if chapter in profiles._chapters():
        cfg = profiles.config(chapter, profile, dry=False)
        names = {f.name for f in dataclasses.fields(cfg)} - {"profile"}
        capped = dry.caps(chapter, {n: getattr(cfg, n) for n in names}, names)
    caps = "; ".join(f"`{k}` = {v!r}" for k, v in capped.items()) or "none"
    return (
        f"**DRY RUN: not evidence.** This copy ran the *{profile}* profile's configuration with every loop "
        f"capped (at most {dryrun.MAX_STEPS} optimiser steps per training stage, {dryrun.MAX_ITEMS} items per "
        "evaluation, one seed); where a source needs a network this machine lacks, a stand-in of the same "
        "shape is used and named in the output (*DRY RUN stand-in*). Every verdict reads *not comparable "
        f"(dry run)*, and `reprobook build` refuses these results. Caps of this chapter: {caps}."
    )


def _show(markdown: str) -> None:
    """Display ``markdown`` in a notebook (printed elsewhere)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(markdown))
            return
    except ImportError:
        pass
    print(markdown)


def show_source(obj: Any, *, lines: tuple[int, int] | None = None):
    """Display the source of a helper (a function, class or method) as a highlighted code block.

    The chapters use it to put the implementation right under the equation it implements.
    """
    from IPython.display import Markdown

    source = textwrap.dedent(inspect.getsource(obj))
    if lines is not None:
        source = "\n".join(source.splitlines()[lines[0] : lines[1]])
    module = inspect.getmodule(obj)
    where = f"`{module.__name__}.{getattr(obj, '__qualname__', '')}`" if module else ""
    return Markdown(f"{where}\n\n```python\n{source}\n```")


def plot_style() -> None:
    """The book's one plotting style (seaborn's whitegrid, a colour-blind palette, crisp PNGs)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", palette="colorblind", context="notebook")
    mpl.rcParams.update(
        {"figure.dpi": 110, "savefig.dpi": 110, "figure.figsize": (6.4, 3.6), "axes.titleweight": "bold"}
    )
