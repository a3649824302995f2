"""DDoS and its perceptual baselines: anomaly removal, the two similarity terms, the score direction, the cost bench."""

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from reprobook import benchmarks
from reprobook.data import vision
from reprobook.models import SmallCNN
from reprobook.ood.ddos import (COMPONENTS, AnomalyRemoval, calibration_scales, classifier_view, combine_terms,
                                ddos_terms, feature_dissimilarity, mse_distance, pair_terms, perceptual_distance,
                                probability_divergence, ssim_score)
from reprobook.profiles import ParameterError

SPEC = vision.input_spec("fashion-mnist")


# -- anomaly removal ----------------------------------------------------------------------------------------------------
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


# -- the terms --------------------------------------------------------------------------------------------------------------
def test_feature_dissimilarity_is_one_minus_the_cosine():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    z_hat = torch.tensor([[2.0, 0.0], [0.0, 5.0], [-1.0, 0.0], [4.0, 3.0]])
    assert torch.allclose(feature_dissimilarity(z, z_hat), torch.tensor([0.0, 1.0, 2.0, 1 - 24 / 25], dtype=torch.float64))


def test_probability_divergence_is_the_kl_divergence_of_the_softmaxes():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 4, generator=gen), torch.randn(5, 4, generator=gen)
    expected = [entropy(torch.softmax(x, 0).numpy(), torch.softmax(y, 0).numpy()) for x, y in zip(a, b)]
    assert np.allclose(probability_divergence(a, b).numpy(), expected, atol=1e-6)
    assert torch.allclose(probability_divergence(a, a), torch.zeros(5, dtype=torch.float64), atol=1e-12)


def test_ddos_terms_after_removal_are_the_terms_of_the_clipped_features():
    torch.manual_seed(0)
    head = torch.nn.Linear(6, 3)
    train = torch.rand(200, 6)
    removal = AnomalyRemoval(0.1, 0.9).fit(train)
    z, z_hat = 3 * torch.rand(4, 6), torch.rand(4, 6)
    got = ddos_terms(head, z, z_hat, removal)
    plain = ddos_terms(head, removal(z), removal(z_hat), None)
    assert torch.allclose(got["feature"], plain["feature"]) and torch.allclose(got["probability"], plain["probability"])
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
    s_near, s_away = near.scores(scales), away.scores(scales)
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


# -- the cost benchmark -----------------------------------------------------------------------------------------------------
def test_throughput_benchmark_table_and_ratios():
    result = benchmarks.run("ddos-throughput", device="cpu", profile="tiny", n_images=4, repeats=2)
    table = result.table.set_index("method")
    assert list(table.index) == ["classifier", "reconstruction", "ddos"]
    assert (table.images_per_s > 0).all() and table.loc["classifier", "slowdown"] == 1.0
    rounds = result.settings["rounds_s"]
    expected = float(np.median(np.array(rounds["ddos"]) / np.array(rounds["classifier"])))
    assert table.loc["ddos", "slowdown"] == pytest.approx(expected)
    assert result.settings["unet_evaluations"] == 100 // 100 + 1  # tiny: t = 100, stride 100


@pytest.mark.parametrize("settings, name", [(dict(n_images=0), "n_images"), (dict(methods=["ddos"]), "methods"),
                                            (dict(noise_t=130), "t"), (dict(batch=3), "batch")])
def test_bad_benchmark_settings_are_named(settings, name):
    with pytest.raises(ParameterError, match=f"'{name}'"):
        benchmarks.run("ddos-throughput", device="cpu", profile="tiny", **settings)
