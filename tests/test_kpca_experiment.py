"""The Kernel PCA chapter's analysis (reprobook.ood.kpca_experiment) on constructed inputs, and its profiles."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from reprobook import claims, profiles
from reprobook.checks import ParameterError
from reprobook.ood import kpca_experiment as kx
from reprobook.ood.features import FeatureSet
from reprobook.ood.metrics import bootstrap_average, mean_bootstrap


def test_paper_profile_pins_the_official_settings():
    cfg = profiles.config("kpca", "paper")
    # the official CIFAR-10 / ResNet-18 scripts: CoP ratio 0.85; CoRP ratio 0.8, γ = 2, M = 2048; KNN k = 50
    assert (cfg.cop_ratio, cfg.corp_ratio, cfg.corp_gamma, cfg.corp_features) == (0.85, 0.8, 2.0, 2048)
    assert (cfg.knn_k, cfg.odin_temperature, cfg.odin_eps) == (50, 1000.0, 0.0014)
    assert (cfg.in_dataset, cfg.model, cfg.epochs, cfg.augment) == ("cifar10", "resnet18_cifar", 100, True)
    assert cfg.ood_datasets == ("svhn", "lsun", "isun", "textures", "places365")
    assert cfg.n_classifiers >= 3 and cfg.n_boot >= 1000


def test_smoke_profile_shares_the_benchmark_classifier_and_the_detector_settings():
    from reprobook.chapters.ood_benchmark import SMOKE, OODConfig
    from reprobook.ood.classifier import training_config

    smoke, paper = profiles.config("kpca", "smoke"), profiles.config("kpca", "paper")
    base = OODConfig(profile="smoke", **SMOKE)  # the benchmark's values: the mode-ensemble chapter's modes
    assert training_config(smoke, 0, "data") == training_config(base, 0, "data")  # the very same checkpoints
    for name in ("cop_ratio", "corp_ratio", "corp_gamma", "corp_features", "pca_ratio", "knn_k"):
        assert getattr(smoke, name) == getattr(paper, name), name  # transferred unchanged, not tuned
    assert smoke.n_classifiers >= 3 and profiles.CHAPTERS["kpca"].needs == ("ood-modes",)
    assert smoke.budget_seconds == 240
    tiny = profiles.config("kpca", "tiny")
    assert tiny.epochs == 1 and tiny.n_train <= 1000 and tiny.n_boot < smoke.n_boot


def test_classifier_seeds():
    cfg = profiles.config("kpca", "smoke")
    assert kx.classifier_seeds(cfg, 0) == list(range(cfg.n_classifiers))
    assert kx.classifier_seeds(cfg, 5)[0] == 5
    with pytest.raises(ParameterError, match="'seed'"):
        kx.classifier_seeds(cfg, -1)
    with pytest.raises(ParameterError, match="'n_classifiers'"):
        kx.classifier_seeds(profiles.config("kpca", "smoke", n_classifiers=0), 0)


class _Bench:
    """Just what rff_check reads of a benchmark."""

    def __init__(self, features):
        self.train = FeatureSet(features, torch.zeros(len(features), 10), torch.zeros(len(features), dtype=torch.long))


def test_rff_check_measures_the_one_over_root_m_decay_and_can_fail():
    features = torch.relu(torch.randn(150, 16, generator=torch.Generator().manual_seed(0)))
    cfg = profiles.config("kpca", "smoke", corp_features=512, rff_probe=150)
    result = kx.rff_check(_Bench(features), cfg, seed=0)
    assert result.passed and -0.75 <= result.slope <= -0.25 and result.n_probe == 150
    assert list(result.table.index) == [64, 256, 512, 1024, 2048] and result.m == 512
    assert result.error == pytest.approx(result.table.loc[512].iloc[0])
    errors = result.table.iloc[:, 0].to_numpy()
    assert np.polyfit(np.log(result.table.index), np.log(errors), 1)[0] == pytest.approx(result.slope)
    strict = kx.rff_check(_Bench(features), profiles.config("kpca", "smoke", corp_features=512, rff_probe=150,
                                                              rff_slope_range=(-0.3, -0.1)), seed=0)
    assert not strict.passed and "allowed [-0.3, -0.1]" in strict.detail


def _make(cls, **values):
    """A result object with the given fields and None for every other one."""
    return cls(**{f.name: values.get(f.name) for f in dataclasses.fields(cls) if f.init and (
        f.name in values or f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)},
        **{k: v for k, v in values.items() if k not in {f.name for f in dataclasses.fields(cls)}})


def _scores_with(averages: dict[str, list[tuple[float, float]]]):
    """A DetectorScores whose per-classifier averages are given as {detector: [(AUROC, FPR95) per classifier]}."""
    seeds = range(len(next(iter(averages.values()))))
    frame = pd.DataFrame({(metric, s): {d: v[s][0 if metric == "AUROC" else 1] for d, v in averages.items()}
                          for s in seeds for metric in ("AUROC", "FPR95")})
    return _make(kx.DetectorScores, averages=frame)


def _boots(scores_by_detector, n_boot=200):
    return {(name, m): mean_bootstrap([bootstrap_average(s, metric=m, n_boot=n_boot, seed=0) for s in runs])
            for name, runs in scores_by_detector.items() for m in ("AUROC", "FPR95")}


def _sample_scores(shift, k=3, n=300, seed=0):
    """k classifiers' outlier scores: InD ~ N(0, 1), two OoD sets ~ N(shift, 1), the same samples per classifier."""
    rng = np.random.default_rng(seed)
    test, a, b = rng.normal(0, 1, n), rng.normal(0, 1, n), rng.normal(0, 1, n)
    return [{"test": torch.tensor(test + 0.01 * i), "x": torch.tensor(a + shift), "y": torch.tensor(b + shift)}
            for i in range(k)]


