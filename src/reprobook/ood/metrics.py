"""Score an OoD benchmark with a dict of detectors and tabulate FPR95, AUROC and AUPR with ``pytorch-ood``.

Explained in ``notebooks/ood/kpca.ipynb``. A thin layer over ``pytorch_ood.metrics.OODMetrics``: it
fits each detector on the benchmark's in-distribution (InD) training features, scores the InD test
set and every OoD set, and returns one tidy table, a row per (detector, OoD set) plus each
detector's ``average`` over the OoD sets.

Conventions (``pytorch-ood``'s, the only ones in the book): a detector returns *outlier scores*,
larger for inputs more likely OoD; OoD samples carry labels < 0. AUROC and AUPR-OUT take OoD as the
positive class, AUPR-IN the InD samples.

FPR95 needs a word: ``pytorch-ood``'s ``FPR95TPR`` is the fraction of InD samples flagged as OoD
when 95% of the OoD samples are flagged, whereas the OoD literature this book reproduces (the KNN,
ReAct and KPCA papers, whose official code thresholds at the 5th percentile of the InD scores)
reports the fraction of OoD samples *accepted* as InD when 95% of the InD samples are accepted.
``FPR95`` here is the literature's (``fpr_definition="id"``, the default), computed with
``pytorch-ood``'s ``FPRAtTPR`` on the roles swapped: InD as the positive class, scores negated.
``fpr_definition="ood"`` gives ``pytorch-ood``'s own.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from pytorch_ood.api import Detector, FeatureMapsDetector, FeaturesDetector, LogitsDetector
from pytorch_ood.metrics import FPRAtTPR, OODMetrics
from pytorch_ood.metrics import functional as F
from torch import Tensor

from ..checks import ParameterError, check_choice, check_int, check_seed
from ..timing import timed

METRICS: tuple[str, ...] = ("FPR95", "AUROC", "AUPR-IN", "AUPR-OUT")
FPR_DEFINITIONS: tuple[str, ...] = ("id", "ood")
AVERAGE = "average"


def _flat_scores(scores: Any, name: str) -> Tensor:
    if not isinstance(scores, Tensor):
        scores = torch.as_tensor(scores)
    scores = scores.detach().reshape(-1).to("cpu", torch.float64)
    if scores.numel() == 0 or not bool(torch.isfinite(scores).all()):
        raise ParameterError(name, f"{scores.numel()} scores", "a non-empty set of finite outlier scores")
    return scores


def ood_metrics(scores_in: Any, scores_out: Any, *, fpr_definition: str = "id") -> dict[str, float]:
    """FPR95, AUROC, AUPR-IN and AUPR-OUT of outlier scores of InD (``scores_in``) and OoD (``scores_out``) samples.

    Computed by ``pytorch_ood.metrics.OODMetrics`` (InD labelled 0, OoD −1). ``fpr_definition`` picks
    the FPR95: ``"id"`` (default) the fraction of OoD samples accepted at 95% InD acceptance, as in
    the papers; ``"ood"`` the fraction of InD samples flagged at 95% OoD detection (``pytorch-ood``).
    """
    check_choice("fpr_definition", fpr_definition, FPR_DEFINITIONS)
    s_in, s_out = _flat_scores(scores_in, "scores_in"), _flat_scores(scores_out, "scores_out")
    scores = torch.cat([s_in, s_out])
    # pytorch-ood: labels < 0 mark the OoD samples, the positive class
    labels = torch.cat([torch.zeros(len(s_in), dtype=torch.long), -torch.ones(len(s_out), dtype=torch.long)])
    metrics = OODMetrics()
    metrics.update(scores, labels)
    result = metrics.compute()
    out = {"AUROC": float(result["AUROC"]), "AUPR-IN": float(result["AUPR-IN"]), "AUPR-OUT": float(result["AUPR-OUT"])}
    if fpr_definition == "ood":
        out["FPR95"] = float(result["FPR95TPR"])
    else:
        # roles swapped: InD is the positive class (label −1), the score −s is larger for InD
        swapped = FPRAtTPR(0.95)
        swapped.update(-scores, torch.where(labels < 0, 0, -1))
        out["FPR95"] = float(swapped.compute()["FPR95TPR"])
    return {k: out[k] for k in METRICS}


def _chunks(x: Tensor, size: int):
    for i in range(0, x.shape[0], size):
        yield x[i : i + size]


@torch.no_grad()
def _score_tensor(method, x: Tensor, batch_size: int) -> Tensor:
    return torch.cat([method(chunk).detach().reshape(-1).to("cpu", torch.float64) for chunk in _chunks(x, batch_size)])


def fit_detector(detector: Detector, train: Any) -> Detector:
    """Fit ``detector`` on the InD training ``FeatureSet`` (features, logits, labels), by its representation.

    Features detectors get the penultimate features, logits detectors the logits, feature-map
    detectors (ReAct) the pooled penultimate features as 1 × 1 maps; detectors that need no fitting
    are left alone. A detector that must be fitted on inputs raises: fit it yourself.
    """
    if not detector.requires_fit:
        return detector
    if isinstance(detector, FeaturesDetector):
        return detector.fit_features(train.features, train.labels)
    if isinstance(detector, LogitsDetector):
        return detector.fit_logits(train.logits, train.labels)
    if isinstance(detector, FeatureMapsDetector):
        return detector.fit_feature_maps(train.features[:, :, None, None], train.labels)
    raise ParameterError(
        "detector",
        type(detector).__name__,
        "a detector that needs no fitting, or a features, logits or feature-map detector "
        "(fit other detectors before calling evaluate, with fit=False)",
    )


def detector_scores(detector: Detector, features: Any, loader: Any = None, *, batch_size: int = 4096) -> Tensor:
    """Outlier scores of one ``FeatureSet`` (float64, CPU), from the representation the detector consumes.

    Detectors on inputs (ODIN and other gradient detectors) need ``loader``, the loader of the same
    samples in the same order; their ``predict(x)`` runs on each batch.
    """
    if isinstance(detector, FeaturesDetector):
        return _score_tensor(detector.predict_features, features.features, batch_size)
    if isinstance(detector, LogitsDetector):
        return _score_tensor(detector.predict_logits, features.logits, batch_size)
    if isinstance(detector, FeatureMapsDetector):
        return _score_tensor(
            lambda z: detector.predict_feature_maps(z[:, :, None, None]), features.features, batch_size
        )
    if loader is None:
        raise ParameterError("loader", None, f"a DataLoader of the inputs: {type(detector).__name__} scores inputs")
    scores = [detector.predict(batch[0]).detach().reshape(-1).to("cpu", torch.float64) for batch in loader]
    return torch.cat(scores)


def evaluate(
    detectors: Mapping[str, Detector],
    benchmark: Any,
    *,
    fit: bool = True,
    fpr_definition: str = "id",
    batch_size: int = 4096,
    return_scores: bool = False,
):
    """One tidy table: FPR95, AUROC, AUPR-IN, AUPR-OUT per detector and OoD set, plus each detector's average.

    ``benchmark`` is an ``OODBenchmark`` (``train``, ``test``, ``ood`` feature sets and ``loader(name)``
    for detectors that score inputs). ``fit=True`` fits each detector on ``benchmark.train`` first.
    The table has columns ``detector``, ``ood_set`` (``"average"`` for the mean over the OoD sets) and
    the metrics, in the order of ``detectors`` and of ``benchmark.ood``; ``table.attrs["seconds"]``
    gives each detector's fitting and scoring time. ``return_scores=True`` returns ``(table, scores)``,
    ``scores[detector]["test" or OoD name]`` the outlier scores (for :func:`paired_bootstrap`, plots).
    """
    if not isinstance(detectors, Mapping) or not detectors:
        raise ParameterError("detectors", detectors, "a non-empty dict name → pytorch-ood Detector")
    for name, det in detectors.items():
        if not isinstance(det, Detector):
            raise ParameterError(f"detectors[{name!r}]", det, "a pytorch-ood Detector")
    if not getattr(benchmark, "ood", None):
        raise ParameterError("benchmark", benchmark, "an OODBenchmark with at least one OoD set")
    check_choice("fpr_definition", fpr_definition, FPR_DEFINITIONS)
    rows, seconds, all_scores = [], {}, {}
    for name, det in detectors.items():
        with timed() as t:
            if fit:
                fit_detector(det, benchmark.train)
            needs_inputs = not isinstance(det, (FeaturesDetector, LogitsDetector, FeatureMapsDetector))
            loader = (lambda set_name: benchmark.loader(set_name)) if needs_inputs else (lambda set_name: None)
            s_in = detector_scores(det, benchmark.test, loader("test"), batch_size=batch_size)
            all_scores[name] = {"test": s_in}
            per_set = []
            for ood_name, ood_set in benchmark.ood.items():
                s_out = detector_scores(det, ood_set, loader(ood_name), batch_size=batch_size)
                all_scores[name][ood_name] = s_out
                values = ood_metrics(s_in, s_out, fpr_definition=fpr_definition)
                per_set.append(values)
                rows.append({"detector": name, "ood_set": ood_name, **values})
            rows.append(
                {
                    "detector": name,
                    "ood_set": AVERAGE,
                    **{m: sum(v[m] for v in per_set) / len(per_set) for m in METRICS},
                }
            )
        seconds[name] = t.seconds
    table = pd.DataFrame(rows, columns=["detector", "ood_set", *METRICS])
    table.attrs["seconds"] = seconds
    table.attrs["fpr_definition"] = fpr_definition
    return (table, all_scores) if return_scores else table


def _check_scores_dict(scores: Any, name: str) -> dict[str, Tensor]:
    if not isinstance(scores, Mapping) or "test" not in scores or len(scores) < 2:
        raise ParameterError(
            name, type(scores).__name__, "a dict {'test': InD outlier scores, <OoD name>: OoD outlier scores, ...}"
        )
    return {k: _flat_scores(v, f"{name}[{k!r}]") for k, v in scores.items()}


def _metric_value(metric: str, fpr_definition: str, s_in: Tensor, s_out: Tensor) -> float:
    """One metric of InD and OoD outlier scores, by ``pytorch-ood``'s functional metrics (as in :func:`ood_metrics`)."""
    scores = torch.cat([s_in, s_out])
    labels = torch.cat([torch.zeros(len(s_in), dtype=torch.long), -torch.ones(len(s_out), dtype=torch.long)])
    if metric == "AUROC":
        return float(F.auroc(scores, labels))
    if metric in ("AUPR-IN", "AUPR-OUT"):
        return float(F.aupr(scores, labels, positive="id" if metric == "AUPR-IN" else "ood"))
    if fpr_definition == "ood":
        return float(F.fpr_at_tpr(scores, labels, 0.95))
    return float(F.fpr_at_tpr(-scores, torch.where(labels < 0, 0, -1), 0.95))  # InD as the positive class


