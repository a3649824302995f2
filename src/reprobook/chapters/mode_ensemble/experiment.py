"""The mode-ensemble chapter's claim tests: one primary endpoint per claim, over the K trained modes.

Explained in ``notebooks/ood/mode_ensemble.ipynb``; the claims, their units, tests and smallest effects of
interest are declared in :func:`reprobook.configs.mode_ensemble.claim_specs`. This module turns the chapter's
numbers into :class:`reprobook.claims.ClaimTest` objects:

* **alike** (:func:`sd_bound`): the between-mode SD of InD test accuracy, and of InD test loss, with its χ²
  interval; *reproduced* when the 95 % upper bound lies below the margin (p = P(χ²_{K−1} ≤ (K−1)s²/δ²)),
  *contradicted* when the lower bound lies above it; both parts must hold (:func:`reprobook.claims.all_of`);
* **landscape**: the relative depth of each mode's OoD slice below the mode against its InD slice's, a paired
  t-test over the modes;
* **fluctuates** (:func:`fluctuation_test`): the between-mode SD of FPR95 (mean over the detector × natural-set
  cells) against a Monte-Carlo null of K values drawn from mode 1's bootstrap rounds (the spread re-drawing the
  test images alone gives); its interval by a bootstrap over the modes;
* **improves**: the disjoint ensembles' members' mean FPR95 against the ensemble's, a paired t-test over the units;
* **variance**: log(SD of the averaging null ÷ SD of the pair ensembles), bootstrap over the modes.

Every claim is about the converged regime (:func:`reprobook.claims.requires_convergence`) and about distinct
modes (:func:`reprobook.claims.guard_acted`: modes that never disagree are one network).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from scipy import stats

from ... import claims
from ...checks import ParameterError
from ...results import facts, glued


def sd_bound(
    values: Sequence[float], margin: float, *, unit: str = "trained modes", alpha: float = claims.ALPHA, what: str = ""
) -> claims.Verdict:
    """ "The between-unit SD of ``values`` is below ``margin``": the sample SD s (ddof 1) with its χ² 95 % interval
    [s·√(df/χ²_{1−α}), s·√(df/χ²_α)], df = n − 1, and p = P(χ²_df ≤ df·s²/margin²) (H₀: σ ≥ margin). Power at a
    true SD of margin/2; MDE the smallest margin reached with 80 % power were the true SD the observed s."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        raise ParameterError("values", list(values), "at least two values")
    if not np.isfinite(x).all():
        return claims.not_comparable("non-finite values", "χ² bound on the between-unit SD").replace(n=n)
    df = n - 1
    s = float(np.std(x, ddof=1))

    def bounds(a: float) -> tuple[float, float]:  # the χ² interval at 1 − 2a
        return s * math.sqrt(df / stats.chi2.ppf(1 - a, df)), s * math.sqrt(df / stats.chi2.ppf(a, df))

    low, high = bounds(alpha)
    p = float(stats.chi2.cdf(df * s * s / (margin * margin), df))

    def design(level: float):
        crit = stats.chi2.ppf(level, df)
        power = float(stats.chi2.cdf(crit * 4.0, df))  # true SD = margin / 2
        mde = s * math.sqrt(stats.chi2.ppf(claims.TARGET_POWER, df) / crit) if s > 0 else 0.0
        return power, None, mde

    rule = (
        f"χ² bound on the between-{unit} SD{' of ' + what if what else ''}: reproduced when its upper "
        f"{1 - 2 * alpha:.0%} bound is below {margin:g}, contradicted when its lower bound is above"
    )
    return claims.from_test(
        estimate=s,
        low=low,
        high=high,
        p=p,
        n=n,
        unit=unit,
        rule=rule,
        kind="equivalence",
        sesoi=margin,
        alpha=alpha,
        design=design,
        bounds=bounds,
        test="sd_bound",
    )


def alike_test(
    spec: claims.ClaimSpec, accuracy: Sequence[float], loss: Sequence[float], loss_margin: float
) -> claims.ClaimTest:
    """The "alike" claim: the SD bounds of InD accuracy (the spec's SESOI) and of InD loss (``loss_margin``)."""
    # the declared claim gives its SESOI (ClaimSpec types it as optional)
    acc = sd_bound(accuracy, cast(float, spec.sesoi), unit=spec.unit, what="InD test accuracy")
    los = sd_bound(loss, loss_margin, unit=spec.unit, what="InD test loss")
    both = claims.all_of(acc, los, covers=f"{len(accuracy)} {spec.unit}")
    return claims.ClaimTest(spec, both, this_run=f"SD of accuracy {acc.format('.2%')}; SD of loss {los.format('.3f')}")


