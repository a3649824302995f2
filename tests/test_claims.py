"""The verdict rules of reprobook.claims: against independent references (scipy, statsmodels, a published
interval), by Monte-Carlo simulation (the rate of *reproduced* under the null, of *contradicted* under a
large effect, interval coverage), and a property test that every rule can reach each of its words."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

from reprobook import claims
from reprobook.checks import ParameterError
from reprobook.claims import ALPHA, ClaimSpec, Verdict

RNG = np.random.default_rng(20261204)

# ------------------------------------------------------------------------- against independent references


def test_superiority_is_scipys_paired_t_test_with_a_95_percent_interval():
    a, b = [0.71, 0.74, 0.69, 0.75, 0.73], [0.70, 0.71, 0.70, 0.72, 0.70]
    v = claims.superiority(a, b, sesoi=0.01, unit="seeds")
    ref = stats.ttest_rel(a, b, alternative="greater")
    assert v.p == pytest.approx(ref.pvalue, rel=1e-12)
    low, high = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (v.low, v.high) == (pytest.approx(low, rel=1e-12), pytest.approx(high, rel=1e-12))
    assert v.n == 5 and v.covers == "5 seeds" and v.kind == "superiority"


def test_power_and_mde_of_the_t_test_agree_with_statsmodels():
    sd, n = 0.02, 8
    for effect in (0.005, 0.01, 0.03):
        ref = TTestPower().power(effect_size=effect / sd, nobs=n, alpha=ALPHA, alternative="larger")
        assert claims.power_t(effect, sd, n) == pytest.approx(ref, rel=1e-6)
    mde = claims.mde_t(sd, n)
    ref = TTestPower().solve_power(nobs=n, alpha=ALPHA, power=0.8, alternative="larger") * sd
    assert mde == pytest.approx(ref, rel=1e-4)
    assert claims.n_for_power_t(0.01, 0.02) == math.ceil(
        TTestPower().solve_power(effect_size=0.5, alpha=ALPHA, power=0.8, alternative="larger")
    )


def test_equivalence_is_statsmodels_tost():
    a = [0.70, 0.72, 0.71, 0.73, 0.69, 0.71]
    b = [0.71, 0.71, 0.70, 0.72, 0.71, 0.70]
    p, _, _ = ttost_paired(np.array(a), np.array(b), -0.02, 0.02)
    v = claims.equivalence(a, b, margin=0.02)
    assert v.p == pytest.approx(p, rel=1e-9)
    assert v.verdict == ("reproduced" if p < ALPHA else "inconclusive")


def test_non_inferiority_is_a_shifted_one_sided_t_test():
    a, b = [0.70, 0.69, 0.72, 0.71], [0.71, 0.70, 0.71, 0.715]
    v = claims.non_inferiority(a, b, margin=0.02)
    ref = stats.ttest_1samp(np.subtract(a, b) + 0.02, 0.0, alternative="greater").pvalue
    assert v.p == pytest.approx(ref, rel=1e-12) and v.null == -0.02 and v.sesoi == 0.02


def test_mcnemar_is_statsmodels_exact_test_one_sided():
    a = [1] * 14 + [0] * 4 + [1] * 20 + [0] * 12
    b = [0] * 14 + [1] * 4 + [1] * 20 + [0] * 12
    v = claims.mcnemar(a, b, sesoi=0.1)
    two_sided = sm_mcnemar([[20, 14], [4, 12]], exact=True).pvalue
    assert v.p == pytest.approx(two_sided / 2, rel=1e-12)
    assert v.estimate == pytest.approx(10 / 50)


def test_three_wins_and_no_loss_are_not_significant_for_mcnemar():
    # a paired t-test on 0/1 outcomes gave p 0.042 here; the exact test gives 1/8
    v = claims.mcnemar([1, 1, 1], [0, 0, 0], sesoi=0.2)
    assert v.p == pytest.approx(0.125) and v.verdict == "inconclusive"
    assert v.power == 0.0 and v.mde is None  # no effect is detectable with 80 % power on 3 questions


def test_newcombe_interval_matches_the_published_example():
    # Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables" (2017), ch. 8: the table
    # [[59, 6], [16, 80]]; Newcombe's square-and-add interval -0.0621 (-0.1186 to -0.0046)
    est, low, high = claims.newcombe_paired(59, 6, 16, 80)
    assert (round(est, 4), round(low, 4), round(high, 4)) == (-0.0621, -0.1186, -0.0046)


def test_holm_equals_statsmodels_multipletests():
    ps = [0.004, 0.03, 0.011, 0.2, 0.0101]
    verdicts = [claims.from_test(estimate=1, low=0.1, high=2, p=p, n=10, unit="seeds", rule="r") for p in ps]
    adjusted = claims.holm(verdicts)
    reject, ref, _, _ = multipletests(ps, alpha=ALPHA, method="holm")
    assert [v.p for v in adjusted] == pytest.approx(list(ref), rel=1e-12)
    assert [v.verdict == "reproduced" for v in adjusted] == list(reject)
    assert all(v.family == 5 and "Holm" in v.rule for v in adjusted)


def test_rate_is_scipys_binomial_test_with_its_exact_interval():
    v = claims.rate(17, 20, threshold=0.5, sesoi=0.1)
    assert v.p == pytest.approx(stats.binomtest(17, 20, 0.5, alternative="greater").pvalue)
    ci = stats.binomtest(17, 20).proportion_ci(0.95, method="exact")
    assert v.low + 0.5 == pytest.approx(ci.low) and v.high + 0.5 == pytest.approx(ci.high)
    assert v.estimate == pytest.approx(0.35)
    # the interval is the test's own: it excludes the threshold exactly when the test rejects (Wilson's
    # excluded ½ for 69 of 116, p = 0.0254, which the test does not reject)
    for n in (12, 50, 116):
        for k in range(n + 1):
            v = claims.rate(k, n, threshold=0.5)
            assert (v.p <= ALPHA) == (v.low > 0), (k, n, v.p, v.low)
    at = claims.rate(69, 116, threshold=0.5)
    assert at.verdict != "reproduced" and at.low <= 0 < at.high


def test_p_values_near_the_level_show_which_side_they_are_on():
    assert claims.p_format(0.0123) == "0.012" and claims.p_format(0.0004, relation=True) == "< 0.001"
    assert claims.p_format(0.02536, relation=True) == "= 0.0254" and claims.p_format(0.02464) == "0.0246"
    assert claims.p_format(ALPHA) == "0.025" and claims.p_format(0.0351) == "0.035"


def test_welch_is_scipys_welch_test():
    a, b = [3.1, 2.9, 3.4, 3.3, 3.0], [2.7, 2.8, 3.1, 2.6]
    v = claims.welch(a, b, sesoi=0.1)
    assert v.p == pytest.approx(stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue, rel=1e-9)


def test_power_of_mcnemar_and_binomial_by_enumeration_agree_with_simulation():
    rng = np.random.default_rng(1)
    n, effect, psi = 40, 0.2, 0.4
    p10, p01 = (psi + effect) / 2, (psi - effect) / 2
    hits = 0
    for _ in range(4000):
        cells = rng.multinomial(n, [p10, p01, 1 - psi])
        d = cells[0] + cells[1]
        hits += d > 0 and stats.binom.sf(cells[0] - 1, d, 0.5) < ALPHA
    assert claims.power_mcnemar(effect, psi, n) == pytest.approx(hits / 4000, abs=0.025)
    sims = rng.binomial(30, 0.75, 4000)
    crit = claims._binom_crit(30, ALPHA)
    assert claims.power_binomial(0.75, 30) == pytest.approx(np.mean(sims >= crit), abs=0.02)


# ------------------------------------------------------------------------------- the five words


def test_zero_spread_never_passes_a_parity_test_by_itself():
    # the old sign-test fallback made these "reproduced" (p = 1/32)
    v = claims.equivalence([0.5] * 5, [0.5] * 5, margin=1e-6)
    assert v.verdict == "inconclusive" and v.reason.startswith("no variation")
    v = claims.non_inferiority([0.7] * 5, [0.7] * 5, margin=0.01)
    assert v.verdict == "inconclusive" and v.reason.startswith("no variation")
    v = claims.superiority([1, 1, 1], [0, 0, 0], sesoi=0.5)
    assert v.verdict == "inconclusive" and v.p is None


def test_no_information_is_inconclusive_not_a_refutation():
    # both settings wrong on all three questions: no discordant pair
    v = claims.mcnemar([0, 0, 0], [0, 0, 0], sesoi=0.1)
    assert v.verdict == "inconclusive"
    assert claims.guard_floor(v, [0, 0], 3).verdict == "not comparable"
    assert "floor" in claims.guard_floor(v, [0, 0], 3).reason
    assert "ceiling" in claims.guard_floor(v, [3, 3], 3).reason
    assert claims.guard_floor(v, [0, 2], 3) is v


def test_contradicted_needs_the_interval_to_exclude_the_sesoi():
    a = [0.700 + 0.001 * k for k in range(10)]
    b = [x - 0.001 + (0.0005 if k % 2 else -0.0005) for k, x in enumerate(a)]
    tiny_gain = claims.superiority(a, b, sesoi=0.02)  # a real effect of 0.001, far below a SESOI of 0.02
    # the test rejects "no effect", and the interval rules out any effect that would matter: the claim as made
    # (an effect of interest) does not hold, and the reason says the effect is real
    assert tiny_gain.p is not None and tiny_gain.p < ALPHA
    assert tiny_gain.verdict == "contradicted" and "effect is real" in tiny_gain.reason
    worse = claims.superiority(b, a, sesoi=0.02)
    assert worse.verdict == "contradicted"
    noisy = claims.superiority([0.7, 0.9, 0.6], [0.75, 0.65, 0.7], sesoi=0.02)
    assert noisy.verdict == "inconclusive" and noisy.power is not None and noisy.mde is not None


def test_non_inferiority_contradicted_only_beyond_the_margin():
    base = np.linspace(0.7, 0.8, 8)
    worse = claims.non_inferiority(base - 0.05 + RNG.normal(0, 0.002, 8), base, margin=0.01)
    assert worse.verdict == "contradicted"
    slightly = claims.non_inferiority(base - 0.005 + RNG.normal(0, 0.03, 8), base, margin=0.01)
    assert slightly.verdict == "inconclusive"


def _fixed(estimate, low, high, p, half=None):
    """A from_test verdict whose interval at one-sided level a widens by ``half``·(1 + log(α/a)) on each side
    (None: the same interval at every level)."""

    def bounds(a):
        w = 0.0 if half is None else half * math.log(ALPHA / a)
        return low - w, high + w

    return claims.from_test(
        estimate=estimate, low=low, high=high, p=p, n=5, unit="seeds", rule="r", sesoi=0.2, bounds=bounds
    )


def test_conjunctions_are_symmetric():
    rep = _fixed(1, 0.5, 1.5, 0.001)
    con = _fixed(-1, -1.5, -0.5, 0.99)
    inc = _fixed(0.1, -0.5, 0.7, 0.3)
    nc = claims.not_comparable("one device")
    assert (rep.verdict, con.verdict, inc.verdict) == ("reproduced", "contradicted", "inconclusive")
    assert claims.all_of(rep, con).verdict == "contradicted"  # no longer "partly"
    assert claims.all_of(rep, rep).verdict == "reproduced"
    assert claims.all_of(rep, inc).verdict == "partly"
    assert claims.all_of(inc, inc).verdict == "inconclusive"
    assert claims.all_of(inc, nc).verdict == "not comparable"
    assert claims.all_of(nc, nc).verdict == "not comparable"
    both = claims.all_of(rep, inc)
    assert both.p == 0.3 and len(both.parts) == 2


def test_a_conjunction_reads_each_part_at_alpha_over_k_for_partly_and_contradicted():
    # "some part holds" and "some part fails" are unions of k tests: each part is read at α/k there
    inc = _fixed(0.1, -0.5, 0.7, 0.3)
    rep_at_alpha = _fixed(1, 0.1, 1.9, 0.02)  # reproduced at α = 0.025, not at α/2
    assert rep_at_alpha.verdict == "reproduced"
    weak = claims.all_of(rep_at_alpha, inc)
    assert weak.verdict == "inconclusive" and "α/2" in weak.reason
    assert claims.all_of(_fixed(1, 0.5, 1.5, 0.01), inc).verdict == "partly"  # 0.01 < α/2
    # a part whose 95 % interval excludes the SESOI but whose interval at α/2 does not
    near = _fixed(-0.2, -0.4, 0.1, 0.9, half=0.2)
    assert near.verdict == "contradicted" and near.bounds(ALPHA / 2)[1] > 0.2
    assert claims.all_of(near, inc).verdict == "inconclusive"
    assert claims.all_of(_fixed(-1, -1.5, -0.5, 0.99, half=0.2), inc).verdict == "contradicted"
    # alone (k = 1) a part's own word stands
    assert claims.all_of(near).verdict == "contradicted" and claims.all_of(rep_at_alpha).verdict == "reproduced"


def test_a_conjunction_of_two_null_parts_reads_partly_at_most_alpha(words_only):
    # both parts without effect: "partly" (one part reproduced) is a false claim; at α per part it was about 2α
    rng, n, n_sim = np.random.default_rng(21), 8, 2000
    zeros = np.zeros(n)
    false = sum(
        claims.all_of(
            claims.superiority(rng.normal(0, 1, n), zeros, sesoi=0.5),
            claims.superiority(rng.normal(0, 1, n), zeros, sesoi=0.5),
        ).verdict
        in ("partly", "reproduced")
        for _ in range(n_sim)
    )
    assert false / n_sim <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / n_sim)


def test_holm_decides_a_conjunction_from_its_adjusted_parts():
    rep = claims.from_test(estimate=1, low=0.5, high=1.5, p=0.01, n=5, unit="seeds", rule="r", sesoi=0.2)
    rep2 = claims.from_test(estimate=1, low=0.5, high=1.5, p=0.02, n=5, unit="seeds", rule="r", sesoi=0.2)
    other = claims.from_test(estimate=1, low=0.5, high=1.5, p=0.001, n=5, unit="seeds", rule="r", sesoi=0.2)
    out = claims.holm([claims.all_of(rep, rep2), other])
    assert out[0].p == pytest.approx(0.02) and out[0].verdict == "reproduced"
    later = claims.from_test(estimate=1, low=0.5, high=1.5, p=0.012, n=5, unit="seeds", rule="r", sesoi=0.2)
    out = claims.holm([claims.all_of(rep, rep2), later, later, later])
    # adjusted: 4 × 0.012 = 0.048 for all; the parts by the same factor 2.4: 0.024 (reproduced), 0.048
    assert out[0].p == pytest.approx(0.048) and out[0].family == 4
    # partly needs a part at α/2 (two parts): 0.024 is not, so the conjunction is inconclusive and says why
    assert [p.verdict for p in out[0].parts] == ["reproduced", "inconclusive"]
    assert out[0].verdict == "inconclusive" and "α/2" in out[0].reason
    first = claims.from_test(estimate=1, low=0.5, high=1.5, p=0.002, n=5, unit="seeds", rule="r", sesoi=0.2)
    out = claims.holm([claims.all_of(first, rep2), later, later, later])
    # the same factor 2.4: 0.0048 < α/2, so one part holds at the conjunction's level
    assert out[0].verdict == "partly" and out[0].parts[0].p == pytest.approx(0.0048)


def test_convergence_guard_is_symmetric():
    rep = claims.superiority([1, 2, 3, 4], [0, 1.1, 2, 2.9], sesoi=0.1)
    assert rep.verdict == "reproduced"
    guarded = claims.requires_convergence(rep, False, "loss 0.3")
    assert guarded.verdict == "not comparable" and guarded.reason == "not converged: loss 0.3"
    assert guarded.estimate == rep.estimate  # the numbers stay for the record
    assert claims.requires_convergence(rep, True) is rep


def test_acted_guard_and_non_finite_values_are_named():
    v = claims.superiority([0.1, 0.2, 0.3], [0.1, 0.25, 0.2], sesoi=0.05)
    g = claims.guard_acted(v, False, "98 % of greedy answers identical to SFT's")
    assert g.verdict == "not comparable" and "did not act" in g.reason
    nan = claims.superiority([0.1, float("nan"), 0.3], [0.0, 0.0, 0.0], sesoi=0.05)
    assert nan.verdict == "not comparable" and "non-finite" in nan.reason
    inf = claims.mcnemar([1, 0, float("inf")], [0, 0, 0], sesoi=0.1)
    assert inf.verdict == "not comparable"
    boot = claims.bootstrap(([1.0, float("nan"), 2.0],), lambda x: float(np.mean(x)), sesoi=0.1, n_resamples=100)
    assert boot.verdict == "not comparable"


def test_bad_inputs_are_named():
    with pytest.raises(ParameterError, match="'b'"):
        claims.superiority([1, 2], [1])
    with pytest.raises(ParameterError, match="'a'"):
        claims.superiority("12", [1, 2])
    with pytest.raises(ParameterError, match="'alpha'"):
        claims.superiority([1, 2], [0, 1], alpha=1.5)
    with pytest.raises(ParameterError, match="'margin'"):
        claims.non_inferiority([1, 2], [0, 1], margin=0)
    with pytest.raises(ParameterError, match="'a'"):
        claims.mcnemar([1, 2], [0, 1])
    with pytest.raises(ParameterError, match="'verdict'"):
        Verdict("maybe", rule="")


def test_a_single_pair_is_not_comparable_with_the_reason():
    v = claims.superiority([0.8], [0.7], sesoi=0.01)
    assert v.verdict == "not comparable" and "at least 2" in v.reason


# ------------------------------------------------------------------- declarations and the claims table


def test_a_spec_is_checked_before_any_result():
    ok = ClaimSpec(
        "better",
        "a beats b",
        "the paper's words",
        "abstract",
        "seeds",
        5,
        "superiority",
        0.005,
        "half the paper's +1 %",
        0.01,
        fmt="+.2%",
    )
    assert ok.test == "superiority"
    with pytest.raises(ParameterError, match="'test'"):
        ClaimSpec("k", "c", "p", "s", "seeds", 5, "t-test")
    with pytest.raises(ParameterError, match="'sesoi'"):
        ClaimSpec("k", "c", "p", "s", "seeds", 5, "non_inferiority")
    with pytest.raises(ParameterError, match="'sesoi_source'"):
        ClaimSpec("k", "c", "p", "s", "seeds", 5, "superiority", 0.1)
    with pytest.raises(ParameterError, match="'untestable'"):
        ClaimSpec("k", "c", "p", "s", "", None, "none")
    # every tested claim needs a smallest effect of interest: without one it could never read contradicted
    for rule in sorted(set(claims.RULES)):
        with pytest.raises(ParameterError, match="'sesoi'"):
            ClaimSpec("k", "c", "p", "s", "seeds", 5, rule)


def test_a_sesoi_that_no_outcome_could_reach_is_refused():
    # a rate cannot pass 1: threshold 0.95 with a SESOI of 0.1 would read contradicted even at 4 of 4, and at
    # threshold + SESOI = 1 any failure would
    for threshold in (0.95, 0.9):
        with pytest.raises(ParameterError, match="'sesoi'"):
            claims.rate(4, 4, threshold=threshold, sesoi=0.1)
    assert claims.rate(4, 4, threshold=0.8, sesoi=0.1).verdict != "contradicted"
    with pytest.raises(ParameterError, match="'sesoi'"):
        claims.mcnemar([1, 0], [0, 0], sesoi=1.0)
    with pytest.raises(ParameterError, match="'margin'"):
        claims.binary_non_inferiority([1, 0], [0, 0], margin=1.0)
    # a non-inferiority claim of the chapter's own test reads its interval against −margin
    with pytest.raises(ParameterError, match="'null'"):
        claims.from_test(
            estimate=-0.01, low=-0.03, high=-0.005, p=0.01, n=5, unit="u", rule="r", kind="non-inferiority", sesoi=0.05
        )
    inside = claims.from_test(
        estimate=-0.01,
        low=-0.03,
        high=-0.005,
        p=0.01,
        n=5,
        unit="u",
        rule="r",
        kind="non-inferiority",
        sesoi=0.05,
        null=-0.05,
    )
    assert inside.verdict == "reproduced"  # the interval lies within the margin: non-inferior


def test_the_bootstrap_p_value_inverts_its_bca_interval():
    # p < α exactly when the BCa 95 % interval lies above the null (up to the resamples' granularity); the
    # share of resamples at or below the null (the percentile p) disagreed on skewed data
    rng = np.random.default_rng(3)
    mean = lambda x: float(np.mean(x))  # noqa: E731
    agree = 0
    for k in range(60):
        x = 1 - rng.exponential(1, 12) + rng.normal(0.6, 0.2)
        v = claims.bootstrap((x,), mean, sesoi=0.3, n_resamples=1000, seed=k)
        low, _ = v.bounds(ALPHA)
        if v.p < ALPHA:
            assert low > 0, (k, v.p, low)  # reproduced only where the interval excludes the null
        agree += (v.p < ALPHA) == (low > 0)
    assert agree >= 58


def test_welch_power_is_the_rules_own_rejection_rate():
    # power from the non-central t with Welch's df: at the observed SDs, the rule rejects about that often
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1.0, 5), rng.normal(0, 2.0, 7)
    sa, sb = float(np.std(a, ddof=1)), float(np.std(b, ddof=1))
    effect = 2.0
    v = claims.welch(a, b, sesoi=effect)
    hits = sum(
        claims.welch(rng.normal(effect, sa, 5), rng.normal(0, sb, 7), sesoi=effect).verdict == "reproduced"
        for _ in range(2000)
    )
    assert v.power is not None and abs(hits / 2000 - v.power) < 0.04, (hits / 2000, v.power)


def test_evaluate_takes_the_sesoi_and_unit_from_the_declaration():
    spec = ClaimSpec("better", "a beats b", "p", "s", "questions", 4, "mcnemar", 0.1, "a practical threshold", 0.3)
    t = claims.evaluate(spec, [1, 1, 0, 1], [0, 1, 0, 0], this_run="two wins")
    assert t.verdict.sesoi == 0.1 and t.verdict.paper_effect == 0.3 and t.verdict.covers == "4 questions"
    with pytest.raises(ParameterError, match="'sesoi'"):
        claims.evaluate(spec, [1, 0], [0, 0], sesoi=0.5)
    none = ClaimSpec("imagenet", "c", "p", "s", "", None, "none", untestable="ImageNet is outside every profile")
    assert claims.evaluate(none).verdict.verdict == "not comparable"
    row = t.row()
    assert {"unit", "n", "sesoi", "sesoi_source", "power", "mde", "estimate", "low", "high"} <= set(row)


def test_claims_table_shows_power_and_mde():
    spec = ClaimSpec(
        "better", "a beats b", "p", "s", "seeds", 5, "superiority", 0.01, "half the paper's gain", 0.02, fmt="+.2%"
    )
    tests = claims.holm_tests([claims.evaluate(spec, [0.71, 0.74, 0.69, 0.75, 0.73], [0.70, 0.71, 0.72, 0.72, 0.70])])
    frame = claims.claims_table(tests)
    row = frame.iloc[0]
    assert row["power at SESOI"].endswith("%") and row["MDE (80 %)"].endswith("%")
    assert row["estimate [95 % CI]"].startswith("+")
    # a claim a guard reads not comparable leaves the Holm family: its p is shown as the raw one it is
    second = dataclasses.replace(spec, key="also", claim="a beats c")
    pair = [claims.evaluate(s, [0.71, 0.74, 0.69, 0.75, 0.73], [0.70, 0.71, 0.72, 0.72, 0.70]) for s in (spec, second)]
    pair[1].verdict = claims.guard(pair[1].verdict, False, "not converged")
    both = claims.claims_table(claims.holm_tests(pair))
    kept, guarded = both.iloc[0]["p (Holm)"], both.iloc[1]["p (Holm)"]
    assert guarded == claims.p_format(pair[1].verdict.p) + " (unadjusted)" and "unadjusted" not in kept
    assert kept == row["p (Holm)"]  # a family of one: the same p as the chapter alone
    assert claims.in_holm_family("inconclusive", 0.3) and not claims.in_holm_family("not comparable", 0.01)
    assert not claims.in_holm_family("reproduced", float("nan")) and not claims.in_holm_family("reproduced", None)
    design = claims.design_frame([spec, dataclasses.replace(spec, key="held_out", n=None)])
    assert "half the paper's gain" in design.iloc[0]["smallest effect of interest"]
    # n left open at the declaration is the whole held-out set, not "None"
    assert design["unit (n)"].tolist() == ["seeds (5)", "seeds (all)"]


def test_a_conjunctions_mde_cell_lists_its_parts():
    """ "All of" has no one MDE (its parts measure different quantities): the cell lists each part's, the
    first in the claim's format, in the table built from the test and from its saved row alike."""
    acc = claims.superiority([0.80, 0.82, 0.81, 0.83, 0.80], [0.79, 0.80, 0.80, 0.81, 0.79], sesoi=0.01)
    loss = claims.superiority([0.52, 0.55, 0.50, 0.51, 0.54], [0.50, 0.51, 0.49, 0.50, 0.52], sesoi=0.03)
    both = claims.all_of(acc, loss)
    assert both.mde is None and acc.mde is not None and loss.mde is not None
    spec = ClaimSpec("alike", "alike", "p", "s", "seeds", 5, "from_test", 0.01, "practical", fmt=".2%")
    test = claims.ClaimTest(spec, both)
    for source in (test, test.row()):
        cell = claims.claims_table([source]).iloc[0]["MDE (80 %)"]
        assert cell == f"{acc.mde:.2%}; {loss.mde:.3g}"