# --------------------------------------------------------------------------------------------- the bootstrap
# A bootstrap round draws every set anew, with replacement: sample i of a set of n is drawn c_i times,
# (c_1, ..., c_n) ~ Multinomial(n; 1/n, ..., 1/n). A metric of the resampled scores is the same metric with
# each sample weighted by its count, so a round needs no copy of the scores: the scores are sorted once, and
# every round is a cumulative sum of its counts in that order (all rounds at once, as matrices).
ROUNDS_PER_CHUNK = 256  # rounds held in memory at once (a chunk of counts is rounds × set size)


def resample_counts(sizes: Mapping[str, int], n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """How often each sample is drawn in each of ``n_boot`` rounds: ``{set: n_boot × size counts}``.

    The counts of a set depend only on ``seed``, its name and its size (not on the other sets), so two
    detectors, or two classifiers, scored on the same samples are resampled together. Cached.
    """
    check_int("n_boot", n_boot, low=1)
    check_seed("seed", seed)
    for name, n in sizes.items():
        check_int(f"sizes[{name!r}]", n, low=1)
    return _resample_counts(tuple(sorted(sizes.items())), n_boot, seed)


@functools.lru_cache(maxsize=4)
def _resample_counts(sizes: tuple[tuple[str, int], ...], n_boot: int, seed: int) -> dict[str, np.ndarray]:
    out = {}
    for name, n in sizes:
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        draws = rng.integers(0, n, size=(n_boot, n))  # sample drawn at each of the n draws of each round
        flat = (draws + n * np.arange(n_boot)[:, None]).ravel()
        counts = np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)
        out[name] = counts.astype(np.uint16 if n < 2**16 else np.int64)
        out[name].setflags(write=False)
    return out


