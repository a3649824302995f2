"""What a post-hoc OoD detector sees of a classifier: penultimate features, logits and labels.

Explained in ``notebooks/ood/kpca.ipynb``. Post-hoc detectors (MSP, Energy, KNN, Mahalanobis, Kernel PCA)
never touch the images again once these are computed, so every OoD chapter extracts them once per split
with :func:`extract` and scores the resulting :class:`FeatureSet`.

The feature is the input of the classifier's last layer, global-average-pooled: for a network
``logits = W z + b`` it is ``z``. It is read by a forward hook on that layer (:func:`penultimate`), so the
logits and the features come from one and the same forward pass of any ``torch`` classifier.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..checks import ParameterError
from ..training import resolve_device


@dataclass
class FeatureSet:
    """One split, as a post-hoc detector needs it (all tensors on the CPU).

    ``features`` N×d float32 (penultimate, global-average-pooled), ``logits`` N×C float32, ``labels`` N int64:
    the in-distribution class, or -1 for an out-of-distribution sample (pytorch-ood's convention).
    """

    features: torch.Tensor
    logits: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        n = len(self.labels)
        for name, value, ndim in (
            ("features", self.features, 2),
            ("logits", self.logits, 2),
            ("labels", self.labels, 1),
        ):
            if not isinstance(value, torch.Tensor) or value.dim() != ndim or len(value) != n:
                shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ParameterError(name, shape, f"a {ndim}-d tensor with {n} rows (one per label)")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def is_ood(self) -> torch.Tensor:
        """A boolean mask: True where the sample is out-of-distribution (label < 0)."""
        return self.labels < 0

    def subset(self, index) -> FeatureSet:
        """The rows ``index`` (a slice, an index tensor or a boolean mask) as a new FeatureSet."""
        return FeatureSet(self.features[index], self.logits[index], self.labels[index])

    def accuracy(self) -> float:
        """Top-1 accuracy of the logits over the in-distribution rows (ValueError when there are none)."""
        known = self.labels >= 0
        if not bool(known.any()):
            raise ValueError("invalid FeatureSet for accuracy(): no in-distribution labels (all are -1)")
        return float((self.logits[known].argmax(1) == self.labels[known]).float().mean())


def penultimate(model: nn.Module) -> nn.Module:
    """The layer whose *input* is the penultimate feature: ``model.head`` when the model has ``features``
    and ``head`` (the models of :mod:`reprobook.models`), else its last ``nn.Linear`` (in registration order,
    e.g. torchvision's ``fc`` or ``classifier``)."""
    if not isinstance(model, nn.Module):
        raise ParameterError("model", type(model).__name__, "a torch.nn.Module classifier")
    head = getattr(model, "head", None)
    if callable(getattr(model, "features", None)) and isinstance(head, nn.Module):
        return head
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ParameterError(
            "model",
            type(model).__name__,
            "a classifier with a final nn.Linear layer, or with features() and a head module",
        )
    return linears[-1]


def _split_batch(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (list, tuple)) and len(batch) >= 1 and isinstance(batch[0], torch.Tensor):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    raise ParameterError("loader", type(batch).__name__, "batches that are an image tensor or an (images, labels) pair")


@torch.no_grad()
def extract(model: nn.Module, loader: Iterable, device: torch.device | str = "cpu") -> FeatureSet:
    """Features, logits and labels of every sample ``loader`` yields, in order (eval mode; mode restored).

    One forward pass per batch: ``logits = model(x)``, and the input ``z`` of :func:`penultimate` is caught
    by a forward pre-hook. A spatial ``z`` (N×C×H×W) is global-average-pooled,
    z̄_c = (1/HW) Σ_{h,w} z_{c,h,w}. Batches are ``(images, labels)`` or bare images (labels then -1).
    """
    device = resolve_device(device)
    layer = penultimate(model)
    caught: list[torch.Tensor] = []

    def hook(_module, inputs):
        caught.append(inputs[0])

    handle = layer.register_forward_pre_hook(hook)
    was_training = model.training
    model.eval()
    features, logits, labels = [], [], []
    try:
        for batch in loader:
            x, y = _split_batch(batch)
            caught.clear()
            out = model(x.to(device))
            if len(caught) != 1:
                raise RuntimeError(
                    f"the penultimate layer {type(layer).__name__} ran {len(caught)} times in one "
                    "forward pass; extract() needs it to run exactly once"
                )
            z = caught[0]
            if z.dim() == 4:  # z̄_c = mean over the spatial positions (global average pooling)
                z = z.mean(dim=(2, 3))
            if z.dim() != 2:
                raise ParameterError(
                    "model",
                    f"a penultimate input of shape {tuple(z.shape)}",
                    "a classifier whose last layer takes N×d or N×C×H×W inputs",
                )
            features.append(z.detach().float().cpu())
            logits.append(out.detach().float().cpu())
            labels.append(
                torch.full((len(x),), -1, dtype=torch.int64) if y is None else torch.as_tensor(y).to(torch.int64).cpu()
            )
    finally:
        handle.remove()
        model.train(was_training)
    if not labels:
        raise ParameterError("loader", "an empty loader", "a loader that yields at least one batch")
    return FeatureSet(torch.cat(features), torch.cat(logits), torch.cat(labels))


__all__ = ["FeatureSet", "extract", "penultimate"]