# --------------------------------------------------------------------------------- by simulation

N_SIM = 2000
MC_TOL = 3 * math.sqrt(ALPHA * (1 - ALPHA) / N_SIM)  # three Monte-Carlo standard errors


@pytest.fixture
def words_only(monkeypatch):
    """The simulations check the words; power and MDE (which never change a word) are not computed there."""
    monkeypatch.setattr(claims.Verdict, "with_design", lambda self, alpha: self)


def _rate_of(word, make, n_sim=N_SIM):
    return sum(make(k).verdict == word for k in range(n_sim)) / n_sim


@pytest.mark.parametrize("n", [3, 5, 12])
def test_superiority_under_the_null_reproduces_at_most_alpha(n, words_only):
    rng = np.random.default_rng(n)
    rate = _rate_of("reproduced", lambda _: claims.superiority(rng.normal(0, 1, n), rng.normal(0, 1, n), sesoi=0.5))
    assert rate <= ALPHA + MC_TOL


@pytest.mark.parametrize("n", [5, 12])
def test_superiority_under_a_large_effect_is_never_contradicted(n, words_only):
    rng = np.random.default_rng(100 + n)
    rate = _rate_of("contradicted", lambda _: claims.superiority(rng.normal(2, 1, n), rng.normal(0, 1, n), sesoi=0.5))
    assert rate <= 0.001