def _cumulative(weights: np.ndarray, order: np.ndarray) -> np.ndarray:
    """rounds × (n + 1): the summed weights of the first 0, 1, ..., n samples in ``order``."""
    out = np.zeros((weights.shape[0], weights.shape[1] + 1))
    np.cumsum(weights[:, order], axis=1, out=out[:, 1:])
    return out


def weighted_auroc(s_in: np.ndarray, s_out: np.ndarray, w_in: np.ndarray, w_out: np.ndarray) -> np.ndarray:
    """AUROC (OoD positive, larger score = more OoD) of every round of counts: ``w_in`` rounds × n_in, ``w_out``
    rounds × n_out. Mann–Whitney with ties counted ½, which is the trapezoidal area under pytorch-ood's ROC:

        AUROC = Σ_j w_j [Σ_i w_i 1(s_i < s_j) + ½ Σ_i w_i 1(s_i = s_j)] / (Σ_i w_i · Σ_j w_j),  i InD, j OoD.
    """
    order = np.argsort(s_in, kind="stable")
    sorted_in = s_in[order]
    below = np.searchsorted(sorted_in, s_out, side="left")  # InD scores < s_j
    at_or_below = np.searchsorted(sorted_in, s_out, side="right")  # InD scores ≤ s_j
    cum = _cumulative(w_in, order)
    wins = cum[:, below] + 0.5 * (cum[:, at_or_below] - cum[:, below])
    return (w_out * wins).sum(1) / (w_in.sum(1) * w_out.sum(1))


