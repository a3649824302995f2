"""The metrics layer: pytorch-ood's numbers against scikit-learn's on the same scores, and the tidy table."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from pytorch_ood.detector import KNN, ODIN, EnergyBased, MaxSoftmax, ReAct
from sklearn.metrics import auc, precision_recall_curve, roc_auc_score, roc_curve
from torch.utils.data import DataLoader, TensorDataset

from reprobook.ood import KernelPCACoP, evaluate, ood_metrics
from reprobook.ood.metrics import METRICS, wide
from reprobook.profiles import ParameterError


def _scores(seed=0, n_in=400, n_out=300, shift=1.0, ties=False):
    rng = np.random.default_rng(seed)
    s_in, s_out = rng.normal(0, 1, n_in), rng.normal(shift, 1.3, n_out)
    if ties:  # coarse scores, many ties (like MSP saturating at 1)
        s_in, s_out = np.round(s_in, 1), np.round(s_out, 1)
    return s_in, s_out


def _fpr_at_95_tpr(pos_scores, neg_scores):
    """sklearn: the FPR at the first ROC point whose TPR reaches 95%, positives scored higher."""
    y = np.r_[np.ones(len(pos_scores)), np.zeros(len(neg_scores))]
    fpr, tpr, _ = roc_curve(y, np.r_[pos_scores, neg_scores], drop_intermediate=False)
    return fpr[np.searchsorted(tpr, 0.95 - 1e-12)]


@pytest.mark.parametrize("seed, ties", [(0, False), (1, False), (2, True)])
def test_pytorch_ood_metrics_agree_with_scikit_learn(seed, ties):
    s_in, s_out = _scores(seed, ties=ties)
    got = ood_metrics(torch.tensor(s_in), torch.tensor(s_out))
    y_ood = np.r_[np.zeros(len(s_in)), np.ones(len(s_out))]  # OoD is the positive class of an outlier score
    scores = np.r_[s_in, s_out]
    assert got["AUROC"] == pytest.approx(roc_auc_score(y_ood, scores), abs=1e-9)
    p, r, _ = precision_recall_curve(y_ood, scores)
    assert got["AUPR-OUT"] == pytest.approx(auc(r, p), abs=1e-9)
    p, r, _ = precision_recall_curve(1 - y_ood, -scores)
    assert got["AUPR-IN"] == pytest.approx(auc(r, p), abs=1e-9)
    # FPR95 of the papers: OoD accepted as InD when 95% of the InD samples are accepted (InD positive)
    assert got["FPR95"] == pytest.approx(_fpr_at_95_tpr(-s_in, -s_out), abs=1e-9)
    # pytorch-ood's own: InD flagged when 95% of the OoD samples are flagged (OoD positive)
    own = ood_metrics(s_in, s_out, fpr_definition="ood")
    assert own["FPR95"] == pytest.approx(_fpr_at_95_tpr(s_out, s_in), abs=1e-9)
    assert {k: own[k] for k in METRICS if k != "FPR95"} == {k: got[k] for k in METRICS if k != "FPR95"}


def test_the_two_fpr95_definitions_differ_on_asymmetric_scores():
    s_in, s_out = _scores(3, shift=2.0)
    s_out[:60] = -5.0  # a fifth of the OoD samples look very InD-like
    paper, own = ood_metrics(s_in, s_out)["FPR95"], ood_metrics(s_in, s_out, fpr_definition="ood")["FPR95"]
    assert paper < 0.5 < own


def test_convention_guard_perfect_inverted_and_random_detectors():
    s_in, s_out = np.zeros(100), np.ones(80)
    perfect = ood_metrics(s_in, s_out)
    assert perfect["AUROC"] == 1.0 and perfect["FPR95"] == 0.0
    assert perfect["AUPR-IN"] == pytest.approx(1.0) and perfect["AUPR-OUT"] == pytest.approx(1.0)
    inverted = ood_metrics(s_out[:80] + 0, s_in[:80])  # OoD scored *lower*: the wrong sign convention
    assert inverted["AUROC"] == 0.0 and inverted["FPR95"] == 1.0
    rng = np.random.default_rng(0)
    chance = ood_metrics(rng.normal(size=5000), rng.normal(size=5000))
    assert chance["AUROC"] == pytest.approx(0.5, abs=0.02)
    assert chance["FPR95"] == pytest.approx(0.95, abs=0.02)


def test_bad_inputs_are_named():
    with pytest.raises(ParameterError, match="'fpr_definition'.*'id', 'ood'"):
        ood_metrics([0.0, 1.0], [2.0], fpr_definition="tpr")
    with pytest.raises(ParameterError, match="'scores_out'"):
        ood_metrics([0.0, 1.0], [])
    with pytest.raises(ParameterError, match="'scores_in'"):
        ood_metrics([0.0, float("nan")], [1.0])


# -- the tidy table over a small benchmark -----------------------------------------------------------


@dataclass
class _Set:
    features: torch.Tensor
    logits: torch.Tensor
    labels: torch.Tensor


class _Bench:
    """The parts of an OODBenchmark that evaluate() reads: train/test/ood feature sets, and loader(name)."""

    def __init__(self, seed=0):
        gen = torch.Generator().manual_seed(seed)
        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU())
        self.head = torch.nn.Linear(8, 3)
        self.model = torch.nn.Sequential(self.body, self.head).eval()
        centres = 3 * torch.rand(3, 16, generator=gen)

        def ind(n):
            y = torch.randint(0, 3, (n,), generator=gen)
            return (centres[y] + 0.3 * torch.randn(n, 16, generator=gen)).view(n, 1, 4, 4), y

        self.images = {
            "train": ind(300),
            "test": ind(100),
            "noise": (torch.randn(80, 1, 4, 4, generator=gen), -torch.ones(80, dtype=torch.long)),
            "far": (5 + torch.rand(60, 1, 4, 4, generator=gen), -torch.ones(60, dtype=torch.long)),
        }
        with torch.no_grad():
            sets = {k: _Set(self.body(x), self.model(x), y) for k, (x, y) in self.images.items()}
        self.train, self.test = sets["train"], sets["test"]
        self.ood = {"noise": sets["noise"], "far": sets["far"]}

    def loader(self, name, batch_size=32):
        return DataLoader(TensorDataset(*self.images[name]), batch_size=batch_size)


def test_evaluate_returns_a_tidy_table_with_averages():
    bench = _Bench()
    react = ReAct(backbone=lambda z: z, head=lambda z: bench.head(z.flatten(1)))
    detectors = {
        "MSP": MaxSoftmax(None),
        "Energy": EnergyBased(None),
        "KNN": KNN(None, k=5),
        "ReAct": react,
        "CoP": KernelPCACoP(ratio=0.9),
        "ODIN": ODIN(bench.model, eps=0.001, temperature=10),
    }
    table = evaluate(detectors, bench)
    assert list(table.columns) == ["detector", "ood_set", *METRICS]
    assert len(table) == len(detectors) * 3
    assert list(dict.fromkeys(table.detector)) == list(detectors)
    assert list(table.ood_set[:3]) == ["noise", "far", "average"]
    assert table[list(METRICS)].apply(lambda c: c.between(0, 1)).all().all()
    for name in detectors:
        rows = table[table.detector == name].set_index("ood_set")
        assert rows.loc["average", "AUROC"] == pytest.approx(rows.loc[["noise", "far"], "AUROC"].mean())
    # one row recomputed by hand: MSP on "far"
    s_in = -torch.softmax(bench.test.logits, 1).max(1).values
    s_out = -torch.softmax(bench.ood["far"].logits, 1).max(1).values
    row = table[(table.detector == "MSP") & (table.ood_set == "far")].iloc[0]
    assert row["AUROC"] == pytest.approx(
        roc_auc_score(np.r_[np.zeros(100), np.ones(60)], torch.cat([s_in, s_out]).numpy())
    )
    assert set(table.attrs["seconds"]) == set(detectors)
    w = wide(table, "FPR95")
    assert list(w.columns) == ["noise", "far", "average"] and list(w.index) == list(detectors)


def test_evaluate_checks_its_arguments():
    bench = _Bench()
    with pytest.raises(ParameterError, match="'detectors'"):
        evaluate({}, bench)
    with pytest.raises(ParameterError, match=r"'detectors\['x'\]'"):
        evaluate({"x": object()}, bench)
    with pytest.raises(ParameterError, match="'metric'.*AUROC"):
        wide(evaluate({"MSP": MaxSoftmax(None)}, bench), "accuracy")


def test_paired_bootstrap_of_a_clearly_better_detector_and_of_a_detector_against_itself():
    from reprobook.ood.metrics import paired_bootstrap

    rng = np.random.default_rng(0)
    base = {"test": rng.normal(0, 1, 300), "a": rng.normal(0.5, 1, 200), "b": rng.normal(0.3, 1, 150)}
    better = {"test": base["test"], "a": base["a"] + 2.0, "b": base["b"] + 2.0}  # OoD scored much higher
    res = paired_bootstrap(better, base, n_boot=100)
    expected = np.mean(
        [
            roc_auc_score(np.r_[np.zeros(300), np.ones(n)], np.r_[better["test"], better[k]])
            - roc_auc_score(np.r_[np.zeros(300), np.ones(n)], np.r_[base["test"], base[k]])
            for k, n in (("a", 200), ("b", 150))
        ]
    )
    assert res["improvement"] == pytest.approx(expected, abs=1e-9)
    # no round in which a was not better: p = (0 + 1) / (100 + 1), never 0
    assert res["p_better"] == pytest.approx(1 / 101) and 0 < res["low"] <= res["improvement"] <= res["high"]
    fpr = paired_bootstrap(better, base, metric="FPR95", n_boot=50)
    assert fpr["improvement"] > 0  # a lower FPR95 counts as an improvement
    same = paired_bootstrap(base, base, n_boot=50)
    assert same["improvement"] == 0.0 and same["p_better"] == 1.0
    again = paired_bootstrap(better, base, n_boot=100)
    assert again == res  # seeded
    with pytest.raises(ParameterError, match="'metric'"):
        paired_bootstrap(base, base, metric="ACC")
    with pytest.raises(ParameterError, match="'scores_b'"):
        paired_bootstrap(base, {"test": base["test"], "a": base["a"]})


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("metric, definition", [("AUROC", "id"), ("FPR95", "id"), ("FPR95", "ood"), ("AUPR-IN", "id")])
def test_each_bootstrap_round_is_the_metric_of_the_resampled_scores(metric, definition, ties):
    """The weighted (all-rounds-at-once) metrics against pytorch-ood on each round's resampled scores."""
    from reprobook.ood.metrics import _metric_value, bootstrap_average, resample_counts

    s_in, s_out = _scores(4, n_in=120, n_out=90, ties=ties)
    scores = {"test": s_in, "far": s_out, "near": s_out - 0.8}
    result = bootstrap_average(scores, metric=metric, n_boot=12, seed=5, fpr_definition=definition)
    counts = resample_counts({k: len(v) for k, v in scores.items()}, 12, 5)
    for r in range(12):
        picked = {k: torch.from_numpy(np.repeat(v, counts[k][r])) for k, v in scores.items()}
        assert all(len(picked[k]) == len(scores[k]) for k in scores)  # a round draws n of n
        by_hand = np.mean([_metric_value(metric, definition, picked["test"], picked[k]) for k in ("far", "near")])
        assert result["rounds"][r] == pytest.approx(by_hand, abs=1e-12)
    observed = np.mean([ood_metrics(s_in, v, fpr_definition=definition)[metric] for v in (s_out, s_out - 0.8)])
    assert result["observed"] == pytest.approx(observed, abs=1e-12)


