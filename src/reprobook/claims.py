"""Statistics and verdict rules: how every chapter turns its numbers into a verdict on a paper's claim.

One module, used by every chapter, so the same kind of claim gets the same rule everywhere.

The contract
------------
Before any result, a chapter declares each claim it tests as a :class:`ClaimSpec`, in its config
(``reprobook.configs.<chapter>``): the claim and the paper's words with their source, the **unit** of
the test (seeds, trained models, questions, prompts, images) and how many (**n**), the **smallest
effect of interest** (SESOI; the margin of a parity claim) with the reason for its size (half the paper's
reported gain, or a stated practical threshold), the paper's own effect where it gives one, and the
**test**. After the run, :func:`evaluate` applies the declared test to the data and returns a
:class:`ClaimTest`; :func:`holm_tests` adjusts the chapter's p-values together; the record stores them
(``RunRecord.add_claims``) and :func:`claims_table` shows them.

The five words
--------------
*reproduced*
    the test rejects its null hypothesis, in the claim's direction, at the Holm-adjusted level
    (one-sided α = 0.025 for every rule, so "reproduced" before the adjustment is "the 95 % interval
    excludes the null"), and the run does not rule out the smallest effect of interest (below).
*contradicted*
    the interval excludes the smallest effect of interest in the claim's direction: the run rules out an
    effect as large as the one that would matter (for a parity claim: the interval lies wholly beyond the
    margin). A superiority claim whose test rejects its null but whose interval lies below the smallest
    effect of interest is *contradicted* too, with that reason: the effect is real and smaller than any that
    would matter, so the claim as the paper makes it does not hold. In a Holm family of m tests the
    contradicted side takes Holm's step-down too (:func:`holm`): the intervals at one-sided α/m first, then,
    with r claims of the family already ruled out, at α/(m − r), until none more is. So a chapter's
    *contradicted* verdicts, like its *reproduced* ones, are wrong for any claim with probability at most α;
    the tables show the 95 % interval, and a claim whose 95 % interval excludes the effect but whose interval
    at its Holm level does not reads *inconclusive* (*reproduced* where its test rejects) and says so.
*inconclusive*
    everything else; always shown with the **power** this run had at the SESOI and its **minimum
    detectable effect** (the effect it would have detected with 80 % power). Power and MDE are computed
    at the level α/m of a Holm family of m tests (Bonferroni's level, which Holm's power is at least),
    with the variability this run observed.
*partly*
    only for a claim of several parts (:func:`all_of`): at least one part reproduced and none
    contradicted, each part read at α/k for k parts (one of k tests holding, or failing, is a union of k
    tests). A conjunction with a part contradicted at that level is *contradicted*.
*not comparable*
    the run cannot test the claim: a tiny or dry run, one device for a parallel claim, a run that did
    not converge (whatever the outcome: :func:`requires_convergence`), a floor or ceiling
    (:func:`guard_floor`), a trained stage that did not move the model (:func:`guard_acted`), non-finite
    values.

The rules
---------
``superiority``        continuous paired values (same seeds, questions, models): one-sided paired t-test.
``non_inferiority``    "a is competitive with b": paired t-test of mean(a − b) > −margin.
``equivalence``        "a is comparable to b": TOST, both one-sided tests at α.
``mcnemar``            paired 0/1 outcomes: exact McNemar (binomial on the discordant pairs), Newcombe's
                       interval for the difference of the paired proportions.
``binary_non_inferiority``  paired 0/1 outcomes, a − b > −margin: Newcombe's interval (its p-value by
                       inverting the interval).
``bootstrap``          any statistic of resampled units (e.g. AUROC over test images): BCa interval and the
                       p-value that inverts it, at least 20·m/α resamples for a family of m.
``rate``               "the rate exceeds a threshold" (win rates): exact binomial test, its (Clopper–Pearson) interval.
``welch``              two independent samples: Welch's one-sided t-test.
``from_test``          a chapter's own test (e.g. a Monte-Carlo null): the chapter supplies the estimate,
                       interval and p; the words are decided here.

No rule runs a sign test on shifted values: identical paired differences are *inconclusive (no
variation)*. A rule never puts a value in the claim's favour: NaN and infinity make the claim *not
comparable* with the reason.

Deterministic quantities (the compression of nested vocabularies, the utilisation of packing, a count
fixed by the method) are facts, not claims: the chapters record them as in-chapter checks
(``RunRecord.check``) beside the paper's number.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast, overload

import numpy as np
from scipy import optimize, stats

from .checks import ParameterError, check_choice, check_fraction, check_int, check_number, check_str

VERDICTS: tuple[str, ...] = ("reproduced", "partly", "inconclusive", "contradicted", "not comparable")
ALPHA = 0.025  # one-sided level of every test; the intervals are two-sided 95 %
TARGET_POWER = 0.8  # the MDE is the effect detected with this power
KINDS = ("superiority", "non-inferiority", "equivalence", "not comparable", "all of")

# The meaning of each word, in one place (the status page's legend and the chapters' prose use it).
MEANINGS = {
    "reproduced": "the test rejects in the claim's direction at the Holm-adjusted level, and the interval does not "
    "rule out the smallest effect of interest",
    "partly": "a claim of k parts: at least one reproduced, none contradicted, each read at α/k",
    "inconclusive": "neither: shown with the power this run had at the smallest effect of interest and its "
    "minimum detectable effect",
    "contradicted": "the interval at the chapter's Holm level (one-sided α/(m − r), Holm's step-down over the m "
    "tested claims, r of them already ruled out; the 95 % interval for a claim tested alone) excludes the smallest "
    "effect of interest in the claim's direction (even where the test rejects its null: an effect real but smaller "
    "than any that would matter)",
    "not comparable": "the run cannot test the claim (the reason is given)",
}

# A design: alpha -> (power at the SESOI, power at the paper's effect, minimum detectable effect).
Design = Callable[[float], tuple["float | None", "float | None", "float | None"]]
# Bounds: one-sided alpha -> the claim's (1 − 2·alpha) interval (low, high), in the units of its estimate; what
# the contradicted side of a Holm family is decided on (:func:`holm`: the interval at alpha / (m − r)).
Bounds = Callable[[float], tuple[float, float]]


@dataclass(frozen=True)
class Verdict:
    """A verdict on one claim, with the numbers and the rule behind it.

    ``str(verdict)`` is the verdict word, followed by the reason in parentheses when there is one
    (``"not comparable (tiny run)"``, ``"inconclusive (no variation)"``).
    """

    verdict: str  # one of VERDICTS
    rule: str  # the rule in words
    reason: str = ""  # why, when the verdict is not the plain outcome of the rule
    estimate: float | None = None  # the effect (e.g. mean of a − b; a rate)
    low: float | None = None  # its 95 % interval
    high: float | None = None
    p: float | None = None  # the p-value the verdict rests on (after any adjustment)
    p_raw: float | None = None  # before a multiple-comparison adjustment
    n: int | None = None  # how many independent units
    covers: str = ""  # the variation the test covers: "5 seeds", "60 questions"
    kind: str = ""  # superiority, non-inferiority, equivalence, all of, not comparable
    test: str = ""  # the rule's name (superiority, mcnemar, bootstrap, ...)
    null: float = 0.0  # the value of the estimate under the null hypothesis (0; a threshold rate; −margin)
    sesoi: float | None = None  # smallest effect of interest in the claim's direction (a parity claim's margin)
    paper_effect: float | None = None  # the paper's own effect, where it gives one
    alpha: float = ALPHA  # one-sided level
    family: int = 1  # size of the Holm family the p-value was adjusted in
    power: float | None = None  # power at the SESOI, at level alpha / family
    power_paper: float | None = None  # power at the paper's effect, likewise
    mde: float | None = None  # minimum detectable effect (80 % power), likewise; None: not reachable at this n
    parts: tuple[Verdict, ...] = ()  # a conjunction's parts
    design: Design | None = field(default=None, compare=False, repr=False)
    bounds: Bounds | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ParameterError("verdict", self.verdict, ", ".join(VERDICTS))

    def __str__(self) -> str:
        return f"{self.verdict} ({self.reason})" if self.reason else self.verdict

    @property
    def tested(self) -> bool:
        """True when the rule ran on data (whatever the word), False for a claim the run cannot test."""
        return self.kind not in ("", "not comparable") and self.estimate is not None

    def replace(self, **changes: Any) -> Verdict:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("design", "bounds", "parts")
        }
        out["parts"] = [p.as_dict() for p in self.parts]
        return out

    def format(self, fmt: str = ".3g", *, p: bool = True) -> str:
        """``estimate [low, high], p = …``: the one rendering of a verdict's numbers."""
        if self.estimate is None:
            return "not tested"
        text = format(self.estimate, fmt)
        if self.low is not None and self.high is not None:
            text += f" [{format(self.low, fmt)}, {format(self.high, fmt)}]"
        if p and self.p is not None:
            text += f", p {p_format(self.p, relation=True)}"
            if self.family > 1:
                text += f" (Holm over {self.family})"
        return text

    def with_design(self, alpha: float) -> Verdict:
        """Power and MDE recomputed at level ``alpha`` (the level a Holm family of m tests gives: α/m)."""
        if self.design is None:
            return self
        power, power_paper, mde = self.design(alpha)
        return self.replace(power=power, power_paper=power_paper, mde=mde)


def p_format(p: float, relation: bool = False) -> str:
    """A p-value as the tables show it: three decimals, or "< 0.001" (with ``relation``: "= 0.012", "< 0.001");
    four decimals where three would read as the level itself ("0.0254", not "0.025": a test that did not
    reject at α = 0.025 must not look as if it sat on it)."""
    if p < 0.001:
        return "< 0.001"
    text = f"{p:.3f}"
    if text == f"{ALPHA:.3f}" and p != ALPHA:
        text = f"{p:.4f}"
    return f"= {text}" if relation else text


