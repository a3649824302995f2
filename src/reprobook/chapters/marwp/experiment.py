"""The m-ARWP chapter's own analyses and its claim tests, each a function returning one result object.

Explained in ``notebooks/sharpness/marwp.ipynb``; the analyses it shares with the RWP chapter are in
:mod:`reprobook.chapters.flat_minima.analysis`, the verdict rules in :mod:`reprobook.claims`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ... import claims
from ...configs import marwp as paper
from ...configs.marwp import MARWPConfig
from ...results import facts, glued
from ...sharpness.arwp import ARWP, SCALINGS, CosineIncreasingSigma
from ..flat_minima.analysis import Experiment, Flatness, Regime
from ..flat_minima.power import log_values, nan_mean
from ..flat_minima.report import mean_std_text
from ..flat_minima.runs import LABELS

# the ablation's variant: ARWP trained with the other reading of the adaptive damping
ABLATION = "arwp-other"


@dataclass
class Settings:
    """The method settings of the chapter: the table, the σ schedule's figure, and the values the prose quotes."""

    table: Any  # pandas.DataFrame, one row per method
    # sigma, lam, eta, beta, sigma_start, sigma_end, rwp_gamma, rwp_alpha; the scaling read in this run and the
    # other one (scaling, other_scaling: quoted names; *_text: what each means) and eq14_source
    facts: pd.Series = glued()
    fig_sigma: Any = glued()


def other_scaling(cfg: MARWPConfig) -> str:
    return next(s for s in SCALINGS if s != cfg.scaling)


def settings(cfg: MARWPConfig, rwp_cfg, n_train: int) -> Settings:
    """Each method's λ, η, σ and gradients per step, and the σ schedule of ARWP over this run's steps."""
    import matplotlib.pyplot as plt

    def row(m):
        if m == "sgd":
            return {"λ": "—", "η": "—", "σ": "—", "gradients per step": 1}
        if m == "sam":
            return {"λ": "—", "η": "—", "σ": f"ρ = {cfg.rho:g}", "gradients per step": 2}
        mixed = m in ("mrwp", "marwp")
        return {
            "λ": f"{cfg.lam if mixed else 1.0:g}",
            "η": f"{cfg.eta if m in ('arwp', 'marwp') else 0.0:g}",
            "σ": f"{cfg.sigma:g}" if mixed else f"{cfg.arwp_sigma_start:g} → {cfg.arwp_sigma_end:g}",
            "gradients per step": 2 if mixed else 1,
        }

    table = pd.DataFrame({LABELS[m]: row(m) for m in cfg.methods}).T.rename_axis("method")
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    schedule = CosineIncreasingSigma(
        ARWP(torch.nn.Linear(1, 1).parameters(), alpha=1.0), cfg.arwp_sigma_start, cfg.arwp_sigma_end, total
    )
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(
        np.arange(total + 1) / steps_per_epoch,
        [schedule.value(t) for t in range(total + 1)],
        label="ARWP, RWP (perturbed only)",
    )
    ax.axhline(cfg.sigma, color="C1", ls="--", label="m-RWP, m-ARWP")
    ax.set(xlabel="epoch", ylabel="σ", title="Noise scale during training")
    ax.legend()
    fig.tight_layout()
    other = other_scaling(cfg)
    numbers = ("sigma", "lam", "eta", "beta", "sigma_start", "sigma_end", "rwp_gamma", "rwp_alpha")
    return Settings(
        table,
        facts(
            dict.fromkeys(numbers, "g"),
            sigma=cfg.sigma,
            lam=cfg.lam,
            eta=cfg.eta,
            beta=cfg.beta,
            sigma_start=cfg.arwp_sigma_start,
            sigma_end=cfg.arwp_sigma_end,
            rwp_gamma=rwp_cfg.gamma,
            rwp_alpha=rwp_cfg.alpha,
            scaling=f'"{cfg.scaling}"',
            other_scaling=f'"{other}"',
            scaling_text=SCALINGS[cfg.scaling],
            other_scaling_text=SCALINGS[other],
            eq14_source=paper.EQ14_SOURCE,
        ),
        fig,
    )


