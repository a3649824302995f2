"""The RWP chapter's own analyses and its claims table, each a function returning one result object.

Explained in ``notebooks/sharpness/rwp.ipynb``; the analyses it shares with the m-ARWP chapter are in
:mod:`.analysis`, the verdict rules in :mod:`reprobook.claims`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import claims
from ..chapters import rwp as paper
from ..checks import check_int, check_number
from ..results import glued
from .analysis import Claims, Experiment, Flatness, Regime, StepTiming, mean_std_text, p_text
from .rwp import filter_wise_noise


@dataclass
class NoiseCheck:
    """The empirical standard deviation of many draws of ε_j against γ‖W_j‖₂, filter by filter."""

    table: Any  # pandas.DataFrame: the first filters
    passed: bool
    detail: str
    n_draws: int = glued()
    rel_err: float = glued(".1%")
    tolerance: float = glued(".0%")


def noise_scale_check(cfg, seed: int, n_draws: int = 500, tolerance: float = 0.1) -> NoiseCheck:
    """Draw ε ``n_draws`` times for the first convolution of a freshly initialised model of ``cfg`` and compare
    each filter's empirical standard deviation with γ‖W_j‖₂; passed when the largest relative gap is below
    ``tolerance`` (the sampling error of a standard deviation from n values is about 1/√(2n))."""
    import pandas as pd

    from ..models import build_model

    check_int("n_draws", n_draws, low=2)
    tolerance = check_number("tolerance", tolerance, low=0.0, low_inclusive=False)
    torch.manual_seed(seed)
    weight = next(p for p in build_model(cfg.model, **cfg.model_kwargs).parameters() if p.dim() == 4).detach()
    generator = torch.Generator().manual_seed(seed)
    draws = torch.stack([filter_wise_noise(weight, cfg.gamma, generator=generator) for _ in range(n_draws)])
    empirical = draws.flatten(2).std(dim=(0, 2))
    expected = cfg.gamma * weight.flatten(1).norm(dim=1)
    rel_err = float(((empirical - expected).abs() / expected).max())
    table = pd.DataFrame({"γ‖W_j‖₂": expected.numpy(), "empirical std": empirical.numpy()},
                         index=pd.Index(range(len(expected)), name="filter j")).head(6)
    detail = f"largest relative gap {rel_err:.2%} over {len(expected)} filters, {n_draws} draws (tolerance {tolerance:.0%})"
    return NoiseCheck(table, rel_err < tolerance, detail, n_draws, rel_err, tolerance)


@dataclass
class Accuracy:
    """Test accuracy of SGD, SAM and RWP over the seeds, and the time of a step relative to SGD."""

    table: Any  # pandas.DataFrame, one row per method
    acc_sgd: float = glued(".2%")
    acc_sam: float = glued(".2%")
    acc_rwp: float = glued(".2%")
    gap_rwp_sgd: float = glued("+.2%")
    gap_rwp_sam: float = glued("+.2%")
    gap_sam_sgd: float = glued("+.2%")
    time_sam: float = glued(".2f")
    time_rwp: float = glued(".2f")


def accuracy(experiment: Experiment, timing: StepTiming) -> Accuracy:
    """Mean test accuracy per method, the mean paired gaps between methods, and the time ratios to SGD."""
    import pandas as pd

    acc = {m: experiment.values(m, "test_acc") for m in ("sgd", "sam", "rwp")}
    table = pd.DataFrame([{"method": experiment.labels[m], "test accuracy (mean ± std)": mean_std_text(acc[m]),
                           "training loss at w (mean)": float(np.mean(experiment.values(m, "fit_loss"))),
                           "time per step / SGD": round(timing.ratio[m], 2)} for m in acc]).set_index("method")
    mean = {m: float(np.mean(v)) for m, v in acc.items()}
    return Accuracy(table, mean["sgd"], mean["sam"], mean["rwp"], mean["rwp"] - mean["sgd"], mean["rwp"] - mean["sam"],
                    mean["sam"] - mean["sgd"], timing.ratio["sam"], timing.ratio["rwp"])


@dataclass
class FlatnessSummary:
    """The chapter's flatness numbers: mean λ_max and filter-normalised sharpness per method."""

    lambda_sgd: float = glued(".1f")
    lambda_sam: float = glued(".1f")
    lambda_rwp: float = glued(".1f")
    sharp_sgd: float = glued(".3f")
    sharp_sam: float = glued(".3f")
    sharp_rwp: float = glued(".3f")