def not_comparable(reason: str, rule: str = "the claim cannot be tested by this run") -> Verdict:
    """A claim this run cannot test, with the reason (e.g. "needs two devices; this run has one")."""
    return Verdict("not comparable", rule=rule, reason=reason, kind="not comparable")


def _as_not_comparable(verdict: Verdict, reason: str, *, whole_run: bool = False) -> Verdict:
    """``verdict`` turned *not comparable* with ``reason``, its numbers kept for the record.

    A verdict without power because its units did not vary keeps saying so (``"no variation; tiny run"``): its
    missing power is explained by the data, not by the guard. A verdict another guard already made *not
    comparable* keeps that reason too, the new one after it, so every guard that failed is named; except for
    a reason about the whole run (``whole_run``: a tiny or dry run), which stands alone."""
    prefix = "no variation; " if verdict.reason.startswith("no variation") else ""
    if not whole_run and verdict.verdict == "not comparable" and verdict.reason:
        reason = verdict.reason if reason in verdict.reason else f"{verdict.reason}; {reason}"
    else:
        reason = prefix + reason
    return verdict.replace(verdict="not comparable", reason=reason)


def tiny_run(verdict: Verdict | str) -> Verdict:
    """Any verdict of a tiny-profile run: *not comparable (tiny run)*, keeping the numbers for the record."""
    if isinstance(verdict, str):
        verdict = Verdict(verdict, rule="")
    return _as_not_comparable(verdict, "tiny run", whole_run=True)


def dry_run(verdict: Verdict) -> Verdict:
    """Any verdict of a paper-profile dry run (stand-ins, capped loops): *not comparable (dry run)*."""
    return _as_not_comparable(verdict, "dry run", whole_run=True)


# ---------------------------------------------------------------------------------------------------
# Descriptive statistics
# ---------------------------------------------------------------------------------------------------


def _floats(name: str, values: Iterable[Any]) -> list[float]:
    """Floats of ``values`` (NaN and infinity allowed: the rules turn them into *not comparable*)."""
    if isinstance(values, (str, bytes)):
        raise ParameterError(name, values, "a sequence of numbers")
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise ParameterError(name, values, "a sequence of numbers") from None


def _finite(name: str, values: Iterable[Any]) -> list[float]:
    out = _floats(name, values)
    if any(not math.isfinite(v) for v in out):
        raise ParameterError(name, values, "finite numbers (no NaN or infinity)")
    return out


def _no_spread(values: Sequence[float]) -> bool:
    """True when ``values`` are equal up to rounding (a range below 1e-9 of their largest magnitude)."""
    top = max(abs(v) for v in values)
    return max(values) - min(values) <= 1e-9 * top


def mean_std(values: Iterable[Any]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value)."""
    vals = _finite("values", values)
    n = len(vals)
    if n == 0:
        raise ParameterError("values", vals, "at least one number")
    mean = sum(vals) / n
    if n == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))


def mean_ci(values: Iterable[Any], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and its two-sided Student-t interval at ``level`` (the interval is the mean itself for n = 1)."""
    check_fraction("level", level, open_high=True)
    vals = _finite("values", values)
    mean, std = mean_std(vals)
    n = len(vals)
    if n < 2 or std == 0.0:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return mean, mean - half, mean + half


def proportion_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """A proportion and its Wilson score interval (sound at 0 and at n, unlike the normal interval)."""
    check_int("n", n, low=1)
    check_int("successes", successes, low=0, high=n)
    check_fraction("level", level, open_high=True)
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return p, min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half))


def bca_bootstrap(
    data: Sequence[Any], statistic: Callable, *, level: float, seed: int, **kwargs: Any
) -> tuple[float, float, np.ndarray, bool]:
    """scipy's bootstrap of ``statistic`` over ``data`` (``kwargs``: ``n_resamples``, ``paired``,
    ``vectorized``): ``(low, high, resampled statistics, bca)``, the BCa interval at ``level``, or where BCa is
    undefined on the data (a degenerate jackknife, e.g. a statistic that no single left-out unit moves) the
    percentile interval, with ``bca`` False, and without scipy's warnings about it: the caller says which
    interval it reports."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        res = stats.bootstrap(
            tuple(data),
            statistic,
            confidence_level=level,
            method="BCa",
            rng=np.random.default_rng(seed),
            **kwargs,
        )
    dist = np.asarray(res.bootstrap_distribution, dtype=float)
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if math.isfinite(low) and math.isfinite(high):
        return low, high, dist, True
    low, high = (float(q) for q in np.quantile(dist, [(1 - level) / 2, (1 + level) / 2]))
    return low, high, dist, False


def bootstrap_ci(
    values: Sequence[Any] | np.ndarray,
    statistic: Callable | None = None,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``statistic`` (default: the mean) of ``values`` and its BCa bootstrap interval (scipy).

    The units resampled are the entries of ``values`` (questions, images); say so where it is used.
    """
    check_int("n_boot", n_boot, low=2)
    check_fraction("level", level, open_high=True)
    data = np.asarray(_finite("values", values), dtype=float)
    if data.size < 2:
        raise ParameterError("values", values, "at least two finite numbers")
    observed = float(statistic(data)) if statistic else float(np.mean(data))
    if _no_spread(list(data)):
        return observed, observed, observed
    if statistic is None:  # the mean, vectorised over the resamples
        low, high, _, _ = bca_bootstrap((data,), np.mean, level=level, seed=seed, n_resamples=n_boot, vectorized=True)
    else:
        low, high, _, _ = bca_bootstrap(
            (data,), lambda x: statistic(x), level=level, seed=seed, n_resamples=n_boot, vectorized=False
        )
    return observed, low, high


def newcombe_paired(n11: int, n10: int, n01: int, n00: int, level: float = 0.95) -> tuple[float, float, float]:
    """Difference of two paired proportions, p₁ − p₂ = (n10 − n01)/n, with Newcombe's hybrid score interval
    (Newcombe 1998, *Statistics in Medicine* 17:2635, method 10: the correlation φ of the 2×2 table with
    its continuity correction, the interval itself without).

    ``n10`` counts the units where the first outcome is 1 and the second 0. The interval combines the
    Wilson intervals of the two margins with the correlation φ of the 2×2 table.
    """
    for name, v in (("n11", n11), ("n10", n10), ("n01", n01), ("n00", n00)):
        check_int(name, v, low=0)
    n = n11 + n10 + n01 + n00
    if n == 0:
        raise ParameterError("n11 + n10 + n01 + n00", 0, "at least one pair")
    check_fraction("level", level, open_high=True)
    p1, l1, u1 = proportion_ci(n11 + n10, n, level)
    p2, l2, u2 = proportion_ci(n11 + n01, n, level)
    theta = p1 - p2
    a = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    b = n11 * n00 - n10 * n01
    c = b - n / 2 if b > n / 2 else 0.0 if b >= 0 else b  # Newcombe's continuity-corrected correlation
    phi = 0.0 if a == 0 else c / math.sqrt(a)
    dl = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    du = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return theta, max(-1.0, theta - dl), min(1.0, theta + du)


def concordance(labels: Any, scores: Any) -> float:
    """Harrell's C of ``scores`` for ``labels``: over the pairs of units whose labels differ, the share whose
    scores are ordered as their labels (ties in the scores count half). For 0/1 labels it is the AUROC; for
    a continuous label, (Somers' D + 1) / 2. 0.5 when every label is equal (no order to judge: the value
    under the null).

    O(n log n) through Kendall's τ-b (scipy's merge sort): concordant − discordant pairs = τ-b · √((n₀ − n₁)(n₀ − n₂)),
    with n₀ all pairs and n₁, n₂ those tied in the labels, in the scores; C = ((concordant − discordant) /
    (n₀ − n₁) + 1) / 2. The bootstrap calls it once per resample, at paper scale on thousands of questions."""
    y, p = np.asarray(labels, dtype=float), np.asarray(scores, dtype=float)
    n0 = len(y) * (len(y) - 1) / 2
    untied = {
        name: n0 - float(sum(c * (c - 1) / 2 for c in np.unique(v, return_counts=True)[1]))
        for name, v in (("labels", y), ("scores", p))
    }
    if untied["labels"] == 0:
        return 0.5
    if untied["scores"] == 0:  # every score equal: no pair is ordered either way
        return 0.5
    tau = float(stats.kendalltau(y, p, variant="b").statistic)
    return (tau * np.sqrt(untied["labels"] * untied["scores"]) / untied["labels"] + 1) / 2


# ---------------------------------------------------------------------------------------------------
# Power and minimum detectable effects
# ---------------------------------------------------------------------------------------------------


def power_t(effect: float, sd: float, n: int, alpha: float = ALPHA) -> float:
    """Power of the one-sided one-sample (paired) t-test at level ``alpha`` against a true mean ``effect``,
    with standard deviation ``sd`` and ``n`` units (the non-central t distribution)."""
    if n < 2 or not sd > 0:
        return float("nan")
    df = n - 1
    crit = float(stats.t.ppf(1 - alpha, df))
    return float(stats.nct.sf(crit, df, effect * math.sqrt(n) / sd))


def _solve_mde(
    power_of: Callable[[float], float], scale: float, upper: float | None = None, target: float = TARGET_POWER
) -> float | None:
    """The smallest effect ≥ 0 whose power reaches ``target`` (``power_of`` increasing); None when not reachable
    below ``upper`` (default: 1e3 × ``scale``). Brent's method where the power is continuous, bisection on a
    step function (exact tests)."""
    hi = upper if upper is not None else 1e3 * scale
    if not hi > 0 or not power_of(hi) >= target:
        return None
    if power_of(0.0) >= target:
        return 0.0
    try:
        return float(
            optimize.brentq(
                lambda d: power_of(d) - target, 0.0, hi, xtol=1e-9 * max(scale, 1e-12), rtol=1e-9, maxiter=200
            )
        )
    except (ValueError, RuntimeError):  # pragma: no cover - brentq needs a sign change, which holds here
        return None


