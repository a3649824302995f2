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

A run may change single fields of its profile (``reprobook run --set rwp.n_seeds 12``: the runner passes
them in :data:`OVERRIDES_ENV`), and a *dry run* (``reprobook run --profile paper --dry-run``) keeps the
profile's configuration but caps every loop (the caps of :mod:`reprobook.configs.dry`); both are applied
by :func:`config`, so no notebook changes for them.

Each chapter's configuration (a frozen dataclass, its values per profile, its budget, and the paper
numbers it quotes) lives in its own module of :mod:`reprobook.configs`, which registers it with
:func:`register_chapter` (:mod:`reprobook.configs.registry`, re-exported here). Bad input stops early
with a :class:`~reprobook.checks.ParameterError` that names the parameter and the allowed values.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from . import checks as _checks
from . import dryrun
from .checks import DEVICES_HELP, ParameterError, check_choice  # noqa: F401  (re-exported)
from .configs import dry as _dry
from .configs import load_all
from .configs.registry import CHAPTERS, PROFILES, Chapter, ChapterConfig, register_chapter  # noqa: F401  (re-exported)

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


def _chapters() -> dict[str, Chapter]:
    load_all()  # importing every configuration module registers its chapter
    return CHAPTERS


OVERRIDES_ENV = "REPROBOOK_OVERRIDES"  # JSON {profile: {chapter: {field: value}}}: a run's scale


def dry_run(profile: str | None = None) -> bool:
    """Whether this process is a dry run (of ``profile``): ``REPROBOOK_DRY_RUN``, set by ``reprobook run
    --dry-run`` (:mod:`reprobook.configs.dry`)."""
    return dryrun.active(profile)


def env_overrides(profile: str, chapter: str) -> dict[str, Any]:
    """``chapter``'s field overrides in ``profile`` from :data:`OVERRIDES_ENV` (set by ``reprobook run --set
    CHAPTER.FIELD VALUE``, for the run's profile only). A malformed value is a ParameterError naming it."""
    text = os.environ.get(OVERRIDES_ENV, "").strip()
    if not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not (
        isinstance(found, dict)
        and all(isinstance(c, dict) and all(isinstance(f, dict) for f in c.values()) for c in found.values())
    ):
        raise ParameterError(OVERRIDES_ENV, text, 'JSON of the form {"profile": {"chapter": {"field": value}}}')
    return dict(found.get(profile, {}).get(chapter, {}))


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)} - {"profile"}


def check_overrides(overrides: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{chapter: {field: value}}`` with every chapter and field known (a ParameterError names the first
    that is not). Values are taken as given (a list for a tuple field becomes a tuple)."""
    known = _chapters()
    out: dict[str, dict[str, Any]] = {}
    for chapter, fields in overrides.items():
        if chapter not in known:
            raise ParameterError("chapter", chapter, ", ".join(sorted(known)))
        names = _field_names(known[chapter].config_class)
        for key in fields:
            if key not in names:
                raise ParameterError(
                    f"{chapter}.{key}",
                    fields[key],
                    f"fields of {known[chapter].config_class.__name__}: {', '.join(sorted(names))}",
                )
        out[chapter] = dict(fields)
    return out


def _as_field_value(value: Any) -> Any:
    """JSON gives lists: a tuple field gets a tuple (nested too), as the configuration modules write them."""
    if isinstance(value, list):
        return tuple(_as_field_value(v) for v in value)
    return value


def config(chapter: str, profile: str = "smoke", *, dry: bool | None = None, **overrides: Any):
    """The frozen configuration of ``chapter`` under ``profile``; ``overrides`` replace single fields.

    On top of the profile's values come, in order: the run's overrides of this profile
    (:data:`OVERRIDES_ENV`, e.g. the GPU check's scale), ``overrides``, and in a dry run of this profile
    (``dry``; None: :func:`dry_run`) the chapter's caps (:mod:`reprobook.configs.dry`: two optimiser steps,
    four items per evaluation, one seed). A chapter that quotes the paper's own configuration beside a
    paper-profile run asks for it with ``dry=False``.

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
    names = _field_names(cls)
    from_env = env_overrides(profile, chapter)
    for key, value in {**from_env, **overrides}.items():
        if key not in names:
            raise ParameterError(key, value, f"fields of {cls.__name__}: {', '.join(sorted(names))}")
        values[key] = _as_field_value(value) if key in from_env and key not in overrides else value
    cfg = cls(profile=profile, **values)
    if dry_run(profile) if dry is None else dry:
        full = {name: getattr(cfg, name) for name in names}
        capped = _dry.caps(chapter, full, names)
        if capped:
            cfg = dataclasses.replace(cfg, **capped)
    return cfg


def chapter_of_notebook(notebook: str) -> Chapter | None:
    """The registered chapter whose notebook is ``notebook`` (``"sharpness/rwp"``), or None."""
    for spec in _chapters().values():
        if spec.notebook == notebook:
            return spec
    return None


def budget_seconds(notebook: str, profile: str, *, dry: bool = False) -> float | None:
    """The wall-clock budget of ``notebook`` in ``profile`` on a 2-core CPU (None: no budget); a dry run's
    is the same for every chapter (:data:`reprobook.configs.dry.BUDGET_SECONDS`)."""
    check_profile(profile)
    if dry:
        return _dry.BUDGET_SECONDS
    if profile == "tiny":
        return TINY_BUDGET_SECONDS
    spec = chapter_of_notebook(notebook)
    if spec is None:
        return SMOKE_BUDGET_SECONDS if profile == "smoke" else None
    return config(spec.name, profile, dry=False).budget_seconds


def run_order(notebooks: list[str]) -> list[str]:
    """``notebooks`` ordered so that a chapter producing an artefact runs before those needing it
    (otherwise alphabetical, the order of ``reprobook run``)."""
    specs = {n: chapter_of_notebook(n) for n in notebooks}
    producers: dict[str, set[str]] = {}
    for n, spec in specs.items():
        for artefact in spec.produces if spec else ():
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
    """Configuration classes by name (``profiles.KPCAConfig``), from the configuration modules that define them."""
    if name.startswith("__"):  # e.g. `from .profiles import x` asks for __path__: never import the chapters for it
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for spec in _chapters().values():
        for cls in spec.config_class.__mro__:
            if cls.__name__ == name:
                return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
