"""The verdict rules of reprobook.claims on constructed inputs, against scipy and hand computations."""

import math

import numpy as np
import pytest
from scipy import stats

from reprobook import claims
from reprobook.checks import ParameterError
from reprobook.claims import Verdict

# ----------------------------------------------------------------------------------------- superiority


def test_superiority_reached_matches_scipys_paired_t_test():
    a = [0.91, 0.93, 0.92, 0.94, 0.90]
    b = [0.88, 0.89, 0.90, 0.89, 0.88]
    v = claims.superiority(a, b, unit="seeds")
    expected = stats.ttest_rel(a, b, alternative="greater").pvalue
    assert v.verdict == "reproduced" and v.p == pytest.approx(expected, rel=1e-12)
    assert v.p_raw == v.p and v.n == 5 and v.covers == "5 seeds" and v.kind == "superiority"
    diffs = np.subtract(a, b)
    assert v.estimate == pytest.approx(diffs.mean())
    low, high = stats.t.interval(0.90, 4, loc=diffs.mean(), scale=stats.sem(diffs))  # the (1 − 2α) interval
    assert (v.low, v.high) == (pytest.approx(low), pytest.approx(high))
    assert "0.05" in v.rule and "seeds" in v.rule


def test_superiority_partly_when_the_sign_is_right_without_significance():
    v = claims.superiority([1.0, 2.0, 3.0], [1.5, 1.0, 2.6])  # differences −0.5, +1.0, +0.4
    assert v.estimate > 0 and v.p >= 0.05 and v.verdict == "partly"


@pytest.mark.parametrize("a, b", [([1.0, 2.0, 3.0], [1.1, 2.2, 3.3]),  # worse every time
                                  ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])])  # no difference at all
def test_superiority_not_reproduced_for_the_wrong_sign_or_zero(a, b):
    assert claims.superiority(a, b).verdict == "not reproduced"


def test_identical_differences_use_the_sign_test_never_p_zero():
    # 0.3 − 0.2 and 0.4 − 0.3 differ in the last bit: a t-test would see a spread of 1e-17 and give p ≈ 0
    a, b = [0.3, 0.4, 0.5], [0.2, 0.3, 0.4]
    assert np.std(np.subtract(a, b)) > 0  # the rounding is really there
    v = claims.superiority(a, b)
    assert v.p == pytest.approx(0.5 ** 3) and v.verdict == "partly"  # three wins: p = 1/8, not significant
    six = claims.superiority([1.0] * 6, [0.0] * 6)
    assert six.p == pytest.approx(0.5 ** 6) and six.verdict == "reproduced"
    assert (six.low, six.high) == (1.0, 1.0)


def test_a_single_pair_is_not_comparable_with_the_reason():
    v = claims.superiority([0.9], [0.8], unit="trained models")
    assert v.verdict == "not comparable" and "n = 1" in v.reason and "at least 2" in v.reason
    assert v.estimate == pytest.approx(0.1) and v.p is None and str(v).startswith("not comparable (n = 1")
    for rule in (claims.non_inferiority, claims.equivalence):
        assert rule([0.9], [0.8], margin=0.01).verdict == "not comparable"


@pytest.mark.parametrize("a, b, name", [([1, 2], [1], "b"), ([], [], "b"), (["x", 1], [1, 2], "a"),
                                        ([float("nan"), 1], [1, 2], "a")])