def mde_t(sd: float, n: int, alpha: float = ALPHA, power: float = TARGET_POWER) -> float | None:
    """The smallest true mean the one-sided paired t-test detects with ``power`` at level ``alpha``."""
    if n < 2 or not sd > 0:
        return None
    return _solve_mde(lambda d: power_t(d, sd, n, alpha), sd, target=power)


def n_for_power_t(
    effect: float, sd: float, alpha: float = ALPHA, power: float = TARGET_POWER, n_max: int = 100_000
) -> int | None:
    """The fewest units a one-sided paired t-test needs to detect ``effect`` (sd ``sd``) with ``power``."""
    check_number("effect", effect, low=0.0, low_inclusive=False)
    check_number("sd", sd, low=0.0, low_inclusive=False)
    for n in range(2, n_max + 1):
        if power_t(effect, sd, n, alpha) >= power:
            return n
    return None


def power_tost(margin: float, sd: float, n: int, alpha: float = ALPHA, true_diff: float = 0.0) -> float:
    """Power of TOST (two one-sided paired t-tests at ``alpha``) to show |mean| < ``margin`` when the true
    difference is ``true_diff``: 1 − P(miss low) − P(miss high), a slightly conservative approximation."""
    if n < 2 or not sd > 0:
        return float("nan")
    miss_low = 1 - power_t(true_diff + margin, sd, n, alpha)
    miss_high = 1 - power_t(margin - true_diff, sd, n, alpha)
    return max(0.0, 1 - miss_low - miss_high)


@functools.lru_cache(maxsize=4096)
def _binom_crit(n: int, alpha: float, p0: float = 0.5) -> int:
    """The smallest k with P(Bin(n, p0) ≥ k) < alpha (n + 1 when none)."""
    ks = np.arange(n + 1)
    tail = stats.binom.sf(ks - 1, n, p0)
    ok = np.nonzero(tail < alpha)[0]
    return int(ok[0]) if ok.size else n + 1


def power_binomial(rate: float, n: int, threshold: float = 0.5, alpha: float = ALPHA) -> float:
    """Exact power of the one-sided binomial test of rate > ``threshold`` when the true rate is ``rate``."""
    crit = _binom_crit(n, alpha, threshold)
    if crit > n:
        return 0.0
    return float(stats.binom.sf(crit - 1, n, min(1.0, max(0.0, rate))))


def power_mcnemar(effect: float, discordance: float, n: int, alpha: float = ALPHA) -> float:
    """Exact power of the one-sided exact McNemar test on ``n`` pairs when the difference of the paired
    proportions is ``effect`` and the share of discordant pairs ``discordance`` (at least ``effect``)."""
    if n < 1:
        return float("nan")
    psi = min(1.0, max(discordance, abs(effect), 1e-12))
    pi = min(1.0, max(0.0, (1 + effect / psi) / 2))  # P(the discordant pair favours the first)
    d = np.arange(1, n + 1)
    crit = np.array([_binom_crit(int(k), alpha) for k in d])
    reachable = crit <= d
    weights = stats.binom.pmf(d, n, psi)
    return float(np.sum(weights[reachable] * stats.binom.sf(crit[reachable] - 1, d[reachable], pi)))


def power_normal(effect: float, se: float, alpha: float = ALPHA) -> float:
    """Power of a one-sided z-test with standard error ``se`` against a true ``effect``."""
    if not se > 0:
        return float("nan")
    return float(stats.norm.sf(stats.norm.ppf(1 - alpha) - effect / se))


def mde_normal(se: float, alpha: float = ALPHA, power: float = TARGET_POWER) -> float | None:
    if not se > 0:
        return None
    return float((stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)) * se)


# ---------------------------------------------------------------------------------------------------
# Deciding the word
# ---------------------------------------------------------------------------------------------------


def _excludes(kind: str, low: float, high: float, null: float, sesoi: float | None) -> bool:
    """Whether the interval [low, high] rules out the smallest effect of interest in the claim's direction."""
    if kind == "superiority":
        return sesoi is not None and high < null + sesoi
    if kind == "non-inferiority":
        return high < null  # null = −margin: worse by more than the margin
    if kind == "equivalence":
        return sesoi is not None and (low > sesoi or high < -sesoi)
    return False


def _decide(
    kind: str,
    p: float | None,
    low: float | None,
    high: float | None,
    null: float,
    sesoi: float | None,
    alpha: float,
    family: tuple[int, Bounds | None] | None = None,
) -> tuple[str, str]:
    """The word from the test's p-value and the 95 % interval (see the module's docstring). ``family``: (k, the
    claim's bounds) in a Holm family, where *contradicted* needs the interval at one-sided α/k, the claim's level
    in Holm's step-down (:func:`holm`), to exclude the smallest effect of interest too (without bounds it cannot:
    the claim reads inconclusive); k = 1 is the 95 % interval. An interval that rules out the smallest effect of
    interest decides *contradicted* even where the test rejects its null: the effect is real and smaller than
    any that would matter (a superiority claim can be both)."""
    rejects = p is not None and p < alpha
    if low is None or high is None or not _excludes(kind, low, high, null, sesoi):
        return ("reproduced" if rejects else "inconclusive"), ""
    real = "the effect is real (the test rejects its null) but smaller than the smallest effect of interest"
    if family is None or family[0] <= 1:
        return "contradicted", real if rejects else ""
    m, bounds = family
    if bounds is None:
        return ("reproduced" if rejects else "inconclusive"), (
            f"the 95 % interval excludes the smallest effect of interest; no interval at its Holm level "
            f"(one-sided α/{m}) to confirm it"
        )
    lo, hi = bounds(alpha / m)
    if _excludes(kind, lo, hi, null, sesoi):
        return "contradicted", real if rejects else ""
    return ("reproduced" if rejects else "inconclusive"), (
        f"the 95 % interval excludes the smallest effect of interest, the interval at its Holm level "
        f"(one-sided α/{m}), [{lo:.3g}, {hi:.3g}], does not"
    )


def _verdict(
    kind: str,
    test: str,
    rule: str,
    *,
    estimate: float,
    low: float | None,
    high: float | None,
    p: float | None,
    n: int,
    unit: str,
    null: float = 0.0,
    sesoi: float | None = None,
    paper_effect: float | None = None,
    alpha: float = ALPHA,
    design: Design | None = None,
    bounds: Bounds | None = None,
    reason: str = "",
) -> Verdict:
    word, why = _decide(kind, p, low, high, null, sesoi, alpha)
    v = Verdict(
        word,
        rule=rule,
        reason=reason or why,
        estimate=estimate,
        low=low,
        high=high,
        p=p,
        p_raw=p,
        n=n,
        covers=f"{n} {unit}",
        kind=kind,
        test=test,
        null=null,
        sesoi=sesoi,
        paper_effect=paper_effect,
        alpha=alpha,
        design=design,
        bounds=bounds,
    )
    return v.with_design(alpha)


def _check_alpha(alpha: float) -> float:
    return check_fraction("alpha", alpha, open_high=True)


@overload
def _check_sesoi(sesoi: Any, name: str = ..., *, required: Literal[True]) -> float: ...
@overload
def _check_sesoi(sesoi: Any, name: str = ..., required: bool = ...) -> float | None: ...
def _check_sesoi(sesoi: Any, name: str = "sesoi", required: bool = False) -> float | None:
    if sesoi is None:
        if required:
            raise ParameterError(name, None, "a positive number (the margin, in the units of the values)")
        return None
    return check_number(name, sesoi, low=0.0, low_inclusive=False)


def _pairs(a: Iterable[Any], b: Iterable[Any]) -> tuple[list[float], list[float]]:
    xa, xb = _floats("a", a), _floats("b", b)
    if len(xa) != len(xb) or not xa:
        raise ParameterError("b", f"{len(xb)} values", f"as many values as a ({len(xa)}), at least one")
    return xa, xb


def _non_finite(values: Sequence[float], what: str) -> str:
    bad = sum(not math.isfinite(v) for v in values)
    return f"{bad} non-finite value{'s' * (bad != 1)} in {what}" if bad else ""


def _guard_inputs(kind: str, test: str, rule: str, unit: str, n: int, *problems: str) -> Verdict | None:
    problems = tuple(p for p in problems if p)
    if problems:
        return Verdict(
            "not comparable", rule=rule, reason="; ".join(problems), n=n, covers=f"{n} {unit}", kind=kind, test=test
        )
    if n < 2:
        return Verdict(
            "not comparable",
            rule=rule,
            reason=f"n = {n} {unit}: a test needs at least 2",
            n=n,
            covers=f"{n} {unit}",
            kind=kind,
            test=test,
        )
    return None


def _t_parts(diffs: list[float], alpha: float) -> tuple[float, float, float, float, Bounds]:
    """Mean, sample SD, the two-sided (1 − 2α) t-interval of ``diffs``, and that interval at any level (the
    rule's bounds; :func:`mean_ci`)."""
    mean, sd = mean_std(diffs)

    def bounds(a: float) -> tuple[float, float]:
        _, low, high = mean_ci(diffs, level=1 - 2 * a)
        return low, high

    low, high = bounds(alpha)
    return mean, sd, low, high, bounds


def _no_variation(
    kind: str,
    test: str,
    rule: str,
    diffs: list[float],
    unit: str,
    null: float,
    sesoi: float | None,
    paper_effect: float | None,
    alpha: float,
) -> Verdict:
    mean = sum(diffs) / len(diffs)
    return Verdict(
        "inconclusive",
        rule=rule,
        reason="no variation: every paired difference is the same",
        estimate=mean,
        low=mean,
        high=mean,
        n=len(diffs),
        covers=f"{len(diffs)} {unit}",
        kind=kind,
        test=test,
        null=null,
        sesoi=sesoi,
        paper_effect=paper_effect,
        alpha=alpha,
    )


# ---------------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------------