def test_a_comparison_holds_only_when_both_tests_do():
    good, weak = _sample_scores(2.0), _sample_scores(0.5)
    boots = _boots({"A": good, "B": weak})
    common = dict(alpha=0.05, unit="trained classifiers", covers="bootstrap")
    # consistent across classifiers and far apart on the samples: reproduced by both tests
    consistent = _scores_with({"A": [(0.95, 0.2), (0.96, 0.18), (0.94, 0.21)],
                               "B": [(0.70, 0.6), (0.72, 0.58), (0.69, 0.62)]})
    c = kx.compare("A", "B", consistent, boots, **common)
    assert c.classifiers.verdict == "reproduced" and c.bootstrap.verdict == "reproduced"
    assert c.verdict.verdict == "reproduced" and c.verdict.p == pytest.approx(max(c.classifiers.p, c.bootstrap.p))
    assert c.auroc_diffs == pytest.approx([0.25, 0.24, 0.25]) and c.fpr_diffs == pytest.approx([0.4, 0.4, 0.41])
    # the same samples, but one classifier reverses the order: the variation between trainings is not covered
    mixed = _scores_with({"A": [(0.95, 0.2), (0.96, 0.18), (0.60, 0.7)],
                          "B": [(0.70, 0.6), (0.72, 0.58), (0.69, 0.62)]})
    m = kx.compare("A", "B", mixed, boots, **common)
    assert m.bootstrap.verdict == "reproduced" and m.classifiers.verdict != "reproduced"
    assert m.verdict.verdict == "partly"
    # the t-tests over the classifiers are the claims module's, on AUROC and on −FPR95
    expected = claims.superiority([0.95, 0.96, 0.60], [0.70, 0.72, 0.69], unit="trained classifiers")
    assert m.classifiers.p >= expected.p
    # b against a: both tests say not reproduced
    r = kx.compare("B", "A", consistent, boots, **common)
    assert r.verdict.verdict == "not reproduced"


