"""The OoD benchmark every OoD chapter scores: one classifier, its in-distribution data, its OoD test sets.

Explained in ``notebooks/ood/kpca.ipynb``. :func:`build_benchmark` trains the in-distribution classifier
once (or loads it from the checkpoint cache: :func:`reprobook.ood.classifier.train_classifier`), then extracts the
penultimate features and logits (:func:`reprobook.ood.features.extract`) of the in-distribution training
and test sets and of every OoD set, each brought to the classifier's input
(:func:`reprobook.data.vision.ood_dataset`).

``smoke``: FashionMNIST and a small CNN; OoD = MNIST, animal silhouettes, grayscale CIFAR-10, Gaussian and
uniform noise (all offline). ``paper``: CIFAR-10 and ResNet-18; OoD = SVHN, LSUN, iSUN, Textures,
Places365 (the CIFAR-10 benchmark of Sun et al., 2022, used by the Kernel PCA paper).

Two seeds: ``seed`` fixes the classifier (initialisation and batch order); ``data_seed`` fixes which
images the subsets keep. They are separate so that classifiers of several seeds (the modes of the
mode-ensemble chapter) are scored on the very same images.

The classifiers of several seeds (:func:`build_benchmarks`, :func:`pretrain_classifiers`) train side by side on
a CPU when each training loop has a fixed thread count (``cfg.train_threads``): as many at once as the run's
threads hold, one process each (:func:`reprobook.pool.train_many`), the same weights as one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..checks import (
    ParameterError,
    check_choice,
    check_int,
    check_number,
    check_optional_int,
    check_positive,
    check_seed,
    check_type,
)
from ..configs.ood_benchmark import OODConfig
from ..data import vision
from ..models import MODELS, build_model
from ..pool import pool_size, train_many
from ..timing import timed
from ..training import History, resolve_device
from .classifier import TRAINING_FIELDS, classifier_state, train_classifier, training_config
from .features import FeatureSet, extract

NUM_CLASSES = {"fashion-mnist": 10, "cifar10": 10, "cifar100": 100}
EXTRACT_BATCH = 256


@dataclass
class OODBenchmark:
    """A trained in-distribution classifier and the features of every split it is scored on.

    ``train`` is what detectors fit on (the training images without augmentation); ``test`` the
    in-distribution test set; ``ood`` the OoD sets in ``config.ood_datasets`` order. The images are kept
    (``test_dataset``, ``ood_datasets``) for detectors that need the model and the inputs (ODIN, GradNorm).
    """

    config: OODConfig
    model: nn.Module  # eval mode, on `device`
    device: torch.device
    train: FeatureSet
    test: FeatureSet
    ood: dict[str, FeatureSet]
    test_dataset: Dataset
    ood_datasets: dict[str, Dataset]
    test_accuracy: float
    history: History | None
    loaded: bool  # True when the classifier came from the checkpoint cache
    train_dataset: Dataset | None = None  # the training images as the features saw them (no augmentation)
    checkpoint: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """``"test"`` then the OoD names: what :meth:`loader` accepts."""
        return ("test", *self.ood)

    def dataset(self, name: str) -> Dataset:
        """The images of ``"test"`` or of an OoD set (items ``(image, label)``, label -1 for OoD)."""
        check_choice("name", name, self.names)
        return self.test_dataset if name == "test" else self.ood_datasets[name]

    def loader(self, name: str, batch_size: int = EXTRACT_BATCH) -> DataLoader:
        """A DataLoader over ``"test"`` or an OoD set, in the order of its FeatureSet (no shuffling)."""
        check_int("batch_size", batch_size, low=1)
        return _eval_loader(self.dataset(name), batch_size, self.device)

    def features(self, name: str) -> FeatureSet:
        """The FeatureSet of ``"train"``, ``"test"`` or an OoD set."""
        check_choice("name", name, ("train", *self.names))
        return self.train if name == "train" else self.test if name == "test" else self.ood[name]


# --------------------------------------------------------------------------------------------- checks
def check_config(cfg: object) -> OODConfig:
    """``cfg`` if it describes a benchmark this module can build, else a ParameterError naming the field."""
    if not isinstance(cfg, OODConfig):
        raise ParameterError("cfg", type(cfg).__name__, "an OODConfig, e.g. reprobook.profiles.config('kpca', 'smoke')")
    check_choice("in_dataset", cfg.in_dataset, NUM_CLASSES)
    names = cfg.ood_datasets
    if isinstance(names, str) or not isinstance(names, (tuple, list)) or not names:
        raise ParameterError("ood_datasets", names, "a non-empty tuple of: " + ", ".join(vision.OOD_DATASETS))
    for name in names:
        check_choice("ood_datasets", name, vision.OOD_DATASETS)
        if vision.OOD_SAME_AS.get(name) == cfg.in_dataset:
            raise ParameterError("ood_datasets", name, f"a set other than the in-distribution data ({cfg.in_dataset})")
    if len(set(names)) != len(names):
        raise ParameterError("ood_datasets", names, "names that each appear once")
    check_choice("model", cfg.model, sorted(MODELS))
    check_type("model_kwargs", cfg.model_kwargs, dict, "a dict of keyword arguments of the model")
    for name in ("n_train", "n_test", "n_ood"):
        check_optional_int(name, getattr(cfg, name), low=1)
    check_int("epochs", cfg.epochs, low=1)
    check_int("batch_size", cfg.batch_size, low=1)
    check_positive("lr", cfg.lr)
    check_number("momentum", cfg.momentum, low=0.0, high=1.0, high_inclusive=False)
    check_number("weight_decay", cfg.weight_decay, low=0.0)
    return cfg


def _check_model_input(model: nn.Module, cfg: OODConfig) -> None:
    """One forward pass on two blank inputs: the model must take the in-distribution images and give one
    logit per class."""
    spec = vision.input_spec(cfg.in_dataset)
    classes = NUM_CLASSES[cfg.in_dataset]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, spec.channels, spec.size, spec.size))
    except RuntimeError as exc:
        raise ParameterError(
            "model_kwargs",
            cfg.model_kwargs,
            f"arguments of {cfg.model!r} that take {spec.channels}×{spec.size}×{spec.size} "
            f"{cfg.in_dataset} images (in_channels={spec.channels}); the forward pass "
            f"failed: {exc}",
        ) from exc
    finally:
        model.train(was_training)
    if out.dim() != 2 or out.shape[1] != classes:
        raise ParameterError(
            "model_kwargs",
            cfg.model_kwargs,
            f"arguments of {cfg.model!r} giving {classes} logits for {cfg.in_dataset} "
            f"(num_classes={classes}); it gave shape {tuple(out.shape)}",
        )


# --------------------------------------------------------------------------------------------- training
def _eval_loader(dataset: Dataset, batch_size: int, device: torch.device) -> DataLoader:
    workers = 0 if device.type == "cpu" or isinstance(dataset, torch.utils.data.TensorDataset) else 4
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers, pin_memory=device.type == "cuda"
    )


# --------------------------------------------------------------------------------------------- the benchmark
def _classification_data(cfg: OODConfig, data_seed: int) -> tuple[Any, Any, Any]:
    """``(train, test, plain train)``: the in-distribution subsets of ``data_seed``; the plain training images are
    the training images without augmentation (what detectors fit on: the images as they are, not random crops
    and flips)."""
    train_ds, test_ds = vision.classification_datasets(
        cfg.in_dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=data_seed, augment=cfg.augment
    )
    plain_train = train_ds
    if cfg.augment and cfg.in_dataset in vision.CIFAR_STATS:
        plain_train, _ = vision.classification_datasets(
            cfg.in_dataset, n_train=cfg.n_train, n_test=0, seed=data_seed, augment=False
        )
    return train_ds, test_ds, plain_train


def plain_training_set(cfg: OODConfig, data_seed: int = 0) -> Any:
    """The in-distribution training images of ``data_seed`` without augmentation: a benchmark's
    ``train_dataset``, built without the benchmark (for a loop that needs the images, not the classifier)."""
    return _classification_data(cfg, data_seed)[2]


def classifier_job(cfg: OODConfig, seed: int, data_seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One classifier's ``(state, info)`` on the CPU, in a worker process of :func:`reprobook.pool.train_many`:
    its data built again there."""
    train_ds, _, plain_train = _classification_data(cfg, data_seed)
    return classifier_state(cfg, train_ds, seed=seed, device=torch.device("cpu"), progress=False, plain_ds=plain_train)


