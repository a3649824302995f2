"""Modes: the OoD benchmark's classifier trained from K seeds, and what every detector needs of each one.

Explained in ``notebooks/ood/mode_ensemble.ipynb`` (Fang et al., IJCV 2024, :cite:`fang2024modeensemble`;
official code github fanghenshaometeor/ood-mode-ensemble). A *mode* is one training run: the seed fixes the
initialisation and the order of the batches, everything else (data, architecture, optimiser, schedule) is
shared. :func:`build_modes` trains the K modes once, each through :func:`reprobook.ood.build_benchmark`
with its own ``seed`` and the same ``data_seed``, so every mode is scored on the very same images and the
checkpoints are those every other OoD chapter loads for that seed.

Most detectors are post hoc on what :func:`~reprobook.ood.features.extract` already keeps (penultimate
features and logits). Two need the images again and are computed here once per mode, so that any
ensemble of modes can reuse them:

* ODIN's logits at the perturbed input x̃ = x − ε·sign(∇ₓ CE(f(x)/T, ŷ)), each mode with its own gradient
  (``pytorch-ood``'s :func:`~pytorch_ood.detector.odin_preprocessing`);
* RankFeat's logits after the rank-1 component σ₁u₁v₁ᵀ of the last block's feature map is removed
  (``pytorch-ood``'s :class:`~pytorch_ood.detector.RankFeat`, its score replaced by the identity to keep the
  logits).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from pytorch_ood.detector import RankFeat, odin_preprocessing
from torch import Tensor, nn

from ..checks import ParameterError, check_int, check_seed
from ..claims import mean_ci
from ..configs.mode_ensemble import ModeEnsembleConfig
from ..models import CifarResNet18, SmallCNN
from ..timing import timed
from .benchmark import OODBenchmark, build_benchmark, pretrain_classifiers

SPLITS_NOTE = "'test' or an OoD set name"


def mode_seeds(seed: int, n_modes: int) -> list[int]:
    """The seeds of the K modes: ``seed, seed + 1, …, seed + n_modes − 1``."""
    check_seed("seed", seed)
    check_int("n_modes", n_modes, low=1)
    return [seed + k for k in range(n_modes)]


# ------------------------------------------------------------------------------------------------ RankFeat
def feature_map_split(model: nn.Module) -> tuple[Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """``(backbone, head)``: the input → last block's feature map (B × C × H × W), and that map → logits.

    RankFeat edits the feature map between the two. Known models: :class:`~reprobook.models.SmallCNN`
    (its three conv blocks | pooling and the linear head) and :class:`~reprobook.models.CifarResNet18`
    (stem to ``layer4`` | pooling and ``fc``).
    """
    # the maps come back in the standard layout: RankFeat reshapes them to C × HW (the classifiers run channels-last)
    if isinstance(model, SmallCNN):
        blocks, pool = model.body[:3], model.body[3:]
        return (lambda x: blocks(x).contiguous()), (lambda maps: model.head(pool(maps)))
    if isinstance(model, CifarResNet18):
        net = model.net

        def backbone(x: Tensor) -> Tensor:
            x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
            return net.layer4(net.layer3(net.layer2(net.layer1(x)))).contiguous()

        return backbone, lambda maps: model.head(torch.flatten(net.avgpool(maps), 1))
    raise ParameterError("model", type(model).__name__, "a SmallCNN or CifarResNet18 (reprobook.models)")


def rankfeat_logits(model: nn.Module, x: Tensor) -> Tensor:
    """The logits after RankFeat's edit: X' = X − σ₁u₁v₁ᵀ for each sample's last feature map X (C × HW)."""
    backbone, head = feature_map_split(model)
    # pytorch-ood's RankFeat maps the edited logits to a score; the identity keeps the logits themselves
    detector = RankFeat(backbone=backbone, head=head, detector=lambda logits: logits)
    with torch.no_grad():
        return detector.predict(x)