def superiority(
    a: Iterable[Any],
    b: Iterable[Any],
    *,
    sesoi: float | None = None,
    paper_effect: float | None = None,
    alpha: float = ALPHA,
    unit: str = "seeds",
) -> Verdict:
    """The claim "a is larger than b" on continuous paired values (same ``unit``: seeds, questions, models).

    One-sided paired t-test of mean(a − b) > 0; *contradicted* when the 95 % t-interval lies below
    ``sesoi``. Flip the sign of both inputs (or swap them) for "smaller is better" quantities.
    """
    _check_alpha(alpha)
    sesoi = _check_sesoi(sesoi)
    xa, xb = _pairs(a, b)
    diffs = [x - y for x, y in zip(xa, xb)]
    rule = (
        f"one-sided paired t-test over {unit} of mean(a − b) > 0 at α = {alpha:g}; contradicted when the "
        f"{1 - 2 * alpha:.0%} t-interval lies below the smallest effect of interest"
    )
    guarded = _guard_inputs(
        "superiority", "superiority", rule, unit, len(diffs), _non_finite(xa, "a"), _non_finite(xb, "b")
    )
    if guarded:
        return guarded
    if _no_spread(diffs):
        return _no_variation("superiority", "superiority", rule, diffs, unit, 0.0, sesoi, paper_effect, alpha)
    mean, sd, low, high, bounds = _t_parts(diffs, alpha)
    n = len(diffs)
    p = float(stats.ttest_1samp(diffs, 0.0, alternative="greater").pvalue)

    def design(level: float):
        return (
            None if sesoi is None else power_t(sesoi, sd, n, level),
            None if paper_effect is None else power_t(paper_effect, sd, n, level),
            mde_t(sd, n, level),
        )

    return _verdict(
        "superiority",
        "superiority",
        rule,
        estimate=mean,
        low=low,
        high=high,
        p=p,
        n=n,
        unit=unit,
        sesoi=sesoi,
        paper_effect=paper_effect,
        alpha=alpha,
        design=design,
        bounds=bounds,
    )


def non_inferiority(
    a: Iterable[Any],
    b: Iterable[Any],
    *,
    margin: float,
    paper_effect: float | None = None,
    alpha: float = ALPHA,
    unit: str = "seeds",
) -> Verdict:
    """The claim "a is competitive with b" (matches or beats it): mean(a − b) > −``margin``.

    One-sided paired t-test of H₀: mean(a − b) ≤ −margin; *contradicted* when the 95 % t-interval lies
    below −margin. Power is at a true difference of 0 (``paper_effect`` when the paper gives one); the
    MDE is the smallest margin this run would establish with 80 % power when a and b are equal.
    """
    _check_alpha(alpha)
    margin = _check_sesoi(margin, "margin", required=True)
    xa, xb = _pairs(a, b)
    diffs = [x - y for x, y in zip(xa, xb)]
    rule = (
        f"non-inferiority: one-sided paired t-test over {unit} of mean(a − b) > −{margin:g} at α = {alpha:g}; "
        f"contradicted when the {1 - 2 * alpha:.0%} t-interval lies below −{margin:g}"
    )
    guarded = _guard_inputs(
        "non-inferiority", "non_inferiority", rule, unit, len(diffs), _non_finite(xa, "a"), _non_finite(xb, "b")
    )
    if guarded:
        return guarded
    if _no_spread(diffs):
        return _no_variation(
            "non-inferiority", "non_inferiority", rule, diffs, unit, -margin, margin, paper_effect, alpha
        )
    mean, sd, low, high, bounds = _t_parts(diffs, alpha)
    n = len(diffs)
    p = float(stats.ttest_1samp([d + margin for d in diffs], 0.0, alternative="greater").pvalue)

    def design(level: float):
        return (
            power_t(margin, sd, n, level),
            None if paper_effect is None else power_t(paper_effect + margin, sd, n, level),
            mde_t(sd, n, level),
        )

    return _verdict(
        "non-inferiority",
        "non_inferiority",
        rule,
        estimate=mean,
        low=low,
        high=high,
        p=p,
        n=n,
        unit=unit,
        null=-margin,
        sesoi=margin,
        paper_effect=paper_effect,
        alpha=alpha,
        design=design,
        bounds=bounds,
    )


def equivalence(
    a: Iterable[Any], b: Iterable[Any], *, margin: float, alpha: float = ALPHA, unit: str = "seeds"
) -> Verdict:
    """The claim "a is comparable to b" in both directions: |mean(a − b)| < ``margin`` by TOST.

    *contradicted* when the 95 % t-interval lies wholly beyond ±margin. Power is at a true difference of 0;
    the MDE is the smallest margin this run would establish with 80 % power.
    """
    _check_alpha(alpha)
    margin = _check_sesoi(margin, "margin", required=True)
    xa, xb = _pairs(a, b)
    diffs = [x - y for x, y in zip(xa, xb)]
    rule = (
        f"equivalence (TOST) over {unit}: both one-sided paired t-tests of |mean(a − b)| < {margin:g} at "
        f"α = {alpha:g}; contradicted when the {1 - 2 * alpha:.0%} t-interval lies beyond ±{margin:g}"
    )
    guarded = _guard_inputs(
        "equivalence", "equivalence", rule, unit, len(diffs), _non_finite(xa, "a"), _non_finite(xb, "b")
    )
    if guarded:
        return guarded
    if _no_spread(diffs):
        return _no_variation("equivalence", "equivalence", rule, diffs, unit, 0.0, margin, None, alpha)
    mean, sd, low, high, bounds = _t_parts(diffs, alpha)
    n = len(diffs)
    p_low = float(stats.ttest_1samp([d + margin for d in diffs], 0.0, alternative="greater").pvalue)
    p_high = float(stats.ttest_1samp([d - margin for d in diffs], 0.0, alternative="less").pvalue)
    p = max(p_low, p_high)

    def design(level: float):
        power = power_tost(margin, sd, n, level)
        mde = _solve_mde(lambda m: power_tost(m, sd, n, level), sd)
        return power, None, mde

    return _verdict(
        "equivalence",
        "equivalence",
        rule,
        estimate=mean,
        low=low,
        high=high,
        p=p,
        n=n,
        unit=unit,
        sesoi=margin,
        alpha=alpha,
        design=design,
        bounds=bounds,
    )


def _binary(name: str, values: Iterable[Any]) -> list[float]:
    out = _floats(name, values)
    for v in out:
        if math.isfinite(v) and v not in (0.0, 1.0):
            raise ParameterError(name, values, "0/1 outcomes (correct or not)")
    return out


def _table(xa: list[float], xb: list[float]) -> tuple[int, int, int, int]:
    n11 = sum(1 for x, y in zip(xa, xb) if x == 1 and y == 1)
    n10 = sum(1 for x, y in zip(xa, xb) if x == 1 and y == 0)
    n01 = sum(1 for x, y in zip(xa, xb) if x == 0 and y == 1)
    return n11, n10, n01, len(xa) - n11 - n10 - n01


def mcnemar(
    a: Iterable[Any],
    b: Iterable[Any],
    *,
    sesoi: float | None = None,
    paper_effect: float | None = None,
    alpha: float = ALPHA,
    unit: str = "questions",
) -> Verdict:
    """The claim "a succeeds more often than b" on paired 0/1 outcomes (the same questions).

    Exact one-sided McNemar test (a binomial test of the discordant pairs against ½); the estimate is the
    difference of the success rates with Newcombe's 95 % interval; *contradicted* when that interval lies
    below ``sesoi``. Power is exact, at the share of discordant pairs this run observed.
    """
    _check_alpha(alpha)
    sesoi = _check_sesoi(sesoi)
    if sesoi is not None and sesoi >= 1:
        raise ParameterError("sesoi", sesoi, "below 1 (a difference of two success rates)")
    xa, xb = _binary("a", a), _binary("b", b)
    if len(xa) != len(xb) or not xa:
        raise ParameterError("b", f"{len(xb)} values", f"as many values as a ({len(xa)}), at least one")
    rule = (
        f"exact one-sided McNemar test over {unit} (the discordant pairs against ½) at α = {alpha:g}; "
        f"Newcombe's {1 - 2 * alpha:.0%} interval of the difference of the success rates; contradicted when it "
        "lies below the smallest effect of interest"
    )
    guarded = _guard_inputs("superiority", "mcnemar", rule, unit, len(xa), _non_finite(xa, "a"), _non_finite(xb, "b"))
    if guarded:
        return guarded
    n11, n10, n01, n00 = _table(xa, xb)
    n = len(xa)
    est, low, high = newcombe_paired(n11, n10, n01, n00, 1 - 2 * alpha)
    discordant = n10 + n01

    def bounds(a: float) -> tuple[float, float]:  # Newcombe's interval at 1 − 2a
        return newcombe_paired(n11, n10, n01, n00, 1 - 2 * a)[1:]

    psi = discordant / n

    def design(level: float):
        def pw(effect: float) -> float:
            return power_mcnemar(effect, psi, n, level)

        return (
            None if sesoi is None else pw(sesoi),
            None if paper_effect is None else pw(paper_effect),
            _solve_mde(pw, 1.0, upper=1.0),
        )

    # no discordant pair: p = 1, and Newcombe's interval (defined there) decides the rest, as for any table
    p = float(stats.binom.sf(n10 - 1, discordant, 0.5))
    return _verdict(
        "superiority",
        "mcnemar",
        rule,
        estimate=est,
        low=low,
        high=high,
        p=p,
        n=n,
        unit=unit,
        sesoi=sesoi,
        paper_effect=paper_effect,
        alpha=alpha,
        design=design,
        bounds=bounds,
    )


def _newcombe_p(table: tuple[int, int, int, int], margin: float) -> float:
    """The p-value of "difference > −margin" by inverting Newcombe's interval: the one-sided level at which
    its lower end reaches −margin (0.5 or more when the estimate itself is at or below −margin)."""
    est = newcombe_paired(*table, level=0.5)[0]
    if est <= -margin + 1e-12:  # at the margin up to rounding ((n10 − n01)/n = −0.09999999999999998)
        return 1.0 if est < -margin - 1e-12 else 0.5

    def lower(a: float) -> float:
        return newcombe_paired(*table, level=1 - 2 * a)[1] + margin

    lo, hi = 1e-12, 0.5 - 1e-12
    if lower(lo) > 0:
        return lo
    return float(optimize.brentq(lower, lo, hi, xtol=1e-12))