def flatness_summary(flat: Flatness) -> FlatnessSummary:
    mean = lambda d, m: float(np.nanmean(d[m]))  # noqa: E731  (λ_max is NaN where Lanczos found nothing)
    return FlatnessSummary(*(mean(flat.lambda_max, m) for m in ("sgd", "sam", "rwp")),
                           *(mean(flat.sharpness, m) for m in ("sgd", "sam", "rwp")))


def chapter_claims(cfg, experiment: Experiment, regime: Regime, flat: Flatness, timing: StepTiming,
                   scale: str) -> Claims:
    """Every claim of the RWP paper the chapter tests, with its verdict from :mod:`reprobook.claims`.

    Generalisation and flatness are claims about the converged regime: on a run that had not converged
    they read *not comparable* (:func:`reprobook.claims.requires_convergence`). The tests of one chapter
    are Holm-adjusted together. The cost claim needs two devices and ImageNet is outside every profile.
    """
    acc = {m: experiment.values(m, "test_acc") for m in ("sgd", "sam", "rwp")}
    a = cfg.alpha_level
    raw = {
        "better": claims.superiority(acc["rwp"], acc["sgd"], alpha=a),
        "parity": claims.non_inferiority(acc["rwp"], acc["sam"], margin=cfg.parity_margin, alpha=a),
        # flatter: the scale-invariant sharpness is lower (λ_max is reported beside it, not tested)
        "flatter": claims.superiority(flat.sharpness["sgd"], flat.sharpness["rwp"], alpha=a),
    }
    tested = claims.holm(raw, alpha=a)
    verdicts = {k: claims.requires_convergence(v, regime.converged, regime.detail) for k, v in tested.items()}
    verdicts["parallel"] = claims.not_comparable(
        "the claim is about two gradients computed at once on two devices; this run has one device and computes "
        "them one after the other")
    verdicts["imagenet"] = claims.not_comparable("ImageNet is outside every profile of this book")
    lam = {m: float(np.nanmean(flat.lambda_max[m])) for m in ("sgd", "rwp")}
    sharp = {m: float(np.mean(flat.sharpness[m])) for m in ("sgd", "rwp")}
    v = verdicts
    rows = [
        dict(claim="RWP generalises better than plain training (SGD)", paper=paper.PAPER_CLAIMS["flat"],
             this_run=f"RWP − SGD test accuracy {v['better'].estimate:+.2%}{p_text(v['better'])}", verdict=v["better"]),
        dict(claim=f"RWP is competitive with SAM (within {cfg.parity_margin:.1%} test accuracy)",
             paper=paper.PAPER_CLAIMS["competitive"],
             this_run=f"RWP − SAM test accuracy {v['parity'].estimate:+.2%}{p_text(v['parity'])}", verdict=v["parity"]),
        dict(claim="RWP reaches flatter minima than SGD", paper=paper.PAPER_CLAIMS["flat"],
             this_run=(f"filter-normalised sharpness SGD {sharp['sgd']:.3f}, RWP {sharp['rwp']:.3f}{p_text(v['flatter'])}; "
                       f"λ_max SGD {lam['sgd']:.1f}, RWP {lam['rwp']:.1f} (not scale-invariant, not tested)"),
             verdict=v["flatter"]),
        dict(claim="With its two gradients in parallel, RWP trains at nearly the speed of SGD; SAM doubles the time",
             paper=paper.PAPER_CLAIMS["parallel"],
             this_run=(f"sequential, one device: a step of RWP {timing.ratio['rwp']:.2f}×, of SAM "
                       f"{timing.ratio['sam']:.2f}× SGD's ({timing.source})"), verdict=v["parallel"]),
        dict(claim=f"{paper.PAPER_IMAGENET_GAIN_OVER_SAM:+.1%} ImageNet top-1 over SAM at half its training time",
             paper=paper.PAPER_CLAIMS["imagenet"],
             this_run="not run", verdict=v["imagenet"]),
    ]
    for row in rows:
        row.update(source=paper.SOURCE, scale=scale)
    n = len(experiment.seeds)
    return Claims(rows, verdicts, raw["better"].rule, raw["parity"].rule, 100 * cfg.parity_margin,
                  len(tested), a, f"{n} seeds (each seed: one initialisation and one order of the batches, shared by "
                  "every method)")


def paper_settings(cfg) -> str:
    """The paper profile's settings in words (they follow the official CIFAR recipe)."""
    return (f"{cfg.dataset}, {cfg.model}, batch {cfg.batch_size}, learning rate {cfg.lr:g} with a cosine schedule, "
            f"momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}, {cfg.epochs} epochs, γ = {cfg.gamma:g}, "
            f"α = {cfg.alpha:g}, SAM's ρ = {cfg.rho:g}, {cfg.n_seeds} seeds ({paper.CODE_SOURCE})")