def test_measure_throughput_reads_slopes_and_speedups_from_the_benchmark(monkeypatch):
    from reprobook import benchmarks
    from reprobook.benchmarks import BenchResult
    from reprobook.benchmarks.ood_throughput import METHODS

    ns = [1000, 10000, 100000]
    cost = {"knn": lambda n: 0.01 * n, "faiss-flat": lambda n: 0.005 * n, "faiss-ivf": lambda n: n ** 0.5,
            "cop": lambda n: 1.0, "corp": lambda n: 20.0}
    rows = []
    for n in ns:
        fastest = min(cost[m](n) for m in ("knn", "faiss-flat", "faiss-ivf"))
        for m in METHODS:
            rows.append(dict(method=m, detector=METHODS[m], n_train=n, median_us=cost[m](n), p25_us=cost[m](n),
                             p75_us=cost[m](n), knn_over_method=cost["knn"](n) / cost[m](n),
                             fastest_knn_over_method=fastest / cost[m](n), q=None, recall=0.97 if m == "faiss-ivf" else 1.0,
                             max_score_gap=0.0 if m != "faiss-ivf" else 0.01, nprobe=4 if m == "faiss-ivf" else None,
                             nlist=316 if m == "faiss-ivf" else None, tune_recall=None, fit_s=0.0))
    settings = dict(repeats=5, feature_dim=64, n_queries=100, target_recall=0.95)
    fake = BenchResult("ood-throughput", pd.DataFrame(rows), settings, {"device": "cpu (test)"})
    monkeypatch.setattr(benchmarks, "run", lambda *a, **k: fake)
    monkeypatch.setattr(BenchResult, "save", lambda self, path=None: None)
    t = kx.measure_throughput(profiles.config("kpca", "smoke"), "smoke", "cpu", 0)
    assert t.slope_knn == pytest.approx(1.0) and t.slope_faiss_ivf == pytest.approx(0.5)
    assert t.slope_cop == pytest.approx(0.0, abs=1e-9) and t.n_max == 100000
    assert t.fastest_knn == METHODS["faiss-ivf"]  # √N beats 0.005·N at N = 100,000
    assert t.speedup_cop == pytest.approx(100000 ** 0.5) and t.speedup_corp_sklearn == pytest.approx(50.0)
    assert t.verdict.verdict == "reproduced" and t.exact_agree and t.recall_ok
    assert t.ivf_recall == 0.97 and t.ivf_nprobe == 4


def test_claims_rows_are_holm_adjusted_and_name_both_tests():
    names = ["CoP vs PCA", "CoRP vs PCA", "CoRP vs CoP", "CoRP vs KNN", "CoRP vs Mahalanobis",
             *[f"{k} + {b} vs {b}" for k, b in kx.FUSED]]

    def comparison(name, p):
        a, b = name.split(" vs ")
        v = claims.Verdict("reproduced", rule="r", p=p, p_raw=p)
        boot = {"improvement": 0.01, "low": 0.0, "high": 0.02}
        return kx.Comparison(a, b, [0.01] * 3, [0.02] * 3, v, v, boot, boot, v)

    items = {n: comparison(n, 0.02) for n in names}
    comparisons = _make(kx.Comparisons, items=items)
    scores = _make(kx.DetectorScores, best_baseline="Mahalanobis")
    overview = _make(kx.BenchmarkOverview, n_train=100, n_test=50, dim=16, n_classifiers=3, accuracy_range="80–82%")
    cost = _make(kx.Throughput, verdict=claims.complexity({"knn": 1.0, "faiss-flat": 1.0, "cop": 0.0, "corp": 0.0},
                                                   constant=["cop", "corp"], growing=["knn", "faiss-flat"],
                                                   flat_below=0.2, grows_above=0.5),
                         fastest_knn="KNN (exact, faiss flat)", slope_knn=1.0, slope_faiss_flat=1.0,
                         slope_faiss_ivf=0.5, slope_cop=0.0, slope_corp=0.0, ivf_recall=0.97, n_max=30000,
                         speedup_cop=300.0, speedup_corp=4.0)
    table = kx.kpca_claims(overview, scores, comparisons, cost, profiles.config("kpca", "smoke"), "smoke", "cpu")
    assert len(table.rows) == 6 and table.summary.startswith("1 reproduced, 5 partly")
    for row in table.rows[:5]:  # p = 0.02 five times: Holm multiplies the smallest by 5 → 0.1, reproduced no more
        assert row["verdict"].verdict == "partly" and row["verdict"].p == pytest.approx(0.1)
        assert "Holm-adjusted over 5 tests" in row["verdict"].rule
    assert "Mahalanobis" in table.rows[3]["this_run"] and table.rows[5]["verdict"].verdict == "reproduced"
    assert "3 classifiers" in table.scale
