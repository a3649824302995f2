"""The chapter registry: what every chapter configuration has, and the table of registered chapters.

It sits in the configuration package, below :mod:`reprobook.profiles` (which re-exports it and builds the
configurations): a configuration module registers its chapter here and imports nothing from ``profiles``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..checks import ParameterError

PROFILES: tuple[str, ...] = ("tiny", "smoke", "paper")


@dataclass(frozen=True)
class ChapterConfig:
    """What every chapter configuration has: its profile, its wall-clock budget and the data it fetches.

    ``budget_seconds`` is the chapter's budget on a 2-core CPU with a cold cache in this profile (None:
    no budget, the paper profile); the runner's table checks every run against it.
    """

    profile: str
    budget_seconds: float | None = field(default=None, kw_only=True)
    data_files: tuple[str, ...] = field(default=(), kw_only=True)  # registry entries to fetch ahead of a run

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Chapter:
    """A chapter of the book: its name, its notebook, its configuration class and values per profile.

    ``produces`` / ``needs`` name cached artefacts (e.g. ``"ood-modes"``): the runner executes a chapter
    that produces an artefact before the chapters that need it.
    """

    name: str
    notebook: str  # relative to notebooks/, without suffix, e.g. "sharpness/rwp"
    config_class: type
    values: dict[str, dict[str, Any]]
    produces: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()


CHAPTERS: dict[str, Chapter] = {}


def register_chapter(
    name: str,
    *,
    notebook: str,
    config_class: type,
    values: dict[str, dict[str, Any]],
    produces: tuple[str, ...] = (),
    needs: tuple[str, ...] = (),
) -> Chapter:
    """Register a chapter; ``values[profile]`` are the fields of ``config_class`` for every profile."""
    if not (isinstance(config_class, type) and issubclass(config_class, ChapterConfig)):
        raise ParameterError("config_class", config_class, "a subclass of profiles.ChapterConfig")
    missing = set(PROFILES) - set(values)
    if missing:
        raise ParameterError("values", sorted(values), f"values for every profile ({', '.join(PROFILES)})")
    chapter = Chapter(name, notebook, config_class, values, tuple(produces), tuple(needs))
    CHAPTERS[name] = chapter
    return chapter
