"""OoD scoring time per test sample: kernel PCA (CoP, CoRP) against exact k-nearest neighbours, as N grows.

Explained in ``notebooks/ood/kpca.ipynb``; run from the shell as ``reprobook bench ood-throughput``.
The Kernel PCA paper's efficiency claim: a KPCA detector keeps only the mean and the q principal
directions of the mapped training features, so scoring one sample costs O(D·q) (CoP) or O(D·M + M·q)
(CoRP) whatever the number N of in-distribution training features, while k-nearest neighbours
(KNN, Sun et al. 2022) compares every test sample with all N of them.

How it measures:

* **features**: synthetic, of the width of the profile's classifier (``feature_dim``; 64 for the
  smoke CNN, 512 for ResNet-18): N non-negative vectors, ReLU of a mixture of ten Gaussian classes,
  like pooled post-ReLU features; the query batch (``n_queries``) comes from the same mixture. The
  cost of each method depends on the sizes only, not on what the features mean; q does depend on the
  spectrum, and is reported;
* **methods**: ``pytorch-ood``'s ``KNN`` (exact: scikit-learn's brute-force ``NearestNeighbors``,
  all cores, on the CPU whatever the device; k from the profile), and this book's
  :class:`~reprobook.ood.detectors.KernelPCACoP` and :class:`~reprobook.ood.detectors.KernelPCACoRP`
  with the profile's ratio, γ and M, on ``device``;
* for each N in ``n_train``: every method is fitted on the first N features (not timed), scores the
  same query batch ``warmup`` times untimed, then ``repeats`` rounds, each method once per round in a
  shuffled order (``torch.cuda.synchronize()`` around each call on a GPU);
* per method and N: the median time per query sample over the rounds and its quartiles, and
  ``knn_over_method``, the median over the rounds of KNN's time over the method's time *in the same
  round* (paired, so a slow spell of the machine cancels out). Every round's time is in the settings.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from .. import profiles
from ..profiles import ParameterError
from . import check_count, synchronize
from . import check_methods as _check_methods

# method -> label
METHODS: dict[str, str] = {"knn": "KNN (exact, pytorch-ood)", "cop": "KPCA CoP", "corp": "KPCA CoRP"}
SIZES: dict[str, dict[str, Any]] = {
    "smoke": dict(n_train=(1000, 4000, 15000, 60000), n_queries=1000, warmup=1, repeats=5),
    "paper": dict(n_train=(1000, 3000, 10000, 30000, 60000), n_queries=2000, warmup=2, repeats=10),
}
SETTINGS = ("n_train", "n_queries", "warmup", "repeats", "feature_dim", "knn_k", "cop_ratio", "corp_ratio",
            "corp_gamma", "corp_features", "seed", "methods")


def check_methods(methods: Any) -> tuple[str, ...]:
    """Known method names, with ``"knn"`` (the ratios' numerator)."""
    return _check_methods(methods, METHODS, "knn", "every ratio is KNN's time over a method's")


def synthetic_features(n: int, dim: int, *, classes: int = 10, seed: int = 0) -> torch.Tensor:
    """``n`` × ``dim`` non-negative features: ReLU(μ_y + ε), y uniform over ``classes``, μ_y ~ N(0, I),
    ε ~ N(0, 0.5² I)."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=gen)
    y = torch.randint(0, classes, (n,), generator=gen)
    return torch.relu(centres[y] + 0.5 * torch.randn(n, dim, generator=gen))


def _feature_dim(cfg) -> int:
    from ..models import build_model

    with torch.random.fork_rng(devices=[]):
        return int(build_model(cfg.model, **cfg.model_kwargs).feature_dim)


def measure(device: torch.device, profile: str, **settings: Any):
    """Time the scoring of one query batch by KNN, CoP and CoRP for every N; return ``(table, settings used)``.

    Settings (each defaults to the profile's): ``n_train`` (a list of N), ``n_queries``, ``warmup``,
    ``repeats``, ``feature_dim``, ``knn_k``, ``cop_ratio``, ``corp_ratio``, ``corp_gamma``,
    ``corp_features`` (M), ``seed``, ``methods`` (a list of :data:`METHODS` names, with ``"knn"``).
    The table has one row per (method, N).
    """
    import pandas as pd
    from pytorch_ood.detector import KNN

    from ..ood.detectors import KernelPCACoP, KernelPCACoRP
    from ..ood.kernels import check_positive, check_ratio

    profiles.check_profile(profile)
    for key in settings:
        if key not in SETTINGS:
            raise ParameterError(key, settings[key], f"an ood-throughput setting: {', '.join(SETTINGS)}")
    cfg = profiles.config("kpca", profile)
    sizes = SIZES[profile]
    grid = settings.get("n_train", sizes["n_train"])
    if isinstance(grid, (str, bytes)) or not isinstance(grid, (list, tuple)) or not grid:
        raise ParameterError("n_train", grid, "a non-empty list of integers >= 1")
    grid = sorted({check_count("n_train", n) for n in grid})
    n_queries = check_count("n_queries", settings.get("n_queries", sizes["n_queries"]))
    warmup = check_count("warmup", settings.get("warmup", sizes["warmup"]), low=0)
    repeats = check_count("repeats", settings.get("repeats", sizes["repeats"]))
    dim = check_count("feature_dim", settings.get("feature_dim") or _feature_dim(cfg))
    k = check_count("knn_k", settings.get("knn_k", cfg.knn_k))
    if k > grid[0]:
        raise ParameterError("knn_k", k, f"an integer <= the smallest N ({grid[0]})")
    cop_ratio = check_ratio(settings.get("cop_ratio", cfg.cop_ratio), "cop_ratio")
    corp_ratio = check_ratio(settings.get("corp_ratio", cfg.corp_ratio), "corp_ratio")
    gamma = check_positive(settings.get("corp_gamma", cfg.corp_gamma), "corp_gamma")
    m_features = check_count("corp_features", settings.get("corp_features", cfg.corp_features))
    seed = check_count("seed", settings.get("seed", 0), low=0)
    methods = check_methods(settings.get("methods", tuple(METHODS)))

    train = synthetic_features(max(grid), dim, seed=seed)
    queries = synthetic_features(n_queries, dim, seed=seed + 1)
    queries_dev = queries.to(device)
    order = np.random.default_rng(seed)
    rounds: dict[str, dict[int, list[float]]] = {m: {} for m in methods}
    q_used: dict[str, dict[int, int]] = {m: {} for m in methods}
    fit_seconds: dict[str, dict[int, float]] = {m: {} for m in methods}
    for n in grid:
        feats = train[:n]
        labels = torch.zeros(n, dtype=torch.long)
        scorers = {}
        for method in methods:
            start = time.perf_counter()
            if method == "knn":
                det = KNN(None, k=k).fit_features(feats, labels)
                scorers[method] = lambda det=det: det.predict_features(queries)
            else:
                det = (KernelPCACoP(ratio=cop_ratio) if method == "cop" else
                       KernelPCACoRP(ratio=corp_ratio, gamma=gamma, n_features=m_features, seed=seed))
                det.fit_features(feats.to(device), labels.to(device))
                q_used[method][n] = det.q_
                scorers[method] = lambda det=det: det.predict_features(queries_dev)
            synchronize(device)
            fit_seconds[method][n] = time.perf_counter() - start
        for _ in range(warmup):
            for method in methods:
                scorers[method]()
        synchronize(device)
        for method in methods:
            rounds[method][n] = []
        for _ in range(repeats):
            for i in order.permutation(len(methods)):  # a new order every round
                method = methods[i]
                synchronize(device)
                start = time.perf_counter()
                scorers[method]()
                synchronize(device)
                rounds[method][n].append(time.perf_counter() - start)

    rows = []
    for n in grid:
        knn = np.array(rounds["knn"][n])
        for method in methods:
            t = np.array(rounds[method][n]) / n_queries
            rows.append({
                "method": method, "detector": METHODS[method], "n_train": n,
                "median_us": 1e6 * float(np.median(t)), "p25_us": 1e6 * float(np.percentile(t, 25)),
                "p75_us": 1e6 * float(np.percentile(t, 75)),
                # KNN's time / the method's time, round by round; the median over the rounds
                "knn_over_method": float(np.median(knn / np.array(rounds[method][n]))),
                "q": q_used[method].get(n), "fit_s": fit_seconds[method][n],
            })
    table = pd.DataFrame(rows)
    used = {"methods": list(methods), "n_train": grid, "n_queries": n_queries, "warmup": warmup, "repeats": repeats,
            "feature_dim": dim, "features": "synthetic: ReLU of a 10-class Gaussian mixture", "knn_k": k,
            "knn_backend": "pytorch-ood KNN (scikit-learn NearestNeighbors, brute force, n_jobs=-1, CPU)",
            "cop_ratio": cop_ratio, "corp_ratio": corp_ratio, "corp_gamma": gamma, "corp_features": m_features,
            "seed": seed, "device": str(device), "torch_threads": torch.get_num_threads(),
            "rounds_s": {m: {str(n): v for n, v in rounds[m].items()} for m in methods}}
    return table, used