def pretrain_classifiers(
    cfg: OODConfig, seeds: Sequence[int], *, device: str | torch.device = "auto", data_seed: int = 0
) -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
    """The classifiers of ``seeds`` trained (or loaded) side by side, ``{seed: (state, info)}`` for
    :func:`build_benchmark`'s ``trained``: on a CPU with ``cfg.train_threads`` fixed, as many at once as the
    run's threads hold (:func:`reprobook.pool.pool_size`), one process each; else nothing (``{}``: each
    benchmark trains its own, one after the other). The weights are the same either way: a loop on a fixed
    thread count depends on its arguments alone."""
    check_config(cfg)
    check_seed("data_seed", data_seed)
    seeds = [check_seed("seeds", s) for s in seeds]
    device = resolve_device(device)
    workers = pool_size(cfg.train_threads, device.type, torch.get_num_threads())
    if workers == 1 or len(seeds) <= 1:
        return {}
    jobs = [(cfg, s, data_seed) for s in seeds]
    return dict(zip(seeds, train_many(classifier_job, jobs, workers), strict=True))


def build_benchmarks(
    cfg: OODConfig,
    seeds: Sequence[int],
    *,
    device: str | torch.device = "auto",
    data_seed: int = 0,
    trained: dict[int, tuple[dict[str, Any], dict[str, Any]]] | None = None,
    **kwargs: Any,
) -> list[OODBenchmark]:
    """:func:`build_benchmark` of every seed of ``seeds`` (the same ``data_seed``), their classifiers trained side by
    side first where they can be (:func:`pretrain_classifiers`; ``trained``: what a pool already trained, ``{seed:
    (state, info)}``, the others trained here); ``kwargs`` as :func:`build_benchmark`'s."""
    if trained is None:
        trained = pretrain_classifiers(cfg, seeds, device=device, data_seed=data_seed)
    return [
        build_benchmark(cfg, device=device, seed=s, data_seed=data_seed, trained=trained.get(s), **kwargs)
        for s in seeds
    ]