def _null_sds(rounds: np.ndarray, k: int, draws: int, seed: int) -> np.ndarray:
    """Monte-Carlo null of the mean-over-cells SD of K values: ``rounds`` is cells × R (one mode's bootstrap
    rounds, the same rounds in every cell); each draw picks K rounds without replacement."""
    rng = np.random.default_rng(seed)
    out = np.empty(draws)
    for b in range(draws):
        pick = rng.choice(rounds.shape[1], size=k, replace=False)
        out[b] = rounds[:, pick].std(axis=1, ddof=1).mean()
    return out


def fluctuation_test(
    per_mode: np.ndarray,
    rounds: np.ndarray,
    *,
    sesoi: float,
    paper_effect: float | None,
    draws: int,
    resamples: int,
    seed: int = 0,
    unit: str = "trained modes",
) -> tuple[claims.Verdict, dict]:
    """ "FPR95 varies across modes more than re-drawing the test images makes it vary".

    ``per_mode``: K × cells FPR95 of the single modes; ``rounds``: cells × R, mode 1's FPR95 in R bootstrap
    rounds. Statistic S = mean over cells of the SD over the modes; null: S of K rounds drawn from ``rounds``
    (``draws`` times); p = (1 + #{S* ≥ S}) / (draws + 1). The estimate is S − median(S*) with a BCa interval
    from ``resamples`` bootstraps of the modes; power by the normal approximation with that bootstrap's SE.
    Returns the verdict and the numbers behind it (σ_seed = S with its interval, σ_sample = median S*).
    """
    per_mode = np.asarray(per_mode, dtype=float)
    rounds = np.asarray(rounds, dtype=float)
    k = per_mode.shape[0]
    if rounds.shape[0] != per_mode.shape[1]:
        raise ParameterError("rounds", rounds.shape, f"one row per cell ({per_mode.shape[1]})")
    rule = (
        f"Monte-Carlo null ({draws} draws of {k} bootstrap rounds of mode 1): p = (1 + #null ≥ observed)/"
        f"(B + 1); the mean-over-cells SD over the modes minus the null's median, BCa interval over {unit}"
    )
    if not (np.isfinite(per_mode).all() and np.isfinite(rounds).all()):
        return claims.not_comparable("non-finite FPR95 values", rule), {}
    observed = float(per_mode.std(axis=0, ddof=1).mean())
    null = _null_sds(rounds, k, draws, seed)
    centre = float(np.median(null))
    p = float((1 + np.sum(null >= observed)) / (draws + 1))
    index = np.arange(k)

    def statistic(idx):
        return float(per_mode[np.asarray(idx, dtype=int)].std(axis=0, ddof=1).mean())

    low, high, dist, bca = claims.bca_bootstrap(
        (index,), statistic, level=1 - 2 * claims.ALPHA, seed=seed, n_resamples=resamples, vectorized=False
    )
    if not bca:
        rule = rule.replace("BCa", "percentile (BCa undefined on these data)", 1)
    se = float(np.std(dist, ddof=1))

    def design(level: float):
        return (
            claims.power_normal(sesoi, se, level),
            None if paper_effect is None else claims.power_normal(paper_effect, se, level),
            claims.mde_normal(se, level),
        )

    def bounds(a: float) -> tuple[float, float]:  # the same bootstraps (same seed), the interval at 1 − 2a
        lo, hi, _, _ = claims.bca_bootstrap(
            (index,), statistic, level=1 - 2 * a, seed=seed, n_resamples=resamples, vectorized=False
        )
        return lo - centre, hi - centre

    verdict = claims.from_test(
        estimate=observed - centre,
        low=low - centre,
        high=high - centre,
        p=p,
        n=k,
        unit=unit,
        rule=rule,
        sesoi=sesoi,
        paper_effect=paper_effect,
        design=design,
        bounds=bounds,
        test="monte_carlo",
    )
    numbers = {
        "sigma_seed": observed,
        "sigma_seed_low": low,
        "sigma_seed_high": high,
        "sigma_sample": centre,
        "null_low": float(np.quantile(null, 0.025)),
        "null_high": float(np.quantile(null, 0.975)),
    }
    return verdict, numbers


