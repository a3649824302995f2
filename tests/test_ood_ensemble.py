"""Mode-ensemble combination rules against hand computations, autograd and pytorch-ood, on constructed modes."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from pytorch_ood.detector import KNN, EnergyBased, GradNorm, MaxSoftmax
from sklearn.neighbors import NearestNeighbors

from reprobook import profiles
from reprobook.chapters.mode_ensemble.ensembles import (
    endpoint,
    ensemble_gain,
    ensembles_to_score,
    pair_matrix,
    score_ensembles,
    variance_ratio,
)
from reprobook.models import SmallCNN
from reprobook.ood.ensemble import (
    DETECTORS,
    disjoint_units,
    ensemble_scores,
    gradnorm_scores,
    mean_features,
    mean_logits,
    member_subsets,
)
from reprobook.ood.features import FeatureSet
from reprobook.ood.modes import Mode, ModeSet, odin_logits, rankfeat_logits
from reprobook.profiles import ParameterError

CFG = profiles.config("mode_ensemble", "tiny", knn_k=3)


# -- constructed modes: InD features near class centres and confident logits; OoD far away and flat --------------------
class FakeBench(SimpleNamespace):
    def features(self, name):
        return self.train if name == "train" else self.test if name == "test" else self.ood[name]


def _mode(seed, n=40, d=6, classes=3):
    gen = torch.Generator().manual_seed(seed)
    centres = 3 * torch.eye(classes, d)
    y = torch.arange(n) % classes

    def ind(m):
        z = centres[y[:m]] + 0.3 * torch.rand(m, d, generator=gen)
        return FeatureSet(
            z, 4 * torch.eye(classes)[y[:m]] + 0.2 * torch.randn(m, classes, generator=gen), y[:m].clone()
        )

    train, test = ind(n), ind(n // 2)
    z_out = 3 + 2 * torch.rand(n // 2, d, generator=gen)
    out = FeatureSet(z_out, 0.2 * torch.randn(n // 2, classes, generator=gen), -torch.ones(n // 2, dtype=torch.long))
    bench = FakeBench(train=train, test=test, ood={"far": out})
    extra = {s: fs.logits + 0.1 * seed for s, fs in (("test", test), ("far", out))}
    return Mode(seed, bench, odin=extra, rankfeat={s: v - 0.05 for s, v in extra.items()})


def _modes(k=3):
    modes = [_mode(s) for s in range(k)]
    return ModeSet(modes, {"test": torch.arange(20), "far": torch.arange(20)})


# -- the rules --------------------------------------------------------------------------------------------------------
def test_mean_logits_and_features_are_the_plain_averages():
    a, b = torch.tensor([[1.0, 3.0]]), torch.tensor([[3.0, -1.0]])
    assert torch.equal(mean_logits([a, b]), torch.tensor([[2.0, 1.0]], dtype=torch.float64))
    assert torch.equal(mean_features([a, b, a]), torch.tensor([[5 / 3, 5 / 3]], dtype=torch.float64))


def test_msp_of_an_ensemble_is_the_msp_of_the_averaged_logits():
    modes = _modes(2)
    scores = ensemble_scores(modes, [0, 1], CFG, ["MSP", "Energy", "ODIN", "RankFeat"])
    for split in ("test", "far"):
        l0, l1 = modes.outputs(0, split).logits, modes.outputs(1, split).logits
        by_hand = -torch.softmax((l0.double() + l1.double()) / 2, dim=1).max(1).values  # averaged logits → MSP
        assert torch.allclose(scores["MSP"][split], by_hand)
        assert torch.allclose(scores["Energy"][split], -torch.logsumexp((l0.double() + l1.double()) / 2, dim=1))
        o0, o1 = modes.modes[0].odin[split].double(), modes.modes[1].odin[split].double()
        assert torch.allclose(
            scores["ODIN"][split], -torch.softmax((o0 + o1) / 2 / CFG.odin_temperature, 1).max(1).values
        )
        r0, r1 = modes.modes[0].rankfeat[split].double(), modes.modes[1].rankfeat[split].double()
        assert torch.allclose(scores["RankFeat"][split], -torch.logsumexp((r0 + r1) / 2, dim=1))


def test_a_single_mode_is_scored_like_pytorch_ood_does():
    modes = _modes(2)
    scores = ensemble_scores(modes, [1], CFG, ["MSP", "Energy"])
    logits = modes.outputs(1, "far").logits
    assert torch.allclose(scores["MSP"]["far"], MaxSoftmax.score(logits).double())
    assert torch.allclose(scores["Energy"]["far"], EnergyBased.score(logits).double())


def test_knn_of_an_ensemble_is_knn_on_the_averaged_features():
    modes = _modes(3)
    members = [0, 2]
    scores = ensemble_scores(modes, members, CFG, ["KNN"])

    def unit(z):
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    train = unit(np.mean([modes.outputs(k, "train").features.numpy() for k in members], 0))
    test = unit(np.mean([modes.outputs(k, "far").features.numpy() for k in members], 0))
    dist, _ = NearestNeighbors().fit(train).kneighbors(test, n_neighbors=CFG.knn_k)
    assert np.allclose(scores["KNN"]["far"].numpy(), dist[:, -1], atol=1e-5)  # the k-th neighbour's distance
    alone = KNN(None, k=CFG.knn_k).fit_features(
        modes.outputs(0, "train").features, modes.modes[0].benchmark.train.labels
    )
    assert not torch.allclose(scores["KNN"]["far"], alone.predict_features(modes.outputs(0, "far").features).double())


def test_gradnorm_closed_form_matches_autograd_of_the_official_rule():
    gen = torch.Generator().manual_seed(3)
    m, d, c, n, temperature = 3, 5, 4, 6, 2.0
    heads = [torch.nn.Linear(d, c) for _ in range(m)]
    z = [torch.rand(n, d, generator=gen) for _ in range(m)]
    logits = [h(zk).detach() for h, zk in zip(heads, z)]
    expected = []
    for i in range(n):  # batch size 1, as the official script
        for h in heads:
            h.zero_grad()
        mean = sum(h(zk[i : i + 1]) for h, zk in zip(heads, z)) / m
        loss = -torch.log_softmax(mean / temperature, dim=1).sum()  # targets of ones: a sum over the classes
        loss.backward()
        expected.append(sum(h.weight.grad.abs().sum() for h in heads) / m)
    got = gradnorm_scores(logits, z, temperature)
    assert torch.allclose(-got, torch.stack(expected).double(), rtol=1e-5)


def test_gradnorm_of_one_mode_is_pytorch_oods_up_to_the_class_count():
    torch.manual_seed(0)
    model = SmallCNN(width=4).eval()
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        z = model.features(x)
        logits = model.head(z)
    ours = gradnorm_scores([logits], [z])
    # pytorch-ood averages the loss over the C classes, the official code sums: a factor C, same ranking
    theirs = GradNorm(model, param_filter=lambda name: name == "head.weight").predict(x)
    assert torch.allclose(ours, 10 * theirs.double(), rtol=1e-4)


def test_every_score_is_larger_for_ood():
    modes = _modes(3)
    for members in ([0], [0, 1, 2]):
        scores = ensemble_scores(modes, members, CFG, DETECTORS)
        for det, per in scores.items():
            assert per["far"].mean() > per["test"].mean(), det


def test_bad_members_and_detectors_are_named():
    modes = _modes(2)
    for members in ([], [0, 0], [2], [True], "01"):
        with pytest.raises(ParameterError, match="'members'"):
            ensemble_scores(modes, members, CFG)
    with pytest.raises(ParameterError, match="'detectors'"):
        ensemble_scores(modes, [0], CFG, ["LOF"])
    with pytest.raises(ParameterError, match="'logits'"):
        mean_logits([torch.zeros(2, 3), torch.zeros(3, 3)])


# -- ensembles of growing size ----------------------------------------------------------------------------------------
def test_member_subsets_are_all_combinations_or_a_seeded_sample():
    assert member_subsets(4, 2, 10) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    sample = member_subsets(10, 3, 5, seed=1)
    assert len(sample) == 5 and sample == member_subsets(10, 3, 5, seed=1)
    assert all(len(set(s)) == 3 for s in sample)
    with pytest.raises(ParameterError, match="'size'"):
        member_subsets(3, 4, 5)


def test_the_scored_ensembles_are_singles_every_pair_the_units_samples_and_all():
    cfg = profiles.config("mode_ensemble", "tiny", knn_k=3, max_subsets=2, ensemble_sizes=(1, 2, 3, 5, 6))
    chosen = ensembles_to_score(6, cfg, seed=0)
    sizes = {m: sum(len(c) == m for c in chosen) for m in range(1, 7)}
    assert sizes == {1: 6, 2: 15, 3: 2, 4: 0, 5: 2, 6: 1}
    assert disjoint_units(6, 2) == [(0, 1), (2, 3), (4, 5)] and disjoint_units(7, 3) == [(0, 1, 2), (3, 4, 5)]
    assert len(set(chosen)) == len(chosen)


def test_study_scores_every_size_and_the_gain_reads_its_units():
    modes = _modes(4)
    cfg = profiles.config(
        "mode_ensemble", "tiny", knn_k=3, max_subsets=2, ood_datasets=("far",), primary_detectors=("MSP", "KNN")
    )
    study = score_ensembles(modes, cfg)
    sizes = study.table.groupby("size")["members"].nunique().to_dict()
    assert sizes == {1: 4, 2: 6, 4: 1}
    assert set(study.table.detector) == set(CFG.detectors)
    gain = ensemble_gain(study, cfg, ("far",))
    primary = endpoint(study, ("MSP", "KNN"), ("far",))
    # unit (1, 2): the mean of modes 1 and 2 against their pair's ensemble, on the primary endpoint
    assert gain.units.loc["1+2", "members' mean"] == pytest.approx((primary["1"] + primary["2"]) / 2)
    assert gain.units.loc["1+2", "ensemble"] == pytest.approx(primary["1+2"])
    assert gain.facts.n_units == 2 and not gain.per_detector.loc["RankFeat", "in the primary endpoint"]
    singles, pairs = pair_matrix(primary, 4)
    assert pairs[0, 1] == pairs[1, 0] == pytest.approx(primary["1+2"]) and pairs[2, 2] == singles[2]


def test_variance_ratio_against_the_averaging_null():
    singles = np.array([0.1, 0.3, 0.5, 0.7])
    averaged = {(i, j): (singles[i] + singles[j]) / 2 for i in range(4) for j in range(4)}
    # ensembles exactly the averages: the ratio is 1, the log 0
    equal = np.array([[averaged[i, j] for j in range(4)] for i in range(4)])
    assert variance_ratio(singles, equal, np.arange(4)) == pytest.approx(0.0, abs=1e-9)
    # ensembles half as spread around their mean: log 2
    centre = equal[np.triu_indices(4, 1)].mean()
    half = centre + (equal - centre) / 2
    np.fill_diagonal(half, singles)
    i, j = np.triu_indices(4, 1)
    expected = np.log(np.std(equal[i, j], ddof=1) / np.std(half[i, j], ddof=1))
    assert variance_ratio(singles, half, np.arange(4)) == pytest.approx(expected)
    # a resample repeating a mode never pairs it with itself; one with a single distinct pair has nothing to compare
    assert variance_ratio(singles, half, np.array([0, 0, 1, 2, 3])) == pytest.approx(expected)
    assert variance_ratio(singles, half, np.array([2, 2, 2, 3])) == 0.0


# -- the two detectors that need the images -------------------------------------------------------------------------
def test_odin_with_no_step_gives_the_plain_logits():
    torch.manual_seed(1)
    model = SmallCNN(width=4).eval()
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        plain = model(x)
    assert torch.allclose(odin_logits(model, x, eps=0.0, temperature=1000.0), plain)
    assert not torch.allclose(odin_logits(model, x, eps=0.05, temperature=1000.0), plain)


def test_odin_is_the_official_step_on_the_normalised_input():
    """utils_ood.py: x̃ = x − ε·(2·1[∇ₓ ≥ 0] − 1), ∇ₓ of CE(f(x)/T, argmax f(x)); logits of x̃ (no division by std)."""
    torch.manual_seed(3)
    model = SmallCNN(width=4).eval()
    x = torch.rand(5, 1, 28, 28)
    eps, temperature = 0.0014, 1000.0
    xr = x.clone().requires_grad_(True)
    out = model(xr)
    loss = torch.nn.functional.cross_entropy(out / temperature, out.argmax(1).detach())
    loss.backward()
    sign = (torch.ge(xr.grad, 0).float() - 0.5) * 2
    with torch.no_grad():
        expected = model(x - eps * sign)
    assert torch.allclose(odin_logits(model, x, eps=eps, temperature=temperature), expected, atol=1e-5)


def test_mahalanobis_of_pytorch_ood_is_the_naive_tied_covariance_distance():
    from pytorch_ood.detector import Mahalanobis

    gen = torch.Generator().manual_seed(4)
    y = torch.arange(60) % 3
    z = torch.randn(60, 4, generator=gen) + 3 * torch.eye(3, 4)[y]
    queries = torch.randn(7, 4, generator=gen) * 2
    scores = Mahalanobis(None).fit_features(z, y).predict_features(queries)
    means = torch.stack([z[y == c].mean(0) for c in range(3)])
    centred = z - means[y]
    cov = centred.T @ centred / len(z)
    precision = torch.linalg.pinv(cov)
    d = torch.stack([((queries - m) @ precision * (queries - m)).sum(1) for m in means], 1).min(1).values
    # pytorch-ood keeps the covariance undivided by N and scores ½·d: the same score up to the factor 2N, so the
    # same ranking and the same FPR95 and AUROC as the official code's empirical covariance
    assert torch.allclose(2 * len(z) * scores.double(), d.double(), rtol=1e-3)
    assert torch.equal(scores.argsort(), d.argsort())


def test_rankfeat_logits_remove_the_rank_one_part_of_the_last_feature_map():
    torch.manual_seed(2)
    model = SmallCNN(width=4).eval().to(memory_format=torch.channels_last)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        maps = model.body[:3](x).contiguous()
        b, c, h, w = maps.shape
        u, s, v = torch.linalg.svd(maps.reshape(b, c, h * w), full_matrices=False)
        edited = maps.reshape(b, c, h * w) - s[:, :1, None] * u[:, :, :1] @ v[:, :1, :]
        expected = model.head(edited.reshape(b, c, h, w).mean((2, 3)))
    assert torch.allclose(rankfeat_logits(model, x), expected, atol=1e-5)