def odin_logits(
    model: nn.Module, x: Tensor, *, eps: float, temperature: float, norm_std: list[float] | None = None
) -> Tensor:
    """Logits (not divided by T) of the ODIN-perturbed inputs x̃ = x − ε·sign(∇ₓ CE(f(x)/T, ŷ)), ŷ = argmax f(x).

    ``norm_std`` None is the official mode-ensemble code's step (on the normalised input); a list divides the
    step by each channel's std, as Liang et al.'s code does."""
    x_tilde = odin_preprocessing(model, x, eps=eps, temperature=temperature, norm_std=norm_std)
    with torch.no_grad():
        return model(x_tilde)


# ------------------------------------------------------------------------------------------------ the modes
@dataclass
class Mode:
    """One trained classifier and its outputs on the scored samples of every split."""

    seed: int
    benchmark: OODBenchmark
    odin: dict[str, Tensor]  # split → ODIN logits (CPU)
    rankfeat: dict[str, Tensor]  # split → RankFeat logits (CPU)

    @property
    def model(self) -> nn.Module:
        return self.benchmark.model


@dataclass
class ModeOutputs:
    """What the detectors see of one mode on one split's scored samples."""

    features: Tensor  # N × D penultimate features
    logits: Tensor  # N × C
    odin: Tensor | None  # N × C logits at the ODIN-perturbed inputs
    rankfeat: Tensor | None  # N × C logits after rank-1 removal


@dataclass
class ModeSet:
    """K modes of one benchmark, scored on the same samples: ``index[split]`` picks them from each split."""

    modes: list[Mode]
    index: dict[str, Tensor]  # "test" and every OoD set → row indices into its FeatureSet
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def config(self):
        return self.modes[0].benchmark.config

    @property
    def ood_sets(self) -> tuple[str, ...]:
        return tuple(self.modes[0].benchmark.ood)

    @property
    def splits(self) -> tuple[str, ...]:
        return ("test", *self.ood_sets)

    @property
    def seeds(self) -> list[int]:
        return [m.seed for m in self.modes]

    def __len__(self) -> int:
        return len(self.modes)

    def outputs(self, k: int, split: str) -> ModeOutputs:
        """Mode ``k``'s features and logits on the scored samples of ``split`` ("train": all training rows)."""
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k < len(self.modes):
            raise ParameterError("k", k, f"a mode index in [0, {len(self.modes) - 1}]")
        mode = self.modes[k]
        if split == "train":
            fs = mode.benchmark.train
            return ModeOutputs(fs.features, fs.logits, None, None)
        if split not in self.index:
            raise ParameterError("split", split, "'train', " + SPLITS_NOTE)
        fs = mode.benchmark.features(split).subset(self.index[split])
        return ModeOutputs(fs.features, fs.logits, mode.odin.get(split), mode.rankfeat.get(split))

    def images(self, split: str) -> Tensor:
        """The scored images of ``split`` (one tensor; the same for every mode)."""
        if split not in self.index:
            raise ParameterError("split", split, SPLITS_NOTE)
        dataset = self.modes[0].benchmark.dataset(split)
        return torch.stack([dataset[int(i)][0] for i in self.index[split]])

    def labels(self, split: str) -> Tensor:
        return self.modes[0].benchmark.features(split).labels[self.index[split]]


def scoring_index(n: int, n_score: int | None, seed: int) -> Tensor:
    """A seeded random subset of ``n_score`` of ``n`` rows (sorted), or all rows when ``n_score`` is None."""
    if n_score is None or n_score >= n:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:n_score].sort().values


def _input_outputs(
    bench: OODBenchmark, split: str, index: Tensor, cfg: ModeEnsembleConfig, batch_size: int
) -> tuple[Tensor, Tensor]:
    """ODIN and RankFeat logits of the scored images of ``split`` for one mode (ODIN's step as in the official
    ``utils_ood.py``: ε·sign of the gradient on the normalised input, not divided by the per-channel std)."""
    dataset = bench.dataset(split)
    odin, rank = [], []
    for start in range(0, len(index), batch_size):
        x = torch.stack([dataset[int(i)][0] for i in index[start : start + batch_size]]).to(bench.device)
        odin.append(odin_logits(bench.model, x, eps=cfg.odin_eps, temperature=cfg.odin_temperature).cpu())
        rank.append(rankfeat_logits(bench.model, x).cpu())
    return torch.cat(odin), torch.cat(rank)


