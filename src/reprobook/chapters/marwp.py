"""The m-ARWP chapter (notebooks/sharpness/marwp.ipynb) and the step-cost chapter that times its methods."""

from __future__ import annotations

from dataclasses import dataclass

from ..profiles import register_chapter
from .rwp import PAPER as RWP_PAPER
from .rwp import SMOKE as RWP_SMOKE
from .rwp import TINY as RWP_TINY
from .rwp import RWPConfig


@dataclass(frozen=True)
class MARWPConfig(RWPConfig):
    """Sizes and hyper-parameters of the m-ARWP chapter (notebooks/sharpness/marwp.ipynb).

    Same data, model and hyper-parameters as the RWP chapter; the paper profile trains on CIFAR-100, as
    the paper does. Where the training settings coincide, checkpoints are shared with the RWP chapter.
    """

    sigma: float = 0.015  # noise scale σ of m-RWP / m-ARWP
    lam: float = 0.5  # mixing weight λ of the perturbed gradient
    eta: float = 0.1  # adaptive-scaling strength η
    beta: float = 0.99  # accumulator decay β
    arwp_sigma_start: float = 0.001  # ARWP: σ rises on a cosine schedule from here ...
    arwp_sigma_end: float = 0.011  # ... to here
    scaling: str = "std"  # "std": σ/√(1+ηF) (official code); "var": σ²/√(1+ηF) (a reading of eq. 14)
    # "prwp": the paper's RWP baseline, perturbed gradient only (the RWP chapter's "rwp" is the mixed one)
    methods: tuple[str, ...] = ("sgd", "sam", "prwp", "mrwp", "arwp", "marwp")


VALUES = {
    "tiny": dict(RWP_TINY),
    # six optimisers and an ablation on three seeds: 6 epochs instead of 8 to stay within the budget cold
    "smoke": dict(RWP_SMOKE, epochs=6, landscape_samples=256),
    "paper": dict(RWP_PAPER, dataset="cifar100", model_kwargs={"num_classes": 100}, data_files=("cifar100",)),
}

register_chapter("marwp", notebook="sharpness/marwp", config_class=MARWPConfig, values=VALUES,
                 needs=("sharpness-sgd-sam",))
register_chapter("step_cost", notebook="sharpness/step_cost", config_class=MARWPConfig, values=VALUES)
