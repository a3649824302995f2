"""The power of the sharpness chapters' claims: the seeds a claim needs for 80 % power, the seed rule, and the
summaries its tests take (both chapters)."""

from __future__ import annotations

import math

from ... import claims, sample_size


def nan_mean(values) -> float:
    """The mean of the finite values (λ_max is NaN where the Lanczos iteration found nothing); NaN if none is."""
    finite = [float(v) for v in values if math.isfinite(float(v))]
    return sum(finite) / len(finite) if finite else float("nan")


def log_values(values: list[float]) -> list[float]:
    """The natural logarithm of each value; NaN for a value ≤ 0 (which makes a claim on it *not comparable*)."""
    return [math.log(v) if v > 0 else float("nan") for v in map(float, values)]


def seed_plan(specs: list[claims.ClaimSpec], sd: dict[str, float], n_run: int | None = None):
    """:func:`reprobook.sample_size.unit_plan` over seeds: the seeds each claim needs for 80 % power at the Holm
    level (and, with ``n_run``, the power that many seeds give)."""
    return sample_size.unit_plan(specs, sd, n_run, unit="seeds")


def planned_seeds(specs: list[claims.ClaimSpec], pilot: dict) -> int:
    """The seed rule (:func:`reprobook.sample_size.planned_units` over seeds): the most seeds any tested claim
    needs for 80 % power at the paper's effect (at its SESOI where the paper gives none), capped by the budget."""
    return sample_size.planned_units(specs, pilot)
