"""Explained in `notebooks/alignment/baichuan2.ipynb`: Baichuan 2's scaling-law prediction of a larger run's loss.

Before training its 7B and 13B models, Baichuan 2 trained seven models from 10M to 3B parameters on the
same number of tokens and fitted the final loss against training compute C,

    L_C = a · C^b + L_∞,                                                          (paper, Eq. 2)

with SciPy's ``curve_fit`` (b < 0; L_∞ the irreducible loss), then read the large models' losses off the
extrapolated curve. This module does the same at small scale: :func:`fit_power_law` fits Eq. 2 to the
smaller models, :func:`predict` extrapolates it (with a delta-method interval from the fit's covariance)
and :func:`record_prediction` writes the number down *before* the largest model is trained;
:func:`prediction_verdict` compares the prediction with the losses that model then reaches.

Compute is C = 6·N·D (Kaplan et al., 2020): N the parameters taking part in a matrix product per token
(every parameter except the input-embedding table, which is a lookup), D the training tokens; the
attention's sequence-length term is left out, as in the paper's formula.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import ParameterError, check_number
from ..claims import Verdict, mean_std
from ..results import glued


def training_compute(parameters: int, tokens: int) -> float:
    """C = 6·N·D floating-point operations (forward and backward pass)."""
    return 6.0 * parameters * tokens


def power_law(compute, a, b, l_inf, c0=1.0):
    """Eq. 2: L(C) = a · (C / c0)^b + L_∞ (``c0`` only rescales ``a``: it keeps the fit well conditioned)."""
    return a * np.power(np.asarray(compute, dtype=float) / c0, b) + l_inf


@dataclass(frozen=True)
class PowerLawFit:
    """The fitted a, b, L_∞ of Eq. 2 (``a`` in loss units at C = ``c0``) and their covariance."""

    a: float
    b: float
    l_inf: float
    c0: float
    covariance: tuple[tuple[float, ...], ...]
    points: int

    def __call__(self, compute):
        return power_law(compute, self.a, self.b, self.l_inf, self.c0)

    def interval(self, compute: float, level_sigmas: float = 1.0) -> tuple[float, float]:
        """L(C) ± ``level_sigmas`` standard errors by the delta method: ∇ᵀ Σ ∇ with ∇ the gradient of
        Eq. 2 in (a, b, L_∞) and Σ the fit's covariance (NaN when the fit has no covariance)."""
        x = compute / self.c0
        grad = np.array([x ** self.b, self.a * x ** self.b * math.log(x), 1.0])
        var = float(grad @ np.asarray(self.covariance) @ grad)
        se = math.sqrt(var) if var >= 0 and math.isfinite(var) else float("nan")
        centre = float(self(compute))
        return centre - level_sigmas * se, centre + level_sigmas * se


def fit_power_law(compute: Sequence[float], loss: Sequence[float]) -> PowerLawFit:
    """Least-squares fit of Eq. 2 with ``scipy.optimize.curve_fit`` (bounded: a > 0, −3 ≤ b < 0,
    0 ≤ L_∞ ≤ the smallest loss). Every (compute, loss) pair is one point (give each seed's loss)."""
    from scipy.optimize import curve_fit

    c = np.asarray(compute, dtype=float)
    y = np.asarray(loss, dtype=float)
    if c.shape != y.shape or c.ndim != 1:
        raise ParameterError("loss", f"{y.shape}", f"one loss per compute value ({c.shape})")
    if len(np.unique(c)) < 3:
        raise ParameterError("compute", c.tolist(), "at least 3 distinct compute values (Eq. 2 has 3 parameters)")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(y)) and np.all(c > 0)):
        raise ParameterError("compute", c.tolist(), "positive, finite compute and finite losses")
    c0 = float(c.min())
    floor = float(y.min())
    p0 = (max(float(y.max() - floor), 1e-3), -0.3, max(floor - 0.5 * float(y.max() - floor), 0.0))
    params, cov = curve_fit(lambda x, a, b, l: power_law(x, a, b, l, c0), c, y, p0=p0,
                            bounds=([1e-12, -3.0, 0.0], [np.inf, -1e-6, floor]), maxfev=20000)
    a, b, l_inf = (float(v) for v in params)
    return PowerLawFit(a, b, l_inf, c0, tuple(tuple(float(v) for v in row) for row in np.atleast_2d(cov)), len(c))