def weighted_fpr_at_tpr(
    x_pos: np.ndarray, x_neg: np.ndarray, w_pos: np.ndarray, w_neg: np.ndarray, tpr: float = 0.95
) -> np.ndarray:
    """pytorch-ood's ``fpr_at_tpr`` of every round of counts (larger ``x`` = positive): the threshold is the
    largest score t whose TPR, Σ w⁺ 1(x⁺ ≥ t) / Σ w⁺, reaches ``tpr`` first; FPR = Σ w⁻ 1(x⁻ ≥ t) / Σ w⁻."""
    rounds = np.arange(w_pos.shape[0])
    order = np.argsort(-x_pos, kind="stable")  # positives, largest first
    cum = np.cumsum(w_pos[:, order], axis=1) / w_pos.sum(1, keepdims=True)
    first = np.argmax(cum >= tpr, axis=1)  # the sample at which the TPR first reaches tpr (it has weight > 0)
    threshold = x_pos[order][first]
    neg_order = np.argsort(x_neg, kind="stable")
    below = np.searchsorted(x_neg[neg_order], threshold, side="left")  # negatives with x < t
    cum_neg = _cumulative(w_neg, neg_order)
    total = cum_neg[:, -1]
    return (total - cum_neg[rounds, below]) / total


def _rounds_metric(
    metric: str, fpr_definition: str, s_in: np.ndarray, s_out: np.ndarray, w_in: np.ndarray, w_out: np.ndarray
) -> np.ndarray:
    if metric == "AUROC":
        return weighted_auroc(s_in, s_out, w_in, w_out)
    if metric == "FPR95" and fpr_definition == "id":  # InD is the positive class of −s
        return weighted_fpr_at_tpr(-s_in, -s_out, w_in, w_out)
    if metric == "FPR95":
        return weighted_fpr_at_tpr(s_out, s_in, w_out, w_in)
    # AUPR: round by round, on the resampled scores themselves
    t_in, t_out = torch.from_numpy(s_in), torch.from_numpy(s_out)
    return np.array(
        [
            _metric_value(
                metric,
                fpr_definition,
                t_in.repeat_interleave(torch.from_numpy(a.astype(np.int64))),
                t_out.repeat_interleave(torch.from_numpy(b.astype(np.int64))),
            )
            for a, b in zip(w_in, w_out)
        ]
    )


def bootstrap_average(
    scores: Mapping[str, Any], *, metric: str = "AUROC", n_boot: int = 500, seed: int = 0, fpr_definition: str = "id"
) -> dict[str, Any]:
    """``metric`` averaged over the OoD sets, observed and in ``n_boot`` bootstrap rounds.

    ``scores``: ``{"test": InD scores, <OoD set>: scores, ...}`` (as :func:`evaluate` returns them). Each
    round resamples, with replacement, the InD test samples and the samples of every OoD set
    (:func:`resample_counts`: the same rounds for every detector scored on the same samples, so
    :func:`compare_bootstrapped` pairs them). AUROC and FPR95 are computed for all rounds at once from
    the counts; AUPR round by round. ``rounds`` is a float64 array of the ``n_boot`` values.
    """
    check_choice("metric", metric, METRICS)
    check_choice("fpr_definition", fpr_definition, FPR_DEFINITIONS)
    check_int("n_boot", n_boot, low=1)
    check_seed("seed", seed)
    s = {k: v.numpy() for k, v in _check_scores_dict(scores, "scores").items()}
    sets = [k for k in s if k != "test"]
    counts = resample_counts({k: len(v) for k, v in s.items()}, n_boot, seed)
    rounds = np.zeros(n_boot)
    for start in range(0, n_boot, ROUNDS_PER_CHUNK):
        part = slice(start, start + ROUNDS_PER_CHUNK)
        w_in = counts["test"][part].astype(np.float64)
        for k in sets:
            rounds[part] += _rounds_metric(
                metric, fpr_definition, s["test"], s[k], w_in, counts[k][part].astype(np.float64)
            )
    observed = sum(
        _metric_value(metric, fpr_definition, torch.from_numpy(s["test"]), torch.from_numpy(s[k])) for k in sets
    ) / len(sets)
    return {
        "metric": metric,
        "fpr_definition": fpr_definition,
        "seed": seed,
        "n_boot": n_boot,
        "sizes": {k: len(v) for k, v in s.items()},
        "observed": observed,
        "rounds": rounds / len(sets),
    }