def test_resample_counts_depend_on_seed_name_and_size_only():
    from reprobook.ood.metrics import resample_counts

    one = resample_counts({"test": 50, "a": 30}, 20, 1)
    two = resample_counts({"b": 40, "a": 30, "test": 50}, 20, 1)
    assert np.array_equal(one["a"], two["a"]) and np.array_equal(one["test"], two["test"])
    assert (one["a"].sum(1) == 30).all() and not np.array_equal(one["a"], resample_counts({"a": 30}, 20, 2)["a"])
    # each sample is drawn once per round on average
    many = resample_counts({"x": 10}, 4000, 0)["x"]
    assert many.mean(0) == pytest.approx(np.ones(10), abs=0.06)
    with pytest.raises(ParameterError, match="'n_boot'"):
        resample_counts({"x": 10}, 0, 0)


def test_mean_bootstrap_averages_classifiers_round_by_round():
    from reprobook.ood.metrics import bootstrap_average, mean_bootstrap

    rng = np.random.default_rng(2)
    runs = [{"test": rng.normal(0, 1, 80), "x": rng.normal(1 + 0.2 * i, 1, 60)} for i in range(3)]
    each = [bootstrap_average(r, n_boot=30, seed=1) for r in runs]
    mean = mean_bootstrap(each)
    assert mean["observed"] == pytest.approx(np.mean([e["observed"] for e in each]))
    assert np.allclose(mean["rounds"], np.mean([e["rounds"] for e in each], axis=0)) and mean["averaged_over"] == 3
    with pytest.raises(ParameterError, match="'results'.*seed"):
        mean_bootstrap([each[0], bootstrap_average(runs[1], n_boot=30, seed=2)])


def test_bootstrapping_each_detector_once_pairs_them_like_paired_bootstrap():
    from reprobook.ood.metrics import bootstrap_average, compare_bootstrapped, paired_bootstrap

    rng = np.random.default_rng(1)
    a = {"test": rng.normal(0, 1, 200), "x": rng.normal(1, 1, 100)}
    b = {"test": a["test"] + rng.normal(0, 0.5, 200), "x": a["x"] + rng.normal(0, 0.5, 100)}
    one = compare_bootstrapped(bootstrap_average(a, n_boot=60, seed=3), bootstrap_average(b, n_boot=60, seed=3))
    assert one == paired_bootstrap(a, b, n_boot=60, seed=3)
    with pytest.raises(ParameterError, match="'b'.*seed"):
        compare_bootstrapped(bootstrap_average(a, n_boot=10, seed=3), bootstrap_average(b, n_boot=10, seed=4))