def test_bad_inputs_are_named(a, b, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        claims.superiority(a, b)


def test_bad_alpha_and_margin_are_named():
    with pytest.raises(ParameterError, match="'alpha'"):
        claims.superiority([1, 2], [0, 1], alpha=1.0)
    with pytest.raises(ParameterError, match="'margin'"):
        claims.non_inferiority([1, 2], [0, 1], margin=0)
    with pytest.raises(ParameterError, match="'margin'"):
        claims.equivalence([1, 2], [0, 1], margin=-0.1)


# ----------------------------------------------------------------------------------------- parity


def test_non_inferiority_reached_within_the_margin_even_when_slightly_worse():
    a = [0.900, 0.905, 0.898, 0.902, 0.899]
    b = [0.903, 0.906, 0.901, 0.904, 0.902]  # a loses by ~0.002 each time, the margin is 0.01
    v = claims.non_inferiority(a, b, margin=0.01)
    expected = stats.ttest_1samp(np.subtract(a, b) + 0.01, 0.0, alternative="greater").pvalue
    assert v.verdict == "reproduced" and v.p == pytest.approx(expected, rel=1e-12) and v.estimate < 0


def test_non_inferiority_never_reproduced_for_a_method_that_loses_beyond_the_margin_on_every_seed():
    b = [0.90, 0.91, 0.92]
    a = [0.86, 0.88, 0.87]  # 0.03–0.05 worse every time, margin 0.01
    v = claims.non_inferiority(a, b, margin=0.01)
    assert v.verdict == "not reproduced" and v.p > 0.5
    # the one-sided t-test of "a > b" fails to reject too: the old parity reading ("no significant
    # difference") would have called this competitive
    assert claims.superiority(b, a).verdict == "reproduced"
    # identical losses beyond the margin: no spread, still not reproduced
    assert claims.non_inferiority([0.8] * 4, [0.9] * 4, margin=0.01).verdict == "not reproduced"


def test_non_inferiority_partly_when_inside_the_margin_but_inconclusive():
    v = claims.non_inferiority([0.90, 0.88, 0.93], [0.90, 0.91, 0.90], margin=0.01)  # mean 0, noisy
    assert abs(v.estimate) < 0.01 and v.p > 0.05 and v.verdict == "partly"


def test_equivalence_is_tost_against_two_shifted_t_tests():
    a = [0.901, 0.899, 0.902, 0.898, 0.900, 0.901]
    b = [0.900, 0.900, 0.900, 0.900, 0.900, 0.900]
    v = claims.equivalence(a, b, margin=0.01)
    d = np.subtract(a, b)
    p_low = stats.ttest_1samp(d, -0.01, alternative="greater").pvalue
    p_high = stats.ttest_1samp(d, 0.01, alternative="less").pvalue
    assert v.p == pytest.approx(max(p_low, p_high), rel=1e-10) and v.verdict == "reproduced"
    assert v.kind == "equivalence" and "TOST" in v.rule


@pytest.mark.parametrize("shift", [+0.05, -0.05])
def test_equivalence_is_sign_aware_both_ways(shift):
    b = [0.90, 0.91, 0.92, 0.93]
    a = [x + shift + e for x, e in zip(b, (0.001, -0.002, 0.0, 0.001))]
    v = claims.equivalence(a, b, margin=0.01)
    assert v.verdict == "not reproduced" and v.p > 0.5


def test_equivalence_partly_when_inconclusive():
    v = claims.equivalence([0.90, 0.95, 0.86], [0.90, 0.90, 0.90], margin=0.02)  # mean +0.0033, sd 0.045
    assert abs(v.estimate) < 0.02 and v.verdict == "partly"


def test_identical_differences_in_parity_rules_use_the_sign_test():
    v = claims.equivalence([0.5] * 3, [0.5] * 3, margin=0.01)  # exactly equal three times
    assert v.p == pytest.approx(0.125) and v.verdict == "partly"
    assert claims.equivalence([0.5] * 5, [0.5] * 5, margin=0.01).verdict == "reproduced"  # p = 1/32


# ----------------------------------------------------------------------------------------- Holm


def _holm_by_hand(ps):
    """Holm's adjusted p-values: sort, multiply the i-th smallest by (m − i), running maximum, cap at 1."""
    order = sorted(range(len(ps)), key=ps.__getitem__)
    adjusted, running = [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def _verdict(p, word="reproduced"):
    return Verdict(word, rule="r", p=p, p_raw=p, estimate=1.0)


def test_holm_matches_a_hand_computation():
    ps = [0.01, 0.04, 0.03, 0.005, 0.2]
    # the textbook numbers: 0.005·5, 0.01·4, 0.03·3, max(0.04·2, 0.09), 0.2·1 → 0.025, 0.04, 0.09, 0.09, 0.2
    assert _holm_by_hand(ps) == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.2])
    out = claims.holm({f"c{i}": _verdict(p) for i, p in enumerate(ps)})
    assert [out[f"c{i}"].p for i in range(5)] == pytest.approx(_holm_by_hand(ps))
    assert [out[f"c{i}"].p_raw for i in range(5)] == ps
    assert [out[f"c{i}"].verdict for i in range(5)] == ["reproduced", "partly", "partly", "reproduced", "partly"]
    assert all("Holm-adjusted over 5 tests" in v.rule for v in out.values())


def test_holm_agrees_with_statsmodels_when_installed():
    multitest = pytest.importorskip("statsmodels.stats.multitest")  # a peer library, optional here
    ps = [0.01, 0.04, 0.03, 0.005, 0.2, 0.5]
    expected = multitest.multipletests(ps, method="holm")[1]
    assert [v.p for v in claims.holm([_verdict(p) for p in ps])] == pytest.approx(list(expected))