def binary_non_inferiority(
    a: Iterable[Any], b: Iterable[Any], *, margin: float, alpha: float = ALPHA, unit: str = "questions"
) -> Verdict:
    """The claim "a succeeds about as often as b or more": difference of paired success rates > −``margin``.

    Newcombe's 95 % interval of the difference; *reproduced* when its lower end is above −margin (the p-value
    inverts the interval), *contradicted* when its upper end is below −margin. Power (normal approximation)
    is at equal rates and the observed share of discordant pairs.
    """
    _check_alpha(alpha)
    margin = _check_sesoi(margin, "margin", required=True)
    if margin >= 1:
        raise ParameterError("margin", margin, "below 1 (a difference of two success rates)")
    xa, xb = _binary("a", a), _binary("b", b)
    if len(xa) != len(xb) or not xa:
        raise ParameterError("b", f"{len(xb)} values", f"as many values as a ({len(xa)}), at least one")
    rule = (
        f"non-inferiority of paired success rates over {unit}: Newcombe's {1 - 2 * alpha:.0%} interval of the "
        f"difference above −{margin:g}; contradicted when it lies below −{margin:g}"
    )
    guarded = _guard_inputs(
        "non-inferiority", "binary_non_inferiority", rule, unit, len(xa), _non_finite(xa, "a"), _non_finite(xb, "b")
    )
    if guarded:
        return guarded
    table = _table(xa, xb)
    n = len(xa)
    est, low, high = newcombe_paired(*table, level=1 - 2 * alpha)
    psi = (table[1] + table[2]) / n
    se = math.sqrt(max(psi, 1.0 / n) / n)

    def design(level: float):
        return power_normal(margin, se, level), None, mde_normal(se, level)

    p = _newcombe_p(table, margin)
    return _verdict(
        "non-inferiority",
        "binary_non_inferiority",
        rule,
        estimate=est,
        low=low,
        high=high,
        p=p,
        n=n,
        unit=unit,
        null=-margin,
        sesoi=margin,
        alpha=alpha,
        design=design,
        bounds=lambda a: newcombe_paired(*table, level=1 - 2 * a)[1:],
    )


def bootstrap_resamples(family: int, alpha: float = ALPHA) -> int:
    """Resamples a bootstrap p-value needs in a Holm family of ``family`` tests: at least 20·m/α."""
    check_int("family", family, low=1)
    return int(math.ceil(20 * family / alpha))


def _percentile_p(dist: np.ndarray, null: float) -> float:
    """p = (1 + #{θ* ≤ null}) / (B + 1): the share of resamples at or below the null."""
    return float((1 + np.sum(dist <= null)) / (len(dist) + 1))


def _bca_p(
    arrays: Sequence[np.ndarray], statistic: Callable[..., float], dist: np.ndarray, observed: float, null: float
) -> float:
    """The one-sided p-value of "the statistic is above ``null``" that inverts the BCa interval on the same
    resamples: the level a at which the interval's lower end reaches ``null``, so that p < α exactly when
    the BCa interval at 1 − 2α lies above it (up to the resamples' granularity). With the bias correction z₀
    (as scipy computes it: the mid-rank of the observed statistic among the resamples) and the acceleration
    â (the jackknife over units, leaving one row of every array out), the lower end at one-sided a is the
    resamples' quantile Φ(z₀ + (z₀ + z_a)/(1 − â(z₀ + z_a))); setting that quantile to the share q of
    resamples at or below the null, w = Φ⁻¹(q) − z₀, gives z_a = w/(1 + âw) − z₀. With z₀ = â = 0 it is the
    percentile p."""
    big = len(dist)
    q = _percentile_p(dist, null)
    z0 = float(stats.norm.ppf((np.sum(dist < observed) + np.sum(dist <= observed)) / (2 * big)))
    n = len(arrays[0])
    keep = np.ones(n, dtype=bool)
    jack = []
    for i in range(n):
        keep[i] = False
        jack.append(float(statistic(*[x[keep] for x in arrays])))
        keep[i] = True
    u = (n - 1) * (np.mean(jack) - np.asarray(jack))
    den = float(np.sum(u**2))
    acc = float(np.sum(u**3) / (6 * den**1.5)) if den > 0 else 0.0
    if not (math.isfinite(z0) and math.isfinite(acc)):
        return q
    w = float(stats.norm.ppf(q)) - z0
    if 1 + acc * w <= 0:  # beyond the range where the BCa map is monotone: the far tail
        return 1 / (big + 1) if w < 0 else 1.0
    return float(min(1.0, max(1 / (big + 1), stats.norm.cdf(w / (1 + acc * w) - z0))))


def bootstrap(
    data: Sequence[Any] | Any,
    statistic: Callable[..., float],
    *,
    sesoi: float | None = None,
    paper_effect: float | None = None,
    n_resamples: int = 2000,
    alpha: float = ALPHA,
    unit: str = "samples",
    seed: int = 0,
    null: float = 0.0,
) -> Verdict:
    """The claim "the statistic is above ``null``", resampling the units (rows) of ``data`` together.

    ``data`` is a sequence of equal-length arrays (paired: every array is resampled with the same indices;
    e.g. labels, scores of method a, scores of method b), and ``statistic(*arrays)`` returns the effect in
    the claim's direction (e.g. AUROC(a) − AUROC(b)). BCa 95 % interval (scipy) and the one-sided p that
    inverts it (:func:`_bca_p`), so that *reproduced* is "the BCa interval excludes the null"; where BCa is
    undefined, the percentile interval and p = (1 + #{θ* ≤ null}) / (B + 1). *contradicted* when the interval
    lies below null + ``sesoi``. Power and MDE by the normal approximation with the bootstrap standard error.
    With few units (about 20 or fewer) and a skewed statistic the interval undercovers, BCa too: a left-skewed
    mean of 10 units rejected a true null about five times as often as α in a simulation; prefer a
    t-based rule there.
    """
    _check_alpha(alpha)
    sesoi = _check_sesoi(sesoi)
    check_int("n_resamples", n_resamples, low=10)
    arrays = [np.asarray(x) for x in data]
    if not arrays or any(len(x) != len(arrays[0]) for x in arrays):
        raise ParameterError("data", f"{len(arrays)} arrays", "one or more arrays of equal length (the units)")
    n = len(arrays[0])
    rule = (
        f"paired bootstrap over {unit} ({n_resamples} resamples): BCa {1 - 2 * alpha:.0%} interval and the "
        f"one-sided p that inverts it, against {null:g} at α = {alpha:g}; contradicted when the interval lies below "
        "the smallest effect of interest"
    )
    problems = [
        _non_finite([float(v) for v in np.ravel(x)], f"data[{i}]")
        for i, x in enumerate(arrays)
        if np.issubdtype(x.dtype, np.floating)
    ]
    guarded = _guard_inputs("superiority", "bootstrap", rule, unit, n, *problems)
    if guarded:
        return guarded
    observed = float(statistic(*arrays))
    if not math.isfinite(observed):
        return not_comparable("the statistic is not finite on the data", rule).replace(
            n=n, covers=f"{n} {unit}", kind="superiority", test="bootstrap"
        )
    low, high, dist, bca = bca_bootstrap(
        arrays, statistic, level=1 - 2 * alpha, seed=seed, n_resamples=n_resamples, paired=True, vectorized=False
    )
    if not bca:
        rule = rule.replace("BCa", "percentile (BCa undefined on these data)", 1)
    if np.ptp(dist) == 0:
        return Verdict(
            "inconclusive",
            rule=rule,
            reason="no variation: every resample gives the same value",
            estimate=observed,
            low=observed,
            high=observed,
            n=n,
            covers=f"{n} {unit}",
            kind="superiority",
            test="bootstrap",
            null=null,
            sesoi=sesoi,
            paper_effect=paper_effect,
            alpha=alpha,
        )
    p = _bca_p(arrays, statistic, dist, observed, null) if bca else _percentile_p(dist, null)
    se = float(np.std(dist, ddof=1))

    def bounds(a: float) -> tuple[float, float]:  # the same resamples (same seed), the interval at 1 − 2a
        lo, hi, _, _ = bca_bootstrap(
            arrays, statistic, level=1 - 2 * a, seed=seed, n_resamples=n_resamples, paired=True, vectorized=False
        )
        return lo - null, hi - null

    def design(level: float):
        return (
            None if sesoi is None else power_normal(sesoi, se, level),
            None if paper_effect is None else power_normal(paper_effect, se, level),
            mde_normal(se, level),
        )

    return _verdict(
        "superiority",
        "bootstrap",
        rule,
        estimate=observed - null,
        low=low - null,
        high=high - null,
        p=p,
        n=n,
        unit=unit,
        sesoi=sesoi,
        paper_effect=paper_effect,
        alpha=alpha,
        design=design,
        bounds=bounds,
    )