@dataclass(frozen=True)
class Prediction:
    """The extrapolated loss of the largest model, written down before it is trained."""

    compute: float
    loss: float
    low: float  # ±1 standard error of the fit (delta method)
    high: float
    fit: PowerLawFit
    fitted_sizes: tuple[str, ...]
    recorded_at: str

    def to_dict(self) -> dict:
        return asdict(self)


def predict(fit: PowerLawFit, compute: float, fitted_sizes: Sequence[str]) -> Prediction:
    """The fit's loss at ``compute`` with its ±1 s.e. interval, time-stamped now (UTC)."""
    check_number("compute", compute, low=0.0, low_inclusive=False)
    low, high = fit.interval(compute)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    return Prediction(float(compute), float(fit(compute)), low, high, fit, tuple(fitted_sizes), now)


def record_prediction(prediction: Prediction, path: Path) -> Prediction:
    """Write ``prediction`` to ``path`` (JSON) unless a prediction for the same fit is already there; return
    the recorded one (the earliest: a re-run that loads its models from the cache keeps the first record)."""
    from ..results import atomic_write_text

    path = Path(path)
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            if math.isclose(old["loss"], prediction.loss, rel_tol=1e-9) and old["compute"] == prediction.compute:
                return Prediction(**{**old, "fit": PowerLawFit(**{**old["fit"], "covariance": tuple(
                    tuple(r) for r in old["fit"]["covariance"])}), "fitted_sizes": tuple(old["fitted_sizes"])})
        except (OSError, ValueError, KeyError, TypeError):
            pass
    atomic_write_text(path, json.dumps(prediction.to_dict(), indent=1) + "\n")
    return prediction


def pooled_seed_sd(losses_by_size: Sequence[Sequence[float]]) -> float:
    """The pooled standard deviation between seeds: √(Σ (nᵢ − 1) sᵢ² / Σ (nᵢ − 1)) over the sizes that
    have at least two seeds (NaN when none has)."""
    num = den = 0.0
    for losses in losses_by_size:
        if len(losses) >= 2:
            _, sd = mean_std(losses)
            num += (len(losses) - 1) * sd ** 2
            den += len(losses) - 1
    return math.sqrt(num / den) if den else float("nan")


PREDICTION_RULE = ("the prediction is reproduced when the error |mean observed loss − predicted loss| is at most {k:g} "
                   "pooled seed standard deviations and smaller than the error of the no-scaling guess (the "
                   "next-smaller model's mean loss); partly when only one of the two holds; not reproduced when "
                   "neither does")


def prediction_verdict(predicted: float, observed: Sequence[float], *, seed_sd: float, no_scaling_guess: float,
                       k: float = 2.0, covers: str = "") -> Verdict:
    """Baichuan 2's claim "the scaling law predicts the large model's final loss", judged on this run.

    ``observed``: the largest model's final loss per seed; ``seed_sd``: :func:`pooled_seed_sd`;
    ``no_scaling_guess``: the loss one would predict without the law (the next-smaller model's).
    """
    check_number("k", k, low=0.0, low_inclusive=False)
    rule = PREDICTION_RULE.format(k=k)
    observed = [float(v) for v in observed]
    if not observed or not all(math.isfinite(v) for v in observed):
        return Verdict("not comparable", rule=rule, reason="the largest model has no finite final loss",
                       kind="prediction", covers=covers)
    if not math.isfinite(seed_sd) or seed_sd <= 0:
        return Verdict("not comparable", rule=rule, reason="no seed spread (fewer than two seeds per size)",
                       kind="prediction", covers=covers)
    mean = sum(observed) / len(observed)
    error = mean - predicted
    tolerance = k * seed_sd
    baseline = abs(mean - no_scaling_guess)
    within, informative = abs(error) <= tolerance, abs(error) < baseline
    verdict = "reproduced" if within and informative else "partly" if within or informative else "not reproduced"
    return Verdict(verdict, rule=rule, estimate=error, low=-tolerance, high=tolerance, n=len(observed),
                   covers=covers, kind="prediction")


