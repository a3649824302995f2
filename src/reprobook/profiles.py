"""Profiles: one name (``tiny``, ``smoke`` or ``paper``) fixes every size a chapter uses.

A notebook's ``parameters`` cell names a profile; the chapter then asks this module for its
configuration (:func:`config`), so no size is ever typed into a notebook.

``tiny``
    every size at its minimum: each notebook runs *every cell* in well under a minute. The test suite
    executes the book in this profile. A tiny run is never evidence: its verdicts read *not comparable
    (tiny run)* and ``reprobook build`` refuses tiny results unless asked.
``smoke``
    small subsets of real offline data and small models, a few minutes per notebook on a 2-core CPU:
    the evidence the book shows.
``paper``
    the paper's datasets, models and hyper-parameters; expects a GPU.

Each chapter's configuration (a frozen dataclass, its values per profile, its budget, and the paper
numbers it quotes) lives in its own module of :mod:`reprobook.chapters`, which registers it here with
:func:`register_chapter`. Bad input stops early with a :class:`~reprobook.checks.ParameterError` that
names the parameter and the allowed values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .checks import DEVICES_HELP, ParameterError, check_choice  # noqa: F401  (re-exported)
from . import checks as _checks

PROFILES: tuple[str, ...] = ("tiny", "smoke", "paper")
# profiles whose runs are evidence (the book is built from them); a tiny run only tests the code path
EVIDENCE_PROFILES: tuple[str, ...] = ("smoke", "paper")
# Wall-clock budget of a notebook on a 2-core CPU: each chapter declares its smoke budget; tiny is the same for all
TINY_BUDGET_SECONDS = 60
SMOKE_BUDGET_SECONDS = 240  # the vision chapters' smoke budget (a chapter may declare another)


def check_profile(profile: Any) -> str:
    return check_choice("profile", profile, PROFILES)


def check_device(device: Any) -> str:
    return _checks.check_device("device", device)


def check_seed(seed: Any) -> int:
    return _checks.check_seed("seed", seed)


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


def register_chapter(name: str, *, notebook: str, config_class: type, values: dict[str, dict[str, Any]],
                     produces: tuple[str, ...] = (), needs: tuple[str, ...] = ()) -> Chapter:
    """Register a chapter; ``values[profile]`` are the fields of ``config_class`` for every profile."""
    if not (isinstance(config_class, type) and issubclass(config_class, ChapterConfig)):
        raise ParameterError("config_class", config_class, "a subclass of profiles.ChapterConfig")
    missing = set(PROFILES) - set(values)
    if missing:
        raise ParameterError("values", sorted(values), f"values for every profile ({', '.join(PROFILES)})")
    chapter = Chapter(name, notebook, config_class, values, tuple(produces), tuple(needs))
    CHAPTERS[name] = chapter
    return chapter


def _chapters() -> dict[str, Chapter]:
    from . import chapters  # noqa: F401  (importing it registers every chapter)

    return CHAPTERS


def config(chapter: str, profile: str = "smoke", **overrides: Any):
    """The frozen configuration of ``chapter`` under ``profile``; ``overrides`` replace single fields.

    >>> config("rwp", "smoke").epochs > 0
    True
    """
    known = _chapters()
    if chapter not in known:
        raise ParameterError("chapter", chapter, ", ".join(sorted(known)))
    check_profile(profile)
    spec = known[chapter]
    cls = spec.config_class
    values = dict(spec.values[profile])
    names = {f.name for f in dataclasses.fields(cls)} - {"profile"}
    for key, value in overrides.items():
        if key not in names:
            raise ParameterError(key, value, f"fields of {cls.__name__}: {', '.join(sorted(names))}")
        values[key] = value
    return cls(profile=profile, **values)


def chapter_of_notebook(notebook: str) -> Chapter | None:
    """The registered chapter whose notebook is ``notebook`` (``"sharpness/rwp"``), or None."""
    for spec in _chapters().values():
        if spec.notebook == notebook:
            return spec
    return None


def budget_seconds(notebook: str, profile: str) -> float | None:
    """The wall-clock budget of ``notebook`` in ``profile`` on a 2-core CPU (None: no budget)."""
    check_profile(profile)
    if profile == "tiny":
        return TINY_BUDGET_SECONDS
    spec = chapter_of_notebook(notebook)
    if spec is None:
        return SMOKE_BUDGET_SECONDS if profile == "smoke" else None
    return config(spec.name, profile).budget_seconds


def run_order(notebooks: list[str]) -> list[str]:
    """``notebooks`` ordered so that a chapter producing an artefact runs before those needing it
    (otherwise alphabetical, the order of ``reprobook run``)."""
    specs = {n: chapter_of_notebook(n) for n in notebooks}
    producers: dict[str, set[str]] = {}
    for n, spec in specs.items():
        for artefact in (spec.produces if spec else ()):
            producers.setdefault(artefact, set()).add(n)
    remaining, ordered = sorted(notebooks), []
    while remaining:
        for n in remaining:
            spec = specs[n]
            waits = {p for a in (spec.needs if spec else ()) for p in producers.get(a, ()) if p != n}
            if not waits & set(remaining):
                ordered.append(n)
                remaining.remove(n)
                break
        else:  # a cycle: keep the alphabetical order for what is left
            ordered += remaining
            break
    return ordered


def required_data(profile: str) -> list[str]:
    """Registry names every chapter needs under ``profile`` (what ``reprobook data fetch`` gets)."""
    check_profile(profile)
    names: list[str] = []
    for chapter in _chapters():
        for name in config(chapter, profile).data_files:
            if name not in names:
                names.append(name)
    return names


def __getattr__(name: str):
    """Configuration classes by name (``profiles.KPCAConfig``), from the chapter modules that define them."""
    for spec in _chapters().values():
        for cls in spec.config_class.__mro__:
            if cls.__name__ == name:
                return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