def build_benchmark(
    cfg: OODConfig,
    *,
    device: str | torch.device = "auto",
    seed: int = 0,
    data_dir=None,
    progress: bool | None = None,
    data_seed: int = 0,
    log: Callable[[str], None] | None = None,
    trained: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> OODBenchmark:
    """The benchmark of ``cfg``: the classifier (trained once, then cached) and the features of every split.

    ``seed`` fixes the classifier, ``data_seed`` the subsets (``cfg.n_train`` / ``n_test`` / ``n_ood``
    images, class-stratified where the set has classes). ``data_dir`` is one more place to look for the
    user-supplied OoD folders (LSUN, iSUN; see :func:`reprobook.data.vision.user_folder`). ``progress``
    as in :func:`reprobook.training.fit`; ``log`` (e.g. ``print``) receives one line per stage. ``trained``:
    the classifier's ``(state, info)`` when :func:`pretrain_classifiers` has it.
    """
    check_config(cfg)
    check_seed("seed", seed)
    check_seed("data_seed", data_seed)
    device = resolve_device(device)
    say = log or (lambda _msg: None)
    timings: dict[str, float] = {}
    with timed() as t:
        probe = build_model(cfg.model, **cfg.model_kwargs)
        _check_model_input(probe, cfg)
        del probe
        train_ds, test_ds, plain_train = _classification_data(cfg, data_seed)
        ood_sets = {
            name: vision.ood_dataset(name, cfg.in_dataset, n=cfg.n_ood, seed=data_seed, data_dir=data_dir)
            for name in cfg.ood_datasets
        }
    timings["data_s"] = t.seconds
    say(
        f"data: {len(train_ds)} train / {len(test_ds)} test {cfg.in_dataset}; OoD "
        + ", ".join(f"{n} {len(d)}" for n, d in ood_sets.items())
    )

    with timed() as t:
        model, info = train_classifier(
            cfg, train_ds, seed=seed, device=device, progress=progress, plain_ds=plain_train, trained=trained
        )
    timings["classifier_s"] = t.seconds
    say(f"classifier: {cfg.model} {'loaded from' if info['loaded'] else 'trained and saved to'} {info['path']}")

    with timed() as t:
        train = extract(model, _eval_loader(plain_train, EXTRACT_BATCH, device), device)
        test = extract(model, _eval_loader(test_ds, EXTRACT_BATCH, device), device)
        ood = {name: extract(model, _eval_loader(ds, EXTRACT_BATCH, device), device) for name, ds in ood_sets.items()}
    timings["features_s"] = t.seconds
    accuracy = test.accuracy()
    say(f"features: {train.features.shape[1]}-d; in-distribution test accuracy {accuracy:.2%}")
    return OODBenchmark(
        config=cfg,
        model=model,
        device=device,
        train=train,
        test=test,
        ood=ood,
        test_dataset=test_ds,
        ood_datasets=ood_sets,
        test_accuracy=accuracy,
        history=info["history"],
        loaded=info["loaded"],
        train_dataset=plain_train,
        checkpoint=str(info["path"]),
        timings=timings,
    )


__all__ = [
    "NUM_CLASSES",
    "OODBenchmark",
    "TRAINING_FIELDS",
    "build_benchmark",
    "build_benchmarks",
    "check_config",
    "pretrain_classifiers",
    "train_classifier",
    "training_config",
]
