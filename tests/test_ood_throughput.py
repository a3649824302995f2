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
    knn = table.method.isin(ood_throughput.KNN_METHODS)
    assert table[knn].q.isna().all() and (table[~knn].q >= 1).all()
    assert table[~knn].recall.isna().all()
    assert (table.calls == 1).all()  # no warm-up call: nothing to size the rounds by


def test_a_call_faster_than_the_round_is_repeated_within_it():
    result = benchmarks.run("ood-throughput", device="cpu", profile="smoke", **dict(TINY, warmup=1, repeats=2))
    calls = result.table.set_index(["method", "n_train"]).calls
    # CoP scores 20 samples of 8 features in far less than MIN_ROUND_S: its rounds repeat the call
    assert (calls >= 1).all() and calls["cop"].min() > 1
    assert all(len(v) == 2 for m in result.settings["rounds_s"].values() for v in m.values())


def test_exact_knn_three_ways_agree_and_the_approximate_index_reports_its_recall(tiny):
    table = tiny.table.set_index(["method", "n_train"])
    for n in (60, 200):
        # faiss's flat index and scikit-learn find the same k-th neighbour: the same scores
        assert table.loc[("faiss-flat", n), "max_score_gap"] < 1e-5 and table.loc[("knn", n), "max_score_gap"] < 1e-5
        assert table.loc[("faiss-flat", n), "recall"] == 1.0
        ivf = table.loc[("faiss-ivf", n)]
        assert 0.0 < ivf.recall <= 1.0 and 1 <= ivf.nprobe <= ivf.nlist
        assert ivf.nlist == max(1, min(round(n**0.5), n // 39))  # √N lists, at most N/39
        # nprobe reached the target recall on the tuning queries, or searches every list (then it is exact)
        assert ivf.tune_recall >= tiny.settings["target_recall"] or ivf.nprobe == ivf.nlist


def test_recall_and_faiss_scores_against_a_brute_force_reference():
    rng = np.random.default_rng(0)
    train, queries = torch.from_numpy(rng.random((300, 6))), torch.from_numpy(rng.random((20, 6)))
    unit = lambda x: x / x.norm(dim=1, keepdim=True)  # noqa: E731
    dist = torch.cdist(unit(queries), unit(train))
    exact = ood_throughput.FaissKNN(7).fit(train)
    assert np.allclose(exact.predict(ood_throughput._unit(queries)), dist.sort(1).values[:, 6].numpy(), atol=1e-5)
    truth = dist.argsort(1)[:, :7].numpy()
    assert ood_throughput.recall_at_k(truth, truth) == 1.0
    assert ood_throughput.recall_at_k(truth[:, ::-1], truth) == 1.0  # the order does not matter
    half = np.concatenate([truth[:, :3], np.full((20, 4), -1)], axis=1)
    assert ood_throughput.recall_at_k(half, truth) == pytest.approx(3 / 7)
    ivf = ood_throughput.FaissKNN(7, approximate=True).fit(train)
    assert ivf.nlist == 7  # min(round(√300), 300 // 39)
    reached = ivf.tune(ood_throughput._unit(queries), exact, 0.99)
    assert reached >= 0.99 or ivf.nprobe == 7
    chosen = ivf.nprobe
    if chosen > 1:  # the smallest power of two that reaches it: half as many lists do not
        ivf.index.nprobe = chosen // 2
        assert ood_throughput.recall_at_k(ivf.neighbours(ood_throughput._unit(queries))[1], truth) < 0.99
    ivf.index.nprobe = 7
    assert ood_throughput.recall_at_k(ivf.neighbours(ood_throughput._unit(queries))[1], truth) == 1.0  # all lists


def test_the_fastest_knn_ratio_takes_the_fastest_knn_of_each_round(tiny):
    rounds = tiny.settings["rounds_s"]
    for row in tiny.table.itertuples():
        n = str(row.n_train)
        fastest = np.min([rounds[m][n] for m in ood_throughput.KNN_METHODS], axis=0)
        assert row.fastest_knn_over_method == pytest.approx(float(np.median(fastest / np.array(rounds[row.method][n]))))
        assert row.fastest_knn_over_method <= row.knn_over_method + 1e-12 or row.method == "knn"


def test_ratio_is_knn_time_over_method_time_round_by_round(tiny):
    rounds = tiny.settings["rounds_s"]
    for row in tiny.table.itertuples():
        knn = np.array(rounds["knn"][str(row.n_train)])
        mine = np.array(rounds[row.method][str(row.n_train)])
        assert len(mine) == TINY["repeats"]
        assert row.knn_over_method == pytest.approx(float(np.median(knn / mine)))
        assert row.median_us == pytest.approx(1e6 * float(np.median(mine)) / TINY["n_queries"])
        assert row.min_us == pytest.approx(1e6 * float(np.min(mine)) / TINY["n_queries"]) and row.min_us <= row.p25_us
    assert (tiny.table[tiny.table.method == "knn"].knn_over_method == 1.0).all()


def test_settings_are_reported(tiny):
    s = tiny.settings
    assert s["n_train"] == [60, 200] and s["feature_dim"] == 8 and s["corp_features"] == 32
    assert s["corp_ratio"] == 0.8 and s["cop_ratio"] == 0.85 and s["knn_k"] == 5  # the profile's ratios
    assert "synthetic" in s["features"] and "pytorch-ood" in s["knn_backend"] and "faiss" in s["knn_backend"]
    assert s["target_recall"] == 0.95 and s["faiss_threads"] >= 1


def test_every_profile_has_sizes():
    for profile in ("tiny", "smoke", "paper"):
        assert (
            max(ood_throughput.SIZES[profile]["n_train"]) >= 10 * min(ood_throughput.SIZES[profile]["n_train"])
            or profile == "tiny"
        )


def test_synthetic_features_are_seeded_and_non_negative():
    a, b = ood_throughput.synthetic_features(50, 6, seed=1), ood_throughput.synthetic_features(50, 6, seed=1)
    assert torch.equal(a, b) and a.shape == (50, 6) and (a >= 0).all()


BAD = [
    (dict(batch=3), "batch"),
    (dict(n_train=[]), "n_train"),
    (dict(n_train=[10, 0]), "n_train"),
    (dict(repeats=0), "repeats"),
    (dict(methods=["cop"]), "methods"),
    (dict(methods=["lof", "knn"]), "methods"),
    (dict(knn_k=100, n_train=[50]), "knn_k"),
    (dict(corp_ratio=1.5), "corp_ratio"),
    (dict(corp_gamma=0), "corp_gamma"),
    (dict(target_recall=0), "target_recall"),
    (dict(methods=["knn", "annoy"]), "methods"),
]


@pytest.mark.parametrize("settings, name", BAD)
def test_bad_settings_are_named(settings, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        ood_throughput.measure(torch.device("cpu"), "smoke", **settings)
