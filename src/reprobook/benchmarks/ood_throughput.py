"""OoD scoring time per test sample: kernel PCA (CoP, CoRP) against k-nearest neighbours at its best, as N grows.

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
* **KNN, three ways** (all on unit-normalised features, the score being the distance to the k-th
  neighbour): ``pytorch-ood``'s ``KNN`` (exact, scikit-learn's brute-force ``NearestNeighbors``, all
  cores); faiss's exact ``IndexFlatL2``, the index of the KNN paper's code; and faiss's approximate
  ``IndexIVFFlat`` (√N lists, at most N/39; ``nprobe``, the lists searched, is the smallest power of two whose
  recall@k on ``tune_queries`` training features reaches ``target_recall``: the fastest setting that is
  still a k-nearest-neighbour search). Its recall@k on the timed queries (the share of the exact k
  neighbours it returns) and the largest gap between its score and the exact one are reported;
* **KPCA**: :class:`~reprobook.ood.detectors.KernelPCACoP` and :class:`~reprobook.ood.detectors.KernelPCACoRP`
  with the profile's ratio, γ and M, on ``device`` (the KNN searches run on the CPU);
* every method is fitted on the first N features for each N in ``n_train`` (not timed) and scores the same
  query batch ``warmup`` times untimed; a call faster than ``MIN_ROUND_S`` (10 ms) is then repeated within
  each timed round until the round lasts about that long (``calls``; the time per call is the round's over
  its calls). Then ``repeats`` rounds, each (method, N) once per round in a new shuffled order, so that a
  slow spell of the machine falls on no N in particular (timing N after N turns a machine that slows down
  into a slope); ``torch.cuda.synchronize()`` around each round on a GPU;
* per method and N: the median time per query sample over the rounds and its quartiles, and the fastest
  round's (``min_us``: as ``timeit`` advises, the slower rounds measure what else the machine was doing, a
  faiss thread pool still spinning or another process, more than the code);
  ``knn_over_method``, the median over the rounds of scikit-learn KNN's time over the method's time *in
  the same round* (paired, so a slow spell of the machine cancels out), and ``fastest_knn_over_method``,
  the same with the fastest KNN of that round (exact or approximate) in the numerator. Every round's
  time is in the settings.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from pytorch_ood.detector import KNN

from .. import profiles
from ..checks import ParameterError, check_choice, check_fraction, check_int, check_positive, check_seed
from ..configs.ood_benchmark import OODConfig
from ..models import build_model
from ..ood.detectors import KernelPCACoP, KernelPCACoRP
from ..timing import Timer, synchronize, timed
from . import check_count
from . import check_methods as _check_methods

# method -> label
METHODS: dict[str, str] = {
    "knn": "KNN (exact, scikit-learn)",
    "faiss-flat": "KNN (exact, faiss flat)",
    "faiss-ivf": "KNN (approximate, faiss IVF)",
    "cop": "KPCA CoP",
    "corp": "KPCA CoRP",
}
KNN_METHODS = ("knn", "faiss-flat", "faiss-ivf")
SIZES: dict[str, dict[str, Any]] = {
    # a decade and more of N even in the tiny profile: below that the exact search's O(N) term is hidden by overheads
    "tiny": dict(n_train=(1000, 20000), n_queries=200, warmup=0, repeats=3),
    "smoke": dict(n_train=(1000, 3000, 10000, 30000), n_queries=500, warmup=1, repeats=9),
    "paper": dict(n_train=(1000, 3000, 10000, 30000, 60000), n_queries=2000, warmup=2, repeats=10),
}
SETTINGS = (
    "n_train",
    "n_queries",
    "warmup",
    "repeats",
    "feature_dim",
    "knn_k",
    "cop_ratio",
    "corp_ratio",
    "corp_gamma",
    "corp_features",
    "seed",
    "methods",
    "target_recall",
    "tune_queries",
)
MIN_ROUND_S = 0.01  # a timed round repeats a faster call until it lasts about this long (seconds)
TARGET_RECALL = 0.95  # the approximate index must return this share of the exact k neighbours
TUNE_QUERIES = 200  # training features (not the timed queries) on which nprobe is chosen


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


def _feature_dim(cfg: OODConfig) -> int:
    with torch.random.fork_rng(devices=[]):
        # torch stubs: a Module's attributes are typed Tensor | Module (feature_dim is an int of our models)
        return int(build_model(cfg.model, **cfg.model_kwargs).feature_dim)  # type: ignore[arg-type]


def _unit(x: torch.Tensor) -> np.ndarray:
    """Rows scaled to unit ℓ2 norm, as a C-contiguous float32 array (faiss's input)."""
    return np.ascontiguousarray(torch.nn.functional.normalize(x.float(), dim=1).numpy())


class FaissKNN:
    """The KNN score (distance to the k-th nearest unit-normalised training feature) through a faiss index.

    ``approximate=False``: ``IndexFlatL2``, an exact search; ``True``: ``IndexIVFFlat`` with ``nlist`` = √N
    lists (at most N/39, faiss's k-means wants 39 points per list), of which ``nprobe`` are searched
    (:meth:`tune` picks it).
    """

    def __init__(self, k: int, approximate: bool = False, seed: int = 0):
        self.k, self.approximate, self.seed = k, approximate, seed
        self.index: Any  # None until fit(): then a faiss IndexFlatL2, or an IndexIVFFlat when approximate
        self.nlist: int | None
        self.nprobe: int | None
        self.index, self.nlist, self.nprobe = None, None, None

    def fit(self, features: torch.Tensor) -> FaissKNN:
        import faiss

        x = _unit(features)
        dim = x.shape[1]
        if self.approximate:
            # √N lists, at most one per 39 points (fewer, and faiss's k-means warns that it has too few)
            self.nlist = max(1, min(int(round(math.sqrt(len(x)))), len(x) // 39))
            quantizer = faiss.IndexFlatL2(dim)
            self.index = faiss.IndexIVFFlat(quantizer, dim, self.nlist)
            self.index.cp.seed = self.seed
            self.index.train(x)
            self.nprobe = self.index.nprobe = 1
        else:
            self.index = faiss.IndexFlatL2(dim)
        self.index.add(x)
        return self

    def neighbours(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Squared distances and indices of the k nearest neighbours of unit-normalised ``queries``."""
        return self.index.search(queries, self.k)

    def tune(self, queries: np.ndarray, exact: FaissKNN, target: float) -> float:
        """The smallest nprobe (a power of two, at most nlist) whose recall@k on ``queries`` reaches ``target``;
        returns that recall."""
        truth = exact.neighbours(queries)[1]
        nprobe = 1
        while True:
            self.nprobe = self.index.nprobe = min(nprobe, cast(int, self.nlist))  # nlist: set by fit(approximate)
            got = recall_at_k(self.neighbours(queries)[1], truth)
            if got >= target or self.nprobe == self.nlist:
                return got
            nprobe *= 2

    def predict(self, queries: np.ndarray) -> np.ndarray:
        """Outlier scores: the distance to the k-th neighbour."""
        distances, _ = self.neighbours(queries)
        return np.sqrt(np.maximum(distances[:, -1], 0.0))


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """The mean share of each row of ``truth`` (exact neighbour indices) that ``found`` contains."""
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def _settings(profile: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The profile's sizes and the Kernel PCA chapter's detector settings, overridden by ``settings`` (checked)."""
    check_choice("profile", profile, profiles.PROFILES)
    for key in settings:
        if key not in SETTINGS:
            raise ParameterError(key, settings[key], f"an ood-throughput setting: {', '.join(SETTINGS)}")
    cfg = profiles.config("kpca", profile)
    sizes = SIZES["tiny" if profiles.dry_run(profile) else profile]  # a dry run: the smallest rounds (loops)
    grid = settings.get("n_train", sizes["n_train"])
    if isinstance(grid, (str, bytes)) or not isinstance(grid, (list, tuple)) or not grid:
        raise ParameterError("n_train", grid, "a non-empty list of integers >= 1")
    grid = sorted({check_count("n_train", n) for n in grid})
    out = {
        "n_train": grid,
        "n_queries": check_count("n_queries", settings.get("n_queries", sizes["n_queries"])),
        "warmup": check_count("warmup", settings.get("warmup", sizes["warmup"]), low=0),
        "repeats": check_count("repeats", settings.get("repeats", sizes["repeats"])),
        "feature_dim": check_count("feature_dim", settings.get("feature_dim") or _feature_dim(cfg)),
        "knn_k": check_count("knn_k", settings.get("knn_k", cfg.knn_k)),
        "cop_ratio": check_fraction("cop_ratio", settings.get("cop_ratio", cfg.cop_ratio)),
        "corp_ratio": check_fraction("corp_ratio", settings.get("corp_ratio", cfg.corp_ratio)),
        "corp_gamma": check_positive("corp_gamma", settings.get("corp_gamma", cfg.corp_gamma)),
        "corp_features": check_count("corp_features", settings.get("corp_features", cfg.corp_features)),
        "seed": check_seed("seed", settings.get("seed", 0)),
        "methods": check_methods(settings.get("methods", tuple(METHODS))),
        "target_recall": check_fraction("target_recall", settings.get("target_recall", TARGET_RECALL)),
        "tune_queries": check_int("tune_queries", settings.get("tune_queries", TUNE_QUERIES), low=1),
    }
    if out["knn_k"] > grid[0]:
        raise ParameterError("knn_k", out["knn_k"], f"an integer <= the smallest N ({grid[0]})")
    return out


def _fit(method: str, feats: torch.Tensor, s: dict[str, Any], device: torch.device, queries: torch.Tensor):
    """Fit ``method`` on ``feats``; return ``(score function of the query batch, facts about the fit)``."""
    labels = torch.zeros(len(feats), dtype=torch.long)
    if method == "knn":
        det = KNN(None, k=s["knn_k"]).fit_features(feats, labels)
        return (lambda: det.predict_features(queries)), {}
    if method in ("faiss-flat", "faiss-ivf"):
        unit_queries = _unit(queries)
        det = FaissKNN(s["knn_k"], approximate=method == "faiss-ivf", seed=s["seed"]).fit(feats)
        return (lambda: det.predict(unit_queries)), {"index": det}
    det = (
        KernelPCACoP(ratio=s["cop_ratio"])
        if method == "cop"
        else KernelPCACoRP(ratio=s["corp_ratio"], gamma=s["corp_gamma"], n_features=s["corp_features"], seed=s["seed"])
    )
    det.fit_features(feats.to(device), labels.to(device))
    queries_dev = queries.to(device)
    return (lambda: det.predict_features(queries_dev)), {"q": det.q_}


def _approximation(facts: dict[str, dict], train: torch.Tensor, queries: torch.Tensor, s: dict[str, Any]) -> None:
    """Tune the approximate index's nprobe on training features; add recall@k and the score gaps to ``facts``."""
    unit_queries = _unit(queries)
    exact = facts.get("faiss-flat", {}).get("index") or FaissKNN(s["knn_k"]).fit(train)
    truth_idx = exact.neighbours(unit_queries)[1]
    truth_score = exact.predict(unit_queries)
    if "faiss-ivf" in facts:
        ivf = facts["faiss-ivf"]["index"]
        tune = _unit(synthetic_features(s["tune_queries"], train.shape[1], seed=s["seed"] + 2))
        tuned = ivf.tune(tune, exact, s["target_recall"])
        facts["faiss-ivf"].update(
            nlist=ivf.nlist,
            nprobe=ivf.nprobe,
            tune_recall=tuned,
            recall=recall_at_k(ivf.neighbours(unit_queries)[1], truth_idx),
        )
    for method in ("knn", "faiss-flat", "faiss-ivf"):
        if method in facts:
            score = facts[method]["score"]()
            score = score.cpu().numpy() if isinstance(score, torch.Tensor) else score
            facts[method]["max_score_gap"] = float(np.max(np.abs(np.asarray(score, dtype=np.float64) - truth_score)))
            facts[method].setdefault("recall", 1.0)


def measure(device: torch.device, profile: str, **settings: Any):
    """Time the scoring of one query batch by every method for every N; return ``(table, settings used)``.

    Settings (each defaults to the profile's): ``n_train`` (a list of N), ``n_queries``, ``warmup``,
    ``repeats``, ``feature_dim``, ``knn_k``, ``cop_ratio``, ``corp_ratio``, ``corp_gamma``,
    ``corp_features`` (M), ``seed``, ``methods`` (a list of :data:`METHODS` names, with ``"knn"``),
    ``target_recall`` and ``tune_queries`` (the approximate index). The table has one row per (method, N).
    """
    import faiss

    s = _settings(profile, settings)
    methods = s["methods"]
    train = synthetic_features(max(s["n_train"]), s["feature_dim"], seed=s["seed"])
    queries = synthetic_features(s["n_queries"], s["feature_dim"], seed=s["seed"] + 1)
    order = np.random.default_rng(s["seed"])
    rounds: dict[str, dict[int, list[float]]] = {m: {} for m in methods}
    facts: dict[int, dict[str, dict]] = {}
    faiss_threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(torch.get_num_threads())  # the threads torch (and the runner) was given
    scorers: dict[tuple[str, int], Any] = {}
    try:
        for n in s["n_train"]:
            feats, facts[n] = train[:n], {}
            for method in methods:
                with timed() as t:
                    scorers[method, n], facts[n][method] = _fit(method, feats, s, device, queries)
                    synchronize(device)
                facts[n][method]["fit_s"] = t.seconds
                facts[n][method]["score"] = scorers[method, n]
            _approximation(facts[n], feats, queries, s)
        for (method, n), score in scorers.items():
            facts[n][method]["calls"] = 1
            for _ in range(s["warmup"]):
                synchronize(device)
                clock = Timer()
                score()
                synchronize(device)
                # a round repeats a call that takes less than MIN_ROUND_S, so a timer's resolution, an interrupt or a
                # thread pool waking cannot dominate it
                facts[n][method]["calls"] = max(1, math.ceil(MIN_ROUND_S / max(clock.elapsed(), 1e-9)))
            rounds[method][n] = []
        pairs = list(scorers)
        for _ in range(s["repeats"]):
            # every (method, N) once per round in a new order: a slow spell of the machine lands on no N or method
            # in particular (timing N after N would turn a machine slowing down into a slope)
            for i in order.permutation(len(pairs)):
                method, n = pairs[i]
                calls = facts[n][method]["calls"]
                synchronize(device)
                clock = Timer()
                for _ in range(calls):
                    scorers[method, n]()
                synchronize(device)
                rounds[method][n].append(clock.elapsed() / calls)
    finally:
        faiss.omp_set_num_threads(faiss_threads)
    table = pd.DataFrame(_rows(methods, s, rounds, facts))
    used = {
        **{k: v for k, v in s.items() if k != "methods"},
        "methods": list(methods),
        "features": "synthetic: ReLU of a 10-class Gaussian mixture",
        "knn_backend": "pytorch-ood KNN (scikit-learn NearestNeighbors, brute force, n_jobs=-1, CPU); "
        "faiss IndexFlatL2 and IndexIVFFlat (CPU) on unit-normalised features",
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "faiss_threads": torch.get_num_threads(),
        "rounds_s": {m: {str(n): v for n, v in rounds[m].items()} for m in methods},
    }
    return table, used


def _rows(methods, s, rounds, facts) -> list[dict[str, Any]]:
    rows = []
    knns = [m for m in KNN_METHODS if m in methods]
    for n in s["n_train"]:
        knn = np.array(rounds["knn"][n])
        fastest = np.min([rounds[m][n] for m in knns], axis=0)  # the fastest KNN of each round
        for method in methods:
            mine = np.array(rounds[method][n])
            t = mine / s["n_queries"]
            info = facts[n][method]
            rows.append(
                {
                    "method": method,
                    "detector": METHODS[method],
                    "n_train": n,
                    "median_us": 1e6 * float(np.median(t)),
                    "p25_us": 1e6 * float(np.percentile(t, 25)),
                    "p75_us": 1e6 * float(np.percentile(t, 75)),
                    "min_us": 1e6 * float(np.min(t)),
                    # a KNN's time / the method's time, round by round; the median over the rounds
                    "knn_over_method": float(np.median(knn / mine)),
                    "fastest_knn_over_method": float(np.median(fastest / mine)),
                    "q": info.get("q"),
                    "recall": info.get("recall"),
                    "max_score_gap": info.get("max_score_gap"),
                    "nprobe": info.get("nprobe"),
                    "nlist": info.get("nlist"),
                    "tune_recall": info.get("tune_recall"),
                    "fit_s": info["fit_s"],
                    "calls": info["calls"],
                }
            )
    return rows


__all__ = [
    "FaissKNN",
    "KNN_METHODS",
    "METHODS",
    "SIZES",
    "check_methods",
    "measure",
    "recall_at_k",
    "synthetic_features",
]
