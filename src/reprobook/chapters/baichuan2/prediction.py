"""Explained in `notebooks/alignment/baichuan2.ipynb`: the chapter's test of a scaling-law prediction.

The law and its extrapolation are :mod:`reprobook.alignment.scaling` (paper, Eq. 2). Here the chapter's
experiment: :func:`train_budgets` trains one model size at fractions of a token budget (one cosine schedule
per run), :func:`predict_target` fits the law to the fitted budgets and writes the prediction of the target
budget down *before* that run is trained (:func:`~reprobook.alignment.scaling.record_prediction`), and
:func:`check_prediction` compares it with the losses reached (:func:`prediction_test`: the prediction's
error against the seed-to-seed spread and the fit's own uncertainty).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...alignment.pretraining import ModelSize, train_runs
from ...alignment.scaling import Prediction, fit_power_law, predict, record_prediction, training_compute
from ...checks import ParameterError, check_number
from ...claims import mean_std
from ...paths import cache_dir
from ...results import facts, glued
from ...training import config_hash


def pooled_seed_sd(losses_by_size: Sequence[Sequence[float]]) -> float:
    """The pooled standard deviation between seeds: √(Σ (nᵢ − 1) sᵢ² / Σ (nᵢ − 1)) over the sizes that
    have at least two seeds (NaN when none has)."""
    num = den = 0.0
    for losses in losses_by_size:
        if len(losses) >= 2:
            _, sd = mean_std(losses)
            num += (len(losses) - 1) * sd**2
            den += len(losses) - 1
    return math.sqrt(num / den) if den else float("nan")


def prediction_test(
    predicted: float, fit_se: float, observed: Sequence[float], *, seed_sd: float, margin: float, alpha: float = 0.025
) -> dict[str, Any]:
    """The prediction against the observed losses as an equivalence test (two one-sided z-tests).

    The error is e = mean(observed) − predicted; its standard error combines the fit's (delta method) and
    the seeds': se = √(se_fit² + sd²/n). The prediction holds when both one-sided tests reject |e| ≥
    ``margin``: p = max(P(Z ≥ (e + margin)/se), P(Z ≤ (e − margin)/se)). Returns the arguments of
    :func:`reprobook.claims.from_test` (estimate, 95 % interval, p, n, rule, kind, design, bounds) and ``se``.
    """
    check_number("margin", margin, low=0.0, low_inclusive=False)
    observed = [float(v) for v in observed]
    n = len(observed)
    mean = float(np.mean(observed)) if observed else float("nan")
    se = math.sqrt(fit_se**2 + (seed_sd**2) / max(n, 1))
    error = mean - predicted
    p = (
        max(float(stats.norm.sf((error + margin) / se)), float(stats.norm.cdf((error - margin) / se)))
        if se > 0 and math.isfinite(se)
        else float("nan")
    )

    def design(level: float):
        zl = float(stats.norm.ppf(1 - level))
        power = max(0.0, 1 - 2 * float(stats.norm.sf(margin / se - zl)))
        return power, None, se * (zl + float(stats.norm.ppf(0.9)))

    rule = (
        f"equivalence of the observed mean loss and the prediction: two one-sided z-tests of |error| < "
        f"{margin:g} nats at α = {alpha:g}, the standard error from the fit (delta method) and the seeds"
    )

    def bounds(a: float) -> tuple[float, float]:  # the normal interval at 1 − 2a
        za = float(stats.norm.ppf(1 - a))
        return error - za * se, error + za * se

    low, high = bounds(alpha)
    return dict(
        estimate=error,
        low=low,
        high=high,
        p=p,
        n=n,
        rule=rule,
        kind="equivalence",
        design=design,
        bounds=bounds,
        se=se,
    )


@dataclass
class BudgetRuns:
    """One token budget (a fraction of the reference budget) trained with every seed."""

    fraction: float
    steps: int
    tokens: int
    parameters: dict
    compute: float
    records: list  # the History of each seed's run
    loaded: list

    @property
    def label(self) -> str:
        return f"{self.fraction:g}×"

    @property
    def losses(self) -> list[float]:
        return [r.final_eval_loss for r in self.records]

    @property
    def mean_loss(self) -> float:
        return sum(self.losses) / len(self.losses)

    @property
    def tokens_per_second(self) -> float:
        return sum(r.tokens_per_second for r in self.records) / len(self.records)


def train_budgets(
    data,
    size: Any,
    settings,
    fractions: Sequence[float],
    seeds: Sequence[int],
    *,
    device: Any = "auto",
    threads: int | None = None,
) -> list[BudgetRuns]:
    """Train ``size`` with every seed for each fraction of ``settings.steps`` (its own warm-up and cosine
    schedule over its own steps; on ``threads`` intra-op threads, None: the run's); the tokens are drawn without
    repetition from ``data``."""
    size = ModelSize.parse(size)
    budgets = []
    for fraction in fractions:
        run_settings = replace(settings, steps=max(1, int(round(fraction * settings.steps))))
        if run_settings.steps * run_settings.batch_size > len(data.train_blocks):
            raise ParameterError(
                "fractions",
                fraction,
                f"at most {len(data.train_blocks) / settings.batch_size / settings.steps:g} "
                "(the training blocks would repeat)",
            )
        budgets.append((fraction, run_settings))
    # side by side where they can be (train_runs), then read in order
    runs = [(s, seed) for _, s in budgets for seed in seeds]
    done = train_runs(data, size, runs, device=device, threads=threads)
    out = []
    for fraction, run_settings in budgets:
        pairs = [next(done) for _ in seeds]
        records, loaded = [record for record, _ in pairs], [was for _, was in pairs]
        params = records[0].parameters
        out.append(
            BudgetRuns(
                float(fraction),
                run_settings.steps,
                run_settings.tokens,
                params,
                training_compute(params["compute"], run_settings.tokens),
                records,
                loaded,
            )
        )
    return out


@dataclass
class ScalingPrediction:
    """The fit of Eq. 2 to the smaller budgets and its extrapolation to the largest, before training it."""

    prediction: Prediction
    fit_se: float  # the fit's standard error at the target (delta method)
    # target: the target budget, e.g. "2×", target_tokens, target_compute, parameters; the prediction's loss,
    # low, high (±1 s.e.); the fit's a, b, l_inf; fitted: the budgets the fit used, points; recorded_at;
    # extrapolation: the target's compute over the largest fitted compute
    facts: pd.Series = glued()


PREDICTION_FORMATS = {
    "target_tokens": ",",
    "target_compute": ".3g",
    "parameters": ",",
    **dict.fromkeys(("loss", "low", "high", "a", "b", "l_inf"), ".3f"),
    "extrapolation": ".1f",
}


def prediction_path(inputs: dict) -> Path:
    """Where the prediction made from ``inputs`` (what the fit saw, and the target) is recorded:
    ``<cache>/predictions/scaling-<hash of inputs>.json``."""
    return cache_dir() / "predictions" / f"scaling-{config_hash(inputs)}.json"


def predict_target(
    fitted: Sequence[BudgetRuns], target_fraction: float, settings, path: Path | None = None
) -> ScalingPrediction:
    """Fit Eq. 2 to every seed's final loss of the ``fitted`` budgets, extrapolate to the compute of
    ``target_fraction`` of the budget (the same model) and record the prediction (at ``path``; default
    :func:`prediction_path` of the fit's inputs) before anything else happens."""
    compute = [s.compute for s in fitted for _ in s.losses]
    losses = [v for s in fitted for v in s.losses]
    fit = fit_power_law(compute, losses)
    params = fitted[0].parameters["compute"]
    tokens = max(1, int(round(target_fraction * settings.steps))) * settings.batch_size * settings.seq_len
    target = training_compute(params, tokens)
    if path is None:
        path = prediction_path({"compute": compute, "losses": losses, "target_compute": target})
    prediction = record_prediction(predict(fit, target, [s.label for s in fitted]), path)
    se = (prediction.high - prediction.low) / 2
    return ScalingPrediction(
        prediction,
        se,
        facts(
            PREDICTION_FORMATS,
            target=f"{target_fraction:g}×",
            target_tokens=tokens,
            target_compute=target,
            parameters=params,
            loss=prediction.loss,
            low=prediction.low,
            high=prediction.high,
            a=fit.a,
            b=fit.b,
            l_inf=fit.l_inf,
            fitted=", ".join(prediction.fitted_sizes),
            points=fit.points,
            recorded_at=prediction.recorded_at,
            extrapolation=target / max(compute),
        ),
    )


@dataclass
class ScalingCheck:
    """The target budget's observed loss against the recorded prediction, and the figure of the law."""

    table: Any  # DataFrame per budget: tokens, compute, loss per seed, mean, tokens/s
    test: dict  # prediction_test's result (the arguments of claims.from_test)
    fig: Any = glued()
    # observed (the target's mean loss), error (observed − predicted), seed_sd, se, no_scaling_error (the target's
    # loss − the largest fitted budget's); budgets, seeds, loaded (runs that came from the cache);
    # tokens_per_parameter_target: training tokens per (compute) parameter of the target run
    facts: pd.Series = glued()
    prediction_first: bool = False  # the prediction was recorded before every target run began training
    prediction_first_detail: str = ""


def check_prediction(
    pred: ScalingPrediction, fitted: Sequence[BudgetRuns], target: BudgetRuns, *, margin: float
) -> ScalingCheck:
    """Compare the recorded prediction with ``target``'s final losses (:func:`prediction_test`)."""
    everything = list(fitted) + [target]
    sd = pooled_seed_sd([s.losses for s in everything])
    test = prediction_test(pred.prediction.loss, pred.fit_se, target.losses, seed_sd=sd, margin=margin)
    table = pd.DataFrame(
        [
            {
                "budget": s.label,
                "steps": s.steps,
                "tokens": s.tokens,
                "compute C (FLOPs)": s.compute,
                **{f"loss, seed {i}": v for i, v in enumerate(s.losses)},
                "mean loss": s.mean_loss,
                "used for": "prediction target" if s is target else "fit",
                "tokens/s": s.tokens_per_second,
            }
            for s in everything
        ]
    )
    starts = [r.started_at for r in target.records]  # when each run's training began (History.started_at)
    first = bool(starts) and all(t and pred.prediction.recorded_at <= t for t in starts)
    shown = lambda t: t.replace("T", " ").replace("+00:00", " UTC")  # noqa: E731 - wraps in a table cell
    detail = (
        f"prediction recorded at {shown(pred.prediction.recorded_at)}; runs of the {pred.facts.target} budget "
        "began training at "
        f"{', '.join(shown(t) for t in starts)}"
    )
    return ScalingCheck(
        table=table,
        test=test,
        fig=_scaling_figure(pred, fitted, target),
        facts=facts(
            {
                "observed": ".3f",
                "error": "+.3f",
                "seed_sd": ".3f",
                "se": ".3f",
                "no_scaling_error": "+.3f",
                "tokens_per_parameter_target": ".1f",
            },
            observed=target.mean_loss,
            error=test["estimate"],
            seed_sd=sd,
            se=test["se"],
            no_scaling_error=target.mean_loss - fitted[-1].mean_loss,
            budgets=len(everything),
            seeds=len(target.losses),
            loaded=sum(sum(s.loaded) for s in everything),
            tokens_per_parameter_target=target.tokens / target.parameters["compute"],
        ),
        prediction_first=first,
        prediction_first_detail=detail,
    )


def _scaling_figure(pred: ScalingPrediction, fitted: Sequence[BudgetRuns], target: BudgetRuns):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    fit = pred.prediction.fit
    c_fit = [s.compute for s in fitted]
    grid = np.geomspace(min(c_fit) / 1.2, target.compute * 1.3, 200)
    ax.plot(
        grid, fit(grid), "-", color="C0", lw=1.2, label=f"fit: L = {fit.a:.2f}·(C/C₀)^{fit.b:.2f} + {fit.l_inf:.2f}"
    )
    for s in fitted:
        ax.plot([s.compute] * len(s.losses), s.losses, ".", color="C0", alpha=0.5)
    ax.plot(c_fit, [s.mean_loss for s in fitted], "o", color="C0", label="smaller budgets (fitted; mean and seeds)")
    p = pred.prediction
    ax.errorbar(
        [pred.facts.target_compute],
        [p.loss],
        yerr=[[p.loss - p.low], [p.high - p.loss]],
        fmt="*",
        color="C3",
        ms=12,
        capsize=3,
        label="prediction (recorded before training; ±1 s.e.)",
    )
    ax.plot([target.compute] * len(target.losses), target.losses, ".", color="C2", alpha=0.6)
    ax.plot(
        [target.compute],
        [target.mean_loss],
        "D",
        color="C2",
        mfc="none",
        ms=8,
        label=f"{target.label} budget: observed (mean and seeds)",
    )
    ax.set(xscale="log", xlabel="training compute C = 6ND (FLOPs), N fixed", ylabel="final validation loss (nats)")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