def ablation_variant(cfg: MARWPConfig) -> dict:
    """``{key: (cfg, method, label)}`` of the ablation for
    :func:`~reprobook.chapters.flat_minima.analysis.train_all`: ARWP with the other reading of the damping (one
    gradient per step; the adaptive noise is its only change from the perturbed-only RWP)."""
    other = other_scaling(cfg)
    return {ABLATION: (dataclasses.replace(cfg, scaling=other), "arwp", f'ARWP, "{other}"')}


# the comparisons of test accuracy: (a, b, what a − b isolates)
COMPARISONS = {
    "mix": (
        "mrwp",
        "prwp",
        "mixing in the clean gradient, with a constant σ instead of the growing one (neither is adaptive)",
    ),
    "mix_adaptive": ("marwp", "arwp", "mixing, with a constant σ instead of the growing one (both adaptive)"),
    "adapt": ("arwp", "prwp", "adaptivity (both have the growing σ)"),
    "adapt_mixed": ("marwp", "mrwp", "adaptivity, with mixing"),
    "over_sgd": ("marwp", "sgd", "the full method against plain training"),
    "vs_sam": ("marwp", "sam", "the full method against SAM"),
}


@dataclass
class Comparisons:
    """Mean test accuracy and training loss at w per method, and the paired gaps of :data:`COMPARISONS`."""

    summary: Any  # pandas.DataFrame, one row per method
    table: Any  # pandas.DataFrame, one row per comparison
    facts: pd.Series = glued(".4f")  # loss_<method>: mean training loss at w (prwp, mrwp, arwp, marwp, sgd)


def comparisons(experiment: Experiment) -> Comparisons:
    """The paired gaps of test accuracy between methods over the seeds (mean, spread, and how many seeds
    favour the first method), and the training loss at the final weights of every method."""
    methods = [k for k in experiment.keys if k != ABLATION]
    summary = pd.DataFrame(
        [
            {
                "method": experiment.labels[m],
                "test accuracy (mean ± std)": mean_std_text(experiment.values(m, "test_acc")),
                "training loss at w (mean ± std)": mean_std_text(experiment.values(m, "fit_loss"), ".4f"),
            }
            for m in methods
        ]
    ).set_index("method")
    rows = []
    for a, b, isolates in COMPARISONS.values():
        gaps = np.subtract(experiment.values(a, "test_acc"), experiment.values(b, "test_acc"))
        rows.append(
            {
                "comparison": f"{experiment.labels[a]} − {experiment.labels[b]}",
                "isolates": isolates,
                "mean gap": f"{gaps.mean():+.2%}",
                "seeds where the first is better": f"{int((gaps > 0).sum())} of {len(gaps)}",
            }
        )
    loss = {
        f"loss_{m}": float(np.mean(experiment.values(m, "fit_loss"))) for m in ("prwp", "mrwp", "arwp", "marwp", "sgd")
    }
    return Comparisons(summary, pd.DataFrame(rows).set_index("comparison"), facts(None, **loss))


@dataclass
class FlatnessSummary:
    """Mean λ_max (for the methods it was computed for) and filter-normalised sharpness per method."""

    table: Any  # pandas.DataFrame, one row per method
    # sharp_<method> (sgd, sam, marwp): mean filter-normalised sharpness; lambda_text: the mean λ_max of each
    # method it was computed for
    facts: pd.Series = glued()


