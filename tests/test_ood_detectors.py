"""Kernel PCA detectors and their feature maps, against scikit-learn's KernelPCA, PCA and RBFSampler."""

import numpy as np
import pytest
import torch
from pytorch_ood.api import FeaturesDetector, RequiresFittingException
from pytorch_ood.detector import MaxSoftmax
from scipy.stats import spearmanr
from sklearn.decomposition import PCA, KernelPCA
from sklearn.kernel_approximation import RBFSampler
from sklearn.metrics.pairwise import cosine_similarity

from reprobook.ood import (
    KernelPCACoP,
    KernelPCACoRP,
    KernelPCAFusion,
    PCAReconstruction,
    RandomFourierFeatures,
    components_for_ratio,
    cosine_kernel,
    cosine_map,
    gaussian_kernel,
)
from reprobook.profiles import ParameterError


def _clusters(n=300, d=12, seed=0):
    """Non-negative features with a few dominant directions (like pooled ReLU features)."""
    gen = torch.Generator().manual_seed(seed)
    basis = torch.rand(4, d, generator=gen)
    weights = torch.rand(n, 4, generator=gen) ** 2
    return (weights @ basis + 0.05 * torch.rand(n, d, generator=gen)).float()


# -- the explained-variance rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    "ratio, q", [(0.1, 1), (0.4, 1), (0.41, 2), (0.7, 2), (0.71, 3), (0.9, 3), (0.95, 4), (1.0, 4)]
)
def test_q_is_the_smallest_number_of_components_reaching_the_ratio(ratio, q):
    spectrum = [1.0, 4.0, 2.0, 3.0]  # sorted: 4, 3, 2, 1 → cumulative 0.4, 0.7, 0.9, 1.0
    assert components_for_ratio(spectrum, ratio) == q


def test_q_with_a_long_flat_tail_and_a_single_component():
    spectrum = [90.0] + [0.1] * 100  # the first component explains 90 / 100 = 0.9
    assert components_for_ratio(spectrum, 0.9) == 1
    assert components_for_ratio(spectrum, 0.95) == 1 + 50
    assert components_for_ratio([5.0], 0.3) == 1


def test_q_agrees_with_scikit_learn_pca_away_from_ties():
    x = _clusters(400, 20).double().numpy()
    pca = PCA().fit(x)
    for ratio in (0.5, 0.8, 0.93, 0.99):
        # scikit-learn keeps the smallest number of components whose ratio *exceeds* n_components
        expected = PCA(n_components=ratio, svd_solver="full").fit(x).n_components_
        assert components_for_ratio(pca.explained_variance_, ratio) == expected


@pytest.mark.parametrize("ratio", [0, 0.0, -0.2, 1.01, 2, "0.8", None, True, float("nan")])
def test_bad_ratio_is_named(ratio):
    with pytest.raises(ParameterError, match=r"'ratio'.*> 0 and <= 1"):
        components_for_ratio([1.0, 2.0], ratio)
    with pytest.raises(ParameterError, match=r"'ratio'"):
        KernelPCACoP(ratio=ratio)


def test_bad_spectrum_is_named():
    with pytest.raises(ParameterError, match="explained_variance"):
        components_for_ratio([], 0.5)
    with pytest.raises(ParameterError, match="explained_variance"):
        components_for_ratio([1.0, -3.0], 0.5)


# -- the feature maps ------------------------------------------------------------------------------


def test_cosine_map_gives_the_cosine_kernel():
    x, y = torch.randn(7, 5), torch.randn(4, 5)
    phi = cosine_map(x)
    assert torch.allclose(phi.norm(dim=1), torch.ones(7), atol=1e-6)
    assert np.allclose(cosine_kernel(x, y).numpy(), cosine_similarity(x.numpy(), y.numpy()), atol=1e-6)
    assert torch.isfinite(cosine_map(torch.zeros(2, 5))).all()


def test_random_fourier_features_match_scikit_learn_rbf_sampler_with_the_same_draw():
    x = torch.randn(20, 6, dtype=torch.float64)
    sampler = RBFSampler(gamma=2.0, n_components=64, random_state=0).fit(x.numpy())
    rff = RandomFourierFeatures(6, 64, gamma=2.0, dtype=torch.float64)
    rff.omega.copy_(torch.from_numpy(sampler.random_weights_.T))  # ω ~ N(0, 2γI): the same law in both
    rff.phase.copy_(torch.from_numpy(sampler.random_offset_))
    assert np.allclose(rff(x).numpy(), sampler.transform(x.numpy()), atol=1e-10)


