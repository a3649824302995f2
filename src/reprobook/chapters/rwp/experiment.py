"""The RWP chapter's own analyses and its claim tests, each a function returning one result object.

Explained in ``notebooks/sharpness/rwp.ipynb``; the analyses it shares with the m-ARWP chapter are in
:mod:`reprobook.chapters.flat_minima.analysis`, the verdict rules in :mod:`reprobook.claims`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ... import claims
from ...checks import check_int, check_number
from ...configs import rwp as paper
from ...configs.rwp import RWPConfig
from ...models import build_model
from ...results import facts, glued
from ...sharpness.rwp import filter_wise_noise
from ..flat_minima.analysis import Experiment, Flatness, Regime
from ..flat_minima.cost import StepTiming
from ..flat_minima.power import log_values, nan_mean
from ..flat_minima.report import mean_std_text


@dataclass
class NoiseCheck:
    """The empirical standard deviation of many draws of ε_j against γ‖W_j‖₂, filter by filter."""

    table: Any  # pandas.DataFrame: the first filters
    passed: bool
    detail: str
    facts: pd.Series = glued()  # n_draws, rel_err (the largest relative gap), tolerance


def noise_scale_check(cfg: RWPConfig, seed: int, n_draws: int = 500, tolerance: float = 0.1) -> NoiseCheck:
    """Draw ε ``n_draws`` times for the first convolution of a freshly initialised model of ``cfg`` and compare
    each filter's empirical standard deviation with γ‖W_j‖₂; passed when the largest relative gap is below
    ``tolerance`` (the sampling error of a standard deviation from n values is about 1/√(2n))."""
    check_int("n_draws", n_draws, low=2)
    tolerance = check_number("tolerance", tolerance, low=0.0, low_inclusive=False)
    torch.manual_seed(seed)
    weight = next(p for p in build_model(cfg.model, **cfg.model_kwargs).parameters() if p.dim() == 4).detach()
    generator = torch.Generator().manual_seed(seed)
    draws = torch.stack([filter_wise_noise(weight, cfg.gamma, generator=generator) for _ in range(n_draws)])
    empirical = draws.flatten(2).std(dim=(0, 2))
    expected = cfg.gamma * weight.flatten(1).norm(dim=1)
    rel_err = float(((empirical - expected).abs() / expected).max())
    table = pd.DataFrame(
        {"γ‖W_j‖₂": expected.numpy(), "empirical std": empirical.numpy()},
        index=pd.Index(range(len(expected)), name="filter j"),
    ).head(6)
    detail = (
        f"largest relative gap {rel_err:.2%} over {len(expected)} filters, {n_draws} draws (tolerance {tolerance:.0%})"
    )
    return NoiseCheck(
        table,
        rel_err < tolerance,
        detail,
        facts({"rel_err": ".1%", "tolerance": ".0%"}, n_draws=n_draws, rel_err=rel_err, tolerance=tolerance),
    )


@dataclass
class Accuracy:
    """Test accuracy of SGD, SAM and RWP over the seeds, and the time of a step relative to SGD."""

    table: Any  # pandas.DataFrame, one row per method
    # acc_<method>: mean test accuracy; gap_<a>_<b>: the mean paired gap; time_<method>: a step's time / SGD's
    facts: pd.Series = glued()


def accuracy(experiment: Experiment, timing: StepTiming) -> Accuracy:
    """Mean test accuracy per method, the mean paired gaps between methods, and the time ratios to SGD."""
    acc = {m: experiment.values(m, "test_acc") for m in ("sgd", "sam", "rwp")}
    table = pd.DataFrame(
        [
            {
                "method": experiment.labels[m],
                "test accuracy (mean ± std)": mean_std_text(acc[m]),
                "training loss at w (mean)": float(np.mean(experiment.values(m, "fit_loss"))),
                "time per step / SGD": round(timing.ratio[m], 2),
            }
            for m in acc
        ]
    ).set_index("method")
    mean = {m: float(np.mean(v)) for m, v in acc.items()}
    values = {
        **{f"acc_{m}": mean[m] for m in ("sgd", "sam", "rwp")},
        **{f"gap_{a}_{b}": mean[a] - mean[b] for a, b in (("rwp", "sgd"), ("rwp", "sam"), ("sam", "sgd"))},
        **{f"time_{m}": timing.ratio[m] for m in ("sam", "rwp")},
    }
    return Accuracy(
        table,
        facts(
            {k: ".2%" if k.startswith("acc") else "+.2%" if k.startswith("gap") else ".2f" for k in values}, **values
        ),
    )


@dataclass
class FlatnessSummary:
    """The chapter's flatness numbers: mean λ_max and filter-normalised sharpness per method."""

    facts: pd.Series = glued()  # lambda_<method> (mean λ_max), sharp_<method> (sgd, sam, rwp)