def test_non_inferiority_at_its_boundary_passes_at_most_alpha(words_only):
    rng = np.random.default_rng(7)
    rate = _rate_of("reproduced", lambda _: claims.non_inferiority(rng.normal(-0.1, 0.05, 6), np.zeros(6), margin=0.1))
    assert rate <= ALPHA + MC_TOL
    rate = _rate_of(
        "contradicted", lambda _: claims.non_inferiority(rng.normal(0.05, 0.05, 6), np.zeros(6), margin=0.1)
    )
    assert rate <= 0.001


def test_equivalence_at_its_boundary_passes_at_most_alpha(words_only):
    rng = np.random.default_rng(8)
    rate = _rate_of("reproduced", lambda _: claims.equivalence(rng.normal(0.1, 0.05, 8), np.zeros(8), margin=0.1))
    assert rate <= ALPHA + MC_TOL
    rate = _rate_of("contradicted", lambda _: claims.equivalence(rng.normal(0.0, 0.05, 8), np.zeros(8), margin=0.1))
    assert rate <= 0.001


def _paired_binary(rng, n, p_a, p_b, rho=0.5):
    """Paired 0/1 outcomes: with probability rho both arms share the draw."""
    shared = rng.random(n) < rho
    u = rng.random(n)
    a = (u < p_a).astype(int)
    b = np.where(shared, (u < p_b).astype(int), (rng.random(n) < p_b).astype(int))
    return a, b


