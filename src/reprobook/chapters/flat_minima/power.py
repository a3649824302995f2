"""The power of the sharpness chapters' claims: the seeds a claim needs for 80 % power, the seed rule, and the
summaries its tests take (both chapters)."""

from __future__ import annotations

import math

import pandas as pd

from ... import claims


def nan_mean(values) -> float:
    """The mean of the finite values (λ_max is NaN where the Lanczos iteration found nothing); NaN if none is."""
    finite = [float(v) for v in values if math.isfinite(float(v))]
    return sum(finite) / len(finite) if finite else float("nan")


def log_values(values: list[float]) -> list[float]:
    """The natural logarithm of each value; NaN for a value ≤ 0 (which makes a claim on it *not comparable*)."""
    return [math.log(v) if v > 0 else float("nan") for v in map(float, values)]


def _needed(effect: float | None, sd: float, level: float) -> int | None:
    """Seeds for 80 % power of the one-sided paired t-test (None: no effect to aim at, or no spread)."""
    if effect is None or not effect > 0 or not sd > 0 or not math.isfinite(sd):
        return None
    return claims.n_for_power_t(effect, sd, alpha=level, n_max=10_000)


def _targets(spec: claims.ClaimSpec) -> tuple[float | None, float | None]:
    """The true mean differences a claim's power is computed at: (at the SESOI, at the paper's effect). For a
    non-inferiority claim the test is of mean + margin > 0, so both are shifted by the margin."""
    if spec.test == "non_inferiority":
        assert spec.sesoi is not None  # ClaimSpec requires a margin for a non-inferiority test
        return spec.sesoi, spec.sesoi + (spec.paper_effect or 0.0)
    return spec.sesoi, spec.paper_effect


def seed_plan(specs: list[claims.ClaimSpec], sd: dict[str, float], n_run: int | None = None):
    """For every tested claim of ``specs`` with a standard deviation in ``sd`` (of its paired differences over
    seeds): the seeds a one-sided paired t-test at the Holm level α/m (m: the claims in ``sd``) needs for 80 %
    power at the SESOI and at the paper's effect (:func:`reprobook.claims.n_for_power_t`). A pandas DataFrame,
    one row per claim ("–" where there is no effect to aim at); with ``n_run``, the power those seeds give (at the
    SESOI, at the paper's effect) too."""
    level = claims.ALPHA / max(1, len(sd))
    rows = []
    for spec in specs:
        if spec.key not in sd:
            continue
        at_sesoi, at_paper = _targets(spec)
        needed = [_needed(t, sd[spec.key], level) for t in (at_sesoi, at_paper)]
        row = {
            "claim": spec.claim,
            "SD over seeds": format(sd[spec.key], spec.fmt.lstrip("+")),
            "seeds for 80 % power at the SESOI": "–" if needed[0] is None else needed[0],
            "at the paper's effect": "–" if needed[1] is None else needed[1],
        }
        if n_run is not None:
            power = [
                claims.power_t(t, sd[spec.key], n_run, level) if t is not None else None for t in (at_sesoi, at_paper)
            ]
            row.update(
                {
                    f"power with {n_run} seeds at the SESOI": claims.power_text(power[0]),
                    "at the paper's effect ": claims.power_text(power[1]),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else ["claim"]).set_index("claim")


def budget_seeds(pilot: dict) -> int:
    """The seeds a chapter's share of the smoke budget holds cold, at the pilot's cost: (share − fixed) / per seed."""
    return int((pilot["share_s"] - pilot["fixed_s"]) // pilot["per_seed_s"])


def planned_seeds(specs: list[claims.ClaimSpec], pilot: dict) -> int:
    """The seed rule: the most seeds any tested claim needs for 80 % power at the paper's effect (at its SESOI
    where the paper gives none), by :func:`seed_plan` on the pilot's spread, capped by :func:`budget_seeds`."""
    plan = seed_plan(specs, pilot["sd"])
    needed = [
        p if p != "–" else s for s, p in zip(plan["seeds for 80 % power at the SESOI"], plan["at the paper's effect"])
    ]
    return min(max(int(n) for n in needed), budget_seeds(pilot))