def flatness_summary(flat: Flatness) -> FlatnessSummary:
    methods = ("sgd", "sam", "rwp")  # nan_mean: λ_max is NaN where Lanczos found nothing
    values = {
        **{f"lambda_{m}": nan_mean(flat.lambda_max[m]) for m in methods},
        **{f"sharp_{m}": nan_mean(flat.sharpness[m]) for m in methods},
    }
    return FlatnessSummary(facts({k: ".1f" if k.startswith("lambda") else ".3f" for k in values}, **values))


def claim_values(experiment: Experiment, flat: Flatness) -> dict[str, tuple[list[float], list[float]]]:
    """The paired values, seed by seed, behind each tested claim: ``{key: (a, b)}``, the claim being about a − b.

    Accuracy claims compare test accuracies; the flatness claim compares the logarithm of the filter-normalised
    sharpness (a ratio of two positive measures; a value ≤ 0 gives NaN, and the claim *not comparable*).
    """
    acc = {m: experiment.values(m, "test_acc") for m in ("sgd", "sam", "rwp")}
    return {
        "better": (acc["rwp"], acc["sgd"]),
        "parity": (acc["rwp"], acc["sam"]),
        "flatter": (log_values(flat.sharpness["sgd"]), log_values(flat.sharpness["rwp"])),
    }


def chapter_claims(
    cfg: RWPConfig, experiment: Experiment, regime: Regime, flat: Flatness, scale: str
) -> list[claims.ClaimTest]:
    """Every claim of the RWP paper (:func:`reprobook.configs.rwp.claim_specs`) tested on this run.

    Generalisation and flatness are claims about the converged regime: on a run that had not converged they
    are *not comparable*, whatever the outcome (:func:`reprobook.claims.requires_convergence`). The tested
    claims form the chapter's Holm family. The cost claim needs two devices; ImageNet is outside every profile.
    """
    specs = {s.key: s for s in paper.claim_specs(cfg)}
    values = claim_values(experiment, flat)
    acc = {m: float(np.mean(experiment.values(m, "test_acc"))) for m in ("sgd", "sam", "rwp")}
    sharp = {m: float(np.mean(flat.sharpness[m])) for m in ("sgd", "rwp")}
    lam = {m: nan_mean(flat.lambda_max[m]) for m in ("sgd", "rwp")}
    said = {
        "better": f"mean test accuracy SGD {acc['sgd']:.2%}, RWP {acc['rwp']:.2%}",
        "parity": f"mean test accuracy SAM {acc['sam']:.2%}, RWP {acc['rwp']:.2%}",
        "flatter": (
            f"mean filter-normalised sharpness SGD {sharp['sgd']:.3f}, RWP {sharp['rwp']:.3f}; λ_max SGD "
            f"{lam['sgd']:.1f}, RWP {lam['rwp']:.1f} (not scale-invariant, not tested)"
        ),
    }
    tests = [claims.evaluate(specs[k], *values[k], this_run=said[k], scale=scale) for k in paper.TESTED]
    tests += [claims.evaluate(specs[k], this_run="not run", scale=scale) for k in specs if k not in paper.TESTED]
    tests = claims.guard_tests(
        tests, paper.TESTED, lambda v: claims.requires_convergence(v, regime.converged, regime.detail)
    )
    return claims.holm_tests(tests)


def paper_settings(cfg: RWPConfig) -> str:
    """The paper profile's settings in words (they follow the official CIFAR recipe)."""
    return (
        f"{cfg.dataset}, {cfg.model}, batch {cfg.batch_size}, learning rate {cfg.lr:g} with a cosine schedule, "
        f"momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}, {cfg.epochs} epochs, γ = {cfg.gamma:g}, "
        f"α = {cfg.alpha:g}, SAM's ρ = {cfg.rho:g}, {cfg.n_seeds} seeds ({paper.CODE_SOURCE})"
    )
