"""Statistics and verdict rules: how every chapter turns its numbers into a verdict on a paper's claim.

One module, tested on constructed inputs (``tests/test_claims.py``), used by every chapter, so the same
kind of claim gets the same rule everywhere. Each rule returns a :class:`Verdict`: the verdict word, the
rule in words (the chapter prints it *before* the numbers), the estimate with its interval, the
p-value, and what variation the test covers (seeds, trained models, questions, bootstrap resamplings).

The rules
---------
``superiority(a, b)``
    the claim "a is larger than b" on paired measurements (same seeds, same questions): one-sided
    paired t-test. *reproduced* when p < α, *partly* when the mean difference has the claimed sign
    without significance, *not reproduced* when it has the other sign (or is zero). Identical
    differences (no spread) fall back to the exact sign test (p = 0.5ⁿ), never to p = 0.
``non_inferiority(a, b, margin)``
    "a is competitive with b" / "a matches or beats b": one-sided test of H₀: mean(a − b) ≤ −margin.
    *reproduced* when rejected at α; *not reproduced* when the mean difference itself is at or below
    −margin (a worse by more than the margin, however noisy); *partly* otherwise (inside the margin,
    inconclusive at this n). A method that loses on every seed by more than the margin never reads
    *reproduced*.
``equivalence(a, b, margin)``
    "a is comparable to b" in both directions: TOST, the larger of the two one-sided p-values.
    *not reproduced* when the mean difference is outside (−margin, +margin); *partly* otherwise.
``bootstrap_superiority(...)``
    the same three-way rule on paired-bootstrap results (OoD detectors scored on the same samples).
``holm(verdicts)``
    several comparisons in one chapter: Holm's step-down adjustment of their p-values; a verdict that
    was *reproduced* only before the adjustment becomes *partly*.
``complexity(slopes, constant, growing, flat_below, grows_above)``
    a cost claim ("O(1) in N for a, O(N) for b") from log-log slopes of measured cost against N: a threshold
    rule (no p-value), the thresholds stated in the chapter's profile and prose.
``all_of(verdicts)``
    a claim that needs several tests to hold at once (two metrics; the variation between trained models
    and the sampling of the test set): *reproduced* / *not reproduced* when all agree, else *partly*;
    its p-value is the largest (the intersection-union test).

The three-way reading is the same in every rule: *reproduced* when the test rejects at α, *not
reproduced* when the point estimate is on the wrong side (of 0, of the margin), *partly* when it is on
the claimed side without significance.

Differences with no spread (identical paired differences, up to rounding: a spread below 1e-9 of their
size) are never fed to a t-test, whose p-value would be 0: the exact sign test takes over.
Edge cases are verdicts, not NaNs: fewer than two pairs is *not comparable* with the reason; a claim
about the converged regime on a run that had not converged is *not comparable: not converged*
(:func:`requires_convergence`); a tiny-profile run is never evidence (:func:`tiny_run`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .checks import ParameterError, check_fraction, check_int, check_number

VERDICTS: tuple[str, ...] = ("reproduced", "partly", "not reproduced", "not comparable")
ALPHA = 0.05


@dataclass(frozen=True)
class Verdict:
    """A verdict on one claim, with the numbers and the rule behind it.

    ``str(verdict)`` is the verdict word, followed by the reason in parentheses when there is one
    (``"not comparable (tiny run)"``).
    """

    verdict: str  # one of VERDICTS
    rule: str  # the rule in words, e.g. "one-sided paired t-test over seeds, p < 0.05"
    reason: str = ""  # why, when the verdict is not the plain outcome of the rule
    estimate: float | None = None  # the effect in the claimed direction (e.g. mean of a − b)
    low: float | None = None  # its interval (level given by the rule)
    high: float | None = None
    p: float | None = None  # the p-value the verdict rests on (after any adjustment)
    p_raw: float | None = None  # before a multiple-comparison adjustment
    n: int | None = None  # how many paired units
    covers: str = ""  # the variation the test covers: "3 seeds", "400 questions", "200 bootstrap rounds"
    kind: str = ""  # the rule's name (superiority, non-inferiority, equivalence, bootstrap, ...)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ParameterError("verdict", self.verdict, ", ".join(VERDICTS))

    def __str__(self) -> str:
        return f"{self.verdict} ({self.reason})" if self.reason else self.verdict

    def replace(self, **changes: Any) -> "Verdict":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def not_comparable(reason: str, rule: str = "the claim cannot be tested by this run") -> Verdict:
    """A claim this run cannot test, with the reason (e.g. "needs two devices; this run has one")."""
    return Verdict("not comparable", rule=rule, reason=reason, kind="not comparable")


def tiny_run(verdict: Verdict | str) -> Verdict:
    """Any verdict of a tiny-profile run: *not comparable (tiny run)*, keeping the numbers for the record."""
    if isinstance(verdict, str):
        verdict = Verdict(verdict, rule="")
    return verdict.replace(verdict="not comparable", reason="tiny run")


# ---------------------------------------------------------------------------------------------------
# Descriptive statistics
# ---------------------------------------------------------------------------------------------------


def _floats(name: str, values: Iterable[Any]) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ParameterError(name, values, "a sequence of numbers") from None
    if any(not math.isfinite(v) for v in out):
        raise ParameterError(name, values, "finite numbers (no NaN or infinity)")
    return out


def _no_spread(values: Sequence[float]) -> bool:
    """True when ``values`` are equal up to rounding: a range below 1e-9 of their largest magnitude.

    ``0.3 − 0.2`` and ``0.4 − 0.3`` differ in the last bit; a t-test on such "different" values would
    divide by a spread of 1e-17 and return p ≈ 0.
    """
    top = max(abs(v) for v in values)
    return max(values) - min(values) <= 1e-9 * top


def mean_std(values: Iterable[Any]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value)."""
    values = _floats("values", values)
    n = len(values)
    if n == 0:
        raise ParameterError("values", values, "at least one number")
    mean = sum(values) / n
    if n == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