def test_holm_leaves_untested_claims_out_of_the_family_and_keeps_the_container():
    verdicts = [_verdict(0.01), claims.not_comparable("needs two devices"), _verdict(0.02, "not reproduced")]
    out = claims.holm(verdicts)
    assert isinstance(out, list) and out[1] == verdicts[1]
    assert out[0].p == pytest.approx(0.02) and out[2].p == pytest.approx(0.02) and out[2].verdict == "not reproduced"
    assert "over 2 tests" in out[0].rule
    with pytest.raises(ParameterError, match="verdicts"):
        claims.holm(["reproduced"])


# ----------------------------------------------------------------------------------------- rates, combinations


@pytest.mark.parametrize("k, n", [(15, 20), (12, 20), (8, 20), (20, 20), (0, 5)])
def test_rate_above_against_scipys_binomtest(k, n):
    v = claims.rate_above(k, n, threshold=0.5, unit="questions")
    result = stats.binomtest(k, n, 0.5, alternative="greater")
    assert v.p == pytest.approx(result.pvalue)
    low, high = stats.binomtest(k, n).proportion_ci(confidence_level=0.90, method="wilson")
    assert (v.estimate, v.low, v.high) == (pytest.approx(k / n), pytest.approx(low), pytest.approx(high))
    expected = "not reproduced" if k / n <= 0.5 else "reproduced" if result.pvalue < 0.05 else "partly"
    assert v.verdict == expected and v.covers == f"{n} questions"


def test_rate_above_edge_cases():
    assert claims.rate_above(1, 1).verdict == "not comparable"
    with pytest.raises(ParameterError, match="'successes'"):
        claims.rate_above(6, 5)
    with pytest.raises(ParameterError, match="'alpha'"):
        claims.rate_above(3, 5, alpha=0)


def test_all_of_combines_words_and_takes_the_largest_p():
    good, weak, bad = _verdict(0.01), _verdict(0.2, "partly"), _verdict(0.9, "not reproduced")
    both = claims.all_of(good, _verdict(0.03))
    assert both.verdict == "reproduced" and both.p == pytest.approx(0.03) and both.kind == "all of"
    assert claims.all_of(good, weak).verdict == "partly" and claims.all_of(good, bad).p == pytest.approx(0.9)
    assert claims.all_of(bad, bad).verdict == "not reproduced"
    assert claims.all_of(good, claims.not_comparable("x")).verdict == "reproduced"
    nc = claims.all_of(claims.not_comparable("one device"), claims.not_comparable("tiny"))
    assert nc.verdict == "not comparable" and nc.p is None and "one device" in nc.reason
    with pytest.raises(ParameterError, match="verdicts"):
        claims.all_of()
    with pytest.raises(ParameterError, match="verdicts"):
        claims.all_of(good, "reproduced")


def test_all_or_partly_words():
    assert claims.all_or_partly(["reproduced", "reproduced"]) == "reproduced"
    assert claims.all_or_partly(["reproduced", "not comparable", "not reproduced"]) == "partly"
    assert claims.all_or_partly(["not comparable"]) == "not comparable"
    with pytest.raises(ParameterError, match="'verdict'"):
        claims.all_or_partly(["maybe"])


def test_bootstrap_superiority_three_ways_and_combined():
    good = {"improvement": 0.05, "low": 0.01, "high": 0.09, "p_better": 0.01, "n_boot": 1000}
    weak = {"improvement": 0.01, "low": -0.02, "high": 0.04, "p_better": 0.3}
    bad = {"improvement": -0.02, "low": -0.05, "high": 0.01, "p_better": 0.9}
    v = claims.bootstrap_superiority(good)
    assert v.verdict == "reproduced" and v.n == 1000 and v.covers == "1000 bootstrap rounds"
    assert (v.estimate, v.low, v.high, v.p) == (0.05, 0.01, 0.09, 0.01)
    assert claims.bootstrap_superiority(weak).verdict == "partly"
    assert claims.bootstrap_superiority(bad).verdict == "not reproduced"
    assert claims.bootstrap_superiority(good, good).verdict == "reproduced"
    mixed = claims.bootstrap_superiority(good, bad, covers="500 rounds")
    assert mixed.verdict == "partly" and mixed.p == 0.9 and mixed.covers == "500 rounds"
    with pytest.raises(ParameterError, match="'results'"):
        claims.bootstrap_superiority()
    with pytest.raises(ParameterError, match="'results'"):
        claims.bootstrap_superiority({"improvement": 0.1})


def test_requires_convergence():
    reproduced, partly = _verdict(0.01), _verdict(0.2, "partly")
    assert claims.requires_convergence(partly, True) is partly
    held = claims.requires_convergence(reproduced, False, "loss still falling")
    assert held.verdict == "reproduced" and "held before convergence" in held.reason
    nc = claims.requires_convergence(partly, False, "loss still falling")
    assert nc.verdict == "not comparable" and nc.reason == "not converged: loss still falling" and nc.p == 0.2


