"""Explained in `notebooks/alignment/baichuan2.ipynb`: Baichuan 2's scaling-law prediction of a larger run's loss.

Before training its 7B and 13B models, Baichuan 2 trained seven models from 10M to 3B parameters and
fitted the final loss against training compute C,

    L_C = a · C^b + L_∞,                                                          (paper, Eq. 2)

with SciPy's ``curve_fit`` (b < 0; L_∞ the irreducible loss), then read the large models' losses off the
extrapolated curve. At the scale of a CPU, growing the model is a poor stand-in: tiny models are all
output layer, and at a fixed number of tokens the larger ones see less than a token per parameter, so the
law bends for reasons the paper's runs never met. The chapter grows the compute **along the data** at a
fixed model instead (C = 6·N·D with N fixed): runs at fractions of a token budget, each with its own
cosine schedule, fit Eq. 2 (:func:`fit_power_law`); :func:`predict` extrapolates it to twice the budget
(with a delta-method interval from the fit's covariance) and :func:`record_prediction` writes the number
down *before* that run is trained. The chapter's experiment (the runs, the test of the prediction against
the losses reached) is :mod:`reprobook.chapters.baichuan2.prediction`.

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

import numpy as np
from scipy.optimize import curve_fit

from ..checks import ParameterError, check_number
from ..results import atomic_write_text


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
        grad = np.array([x**self.b, self.a * x**self.b * math.log(x), 1.0])
        var = float(grad @ np.asarray(self.covariance) @ grad)
        se = math.sqrt(var) if var >= 0 and math.isfinite(var) else float("nan")
        centre = float(self(compute))
        return centre - level_sigmas * se, centre + level_sigmas * se


def fit_power_law(compute: Sequence[float], loss: Sequence[float]) -> PowerLawFit:
    """Least-squares fit of Eq. 2 with ``scipy.optimize.curve_fit`` (bounded: a > 0, −3 ≤ b < 0,
    0 ≤ L_∞ ≤ the smallest loss). Every (compute, loss) pair is one point (give each seed's loss)."""
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
    params, cov = curve_fit(
        lambda x, a, b, lam: power_law(x, a, b, lam, c0),
        c,
        y,
        p0=p0,
        bounds=([1e-12, -3.0, 0.0], [np.inf, -1e-6, floor]),
        maxfev=20000,
    )
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
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return Prediction(float(compute), float(fit(compute)), low, high, fit, tuple(fitted_sizes), now)


def record_prediction(prediction: Prediction, path: Path) -> Prediction:
    """Write ``prediction`` to ``path`` (JSON) unless a prediction for the same fit is already there; return
    the recorded one (the earliest: a re-run that loads its models from the cache keeps the first record)."""
    path = Path(path)
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            if math.isclose(old["loss"], prediction.loss, rel_tol=1e-9) and old["compute"] == prediction.compute:
                return Prediction(
                    **{
                        **old,
                        "fit": PowerLawFit(
                            **{**old["fit"], "covariance": tuple(tuple(r) for r in old["fit"]["covariance"])}
                        ),
                        "fitted_sizes": tuple(old["fitted_sizes"]),
                    }
                )
        except (OSError, ValueError, KeyError, TypeError):
            pass
    atomic_write_text(path, json.dumps(prediction.to_dict(), indent=1) + "\n")
    return prediction


# --------------------------------------------------------------------------------------------- the experiment