def build_modes(
    cfg: ModeEnsembleConfig,
    *,
    n_modes: int | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    data_dir=None,
    n_score: int | None = None,
    input_detectors: bool = True,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    batch_size: int = 250,
) -> ModeSet:
    """The K modes of ``cfg``'s benchmark, trained (or loaded) with seeds ``seed … seed + K − 1``, data seed 0.

    ``n_modes`` defaults to ``cfg.n_modes``. ``n_score`` (default ``cfg.n_score`` if it has one, else
    all) samples per split are scored, the same rows for every mode. ``input_detectors=False`` skips ODIN
    and RankFeat (they need the images again: the Kernel PCA chapter does without them).
    """
    n_modes = check_int("n_modes", n_modes if n_modes is not None else getattr(cfg, "n_modes", None), low=1)
    seeds = mode_seeds(seed, n_modes)
    n_score = n_score if n_score is not None else getattr(cfg, "n_score", None)
    if n_score is not None:
        check_int("n_score", n_score, low=2)
    say = log or (lambda _m: None)
    timings = {"benchmarks_s": 0.0, "input_detectors_s": 0.0}
    modes: list[Mode] = []
    index: dict[str, Tensor] = {}
    with timed() as t:  # side by side where the loops have a fixed thread count on a CPU
        trained = pretrain_classifiers(cfg, seeds, device=device, data_seed=0)
    timings["benchmarks_s"] += t.seconds
    for k, s in enumerate(seeds):
        with timed() as t:
            bench = build_benchmark(
                cfg, device=device, seed=s, data_dir=data_dir, progress=progress, data_seed=0, trained=trained.get(s)
            )
        timings["benchmarks_s"] += t.seconds
        say(
            f"mode {k + 1}/{n_modes} (seed {s}): {'loaded' if bench.loaded else 'trained'}, "
            f"InD test accuracy {bench.test_accuracy:.2%}"
        )
        if modes:  # the same images for every mode: keep one copy of the datasets
            first = modes[0].benchmark
            bench.test_dataset, bench.ood_datasets, bench.train_dataset = (
                first.test_dataset,
                first.ood_datasets,
                first.train_dataset,
            )
        else:
            index = {
                split: scoring_index(len(bench.features(split)), n_score, seed=1000 + i)
                for i, split in enumerate(("test", *bench.ood))
            }
        odin, rank = {}, {}
        if input_detectors:
            with timed() as t:
                for split, rows in index.items():
                    odin[split], rank[split] = _input_outputs(bench, split, rows, cfg, batch_size)
            timings["input_detectors_s"] += t.seconds
        modes.append(Mode(s, bench, odin, rank))
    return ModeSet(modes, index, timings)


# ------------------------------------------------------------------------------------------------ losses
def msp_loss(logits: Tensor) -> Tensor:
    """Per sample, the cross-entropy of the prediction to its own most likely class: −log max_c softmax(ℓ)_c.

    A mode's loss on images without labels: it equals the labelled cross-entropy on every correctly classified
    image and lies in [0, log C] (the paper's OoD contours, 1.1 to 2.1, lie below log 10); the landscapes keep the
    mode's decisions as fixed targets around it (:func:`reprobook.ood.mode_landscape.fixed_target_loss`).
    """
    return -logits.double().log_softmax(dim=1).max(dim=1).values


def plateau_row(history: Any) -> dict[str, float | str]:
    """The convergence measures of one training history: the whole training set's loss (eval mode) at the two
    epochs of :func:`reprobook.ood.classifier.plateau_epochs`, and the epoch means of the training steps' losses
    over the last two epochs (the rule of the run of 2026-12-04, shown beside it)."""
    steps = history.train_loss if history else []
    whole = history.eval_loss if history else []
    epochs = history.eval_at if history else []
    return {
        "InD train loss": whole[-1] if whole else float("nan"),
        "train loss, window before": whole[-2] if len(whole) > 1 else float("nan"),
        "window epochs": f"{epochs[-2]}→{epochs[-1]}" if len(epochs) > 1 else "",
        "step loss, last epoch": steps[-1] if steps else float("nan"),
        "step loss, epoch before": steps[-2] if len(steps) > 1 else float("nan"),
    }


CONVERGENCE_LEVEL = 0.95  # the one-sided level of the upper bound on the modes' mean remaining descent


