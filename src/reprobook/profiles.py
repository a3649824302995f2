"""Profiles: one name (``smoke`` or ``paper``) fixes every size a chapter uses.

A notebook's ``parameters`` cell names a profile; the chapter then asks this module for its
configuration, so no size is ever typed into a notebook. ``smoke`` runs on a 2-core laptop CPU on
offline data in a few minutes; ``paper`` uses the paper's datasets, models and hyper-parameters and
expects a GPU.

Bad input stops early with a :class:`ParameterError` that names the parameter and the allowed values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

PROFILES: tuple[str, ...] = ("smoke", "paper")
# Wall-clock budget of one notebook in the smoke profile on a 2-core CPU; the runner's table flags overruns.
SMOKE_BUDGET_SECONDS = 240
DEVICES_HELP = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"


class ParameterError(ValueError):
    """A notebook or command-line parameter has a value outside what is allowed."""

    def __init__(self, name: str, value: Any, allowed: str):
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"invalid value for parameter '{name}': {value!r}; allowed: {allowed}")


def check_profile(profile: Any) -> str:
    if profile not in PROFILES:
        raise ParameterError("profile", profile, ", ".join(repr(p) for p in PROFILES))
    return profile


def check_device(device: Any) -> str:
    ok = isinstance(device, str) and (
        device in ("auto", "cpu", "cuda", "mps")
        or (device.startswith("cuda:") and device[5:].isdigit())
    )
    if not ok:
        raise ParameterError("device", device, DEVICES_HELP)
    return device


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError("seed", seed, "a non-negative integer")
    return seed


# --------------------------------------------------------------------------------------------
# Chapter configurations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RWPConfig:
    """Sizes and hyper-parameters of the RWP chapter (notebooks/sharpness/rwp.ipynb)."""

    profile: str
    dataset: str  # a data-registry name
    model: str  # a reprobook.models name
    model_kwargs: dict = field(default_factory=dict)
    n_train: int | None = None  # None: the whole training split
    n_test: int | None = None
    epochs: int = 200
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-3
    gamma: float = 0.01  # RWP noise scale γ
    alpha: float = 0.5  # RWP mixing weight α
    rho: float = 0.05  # SAM radius ρ
    methods: tuple[str, ...] = ("sgd", "sam", "rwp")
    n_seeds: int = 3
    landscape_points: int = 21
    landscape_radius: float = 1.0
    landscape_samples: int = 2048  # training samples used for the landscape and the Hessian
    hessian_iters: int = 20
    augment: bool = True  # random crop + flip (+ cutout in the paper)
    data_files: tuple[str, ...] = ()  # registry entries to fetch ahead of a run

    def seeds(self, base_seed: int) -> list[int]:
        return [base_seed + i for i in range(self.n_seeds)]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


_RWP = {
    "smoke": dict(
        dataset="fashion-mnist",
        model="small_cnn",
        model_kwargs={"in_channels": 1, "num_classes": 10, "width": 16},
        n_train=5000,
        n_test=2000,
        epochs=8,
        batch_size=128,
        lr=0.1,
        landscape_points=17,
        landscape_samples=512,
        hessian_iters=10,
        augment=False,
        data_files=("fashion-mnist",),
    ),
    "paper": dict(
        dataset="cifar10",
        model="resnet18_cifar",
        model_kwargs={"num_classes": 10},
        epochs=200,
        batch_size=256,
        lr=0.1,
        weight_decay=1e-3,
        gamma=0.01,
        alpha=0.5,
        rho=0.05,
        landscape_points=41,
        landscape_samples=5000,
        hessian_iters=20,
        augment=True,
        data_files=("cifar10",),
    ),
}

# --- m-ARWP chapter (notebooks/sharpness/marwp.ipynb) ---------------------------------------
# Same data, model and hyper-parameters as the RWP chapter. The smoke profile trains six optimisers and
# an ablation on three seeds, so it runs 6 epochs instead of 8 to stay within the smoke budget with a
# cold cache (its SGD / SAM runs are therefore not the RWP chapter's); the paper profile trains on
# CIFAR-100, as the paper does. Where the training settings coincide, checkpoints are shared.


@dataclass(frozen=True)
class MARWPConfig(RWPConfig):
    """Sizes and hyper-parameters of the m-ARWP chapter (notebooks/sharpness/marwp.ipynb)."""

    sigma: float = 0.015  # noise scale σ of m-RWP / m-ARWP
    lam: float = 0.5  # mixing weight λ of the perturbed gradient
    eta: float = 0.1  # adaptive-scaling strength η
    beta: float = 0.99  # accumulator decay β
    arwp_sigma_start: float = 0.001  # ARWP: σ rises on a cosine schedule from here ...
    arwp_sigma_end: float = 0.011  # ... to here
    scaling: str = "std"  # "std": σ/√(1+ηF) (official code); "var": σ²/√(1+ηF) (a reading of eq. 14)
    # "prwp": the paper's RWP baseline, perturbed gradient only (the RWP chapter's "rwp" is the mixed one)
    methods: tuple[str, ...] = ("sgd", "sam", "prwp", "mrwp", "arwp", "marwp")


_MARWP = {
    "smoke": dict(_RWP["smoke"], epochs=6, landscape_samples=256),
    "paper": dict(_RWP["paper"], dataset="cifar100", model_kwargs={"num_classes": 100},
                  data_files=("cifar100",)),
}


# --- OoD benchmark, shared by the OoD chapters (first: notebooks/ood/kpca.ipynb) ----------------


@dataclass(frozen=True)
class OODConfig:
    """The in-distribution classifier and the OoD test sets every OoD chapter scores."""

    profile: str
    in_dataset: str  # a data-registry name (the classifier's training data)
    ood_datasets: tuple[str, ...]  # OoD test sets (registry names, or synthetic "gaussian-noise" / "uniform-noise")
    model: str
    model_kwargs: dict = field(default_factory=dict)
    n_train: int | None = None  # None: the whole training split
    n_test: int | None = None  # in-distribution test samples scored
    n_ood: int | None = None  # samples per OoD set
    epochs: int = 100
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augment: bool = True
    data_files: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class KPCAConfig(OODConfig):
    """Kernel PCA chapter (notebooks/ood/kpca.ipynb): detector settings on top of the OoD benchmark."""

    # Detector settings: the official CIFAR-10 / ResNet-18 scripts' values in both profiles (the smoke
    # profile transfers them unchanged; nothing is tuned on the OoD test sets).
    cop_ratio: float = 0.85  # CoP: explained-variance ratio that picks q
    corp_ratio: float = 0.8  # CoRP: explained-variance ratio
    corp_gamma: float = 2.0  # CoRP: Gaussian-kernel γ
    corp_features: int = 2048  # CoRP: number M of random Fourier features
    pca_ratio: float = 0.85  # plain PCA: CoP's ratio, so that the feature map is the only difference
    knn_k: int = 50  # KNN: k of Sun et al. (2022) for CIFAR-10
    odin_temperature: float = 1000.0  # ODIN: T and ε of Liang et al. (2018)
    odin_eps: float = 0.0014
    react_percentile: float = 0.9  # ReAct: clip at the 90th percentile of the training activations
    vim_dim: int | None = None  # ViM: dimension of the principal subspace; None: half the feature width
    ratio_grid: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)  # the post-hoc sensitivity plot
    n_boot: int = 200  # paired-bootstrap rounds behind each verdict
    seed_count: int = 1


_OOD_SMOKE = dict(
    in_dataset="fashion-mnist",
    ood_datasets=("mnist-5k", "animal-silhouettes", "cifar10-test", "gaussian-noise", "uniform-noise"),
    model="small_cnn",
    model_kwargs={"in_channels": 1, "num_classes": 10, "width": 16},
    n_train=20000,  # 20,000 × 10 epochs: about 89% FashionMNIST test accuracy, about 30 s on 2 CPU cores
    n_test=2000,
    n_ood=2000,
    epochs=10,
    batch_size=128,
    lr=0.1,
    weight_decay=5e-4,
    augment=False,
    data_files=("fashion-mnist", "mnist-5k", "animal-silhouettes", "cifar10-test"),
)
_OOD_PAPER = dict(
    in_dataset="cifar10",
    ood_datasets=("svhn", "lsun", "isun", "textures", "places365"),
    model="resnet18_cifar",
    model_kwargs={"num_classes": 10},
    n_ood=10000,  # a seeded, class-stratified 10,000 of SVHN and Places365; LSUN, iSUN, Textures are smaller
    epochs=100,
    batch_size=128,
    lr=0.1,
    weight_decay=5e-4,
    augment=True,
    data_files=("cifar10", "svhn", "textures", "places365"),  # LSUN and iSUN: user-supplied folders
)
_KPCA = {"smoke": dict(_OOD_SMOKE), "paper": dict(_OOD_PAPER)}

CHAPTERS: dict[str, tuple[type, dict[str, dict]]] = {
    "rwp": (RWPConfig, _RWP),
    "marwp": (MARWPConfig, _MARWP),
    "kpca": (KPCAConfig, _KPCA),
}


def config(chapter: str, profile: str = "smoke", **overrides: Any):
    """The frozen configuration of ``chapter`` under ``profile``; ``overrides`` replace single fields.

    >>> config("rwp", "smoke").epochs > 0
    True
    """
    if chapter not in CHAPTERS:
        raise ParameterError("chapter", chapter, ", ".join(sorted(CHAPTERS)))
    check_profile(profile)
    cls, table = CHAPTERS[chapter]
    values = dict(table[profile])
    names = {f.name for f in dataclasses.fields(cls)} - {"profile"}
    for key, value in overrides.items():
        if key not in names:
            raise ParameterError(key, value, f"fields of {cls.__name__}: {', '.join(sorted(names))}")
        values[key] = value
    return cls(profile=profile, **values)


def required_data(profile: str) -> list[str]:
    """Registry names every chapter needs under ``profile`` (what ``reprobook data fetch`` gets)."""
    check_profile(profile)
    names: list[str] = []
    for chapter in CHAPTERS:
        for name in config(chapter, profile).data_files:
            if name not in names:
                names.append(name)
    return names
