"""The Kernel PCA chapter's analysis (reprobook.chapters.kpca.experiment) on constructed inputs, and its profiles."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from reprobook import claims, profiles
from reprobook.chapters.kpca import experiment as kx
from reprobook.chapters.kpca import report
from reprobook.checks import ParameterError
from reprobook.ood.features import FeatureSet
from reprobook.results import RunRecord


def test_paper_profile_pins_the_official_settings():
    cfg = profiles.config("kpca", "paper")
    # the official CIFAR-10 / ResNet-18 scripts: CoP ratio 0.85; CoRP ratio 0.8, γ = 2, M = 2048; KNN k = 50
    assert (cfg.cop_ratio, cfg.corp_ratio, cfg.corp_gamma, cfg.corp_features) == (0.85, 0.8, 2.0, 2048)
    assert (cfg.knn_k, cfg.odin_temperature, cfg.odin_eps) == (50, 1000.0, 0.0014)
    assert (cfg.in_dataset, cfg.model, cfg.epochs, cfg.augment) == ("cifar10", "resnet18_cifar", 100, True)
    assert cfg.ood_datasets == ("svhn", "lsun", "isun", "textures", "places365")
    assert cfg.n_classifiers >= 8


def test_smoke_profile_shares_the_benchmark_classifier_and_the_detector_settings():
    from reprobook.configs.ood_benchmark import SMOKE, OODConfig
    from reprobook.ood.classifier import training_config

    smoke, paper = profiles.config("kpca", "smoke"), profiles.config("kpca", "paper")
    base = OODConfig(profile="smoke", **SMOKE)  # the benchmark's values: the mode-ensemble chapter's modes
    assert training_config(smoke, 0, "data") == training_config(base, 0, "data")  # the very same checkpoints
    for name in ("cop_ratio", "corp_ratio", "corp_gamma", "corp_features", "pca_ratio", "knn_k"):
        assert getattr(smoke, name) == getattr(paper, name), name  # transferred unchanged, not tuned
    # the verdicts over at least eight trained classifiers, all of them modes the mode-ensemble chapter trains
    assert 8 <= smoke.n_classifiers <= profiles.config("mode_ensemble", "smoke").n_modes
    assert profiles.CHAPTERS["kpca"].needs == ("ood-modes",) and smoke.budget_seconds == 240
    tiny = profiles.config("kpca", "tiny")
    assert tiny.epochs == 1 and tiny.n_train <= 1000


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
    found = result.facts
    assert result.passed and -0.75 <= found.slope <= -0.25 and found.n_probe == 150
    assert list(result.table.index) == [64, 256, 512, 1024, 2048] and found.m == 512
    assert found.error == pytest.approx(result.table.loc[512].iloc[0])
    errors = result.table.iloc[:, 0].to_numpy()
    assert np.polyfit(np.log(result.table.index), np.log(errors), 1)[0] == pytest.approx(found.slope)
    strict = kx.rff_check(
        _Bench(features),
        profiles.config("kpca", "smoke", corp_features=512, rff_probe=150, rff_slope_range=(-0.3, -0.1)),
        seed=0,
    )
    assert not strict.passed and "allowed [-0.3, -0.1]" in strict.detail


def _make(cls, **values):
    """A result object with the given fields and None for every other one."""
    return cls(
        **{
            f.name: values.get(f.name)
            for f in dataclasses.fields(cls)
            if f.init
            and (f.name in values or f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        },
        **{k: v for k, v in values.items() if k not in {f.name for f in dataclasses.fields(cls)}},
    )


def _scores_with(averages: dict[str, list[tuple[float, float]]]):
    """A DetectorScores whose per-classifier averages are given as {detector: [(AUROC, FPR95) per classifier]}."""
    seeds = range(len(next(iter(averages.values()))))
    frame = pd.DataFrame(
        {
            (metric, s): {d: v[s][0 if metric == "AUROC" else 1] for d, v in averages.items()}
            for s in seeds
            for metric in ("AUROC", "FPR95")
        }
    )
    return _make(kx.DetectorScores, averages=frame)


def test_comparisons_read_the_natural_set_fpr95_classifier_by_classifier():
    fpr = {
        "PCA": [0.6, 0.62, 0.58],
        "CoP": [0.5, 0.55, 0.52],
        "CoRP": [0.4, 0.41, 0.45],
        "KNN": [0.45, 0.44, 0.47],
        "MSP": [0.7, 0.7, 0.7],
        "Energy": [0.65, 0.66, 0.64],
    }
    for k, b in kx.FUSED:
        fpr[f"{k} + {b}"] = [v - 0.05 for v in fpr[b]]
    scores = _scores_with({d: [(1 - v, v) for v in values] for d, values in fpr.items()})
    scores.facts, scores.seeds = pd.Series({"best_baseline": "KNN"}), (0, 1, 2)
    cmp = kx.compare_detectors(scores)
    assert cmp.pairs["corp_vs_cop"] == (fpr["CoP"], fpr["CoRP"])  # (b, a): b − a is the improvement
    assert cmp.summary.loc["corp_cop", ""] == pytest.approx(np.mean(np.subtract(fpr["CoP"], fpr["CoRP"])))
    assert cmp.summary.loc["corp_cop", "each"] == "+10.0%, +14.0%, +7.0%"
    assert cmp.pairs["corp_vs_best"] == (fpr["KNN"], fpr["CoRP"])
    baseline, fused = cmp.pairs["fusion"]
    assert np.subtract(baseline, fused) == pytest.approx([0.05] * 3) and cmp.facts.fusion_better == 4
    # the shown table is the glued one with readable labels, plus the fusion row
    assert list(cmp.table.columns) == ["FPR95 improvement per classifier", "mean FPR95 improvement", "mean ΔAUROC"]
    assert cmp.table.loc["CoRP vs CoP", "mean FPR95 improvement"] == cmp.summary.loc["corp_cop", ""]
    assert cmp.table.loc["CoRP vs PCA", "FPR95 improvement per classifier"] == cmp.summary.loc["corp_pca", "each"]
    assert cmp.table.loc["fusions vs their baselines (mean of 4)", "mean FPR95 improvement"] == pytest.approx(0.05)
    assert cmp.table["mean ΔAUROC"].dtype == float and len(cmp.table) == len(cmp.summary) + 1
    # what the prose quotes: one glued name per cell, formatted as the table says
    rec = RunRecord("kpca", profile="smoke", device="cpu", seed=0)
    rec.glue_result(cmp, "kpca_cmp")
    assert str(rec.glued["kpca_cmp_corp_cop"]) == "+10.3%" and rec.metrics["kpca_cmp_n_fusions"] == 4
    assert str(rec.glued["kpca_cmp_corp_best_each"]) == "+5.0%, +3.0%, +2.0%"


# µs per sample against N as the algorithms cost: exact searches linear, the IVF index √N, KPCA constant
ALGORITHM_COST = {
    "knn": lambda n: 0.01 * n,
    "faiss-flat": lambda n: 0.005 * n,
    "faiss-ivf": lambda n: n**0.5,
    "cop": lambda n: 1.0,
    "corp": lambda n: 20.0,
}


def _throughput_rows(median, fastest=None, ns=(1000, 3000, 10000, 30000)):
    """The benchmark's table for costs in µs per sample (functions of N): ``median`` per round's median,
    ``fastest`` (default: the same) per round's fastest; ratios of the medians; IVF at recall 0.97, nprobe 4."""
    from reprobook.benchmarks.ood_throughput import KNN_METHODS, METHODS

    fastest = fastest or median
    rows = []
    for n in ns:
        best = min(median[m](n) for m in KNN_METHODS)
        for m in METHODS:
            ivf = m == "faiss-ivf"
            rows.append(
                dict(
                    method=m,
                    detector=METHODS[m],
                    n_train=n,
                    median_us=median[m](n),
                    p25_us=median[m](n),
                    p75_us=median[m](n),
                    min_us=fastest[m](n),
                    knn_over_method=median["knn"](n) / median[m](n),
                    fastest_knn_over_method=best / median[m](n),
                    q=None,
                    recall=0.97 if ivf else 1.0,
                    max_score_gap=0.01 if ivf else 0.0,
                    nprobe=4 if ivf else None,
                    nlist=316 if ivf else None,
                    tune_recall=None,
                    fit_s=0.0,
                )
            )
    return rows


