"""DDoS: the disparity between a test image and its diffusion reconstruction, in the classifier's feature and
probability spaces, with the abnormal OoD information removed from the generation; the perceptual and DM-based
baselines it is compared with.

Explained in ``notebooks/ood/ddos.ipynb`` (Fang et al., 2024, :cite:`fang2024ddos`, arXiv 2409.10094v2; no
official code was found). The reconstruction x̂ of a test image x comes from
:func:`reprobook.ood.diffusion.reconstruct`; a detector scores the pair (x, x̂). Every score follows the book's
convention: larger means more likely OoD.

Perceptual baselines (what earlier diffusion-based detectors use), independent of the protected classifier:

* MSE: (1/P) Σ_p (x_p − x̂_p)² over the P pixel values in [0, 1];
* SSIM (Wang et al., 2004; ``pytorch-msssim``, Gaussian window 11, σ = 1.5): the score is −SSIM(x, x̂);
* a deep perceptual distance in the manner of LPIPS (Zhang et al., 2018), whose learned weights cannot be
  downloaded here: the intermediate activations a_l of a *perceptual network* (a trained mode that is not the
  protected classifier), unit-normalised over channels at every position, d = Σ_l mean_{h,w} ‖â_l(x) − â_l(x̂)‖²,
  with uniform layer weights instead of LPIPS's learned ones.

DDoS, the formulas this book chose (the paper's are not public; each choice is argued in the chapter):

* anomaly removal on the generation only, A(ẑ)_d = min(max(ẑ_d, l_d), u_d), l_d and u_d the ``clip_low`` and
  ``clip_high`` quantiles of dimension d over the InD training features; the test image's own features z are
  left as they are (clipping them would remove the very signal the disparity measures);
* feature-space dissimilarity s_f = 1 − cos(z, A(ẑ)) of the penultimate features z = φ(x), ẑ = φ(x̂);
* probability-space divergence s_p = KL(p ‖ p̂), p = softmax(h(z)), p̂ = softmax(h(A(ẑ))), h the last layer;
* the score s = s_f / m_f + s_p / m_p, each term divided by its median m on held-out InD test images (not scored,
  not seen in training), so that neither term dominates by its units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

from ..checks import ParameterError, check_fraction
from ..models import CifarResNet18, SmallCNN
from .diffusion import from_pixels

PERCEPTUAL = ("MSE", "SSIM", "Deep features")
DDOS = "DDoS"
DDOS_NO_REMOVAL = "DDoS without anomaly removal"
COMPONENTS = {  # name → (terms, anomaly removal on x̂)
    DDOS: (("feature", "probability"), True),
    DDOS_NO_REMOVAL: (("feature", "probability"), False),
    "DDoS feature term only": (("feature",), True),
    "DDoS probability term only": (("probability",), True),
    "feature term, no removal": (("feature",), False),
    "probability term, no removal": (("probability",), False),
}
DM_BASELINE = "DM baseline (MSE + deep, every t)"
CLASSIFIER = ("MSP", "Energy", "KNN")


# ------------------------------------------------------------------------------------------------ anomaly removal
class AnomalyRemoval:
    """Clip every penultimate activation to its InD range: A(z)_d = min(max(z_d, l_d), u_d).

    ``fit`` sets l_d and u_d to the ``low`` and ``high`` quantiles of dimension d over InD training features.
    """

    def __init__(self, low: float = 0.01, high: float = 0.99):
        self.low = check_fraction("clip_low", low, open_low=False, open_high=True)
        self.high = check_fraction("clip_high", high, open_low=True, open_high=False)
        if not self.low < self.high:
            raise ParameterError("clip_high", high, f"a quantile above clip_low = {low}")
        self.lower_: Tensor | None = None
        self.upper_: Tensor | None = None

    def fit(self, features: Tensor) -> AnomalyRemoval:
        if not isinstance(features, Tensor) or features.dim() != 2 or len(features) < 2:
            raise ParameterError("features", type(features).__name__, "an N × D tensor of InD features, N >= 2")
        z = features.double()
        # l_d, u_d: quantiles of dimension d over the InD training features
        self.lower_ = torch.quantile(z, self.low, dim=0).float()
        self.upper_ = torch.quantile(z, self.high, dim=0).float()
        return self

    def __call__(self, z: Tensor) -> Tensor:
        if self.lower_ is None:
            raise RuntimeError("AnomalyRemoval: call fit(InD training features) first")
        assert self.upper_ is not None  # set together with lower_ in fit
        # A(z)_d = min(max(z_d, l_d), u_d)
        return torch.maximum(torch.minimum(z, self.upper_.to(z)), self.lower_.to(z))

    def abnormal(self, z: Tensor) -> Tensor:
        """The fraction of each row's activations outside [l_d, u_d] (what A changes)."""
        if self.lower_ is None:
            raise RuntimeError("AnomalyRemoval: call fit(InD training features) first")
        assert self.upper_ is not None  # set together with lower_ in fit
        return ((z < self.lower_.to(z)) | (z > self.upper_.to(z))).float().mean(1)