@pytest.mark.parametrize("n", [3, 24, 60])
def test_mcnemar_under_the_null_reproduces_at_most_alpha(n, words_only):
    rng = np.random.default_rng(200 + n)
    rate = _rate_of("reproduced", lambda _: claims.mcnemar(*_paired_binary(rng, n, 0.5, 0.5), sesoi=0.1))
    assert rate <= ALPHA + MC_TOL
    rate = _rate_of("contradicted", lambda _: claims.mcnemar(*_paired_binary(rng, n, 0.9, 0.3), sesoi=0.1))
    assert rate <= 0.001


def test_binary_non_inferiority_at_its_boundary_passes_at_most_alpha(words_only):
    # 24 pairs at the boundary passed 29 % of the time with the old sign-test fallback
    rng = np.random.default_rng(9)
    rate = _rate_of(
        "reproduced", lambda _: claims.binary_non_inferiority(*_paired_binary(rng, 24, 0.6, 0.7, rho=0.3), margin=0.1)
    )
    assert rate <= ALPHA + 2 * MC_TOL  # Newcombe's interval is close to, not exactly at, its level
    rate = _rate_of(
        "contradicted", lambda _: claims.binary_non_inferiority(*_paired_binary(rng, 60, 0.8, 0.7), margin=0.1)
    )
    assert rate <= 0.001