def test_throughput_slopes_read_the_fastest_round_not_the_median():
    """A median that interference inflates at large N (CoP's 0.3 ms after a faiss search of 30,000 features)
    does not move the check; a cost that grows in every round, the fastest too, fails it."""
    from reprobook.benchmarks import BenchResult

    cost = ALGORITHM_COST
    disturbed = {**cost, "cop": lambda n: 1.0 + n / 10000}  # the median doubles, then quadruples
    settings = dict(repeats=9, feature_dim=64, n_queries=500, target_recall=0.95)
    cfg = profiles.config("kpca", "smoke")
    held = report.throughput(
        cfg,
        BenchResult(
            "ood-throughput", pd.DataFrame(_throughput_rows(disturbed, cost)), settings, {"device": "cpu (test)"}
        ),
    )
    assert held.cost_holds and "CoP 0.00" in held.cost_detail and "fastest of 9 rounds" in held.cost_detail
    assert held.cost.loc["us", "cop"] == pytest.approx(4.0)  # the table still quotes the median
    grows = report.throughput(
        cfg,
        BenchResult(
            "ood-throughput", pd.DataFrame(_throughput_rows(disturbed, disturbed)), settings, {"device": "cpu (test)"}
        ),
    )
    assert not grows.cost_holds and grows.cost.loc["slope", "cop"] > cfg.slope_flat