# ------------------------------------------------------------------------------------------------ the scores
def feature_dissimilarity(z: Tensor, z_hat: Tensor) -> Tensor:
    """s_f = 1 − cos(z, ẑ), per row: 0 for parallel features, up to 2 for opposite ones."""
    # s_f = 1 − ⟨z, ẑ⟩ / (‖z‖ ‖ẑ‖)
    return 1.0 - nn.functional.cosine_similarity(z.double(), z_hat.double(), dim=1, eps=1e-12)


def probability_divergence(logits: Tensor, logits_hat: Tensor) -> Tensor:
    """s_p = KL(p ‖ p̂) = Σ_c p_c (log p_c − log p̂_c), per row, p = softmax(logits), p̂ = softmax(logits_hat)."""
    log_p, log_q = logits.double().log_softmax(1), logits_hat.double().log_softmax(1)
    # KL(p ‖ p̂) = Σ_c p_c (log p_c − log p̂_c)
    return (log_p.exp() * (log_p - log_q)).sum(1)


def ddos_terms(head: nn.Module, z: Tensor, z_hat: Tensor, removal: AnomalyRemoval | None) -> dict[str, Tensor]:
    """The two DDoS terms of the pairs (z, ẑ); with ``removal``, the reconstruction's features ẑ are clipped
    (the test image's z never are)."""
    if removal is not None:
        z_hat = removal(z_hat)  # A(ẑ): the abnormal information removed from the generation only
    with torch.no_grad():
        logits, logits_hat = head(z.float()), head(z_hat.float())
    return {"feature": feature_dissimilarity(z, z_hat), "probability": probability_divergence(logits, logits_hat)}


def combine_terms(terms: Mapping[str, Tensor], scales: Mapping[str, float], use: Sequence[str]) -> Tensor:
    """s = Σ_term s_term / m_term over the terms in ``use`` (m: the term's median on InD calibration pairs)."""
    return cast(Tensor, sum(terms[name] / scales[name] for name in use))  # ``use`` names at least one term


def mse_distance(x: Tensor, x_hat: Tensor) -> Tensor:
    """(1/P) Σ_p (x_p − x̂_p)² per image (pixels in [0, 1])."""
    return (x.double() - x_hat.double()).pow(2).flatten(1).mean(1)


def ssim_score(x: Tensor, x_hat: Tensor) -> Tensor:
    """−SSIM(x, x̂) per image (``pytorch-msssim``; pixels in [0, 1]): larger for less similar pairs."""
    from pytorch_msssim import ssim

    return -ssim(x.float(), x_hat.float(), data_range=1.0, size_average=False).double()


def activation_layers(model: nn.Module) -> list[nn.Module]:
    """The convolutional stages whose outputs the deep perceptual distance compares."""
    if isinstance(model, SmallCNN):
        return list(model.body[:3])
    if isinstance(model, CifarResNet18):
        return [model.net.layer1, model.net.layer2, model.net.layer3, model.net.layer4]
    raise ParameterError("model", type(model).__name__, "a SmallCNN or CifarResNet18 (reprobook.models)")


@dataclass
class ClassifierView:
    """What the protected classifier computes of a batch: penultimate features, logits, stage outputs."""

    features: Tensor
    logits: Tensor
    activations: list[Tensor]


@torch.no_grad()
def classifier_view(model: nn.Module, x: Tensor, batch_size: int = 500, activations: bool = True) -> ClassifierView:
    """Features (``model.features``), logits (``model.head``) and, with ``activations``, the outputs of
    :func:`activation_layers`."""
    layers = activation_layers(model) if activations else []
    device = next(model.parameters()).device
    acts: list[list[Tensor]]
    feats, logits, acts = [], [], [[] for _ in layers]
    caught: list[Tensor] = []
    handles = [layer.register_forward_hook(lambda _m, _i, out: caught.append(out)) for layer in layers]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            caught.clear()
            # model.features, model.head: a method and a submodule, which torch types as Tensor | Module
            z = model.features(x[start : start + batch_size].to(device))  # type: ignore[operator]
            feats.append(z.cpu())
            logits.append(model.head(z).cpu())  # type: ignore[operator]
            for store, a in zip(acts, caught):
                store.append(a.cpu())
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return ClassifierView(torch.cat(feats), torch.cat(logits), [torch.cat(a) for a in acts])