def mean_bootstrap(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The mean of several :func:`bootstrap_average` results of the same resamplings (e.g. one per trained
    classifier, all scored on the same samples): observed and round-by-round values averaged."""
    if isinstance(results, Mapping) or not results:
        raise ParameterError("results", results, "a non-empty list of bootstrap_average results")
    first = results[0]
    for r in results[1:]:
        for key in ("metric", "fpr_definition", "seed", "n_boot", "sizes"):
            if r[key] != first[key]:
                raise ParameterError(
                    "results",
                    f"{key} = {r[key]!r}",
                    f"bootstrap_average results of the same resamplings ({key} = {first[key]!r})",
                )
    return {
        **{k: first[k] for k in ("metric", "fpr_definition", "seed", "n_boot", "sizes")},
        "observed": float(np.mean([r["observed"] for r in results])),
        "rounds": np.mean([r["rounds"] for r in results], axis=0),
        "averaged_over": len(results),
    }


def compare_bootstrapped(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """How much better a is than b, from two :func:`bootstrap_average` results of the same resamplings.

    The improvement is a − b for AUROC and AUPR, b − a for FPR95 (lower is better). Returns the observed
    improvement, the 2.5% and 97.5% percentiles of the round-by-round improvements (``low``, ``high``)
    and ``p_better``, a one-sided bootstrap p-value for "a is better": (k + 1) / (n_boot + 1), k the rounds
    in which a was not better (never 0 from a finite number of rounds). It captures the sampling of the
    test sets, not the variation between trained classifiers.
    """
    for key in ("metric", "fpr_definition", "seed", "n_boot", "sizes"):
        if a[key] != b[key]:
            raise ParameterError(
                "b", f"{key} = {b[key]!r}", f"a bootstrap_average of the same resamplings as a ({key} = {a[key]!r})"
            )
    sign = -1.0 if a["metric"] == "FPR95" else 1.0
    rounds = sign * (np.asarray(a["rounds"]) - np.asarray(b["rounds"]))
    low, high = np.quantile(rounds, [0.025, 0.975])
    return {
        "improvement": float(sign * (a["observed"] - b["observed"])),
        "low": float(low),
        "high": float(high),
        "p_better": float((np.count_nonzero(rounds <= 0) + 1) / (len(rounds) + 1)),
        "n_boot": a["n_boot"],
        "metric": a["metric"],
    }


def paired_bootstrap(
    scores_a: Mapping[str, Any],
    scores_b: Mapping[str, Any],
    *,
    metric: str = "AUROC",
    n_boot: int = 500,
    seed: int = 0,
    fpr_definition: str = "id",
) -> dict[str, Any]:
    """How much better detector a is than b on ``metric`` averaged over the OoD sets, with a paired bootstrap.

    :func:`bootstrap_average` of both on the same resamplings, then :func:`compare_bootstrapped`.
    """
    a = _check_scores_dict(scores_a, "scores_a")
    b = _check_scores_dict(scores_b, "scores_b")
    if set(a) != set(b) or any(len(a[k]) != len(b[k]) for k in a):
        raise ParameterError("scores_b", sorted(b), f"the same sets and sizes as scores_a: {sorted(a)}")
    options: dict[str, Any] = dict(metric=metric, n_boot=n_boot, seed=seed, fpr_definition=fpr_definition)
    return compare_bootstrapped(bootstrap_average(a, **options), bootstrap_average(b, **options))


def wide(table, metric: str = "AUROC"):
    """One metric of :func:`evaluate`'s table as detector × OoD set (the ``average`` column last)."""
    check_choice("metric", metric, METRICS)
    out = table.pivot(index="detector", columns="ood_set", values=metric)
    sets = [s for s in dict.fromkeys(table["ood_set"]) if s != AVERAGE] + [AVERAGE]
    return out.loc[list(dict.fromkeys(table["detector"])), sets]
