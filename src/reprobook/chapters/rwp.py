"""The RWP chapter (notebooks/sharpness/rwp.ipynb): data, model, the paper's CIFAR hyper-parameters, the
verdict rules' settings, and the paper's claims and numbers the chapter quotes, with their sources."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..profiles import ChapterConfig, register_chapter


@dataclass(frozen=True)
class RWPConfig(ChapterConfig):
    """Sizes and hyper-parameters of the RWP chapter (notebooks/sharpness/rwp.ipynb).

    The optimiser settings default to the official CIFAR recipe (github nblt/RWP,
    ``recipes/run_rwp_ddp.sh``): batch 256, learning rate 0.1 with a cosine schedule, weight decay 1e-3,
    200 epochs, γ = 0.01, α = 0.5; momentum 0.9 is the script's default. SAM's ρ = 0.05 is SAM's usual
    CIFAR value (Foret et al., 2021).
    """

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
    augment: bool = True  # random crop + flip (+ cutout in the paper)
    # flatness, measured on a fixed subset of the training images (no augmentation)
    probe_samples: int = 2048  # training images behind the filter-normalised sharpness ...
    hessian_samples: int = 2048  # ... and the first of them behind λ_max (a Hessian-vector product costs more)
    lanczos_tol: float = 1e-3  # λ_max: relative tolerance of the Lanczos iteration (scipy's eigsh)
    lanczos_max_matvecs: int = 60  # ... and the most Hessian-vector products it may spend per model
    sharpness_radius: float = 0.1  # filter-normalised sharpness: each filter moved by 10 % of its norm
    sharpness_directions: int = 10  # ... averaged over this many random directions
    landscape_points: int = 21  # the one-dimensional loss plot: points on [−radius, radius]
    landscape_radius: float = 0.5
    # verdict rules (reprobook.claims), the same in the RWP and the m-ARWP chapters
    parity_margin: float = 0.01  # "competitive with SAM": mean accuracy gap to SAM above −1 point (non-inferiority)
    alpha_level: float = 0.05  # level of every test, Holm-adjusted across a chapter's tests
    fit_loss: float = 0.1  # the converged regime: training loss at the final weights below this ...
    fit_accuracy: float = 0.99  # ... and training accuracy at least this, for every method and seed
    step_timing_steps: int = 5  # the cost of a step: steps of each method per timed round (7 rounds, in this run)

    def seeds(self, base_seed: int) -> list[int]:
        return [base_seed + i for i in range(self.n_seeds)]


# What the paper claims and the numbers the chapter quotes, with their sources
SOURCE = "Li et al. (2022), arXiv 2211.11489, abstract"
CODE_SOURCE = "official code, github nblt/RWP, recipes/run_rwp_ddp.sh"
PAPER_CLAIMS = {
    "flat": "the perturbed loss term \"guides the network towards a wider flat region\"",
    "parallel": "the two gradients \"can be efficiently computed in parallel, enabling nearly the same training "
                "speed as regular training\"; SAM \"inevitably doubles the training time\"",
    "competitive": "\"very competitive performance on CIFAR\" compared with SAM",
    "imagenet": "\"remarkably better performance on ImageNet (e.g. +1.1%) compared with SAM, but always require "
                "half of the training time\"",
}
PAPER_IMAGENET_GAIN_OVER_SAM = 0.011  # top-1 accuracy, ImageNet (abstract)

# Smoke: a small subset fitted to (near) zero training loss, where flat-minima methods can show, for ≥ 5 seeds
# within the 240 s budget: 192 FashionMNIST images, 50 epochs of batch 32 (300 steps), 5 seeds. The small CNN
# halves its sides with stride-2 convolutions (max-pooling with indices is slow on a CPU). Measured before
# choosing, single-threaded CPU time on the shared 2-core machine: an SGD run of 40 epochs about 6 s (256
# images: 8 s); SAM and RWP cost 1.3–2× an SGD run. 40 epochs left the worst of 15 runs at a training loss of
# 0.099 and a training accuracy of 99.0%, on the edge of the converged regime; 50 epochs (SAM and RWP on three
# seeds) reach 0.015–0.04 and 100%.
SMOKE = dict(
    dataset="fashion-mnist",
    model="small_cnn",
    model_kwargs={"in_channels": 1, "num_classes": 10, "width": 16, "downsample": "stride"},
    n_train=192,
    n_test=2000,
    epochs=50,
    batch_size=32,
    lr=0.1,
    n_seeds=5,
    augment=False,
    probe_samples=192,
    hessian_samples=96,
    lanczos_max_matvecs=40,
    landscape_points=17,
    data_files=("fashion-mnist",),
    budget_seconds=240,
)
TINY = dict(SMOKE, n_train=64, n_test=128, epochs=1, batch_size=32, n_seeds=2, probe_samples=32, hessian_samples=32,
            lanczos_max_matvecs=12, sharpness_directions=2, landscape_points=3, step_timing_steps=1,
            budget_seconds=None)
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
    probe_samples=2048,
    landscape_points=41,
    augment=True,
    data_files=("cifar10",),
)

register_chapter("rwp", notebook="sharpness/rwp", config_class=RWPConfig,
                 values={"tiny": TINY, "smoke": SMOKE, "paper": PAPER}, produces=("sharpness-sgd-sam",))
