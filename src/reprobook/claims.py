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
    *reproduced* when rejected at α; *not reproduced* when the (1 − 2α) interval of the difference
    lies wholly below −margin (clearly worse); *partly* otherwise (inconclusive at this n).
``equivalence(a, b, margin)``
    "a is comparable to b" in both directions: TOST, the larger of the two one-sided p-values.
    *not reproduced* when the (1 − 2α) interval lies wholly outside ±margin.
``bootstrap_superiority(...)``
    the same three-way rule on paired-bootstrap results (OoD detectors scored on the same samples).
``holm(verdicts)``
    several comparisons in one chapter: Holm's step-down adjustment of their p-values; a verdict that
    was *reproduced* only before the adjustment becomes *partly*.

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
    return p, max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_ci(values: Sequence[Any], statistic=None, *, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """``statistic`` (default: the mean) of ``values`` and its percentile-bootstrap interval.

    The units resampled are the entries of ``values`` (questions, samples); say so where it is used.
    """
    import numpy as np

    check_int("n_boot", n_boot, low=1)
    check_fraction("level", level, open_high=True)
    data = np.asarray(values, dtype=float)
    if data.ndim == 0 or len(data) == 0:
        raise ParameterError("values", values, "a non-empty sequence of numbers")
    stat = statistic or (lambda x: float(np.mean(x, axis=0)))
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
    elif std == 0.0:
        p = sign_test_p(diffs)
    else:
        p = float(stats.ttest_1samp(diffs, 0.0, alternative="greater").pvalue)
    return {"mean_diff": mean, "std_diff": std, "se": std / math.sqrt(n), "p_greater": p, "n": n}


def sign_test_p(diffs: Iterable[Any]) -> float:
    """One-sided exact sign test that differences are positive: P(X ≥ #positive), X ~ Bin(#non-zero, ½)."""
    from scipy import stats

    diffs = _floats("diffs", diffs)
    pos = sum(d > 0 for d in diffs)
    nonzero = sum(d != 0 for d in diffs)
    if nonzero == 0:
        return 1.0
    return float(stats.binom.sf(pos - 1, nonzero, 0.5))


def _t_interval(diffs: list[float], alpha: float) -> tuple[float, float]:
    """The two-sided (1 − 2α) Student-t interval of the mean of ``diffs`` (the TOST convention)."""
    from scipy import stats

    mean, std = mean_std(diffs)
    n = len(diffs)
    if std == 0.0:
        return mean, mean
    half = float(stats.t.ppf(1 - alpha, n - 1)) * std / math.sqrt(n)
    return mean - half, mean + half


def _one_sided_p(diffs: list[float], shift: float) -> float:
    """p-value of H₀: mean(diffs) ≤ shift against mean > shift (t-test; sign test on diffs − shift
    when they have no spread)."""
    from scipy import stats

    moved = [d - shift for d in diffs]
    if mean_std(moved)[1] == 0.0:
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
    rule = f"one-sided paired t-test over {unit}, p < {alpha:g} (sign test if the differences have no spread)"
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
            f"not reproduced when the {1 - 2 * alpha:.0%} interval lies below −{margin:g}")
    diffs = _differences(a, b, alpha)
    if len(diffs) < 2:
        return _too_few(diffs, rule, unit, "non-inferiority")
    p = _one_sided_p(diffs, -margin)
    low, high = _t_interval(diffs, alpha)
    mean = sum(diffs) / len(diffs)
    verdict = "reproduced" if p < alpha else "not reproduced" if high < -margin else "partly"
    return Verdict(verdict, rule=rule, estimate=mean, low=low, high=high, p=p, p_raw=p, n=len(diffs),
                   covers=f"{len(diffs)} {unit}", kind="non-inferiority")


def equivalence(a: Iterable[Any], b: Iterable[Any], *, margin: float, alpha: float = ALPHA,
                unit: str = "seeds") -> Verdict:
    """The claim "a is comparable to b" in both directions: |mean(a − b)| < ``margin`` by TOST."""
    check_positive_margin(margin)
    rule = (f"equivalence (TOST) over {unit}: both one-sided tests of |mean(a − b)| < {margin:g} at p < {alpha:g}; "
            f"not reproduced when the {1 - 2 * alpha:.0%} interval lies outside ±{margin:g}")
    diffs = _differences(a, b, alpha)
    if len(diffs) < 2:
        return _too_few(diffs, rule, unit, "equivalence")
    p_low = _one_sided_p(diffs, -margin)  # H₀: mean ≤ −margin
    p_high = _one_sided_p([-d for d in diffs], -margin)  # H₀: mean ≥ +margin
    p = max(p_low, p_high)
    low, high = _t_interval(diffs, alpha)
    mean = sum(diffs) / len(diffs)
    outside = high < -margin or low > margin
    verdict = "reproduced" if p < alpha else "not reproduced" if outside else "partly"
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
    return Verdict(verdict, rule=rule, estimate=float(first["improvement"]), low=first.get("low"),
                   high=first.get("high"), p=p, p_raw=p, covers=covers, kind="bootstrap")


def rate_above(successes: int, n: int, *, threshold: float = 0.5, alpha: float = ALPHA,
               unit: str = "comparisons") -> Verdict:
    """The claim "the rate of successes exceeds ``threshold``" (e.g. a win rate above ½): one-sided exact
    binomial test; the interval is Wilson's at 1 − 2α."""
    from scipy import stats

    check_fraction("threshold", threshold, open_low=False, open_high=True)
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
