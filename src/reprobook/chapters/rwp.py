"""The RWP chapter (notebooks/sharpness/rwp.ipynb): data, model and the paper's CIFAR hyper-parameters."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..profiles import ChapterConfig, register_chapter


@dataclass(frozen=True)
class RWPConfig(ChapterConfig):
    """Sizes and hyper-parameters of the RWP chapter (notebooks/sharpness/rwp.ipynb)."""

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

    def seeds(self, base_seed: int) -> list[int]:
        return [base_seed + i for i in range(self.n_seeds)]


SMOKE = dict(
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
    budget_seconds=240,
)
TINY = dict(SMOKE, n_train=256, n_test=256, epochs=1, n_seeds=2, landscape_points=5, landscape_samples=64,
            hessian_iters=2, budget_seconds=None)
PAPER = dict(
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
)

register_chapter("rwp", notebook="sharpness/rwp", config_class=RWPConfig,
                 values={"tiny": TINY, "smoke": SMOKE, "paper": PAPER}, produces=("sharpness-sgd-sam",))