def test_random_fourier_features_approximate_the_gaussian_kernel_better_with_more_features():
    gamma = 2.0
    x = cosine_map(torch.randn(60, 8, generator=torch.Generator().manual_seed(3)).double())
    exact = gaussian_kernel(x, x, gamma)
    assert exact.min() < 0.1 < 0.9 < exact.max()  # a kernel matrix with small and large entries
    errors = []
    for m in (32, 512, 8192):
        z = RandomFourierFeatures(8, m, gamma, seed=1, dtype=torch.float64)(x)
        errors.append(float((z @ z.T - exact).abs().mean()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.02
    # the error of one draw shrinks like 1/√M: 256× more features, ~16× less error (loosely)
    assert errors[0] / errors[2] > 6


def test_random_fourier_features_are_reproducible_and_checked():
    a = RandomFourierFeatures(5, 16, 1.0, seed=4)
    b = RandomFourierFeatures(5, 16, 1.0, seed=4)
    c = RandomFourierFeatures(5, 16, 1.0, seed=5)
    assert torch.equal(a.omega, b.omega) and torch.equal(a.phase, b.phase)
    assert not torch.equal(a.omega, c.omega)
    assert ((a.phase >= 0) & (a.phase <= 2 * np.pi)).all()
    with pytest.raises(ParameterError, match="'n_features'.*>= 1"):
        RandomFourierFeatures(5, 0, 1.0)
    with pytest.raises(ParameterError, match="'gamma'.*> 0"):
        RandomFourierFeatures(5, 8, 0.0)
    with pytest.raises(ParameterError, match="'x'"):
        a(torch.randn(3, 4))


# -- the detectors ---------------------------------------------------------------------------------


def test_cop_matches_an_explicit_kernel_pca_with_the_cosine_kernel():
    """Reconstruction error in the feature space of scikit-learn's KernelPCA(kernel="cosine").

    KernelPCA centres the kernel matrix, i.e. the mapped features φ(z) on their training mean, as CoP
    does. For a test point, ‖φ̃(x)‖² comes from the kernel (k(x,x) − 2·mean_i k(x,xᵢ) + mean_ij k(xᵢ,xⱼ))
    and its projection from KernelPCA.transform; the squared error is the difference.
    """
    train, test = _clusters(200, 10, seed=0), torch.cat([_clusters(40, 10, seed=1), torch.rand(40, 10)])
    cop = KernelPCACoP(ratio=0.9).fit_features(train, torch.zeros(len(train), dtype=torch.long))
    kpca = KernelPCA(n_components=cop.q_, kernel="cosine", eigen_solver="dense").fit(train.double().numpy())
    k_tt = cosine_similarity(train.numpy().astype(np.float64))
    k_xt = cosine_similarity(test.numpy().astype(np.float64), train.numpy().astype(np.float64))
    norm2 = 1.0 - 2.0 * k_xt.mean(1) + k_tt.mean()  # ‖φ(x) − μ‖², with k(x, x) = 1
    proj2 = (kpca.transform(test.double().numpy()) ** 2).sum(1)
    expected = np.sqrt(np.clip(norm2 - proj2, 0, None))
    ours = cop.predict_features(test).numpy()
    assert spearmanr(ours, expected).statistic > 0.999
    assert np.allclose(ours, expected, atol=2e-4)
    # and the eigenvalues: KernelPCA's are N × those of the covariance
    assert np.allclose(kpca.eigenvalues_ / len(train), cop.explained_variance_[: cop.q_].numpy(), rtol=1e-4)


def test_plain_pca_matches_scikit_learn_pca_reconstruction():
    train, test = _clusters(300, 10, seed=2), _clusters(50, 10, seed=3)
    det = PCAReconstruction(ratio=0.95).fit_features(train)
    pca = PCA(n_components=det.q_).fit(train.double().numpy())
    rebuilt = pca.inverse_transform(pca.transform(test.double().numpy()))
    expected = np.linalg.norm(test.double().numpy() - rebuilt, axis=1)
    assert np.allclose(det.predict_features(test).numpy(), expected, atol=1e-4)


def test_cop_ignores_the_feature_norm_and_plain_pca_does_not():
    train, test = _clusters(200, 10), _clusters(30, 10, seed=5)
    cop, pca = KernelPCACoP(ratio=0.8).fit_features(train), PCAReconstruction(ratio=0.8).fit_features(train)
    assert torch.allclose(cop.predict_features(test), cop.predict_features(5.0 * test), atol=1e-5)
    assert not torch.allclose(pca.predict_features(test), pca.predict_features(5.0 * test), atol=1e-3)


def test_detectors_fit_and_predict_shapes():
    train = _clusters(150, 9)
    for det in (
        PCAReconstruction(ratio=0.9),
        KernelPCACoP(ratio=0.9),
        KernelPCACoRP(ratio=0.8, gamma=1.0, n_features=128),
    ):
        assert isinstance(det, FeaturesDetector)
        assert det.fit_features(train) is det
        scores = det.predict_features(torch.rand(13, 9))
        assert scores.shape == (13,) and scores.dtype == torch.float32 and (scores >= 0).all()
        dim = 128 if isinstance(det, KernelPCACoRP) else 9
        assert 1 <= det.q_ <= dim and det.components_.shape == (dim, det.q_)
        assert det.explained_variance_ratio_.sum() == pytest.approx(1.0, abs=1e-5)


def test_detectors_work_on_inputs_through_an_encoder_like_any_pytorch_ood_detector():
    from torch.utils.data import DataLoader, TensorDataset

    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 6), torch.nn.ReLU())
    images, labels = torch.rand(64, 1, 4, 4), torch.randint(0, 3, (64,))
    labels[:5] = -1
    loader = DataLoader(TensorDataset(images, labels), batch_size=16)
    det = KernelPCACoP(encoder, ratio=0.9).fit(loader)
    with torch.no_grad():
        feats = encoder(images)
    assert torch.allclose(det(images[:7]), det.predict_features(feats[:7]), atol=1e-6)
    ref = KernelPCACoP(ratio=0.9).fit_features(feats[5:])
    assert torch.allclose(det.predict_features(feats), ref.predict_features(feats), atol=1e-5)