def test_natural_average_leaves_out_the_noise_sets():
    table = pd.DataFrame(
        {"detector": ["A"] * 3, "ood_set": ["mnist-5k", "gaussian-noise", "average"], "FPR95": [0.4, 0.0, 0.2]}
    )
    assert kx.natural_average(table, ("mnist-5k",), "FPR95")["A"] == pytest.approx(0.4)


def test_throughput_reads_slopes_and_speedups_from_the_benchmark():
    from reprobook.benchmarks import BenchResult
    from reprobook.benchmarks.ood_throughput import METHODS

    rows = _throughput_rows(ALGORITHM_COST, ns=[1000, 10000, 100000])
    settings = dict(repeats=5, feature_dim=64, n_queries=100, target_recall=0.95)
    fake = BenchResult("ood-throughput", pd.DataFrame(rows), settings, {"device": "cpu (test)"})
    t = report.throughput(profiles.config("kpca", "smoke"), fake)
    slope, found = t.cost.loc["slope"], t.facts
    assert slope["knn"] == pytest.approx(1.0) and slope["faiss-ivf"] == pytest.approx(0.5)
    assert slope["cop"] == pytest.approx(0.0, abs=1e-9) and found.n_max == 100000
    assert found.fastest_knn == METHODS["faiss-ivf"]  # √N beats 0.005·N at N = 100,000
    assert found.speedup_cop == pytest.approx(100000**0.5) and found.speedup_corp_sklearn == pytest.approx(50.0)
    assert t.cost_holds and t.exact_agree and t.recall_ok and "CoP 0.00" in t.cost_detail
    assert found.ivf_recall == 0.97 and found.ivf_nprobe == 4
    rec = RunRecord("kpca", profile="smoke", device="cpu", seed=0)
    rec.glue_result(t, "kpca_tp")
    shown = {n: str(rec.glued[f"kpca_tp_{n}"]) for n in ("us_knn", "us_cop", "slope_faiss_flat", "n_max", "ivf_recall")}
    assert shown == {
        "us_knn": "1000.0",
        "us_cop": "1.00",
        "slope_faiss_flat": "1.00",
        "n_max": "100,000",
        "ivf_recall": "97.0%",
    }


def test_claims_are_the_declared_specs_tested_over_the_classifiers_and_holm_adjusted():
    from reprobook.configs.kpca import claim_specs

    specs = claim_specs(profiles.config("kpca", "smoke"))
    rng = np.random.default_rng(0)
    worse = list(0.5 + 0.02 * rng.standard_normal(10))
    pairs = {s.key: ([w + 0.08 + 0.01 * rng.standard_normal() for w in worse], worse) for s in specs}
    cmp = _make(kx.Comparisons, pairs=pairs)
    tests = kx.kpca_claims(specs, cmp, "scale")
    assert [t.key for t in tests] == [s.key for s in specs]
    for t, s in zip(tests, specs):
        expected = claims.superiority(
            *pairs[s.key], sesoi=s.sesoi, paper_effect=s.paper_effect, unit="trained classifiers"
        )
        assert t.verdict.estimate == pytest.approx(expected.estimate) and t.verdict.family == 5
        assert t.verdict.p_raw == pytest.approx(expected.p) and t.verdict.verdict == "reproduced"
        assert t.verdict.n == 10 and t.scale == "scale"