def test_tiny_run_keeps_the_numbers():
    v = claims.tiny_run(_verdict(0.01))
    assert v.verdict == "not comparable" and v.reason == "tiny run" and v.p == 0.01 and v.estimate == 1.0
    assert str(claims.tiny_run("partly")) == "not comparable (tiny run)"


def test_verdict_word_is_checked():
    with pytest.raises(ParameterError, match="'verdict'"):
        Verdict("maybe", rule="")


# ----------------------------------------------------------------------------------------- intervals


def test_mean_ci_is_the_student_t_interval():
    values = [2.1, 2.5, 1.9, 2.8, 2.2]
    mean, low, high = claims.mean_ci(values, level=0.95)
    expected = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert mean == pytest.approx(np.mean(values)) and (low, high) == pytest.approx(expected)
    assert claims.mean_ci([3.0]) == (3.0, 3.0, 3.0)
    assert claims.mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (37, 200)])
def test_proportion_ci_is_wilsons(k, n):
    p, low, high = claims.proportion_ci(k, n, level=0.95)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert p == k / n and (low, high) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert 0.0 <= low <= p <= high <= 1.0


def test_bootstrap_ci_agrees_with_scipys_percentile_bootstrap():
    data = np.random.default_rng(0).normal(10.0, 2.0, 200)
    mean, low, high = claims.bootstrap_ci(data, n_boot=20000, seed=1)
    ref = stats.bootstrap((data,), np.mean, n_resamples=20000, method="percentile", random_state=2)
    assert mean == pytest.approx(data.mean())
    # two independent sets of 20,000 rounds: the percentiles agree to a few hundredths of the interval width
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.03 * width)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.03 * width)
    median, mlo, mhi = claims.bootstrap_ci(data, np.median, n_boot=500, seed=0)
    assert median == pytest.approx(np.median(data)) and mlo < median < mhi
    assert claims.bootstrap_ci(data, n_boot=300, seed=5) == claims.bootstrap_ci(data, n_boot=300, seed=5)
    with pytest.raises(ParameterError, match="'values'"):
        claims.bootstrap_ci([])


def test_paired_comparison_and_sign_test():
    out = claims.paired_comparison([3.0, 4.0, 5.5], [1.0, 2.5, 3.0])
    assert out["n"] == 3 and out["mean_diff"] == pytest.approx(2.0)
    assert out["p_greater"] == pytest.approx(stats.ttest_rel([3.0, 4.0, 5.5], [1.0, 2.5, 3.0],
                                                             alternative="greater").pvalue)
    assert math.isnan(claims.paired_comparison([1.0], [0.0])["p_greater"])
    assert claims.paired_comparison([0.3, 0.4], [0.2, 0.3])["p_greater"] == pytest.approx(0.25)
    # P(X ≥ 4), X ~ Bin(5, ½) (the zero is a tie, left out)
    assert claims.sign_test_p([1, 2, 3, -1, 0, 4]) == pytest.approx(stats.binom.sf(3, 5, 0.5))
    assert claims.sign_test_p([0, 0]) == 1.0


def test_complexity_rule_on_constructed_slopes():
    ok = claims.complexity({"knn": 0.9, "cop": 0.05, "corp": -0.1}, constant=["cop", "corp"], growing=["knn"],
                           flat_below=0.2, grows_above=0.5, covers="medians of 5 rounds")
    assert ok.verdict == "reproduced" and ok.p is None and ok.estimate == pytest.approx(0.1)
    assert (ok.low, ok.high) == (0.9, 0.9) and ok.covers == "medians of 5 rounds" and "0.2" in ok.rule
    half = claims.complexity({"knn": 0.3, "cop": 0.05}, constant=["cop"], growing=["knn"], flat_below=0.2,
                             grows_above=0.5)
    assert half.verdict == "partly"
    assert claims.complexity({"knn": 0.3, "cop": 0.4}, constant=["cop"], growing=["knn"], flat_below=0.2,
                             grows_above=0.5).verdict == "not reproduced"
    # a slope that is exactly at a threshold does not count
    assert claims.complexity({"knn": 0.5, "cop": 0.2}, constant=["cop"], growing=["knn"], flat_below=0.2,
                             grows_above=0.5).verdict == "not reproduced"
    with pytest.raises(ParameterError, match="'growing'"):
        claims.complexity({"cop": 0.0}, constant=["cop"], growing=["knn"], flat_below=0.2, grows_above=0.5)
    with pytest.raises(ParameterError, match="'flat_below'"):
        claims.complexity({"cop": 0.0, "knn": 1}, constant=["cop"], growing=["knn"], flat_below=0, grows_above=0.5)
