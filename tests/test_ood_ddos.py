"""DDoS and its baselines: anomaly removal (on the generation only), the two similarity terms, the score direction,
the DM-based baseline, the sanity checks and the experiment's units, the cost bench."""

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from reprobook import benchmarks
from reprobook.data import vision
from reprobook.models import SmallCNN
from reprobook.ood.ddos import (
    COMPONENTS,
    AnomalyRemoval,
    calibration_scales,
    classifier_view,
    combine_terms,
    ddos_terms,
    feature_dissimilarity,
    image_terms,
    mse_distance,
    pair_terms,
    perceptual_distance,
    probability_divergence,
    ssim_score,
)
from reprobook.profiles import ParameterError

SPEC = vision.input_spec("fashion-mnist")


# -- anomaly removal ---------------------------------------------------------------------------------------------------
def test_anomaly_removal_leaves_in_range_activations_untouched_and_clips_the_rest():
    train = torch.rand(1000, 4, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 2.0, 3.0, 4.0])
    removal = AnomalyRemoval(0.05, 0.95).fit(train)
    assert torch.allclose(removal.lower_, torch.quantile(train.double(), 0.05, dim=0).float())
    assert torch.allclose(removal.upper_, torch.quantile(train.double(), 0.95, dim=0).float())
    inside = (removal.lower_ + removal.upper_) / 2
    z = torch.stack([inside, removal.upper_ + 5.0, removal.lower_ - 1.0])
    z[0, 1] = 100.0  # one abnormal activation among normal ones
    out = removal(z)
    assert torch.equal(out[0, [0, 2, 3]], z[0, [0, 2, 3]])  # in range: untouched
    assert out[0, 1] == removal.upper_[1]
    assert torch.equal(out[1], removal.upper_) and torch.equal(out[2], removal.lower_)
    assert torch.allclose(removal.abnormal(z), torch.tensor([0.25, 1.0, 1.0]))


def test_anomaly_removal_needs_fitting_and_sane_quantiles():
    with pytest.raises(RuntimeError, match="fit"):
        AnomalyRemoval()(torch.zeros(1, 3))
    with pytest.raises(ParameterError, match="'clip_high'"):
        AnomalyRemoval(0.5, 0.4)
    with pytest.raises(ParameterError, match="'clip_low'"):
        AnomalyRemoval(-0.1, 0.9)
    with pytest.raises(ParameterError, match="'features'"):
        AnomalyRemoval().fit(torch.zeros(5))


# -- the terms ---------------------------------------------------------------------------------------------------------
def test_feature_dissimilarity_is_one_minus_the_cosine():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    z_hat = torch.tensor([[2.0, 0.0], [0.0, 5.0], [-1.0, 0.0], [4.0, 3.0]])
    assert torch.allclose(
        feature_dissimilarity(z, z_hat), torch.tensor([0.0, 1.0, 2.0, 1 - 24 / 25], dtype=torch.float64)
    )


def test_probability_divergence_is_the_kl_divergence_of_the_softmaxes():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 4, generator=gen), torch.randn(5, 4, generator=gen)
    expected = [entropy(torch.softmax(x, 0).numpy(), torch.softmax(y, 0).numpy()) for x, y in zip(a, b)]
    assert np.allclose(probability_divergence(a, b).numpy(), expected, atol=1e-6)
    assert torch.allclose(probability_divergence(a, a), torch.zeros(5, dtype=torch.float64), atol=1e-12)


def test_anomaly_removal_clips_the_reconstruction_only():
    torch.manual_seed(0)
    head = torch.nn.Linear(6, 3)
    train = torch.rand(200, 6)
    removal = AnomalyRemoval(0.1, 0.9).fit(train)
    z, z_hat = 3 * torch.rand(4, 6), 3 * torch.rand(4, 6)
    got = ddos_terms(head, z, z_hat, removal)
    plain = ddos_terms(head, z, removal(z_hat), None)  # z as it is, x̂'s features clipped
    assert torch.allclose(got["feature"], plain["feature"]) and torch.allclose(got["probability"], plain["probability"])
    both = ddos_terms(head, removal(z), removal(z_hat), None)  # the v1 reading clipped both: not this arm
    assert not torch.allclose(got["feature"], both["feature"])
    assert not torch.allclose(got["feature"], ddos_terms(head, z, z_hat, None)["feature"])