def test_fitting_without_the_ood_rows_is_the_same_fit():
    train = _clusters(150, 9)
    labels = torch.zeros(150, dtype=torch.long)
    labels[:20] = -1
    probe = torch.rand(13, 9, generator=torch.Generator().manual_seed(0))
    for make in (lambda: KernelPCACoP(ratio=0.9), lambda: KernelPCACoRP(ratio=0.8, n_features=128)):
        with_ood = make().fit_features(train, labels)
        clean = make().fit_features(train[20:])
        assert with_ood.q_ == clean.q_
        assert torch.allclose(with_ood.predict_features(probe), clean.predict_features(probe), atol=1e-5)


def test_corp_is_reproducible_with_its_seed():
    train, probe = _clusters(120, 8), _clusters(10, 8, seed=9)
    a = KernelPCACoRP(n_features=256, seed=3).fit_features(train).predict_features(probe)
    b = KernelPCACoRP(n_features=256, seed=3).fit_features(train).predict_features(probe)
    c = KernelPCACoRP(n_features=256, seed=4).fit_features(train).predict_features(probe)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_reconstruction_error_separates_off_subspace_points():
    # training data on a 2-D plane of R^6 (plus a little noise); points off the plane get a larger error
    gen = torch.Generator().manual_seed(0)
    plane = torch.randn(2, 6, generator=gen)
    train = torch.rand(300, 2, generator=gen) @ plane + 0.01 * torch.randn(300, 6, generator=gen) + 3.0
    on = torch.rand(50, 2, generator=gen) @ plane + 3.0
    off = on + 0.5 * torch.randn(50, 6, generator=gen)
    for det in (PCAReconstruction(ratio=0.95), KernelPCACoP(ratio=0.95)):
        det.fit_features(train)
        assert det.predict_features(off).mean() > 3 * det.predict_features(on).mean()


def test_reconstruction_error_equals_the_norm_of_the_explicit_residual():
    # the detectors score with ‖c‖² − ‖U_qᵀc‖² (no back-projection); it must equal ‖c − U_qU_qᵀc‖₂
    train, probe = _clusters(seed=5), _clusters(n=80, seed=6) + 0.3 * torch.rand(80, 12)
    for det in (PCAReconstruction(ratio=0.9), KernelPCACoP(ratio=0.85), KernelPCACoRP(ratio=0.8, n_features=512)):
        det.fit_features(train)
        centred = det.feature_map(probe) - det.mean_
        explicit = (centred - (centred @ det.components_) @ det.components_.T).norm(dim=1)
        torch.testing.assert_close(det.reconstruction_error(probe), explicit, rtol=1e-3, atol=1e-5)


def test_unfitted_detectors_and_bad_parameters_raise_clear_errors():
    for det in (PCAReconstruction(), KernelPCACoP(), KernelPCACoRP()):
        with pytest.raises(RequiresFittingException):
            det.predict_features(torch.rand(3, 4))
    with pytest.raises(ParameterError, match="'n_features'.*>= 1"):
        KernelPCACoRP(n_features=0)
    with pytest.raises(ParameterError, match="'gamma'.*> 0"):
        KernelPCACoRP(gamma=-1.0)
    with pytest.raises(ParameterError, match="'seed'"):
        KernelPCACoRP(seed=-1)
    with pytest.raises(ParameterError, match="'z'.*2-D"):
        KernelPCACoP().fit_features(torch.rand(10))
    with pytest.raises(ParameterError, match="'y'"):
        KernelPCACoP().fit_features(torch.rand(10, 3), torch.zeros(4))
    with pytest.raises(ValueError, match="in-distribution"):
        KernelPCACoP().fit_features(torch.rand(10, 3), -torch.ones(10, dtype=torch.long))