# --------------------------------------------------------------------------------------------- the experiment
@dataclass
class SizeRuns:
    """One model size trained with every seed on the same tokens."""

    size: Any  # pretraining.ModelSize
    parameters: dict
    compute: float
    records: list
    loaded: list

    @property
    def losses(self) -> list[float]:
        return [r.final_val_loss for r in self.records]

    @property
    def mean_loss(self) -> float:
        return sum(self.losses) / len(self.losses)

    @property
    def tokens_per_second(self) -> float:
        return sum(r.tokens_per_second for r in self.records) / len(self.records)


def train_sizes(data, sizes: Sequence[Any], settings, seeds: Sequence[int], *, lr_of=None,
                device: Any = "auto") -> list[SizeRuns]:
    """Train every size with every seed on ``data`` with the same ``settings`` (hence the same tokens);
    ``lr_of(size)``, if given, sets each size's peak learning rate."""
    from dataclasses import replace

    from .pretraining import ModelSize, train_cached

    out = []
    for size in map(ModelSize.parse, sizes):
        records, loaded = [], []
        run_settings = settings if lr_of is None else replace(settings, lr=lr_of(size))
        for seed in seeds:
            record, was_loaded = train_cached(size, data.vocab_size, data.train_blocks, data.val_blocks, run_settings,
                                              seed=seed, device=device, data_key=data.key)
            records.append(record)
            loaded.append(was_loaded)
        params = records[0].parameters
        out.append(SizeRuns(size, params, training_compute(params["compute"], settings.tokens), records, loaded))
    return out


@dataclass
class ScalingPrediction:
    """The fit of Eq. 2 to the smaller models and its extrapolation to the largest, before training it."""

    prediction: Prediction
    target: str = glued()  # the largest size's name
    target_parameters: int = glued(",")
    target_compute: float = glued(".3g")
    loss: float = glued(".3f")
    low: float = glued(".3f")
    high: float = glued(".3f")
    a: float = glued(".3f")
    b: float = glued(".3f")
    l_inf: float = glued(".3f")
    fitted: str = glued()  # the sizes the fit used
    points: int = glued()
    recorded_at: str = glued()
    extrapolation: float = glued(".1f")  # the target's compute over the largest fitted compute


def prediction_path(inputs: dict) -> Path:
    """Where the prediction made from ``inputs`` (what the fit saw, and the target) is recorded:
    ``<cache>/predictions/scaling-<hash of inputs>.json``."""
    from ..paths import cache_dir
    from ..training import config_hash

    return cache_dir() / "predictions" / f"scaling-{config_hash(inputs)}.json"


def predict_largest(small: Sequence[SizeRuns], largest: Any, vocab_size: int, settings,
                    path: Path | None = None) -> ScalingPrediction:
    """Fit Eq. 2 to every seed's final loss of the ``small`` sizes, extrapolate to the compute of
    ``largest`` (counted on a freshly built model: nothing of it is trained) and record the prediction
    (at ``path``; default :func:`prediction_path` of the fit's inputs) before anything else happens."""
    from .pretraining import ModelSize, build_model, parameter_counts

    largest = ModelSize.parse(largest)
    compute = [s.compute for s in small for _ in s.losses]
    losses = [v for s in small for v in s.losses]
    fit = fit_power_law(compute, losses)
    params = parameter_counts(build_model(largest, vocab_size, normhead=settings.normhead, seed=0,
                                          max_positions=max(settings.seq_len, 16)))
    target = training_compute(params["compute"], settings.tokens)
    if path is None:
        path = prediction_path({"compute": compute, "losses": losses, "target": largest.name, "target_compute": target})
    prediction = record_prediction(predict(fit, target, [s.size.name for s in small]), path)
    return ScalingPrediction(prediction, largest.name, params["compute"], target, prediction.loss, prediction.low,
                             prediction.high, fit.a, fit.b, fit.l_inf, ", ".join(prediction.fitted_sizes), fit.points,
                             prediction.recorded_at, target / max(compute))