def test_terms_are_combined_in_units_of_their_calibration_medians():
    terms = {"feature": torch.tensor([1.0, 2.0]), "probability": torch.tensor([4.0, 0.0])}
    scales = {"feature": 2.0, "probability": 4.0}
    assert torch.equal(combine_terms(terms, scales, ("feature", "probability")), torch.tensor([1.5, 1.0]))
    assert torch.equal(combine_terms(terms, scales, ("probability",)), torch.tensor([1.0, 0.0]))


def test_perceptual_distances_vanish_for_identical_images():
    torch.manual_seed(0)
    model = SmallCNN(width=4).eval()
    x = torch.rand(3, 1, 28, 28)
    view = classifier_view(model, x)
    assert [tuple(a.shape[1:]) for a in view.activations] == [(4, 14, 14), (8, 7, 7), (16, 7, 7)]
    assert torch.allclose(perceptual_distance(view, view), torch.zeros(3, dtype=torch.float64))
    assert torch.allclose(mse_distance(x, x), torch.zeros(3, dtype=torch.float64))
    assert torch.allclose(ssim_score(x, x), -torch.ones(3, dtype=torch.float64), atol=1e-5)


# -- every score is larger for pairs that differ more (the book's convention: larger = more OoD) -----------------------
def test_every_pair_score_is_larger_for_a_worse_reconstruction():
    torch.manual_seed(0)
    model = SmallCNN(width=8).eval()
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(16, 1, 28, 28, generator=gen)
    close = (x + 0.02 * torch.randn(x.shape, generator=gen)).clamp(0, 1)  # an InD-like faithful x̂
    far = torch.rand(16, 1, 28, 28, generator=gen)  # an x̂ unrelated to x
    with torch.no_grad():
        train = model.features(torch.rand(64, 1, 28, 28, generator=gen))
    removal = AnomalyRemoval(0.01, 0.99).fit(train)
    near, away = pair_terms(model, SPEC, x, close, removal), pair_terms(model, SPEC, x, far, removal)
    scales = calibration_scales(near)
    s_near = {**near.scores(scales), **image_terms(model, SPEC, x, close).scores()}
    s_away = {**away.scores(scales), **image_terms(model, SPEC, x, far).scores()}
    assert set(s_near) == {"MSE", "SSIM", "Deep features", *COMPONENTS}
    for name in s_near:
        assert s_away[name].mean() > s_near[name].mean(), name


def test_calibration_scales_are_the_medians_of_each_term():
    torch.manual_seed(0)
    model = SmallCNN(width=4).eval()
    x = torch.rand(5, 1, 28, 28)
    removal = AnomalyRemoval().fit(torch.rand(50, 16))
    terms = pair_terms(model, SPEC, x, torch.rand(5, 1, 28, 28), removal)
    scales = calibration_scales(terms)
    for removed in (True, False):
        for name in ("feature", "probability"):
            assert scales[removed][name] == pytest.approx(float(terms.terms[removed][name].median()))


# -- the cost benchmark ------------------------------------------------------------------------------------------------
def test_throughput_benchmark_table_and_ratios():
    result = benchmarks.run("ddos-throughput", device="cpu", profile="tiny", n_images=4, repeats=2)
    table = result.table.set_index("method")
    assert list(table.index) == ["classifier", "reconstruction", "ddos"]
    assert (table.images_per_s > 0).all() and table.loc["classifier", "slowdown"] == 1.0
    rounds = result.settings["rounds_s"]
    expected = float(np.median(np.array(rounds["ddos"]) / np.array(rounds["classifier"])))
    assert table.loc["ddos", "slowdown"] == pytest.approx(expected)
    assert result.settings["unet_evaluations"] == 100 // 100 + 1  # tiny: t = 100, stride 100


# -- the experiment on constructed runs --------------------------------------------------------------------------------
def test_held_out_calibration_images_are_never_scored():
    from reprobook.chapters.ddos.samples import split_rows

    scored, calib = split_rows(100, 30, 20, seed=1)
    assert len(scored) == 30 and len(calib) == 20 and not set(scored.tolist()) & set(calib.tolist())
    with pytest.raises(ParameterError, match="'n_calibration'"):
        split_rows(40, 30, 20)


