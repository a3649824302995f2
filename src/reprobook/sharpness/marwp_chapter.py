"""The m-ARWP chapter's own analyses and its claims table, each a function returning one result object.

Explained in ``notebooks/sharpness/marwp.ipynb``; the analyses it shares with the RWP chapter are in
:mod:`.analysis`, the verdict rules in :mod:`reprobook.claims`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import claims
from ..chapters import marwp as paper
from ..results import glued
from .analysis import Claims, Experiment, Flatness, Regime, mean_std_text, p_text
from .arwp import SCALINGS

# the ablation's variant: ARWP trained with the other reading of the adaptive damping
ABLATION = "arwp-other"


@dataclass
class Settings:
    """The method settings of the chapter: the table, the σ schedule's figure, and the values the prose quotes."""

    table: Any  # pandas.DataFrame, one row per method
    sigma: float = glued("g")
    lam: float = glued("g")
    eta: float = glued("g")
    beta: float = glued("g")
    sigma_start: float = glued("g")
    sigma_end: float = glued("g")
    rwp_gamma: float = glued("g")
    rwp_alpha: float = glued("g")
    scaling: str = glued()
    other_scaling: str = glued()
    scaling_text: str = glued()
    other_scaling_text: str = glued()
    eq14_source: str = glued()
    fig_sigma: Any = glued()


def other_scaling(cfg) -> str:
    return next(s for s in SCALINGS if s != cfg.scaling)


def settings(cfg, rwp_cfg, n_train: int) -> Settings:
    """Each method's λ, η, σ and gradients per step, and the σ schedule of ARWP over this run's steps."""
    import matplotlib.pyplot as plt
    import pandas as pd
    import torch

    from .arwp import ARWP, CosineIncreasingSigma
    from .experiment import LABELS

    def row(m):
        if m == "sgd":
            return {"λ": "—", "η": "—", "σ": "—", "gradients per step": 1}
        if m == "sam":
            return {"λ": "—", "η": "—", "σ": f"ρ = {cfg.rho:g}", "gradients per step": 2}
        mixed = m in ("mrwp", "marwp")
        return {"λ": f"{cfg.lam if mixed else 1.0:g}", "η": f"{cfg.eta if m in ('arwp', 'marwp') else 0.0:g}",
                "σ": f"{cfg.sigma:g}" if mixed else f"{cfg.arwp_sigma_start:g} → {cfg.arwp_sigma_end:g}",
                "gradients per step": 2 if mixed else 1}

    table = pd.DataFrame({LABELS[m]: row(m) for m in cfg.methods}).T.rename_axis("method")
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    schedule = CosineIncreasingSigma(ARWP(torch.nn.Linear(1, 1).parameters(), alpha=1.0), cfg.arwp_sigma_start,
                                     cfg.arwp_sigma_end, total)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(np.arange(total + 1) / steps_per_epoch, [schedule.value(t) for t in range(total + 1)],
            label="ARWP, RWP (perturbed only)")
    ax.axhline(cfg.sigma, color="C1", ls="--", label="m-RWP, m-ARWP")
    ax.set(xlabel="epoch", ylabel="σ", title="Noise scale during training")
    ax.legend()
    fig.tight_layout()
    other = other_scaling(cfg)
    return Settings(table, cfg.sigma, cfg.lam, cfg.eta, cfg.beta, cfg.arwp_sigma_start, cfg.arwp_sigma_end,
                    rwp_cfg.gamma, rwp_cfg.alpha, f'"{cfg.scaling}"', f'"{other}"', SCALINGS[cfg.scaling],
                    SCALINGS[other], paper.EQ14_SOURCE, fig)


def ablation_variant(cfg) -> dict:
    """``{key: (cfg, method, label)}`` of the ablation for :func:`.analysis.train_all`: ARWP with the other
    reading of the damping (one gradient per step; the adaptive noise is its only change from the
    perturbed-only RWP)."""
    other = other_scaling(cfg)
    return {ABLATION: (dataclasses.replace(cfg, scaling=other), "arwp", f'ARWP, "{other}"')}