def convergence(table: Any) -> tuple[bool, str]:
    """Whether the modes trained to the end of their descent: the modes' mean fall of the loss on their whole
    training set (eval mode) over the last window of epochs (``window epochs``;
    :func:`reprobook.ood.classifier.plateau_epochs`), at its one-sided 95 % upper t-bound over the modes, is below
    the standard deviation of the final loss across the modes (the seeds' spread, ``ddof=1``). Training still left
    would then move a mode, on average over the seeds, by less than the seeds move the modes apart, so comparing
    modes compares trained networks, not runs at different stages. Fewer than two modes have no spread: not
    converged.

    The rule's fourth form (2026-12-07). The third asked *every* mode's fall to be below the spread: the largest of
    K falls grows with K while the spread does not, so that rule failed more often the more modes a run trained,
    and once both had shrunk together (from about 30 epochs on in the smoke profile) it passed or failed by chance. This
    form converges with K to its question (is the mean remaining descent below the seeds' spread?); the detail
    still says what the third form reads.

    Returns ``(converged, detail)``; the detail also gives the largest fall, the relative drop (the rule of the run
    of 2026-12-05) and the epoch means of the training steps' losses over the last epoch (the rule of the run of
    2026-12-04)."""
    last, before = table["InD train loss"].to_numpy(float), table["train loss, window before"].to_numpy(float)
    if np.isnan(before).any() or np.isnan(last).any():
        return False, "a mode has fewer than two measurements of its training set's loss (one epoch of training)"
    if not (np.isfinite(before).all() and np.isfinite(last).all()):
        return False, "a mode's loss on its training set is not finite (the run diverged)"
    if len(last) < 2:
        return False, "one classifier: no spread between seeds to compare its remaining descent with"
    drop = before - last
    k = len(drop)
    spread = float(np.std(last, ddof=1))
    # the two-sided interval at 2·level − 1 ends at the one-sided upper bound at level
    mean, _, upper = mean_ci(drop, level=2 * CONVERGENCE_LEVEL - 1)
    worst = int(np.argmax(drop))
    window = table["window epochs"].iloc[worst]
    relative = drop / before
    steps = (
        (table["step loss, epoch before"] - table["step loss, last epoch"]) / table["step loss, epoch before"]
    ).to_numpy(float)
    third = "passes" if (drop < spread).all() else "fails"
    return bool(upper < spread), (
        f"over epochs {window} the whole training set's loss fell by {mean:.4f} nats on average over the "
        f"{k} modes (one-sided {CONVERGENCE_LEVEL:.0%} upper bound {upper:.4f}) against a spread of {spread:.4f} "
        f"nats between the modes' final losses (SD); largest fall {drop.max():.4f} (mode {worst + 1}; the "
        f"rule's third form, every fall below the spread, {third}); relative drop at most {relative.max():.2%}; "
        f"the epoch mean of the training steps' loss moved by {np.nanmin(steps):+.2%} to {np.nanmax(steps):+.2%} "
        "over the last epoch"
    )


def classifier_convergence(benchmarks: Sequence[OODBenchmark]) -> tuple[bool, str]:
    """:func:`convergence` of the classifiers of ``benchmarks`` (their training histories, trained or loaded)."""
    return convergence(pd.DataFrame([plateau_row(b.history) for b in benchmarks]))


def disagreement(modes: ModeSet) -> float:
    """The share of InD test images on which two modes predict different classes, averaged over the pairs of
    modes: 0 when the seeds produced one and the same network (the modes are then not independent trainings)."""
    predictions = [m.benchmark.test.logits.argmax(1) for m in modes.modes]
    pairs = [(i, j) for i in range(len(predictions)) for j in range(i + 1, len(predictions))]
    if not pairs:
        return 0.0
    return float(np.mean([(predictions[i] != predictions[j]).double().mean().item() for i, j in pairs]))


__all__ = [
    "CONVERGENCE_LEVEL",
    "Mode",
    "ModeOutputs",
    "ModeSet",
    "build_modes",
    "classifier_convergence",
    "convergence",
    "disagreement",
    "feature_map_split",
    "mode_seeds",
    "msp_loss",
    "odin_logits",
    "plateau_row",
    "rankfeat_logits",
    "scoring_index",
]