def _fake_run(k=4, pulled=True, seed=0):
    """A constructed DDoSRun: InD pairs faithful, OoD pairs disparate; ``pulled`` reconstructions move OoD features
    to the InD cluster (what the DDPM should do)."""
    from reprobook.chapters.ddos.experiment import CALIBRATION, DDoSRun
    from reprobook.ood.ddos import ClassifierView, ImageTerms, PairTerms

    gen = torch.Generator().manual_seed(seed)
    n, t = 30, 100
    head = torch.nn.Linear(4, 3)
    removal = AnomalyRemoval(0.01, 0.99).fit(torch.rand(200, 4, generator=gen))
    sets = ("test", "far", CALIBRATION)
    terms, knn = [], []
    for _ in range(k):
        per = {}
        for s in sets:
            z = torch.rand(n, 4, generator=gen) + (3.0 if s == "far" else 0.0)
            z_hat = torch.rand(n, 4, generator=gen) if (pulled or s != "far") else z + 0.01
            if s != "far":
                z_hat = z + 0.05 * torch.rand(n, 4, generator=gen)
            view, view_hat = (ClassifierView(f, head(f).detach(), []) for f in (z, z_hat))
            per[s] = PairTerms(
                terms={r: ddos_terms(head, z, z_hat, removal if r else None) for r in (True, False)},
                view=view,
                view_hat=view_hat,
                abnormal_hat=removal.abnormal(z_hat),
            )
        terms.append({t: per})
        knn.append(
            {
                "x": {s: per[s].view.features.norm(dim=1).double() for s in sets[:2]},
                "x̂": {s: per[s].view_hat.features.norm(dim=1).double() for s in sets[:2]},
            }
        )
    images = {
        t: {
            s: ImageTerms(
                torch.rand(n, generator=gen).double() + (s == "far"),
                torch.rand(n, generator=gen).double(),
                torch.rand(n, generator=gen).double(),
            )
            for s in sets
        }
    }
    pixels = {s: torch.rand(n, 1, 28, 28, generator=gen) for s in sets}
    return DDoSRun(
        splits=("test", "far"),
        pixels=pixels,
        recon={t: pixels},
        images=images,
        terms=terms,
        knn=knn,
        classifier=[
            {
                "MSP": {s: torch.rand(n, generator=gen).double() + (s == "far") for s in sets[:2]},
                "Energy": {s: torch.rand(n, generator=gen).double() for s in sets[:2]},
                "KNN": k_["x"],
            }
            for k_ in knn
        ],
        seeds=list(range(k)),
        perceptual_seed=k,
        main_t=t,
    )


def test_the_units_are_the_protected_classifiers_and_the_sanity_checks_gate_the_claims():
    from reprobook import profiles
    from reprobook.chapters.ddos.experiment import all_classifiers, ddos_claims, ddos_results, sanity_checks
    from reprobook.configs.ddos import claim_specs

    cfg = profiles.config("ddos", "smoke", sanity_agreement=0.0, n_pairs=1)
    run = _fake_run(k=4)
    table = all_classifiers(run)
    assert sorted(table.classifier.unique()) == [1, 2, 3, 4]  # one row set per protected classifier
    results = ddos_results(run, cfg)
    assert list(results.auroc.columns) == [1, 2, 3, 4] and "DM baseline (MSE + deep, every t)" in results.auroc.index
    best = results.facts.best_perceptual
    assert results.facts.auroc_perceptual == pytest.approx(results.auroc.loc[best].mean())
    sanity = sanity_checks(run, cfg)
    specs = claim_specs(profiles.config("ddos", "smoke", n_classifiers=4))
    tests = ddos_claims(specs, results, sanity, "test")
    assert [t.verdict.n for t in tests] == [4, 4, 4]
    failed = sanity_checks(_fake_run(k=4, pulled=False), cfg)
    assert not failed.ok and "not more InD-like" in failed.reason
    gated = ddos_claims(specs, results, failed, "test")
    assert all(t.verdict.verdict == "not comparable" and "sanity" in t.verdict.reason for t in gated)


def test_dm_baseline_is_the_mean_of_the_z_scored_distances_over_every_level():
    from reprobook.chapters.ddos.experiment import CALIBRATION, dm_baseline
    from reprobook.ood.ddos import ImageTerms

    run = _fake_run(k=1)
    calib = run.images[100][CALIBRATION]
    mse_z = (run.images[100]["far"].mse - calib.mse.mean()) / calib.mse.std()
    deep_z = (run.images[100]["far"].perceptual - calib.perceptual.mean()) / calib.perceptual.std()
    assert torch.allclose(dm_baseline(run)["far"], (mse_z + deep_z) / 2)
    assert isinstance(calib, ImageTerms)


@pytest.mark.parametrize(
    "settings, name",
    [
        (dict(n_images=0), "n_images"),
        (dict(methods=["ddos"]), "methods"),
        (dict(noise_t=130), "t"),
        (dict(batch=3), "batch"),
    ],
)
def test_bad_benchmark_settings_are_named(settings, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        benchmarks.run("ddos-throughput", device="cpu", profile="tiny", **settings)
