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

import time
from typing import Any, Mapping

import torch
from pytorch_ood.api import Detector, FeatureMapsDetector, FeaturesDetector, LogitsDetector
from pytorch_ood.metrics import FPRAtTPR, OODMetrics
from torch import Tensor

from ..profiles import ParameterError

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
    if fpr_definition not in FPR_DEFINITIONS:
        raise ParameterError("fpr_definition", fpr_definition, ", ".join(repr(d) for d in FPR_DEFINITIONS))
    s_in, s_out = _flat_scores(scores_in, "scores_in"), _flat_scores(scores_out, "scores_out")
    scores = torch.cat([s_in, s_out])
    # pytorch-ood: labels < 0 mark the OoD samples, the positive class
    labels = torch.cat([torch.zeros(len(s_in), dtype=torch.long), -torch.ones(len(s_out), dtype=torch.long)])
    metrics = OODMetrics()
    metrics.update(scores, labels)
    result = metrics.compute()
    out = {"AUROC": float(result["AUROC"]), "AUPR-IN": float(result["AUPR-IN"]),
           "AUPR-OUT": float(result["AUPR-OUT"])}
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
        yield x[i:i + size]


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
    raise ParameterError("detector", type(detector).__name__,
                         "a detector that needs no fitting, or a features, logits or feature-map detector "
                         "(fit other detectors before calling evaluate, with fit=False)")


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
        return _score_tensor(lambda z: detector.predict_feature_maps(z[:, :, None, None]), features.features,
                             batch_size)
    if loader is None:
        raise ParameterError("loader", None, f"a DataLoader of the inputs: {type(detector).__name__} scores inputs")
    scores = [detector.predict(batch[0]).detach().reshape(-1).to("cpu", torch.float64) for batch in loader]
    return torch.cat(scores)


def evaluate(detectors: Mapping[str, Detector], benchmark: Any, *, fit: bool = True,
             fpr_definition: str = "id", batch_size: int = 4096, return_scores: bool = False):
    """One tidy table: FPR95, AUROC, AUPR-IN, AUPR-OUT per detector and OoD set, plus each detector's average.

    ``benchmark`` is an ``OODBenchmark`` (``train``, ``test``, ``ood`` feature sets and ``loader(name)``
    for detectors that score inputs). ``fit=True`` fits each detector on ``benchmark.train`` first.
    The table has columns ``detector``, ``ood_set`` (``"average"`` for the mean over the OoD sets) and
    the metrics, in the order of ``detectors`` and of ``benchmark.ood``; ``table.attrs["seconds"]``
    gives each detector's fitting and scoring time. ``return_scores=True`` returns ``(table, scores)``,
    ``scores[detector]["test" or OoD name]`` the outlier scores (for :func:`paired_bootstrap`, plots).
    """
    import pandas as pd

    if not isinstance(detectors, Mapping) or not detectors:
        raise ParameterError("detectors", detectors, "a non-empty dict name → pytorch-ood Detector")
    for name, det in detectors.items():
        if not isinstance(det, Detector):
            raise ParameterError(f"detectors[{name!r}]", det, "a pytorch-ood Detector")
    if not getattr(benchmark, "ood", None):
        raise ParameterError("benchmark", benchmark, "an OODBenchmark with at least one OoD set")
    if fpr_definition not in FPR_DEFINITIONS:
        raise ParameterError("fpr_definition", fpr_definition, ", ".join(repr(d) for d in FPR_DEFINITIONS))
    rows, seconds, all_scores = [], {}, {}
    for name, det in detectors.items():
        start = time.perf_counter()
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
        rows.append({"detector": name, "ood_set": AVERAGE,
                     **{m: sum(v[m] for v in per_set) / len(per_set) for m in METRICS}})
        seconds[name] = time.perf_counter() - start
    table = pd.DataFrame(rows, columns=["detector", "ood_set", *METRICS])
    table.attrs["seconds"] = seconds
    table.attrs["fpr_definition"] = fpr_definition
    return (table, all_scores) if return_scores else table


def _check_scores_dict(scores: Any, name: str) -> dict[str, Tensor]:
    if not isinstance(scores, Mapping) or "test" not in scores or len(scores) < 2:
        raise ParameterError(name, type(scores).__name__,
                             "a dict {'test': InD outlier scores, <OoD name>: OoD outlier scores, ...}")
    return {k: _flat_scores(v, f"{name}[{k!r}]") for k, v in scores.items()}


def _metric_value(metric: str, fpr_definition: str, s_in: Tensor, s_out: Tensor) -> float:
    """One metric of InD and OoD outlier scores, by ``pytorch-ood``'s functional metrics (as in :func:`ood_metrics`)."""
    from pytorch_ood.metrics import functional as F

    scores = torch.cat([s_in, s_out])
    labels = torch.cat([torch.zeros(len(s_in), dtype=torch.long), -torch.ones(len(s_out), dtype=torch.long)])
    if metric == "AUROC":
        return float(F.auroc(scores, labels))
    if metric in ("AUPR-IN", "AUPR-OUT"):
        return float(F.aupr(scores, labels, positive="id" if metric == "AUPR-IN" else "ood"))
    if fpr_definition == "ood":
        return float(F.fpr_at_tpr(scores, labels, 0.95))
    return float(F.fpr_at_tpr(-scores, torch.where(labels < 0, 0, -1), 0.95))  # InD as the positive class


