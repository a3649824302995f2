"""The OoD throughput benchmark's machinery on tiny sizes: its table, its ratios, bad settings (never its speed)."""

import numpy as np
import pytest
import torch

from reprobook import benchmarks
from reprobook.benchmarks import ood_throughput
from reprobook.profiles import ParameterError

TINY = dict(n_train=[200, 60], n_queries=20, warmup=0, repeats=3, feature_dim=8, knn_k=5, corp_features=32)


@pytest.fixture(scope="module")
def tiny():
    return benchmarks.run("ood-throughput", device="cpu", profile="smoke", **TINY)


def test_one_row_per_method_and_n(tiny):
    table = tiny.table
    assert list(zip(table.method, table.n_train)) == [(m, n) for n in (60, 200) for m in ood_throughput.METHODS]
    assert (table.median_us > 0).all() and (table.p25_us <= table.median_us).all()
    assert (table.median_us <= table.p75_us).all()
    assert table[table.method == "knn"].q.isna().all()
    assert (table[table.method != "knn"].q >= 1).all()


def test_ratio_is_knn_time_over_method_time_round_by_round(tiny):
    rounds = tiny.settings["rounds_s"]
    for row in tiny.table.itertuples():
        knn = np.array(rounds["knn"][str(row.n_train)])
        mine = np.array(rounds[row.method][str(row.n_train)])
        assert len(mine) == TINY["repeats"]
        assert row.knn_over_method == pytest.approx(float(np.median(knn / mine)))
        assert row.median_us == pytest.approx(1e6 * float(np.median(mine)) / TINY["n_queries"])
    assert (tiny.table[tiny.table.method == "knn"].knn_over_method == 1.0).all()


def test_settings_are_reported(tiny):
    s = tiny.settings
    assert s["n_train"] == [60, 200] and s["feature_dim"] == 8 and s["corp_features"] == 32
    assert s["corp_ratio"] == 0.8 and s["cop_ratio"] == 0.85 and s["knn_k"] == 5  # the profile's ratios
    assert "synthetic" in s["features"] and "pytorch-ood" in s["knn_backend"]


def test_synthetic_features_are_seeded_and_non_negative():
    a, b = ood_throughput.synthetic_features(50, 6, seed=1), ood_throughput.synthetic_features(50, 6, seed=1)
    assert torch.equal(a, b) and a.shape == (50, 6) and (a >= 0).all()


BAD = [(dict(batch=3), "batch"), (dict(n_train=[]), "n_train"), (dict(n_train=[10, 0]), "n_train"),
       (dict(repeats=0), "repeats"), (dict(methods=["cop"]), "methods"), (dict(methods=["lof", "knn"]), "methods"),
       (dict(knn_k=100, n_train=[50]), "knn_k"), (dict(corp_ratio=1.5), "corp_ratio"), (dict(corp_gamma=0), "corp_gamma")]


@pytest.mark.parametrize("settings, name", BAD)
def test_bad_settings_are_named(settings, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        ood_throughput.measure(torch.device("cpu"), "smoke", **settings)
