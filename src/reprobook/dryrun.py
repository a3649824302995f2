"""Whether this process is a dry run, and the stand-ins it used (see :mod:`reprobook.configs.dry`).

The runner sets :data:`ENV` in a dry run's kernel; the loaders (:mod:`reprobook.data.vision`,
:mod:`reprobook.llm.loading`) read it through :func:`active` without importing the chapters, and
announce each stand-in they put in place of what the network would bring (:func:`note_stand_in`): in the
cell's output, and in the run's record (``metrics["dry_run_stand_ins"]``) once
:func:`reprobook.notebook.start` has attached it.
"""

from __future__ import annotations

import os
from typing import Any

ENV = "REPROBOOK_DRY_RUN"
MAX_STEPS = 2  # optimiser steps per training stage
MAX_ITEMS = 4  # items per evaluation


def active(profile: str | None = None) -> bool:
    """Whether this process is a dry run: :data:`ENV` names the profile run dry (the runner's), or is 1 / true
    (any profile). With ``profile``, whether that profile is the one run dry (a chapter that quotes the
    paper's configuration in a smoke dry run gets it uncapped)."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if not value or value in ("0", "false", "no", "off"):
        return False
    return profile is None or value == profile


def environment(dry_run: bool, profile: str) -> dict[str, str]:
    """The environment variables that make a kernel a dry run of ``profile`` (empty when ``dry_run`` is false)."""
    return {ENV: profile} if dry_run else {}


_STAND_INS: list[dict[str, str]] = []
_RECORD: list[Any] = []  # the run's RunRecord (set by notebook.start), where the stand-ins are recorded


def attach(record: Any) -> None:
    """Record later stand-ins in ``record``'s metrics (``dry_run_stand_ins``); forget earlier ones."""
    _STAND_INS.clear()
    _RECORD[:] = [record]


def note_stand_in(what: str, stand_in: str, why: str) -> None:
    """Announce, in the cell's output and the run's record, that ``stand_in`` replaces ``what`` (``why``)."""
    row = {"what": what, "stand_in": stand_in, "why": why}
    if row not in _STAND_INS:
        _STAND_INS.append(row)
    print(f"DRY RUN stand-in: {what} -> {stand_in} ({why})", flush=True)
    if _RECORD:
        _RECORD[0].metric("dry_run_stand_ins", list(_STAND_INS))


def stand_ins() -> list[dict[str, str]]:
    """The stand-ins used so far in this process."""
    return list(_STAND_INS)