def bootstrap_average(scores: Mapping[str, Any], *, metric: str = "AUROC", n_boot: int = 500, seed: int = 0,
                      fpr_definition: str = "id") -> dict[str, Any]:
    """``metric`` averaged over the OoD sets, observed and in ``n_boot`` bootstrap rounds.

    ``scores``: ``{"test": InD scores, <OoD set>: scores, ...}`` (as :func:`evaluate` returns them). Each
    round resamples, with replacement, the InD test samples and the samples of every OoD set. The
    indices depend only on ``seed`` and the set sizes, so two detectors bootstrapped with the same seed
    on the same samples are resampled *together*: :func:`compare_bootstrapped` pairs them.
    """
    if metric not in METRICS:
        raise ParameterError("metric", metric, ", ".join(METRICS))
    if fpr_definition not in FPR_DEFINITIONS:
        raise ParameterError("fpr_definition", fpr_definition, ", ".join(repr(d) for d in FPR_DEFINITIONS))
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ParameterError("n_boot", n_boot, "an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError("seed", seed, "a non-negative integer")
    s = _check_scores_dict(scores, "scores")
    sets = [k for k in s if k != "test"]

    def average(index: dict[str, Tensor] | None) -> float:
        pick = (lambda k: s[k] if index is None else s[k][index[k]])
        return sum(_metric_value(metric, fpr_definition, pick("test"), pick(k)) for k in sets) / len(sets)

    gen = torch.Generator().manual_seed(seed)
    rounds = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # thousands of tiny sorts: a thread pool only adds wake-ups (and stalls on a busy CPU)
    try:
        for _ in range(n_boot):
            rounds.append(average({k: torch.randint(0, len(v), (len(v),), generator=gen) for k, v in s.items()}))
    finally:
        torch.set_num_threads(threads)
    return {"metric": metric, "fpr_definition": fpr_definition, "seed": seed, "n_boot": n_boot,
            "sizes": {k: len(v) for k, v in s.items()}, "observed": average(None),
            "rounds": torch.tensor(rounds, dtype=torch.float64)}


def compare_bootstrapped(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """How much better a is than b, from two :func:`bootstrap_average` results of the same resamplings.

    The improvement is a − b for AUROC and AUPR, b − a for FPR95 (lower is better). Returns the observed
    improvement, the 2.5% and 97.5% percentiles of the round-by-round improvements (``low``, ``high``)
    and ``p_better``, the fraction of rounds in which a was not better: a one-sided bootstrap p-value
    for "a is better". It captures the sampling of the test sets, not the variation between trained
    classifiers.
    """
    for key in ("metric", "fpr_definition", "seed", "n_boot", "sizes"):
        if a[key] != b[key]:
            raise ParameterError("b", f"{key} = {b[key]!r}",
                                 f"a bootstrap_average of the same resamplings as a ({key} = {a[key]!r})")
    sign = -1.0 if a["metric"] == "FPR95" else 1.0
    rounds = sign * (a["rounds"] - b["rounds"])
    return {"improvement": sign * (a["observed"] - b["observed"]), "low": float(torch.quantile(rounds, 0.025)),
            "high": float(torch.quantile(rounds, 0.975)), "p_better": float((rounds <= 0).double().mean()),
            "n_boot": a["n_boot"], "metric": a["metric"]}


def paired_bootstrap(scores_a: Mapping[str, Any], scores_b: Mapping[str, Any], *, metric: str = "AUROC",
                     n_boot: int = 500, seed: int = 0, fpr_definition: str = "id") -> dict[str, Any]:
    """How much better detector a is than b on ``metric`` averaged over the OoD sets, with a paired bootstrap.

    :func:`bootstrap_average` of both on the same resamplings, then :func:`compare_bootstrapped`.
    """
    a = _check_scores_dict(scores_a, "scores_a")
    b = _check_scores_dict(scores_b, "scores_b")
    if set(a) != set(b) or any(len(a[k]) != len(b[k]) for k in a):
        raise ParameterError("scores_b", sorted(b), f"the same sets and sizes as scores_a: {sorted(a)}")
    options = dict(metric=metric, n_boot=n_boot, seed=seed, fpr_definition=fpr_definition)
    return compare_bootstrapped(bootstrap_average(a, **options), bootstrap_average(b, **options))


def wide(table, metric: str = "AUROC"):
    """One metric of :func:`evaluate`'s table as detector × OoD set (the ``average`` column last)."""
    if metric not in METRICS:
        raise ParameterError("metric", metric, ", ".join(METRICS))
    out = table.pivot(index="detector", columns="ood_set", values=metric)
    sets = [s for s in dict.fromkeys(table["ood_set"]) if s != AVERAGE] + [AVERAGE]
    return out.loc[list(dict.fromkeys(table["detector"])), sets]


def bootstrap_verdict(*results: Mapping[str, Any], alpha: float = 0.05) -> str:
    """The verdict on "a is better than b" from one or more :func:`paired_bootstrap` results (say AUROC and FPR95).

    Each result alone: ``reproduced`` when the improvement is positive and ``p_better`` < ``alpha``,
    ``partly`` when it is positive without that, ``not reproduced`` otherwise. Several results:
    ``reproduced`` if every one is, ``not reproduced`` if every one is, else ``partly``. (Also takes
    :func:`compare_bootstrapped` results.)
    """
    if not results:
        raise ParameterError("results", "none", "one or more paired_bootstrap results")
    each = []
    for r in results:
        if r["improvement"] <= 0:
            each.append("not reproduced")
        else:
            each.append("reproduced" if r["p_better"] < alpha else "partly")
    if all(v == each[0] for v in each):
        return each[0]
    return "partly"
