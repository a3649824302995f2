"""Reconstruction-error OoD detectors: plain PCA, kernel PCA with the CoP and CoRP maps, and the fusion.

Explained in ``notebooks/ood/kpca.ipynb`` (Fang et al., NeurIPS 2024, :cite:`fang2024kpca`; official
code github fanghenshaometeor/ood-kernel-pca). Every detector here is a ``pytorch-ood``
:class:`~pytorch_ood.api.FeaturesDetector`: ``fit_features(z, y)`` on the in-distribution (InD)
training features, ``predict_features(z)`` on test features, or ``fit(loader)`` / ``predict(x)``
through an ``encoder``; so they run in any ``pytorch-ood`` pipeline and with its ``OODMetrics``.

The book's one convention is ``pytorch-ood``'s: an *outlier score*, larger for inputs that are more
likely OoD, and OoD samples labelled < 0. The paper's score is −error (larger for InD); the score
here is the error itself, so the ranking, and every metric, is the same.

The method, for a feature map φ (identity: plain PCA; cosine: CoP; cosine then random Fourier
features: CoRP):

1. μ = (1/N) Σᵢ φ(zᵢ) over the N InD training features, and C = (1/N) Σᵢ (φ(zᵢ) − μ)(φ(zᵢ) − μ)ᵀ;
2. U_q = the q leading eigenvectors of C, q the smallest number of components whose explained
   variance reaches the ratio (:func:`~reprobook.ood.kernels.components_for_ratio`);
3. the score of a test feature z is the reconstruction error e(z) = ‖(φ(z) − μ) − U_qU_qᵀ(φ(z) − μ)‖₂.

Scoring costs O(D·q) for CoP and O(D·M + M·q) for CoRP per sample, whatever N is: the subspace is
all that is kept of the training set (k-nearest neighbours keeps, and searches, all N features).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from pytorch_ood.api import FeaturesDetector, LogitsDetector, ModelNotSetException, RequiresFittingException
from pytorch_ood.detector import KNN, ODIN, EnergyBased, Mahalanobis, MaxLogit, MaxSoftmax, ReAct, ViM
from pytorch_ood.utils import extract_features, is_known
from torch import Tensor
from torch.utils.data import DataLoader

from ..checks import ParameterError, check_fraction, check_int, check_positive, check_seed, check_type
from ..configs.ood_benchmark import OODConfig
from ..data import vision
from .kernels import RandomFourierFeatures, components_for_ratio, cosine_map


def _check_features(z: Any, name: str = "z") -> Tensor:
    """A non-empty N × D tensor of features, or a ParameterError naming it."""
    if not isinstance(z, Tensor) or z.dim() != 2 or z.shape[0] == 0:
        shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise ParameterError(name, shape, "a non-empty 2-D tensor of features, N × D")
    return z


class PCAReconstruction(FeaturesDetector):
    """Plain PCA on the penultimate features: the outlier score is the reconstruction error e(z).

    ``ratio`` (in (0, 1]) is the explained-variance ratio that picks q; ``encoder`` (optional) maps
    inputs to features for :meth:`fit` and :meth:`predict`. Subclasses change :meth:`feature_map`.
    After fitting: ``mean_`` (μ), ``components_`` (U_q, D × q), ``q_``, ``explained_variance_`` (every
    eigenvalue of C, decreasing) and ``eigenvectors_`` (all of them, D × D); :meth:`set_ratio` picks
    another q without fitting again.
    """

    requires_fit = True

    def __init__(
        self, encoder: Callable[[Tensor], Tensor] | None = None, ratio: float = 0.85, *, chunk_size: int = 8192
    ):
        self.encoder = encoder
        self.ratio = check_fraction("ratio", ratio)
        self.chunk_size = check_int("chunk_size", chunk_size, low=1)
        self.mean_: Tensor | None = None
        self.components_: Tensor | None = None
        self.explained_variance_: Tensor | None = None
        self.eigenvectors_: Tensor | None = None
        self.q_: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ratio={self.ratio:g}{self._repr_extra()})"

    def _repr_extra(self) -> str:
        return ""

    # -- the feature map -------------------------------------------------------------------------

    def feature_map(self, z: Tensor) -> Tensor:
        """φ(z): the identity for plain PCA."""
        return z.float()

    def _prepare_map(self, dim: int, device: torch.device) -> None:
        """Called by :meth:`fit_features` before the map is used (CoRP draws its random features here)."""

    # -- fitting -----------------------------------------------------------------------------------

    @torch.no_grad()
    def fit_features(self, z: Tensor, y: Tensor | None = None) -> PCAReconstruction:
        """Fit μ and U_q on InD training features ``z`` (N × D); samples labelled < 0 in ``y`` are ignored."""
        z = _check_features(z)
        if y is not None:
            if not isinstance(y, Tensor) or y.shape[:1] != z.shape[:1]:
                raise ParameterError(
                    "y",
                    tuple(y.shape) if isinstance(y, Tensor) else y,
                    f"None or a tensor of {z.shape[0]} labels (< 0 marks OoD samples)",
                )
            z = z[is_known(y).to(z.device)]
            if z.shape[0] == 0:
                raise ValueError("fit_features needs in-distribution samples (labels >= 0); all were < 0")
        device = self.device or z.device
        self._prepare_map(z.shape[1], device)
        chunks = [z[i : i + self.chunk_size] for i in range(0, z.shape[0], self.chunk_size)]
        n = z.shape[0]
        # μ = (1/N) Σᵢ φ(zᵢ)
        mean = cast(Tensor, sum(self.feature_map(c.to(device)).double().sum(0) for c in chunks)) / n
        mean32 = mean.float()
        cov: Tensor | None = None
        for c in chunks:
            centred = self.feature_map(c.to(device)) - mean32
            gram = (centred.T @ centred).double()
            cov = gram if cov is None else cov + gram
        assert cov is not None  # z is non-empty (checked above), so there is at least one chunk
        # C = (1/N) Σᵢ (φ(zᵢ) − μ)(φ(zᵢ) − μ)ᵀ
        cov = cov / n
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)  # ascending
        eigenvalues, eigenvectors = eigenvalues.flip(0).clamp(min=0.0), eigenvectors.flip(1)
        self.mean_ = mean32
        self.eigenvectors_ = eigenvectors.float().contiguous()
        self.explained_variance_ = eigenvalues  # float64, decreasing
        return self.set_ratio(self.ratio)

    def set_ratio(self, ratio: float) -> PCAReconstruction:
        """Change the explained-variance ratio of a fitted detector: a new q, the same eigenvectors (no refit)."""
        ratio = check_fraction("ratio", ratio)
        if self.eigenvectors_ is None:
            raise RequiresFittingException(f"{type(self).__name__}: call fit_features(z, y) or fit(loader) first")
        assert self.explained_variance_ is not None  # set together with eigenvectors_ in fit_features
        # q = min { k : (λ₁ + … + λ_k) / Σλ ≥ ratio }
        q = components_for_ratio(self.explained_variance_.cpu().numpy(), ratio)
        self.ratio, self.q_ = ratio, q
        # U_q: the q leading eigenvectors of C, as columns (D × q)
        self.components_ = self.eigenvectors_[:, :q].contiguous()
        return self

    def fit(self, data_loader: DataLoader) -> PCAReconstruction:
        """Extract features with ``encoder`` from ``data_loader`` (OoD samples ignored) and fit on them."""
        if self.encoder is None:
            raise ModelNotSetException("this detector was built without an encoder: use fit_features(z, y)")
        device = self.device or "cpu"
        z, y = extract_features(data_loader, self.encoder, device)
        return self.fit_features(z, y)

    # -- scoring -----------------------------------------------------------------------------------

    @torch.no_grad()
    def reconstruction_error(self, z: Tensor) -> Tensor:
        """e(z) = ‖(φ(z) − μ) − U_qU_qᵀ(φ(z) − μ)‖₂ for every row of ``z`` (N × D)."""
        if self.components_ is None:
            raise RequiresFittingException(f"{type(self).__name__}: call fit_features(z, y) or fit(loader) first")
        z = _check_features(z)
        assert self.mean_ is not None  # set together with components_ in fit_features
        device = self.mean_.device
        # φ(z) − μ
        centred = self.feature_map(z.to(device)) - self.mean_
        # U_qᵀ(φ(z) − μ): the coordinates in the principal subspace
        coords = centred @ self.components_
        # e(z)² = ‖(φ(z) − μ) − U_qU_qᵀ(φ(z) − μ)‖² = ‖φ(z) − μ‖² − ‖U_qᵀ(φ(z) − μ)‖²  (U_q has orthonormal
        # columns: Pythagoras), which spares the back-projection U_q(U_qᵀ ·), half of the scoring cost
        return (centred.pow(2).sum(1) - coords.pow(2).sum(1)).clamp_min(0.0).sqrt()

    @torch.no_grad()
    def reconstruction_errors(self, z: Tensor, qs: Any) -> Tensor:
        """e(z) for several numbers of components at once: a ``len(qs)`` × N tensor, row i with q = ``qs[i]``.

        One mapping of ``z`` and one projection on the largest q: ‖U_qᵀ(φ(z) − μ)‖² for every smaller q is a
        partial sum of the squared coordinates. Equal to :meth:`set_ratio` then :meth:`reconstruction_error`
        for each q, without mapping ``z`` again (the post-hoc sensitivity to the ratio uses it).
        """
        if self.eigenvectors_ is None:
            raise RequiresFittingException(f"{type(self).__name__}: call fit_features(z, y) or fit(loader) first")
        z = _check_features(z)
        qs = [check_int("qs", q, low=1, high=self.eigenvectors_.shape[1]) for q in qs]
        assert self.mean_ is not None  # set together with eigenvectors_ in fit_features
        centred = self.feature_map(z.to(self.mean_.device)) - self.mean_
        coords = centred @ self.eigenvectors_[:, : max(qs)]
        # Σ_{j ≤ q} ⟨u_j, φ(z) − μ⟩² for every q: the cumulative sum of the squared coordinates
        captured = coords.pow(2).cumsum(1)
        total = centred.pow(2).sum(1)
        return torch.stack([(total - captured[:, q - 1]).clamp_min(0.0).sqrt() for q in qs])

    def predict_features(self, z: Tensor) -> Tensor:
        """Outlier scores (the reconstruction errors) of features ``z`` (N × D): larger is more likely OoD."""
        return self.reconstruction_error(z)

    def predict(self, x: Tensor) -> Tensor:
        """Outlier scores of inputs ``x``, through ``encoder``."""
        if self.encoder is None:
            raise ModelNotSetException("this detector was built without an encoder: use predict_features(z)")
        device = self.device
        with torch.no_grad():
            z = self.encoder(x.to(device) if device is not None else x)
        return self.predict_features(z)

    @property
    def explained_variance_ratio_(self) -> Tensor:
        """The fraction of the total variance of each component (decreasing), after fitting."""
        if self.explained_variance_ is None:
            raise RequiresFittingException(f"{type(self).__name__}: call fit_features(z, y) or fit(loader) first")
        return self.explained_variance_ / self.explained_variance_.sum()


class KernelPCACoP(PCAReconstruction):
    """KPCA with the cosine kernel (CoP): PCA on φ(z) = z / ‖z‖₂. The official CIFAR-10 ratio is 0.85."""

    def feature_map(self, z: Tensor) -> Tensor:
        # φ(z) = z / ‖z‖₂
        return cosine_map(z.float())


class KernelPCACoRP(PCAReconstruction):
    """KPCA with the cosine kernel then a Gaussian kernel (CoRP), through random Fourier features.

    φ(z) = √(2/M) · cos(ωᵀ(z/‖z‖₂) + b), ω ~ N(0, 2γI), b ~ U[0, 2π]: an explicit approximation of
    k(x, y) = exp(−γ ‖x/‖x‖ − y/‖y‖‖²). ``gamma`` is γ, ``n_features`` is M, ``seed`` fixes the draw
    (made at :meth:`fit_features`, once the feature dimension is known; kept in ``rff_``). The
    official CIFAR-10 setting: ratio 0.8, γ = 2, M = 2048.
    """

    def __init__(
        self,
        encoder: Callable[[Tensor], Tensor] | None = None,
        ratio: float = 0.8,
        gamma: float = 2.0,
        n_features: int = 2048,
        *,
        seed: int = 0,
        chunk_size: int = 8192,
    ):
        super().__init__(encoder, ratio, chunk_size=chunk_size)
        self.gamma = check_positive("gamma", gamma)
        self.n_features = check_int("n_features", n_features, low=1)
        self.seed = check_seed("seed", seed)
        self.rff_: RandomFourierFeatures | None = None

    def _repr_extra(self) -> str:
        return f", gamma={self.gamma:g}, n_features={self.n_features}, seed={self.seed}"

    def _prepare_map(self, dim: int, device: torch.device) -> None:
        self.rff_ = RandomFourierFeatures(dim, self.n_features, self.gamma, seed=self.seed).to(device)

    def feature_map(self, z: Tensor) -> Tensor:
        if self.rff_ is None:
            raise RequiresFittingException("KernelPCACoRP: call fit_features(z, y) or fit(loader) first")
        # φ(z) = √(2/M) · cos(ωᵀ(z/‖z‖₂) + b)
        return self.rff_(cosine_map(z.float()))


class KernelPCAFusion(FeaturesDetector):
    """The paper's fusion: a baseline's outlier score s(z) scaled by one minus a KPCA reconstruction error.

    score(z) = (1 − e(z)) · s(z), where ``kpca`` gives e (raw, not normalised, as in the official
    ``CoP_CoRP_fusion.py``) and ``baseline`` gives s from the logits ``head(z)``: a ``pytorch-ood``
    logits detector (``MaxSoftmax``, ``EnergyBased``, ...) or a function logits → outlier scores.
    The official code multiplies the baseline's InD score (larger for InD) by (1 − e); the outlier
    score is its negative, so the product carries over unchanged. For errors below 1 (the unit-norm
    maps keep them there in practice) a larger error pulls a confident InD score towards 0.
    ``head`` maps penultimate features to logits (the classifier's last layer). ``refit_kpca=False``
    keeps a ``kpca`` that is already fitted (one fit shared by several fusions).
    """

    requires_fit = True

    def __init__(
        self,
        kpca: PCAReconstruction,
        baseline: LogitsDetector | Callable[[Tensor], Tensor],
        head: Callable[[Tensor], Tensor],
        encoder: Callable[[Tensor], Tensor] | None = None,
        *,
        refit_kpca: bool = True,
    ):
        check_type("kpca", kpca, PCAReconstruction, "a PCAReconstruction, KernelPCACoP or KernelPCACoRP detector")
        if not (isinstance(baseline, LogitsDetector) or callable(baseline)):
            raise ParameterError("baseline", baseline, "a pytorch-ood LogitsDetector or a function logits → scores")
        if not callable(head):
            raise ParameterError("head", head, "a function features → logits (the last layer)")
        self.kpca, self.baseline, self.head, self.encoder = kpca, baseline, head, encoder
        self.refit_kpca = bool(refit_kpca)

    def __repr__(self) -> str:
        base = (
            type(self.baseline).__name__
            if isinstance(self.baseline, LogitsDetector)
            else getattr(self.baseline, "__qualname__", "baseline")
        )
        return f"KernelPCAFusion({self.kpca!r}, {base})"

    @property
    def device(self):
        return self.kpca.device

    def to(self, device):
        self.kpca.to(device)
        if isinstance(self.baseline, LogitsDetector):
            self.baseline.to(device)
        return self

    def _baseline_scores(self, z: Tensor) -> Tensor:
        logits = self.head(z)
        if isinstance(self.baseline, LogitsDetector):
            return self.baseline.predict_logits(logits)
        return self.baseline(logits)

    @torch.no_grad()
    def fit_features(self, z: Tensor, y: Tensor | None = None) -> KernelPCAFusion:
        """Fit the KPCA detector (unless it is fitted and ``refit_kpca`` is False) and the baseline, if it needs it."""
        if self.refit_kpca or self.kpca.components_ is None:
            self.kpca.fit_features(z, y)
        if isinstance(self.baseline, LogitsDetector) and self.baseline.requires_fit:
            self.baseline.fit_logits(self.head(z), y)
        return self

    def fit(self, data_loader: DataLoader) -> KernelPCAFusion:
        if self.encoder is None:
            raise ModelNotSetException("this detector was built without an encoder: use fit_features(z, y)")
        z, y = extract_features(data_loader, self.encoder, self.device or "cpu")
        return self.fit_features(z, y)

    @torch.no_grad()
    def predict_features(self, z: Tensor) -> Tensor:
        """score(z) = (1 − e(z)) · s(z)."""
        error = self.kpca.reconstruction_error(z)
        scores = self._baseline_scores(z.to(error.device)).to(error.dtype)
        # (1 − e(z)) · s(z)
        return (1.0 - error) * scores

    def predict(self, x: Tensor) -> Tensor:
        if self.encoder is None:
            raise ModelNotSetException("this detector was built without an encoder: use predict_features(z)")
        with torch.no_grad():
            z = self.encoder(x)
        return self.predict_features(z)


def pytorch_ood_baselines(model: torch.nn.Module, cfg: OODConfig | None = None) -> dict[str, Any]:
    """The ``pytorch-ood`` baselines the OoD chapters compare with, set up for ``model``'s last layer.

    ``model`` has ``model.head``, the ``nn.Linear`` from penultimate features to logits (the models
    of :mod:`reprobook.models`). ``cfg`` (a :class:`~reprobook.profiles.KPCAConfig`, or None for the
    defaults) gives KNN's k, ODIN's T and ε, ReAct's percentile, ViM's dimension. ReAct clips the
    pooled penultimate features (as 1 × 1 feature maps) before ``head`` and scores with energy; ODIN
    runs on inputs, so it needs the images (``OODBenchmark.loader``).
    """
    head = getattr(model, "head", None)
    if not isinstance(head, torch.nn.Linear):
        raise ParameterError("model", type(model).__name__, "a classifier whose .head is the nn.Linear last layer")

    def value(name, default):
        return getattr(cfg, name, default) if cfg is not None else default

    dim = head.in_features
    vim_dim = check_int("vim_dim", value("vim_dim", None) or dim // 2, low=1, high=dim - 1)
    norm_std = None
    in_dataset = value("in_dataset", None)
    if in_dataset is not None:
        norm_std = getattr(vision.input_spec(in_dataset), "std", None)
    return {
        "MSP": MaxSoftmax(model),
        "MaxLogit": MaxLogit(model),
        "Energy": EnergyBased(model),
        "ODIN": ODIN(
            model,
            eps=value("odin_eps", 0.0014),
            temperature=value("odin_temperature", 1000.0),
            norm_std=list(norm_std) if norm_std is not None else None,
        ),
        "Mahalanobis": Mahalanobis(None),
        "KNN": KNN(None, k=value("knn_k", 50)),
        "ViM": ViM(None, d=vim_dim, w=head.weight, b=head.bias),
        "ReAct": ReAct(
            backbone=lambda z: z, head=lambda maps: head(maps.flatten(1)), percentile=value("react_percentile", 0.9)
        ),
    }
