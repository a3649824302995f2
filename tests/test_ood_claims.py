"""The Part II verdict rules (reprobook.chapters.mode_ensemble.experiment, the chapters' claim_specs) on constructed
data: what they say with one diverged mode, with all-equal modes, under their null,
and that each can reach its verdicts."""

import numpy as np
import pytest

from reprobook import claims, profiles
from reprobook.chapters.mode_ensemble.ensembles import variance_ratio
from reprobook.chapters.mode_ensemble.experiment import (
    alike_test,
    fluctuation_test,
    guard_modes,
    sd_bound,
    variance_test,
)
from reprobook.configs import ddos as ddos_chapter
from reprobook.configs import kpca as kpca_chapter
from reprobook.configs import mode_ensemble as me_chapter

SPECS = {s.key: s for s in me_chapter.claim_specs(profiles.config("mode_ensemble", "smoke"))}


def _words(tests):
    return {t.key: t.verdict.verdict for t in tests}


# -- the declarations --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "chapter, module", [("mode_ensemble", me_chapter), ("kpca", kpca_chapter), ("ddos", ddos_chapter)]
)
def test_every_claim_is_declared_with_its_unit_n_test_and_a_sourced_sesoi(chapter, module):
    specs = module.claim_specs(profiles.config(chapter, "smoke"))
    assert len({s.key for s in specs}) == len(specs) >= 3
    for s in specs:
        assert s.test in claims.RULES and s.n >= 3 and s.sesoi > 0 and s.sesoi_source, s.key
        assert "cell" not in s.unit, s.key  # never detector × set cells as units
    assert not claims.design_frame(specs).empty


def test_the_paper_effects_come_from_the_readme_table():
    # RankFeat's FPR95 over 5 DenseNet-121 modes: SDs 14.0, 17.2, 12.2, 10.6 (mean 13.5); gains 23.7, 15.4, 10.3, 21.9
    assert me_chapter.PAPER_MODE_SD == pytest.approx(0.13487, abs=1e-4)
    assert me_chapter.PAPER_ENSEMBLE_GAIN == pytest.approx(0.17818, abs=1e-4)
    assert me_chapter.ensemble_gain_at(5) == pytest.approx(me_chapter.PAPER_ENSEMBLE_GAIN)
    assert SPECS["improves"].paper_effect == pytest.approx(me_chapter.PAPER_ENSEMBLE_GAIN * 0.5 / 0.8)
    assert SPECS["fluctuates"].sesoi == pytest.approx(me_chapter.PAPER_MODE_SD / 2)
    kpca = {s.key: s for s in kpca_chapter.claim_specs(profiles.config("kpca", "smoke"))}
    assert kpca["corp_vs_cop"].paper_effect == pytest.approx(0.098) and kpca["corp_vs_cop"].sesoi == pytest.approx(
        0.049
    )


# -- "alike": a bound on the between-mode SD ---------------------------------------------------------------------------
def test_alike_is_reproduced_for_close_modes_and_contradicted_by_one_diverged_mode():
    rng = np.random.default_rng(0)
    close = 0.90 + 0.001 * rng.standard_normal(10)
    loss = 0.30 + 0.002 * rng.standard_normal(10)
    ok = alike_test(SPECS["alike"], close, loss, 0.03)
    assert ok.verdict.verdict == "reproduced" and all(p.verdict == "reproduced" for p in ok.verdict.parts)
    diverged = close.copy()
    diverged[3] = 0.10  # one mode that never trained
    bad = alike_test(SPECS["alike"], diverged, loss, 0.03)
    assert bad.verdict.verdict == "contradicted" and bad.verdict.parts[0].low > SPECS["alike"].sesoi
    # the old rule (each mode against the mean of the others) could never fail: this one can
    assert ok.verdict.verdict != bad.verdict.verdict


def test_sd_bound_against_the_chi_square_interval_and_its_power():
    from scipy import stats

    x = np.array([0.1, 0.3, 0.2, 0.5, 0.4])
    v = sd_bound(x, 1.0)
    s = np.std(x, ddof=1)
    assert v.estimate == pytest.approx(s)
    assert v.high == pytest.approx(s * np.sqrt(4 / stats.chi2.ppf(0.025, 4)))
    assert v.p == pytest.approx(stats.chi2.cdf(4 * s * s, 4))
    assert 0 < v.power < 1 and v.mde > s
    # a margin far below the spread: contradicted; between the bounds: inconclusive
    assert sd_bound(x, 0.01).verdict == "contradicted"
    assert sd_bound(x, s).verdict == "inconclusive"
    # its bounds (the contradicted side of a Holm family): the χ² interval at any level, its own at α
    assert v.bounds(0.025) == pytest.approx((v.low, v.high))
    assert v.bounds(0.005) == pytest.approx(
        (s * np.sqrt(4 / stats.chi2.ppf(0.995, 4)), s * np.sqrt(4 / stats.chi2.ppf(0.005, 4)))
    )