def test_fusion_scales_the_baseline_by_one_minus_the_error():
    gen = torch.Generator().manual_seed(0)
    train = _clusters(200, 8)
    head = torch.nn.Linear(8, 3)
    labels = torch.zeros(200, dtype=torch.long)
    fusion = KernelPCAFusion(KernelPCACoP(ratio=0.9), MaxSoftmax(None), head).fit_features(train, labels)
    probe = torch.rand(12, 8, generator=gen)
    with torch.no_grad():
        msp = -torch.softmax(head(probe), dim=1).max(1).values  # MaxSoftmax's outlier score
    error = fusion.kpca.reconstruction_error(probe)
    assert torch.allclose(fusion.predict_features(probe), (1 - error) * msp, atol=1e-6)
    with pytest.raises(ParameterError, match="'kpca'"):
        KernelPCAFusion(MaxSoftmax(None), MaxSoftmax(None), head)


def test_set_ratio_picks_a_new_q_without_fitting_again():
    train, probe = _clusters(200, 10), _clusters(20, 10, seed=4)
    det = KernelPCACoP(ratio=0.6).fit_features(train)
    for ratio in (0.9, 0.99, 0.6):
        det.set_ratio(ratio)
        fresh = KernelPCACoP(ratio=ratio).fit_features(train)
        assert det.q_ == fresh.q_ == components_for_ratio(det.explained_variance_, ratio)
        assert torch.allclose(det.predict_features(probe), fresh.predict_features(probe), atol=1e-6)
    with pytest.raises(ParameterError, match="'ratio'"):
        det.set_ratio(1.5)
    with pytest.raises(RequiresFittingException):
        KernelPCACoP().set_ratio(0.5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: PCAReconstruction(ratio=0.6),
        lambda: KernelPCACoP(ratio=0.6),
        lambda: KernelPCACoRP(ratio=0.6, n_features=64, seed=1),
    ],
)
def test_errors_for_several_q_at_once_equal_one_q_at_a_time(make):
    train, probe = _clusters(200, 10), _clusters(20, 10, seed=4)
    det = make().fit_features(train)
    qs = [1, 3, det.q_, 9]
    together = det.reconstruction_errors(probe, qs)
    assert together.shape == (4, 20)
    for row, q in zip(together, qs):
        by_hand = det.feature_map(probe) - det.mean_
        by_hand = by_hand - by_hand @ det.eigenvectors_[:, :q] @ det.eigenvectors_[:, :q].T
        assert torch.allclose(row, by_hand.norm(dim=1), atol=1e-5)
    assert torch.allclose(together[2], det.predict_features(probe), atol=1e-6) and det.ratio == 0.6
    with pytest.raises(ParameterError, match="'qs'"):
        det.reconstruction_errors(probe, [0])


def test_pytorch_ood_baselines_are_library_detectors_on_the_models_last_layer():
    from pytorch_ood.api import Detector
    from pytorch_ood.detector import EnergyBased

    from reprobook.models import build_model
    from reprobook.ood.detectors import pytorch_ood_baselines
    from reprobook.profiles import config

    cfg = config("kpca", "smoke")
    model = build_model(cfg.model, **{**cfg.model_kwargs, "width": 2}).eval()
    baselines = pytorch_ood_baselines(model, cfg)
    assert list(baselines) == ["MSP", "MaxLogit", "Energy", "ODIN", "Mahalanobis", "KNN", "ViM", "ReAct"]
    assert all(isinstance(d, Detector) for d in baselines.values())
    assert baselines["KNN"].k == cfg.knn_k and baselines["ViM"].d == model.head.in_features // 2
    # ReAct: energy of the logits of the clipped penultimate features
    z = torch.rand(40, model.head.in_features)
    react = baselines["ReAct"].fit_feature_maps(z[:, :, None, None], torch.zeros(40, dtype=torch.long))
    with torch.no_grad():
        expected = EnergyBased.score(model.head(z.clamp(max=react.threshold)))
        assert torch.allclose(react.predict_feature_maps(z[:, :, None, None]), expected)
    with pytest.raises(ParameterError, match="'model'"):
        pytorch_ood_baselines(torch.nn.Linear(3, 2))