@dataclass
class ScalingCheck:
    """The largest model's observed loss against the prediction, and the figure of the law."""

    table: Any  # DataFrame per size: parameters, compute, loss per seed, mean, tokens/s
    verdict: Verdict
    fig: Any = glued()
    tokens_per_second_smallest: float = glued(",.0f")
    tokens_per_second_largest: float = glued(",.0f")
    observed: float = glued(".3f")
    error: float = glued("+.3f")
    seed_sd: float = glued(".3f")
    tolerance: float = glued(".3f")
    no_scaling_error: float = glued("+.3f")
    relative_error: float = glued(".2%")
    sizes: int = glued()
    seeds: int = glued()
    tokens: int = glued(",")
    loaded: int = glued()  # runs that came from the cache
    verdict_word: str = glued()
    tokens_per_parameter_fitted: float = glued(".2f")  # training tokens per (compute) parameter, largest fitted size
    tokens_per_parameter_target: float = glued(".2f")  # ... and the predicted size
    prediction_first: bool = False  # the prediction's time stamp precedes the start of every run of the predicted size
    prediction_first_detail: str = ""


def check_prediction(pred: ScalingPrediction, small: Sequence[SizeRuns], largest: SizeRuns, *, k: float,
                     tokens: int) -> ScalingCheck:
    """Compare the recorded prediction with ``largest``'s final losses (:func:`prediction_verdict`)."""
    import pandas as pd

    everything = list(small) + [largest]
    sd = pooled_seed_sd([s.losses for s in everything])
    seeds = len(largest.losses)
    covers = f"{seeds} seeds per size, seed spread pooled over {len(everything)} sizes"
    verdict = prediction_verdict(pred.loss, largest.losses, seed_sd=sd, no_scaling_guess=small[-1].mean_loss, k=k,
                                 covers=covers)
    table = pd.DataFrame([{"size": s.size.name, "parameters (compute)": s.parameters["compute"],
                           "non-embedding parameters": s.parameters["non_embedding"], "compute C (FLOPs)": s.compute,
                           **{f"loss, seed {i}": v for i, v in enumerate(s.losses)}, "mean loss": s.mean_loss,
                           "used for": "prediction target" if s is largest else "fit",
                           "tokens/s": s.tokens_per_second} for s in everything])
    observed = largest.mean_loss
    starts = [r.started_at for r in largest.records]
    first = bool(starts) and all(t and pred.recorded_at <= t for t in starts)
    detail = f"prediction recorded at {pred.recorded_at}; runs of {pred.target} started at {', '.join(starts)}"
    return ScalingCheck(prediction_first=first, prediction_first_detail=detail,table=table, verdict=verdict, fig=_scaling_figure(pred, small, largest),
                        tokens_per_second_smallest=small[0].tokens_per_second,
                        tokens_per_second_largest=largest.tokens_per_second, observed=observed,
                        error=observed - pred.loss, seed_sd=sd, tolerance=k * sd,
                        no_scaling_error=observed - small[-1].mean_loss,
                        relative_error=abs(observed - pred.loss) / observed, sizes=len(everything), seeds=seeds,
                        tokens=tokens, loaded=sum(sum(s.loaded) for s in everything), verdict_word=str(verdict),
                        tokens_per_parameter_fitted=tokens / small[-1].parameters["compute"],
                        tokens_per_parameter_target=tokens / largest.parameters["compute"])


def _scaling_figure(pred: ScalingPrediction, small: Sequence[SizeRuns], largest: SizeRuns):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    fit = pred.prediction.fit
    c_small = [s.compute for s in small]
    grid = np.geomspace(min(c_small) / 1.2, largest.compute * 1.3, 200)
    ax.plot(grid, fit(grid), "-", color="C0", lw=1.2,
            label=f"fit: L = {fit.a:.2f}·(C/C₀)^{fit.b:.2f} + {fit.l_inf:.2f}")
    for s in small:
        ax.plot([s.compute] * len(s.losses), s.losses, ".", color="C0", alpha=0.5)
    ax.plot(c_small, [s.mean_loss for s in small], "o", color="C0", label="smaller models (fitted; mean and seeds)")
    ax.errorbar([pred.target_compute], [pred.loss], yerr=[[pred.loss - pred.low], [pred.high - pred.loss]],
                fmt="*", color="C3", ms=12, capsize=3, label="prediction (recorded before training; ±1 s.e.)")
    ax.plot([largest.compute] * len(largest.losses), largest.losses, ".", color="C2", alpha=0.6)
    ax.plot([largest.compute], [largest.mean_loss], "D", color="C2", mfc="none", ms=8,
            label=f"{largest.size.name}: observed (mean and seeds)")
    ax.set(xscale="log", xlabel="training compute C = 6ND (FLOPs)", ylabel="final validation loss (nats)")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
