"""How many units (seeds, prompts, questions) a chapter's claims need, and how many its budget holds.

The rule every chapter that plans its n from a pilot follows (:func:`planned_units`): n is the most units any
tested claim needs for 80 % power at the paper's effect (at its SESOI where the paper gives none) by a one-sided
paired t-test at the Holm level α/m, from the pilot's standard deviation of each claim's paired differences
(never its estimates), capped by what the chapter's share of the smoke budget holds cold at the pilot's cost.

A pilot is a dict: ``sd`` (claim key → SD of the paired differences over units), ``fixed_s`` and ``per_unit_s``
(cold seconds of the work that does not grow with n, and per unit), ``share_s`` (the seconds n may take) and
``share_of`` (what that share is taken from, in words: "of its 360 s budget"), and optionally ``source`` and
``cost_source`` (where the spread and the cost were measured).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from . import claims


def needed_units(effect: float | None, sd: float, level: float) -> int | None:
    """Units for 80 % power of the one-sided paired t-test at ``level`` (None: no effect to aim at, or no
    spread)."""
    if effect is None or not effect > 0 or not sd > 0 or not math.isfinite(sd):
        return None
    return claims.n_for_power_t(effect, sd, alpha=level, n_max=10_000)


def targets(spec: claims.ClaimSpec) -> tuple[float | None, float | None]:
    """The true mean differences a claim's power is computed at: (at the SESOI, at the paper's effect). For a
    non-inferiority claim the test is of mean + margin > 0, so both are shifted by the margin."""
    if spec.test == "non_inferiority":
        assert spec.sesoi is not None  # ClaimSpec requires a margin for a non-inferiority test
        return spec.sesoi, spec.sesoi + (spec.paper_effect or 0.0)
    return spec.sesoi, spec.paper_effect


def unit_plan(
    specs: Sequence[claims.ClaimSpec], sd: dict[str, float], n_run: int | None = None, *, unit: str
) -> pd.DataFrame:
    """For every claim of ``specs`` with a standard deviation in ``sd`` (of its paired differences over the
    units): the ``unit`` (a plural noun: "seeds", "prompts") a one-sided paired t-test at the Holm level α/m
    (m: the claims in ``sd``) needs for 80 % power at the SESOI and at the paper's effect
    (:func:`reprobook.claims.n_for_power_t`). One row per claim ("–" where there is no effect to aim at); with
    ``n_run``, the power that many units give (at the SESOI, at the paper's effect) too."""
    level = claims.ALPHA / max(1, len(sd))
    rows = []
    for spec in specs:
        if spec.key not in sd:
            continue
        at_sesoi, at_paper = targets(spec)
        needed = [needed_units(t, sd[spec.key], level) for t in (at_sesoi, at_paper)]
        row = {
            "claim": spec.claim,
            f"SD over {unit}": format(sd[spec.key], spec.fmt.lstrip("+")),
            f"{unit} for 80 % power at the SESOI": "–" if needed[0] is None else needed[0],
            "at the paper's effect": "–" if needed[1] is None else needed[1],
        }
        if n_run is not None:
            power = [
                claims.power_t(t, sd[spec.key], n_run, level) if t is not None else None for t in (at_sesoi, at_paper)
            ]
            row.update(
                {
                    f"power with {n_run} {unit} at the SESOI": claims.power_text(power[0]),
                    "at the paper's effect ": claims.power_text(power[1]),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else ["claim"]).set_index("claim")


def needs(specs: Sequence[claims.ClaimSpec], sd: dict[str, float]) -> dict[str, int]:
    """Claim → the units 80 % power needs at the paper's effect (at the SESOI where the paper gives none, or where
    no number of units reaches it) at the Holm level of :func:`unit_plan`, for the claims with a spread in ``sd``
    and an effect to aim at."""
    level = claims.ALPHA / max(1, len(sd))
    out = {}
    for spec in specs:
        if spec.key not in sd:
            continue
        at_sesoi, at_paper = targets(spec)
        need = needed_units(at_paper, sd[spec.key], level)
        if need is None:
            need = needed_units(at_sesoi, sd[spec.key], level)
        if need is not None:
            out[spec.claim] = need
    return out


def budget_units(pilot: dict) -> int:
    """The units a chapter's share of the smoke budget holds cold, at the pilot's cost: (share − fixed) / per
    unit."""
    return int((pilot["share_s"] - pilot["fixed_s"]) // pilot["per_unit_s"])


def planned_units(specs: Sequence[claims.ClaimSpec], pilot: dict) -> int:
    """The rule: the most units any tested claim needs for 80 % power at the paper's effect (at its SESOI where
    the paper gives none), by :func:`unit_plan` on the pilot's spread, capped by :func:`budget_units`."""
    return min(max(needs(specs, pilot["sd"]).values()), budget_units(pilot))


def budget_note(specs: Sequence[claims.ClaimSpec], pilot: dict, n: int, *, unit: str) -> str:
    """Which claims the pilot says stay below 80 % power at the paper's effect (at the SESOI where it gives none)
    with ``n`` units, and the cold time the units they need would take at the pilot's cost (``fixed_s``,
    ``per_unit_s``; where it was measured: ``cost_source``, optional), within the pilot's ``share_s`` of what its
    ``share_of`` names: the reason in words. ``unit`` is the plural noun ("seeds", "prompts")."""
    one = unit[:-1] if unit.endswith("s") else unit
    short = [
        f"{claim} ({need} {unit}, about {pilot['fixed_s'] + need * pilot['per_unit_s']:.0f} s)"
        for claim, need in needs(specs, pilot["sd"]).items()
        if need > n
    ]
    source = f" ({pilot['cost_source']})" if pilot.get("cost_source") else ""
    cost = (
        f"At a cold cost of {pilot['fixed_s']:.3g} s of fixed work and {pilot['per_unit_s']:.3g} s "
        f"per {one}{source}, {n} {unit} take about {pilot['fixed_s'] + n * pilot['per_unit_s']:.0f} s, "
        f"within this chapter's share of {pilot['share_s']:.0f} s {pilot['share_of']}"
    )
    if not short:
        return cost + "; with them every tested claim has 80 % power at the paper's effect in the pilot."
    return (
        cost + f". The pilot says 80 % power at the paper's effect (at the SESOI where the paper gives none) would "
        f"need more {unit} for: " + "; ".join(short) + f". Those claims are tested with the power these {unit} "
        "give, shown in the claims table."
    )


__all__ = ["budget_note", "budget_units", "needed_units", "needs", "planned_units", "targets", "unit_plan"]