@dataclass
class Fluctuation:
    """The fluctuation claim's test and the numbers the prose quotes: σ_seed (the between-mode SD of FPR95, mean
    over the cells) with its interval, against σ_sample (the null's median, from re-drawn test images)."""

    test: claims.ClaimTest
    # sigma_seed (sigma_seed_low, sigma_seed_high), sigma_sample, the null's 95 % range null_low to null_high,
    # over n_cells cells and draws Monte-Carlo draws
    facts: pd.Series = glued()


_SHARES = ("sigma_seed", "sigma_seed_low", "sigma_seed_high", "sigma_sample", "null_low", "null_high")


def _fluctuation_facts(numbers: dict[str, float], n_cells: int, draws: int) -> pd.Series:
    return facts({**dict.fromkeys(_SHARES, ".2%"), "draws": ","}, **numbers, n_cells=n_cells, draws=draws)


def fluctuation_claim(
    spec: claims.ClaimSpec, per_mode: np.ndarray, rounds: np.ndarray, *, draws: int, family: int, seed: int = 0
) -> Fluctuation:
    """:func:`fluctuation_test` on the declared claim, ``claims.bootstrap_resamples(family)`` bootstraps of the
    modes."""
    # the declared claim gives its SESOI (ClaimSpec types it as optional)
    verdict, numbers = fluctuation_test(
        per_mode,
        rounds,
        sesoi=cast(float, spec.sesoi),
        paper_effect=spec.paper_effect,
        draws=draws,
        resamples=claims.bootstrap_resamples(family),
        seed=seed,
        unit=spec.unit,
    )
    if not numbers:
        return Fluctuation(
            claims.ClaimTest(spec, verdict),
            _fluctuation_facts(dict.fromkeys(_SHARES, float("nan")), per_mode.shape[1], draws),
        )
    text = (
        f"σ_seed {numbers['sigma_seed']:.2%} [{numbers['sigma_seed_low']:.2%}, {numbers['sigma_seed_high']:.2%}] "
        f"vs σ_sample {numbers['sigma_sample']:.2%} (null 95 % range {numbers['null_low']:.2%}–"
        f"{numbers['null_high']:.2%}), over {per_mode.shape[1]} cells"
    )
    return Fluctuation(
        claims.ClaimTest(spec, verdict, this_run=text), _fluctuation_facts(numbers, per_mode.shape[1], draws)
    )


def variance_test(
    spec: claims.ClaimSpec,
    singles: np.ndarray,
    pairs: np.ndarray,
    family: int,
    ratio: Callable[..., float],
    seed: int = 0,
) -> claims.ClaimTest:
    """The "reduces the variance" claim: ``ratio(singles, pairs, index)`` (log SD of the averaging null ÷ SD of
    the pair ensembles) bootstrapped over the modes, ``claims.bootstrap_resamples(family)`` resamples."""
    k = len(singles)
    verdict = claims.evaluate(
        spec,
        [np.arange(k)],
        lambda idx: ratio(singles, pairs, idx),
        n_resamples=claims.bootstrap_resamples(family),
        seed=seed,
    ).verdict
    a, b = np.triu_indices(k, 1)
    text = (
        f"SD over the {len(a)} pairs: averaging null {np.std((singles[a] + singles[b]) / 2, ddof=1):.2%}, "
        f"ensembles {np.std(pairs[a, b], ddof=1):.2%}"
    )
    return claims.ClaimTest(spec, verdict, this_run=text)


def guard_modes(
    tests: Sequence[claims.ClaimTest], converged: bool, convergence_detail: str, disagreement: float
) -> list[claims.ClaimTest]:
    """Every claim of the chapter is about converged, distinct modes: *not comparable* otherwise."""
    out = claims.guard_tests(
        tests, [t.key for t in tests], lambda v: claims.requires_convergence(v, converged, convergence_detail)
    )
    measure = f"mean pairwise disagreement of the modes' InD test predictions {disagreement:.2%}"
    return claims.guard_tests(out, [t.key for t in out], lambda v: claims.guard_acted(v, disagreement > 0, measure))