def rate(
    successes: int,
    n: int,
    *,
    threshold: float = 0.5,
    sesoi: float | None = None,
    paper_effect: float | None = None,
    alpha: float = ALPHA,
    unit: str = "comparisons",
) -> Verdict:
    """The claim "the rate of successes exceeds ``threshold``" (e.g. a win rate above ½): one-sided exact
    binomial test; the Clopper–Pearson 95 % interval, the exact test's own (its lower end is above the
    threshold exactly when the test rejects, where Wilson's interval could exclude a threshold the test does
    not reject); *contradicted* when it lies below threshold + ``sesoi``.

    The estimate is the rate minus the threshold (the effect); ``sesoi`` and ``paper_effect`` are in the
    same units (a win rate of 0.6 against ½ is an effect of 0.1).
    """
    check_fraction("threshold", threshold, open_low=False, open_high=True)
    _check_alpha(alpha)
    sesoi = _check_sesoi(sesoi)
    check_int("n", n, low=0)
    check_int("successes", successes, low=0, high=n)
    if sesoi is not None and threshold + sesoi >= 1 - 1e-12:
        # at threshold + SESOI = 1 any failure would rule the SESOI out: the rule could not pass
        raise ParameterError("sesoi", sesoi, f"below 1 − threshold = {1 - threshold:.3g} (a rate cannot pass 1)")
    rule = (
        f"one-sided exact binomial test over {unit} of a rate > {threshold:.3g} at α = {alpha:g}; its "
        f"(Clopper–Pearson) {1 - 2 * alpha:.0%} interval; contradicted when it lies below {threshold:.3g} + the "
        "smallest effect of interest"
    )
    guarded = _guard_inputs("superiority", "rate", rule, unit, n)
    if guarded:
        return guarded
    p = float(stats.binomtest(successes, n, threshold, alternative="greater").pvalue)

    def bounds(a: float) -> tuple[float, float]:  # the Clopper–Pearson interval at 1 − 2a, less the threshold
        at = stats.binomtest(successes, n, threshold).proportion_ci(1 - 2 * a, method="exact")
        return float(at.low) - threshold, float(at.high) - threshold

    r, (low, high) = successes / n, bounds(alpha)

    def design(level: float):
        def pw(effect: float) -> float:
            return power_binomial(threshold + effect, n, threshold, level)

        return (
            None if sesoi is None else pw(sesoi),
            None if paper_effect is None else pw(paper_effect),
            _solve_mde(pw, 1.0, upper=1.0 - threshold),
        )

    return _verdict(
        "superiority",
        "rate",
        rule,
        estimate=r - threshold,
        low=low,
        high=high,
        p=p,
        n=n,
        unit=unit,
        sesoi=sesoi,
        paper_effect=paper_effect,
        alpha=alpha,
        design=design,
        bounds=bounds,
    )


def welch(
    a: Iterable[Any],
    b: Iterable[Any],
    *,
    sesoi: float | None = None,
    paper_effect: float | None = None,
    alpha: float = ALPHA,
    unit: str = "units",
) -> Verdict:
    """The claim "a is larger than b" on two independent samples: Welch's one-sided t-test, its 95 %
    interval; power from the non-central t with Welch's standard error and degrees of freedom. Prefer a
    paired design."""
    _check_alpha(alpha)
    sesoi = _check_sesoi(sesoi)
    xa, xb = _floats("a", a), _floats("b", b)
    rule = (
        f"Welch's one-sided t-test of mean(a) − mean(b) > 0 over two independent samples of {unit} at "
        f"α = {alpha:g}; contradicted when the {1 - 2 * alpha:.0%} interval lies below the smallest effect of "
        "interest"
    )
    n = min(len(xa), len(xb))
    guarded = _guard_inputs("superiority", "welch", rule, unit, n, _non_finite(xa, "a"), _non_finite(xb, "b"))
    if guarded:
        return guarded.replace(n=len(xa) + len(xb), covers=f"{len(xa)} + {len(xb)} {unit}")
    (ma, sa), (mb, sb) = mean_std(xa), mean_std(xb)
    va, vb = sa * sa / len(xa), sb * sb / len(xb)
    est = ma - mb
    if va + vb == 0:
        return Verdict(
            "inconclusive",
            rule=rule,
            reason="no variation in either sample",
            estimate=est,
            low=est,
            high=est,
            n=len(xa) + len(xb),
            covers=f"{len(xa)} + {len(xb)} {unit}",
            kind="superiority",
            test="welch",
            sesoi=sesoi,
            paper_effect=paper_effect,
            alpha=alpha,
        )
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / ((va * va / (len(xa) - 1) if va else 0) + (vb * vb / (len(xb) - 1) if vb else 0))
    p = float(stats.t.sf(est / se, df))

    def bounds(a: float) -> tuple[float, float]:
        h = float(stats.t.ppf(1 - a, df)) * se
        return est - h, est + h

    low, high = bounds(alpha)

    def design(level: float):
        crit = float(stats.t.ppf(1 - level, df))

        def pw(effect: float) -> float:  # Welch's t is non-central t with its df, to this approximation
            return float(stats.nct.sf(crit, df, effect / se))

        return (
            None if sesoi is None else pw(sesoi),
            None if paper_effect is None else pw(paper_effect),
            _solve_mde(pw, se),
        )

    v = _verdict(
        "superiority",
        "welch",
        rule,
        estimate=est,
        low=low,
        high=high,
        p=p,
        n=len(xa) + len(xb),
        unit=unit,
        sesoi=sesoi,
        paper_effect=paper_effect,
        alpha=alpha,
        design=design,
        bounds=bounds,
    )
    return v.replace(covers=f"{len(xa)} + {len(xb)} {unit}")


def from_test(
    *,
    estimate: float,
    low: float,
    high: float,
    p: float,
    n: int,
    unit: str,
    rule: str,
    kind: str = "superiority",
    null: float = 0.0,
    sesoi: float | None = None,
    paper_effect: float | None = None,
    alpha: float = ALPHA,
    design: Design | None = None,
    bounds: Bounds | None = None,
    test: str = "custom",
) -> Verdict:
    """A verdict from a chapter's own test (a Monte-Carlo null, a prediction interval): the chapter gives the
    estimate, its 95 % interval, the one-sided p-value and, where it can, a ``design`` (level → power at the
    SESOI, power at the paper's effect, MDE) and ``bounds`` (one-sided level a → its (1 − 2a) interval, for the
    contradicted side in a Holm family; without them a claim in a family of several cannot read
    *contradicted*); the word is decided by the same rule as every other claim."""
    check_choice("kind", kind, ("superiority", "non-inferiority", "equivalence"))
    _check_alpha(alpha)
    sesoi = _check_sesoi(sesoi, required=kind != "superiority")
    if kind == "non-inferiority" and null != -cast(float, sesoi):
        # the test is of mean > −margin and the contradicted side of mean < −margin: both read null = −margin
        raise ParameterError("null", null, f"−sesoi = {-cast(float, sesoi):g} for a non-inferiority claim")
    numbers = {"estimate": estimate, "low": low, "high": high, "p": p}
    bad = [k for k, v in numbers.items() if v is None or not math.isfinite(float(v))]
    if bad:
        return Verdict(
            "not comparable",
            rule=rule,
            reason=f"non-finite {', '.join(bad)}",
            n=n,
            covers=f"{n} {unit}",
            kind=kind,
            test=test,
        )
    check_fraction("p", p, open_low=False)
    return _verdict(
        kind,
        test,
        rule,
        estimate=float(estimate),
        low=float(low),
        high=float(high),
        p=float(p),
        n=n,
        unit=unit,
        null=null,
        sesoi=sesoi,
        paper_effect=paper_effect,
        alpha=alpha,
        design=design,
        bounds=bounds,
    )


RULES: dict[str, Callable[..., Verdict]] = {
    "superiority": superiority,
    "non_inferiority": non_inferiority,
    "equivalence": equivalence,
    "mcnemar": mcnemar,
    "binary_non_inferiority": binary_non_inferiority,
    "bootstrap": bootstrap,
    "rate": rate,
    "welch": welch,
    "from_test": from_test,
}
# the rules whose SESOI argument is called "margin"
_MARGIN_RULES = ("non_inferiority", "equivalence", "binary_non_inferiority")


# ---------------------------------------------------------------------------------------------------
# Combining and guarding
# ---------------------------------------------------------------------------------------------------


def in_holm_family(verdict: str, p: float | None) -> bool:
    """Whether a claim joins its chapter's Holm family: it has a p-value and no guard read it *not comparable*
    (such a claim keeps its raw p, shown "unadjusted", and its power at α). The one statement of that rule for
    :func:`holm`, its conjunctions' parts and :func:`claims_table`."""
    return p is not None and not math.isnan(p) and verdict != "not comparable"


def holm(verdicts: Mapping[str, Verdict] | Sequence[Verdict], *, alpha: float | None = None):
    """Holm's step-down adjustment across the tests of one chapter.

    Verdicts without a p-value (not comparable) are left out of the family. Every word is decided again: from
    the adjusted p on the side of *reproduced*; on the side of *contradicted*, by Holm's step-down on each
    claim's bounds (:func:`contradiction_levels`), so that both kinds of error are held to α over the family.
    Power and MDE are recomputed at α/m. The intervals shown stay the 95 % ones. Returns the same container type.
    """
    items = list(verdicts.items()) if isinstance(verdicts, Mapping) else list(enumerate(verdicts))
    for k, v in items:
        if not isinstance(v, Verdict):
            raise ParameterError(f"verdicts[{k!r}]", v, "a reprobook.claims.Verdict")
    family = [(k, v) for k, v in items if in_holm_family(v.verdict, v.p)]
    m = len(family)
    adjusted: dict[Any, float] = {}
    running = 0.0
    # every verdict of the family has a p-value, so its raw p (p_raw, else p) is never None
    for rank, (k, v) in enumerate(
        sorted(family, key=lambda kv: cast(float, kv[1].p_raw if kv[1].p_raw is not None else kv[1].p))
    ):
        raw = v.p_raw if v.p_raw is not None else v.p
        assert raw is not None
        running = max(running, min(1.0, (m - rank) * raw))
        adjusted[k] = running
    levels = contradiction_levels([v for _, v in family], alpha=alpha)
    decided = {}
    for (k, v), k_level in zip(family, levels):
        raw = v.p_raw if v.p_raw is not None else v.p
        assert raw is not None  # k is in the family
        decided[k] = _adjusted(v, adjusted[k], raw, m, alpha if alpha is not None else v.alpha, k_level)
    out = [(k, decided.get(k, v)) for k, v in items]
    return dict(out) if isinstance(verdicts, Mapping) else [v for _, v in out]