def flatness_summary(experiment: Experiment, flat: Flatness) -> FlatnessSummary:
    keys = [k for k in experiment.keys if k != ABLATION]
    table = pd.DataFrame(
        [
            {
                "method": experiment.labels[k],
                "filter-normalised sharpness": mean_std_text(flat.sharpness[k], ".3f"),
                "λ_max": mean_std_text(flat.lambda_max[k], ".1f") if k in flat.lambda_max else "—",
            }
            for k in keys
        ]
    ).set_index("method")
    # λ_max is NaN where Lanczos found nothing
    lam = [f"{nan_mean(flat.lambda_max[k]):.1f} for {experiment.labels[k]}" for k in keys if k in flat.lambda_max]
    text = ", ".join(lam) if lam else "not computed"
    if "sam" in keys and "sam" not in flat.lambda_max:
        text += " (SAM's is the RWP chapter's: the same models, the same probe images and seeds)"
    sharp = {f"sharp_{m}": nan_mean(flat.sharpness[m]) for m in ("sgd", "sam", "marwp")}
    return FlatnessSummary(table, facts(dict.fromkeys(sharp, ".3f"), **sharp, lambda_text=text))


@dataclass
class Ablation:
    """ARWP under the two readings of the adaptive damping: accuracy, training loss, and their paired gap."""

    table: Any  # pandas.DataFrame, one row per reading (None when the profile does not run the ablation)
    text: str = glued()  # what the ablation found, in words


def ablation(cfg: MARWPConfig, experiment: Experiment) -> Ablation:
    """The test accuracy of ARWP with the other reading of the damping minus that with ``cfg.scaling``, seed by
    seed over the seeds the ablation ran (``cfg.ablation_seeds``, the first ones): its mean and 95 % t-interval
    (a description of the ablation, not a paper claim, so no test). A profile that does not run it says so."""
    seeds = experiment.seeds_of(ABLATION)
    other = other_scaling(cfg)
    if not seeds:
        return Ablation(
            None,
            f"In this profile the ablation is not run: its budget goes to the claims' seeds "
            f'(ARWP with "{other}" is trained in the paper profile, on every seed).',
        )
    rows = []
    for key, scaling in (("arwp", cfg.scaling), (ABLATION, other)):
        rows.append(
            {
                "ARWP, damping": f'"{scaling}": {SCALINGS[scaling]}' + (" (this chapter)" if key == "arwp" else ""),
                "test accuracy (mean ± std)": mean_std_text(experiment.values(key, "test_acc", seeds)),
                "training loss at w": round(float(np.mean(experiment.values(key, "fit_loss", seeds))), 4),
            }
        )
    gaps = np.subtract(experiment.values(ABLATION, "test_acc"), experiment.values("arwp", "test_acc", seeds))
    mean, low, high = claims.mean_ci(gaps)
    text = (
        f'ARWP with "{other}" differs from ARWP with "{cfg.scaling}" by {mean:+.2%} in test accuracy (over the '
        f"first {len(seeds)} seeds, 95 % interval {low:+.2%} to {high:+.2%}; better on {int((gaps > 0).sum())} of "
        f"{len(gaps)} seeds)."
    )
    return Ablation(pd.DataFrame(rows).set_index("ARWP, damping"), text)


def ablation_variants(cfg: MARWPConfig) -> dict:
    """:func:`ablation_variant` when the profile runs the ablation (``cfg.ablation_seeds`` not 0), else none."""
    return {} if cfg.ablation_seeds == 0 else ablation_variant(cfg)


def claim_values(experiment: Experiment, flat: Flatness) -> dict[str, tuple[list[float], list[float]]]:
    """The paired values, seed by seed, behind each tested claim: ``{key: (a, b)}``, the claim being about a − b.

    Accuracy claims compare test accuracies; convergence compares the logarithm of the training loss at the
    final weights, flatness that of the filter-normalised sharpness (ratios of positive measures; a value ≤ 0
    gives NaN, and the claim *not comparable*).
    """
    acc = {
        m: experiment.values(m, "test_acc")
        for m in dict.fromkeys(m for pair in paper.ACCURACY_CLAIMS.values() for m in pair)
    }
    values = {key: (acc[a], acc[b]) for key, (a, b) in paper.ACCURACY_CLAIMS.items()}
    values["converge"] = (
        log_values(experiment.values("prwp", "fit_loss")),
        log_values(experiment.values("mrwp", "fit_loss")),
    )
    values["flatter"] = (log_values(flat.sharpness["sgd"]), log_values(flat.sharpness["marwp"]))
    return values