def test_rate_under_the_null_reproduces_at_most_alpha(words_only):
    rng = np.random.default_rng(10)
    rate = _rate_of("reproduced", lambda _: claims.rate(int(rng.binomial(12, 0.5)), 12, sesoi=0.1))
    assert rate <= ALPHA + MC_TOL


def test_bootstrap_under_the_null_reproduces_at_most_alpha(words_only):
    rng = np.random.default_rng(11)
    mean = lambda x: float(np.mean(x))  # noqa: E731
    rate = _rate_of(
        "reproduced",
        lambda _: claims.bootstrap(
            (rng.normal(0, 1, 30),), mean, sesoi=0.3, n_resamples=400, seed=int(rng.integers(1 << 30))
        ),
        n_sim=300,
    )
    assert rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 300)


def test_bootstrap_interval_covers_at_n_10():
    rng = np.random.default_rng(12)
    hits = 0
    n_sim = 600
    for k in range(n_sim):
        _, low, high = claims.bootstrap_ci(rng.normal(1.0, 1.0, 10), n_boot=1000, seed=k)
        hits += low <= 1.0 <= high
    assert hits / n_sim >= 0.9


def test_bca_where_defined_percentile_where_not_and_no_warning_either_way():
    """``bca_bootstrap`` gives scipy's BCa interval where it is defined; where it is not (a statistic that no
    left-out unit moves: the jackknife is degenerate) the percentile interval, quietly, and says so; the claim
    then names the percentile interval in its rule."""
    import warnings

    from scipy import stats

    rng = np.random.default_rng(3)
    x = rng.normal(0.5, 1.0, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high, dist, bca = claims.bca_bootstrap((x,), np.mean, level=0.95, seed=1, n_resamples=500, vectorized=True)
        want = stats.bootstrap(
            (x,), np.mean, n_resamples=500, confidence_level=0.95, method="BCa", rng=np.random.default_rng(1)
        )
        assert bca and (low, high) == (want.confidence_interval.low, want.confidence_interval.high)
        assert len(dist) == 500
        # units that do not vary (a method that retrieves for every question: a difference of 0 each time)
        same = np.zeros(40)
        low, high, dist, bca = claims.bca_bootstrap(
            (same,), lambda v: float(np.mean(v)), level=0.95, seed=1, n_resamples=200, vectorized=False
        )
        assert not bca and (low, high) == (0.0, 0.0) and np.ptp(dist) == 0
        verdict = claims.bootstrap((same,), lambda v: float(np.mean(v)), sesoi=0.1, n_resamples=200)
    assert "percentile (BCa undefined on these data)" in verdict.rule and verdict.reason.startswith("no variation")
    assert "BCa 95%" in claims.bootstrap((x,), lambda v: float(np.mean(v)), sesoi=0.1, n_resamples=200).rule


def test_power_is_what_it_says_by_simulation(words_only):
    # a run of 8 seeds with sd 1 and a true effect of 1: the reported power is the simulated rate of reproduced
    rng = np.random.default_rng(13)
    sims = [claims.superiority(rng.normal(1, 1, 8), np.zeros(8), sesoi=1.0) for _ in range(N_SIM)]
    rate = np.mean([v.verdict == "reproduced" for v in sims])
    assert rate == pytest.approx(claims.power_t(1.0, 1.0, 8), abs=0.03)


# ----------------------------------------------------------------- every rule can reach each word

CASES = {
    "superiority": {
        "reproduced": lambda: claims.superiority([1.0, 1.1, 0.9, 1.05], [0, 0.1, 0.05, 0], sesoi=0.1),
        "contradicted": lambda: claims.superiority([0, 0.1, 0.05, 0], [1.0, 1.1, 0.9, 1.05], sesoi=0.1),
        "inconclusive": lambda: claims.superiority([0.1, -0.1, 0.2, 0.0], [0, 0, 0, 0], sesoi=0.1),
    },
    "non_inferiority": {
        "reproduced": lambda: claims.non_inferiority([1.0, 1.1, 0.9, 1.05], [1.0, 1.08, 0.92, 1.04], margin=0.1),
        "contradicted": lambda: claims.non_inferiority([0.5, 0.6, 0.4, 0.55], [1.0, 1.08, 0.92, 1.04], margin=0.1),
        "inconclusive": lambda: claims.non_inferiority([1.0, 0.7, 1.2, 0.8], [1.0, 1.0, 1.0, 1.0], margin=0.1),
    },
    "equivalence": {
        "reproduced": lambda: claims.equivalence([1.0, 1.1, 0.9, 1.05], [1.0, 1.09, 0.91, 1.05], margin=0.1),
        "contradicted": lambda: claims.equivalence([2.0, 2.1, 1.9, 2.05], [1.0, 1.09, 0.91, 1.05], margin=0.1),
        "inconclusive": lambda: claims.equivalence([1.0, 0.7, 1.2, 0.8], [1.0, 1.0, 1.0, 1.0], margin=0.1),
    },
    "mcnemar": {
        "reproduced": lambda: claims.mcnemar([1] * 12 + [0] * 8, [0] * 12 + [0] * 8, sesoi=0.1),
        "contradicted": lambda: claims.mcnemar([0] * 12 + [0] * 28, [1] * 12 + [0] * 28, sesoi=0.1),
        "inconclusive": lambda: claims.mcnemar([1, 0, 1, 0], [0, 1, 1, 0], sesoi=0.1),
    },
    "binary_non_inferiority": {
        "reproduced": lambda: claims.binary_non_inferiority([1] * 95 + [0] * 5, [1] * 94 + [0] * 5 + [1], margin=0.1),
        "contradicted": lambda: claims.binary_non_inferiority([0] * 40 + [1] * 60, [1] * 40 + [1] * 60, margin=0.1),
        "inconclusive": lambda: claims.binary_non_inferiority([1, 0, 1, 0], [0, 1, 1, 0], margin=0.1),
    },
    "bootstrap": {
        "reproduced": lambda: claims.bootstrap(
            (np.linspace(0.5, 1.5, 40),), lambda x: float(np.mean(x)), sesoi=0.1, n_resamples=500
        ),
        "contradicted": lambda: claims.bootstrap(
            (np.linspace(-1.5, -0.5, 40),), lambda x: float(np.mean(x)), sesoi=0.1, n_resamples=500
        ),
        "inconclusive": lambda: claims.bootstrap(
            (np.linspace(-1, 1.1, 40),), lambda x: float(np.mean(x)), sesoi=0.1, n_resamples=500
        ),
    },
    "rate": {
        "reproduced": lambda: claims.rate(19, 20, sesoi=0.1),
        "contradicted": lambda: claims.rate(2, 20, sesoi=0.1),
        "inconclusive": lambda: claims.rate(11, 20, sesoi=0.1),
    },
    "welch": {
        "reproduced": lambda: claims.welch([2.0, 2.1, 1.9, 2.2], [1.0, 0.9, 1.1, 1.0], sesoi=0.1),
        "contradicted": lambda: claims.welch([0.0, 0.1, -0.1, 0.05], [1.0, 0.9, 1.1, 1.0], sesoi=0.1),
        "inconclusive": lambda: claims.welch([1.0, 0.2, 1.9, 0.5], [1.0, 0.9, 1.1, 1.0], sesoi=0.1),
    },
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_every_rule_can_reach_each_of_its_words(rule):
    assert set(CASES) == set(claims.RULES) - {"from_test"}
    for word, make in CASES[rule].items():
        v = make()
        assert v.verdict == word, (rule, word, v)
        assert v.test == rule
        if word == "inconclusive":
            assert v.power is not None and (v.mde is not None or v.test in ("mcnemar", "binary_non_inferiority"))


def test_tiny_and_dry_runs_keep_the_numbers():
    v = CASES["superiority"]["reproduced"]()
    for turned, why in ((claims.tiny_run(v), "tiny run"), (claims.dry_run(v), "dry run")):
        assert turned.verdict == "not comparable" and turned.reason == why and turned.estimate == v.estimate


def test_a_guard_keeps_the_reason_a_verdict_has_no_power():
    flat = claims.superiority([0.7, 0.7, 0.7], [0.6, 0.6, 0.6], sesoi=0.01)
    assert flat.power is None and flat.reason.startswith("no variation")
    for turned, why in (
        (claims.tiny_run(flat), "tiny run"),
        (claims.dry_run(flat), "dry run"),
        (claims.guard(flat, False, "a guard"), "a guard"),
    ):
        assert turned.verdict == "not comparable" and turned.power is None
        assert turned.reason == f"no variation; {why}", turned.reason
    assert claims.tiny_run(claims.guard(flat, False, "a guard")).reason == "no variation; tiny run"


def test_every_guard_that_fails_is_named():
    v = claims.superiority([0.7, 0.9, 0.6, 0.8], [0.75, 0.65, 0.7, 0.6], sesoi=0.02)
    twice = claims.guard_acted(claims.requires_convergence(v, False, "loss 0.3"), False, "0 % moved")
    assert twice.verdict == "not comparable"
    assert twice.reason == "not converged: loss 0.3; the method did not act: 0 % moved", twice.reason
    assert claims.guard(twice, False, "not converged: loss 0.3").reason == twice.reason  # said once
    assert claims.tiny_run(twice).reason == "tiny run"  # the whole run's reason stands alone


def test_format_is_the_one_rendering():
    v = claims.superiority([0.71, 0.74, 0.69, 0.75, 0.73], [0.70, 0.71, 0.70, 0.72, 0.70], sesoi=0.01)
    text = v.format("+.2%")
    assert text.startswith("+") and "[" in text and ", p = " in text
    assert claims.not_comparable("x").format() == "not tested"


def test_powered_counts_the_goal():
    rows = [
        {"tested": True, "power_paper": 0.9},
        {"tested": True, "power_paper": None, "power": 0.85},
        {"tested": True, "power_paper": 0.5},
        {"tested": False, "power": None},
    ]
    assert claims.powered(rows) == (2, 3)
    counts = claims.summary_counts([{"verdict": "reproduced"}, {"verdict": "inconclusive"}])
    assert list(counts) == list(claims.VERDICTS) and counts["reproduced"] == 1


def test_a_claim_over_held_out_units_takes_n_from_its_held_out_set_unless_declared():
    open_n = claims.ClaimSpec("h", "held out", "x", "s", "held-out topics", None, "superiority", 0.1, "practical")
    assert open_n.over([0.1, 0.2, 0.3]).n == 3 and open_n.n is None
    declared = claims.ClaimSpec("d", "declared", "x", "s", "seeds", 5, "superiority", 0.1, "practical")
    assert declared.over([0.1, 0.2]) is declared


def _near_sesoi(n: int, sesoi: float):
    """Paired differences whose 95 % t-interval ends 0.01 below ``sesoi`` (mean and SD fixed exactly)."""
    z = RNG.normal(0, 1, n)
    z = (z - z.mean()) / z.std(ddof=1)  # mean 0, SD 1 exactly
    se = 1 / math.sqrt(n)
    mean = sesoi - 0.01 - stats.t.ppf(1 - ALPHA, n - 1) * se
    return list(mean + z), mean, se


def test_contradicted_in_a_family_needs_the_interval_at_its_holm_level():
    # three claims of one chapter: the first's 95 % interval ends just below its SESOI, its interval at one-sided
    # α/3 does not; the two others are inconclusive (intervals around zero, wide): no step of Holm's step-down
    # rules any of them out, so the first is read at α/3 and stays inconclusive
    n, sesoi = 10, 1.0
    values, mean, se = _near_sesoi(n, sesoi)
    zeros = [0.0] * n
    alone = claims.superiority(values, zeros, sesoi=sesoi)
    assert alone.verdict == "contradicted"  # tested alone: the 95 % interval decides
    wide = wide_claim(sesoi)
    assert wide.verdict == "inconclusive"
    out = claims.holm([alone, wide, wide])
    low, high = stats.t.interval(1 - 2 * ALPHA / 3, n - 1, loc=mean, scale=se)
    assert out[0].verdict == "inconclusive" and f"α/3), [{low:.3g}, {high:.3g}], does not" in out[0].reason
    assert (out[0].low, out[0].high) == (alone.low, alone.high)  # the table keeps the 95 % interval
    assert all("contradicted by Holm's step-down too" in v.rule for v in out)
    assert claims.contradiction_levels([alone, wide, wide]) == [3, 3, 3]


def test_holm_step_down_contradicts_what_bonferroni_would_not():
    # the same claim beside two that lie far below the SESOI: step 1 (α/3) rules those two out, step 2 reads the
    # first at α/(3 − 2) = α, its 95 % interval, which excludes the SESOI: contradicted, as Holm's procedure on
    # the p-values of "the effect is at least the SESOI" decides
    n, sesoi = 10, 1.0
    values, _, _ = _near_sesoi(n, sesoi)
    zeros = [0.0] * n
    near = claims.superiority(values, zeros, sesoi=sesoi)
    far = claims.superiority([x - 2 for x in values], zeros, sesoi=sesoi)
    assert claims.contradiction_levels([near, far, far]) == [1, 3, 3]
    out = claims.holm([near, far, far])
    assert [v.verdict for v in out] == ["contradicted"] * 3
    # Holm on the p-values of t-tests of "mean ≥ SESOI" (statsmodels), the reference
    p_contra = [
        stats.ttest_1samp(np.asarray(v), sesoi, alternative="less").pvalue
        for v in (values, [x - 2 for x in values], [x - 2 for x in values])
    ]
    reject = multipletests(p_contra, alpha=ALPHA, method="holm")[0]
    assert list(reject) == [True, True, True]
    assert multipletests(p_contra, alpha=ALPHA, method="bonferroni")[0][0] == False  # noqa: E712
    # one far claim only: step 1 rules it out, step 2 reads the first at α/2, which does not exclude the SESOI
    assert claims.contradiction_levels([near, far, wide_claim(sesoi)]) == [2, 3, 2]
    assert [v.verdict for v in claims.holm([near, far, wide_claim(sesoi)])] == [
        "inconclusive",
        "contradicted",
        "inconclusive",
    ]


def wide_claim(sesoi: float):
    """An inconclusive claim on 10 units: differences around zero with a wide spread."""
    return claims.superiority([-6.0, 6, -5, 5, -4, 4, -3, 3, -2, 2], [0.0] * 10, sesoi=sesoi)


def test_a_chapter_test_without_bounds_cannot_be_contradicted_in_a_family():
    con = claims.from_test(estimate=-1, low=-1.5, high=-0.5, p=0.99, n=5, unit="seeds", rule="r", sesoi=0.2)
    assert con.verdict == "contradicted" and claims.holm([con])[0].verdict == "contradicted"
    pair = claims.holm([con, con])
    assert pair[0].verdict == "inconclusive" and "no interval at its Holm level" in pair[0].reason
    bounded = dataclasses.replace(con, bounds=lambda a: (-1.5 - a, -0.5 + a))
    assert claims.holm([bounded, bounded])[0].verdict == "contradicted"


def _mean_gap(a, b):
    return float(np.mean(a) - np.mean(b))


BOUNDED_RULES = {
    "superiority": lambda: claims.superiority([0.7, 0.9, 0.6, 0.8], [0.75, 0.65, 0.7, 0.6], sesoi=0.02),
    "non_inferiority": lambda: claims.non_inferiority([0.7, 0.9, 0.6, 0.8], [0.75, 0.65, 0.7, 0.6], margin=0.02),
    "equivalence": lambda: claims.equivalence([0.7, 0.9, 0.6, 0.8], [0.75, 0.65, 0.7, 0.6], margin=0.02),
    "mcnemar": lambda: claims.mcnemar([1, 1, 0, 1, 0, 1, 1, 0], [0, 1, 0, 0, 1, 0, 1, 0], sesoi=0.1),
    "binary_non_inferiority": lambda: claims.binary_non_inferiority(
        [1, 1, 0, 1, 0, 1, 1, 0], [0, 1, 0, 0, 1, 0, 1, 0], margin=0.1
    ),
    "bootstrap": lambda: claims.bootstrap(
        (RNG.normal(0.3, 1, 30), RNG.normal(0, 1, 30)), _mean_gap, sesoi=0.2, n_resamples=400
    ),
    "rate": lambda: claims.rate(17, 20, threshold=0.5, sesoi=0.1),
    "welch": lambda: claims.welch([0.7, 0.9, 0.6, 0.8], [0.75, 0.65, 0.7], sesoi=0.02),
}


@pytest.mark.parametrize("rule", sorted(BOUNDED_RULES))
def test_every_rules_bounds_at_its_own_level_are_its_interval(rule):
    v = BOUNDED_RULES[rule]()
    assert v.bounds is not None
    assert v.bounds(ALPHA) == pytest.approx((v.low, v.high), rel=1e-9, abs=1e-12)
    low, high = v.bounds(ALPHA / 5)
    assert low < v.low and high > v.high  # the family's level is the wider interval


def test_a_family_whose_effects_are_at_the_sesoi_reads_contradicted_at_most_alpha(words_only):
    # five claims of one chapter whose true effect is the SESOI: any contradicted verdict is an error. On the
    # 95 % intervals alone the rate is about 1 − 0.975⁵ ≈ 0.12.
    rng, m, n, sesoi, n_sim = np.random.default_rng(11), 5, 8, 0.5, 1000

    def any_contradicted() -> bool:
        zeros = np.zeros(n)
        family = [claims.superiority(rng.normal(sesoi, 1, n), zeros, sesoi=sesoi) for _ in range(m)]
        return any(v.verdict == "contradicted" for v in claims.holm(family))

    rate = sum(any_contradicted() for _ in range(n_sim)) / n_sim
    assert rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / n_sim)


def test_holm_step_down_holds_false_contradictions_to_alpha_beside_real_ones(words_only):
    # five claims: two whose true effect lies far below the SESOI (ruled out at the first step, which lowers the
    # level of the rest to α/3) and three whose true effect is the SESOI: contradicting any of those three is an
    # error, which Holm's step-down holds to α (the three are read at α/3 at most)
    rng, n, sesoi, n_sim = np.random.default_rng(12), 8, 0.5, 1000

    def any_false_contradiction() -> bool:
        zeros = np.zeros(n)
        far = [claims.superiority(rng.normal(sesoi - 3, 1, n), zeros, sesoi=sesoi) for _ in range(2)]
        at = [claims.superiority(rng.normal(sesoi, 1, n), zeros, sesoi=sesoi) for _ in range(3)]
        out = claims.holm(far + at)
        assert [v.verdict for v in out[:2]] == ["contradicted", "contradicted"]
        return any(v.verdict == "contradicted" for v in out[2:])

    rate = sum(any_false_contradiction() for _ in range(n_sim)) / n_sim
    assert rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / n_sim)


def test_no_discordant_pair_in_a_family_is_decided_on_its_interval_at_the_familys_level():
    # a McNemar claim without a discordant pair is decided as any table (p = 1, Newcombe's interval, which is
    # defined there): on 200 questions the interval rules out a gain of 0.1, alone and at α/2 in a family
    same = [1] * 100 + [0] * 100
    v = claims.mcnemar(same, same, sesoi=0.1)
    assert v.p == 1.0 and v.verdict == "contradicted" and v.high < 0.1
    assert v.bounds is not None and v.bounds(ALPHA / 2)[1] < 0.1
    alone, pair = claims.holm([v])[0], claims.holm([v, v])[0]
    assert alone.verdict == pair.verdict == "contradicted"
    # binary non-inferiority on identical answers: the strongest evidence of parity passes, as one flip does
    parity = claims.binary_non_inferiority(same, same, margin=0.05)
    flipped = claims.binary_non_inferiority([0] + same[1:], same, margin=0.05)
    assert parity.verdict == flipped.verdict == "reproduced" and parity.p is not None and parity.p < ALPHA
