"""reprobook.sample_size: the units a chapter's claims need for 80 % power, and how many its budget holds."""

from __future__ import annotations

import pytest

from reprobook import claims, sample_size


def _specs():
    common = dict(paper="p", source="s", sesoi_source="practical", unit="prompts", n=10)
    return [
        claims.ClaimSpec("gain", "A beats B", test="superiority", sesoi=0.2, **common),
        claims.ClaimSpec("parity", "A is no worse than C", test="non_inferiority", sesoi=0.2, **common),
        claims.ClaimSpec("big", "A beats D", test="superiority", sesoi=0.2, paper_effect=0.5, **common),
        claims.ClaimSpec("untested", "A beats E by a judge", test="none", untestable="no judge", **common),
    ]


def test_the_plan_is_the_paired_t_tests_sample_size_at_the_holm_level():
    sd = {"gain": 0.5, "parity": 0.7, "big": 0.5}
    plan = sample_size.unit_plan(_specs(), sd, 40, unit="prompts")
    level = claims.ALPHA / 3
    assert list(plan.columns) == [
        "SD over prompts",
        "prompts for 80 % power at the SESOI",
        "at the paper's effect",
        "power with 40 prompts at the SESOI",
        "at the paper's effect ",
    ]
    assert len(plan) == 3  # only the claims with a spread
    gain, parity, big = (plan.loc[s.claim] for s in _specs()[:3])
    assert gain["prompts for 80 % power at the SESOI"] == claims.n_for_power_t(0.2, 0.5, alpha=level)
    assert gain["at the paper's effect"] == "–"
    # non-inferiority: the test is of mean + margin > 0, so a true difference of 0 sits a margin away
    assert parity["at the paper's effect"] == claims.n_for_power_t(0.2, 0.7, alpha=level)
    assert big["at the paper's effect"] == claims.n_for_power_t(0.5, 0.5, alpha=level)
    assert gain["power with 40 prompts at the SESOI"] == claims.power_text(claims.power_t(0.2, 0.5, 40, level))


def test_the_rule_takes_the_neediest_claim_capped_by_the_budget():
    sd = {"gain": 0.5, "parity": 0.7, "big": 0.5}
    needs = sample_size.needs(_specs(), sd)
    # at the paper's effect where the paper gives one ("big"), at the SESOI otherwise
    assert needs["A beats D"] == claims.n_for_power_t(0.5, 0.5, alpha=claims.ALPHA / 3)
    assert needs["A beats B"] == claims.n_for_power_t(0.2, 0.5, alpha=claims.ALPHA / 3)
    most = max(needs.values())
    assert most == needs["A is no worse than C"]
    pilot = dict(sd=sd, fixed_s=20.0, per_unit_s=2.0, share_s=10_000.0, share_of="of a long budget")
    assert sample_size.planned_units(_specs(), pilot) == most
    assert sample_size.budget_units(dict(pilot, share_s=101.0)) == 40  # (101 − 20) / 2, rounded down
    assert sample_size.planned_units(_specs(), dict(pilot, share_s=101.0)) == 40


def test_the_budget_note_names_the_claims_short_of_power_and_their_cost():
    pilot = dict(sd={"gain": 0.5, "parity": 0.7, "big": 0.5}, fixed_s=20.0, per_unit_s=2.0, share_s=101.0)
    note = sample_size.budget_note(_specs(), dict(pilot, share_of="of its 120 s budget"), 40, unit="prompts")
    assert note.startswith("At a cold cost of 20 s of fixed work and 2 s per prompt, 40 prompts take about 100 s")
    assert "within this chapter's share of 101 s of its 120 s budget" in note
    need = claims.n_for_power_t(0.2, 0.7, alpha=claims.ALPHA / 3)
    assert f"A is no worse than C ({need} prompts, about {20 + 2 * need} s)" in note
    assert "A beats D" not in note  # the paper's effect is large: 40 prompts give it 80 % power
    enough = sample_size.budget_note(_specs(), dict(pilot, share_of="of a budget"), 1000, unit="prompts")
    assert enough.endswith("every tested claim has 80 % power at the paper's effect in the pilot.")
    with pytest.raises(KeyError, match="share_of"):
        sample_size.budget_note(_specs(), pilot, 40, unit="prompts")