def chapter_claims(
    cfg: MARWPConfig, experiment: Experiment, regime: Regime, flat: Flatness, scale: str
) -> list[claims.ClaimTest]:
    """Every claim of the m-ARWP paper (:func:`reprobook.configs.marwp.claim_specs`) tested on this run.

    The same contract as the RWP chapter: a one-sided paired t-test over the seeds for each improvement,
    non-inferiority for parity with SAM, flatness on the scale-invariant sharpness; every claim about the
    converged regime (all but the speed of convergence) is *not comparable* on a run that had not converged;
    the tested claims form the chapter's Holm family. "Particularly in large-scale problems" is outside this
    book's profiles; whether the methods save time is the step-cost chapter's.
    """
    specs = {s.key: s for s in paper.claim_specs(cfg)}
    values = claim_values(experiment, flat)
    label = experiment.labels

    def said(key):
        if key in paper.ACCURACY_CLAIMS:
            a, b = paper.ACCURACY_CLAIMS[key]
            return (
                f"mean test accuracy {label[a]} {np.mean(experiment.values(a, 'test_acc')):.2%}, {label[b]} "
                f"{np.mean(experiment.values(b, 'test_acc')):.2%}"
            )
        if key == "converge":
            return (
                "mean training loss at w: RWP (perturbed only) "
                f"{np.mean(experiment.values('prwp', 'fit_loss')):.4f}, "
                f"m-RWP {np.mean(experiment.values('mrwp', 'fit_loss')):.4f}"
            )
        return (
            f"mean filter-normalised sharpness SGD {np.mean(flat.sharpness['sgd']):.3f}, m-ARWP "
            f"{np.mean(flat.sharpness['marwp']):.3f}; λ_max SGD {nan_mean(flat.lambda_max['sgd']):.1f}, m-ARWP "
            f"{nan_mean(flat.lambda_max['marwp']):.1f} (not scale-invariant, not tested)"
        )

    tests = [claims.evaluate(specs[k], *values[k], this_run=said(k), scale=scale) for k in paper.TESTED]
    tests += [claims.evaluate(specs[k], this_run="not run", scale=scale) for k in specs if k not in paper.TESTED]
    # generalisation and flatness are claims about the converged regime; the speed of convergence is not
    regime_claims = [k for k in paper.TESTED if k != "converge"]
    tests = claims.guard_tests(
        tests, regime_claims, lambda v: claims.requires_convergence(v, regime.converged, regime.detail)
    )
    # the speed of convergence read at the final weights: a ceiling when every run of both arms classifies its
    # whole training set, where the last training losses say nothing of which arm got there first
    fitted = [experiment.values(m, "fit_acc") for m in ("prwp", "mrwp")]
    ceiling = all(arm for arm in fitted) and all(a >= 1.0 for arm in fitted for a in arm)
    tests = claims.guard_tests(
        tests,
        ["converge"],
        lambda v: claims.guard(
            v,
            not ceiling,
            "ceiling: every run of both arms classifies its whole training set at the final weights (training "
            "accuracy 100 %), so the training loss there cannot show which converged faster",
        ),
    )
    return claims.holm_tests(tests)


def paper_settings(cfg: MARWPConfig) -> str:
    """The paper profile's settings in words (they follow the official CIFAR-100 scripts)."""
    return (
        f"{cfg.dataset}, {cfg.model}, batch {cfg.batch_size}, learning rate {cfg.lr:g} with a cosine schedule, "
        f"momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}, {cfg.epochs} epochs, σ = {cfg.sigma:g}, "
        f"λ = {cfg.lam:g}, η = {cfg.eta:g}, β = {cfg.beta:g}, ARWP's σ from {cfg.arwp_sigma_start:g} to "
        f"{cfg.arwp_sigma_end:g}, {cfg.n_seeds} seeds ({paper.CODE_SOURCE})"
    )
