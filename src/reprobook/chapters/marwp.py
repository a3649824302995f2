"""The m-ARWP chapter (notebooks/sharpness/marwp.ipynb) and the step-cost chapter that times its methods:
settings, the paper's hyper-parameters and claims with their sources."""

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

    Same data, model, training settings, seeds and verdict rules as the RWP chapter, so that SGD and SAM
    are the *same* trained models (the same checkpoints) in both; the paper profile trains on CIFAR-100,
    as the paper does. The m-ARWP settings are the official script's (github nblt/mARWP,
    ``scripts/run_mrwp.sh``: σ = 0.015, λ = 0.5, η = 0.1, β = 0.99) and ARWP's σ schedule its
    ``scripts/run_rwp.sh`` (σ from 0.001, ``inc`` = 10: to 0.011).
    """

    sigma: float = 0.015  # noise scale σ of m-RWP / m-ARWP
    lam: float = 0.5  # mixing weight λ of the perturbed gradient
    eta: float = 0.1  # adaptive-scaling strength η
    beta: float = 0.99  # accumulator decay β
    arwp_sigma_start: float = 0.001  # ARWP: σ rises on a cosine schedule from here ...
    arwp_sigma_end: float = 0.011  # ... to here
    # "std": ε_j / √(1 + ηF_j), the official code; "var": ε_j / (1 + ηF_j)^{1/4}, eq. 14 read literally (the
    # variance divided by √(1 + ηF_j)); the chapter trains with `scaling` and ablates the other reading
    scaling: str = "std"
    # "prwp": the paper's RWP baseline, perturbed gradient only (the RWP chapter's "rwp" is the mixed one)
    methods: tuple[str, ...] = ("sgd", "sam", "prwp", "mrwp", "arwp", "marwp")
    # λ_max (Lanczos) only for these methods (the flatness claims' and SAM): the scale-invariant sharpness is
    # measured for every method
    lambda_methods: tuple[str, ...] = ("sgd", "sam", "marwp")


SOURCE = "Li et al. (2024), TMLR, arXiv 2404.00357, abstract"
CODE_SOURCE = "official code, github nblt/mARWP, scripts/run_mrwp.sh and scripts/run_rwp.sh"
PAPER_CLAIMS = {
    "lag": "RWP's \"empirical performance has consistently lagged behind\" SAM's",
    "tradeoff": "improvement from \"the trade-off between generalization and convergence\" (mixing)",
    "generation": "improvement from \"the random perturbation generation\" (adaptive noise)",
    "efficiency": "\"greater efficiency in enhancing generalization, particularly in large-scale problems\"",
    "parity": "\"comparable or even superior performance to SAM\"",
    "cost": "m-RWP and m-ARWP compute their two gradients in parallel (two GPUs): about one SGD step of "
            "wall time against SAM's two; ARWP needs one gradient per step",
}
# The paper's damping of the perturbation by the accumulated squared gradients (eq. 14, in this book's notation):
# the variance of ε_j is divided by √(1 + η F_j); the official code divides its standard deviation instead
EQ14_SOURCE = "Li et al. (2024), eq. 14; official code, train_marwp.py (`temp /= torch.sqrt(1 + args.eta * fisher)`)"

VALUES = {
    "tiny": dict(RWP_TINY),
    # the RWP chapter's smoke settings unchanged: SGD and SAM come from its checkpoints
    "smoke": dict(RWP_SMOKE),
    "paper": dict(RWP_PAPER, dataset="cifar100", model_kwargs={"num_classes": 100}, data_files=("cifar100",)),
}

register_chapter("marwp", notebook="sharpness/marwp", config_class=MARWPConfig, values=VALUES,
                 needs=("sharpness-sgd-sam",))
register_chapter("step_cost", notebook="sharpness/step_cost", config_class=MARWPConfig, values=VALUES)