def _rules_out(v: Verdict, a: float) -> bool:
    """Whether ``v`` rules out the smallest effect of interest at one-sided level ``a``: its 95 % interval does
    and so does its interval at ``a`` (a conjunction: one of its parts in the family does)."""
    if v.parts:
        return any(_rules_out(part, a) for part in v.parts if in_holm_family(part.verdict, part.p_raw))
    if v.low is None or v.high is None or v.bounds is None or not _excludes(v.kind, v.low, v.high, v.null, v.sesoi):
        return False
    low, high = v.bounds(a)
    return _excludes(v.kind, low, high, v.null, v.sesoi)


def contradiction_levels(family: Sequence[Verdict], *, alpha: float | None = None) -> list[int]:
    """Holm's step-down on the side of *contradicted*: for each claim of a family of m, the k of the one-sided
    level α/k its interval is read at. Step 1 reads every interval at α/m; with r claims ruled out so far, the
    next step reads the others at α/(m − r); it stops when a step rules out none. A claim ruled out at a step
    gets that step's k; the others the last step's. Holm's procedure on the p-values of "the effect is at
    least the SESOI" (the interval at α/k excludes the SESOI exactly when that p is at most α/k), without
    asking every rule for that p."""
    m = len(family)
    decided: dict[int, int] = {}
    while len(decided) < m:
        k = m - len(decided)
        new = [
            i
            for i, v in enumerate(family)
            if i not in decided and _rules_out(v, (alpha if alpha is not None else v.alpha) / k)
        ]
        if not new:
            break
        decided.update((i, k) for i in new)
    last = m - len(decided)
    return [decided.get(i, max(last, 1)) for i in range(m)]


def _adjusted(v: Verdict, p: float, raw: float, m: int, level: float, k: int | None = None) -> Verdict:
    """``v`` with its Holm-adjusted p-value ``p`` (``raw`` before), its word decided again at ``level`` (the
    contradicted side at level / ``k``, its step in :func:`contradiction_levels`; None: level / m), and power
    and MDE at level / m. A conjunction's parts are adjusted by the same factor, then combined again."""
    k = m if k is None else k
    rule = (
        v.rule
        if "Holm" in v.rule
        else f"{v.rule}; Holm-adjusted over the chapter's {m} tests"
        + (
            "; contradicted by Holm's step-down too: the interval at one-sided α/(m − r) must exclude it, r the "
            "claims already ruled out"
            if m > 1
            else ""
        )
    )
    if v.parts:
        factor = p / raw if raw > 0 else 1.0
        parts = tuple(
            _adjusted(part, min(1.0, part.p_raw * factor), part.p_raw, m, level, k)
            if part.p_raw is not None and in_holm_family(part.verdict, part.p_raw)
            else part
            for part in v.parts
        )
        combined = all_of(*parts, rule=v.rule, covers=v.covers, step=k)
        return combined.replace(p=p, p_raw=raw, family=m, alpha=level, rule=rule)
    word, why = _decide(v.kind, p, v.low, v.high, v.null, v.sesoi, level, family=(k, v.bounds))
    keep = v.reason if v.reason.startswith("no variation") else why
    return v.replace(verdict=word, reason=keep, p=p, p_raw=raw, family=m, alpha=level, rule=rule).with_design(level / m)


def all_of(*verdicts: Verdict, rule: str = "", covers: str = "", step: int = 1) -> Verdict:
    """One verdict for a claim that needs every one of ``verdicts`` to hold (e.g. AUROC *and* FPR95).

    *reproduced* when every part is (the intersection-union test: each part at α); *contradicted* when a part
    rules out its smallest effect of interest at one-sided α/k, k the tested parts; *partly* when a part is
    reproduced at α/k and none is contradicted; *inconclusive* otherwise, with the parts' words at α in the
    reason where they differ; *not comparable* when no part could be tested (or a part could not be tested
    and none was reproduced: the claim is not fully testable). "Some part holds" and "some part fails" are
    unions of k tests, so each part is read at α/k there (Bonferroni), which holds either error to α for the
    claim; ``step``: the claim's level in a Holm family's step-down on the contradicted side (:func:`holm`),
    which divides the level again. The p-value is the largest of the parts; the power the product of the
    parts' (a lower bound for positively correlated tests); estimate and interval are the first part's.
    """
    if not verdicts:
        raise ParameterError("verdicts", "none", "one or more reprobook.claims.Verdict")
    for i, v in enumerate(verdicts):
        if not isinstance(v, Verdict):
            raise ParameterError(f"verdicts[{i}]", v, "a reprobook.claims.Verdict")
    check_int("step", step, low=1)
    words = [v.verdict for v in verdicts]
    untestable = [v for v in verdicts if v.verdict == "not comparable"]
    k = max(1, sum(1 for v in verdicts if in_holm_family(v.verdict, v.p)))

    def holds(v: Verdict) -> bool:  # reproduced at α/k (a nested conjunction: partly or better)
        if v.parts:
            return v.verdict in ("reproduced", "partly")
        return v.verdict == "reproduced" and (k == 1 or (v.p is not None and v.p < v.alpha / k))

    def fails(v: Verdict) -> bool:  # rules out its smallest effect of interest at α/(k·step)
        if v.verdict != "contradicted":
            return False
        return k == 1 or _rules_out(v, v.alpha / (k * step))  # k = 1: its word, read at its own level

    if any(fails(v) for v in verdicts):
        word = "contradicted"
    elif all(w == "reproduced" for w in words):
        word = "reproduced"
    elif any(holds(v) for v in verdicts):
        word = "partly"
    elif untestable:
        word = "not comparable"
    else:
        word = "inconclusive"
    if word == "not comparable":
        reason = "; ".join(dict.fromkeys(f"{v.reason}" for v in untestable if v.reason))
    elif word == "inconclusive" and any(w in ("reproduced", "contradicted", "partly") for w in words):
        reason = (
            f"a part reads {' and '.join(sorted({w for w in words if w != 'inconclusive'}))} at α, none at the "
            f"level a conjunction of {k} tested parts reads each at (α/{k} to hold"
            + (f", α/{k * step} to fail at its Holm step" if step > 1 else f", α/{k} to fail")
            + ")"
        )
    else:
        reason = ""
    tested = [v for v in verdicts if v.verdict != "not comparable"]
    ps = [v.p for v in tested if v.p is not None and not math.isnan(v.p)]
    raws = [v.p_raw if v.p_raw is not None else v.p for v in tested]
    raws = [p for p in raws if p is not None and not math.isnan(p)]
    powers = [v.power for v in verdicts]
    power = float(np.prod(cast(list[float], powers))) if powers and all(p is not None for p in powers) else None
    papers = [v.power_paper for v in verdicts]
    power_paper = float(np.prod(cast(list[float], papers))) if papers and all(p is not None for p in papers) else None
    first = tested[0] if tested else verdicts[0]
    return Verdict(
        word,
        rule=rule or " and ".join(dict.fromkeys(v.rule for v in verdicts if v.rule)),
        reason=reason,
        estimate=first.estimate,
        low=first.low,
        high=first.high,
        p=max(ps) if ps else None,
        p_raw=max(cast(list[float], raws)) if raws else None,
        n=first.n,
        covers=covers or " and ".join(dict.fromkeys(v.covers for v in verdicts if v.covers)),
        kind="all of",
        test="all_of",
        null=first.null,
        sesoi=first.sesoi,
        paper_effect=first.paper_effect,
        alpha=first.alpha,
        family=max(v.family for v in verdicts),
        power=power,
        power_paper=power_paper,
        mde=None,
        parts=tuple(verdicts),
    )


def requires_convergence(verdict: Verdict, converged: bool, detail: str = "") -> Verdict:
    """A claim about the converged regime (flatness, generalisation) on a run that had not converged is
    *not comparable: not converged*, whatever its outcome (a run still improving can neither show nor
    refute it). The numbers stay for the record."""
    if converged:
        return verdict
    return _as_not_comparable(verdict, "not converged" + (f": {detail}" if detail else ""))


def guard_floor(verdict: Verdict, successes: Sequence[int], n: int, *, k: int = 0, what: str = "") -> Verdict:
    """A floor or a ceiling: when every arm's success count is within ``k`` of 0 (or of ``n``), the run cannot
    tell the arms apart, so the claim is *not comparable* with the counts as the reason."""
    check_int("n", n, low=1)
    check_int("k", k, low=0)
    counts = [check_int("successes", s, low=0, high=n) for s in successes]
    if not counts:
        raise ParameterError("successes", successes, "one success count per arm")
    label = f" ({what})" if what else ""
    if all(c <= k for c in counts):
        return _as_not_comparable(verdict, f"floor{label}: successes {', '.join(map(str, counts))} of {n}")
    if all(c >= n - k for c in counts):
        return _as_not_comparable(verdict, f"ceiling{label}: successes {', '.join(map(str, counts))} of {n}")
    return verdict


def guard_acted(verdict: Verdict, acted: bool, measure: str) -> Verdict:
    """A trained stage that did not move the model (``measure`` says how it was measured: share of answers
    identical to the base model's, mean per-token KL, weight change) cannot refute anything: *not
    comparable*. A stage that moved it keeps its verdict."""
    check_str("measure", measure)
    if acted:
        return verdict
    return _as_not_comparable(verdict, f"the method did not act: {measure}")


def guard(verdict: Verdict, ok: bool, reason: str) -> Verdict:
    """Any other condition under which the run cannot test the claim (a reader that fails with the answer in
    its prompt, a judge at chance): *not comparable* with ``reason`` when ``ok`` is false."""
    check_str("reason", reason)
    return verdict if ok else _as_not_comparable(verdict, reason)