def mean_ci(values: Iterable[Any], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and its two-sided Student-t interval at ``level`` (the interval is the mean itself for n = 1)."""
    from scipy import stats

    check_fraction("level", level, open_high=True)
    values = _floats("values", values)
    mean, std = mean_std(values)
    n = len(values)
    if n < 2 or std == 0.0:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return mean, mean - half, mean + half


def proportion_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """A proportion and its Wilson score interval (sound at 0 and at n, unlike the normal interval)."""
    from scipy import stats

    check_int("n", n, low=1)
    check_int("successes", successes, low=0, high=n)
    check_fraction("level", level, open_high=True)
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at k = 0 or k = n one end is p itself; rounding must not put it on the wrong side of p
    return p, min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def bootstrap_ci(values: Sequence[Any], statistic=None, *, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """``statistic`` (default: the mean) of ``values`` and its percentile-bootstrap interval.

    The units resampled are the entries of ``values`` (questions, samples); say so where it is used.
    """
    import numpy as np

    check_int("n_boot", n_boot, low=1)
    check_fraction("level", level, open_high=True)
    try:
        data = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ParameterError("values", values, "a non-empty sequence of numbers") from None
    if data.ndim == 0 or len(data) == 0 or not np.all(np.isfinite(data)):
        raise ParameterError("values", values, "a non-empty sequence of finite numbers")
    stat = statistic or (lambda x: float(np.mean(x)))
    rng = np.random.default_rng(seed)
    rounds = [stat(data[rng.integers(0, len(data), len(data))]) for _ in range(n_boot)]
    lo, hi = np.quantile(rounds, [0.5 - level / 2, 0.5 + level / 2])
    return float(stat(data)), float(lo), float(hi)


def paired_comparison(a: Iterable[Any], b: Iterable[Any]) -> dict[str, float]:
    """Paired differences ``a − b``: their mean, standard error, n, and the one-sided p-value that the
    mean is larger than 0 (paired t-test; the exact sign test when the differences have no spread; NaN
    for n < 2)."""
    from scipy import stats

    a, b = _floats("a", a), _floats("b", b)
    if len(a) != len(b) or not a:
        raise ParameterError("b", f"{len(b)} values", f"as many values as a ({len(a)}), at least one")
    diffs = [x - y for x, y in zip(a, b)]
    mean, std = mean_std(diffs)
    n = len(diffs)
    if n < 2:
        p = float("nan")
    elif _no_spread(diffs):
        p = sign_test_p(diffs)
    else:
        p = float(stats.ttest_1samp(diffs, 0.0, alternative="greater").pvalue)
    return {"mean_diff": mean, "std_diff": std, "se": std / math.sqrt(n), "p_greater": p, "n": n}


def sign_test_p(diffs: Iterable[Any]) -> float:
    """One-sided exact sign test that differences are positive: P(X ≥ #positive), X ~ Bin(#non-zero, ½)."""
    from scipy import stats

    diffs = _floats("diffs", diffs)
    pos = sum(d > 0 for d in diffs)
    nonzero = sum(d != 0 for d in diffs)  # zeros are ties, left out (the usual convention)
    if nonzero == 0:
        return 1.0
    return float(stats.binom.sf(pos - 1, nonzero, 0.5))


def _t_interval(diffs: list[float], alpha: float) -> tuple[float, float]:
    """The two-sided (1 − 2α) Student-t interval of the mean of ``diffs`` (the TOST convention)."""
    from scipy import stats

    mean, std = mean_std(diffs)
    n = len(diffs)
    if _no_spread(diffs):
        return mean, mean
    half = float(stats.t.ppf(1 - alpha, n - 1)) * std / math.sqrt(n)
    return mean - half, mean + half


def _one_sided_p(diffs: list[float], shift: float) -> float:
    """p-value of H₀: mean(diffs) ≤ shift against mean > shift (t-test; sign test on diffs − shift
    when they have no spread)."""
    from scipy import stats

    tol = 1e-9 * max(max(abs(d) for d in diffs), abs(shift))
    moved = [0.0 if abs(d - shift) <= tol else d - shift for d in diffs]  # at the shift up to rounding: a tie
    if _no_spread(diffs):
        return sign_test_p(moved)
    return float(stats.ttest_1samp(moved, 0.0, alternative="greater").pvalue)


# ---------------------------------------------------------------------------------------------------
# Verdict rules
# ---------------------------------------------------------------------------------------------------


def _differences(a, b, alpha: float) -> list[float]:
    """The paired differences a − b, after checking the inputs and α."""
    check_fraction("alpha", alpha, open_high=True)
    a, b = _floats("a", a), _floats("b", b)
    if len(a) != len(b) or not a:
        raise ParameterError("b", f"{len(b)} values", f"as many values as a ({len(a)}), at least one")
    return [x - y for x, y in zip(a, b)]


def _too_few(diffs: list[float], rule: str, unit: str, kind: str) -> Verdict:
    return Verdict("not comparable", rule=rule, reason=f"n = {len(diffs)} {unit}: a test needs at least 2",
                   estimate=diffs[0] if diffs else None, n=len(diffs), covers=f"{len(diffs)} {unit}", kind=kind)


def superiority(a: Iterable[Any], b: Iterable[Any], *, alpha: float = ALPHA, unit: str = "seeds") -> Verdict:
    """The claim "a is larger than b" on paired values (the same ``unit``: seeds, questions, models).

    Flip the sign of both inputs (or swap them) for "smaller is better" quantities.
    """
    rule = (f"one-sided paired t-test over {unit}, p < {alpha:g} (sign test if the differences have no spread); "
            f"not reproduced when the mean difference is ≤ 0; interval: {1 - 2 * alpha:.0%} t-interval")
    diffs = _differences(a, b, alpha)
    if len(diffs) < 2:
        return _too_few(diffs, rule, unit, "superiority")
    p = _one_sided_p(diffs, 0.0)
    low, high = _t_interval(diffs, alpha)
    mean = sum(diffs) / len(diffs)
    verdict = "not reproduced" if mean <= 0 else "reproduced" if p < alpha else "partly"
    return Verdict(verdict, rule=rule, estimate=mean, low=low, high=high, p=p, p_raw=p, n=len(diffs),
                   covers=f"{len(diffs)} {unit}", kind="superiority")


def non_inferiority(a: Iterable[Any], b: Iterable[Any], *, margin: float, alpha: float = ALPHA,
                    unit: str = "seeds") -> Verdict:
    """The claim "a is competitive with b" (matches or beats it): a − b > −``margin`` (sign-aware).

    ``margin`` (> 0, in the units of the values) must be stated in the chapter's profile and prose.
    """
    check_positive_margin(margin)
    rule = (f"non-inferiority: one-sided paired t-test over {unit} of mean(a − b) > −{margin:g}, p < {alpha:g}; "
            f"not reproduced when the mean difference is ≤ −{margin:g}; interval: {1 - 2 * alpha:.0%} t-interval")
    diffs = _differences(a, b, alpha)
    if len(diffs) < 2:
        return _too_few(diffs, rule, unit, "non-inferiority")
    p = _one_sided_p(diffs, -margin)
    low, high = _t_interval(diffs, alpha)
    mean = sum(diffs) / len(diffs)
    verdict = "not reproduced" if mean <= -margin else "reproduced" if p < alpha else "partly"
    return Verdict(verdict, rule=rule, estimate=mean, low=low, high=high, p=p, p_raw=p, n=len(diffs),
                   covers=f"{len(diffs)} {unit}", kind="non-inferiority")


def equivalence(a: Iterable[Any], b: Iterable[Any], *, margin: float, alpha: float = ALPHA,
                unit: str = "seeds") -> Verdict:
    """The claim "a is comparable to b" in both directions: |mean(a − b)| < ``margin`` by TOST."""
    check_positive_margin(margin)
    rule = (f"equivalence (TOST) over {unit}: both one-sided tests of |mean(a − b)| < {margin:g} at p < {alpha:g}; "
            f"not reproduced when |mean(a − b)| ≥ {margin:g}; interval: {1 - 2 * alpha:.0%} t-interval")
    diffs = _differences(a, b, alpha)
    if len(diffs) < 2:
        return _too_few(diffs, rule, unit, "equivalence")
    p_low = _one_sided_p(diffs, -margin)  # H₀: mean ≤ −margin
    p_high = _one_sided_p([-d for d in diffs], -margin)  # H₀: mean ≥ +margin
    p = max(p_low, p_high)
    low, high = _t_interval(diffs, alpha)
    mean = sum(diffs) / len(diffs)
    verdict = "not reproduced" if abs(mean) >= margin else "reproduced" if p < alpha else "partly"
    return Verdict(verdict, rule=rule, estimate=mean, low=low, high=high, p=p, p_raw=p, n=len(diffs),
                   covers=f"{len(diffs)} {unit}", kind="equivalence")


def check_positive_margin(margin: Any) -> float:
    return check_number("margin", margin, low=0.0, low_inclusive=False)


def bootstrap_superiority(*results: Mapping[str, Any], alpha: float = ALPHA, covers: str = "") -> Verdict:
    """"a is better than b" from one or more paired-bootstrap results (e.g. AUROC and FPR95).

    Each result is a dict with ``improvement`` (observed, in the claimed direction), ``low``/``high``
    (its interval) and ``p_better`` (the share of rounds where a was not better). Each alone:
    *reproduced* when the improvement is positive with ``p_better`` < α, *partly* when positive without
    that, *not reproduced* otherwise. Several: *reproduced* / *not reproduced* if all agree, else
    *partly*. The reported p is the largest (the conjunction of the tests).
    """
    if not results:
        raise ParameterError("results", "none", "one or more paired-bootstrap results")
    check_fraction("alpha", alpha, open_high=True)
    for r in results:
        if not isinstance(r, Mapping) or not {"improvement", "p_better"} <= set(r):
            raise ParameterError("results", r, "dicts with 'improvement' and 'p_better' (and 'low', 'high')")
        check_fraction("p_better", r["p_better"], open_low=False)
        check_number("improvement", r["improvement"])
    each = []
    for r in results:
        if r["improvement"] <= 0:
            each.append("not reproduced")
        else:
            each.append("reproduced" if r["p_better"] < alpha else "partly")
    verdict = each[0] if all(v == each[0] for v in each) else "partly"
    p = max(float(r["p_better"]) for r in results)
    first = results[0]
    rule = (f"paired bootstrap, improvement > 0 with p < {alpha:g}"
            + (" on every metric" if len(results) > 1 else ""))
    rounds = first.get("n_boot")
    return Verdict(verdict, rule=rule, estimate=float(first["improvement"]), low=first.get("low"),
                   high=first.get("high"), p=p, p_raw=p, n=rounds,
                   covers=covers or (f"{rounds} bootstrap rounds" if rounds else ""), kind="bootstrap")


def rate_above(successes: int, n: int, *, threshold: float = 0.5, alpha: float = ALPHA,
               unit: str = "comparisons") -> Verdict:
    """The claim "the rate of successes exceeds ``threshold``" (e.g. a win rate above ½): one-sided exact
    binomial test; the interval is Wilson's at 1 − 2α."""
    from scipy import stats

    check_fraction("threshold", threshold, open_low=False, open_high=True)
    check_fraction("alpha", alpha, open_high=True)
    check_int("n", n, low=0)
    check_int("successes", successes, low=0, high=n)
    rule = f"one-sided exact binomial test of a rate > {threshold:g} over {unit}, p < {alpha:g}"
    if n < 2:
        return Verdict("not comparable", rule=rule, reason=f"n = {n} {unit}: a test needs at least 2", n=n,
                       covers=f"{n} {unit}", kind="rate")
    p = float(stats.binomtest(successes, n, threshold, alternative="greater").pvalue)
    rate, low, high = proportion_ci(successes, n, 1 - 2 * alpha)
    verdict = "not reproduced" if rate <= threshold else "reproduced" if p < alpha else "partly"
    return Verdict(verdict, rule=rule, estimate=rate, low=low, high=high, p=p, p_raw=p, n=n,
                   covers=f"{n} {unit}", kind="rate")


def holm(verdicts: Mapping[str, Verdict] | Sequence[Verdict], *, alpha: float = ALPHA):
    """Holm's step-down adjustment across the tests of one chapter.

    Verdicts without a p-value (not comparable) are left out of the family. A verdict that was
    *reproduced* and whose adjusted p is ≥ α becomes *partly*; the raw p stays in ``p_raw`` and the rule
    says how many tests were adjusted. Returns the same container type.
    """
    check_fraction("alpha", alpha, open_high=True)
    items = list(verdicts.items()) if isinstance(verdicts, Mapping) else list(enumerate(verdicts))
    for k, v in items:
        if not isinstance(v, Verdict):
            raise ParameterError(f"verdicts[{k!r}]", v, "a reprobook.claims.Verdict")
    family = [(k, v) for k, v in items if v.p is not None and not math.isnan(v.p)]
    m = len(family)
    adjusted: dict[Any, float] = {}
    running = 0.0
    for rank, (k, v) in enumerate(sorted(family, key=lambda kv: kv[1].p_raw if kv[1].p_raw is not None else kv[1].p)):
        raw = v.p_raw if v.p_raw is not None else v.p
        running = max(running, min(1.0, (m - rank) * raw))
        adjusted[k] = running
    out = []
    for k, v in items:
        if k in adjusted:
            p = adjusted[k]
            verdict = v.verdict
            if verdict == "reproduced" and p >= alpha:
                verdict = "partly"
            v = v.replace(verdict=verdict, p=p, p_raw=v.p_raw if v.p_raw is not None else v.p,
                          rule=f"{v.rule}; Holm-adjusted over {m} tests")
        out.append((k, v))
    return dict(out) if isinstance(verdicts, Mapping) else [v for _, v in out]


def all_of(*verdicts: Verdict, rule: str = "", covers: str = "") -> Verdict:
    """One verdict for a claim that needs every one of ``verdicts`` to hold (e.g. AUROC *and* FPR95; the
    variation between trained models *and* the bootstrap over test samples).

    The word is :func:`all_or_partly`'s (the common verdict if all agree, else *partly*; parts that are
    *not comparable* are left out). The p-value is the largest of the parts (the intersection-union test:
    the claim is rejected unless every part is), the estimate and interval are the first part's; ``rule``
    and ``covers`` default to the parts' joined by "and".
    """
    if not verdicts:
        raise ParameterError("verdicts", "none", "one or more reprobook.claims.Verdict")
    for i, v in enumerate(verdicts):
        if not isinstance(v, Verdict):
            raise ParameterError(f"verdicts[{i}]", v, "a reprobook.claims.Verdict")
    word = all_or_partly(verdicts)
    tested = [v for v in verdicts if v.verdict != "not comparable"]
    ps = [v.p for v in tested if v.p is not None and not math.isnan(v.p)]
    raws = [v.p_raw if v.p_raw is not None else v.p for v in tested]
    raws = [p for p in raws if p is not None and not math.isnan(p)]
    first = tested[0] if tested else verdicts[0]
    reason = "; ".join(dict.fromkeys(v.reason for v in verdicts if v.reason)) if word == "not comparable" else ""
    return Verdict(word, rule=rule or " and ".join(dict.fromkeys(v.rule for v in verdicts if v.rule)),
                   reason=reason, estimate=first.estimate, low=first.low, high=first.high,
                   p=max(ps) if ps else None, p_raw=max(raws) if raws else None, n=first.n,
                   covers=covers or " and ".join(dict.fromkeys(v.covers for v in verdicts if v.covers)),
                   kind="all of")


def complexity(slopes: Mapping[str, float], *, constant: Sequence[str], growing: Sequence[str],
               flat_below: float, grows_above: float, covers: str = "") -> Verdict:
    """The claim "the cost of ``constant`` does not grow with N, the cost of ``growing`` does" from the
    log-log slopes of measured cost against N (0: independent of N; 1: proportional to N).

    *reproduced* when every ``constant`` method has |slope| < ``flat_below`` and every ``growing`` one a
    slope > ``grows_above``; *partly* when only one of the two halves holds; *not reproduced* otherwise.
    A threshold rule on measured slopes, without a p-value: ``covers`` says what the measurements are
    (e.g. "medians of 5 rounds at 4 sizes, one machine"). The estimate is the largest |slope| among
    ``constant`` and ``low`` / ``high`` the smallest and largest slope among ``growing``.
    """
    check_number("flat_below", flat_below, low=0.0, low_inclusive=False)
    check_number("grows_above", grows_above)
    for group, names in (("constant", constant), ("growing", growing)):
        if isinstance(names, str) or not names:
            raise ParameterError(group, names, "a non-empty list of names of slopes")
        for name in names:
            if name not in slopes:
                raise ParameterError(group, name, ", ".join(repr(k) for k in slopes))
            check_number(f"slopes[{name!r}]", slopes[name])
    flat = all(abs(slopes[m]) < flat_below for m in constant)
    grows = all(slopes[m] > grows_above for m in growing)
    verdict = "reproduced" if flat and grows else "partly" if flat or grows else "not reproduced"
    rule = (f"log-log slope of cost against N: |slope| < {flat_below:g} for {', '.join(constant)}; "
            f"slope > {grows_above:g} for {', '.join(growing)}")
    return Verdict(verdict, rule=rule, estimate=max(abs(slopes[m]) for m in constant),
                   low=min(slopes[m] for m in growing), high=max(slopes[m] for m in growing), covers=covers,
                   kind="complexity")


def requires_convergence(verdict: Verdict, converged: bool, detail: str = "") -> Verdict:
    """A claim about the converged regime (flatness, generalisation) on a run that had not converged.

    A run still improving cannot refute such a claim: a verdict other than *reproduced* becomes *not
    comparable: not converged*; a *reproduced* one stays, with the note that it held before convergence.
    """
    if converged:
        return verdict
    note = "not converged" + (f": {detail}" if detail else "")
    if verdict.verdict == "reproduced":
        return verdict.replace(reason=f"held before convergence; {note}")
    return verdict.replace(verdict="not comparable", reason=note)


def all_or_partly(verdicts: Iterable[Verdict | str]) -> str:
    """One word for a claim made of several sub-claims: the common verdict if all agree, else *partly*
    (*not comparable* parts are left out; all of them not comparable gives *not comparable*)."""
    words = [v.verdict if isinstance(v, Verdict) else v for v in verdicts]
    for w in words:
        check_choice_verdict(w)
    tested = [w for w in words if w != "not comparable"]
    if not tested:
        return "not comparable"
    return tested[0] if all(w == tested[0] for w in tested) else "partly"


def check_choice_verdict(word: Any) -> str:
    if word not in VERDICTS:
        raise ParameterError("verdict", word, ", ".join(VERDICTS))
    return word