def test_all_equal_modes_are_one_network_and_no_claim_is_comparable():
    same = np.full(10, 0.9)
    tests = [
        alike_test(SPECS["alike"], same, np.full(10, 0.3), 0.03),
        claims.evaluate(SPECS["improves"], [0.5] * 5, [0.5] * 5),
    ]
    assert tests[1].verdict.reason.startswith("no variation")
    guarded = guard_modes(tests, True, "", disagreement=0.0)
    assert all(t.verdict.verdict == "not comparable" and "did not act" in t.verdict.reason for t in guarded)


def test_unconverged_modes_make_every_claim_not_comparable_whatever_the_outcome():
    tests = [alike_test(SPECS["alike"], 0.9 + 0.001 * np.arange(10), 0.3 + 0.001 * np.arange(10), 0.03)]
    assert tests[0].verdict.verdict == "reproduced"
    guarded = guard_modes(tests, False, "mode 3 still dropping 8 %", disagreement=0.1)
    assert guarded[0].verdict.verdict == "not comparable" and "not converged" in guarded[0].verdict.reason


# -- "fluctuates": a Monte-Carlo null from one mode's bootstrap rounds -------------------------------------------------
def _rounds(cells=4, rounds=400, sd=0.01, seed=0):
    return 0.5 + sd * np.random.default_rng(seed).standard_normal((cells, rounds))


def test_fluctuation_with_one_diverged_mode_and_with_equal_modes():
    rounds = _rounds()
    spread = 0.5 + 0.01 * np.random.default_rng(1).standard_normal((10, 4))
    spread[7] += 0.3  # one mode far from the others
    v, numbers = fluctuation_test(spread, rounds, sesoi=0.02, paper_effect=0.13, draws=400, resamples=400)
    assert v.verdict == "reproduced" and numbers["sigma_seed"] > numbers["null_high"]
    assert v.bounds(0.025) == pytest.approx((v.low, v.high))  # the same bootstraps: its own interval at α
    wide = v.bounds(0.005)
    assert wide[0] < v.low and wide[1] > v.high
    equal = np.full((10, 4), 0.5)
    v, numbers = fluctuation_test(equal, rounds, sesoi=0.02, paper_effect=0.13, draws=400, resamples=400)
    assert v.p == 1.0 and v.verdict != "reproduced" and numbers["sigma_seed"] == 0.0


def test_fluctuation_holds_its_level_when_modes_vary_like_the_test_sample():
    rounds = _rounds(rounds=300)
    rng = np.random.default_rng(5)
    rejected = 0
    trials = 60
    for _ in range(trials):
        modes = 0.5 + 0.01 * rng.standard_normal((10, 4))  # the modes vary exactly as re-drawn test sets do
        v, _ = fluctuation_test(
            modes, rounds, sesoi=0.02, paper_effect=None, draws=200, resamples=200, seed=int(rng.integers(1 << 30))
        )
        rejected += v.verdict == "reproduced"
    assert rejected / trials <= 0.025 + 0.06  # the nominal level, up to Monte-Carlo error


# -- "improves" and "variance" -----------------------------------------------------------------------------------------
def test_ensemble_gain_rule_reaches_each_word():
    spec = SPECS["improves"]
    assert (
        claims.evaluate(spec, [0.50, 0.52, 0.49, 0.51, 0.50], [0.40, 0.41, 0.39, 0.40, 0.41]).verdict.verdict
        == "reproduced"
    )
    assert (
        claims.evaluate(spec, [0.50, 0.52, 0.49, 0.51, 0.50], [0.50, 0.515, 0.49, 0.505, 0.50]).verdict.verdict
        == "contradicted"
    )
    assert (
        claims.evaluate(spec, [0.50, 0.60, 0.40, 0.55, 0.45], [0.45, 0.62, 0.30, 0.50, 0.46]).verdict.verdict
        == "inconclusive"
    )


def test_variance_claim_is_not_decided_by_averaging_alone():
    rng = np.random.default_rng(2)
    singles = 0.5 + 0.05 * rng.standard_normal(10)
    averaged = (singles[:, None] + singles[None, :]) / 2
    # ensembles behaving exactly like the averages of their members: no reduction beyond averaging
    null = variance_test(SPECS["variance"], singles, averaged.copy(), 5, variance_ratio)
    assert null.verdict.verdict != "reproduced" and abs(null.verdict.estimate) < 1e-9
    # ensembles pulled to a common value: a reduction beyond averaging
    pulled = 0.45 + 0.2 * (averaged - 0.5)
    np.fill_diagonal(pulled, singles)
    better = variance_test(SPECS["variance"], singles, pulled, 5, variance_ratio)
    assert better.verdict.verdict == "reproduced"