# ---------------------------------------------------------------------------------------------------
# Declared claims and their tests
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimSpec:
    """A claim as the chapter declares it before any result.

    ``sesoi`` is in the units of the test's estimate, in the claim's direction (for ``rate``: above the
    threshold; for the parity rules it is the margin). ``test`` names a rule of :data:`RULES`, or
    ``"none"`` for a claim this profile cannot test (then ``untestable`` says why).
    """

    key: str  # short name, unique in the chapter
    claim: str  # the claim in words, as this chapter tests it
    paper: str  # the paper's words or number
    source: str  # where they come from
    unit: str  # the independent units, plural: "seeds", "trained models", "questions"
    n: int | None  # how many units the profile plans
    test: str  # a key of RULES, or "none"
    sesoi: float | None = None  # smallest effect of interest (the margin of a parity claim)
    sesoi_source: str = ""  # why that size: "half the paper's +1.1 % (abstract)", or a practical threshold
    paper_effect: float | None = None  # the paper's own effect on the same scale, where it gives one
    fmt: str = ".3g"  # how the estimate, interval, SESOI and MDE are shown
    measure: str = ""  # what the estimate is: "RWP − SGD test accuracy"
    untestable: str = ""  # for test == "none": why this profile cannot test it

    def over(self, units: Sequence[Any]) -> ClaimSpec:
        """This declaration with ``n`` the size of its held-out set ``units`` when it left ``n`` open (None): the
        split fixes that size before any score. A declared ``n`` is kept."""
        return self if self.n is not None else dataclasses.replace(self, n=len(units))

    def __post_init__(self) -> None:
        check_str("key", self.key)
        check_str("claim", self.claim)
        check_choice("test", self.test, (*RULES, "none"))
        if self.test == "none":
            check_str("untestable", self.untestable)
            return
        check_str("unit", self.unit)
        if self.n is not None:
            check_int("n", self.n, low=0)
        if self.sesoi is None:  # without one a claim could never read contradicted: its rule could not fail
            raise ParameterError(
                "sesoi",
                None,
                f"a margin for the {self.test} test"
                if self.test in _MARGIN_RULES
                else f"a smallest effect of interest for the {self.test} test (only test='none' goes without)",
            )
        if self.sesoi is not None:
            check_number("sesoi", self.sesoi, low=0.0, low_inclusive=False)
            check_str("sesoi_source", self.sesoi_source)
        format(0.5, self.fmt)  # a bad format spec fails here, before any result


@dataclass
class ClaimTest:
    """A declared claim with its verdict on this run's data: one row of the chapter's claims table and of
    the status page."""

    spec: ClaimSpec
    verdict: Verdict
    this_run: str = ""  # a sentence on this run's numbers, beyond the estimate (optional)
    scale: str = ""  # the scale of this run

    @property
    def key(self) -> str:
        return self.spec.key

    def row(self) -> dict[str, Any]:
        """The record's JSON row: the declaration, the verdict and its numbers."""
        s, v = self.spec, self.verdict
        return {
            "key": s.key,
            "claim": s.claim,
            "paper": s.paper,
            "source": s.source,
            "unit": s.unit,
            "n_planned": s.n,
            "test": s.test,
            "sesoi": s.sesoi,
            "sesoi_source": s.sesoi_source,
            "paper_effect": s.paper_effect,
            "fmt": s.fmt,
            "measure": s.measure,
            "verdict": v.verdict,
            "reason": v.reason,
            "rule": v.rule,
            "covers": v.covers,
            "kind": v.kind,
            "n": v.n,
            "estimate": v.estimate,
            "low": v.low,
            "high": v.high,
            "p": v.p,
            "p_raw": v.p_raw,
            "alpha": v.alpha,
            "family": v.family,
            "power": v.power,
            "power_paper": v.power_paper,
            "mde": v.mde,
            "tested": v.tested,
            "this_run": self.this_run,
            "scale": self.scale,
            "parts": [p.as_dict() for p in v.parts],
        }


def evaluate(spec: ClaimSpec, *args: Any, this_run: str = "", scale: str = "", **kwargs: Any) -> ClaimTest:
    """Apply the spec's declared test to the data: ``RULES[spec.test](*args, sesoi/margin=…, unit=…, **kwargs)``.

    The SESOI, the paper's effect and the unit come from the declaration, never from the call.
    """
    if not isinstance(spec, ClaimSpec):
        raise ParameterError("spec", spec, "a reprobook.claims.ClaimSpec")
    if spec.test == "none":
        return ClaimTest(spec, not_comparable(spec.untestable), this_run, scale)
    for name in ("sesoi", "margin", "unit", "paper_effect"):
        if name in kwargs:
            raise ParameterError(name, kwargs[name], f"nothing: {name} comes from the claim's declaration")
    rule = RULES[spec.test]
    if spec.test in _MARGIN_RULES:
        kwargs["margin"] = spec.sesoi
    else:
        kwargs["sesoi"] = spec.sesoi
    if spec.test not in ("equivalence", "binary_non_inferiority"):
        kwargs["paper_effect"] = spec.paper_effect
    kwargs["unit"] = spec.unit
    return ClaimTest(spec, rule(*args, **kwargs), this_run, scale)


def untested(spec: ClaimSpec, reason: str, this_run: str = "", scale: str = "") -> ClaimTest:
    """A declared claim this run cannot test (a guard before any data: not converged, one device)."""
    return ClaimTest(spec, not_comparable(reason), this_run, scale)


def holm_tests(tests: Sequence[ClaimTest], *, alpha: float | None = None) -> list[ClaimTest]:
    """:func:`holm` over the verdicts of a chapter's claim tests (every p-valued claim of the chapter)."""
    adjusted = holm([t.verdict for t in tests], alpha=alpha)
    return [dataclasses.replace(t, verdict=v) for t, v in zip(tests, adjusted)]


def guard_tests(
    tests: Sequence[ClaimTest], keys: Iterable[str], apply: Callable[[Verdict], Verdict]
) -> list[ClaimTest]:
    """``apply`` (a guard) to the verdicts of the tests named by ``keys``; the others unchanged."""
    keys = set(keys)
    unknown = keys - {t.key for t in tests}
    if unknown:
        raise ParameterError("keys", sorted(unknown), ", ".join(t.key for t in tests))
    return [dataclasses.replace(t, verdict=apply(t.verdict)) if t.key in keys else t for t in tests]


def _fmt(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def power_text(power: float | None) -> str:
    return "–" if power is None or (isinstance(power, float) and math.isnan(power)) else f"{power:.0%}"


def design_frame(specs: Iterable[ClaimSpec]):
    """The claims as declared before the run: unit and n, test, SESOI with its source (a DataFrame)."""
    import pandas as pd  # noqa: PLC0415  (pandas for the tables only: the CLI imports claims)

    rows = []
    for s in specs:
        rows.append(
            {
                "claim": s.claim,
                # n left open (None) is the whole held-out set, counted when the run builds it (ClaimSpec.over)
                "unit (n)": "–" if s.test == "none" else f"{s.unit} ({'all' if s.n is None else s.n})",
                "test": "not testable here: " + s.untestable if s.test == "none" else s.test.replace("_", " "),
                "smallest effect of interest": (
                    "–" if s.sesoi is None else f"{format(s.sesoi, s.fmt)} ({s.sesoi_source})"
                ),
                "paper's effect": _fmt(s.paper_effect, s.fmt),
            }
        )
    return pd.DataFrame(rows).set_index("claim")


def mde_text(row: Mapping[str, Any], fmt: str) -> str:
    """The MDE cell: a conjunction ("all of") lists its parts' MDEs, the first in the claim's format (the parts
    after it measure other quantities, shown with ``.3g``); a tested claim without one reads "none at this n", or
    "– (no variation)" where nothing varied."""
    if row.get("kind") == "all of":
        texts = [_fmt(p.get("mde"), fmt if i == 0 else ".3g") for i, p in enumerate(row.get("parts") or ())]
        return "; ".join(texts) if texts else "–"
    if row.get("tested") and row.get("mde") is None:
        return "– (no variation)" if str(row.get("reason") or "").startswith("no variation") else "none at this n"
    return _fmt(row.get("mde"), fmt)


def claims_table(tests: Iterable[ClaimTest | Mapping[str, Any]]):
    """The one claims table: every claim with its estimate and 95 % interval, Holm-adjusted p (the raw p, marked
    "unadjusted", for a claim a guard read *not comparable*: it stands outside the family), power at the SESOI and
    at the paper's effect, MDE and verdict (a DataFrame; rows from ClaimTests or record rows)."""
    import pandas as pd  # noqa: PLC0415  (pandas for the tables only: the CLI imports claims)

    rows = []
    for t in tests:
        r = t.row() if isinstance(t, ClaimTest) else dict(t)
        fmt = r.get("fmt") or ".3g"
        est = (
            "not tested"
            if r.get("estimate") is None
            else (
                format(r["estimate"], fmt)
                + ("" if r.get("low") is None else f" [{format(r['low'], fmt)}, {format(r['high'], fmt)}]")
            )
        )
        verdict = r["verdict"] + (f" ({r['reason']})" if r.get("reason") else "")
        rows.append(
            {
                "claim": r["claim"],
                "unit (n)": f"{r.get('unit', '')} ({r.get('n')})" if r.get("n") else "–",
                "estimate [95 % CI]": est,
                "SESOI": _fmt(r.get("sesoi"), fmt),
                "p (Holm)": (
                    "–"
                    if r.get("p") is None
                    else p_format(r["p"]) + ("" if in_holm_family(r["verdict"], r["p"]) else " (unadjusted)")
                ),
                "power at SESOI": power_text(r.get("power")),
                "power at paper's effect": power_text(r.get("power_paper")),
                "MDE (80 %)": mde_text(r, fmt),
                "verdict": verdict,
            }
        )
    return pd.DataFrame(rows).set_index("claim")


def summary_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many claims got each word (every word present, in the order of VERDICTS)."""
    counts = {w: 0 for w in VERDICTS}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    return counts


def powered(rows: Iterable[Mapping[str, Any]], target: float = TARGET_POWER) -> tuple[int, int]:
    """(claims with power ≥ ``target`` at the paper's effect — at the SESOI where the paper gives none —,
    claims tested): the book's power goal."""
    tested = [r for r in rows if r.get("tested")]
    hit = 0
    for r in tested:
        pw = r.get("power_paper") if r.get("power_paper") is not None else r.get("power")
        if pw is not None and not (isinstance(pw, float) and math.isnan(pw)) and pw >= target:
            hit += 1
    return hit, len(tested)