# the comparisons of test accuracy: (a, b, what a − b isolates)
COMPARISONS = {
    "mix": ("mrwp", "prwp", "mixing in the clean gradient, with a constant σ instead of the growing one "
                            "(neither is adaptive)"),
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
    loss_prwp: float = glued(".4f")
    loss_mrwp: float = glued(".4f")
    loss_arwp: float = glued(".4f")
    loss_marwp: float = glued(".4f")
    loss_sgd: float = glued(".4f")


def comparisons(experiment: Experiment) -> Comparisons:
    """The paired gaps of test accuracy between methods over the seeds (mean, spread, and how many seeds
    favour the first method), and the training loss at the final weights of every method."""
    import pandas as pd

    methods = [k for k in experiment.keys if k != ABLATION]
    summary = pd.DataFrame([{"method": experiment.labels[m],
                             "test accuracy (mean ± std)": mean_std_text(experiment.values(m, "test_acc")),
                             "training loss at w (mean ± std)": mean_std_text(experiment.values(m, "fit_loss"), ".4f")}
                            for m in methods]).set_index("method")
    rows = []
    for name, (a, b, isolates) in COMPARISONS.items():
        gaps = np.subtract(experiment.values(a, "test_acc"), experiment.values(b, "test_acc"))
        rows.append({"comparison": f"{experiment.labels[a]} − {experiment.labels[b]}", "isolates": isolates,
                     "mean gap": f"{gaps.mean():+.2%}", "seeds where the first is better": f"{int((gaps > 0).sum())} of {len(gaps)}"})
    loss = {m: float(np.mean(experiment.values(m, "fit_loss"))) for m in ("prwp", "mrwp", "arwp", "marwp", "sgd")}
    return Comparisons(summary, pd.DataFrame(rows).set_index("comparison"), loss["prwp"], loss["mrwp"], loss["arwp"],
                       loss["marwp"], loss["sgd"])


@dataclass
class FlatnessSummary:
    """Mean λ_max (for the methods it was computed for) and filter-normalised sharpness per method."""

    table: Any  # pandas.DataFrame, one row per method
    lambda_sgd: float = glued(".1f")
    lambda_sam: float = glued(".1f")
    lambda_marwp: float = glued(".1f")
    sharp_sgd: float = glued(".3f")
    sharp_sam: float = glued(".3f")
    sharp_marwp: float = glued(".3f")


def flatness_summary(experiment: Experiment, flat: Flatness) -> FlatnessSummary:
    import pandas as pd

    keys = [k for k in experiment.keys if k != ABLATION]
    table = pd.DataFrame([{"method": experiment.labels[k], "filter-normalised sharpness": mean_std_text(flat.sharpness[k], ".3f"),
                           "λ_max": mean_std_text(flat.lambda_max[k], ".1f") if k in flat.lambda_max else "—"}
                          for k in keys]).set_index("method")
    mean = lambda d, k: float(np.nanmean(d[k]))  # noqa: E731  (λ_max is NaN where Lanczos found nothing)
    return FlatnessSummary(table, *(mean(flat.lambda_max, k) for k in ("sgd", "sam", "marwp")),
                           *(mean(flat.sharpness, k) for k in ("sgd", "sam", "marwp")))


@dataclass
class Ablation:
    """ARWP under the two readings of the adaptive damping: accuracy, training loss, and their paired gap."""

    table: Any  # pandas.DataFrame, one row per reading
    gap: float = glued("+.2%")
    p_two_sided: float = glued(".3f")
    favour: str = glued()


def ablation(cfg, experiment: Experiment) -> Ablation:
    """The test accuracy of ARWP with ``cfg.scaling`` against ARWP with the other reading (a two-sided
    paired t-test over the seeds: the ablation asks which reading does better, not a paper claim)."""
    import pandas as pd

    rows = []
    for key, scaling in (("arwp", cfg.scaling), (ABLATION, other_scaling(cfg))):
        rows.append({"ARWP, damping": f'"{scaling}": {SCALINGS[scaling]}' + (" (this chapter)" if key == "arwp" else ""),
                     "test accuracy (mean ± std)": mean_std_text(experiment.values(key, "test_acc")),
                     "training loss at w": round(float(np.mean(experiment.values(key, "fit_loss"))), 4)})
    other, main = experiment.values(ABLATION, "test_acc"), experiment.values("arwp", "test_acc")
    test = claims.paired_comparison(other, main)
    p = test["p_greater"]
    two_sided = float("nan") if math.isnan(p) else min(1.0, 2 * min(p, 1 - p))
    gaps = np.subtract(other, main)
    favour = f"{int((gaps > 0).sum())} of {len(gaps)} seeds"
    return Ablation(pd.DataFrame(rows).set_index("ARWP, damping"), float(gaps.mean()), two_sided, favour)


def chapter_claims(cfg, experiment: Experiment, regime: Regime, flat: Flatness, scale: str) -> Claims:
    """Every claim of the m-ARWP paper the chapter tests, with its verdict from :mod:`reprobook.claims`.

    The same rules as the RWP chapter: superiority by a one-sided paired t-test over the seeds, parity
    with SAM by non-inferiority with the profile's margin, flatness on the scale-invariant sharpness, a
    claim about the converged regime *not comparable* on a run that had not converged, and Holm's
    adjustment over the chapter's tests. Whether the enhanced methods save time is for the step-cost
    chapter; "particularly in large-scale problems" is outside this book's profiles.
    """
    acc = {m: experiment.values(m, "test_acc") for m in cfg.methods}
    loss = {m: experiment.values(m, "fit_loss") for m in ("prwp", "mrwp")}
    a = cfg.alpha_level
    raw = {name: claims.superiority(acc[x], acc[y], alpha=a) for name, (x, y, _) in COMPARISONS.items()
           if name not in ("mix_adaptive", "vs_sam")}
    raw["vs_sam"] = claims.non_inferiority(acc["marwp"], acc["sam"], margin=cfg.parity_margin, alpha=a)
    # mixing speeds up convergence: the training loss at the final weights is lower with mixing
    raw["converge"] = claims.superiority(loss["prwp"], loss["mrwp"], alpha=a)
    raw["flatter"] = claims.superiority(flat.sharpness["sgd"], flat.sharpness["marwp"], alpha=a)
    tested = claims.holm(raw, alpha=a)
    # generalisation and flatness are claims about the converged regime; the convergence claim is not
    verdicts = {k: v if k == "converge" else claims.requires_convergence(v, regime.converged, regime.detail)
                for k, v in tested.items()}
    verdicts["large_scale"] = claims.not_comparable("large-scale problems (ImageNet) are outside every profile of this book")
    v = verdicts
    gap = lambda k, x, y: f"{experiment.labels[x]} − {experiment.labels[y]} test accuracy {v[k].estimate:+.2%}{p_text(v[k])}"  # noqa: E731
    rows = [
        dict(claim="Mixing in the clean gradient improves RWP (m-RWP vs the perturbed-only RWP; σ constant vs growing)",
             paper=paper.PAPER_CLAIMS["tradeoff"], this_run=gap("mix", "mrwp", "prwp"), verdict=v["mix"]),
        dict(claim="Mixing speeds up convergence (a lower training loss than the perturbed-only RWP)",
             paper=paper.PAPER_CLAIMS["tradeoff"],
             this_run=(f"training loss at w: RWP (perturbed only) {np.mean(loss['prwp']):.4f}, m-RWP "
                       f"{np.mean(loss['mrwp']):.4f}{p_text(v['converge'])}"), verdict=v["converge"]),
        dict(claim="Adaptivity improves RWP (ARWP vs the perturbed-only RWP, both with the growing σ)",
             paper=paper.PAPER_CLAIMS["generation"], this_run=gap("adapt", "arwp", "prwp"), verdict=v["adapt"]),
        dict(claim="Adaptivity improves m-RWP (m-ARWP vs m-RWP)", paper=paper.PAPER_CLAIMS["generation"],
             this_run=gap("adapt_mixed", "marwp", "mrwp"), verdict=v["adapt_mixed"]),
        dict(claim="m-ARWP generalises better than plain training (SGD)", paper=paper.PAPER_CLAIMS["efficiency"],
             this_run=gap("over_sgd", "marwp", "sgd"), verdict=v["over_sgd"]),
        dict(claim=f"m-ARWP is comparable to or better than SAM (within {cfg.parity_margin:.1%} test accuracy)",
             paper=paper.PAPER_CLAIMS["parity"], this_run=gap("vs_sam", "marwp", "sam"), verdict=v["vs_sam"]),
        dict(claim="m-ARWP reaches flatter minima than SGD", paper="RWP methods seek flat minima (abstract)",
             this_run=(f"filter-normalised sharpness SGD {np.mean(flat.sharpness['sgd']):.3f}, m-ARWP "
                       f"{np.mean(flat.sharpness['marwp']):.3f}{p_text(v['flatter'])}; λ_max SGD "
                       f"{np.nanmean(flat.lambda_max['sgd']):.1f}, m-ARWP {np.nanmean(flat.lambda_max['marwp']):.1f} "
                       "(not scale-invariant, not tested)"), verdict=v["flatter"]),
        dict(claim="Greater efficiency than SAM, particularly in large-scale problems",
             paper=paper.PAPER_CLAIMS["efficiency"], this_run="not run (the cost of a step: the step-cost chapter)",
             verdict=v["large_scale"]),
    ]
    for row in rows:
        row.update(source=paper.SOURCE, scale=scale)
    n = len(experiment.seeds)
    return Claims(rows, verdicts, raw["mix"].rule, raw["vs_sam"].rule, 100 * cfg.parity_margin, len(tested), a,
                  f"{n} seeds (each seed: one initialisation and one order of the batches, shared by every method)")


def paper_settings(cfg) -> str:
    """The paper profile's settings in words (they follow the official CIFAR-100 scripts)."""
    return (f"{cfg.dataset}, {cfg.model}, batch {cfg.batch_size}, learning rate {cfg.lr:g} with a cosine schedule, "
            f"momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}, {cfg.epochs} epochs, σ = {cfg.sigma:g}, "
            f"λ = {cfg.lam:g}, η = {cfg.eta:g}, β = {cfg.beta:g}, ARWP's σ from {cfg.arwp_sigma_start:g} to "
            f"{cfg.arwp_sigma_end:g}, {cfg.n_seeds} seeds ({paper.CODE_SOURCE})")
