"""The DDoS chapter (notebooks/ood/ddos.ipynb): a DDPM on the InD images, reconstruction, and the detectors.

The protected classifier is the OoD benchmark's (seed 0 of the mode-ensemble chapter's modes: the
checkpoint is shared, so this chapter *needs* ``ood-modes``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..profiles import register_chapter
from .ood_benchmark import PAPER, SMOKE, TINY, OODConfig


@dataclass(frozen=True)
class DDoSConfig(OODConfig):
    """DDoS chapter (notebooks/ood/ddos.ipynb): the diffusion model, the reconstruction, the detectors."""

    # The DDPM (diffusers UNet2DModel, ε-prediction, DDPMScheduler)
    ddpm_channels: tuple[int, ...] = (128, 256, 256, 256)  # block_out_channels
    ddpm_layers: int = 2  # layers_per_block
    ddpm_attention: tuple[int, ...] = (1,)  # blocks with self-attention (Ho et al.: at 16 × 16)
    ddpm_groups: int = 32  # GroupNorm groups
    ddpm_timesteps: int = 1000  # T
    ddpm_beta_schedule: str = "linear"  # β from 1e-4 to 0.02 (Ho et al., 2020)
    ddpm_train_images: int | None = None  # InD training images the DDPM learns from (None: all)
    ddpm_steps: int = 800_000
    ddpm_batch: int = 128
    ddpm_lr: float = 2e-4
    ddpm_warmup: int = 5000
    n_samples: int = 16  # unconditional samples shown
    sample_steps: int = 50  # DDIM steps of those samples
    # Reconstruction: noise to t, then DDIM back to 0 with a fixed stride
    noise_t: int = 250  # t of the main results (fixed before any OoD result was seen)
    t_grid: tuple[int, ...] = (50, 100, 250, 400, 600)  # the noise-level ablation
    ddim_stride: int = 50  # DDIM timestep spacing: t / stride + 1 network evaluations per image
    n_score: int | None = 1000  # images of each split (InD test and each OoD set) reconstructed and scored
    n_calibration: int = 500  # InD training images reconstructed to put the DDoS terms on one scale
    # DDoS: anomaly removal clips each penultimate activation to its InD training range
    clip_low: float = 0.01  # lower bound: this quantile of the InD training activations, per dimension
    clip_high: float = 0.99  # upper bound: this quantile
    # Baselines on the test image alone (pytorch-ood) and statistics
    knn_k: int = 50
    react_percentile: float = 0.9
    n_boot: int = 200
    n_pairs: int = 4  # x / x̂ pairs shown per set
    bench_images: int = 256  # the cost benchmark: images per timed batch


VALUES = {
    # a minute DDPM and a handful of images: the code path only
    "tiny": dict(TINY, ddpm_channels=(8, 16), ddpm_layers=1, ddpm_attention=(), ddpm_groups=4, ddpm_train_images=200,
                 ddpm_steps=3, ddpm_batch=8, ddpm_lr=1e-3, ddpm_warmup=1, n_samples=4, sample_steps=2, noise_t=100,
                 t_grid=(100, 500), ddim_stride=100, n_score=16, n_calibration=8, n_boot=5, n_pairs=2, knn_k=5,
                 bench_images=8),
    # the classifier of the OoD benchmark (shared checkpoint); a 0.6 M-parameter UNet at 28 × 28. The DDPM's
    # steps take most of the budget (≈ 0.49 s each on the 2-core CPU, measured cold: 600 steps made the chapter
    # 376 s against its 360 s, 540 steps 362 s): 480 steps
    "smoke": dict(SMOKE, ddpm_channels=(16, 32, 64), ddpm_layers=1, ddpm_attention=(), ddpm_groups=8,
                  ddpm_train_images=5000, ddpm_steps=480, ddpm_batch=64, ddpm_lr=2e-3, ddpm_warmup=20, n_samples=16,
                  sample_steps=20, noise_t=250, t_grid=(100, 250, 400), ddim_stride=50, n_score=200, n_calibration=100,
                  bench_images=64, budget_seconds=360),
    # CIFAR-10 and the DDPM of Ho et al. (2020) for 32 × 32 CIFAR-10 (35.7 M parameters, 800k steps)
    "paper": dict(PAPER, n_score=None),
}

register_chapter("ddos", notebook="ood/ddos", config_class=DDoSConfig, values=VALUES, needs=("ood-modes",))