def perceptual_distance(view: ClassifierView, view_hat: ClassifierView) -> Tensor:
    """d = Σ_l mean_{h,w} ‖â_l(x) − â_l(x̂)‖², â the activations unit-normalised over channels (LPIPS without
    its learned weights, on the stages of a perceptual network other than the protected classifier)."""
    total = 0.0
    for a, b in zip(view.activations, view_hat.activations):
        # â = a / ‖a‖ over the channels, at every position
        a_hat = a / (a.norm(dim=1, keepdim=True) + 1e-10)
        b_hat = b / (b.norm(dim=1, keepdim=True) + 1e-10)
        total = total + (a_hat - b_hat).pow(2).sum(1).flatten(1).mean(1).double()
    return cast(Tensor, total)  # views with activations (classifier_view's default): a tensor


@dataclass
class ImageTerms:
    """The perceptual distances of a set of pairs (x, x̂), per image (CPU, float64): what no protected classifier
    enters."""

    mse: Tensor
    ssim: Tensor
    perceptual: Tensor

    def scores(self) -> dict[str, Tensor]:
        return {"MSE": self.mse, "SSIM": self.ssim, "Deep features": self.perceptual}


def image_terms(perceptual_net: nn.Module, spec: Any, pixels: Tensor, pixels_hat: Tensor) -> ImageTerms:
    """MSE, −SSIM and the deep distance on ``perceptual_net``'s stages, of pairs given as pixels in [0, 1]."""
    view = classifier_view(perceptual_net, from_pixels(pixels, spec))
    view_hat = classifier_view(perceptual_net, from_pixels(pixels_hat, spec))
    return ImageTerms(
        mse=mse_distance(pixels, pixels_hat),
        ssim=ssim_score(pixels, pixels_hat),
        perceptual=perceptual_distance(view, view_hat),
    )


@dataclass
class PairTerms:
    """One protected classifier on a set of pairs (x, x̂): the DDoS terms with and without anomaly removal, and
    what the classifier computes of x and of x̂ (for the sanity checks)."""

    terms: dict[bool, dict[str, Tensor]]  # anomaly removal on x̂? → {"feature", "probability"}
    view: ClassifierView  # of x (features, logits)
    view_hat: ClassifierView  # of x̂
    abnormal_hat: Tensor  # fraction of x̂'s activations outside the InD range (what the removal changes)

    def scores(self, scales: Mapping[bool, Mapping[str, float]]) -> dict[str, Tensor]:
        """Outlier scores of every DDoS variant (:data:`COMPONENTS`)."""
        return {
            name: combine_terms(self.terms[removal], scales[removal], use)
            for name, (use, removal) in COMPONENTS.items()
        }


def pair_terms(
    model: nn.Module,
    spec: Any,
    pixels: Tensor,
    pixels_hat: Tensor,
    removal: AnomalyRemoval,
    view: ClassifierView | None = None,
) -> PairTerms:
    """:class:`PairTerms` of the protected ``model`` on pairs given as pixels in [0, 1] (``view``: the model's
    view of ``pixels``, when already computed)."""
    view = view or classifier_view(model, from_pixels(pixels, spec), activations=False)
    view_hat = classifier_view(model, from_pixels(pixels_hat, spec), activations=False)
    # model.head: a submodule, which torch types as Tensor | Module
    return PairTerms(
        terms={
            True: ddos_terms(
                model.head,  # type: ignore[arg-type]
                view.features,
                view_hat.features,
                removal,
            ),
            False: ddos_terms(
                model.head,  # type: ignore[arg-type]
                view.features,
                view_hat.features,
                None,
            ),
        },
        view=view,
        view_hat=view_hat,
        abnormal_hat=removal.abnormal(view_hat.features),
    )


def calibration_scales(terms: PairTerms) -> dict[bool, dict[str, float]]:
    """m_term: the median of each DDoS term over held-out InD pairs, with and without anomaly removal."""
    return {
        removal: {name: max(float(values.median()), 1e-12) for name, values in per.items()}
        for removal, per in terms.terms.items()
    }


__all__ = [
    "AnomalyRemoval",
    "CLASSIFIER",
    "COMPONENTS",
    "ClassifierView",
    "DDOS",
    "DDOS_NO_REMOVAL",
    "DM_BASELINE",
    "ImageTerms",
    "PERCEPTUAL",
    "PairTerms",
    "activation_layers",
    "calibration_scales",
    "classifier_view",
    "combine_terms",
    "ddos_terms",
    "feature_dissimilarity",
    "image_terms",
    "mse_distance",
    "pair_terms",
    "perceptual_distance",
    "probability_divergence",
    "ssim_score",
]
