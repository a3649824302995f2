"""A DDPM trained on the in-distribution images, and the noise-then-denoise reconstruction x → x̂ of DDoS.

Explained in ``notebooks/ood/ddos.ipynb``. The model is ``diffusers``' ``UNet2DModel`` trained with the
ε-prediction objective of Ho et al. (2020) under a ``DDPMScheduler``:

    L = E_{x₀, t, ε} ‖ε − ε_θ(√ᾱ_t·x₀ + √(1 − ᾱ_t)·ε, t)‖²,   t ~ U{0, …, T − 1}, ε ~ N(0, I),

trained once and cached like the classifiers (:func:`reprobook.training.train_or_load`, with this module's
code in the key), on the noise levels t ≤ ``ddpm_max_t`` the reconstructions use. Images live in [−1, 1] for the
model (pixels p ∈ [0, 1] map to 2p − 1).

A test image is *reconstructed* by diffusing it to step t and running deterministic DDIM (Song et al.,
2021; ``diffusers``' ``DDIMScheduler``, η = 0) from t back to 0: the forward noise erases the details
that distinguish the image, and the reverse process, which only knows the InD data, fills them in with
InD-like content. t = 0 adds no noise and returns x itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..cache import dataset_fingerprint
from ..checks import ParameterError, check_int, check_number, check_seed
from ..configs.ddos import DDoSConfig
from ..timing import Timer
from ..training import History, _default_progress, resolve_device, seed_everything, train_or_load

DOWN, UP = "DownBlock2D", "UpBlock2D"


def unet_config(cfg: DDoSConfig, channels: int, size: int) -> dict[str, Any]:
    """The ``UNet2DModel`` arguments of ``cfg`` for ``channels`` × ``size`` × ``size`` images."""
    blocks = tuple(cfg.ddpm_channels)
    attention = tuple(getattr(cfg, "ddpm_attention", ()) or ())
    down = tuple("AttnDownBlock2D" if i in attention else DOWN for i in range(len(blocks)))
    up = tuple("AttnUpBlock2D" if len(blocks) - 1 - i in attention else UP for i in range(len(blocks)))
    return dict(
        sample_size=size,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=blocks,
        layers_per_block=cfg.ddpm_layers,
        down_block_types=down,
        up_block_types=up,
        norm_num_groups=cfg.ddpm_groups,
    )


def build_unet(cfg: DDoSConfig, channels: int, size: int) -> nn.Module:
    """A freshly initialised ``diffusers.UNet2DModel`` of ``cfg``'s architecture."""
    from diffusers import UNet2DModel

    # diffusers: mypy reads its import-time placeholders (utils.dummy_pt_objects), not the torch classes
    return UNet2DModel(**unet_config(cfg, channels, size))  # type: ignore[return-value]


def noise_scheduler(cfg: DDoSConfig):
    """The DDPM forward process of ``cfg``: ``DDPMScheduler`` with T steps and its β schedule."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=cfg.ddpm_timesteps, beta_schedule=cfg.ddpm_beta_schedule)


def to_pixels(x: Tensor, spec: Any) -> Tensor:
    """Classifier inputs → pixels in [0, 1] (undo the per-channel normalisation, if any)."""
    if spec.mean is None:
        return x.clone()
    mean = torch.tensor(spec.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return x * std + mean


def from_pixels(p: Tensor, spec: Any) -> Tensor:
    """Pixels in [0, 1] → the classifier's input."""
    return spec.normalise(p) if spec.mean is not None else p.clone()


@dataclass
class Diffusion:
    """A trained DDPM: the ε-network, the scheduler's configuration, its training history and provenance."""

    unet: nn.Module  # eval mode, on device
    scheduler_config: Any  # DDPMScheduler.config: the β schedule DDIM reuses
    max_t: int  # the largest noise level it was trained on
    history: History | None  # one entry per step (None: a checkpoint saved without one)
    loaded: bool
    path: str
    device: torch.device
    train_seconds: float

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.unet.parameters())

    @property
    def timesteps(self) -> int:
        return int(self.scheduler_config.num_train_timesteps)


def ddpm_training_step(
    unet: nn.Module, scheduler: Any, x0: Tensor, generator: torch.Generator | None = None, max_t: int | None = None
) -> Tensor:
    """The DDPM loss of one batch ``x0`` (in [−1, 1]): ‖ε − ε_θ(x_t, t)‖² averaged, t and ε drawn from ``generator``;
    t ~ U{0, …, max_t} (default: every step, max_t = T − 1)."""
    n = x0.shape[0]
    top = scheduler.config.num_train_timesteps - 1 if max_t is None else max_t
    # t ~ U{0, …, max_t}, ε ~ N(0, I)
    t = torch.randint(0, top + 1, (n,), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    # x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε
    x_t = scheduler.add_noise(x0, noise, t)
    # L = ‖ε − ε_θ(x_t, t)‖²
    return nn.functional.mse_loss(unet(x_t, t).sample, noise)


def ddpm_state(
    cfg: DDoSConfig,
    images: Tensor,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool | None = None,
    name: str = "ddpm",
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The DDPM of ``cfg`` trained on ``images`` (N × C × H × W pixels in [0, 1]), or loaded from the cache:
    :func:`reprobook.training.train_or_load`'s ``(state, info)``, which :func:`train_ddpm` makes a
    :class:`Diffusion` of (a module-level step, so that a worker process can train it beside other loops).

    AdamW at ``cfg.ddpm_lr`` with a linear warm-up and a cosine decay (``diffusers.optimization``),
    ``cfg.ddpm_steps`` steps of ``cfg.ddpm_batch`` images drawn with replacement, on the noise levels
    t ≤ ``cfg.ddpm_max_t`` only (those the reconstructions use; None: all T). With ``cfg.ddpm_ema`` set, the
    returned network is the exponential moving average of the weights (``diffusers.training_utils.EMAModel``,
    Ho et al.'s 0.9999 as the ceiling of its warm-up (1 + k) / (10 + k) at step k; None: the last weights).
    """
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    check_seed("seed", seed)
    channels, size, max_t = _check_images(cfg, images)
    steps = check_int("ddpm_steps", cfg.ddpm_steps, low=1)
    batch = check_int("ddpm_batch", cfg.ddpm_batch, low=1)
    device = resolve_device(device)
    ema_decay = getattr(cfg, "ddpm_ema", None)
    if ema_decay is not None:
        check_number("ddpm_ema", ema_decay, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    config = {
        "unet": unet_config(cfg, channels, size),
        "timesteps": cfg.ddpm_timesteps,
        "beta_schedule": cfg.ddpm_beta_schedule,
        "steps": steps,
        "batch": batch,
        "lr": cfg.ddpm_lr,
        "warmup": cfg.ddpm_warmup,
        "seed": seed,
        "max_t": max_t,
        **({"ema": ema_decay} if ema_decay else {}),
        "data": dataset_fingerprint(torch.utils.data.TensorDataset(images)),
    }
    show = _default_progress() if progress is None else progress
    clock = Timer()

    def train():
        generator = seed_everything(seed)
        unet = build_unet(cfg, channels, size).to(device).train()
        scheduler = noise_scheduler(cfg)
        optimizer = torch.optim.AdamW(unet.parameters(), lr=cfg.ddpm_lr)
        schedule = get_cosine_schedule_with_warmup(optimizer, cfg.ddpm_warmup, steps)
        ema = EMAModel(unet.parameters(), decay=ema_decay) if ema_decay is not None else None
        data = images.to(device) * 2 - 1  # pixels → [−1, 1]
        losses = []
        for _ in tqdm(range(steps), desc="DDPM", disable=not show, leave=False):
            rows = torch.randint(0, len(data), (batch,), generator=generator).to(device)
            loss = ddpm_training_step(unet, scheduler, data[rows], generator, max_t=max_t)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if ema is not None:
                ema.step(unet.parameters())  # θ̄ ← d·θ̄ + (1 − d)·θ
            losses.append(float(loss.detach()))
        if ema is not None:
            ema.copy_to(unet.parameters())
        return unet, History(unit="step", train_loss=losses, total_seconds=clock.elapsed())

    return train_or_load(config, train, name=name, code=("reprobook.ood.diffusion",), threads=cfg.train_threads)


def _check_images(cfg: DDoSConfig, images: Any) -> tuple[int, int, int]:
    """``images``' channels and side, and the largest noise level trained on, after checking both."""
    if not isinstance(images, Tensor) or images.dim() != 4 or len(images) < 2:
        raise ParameterError("images", type(images).__name__, "an N × C × H × W tensor of pixels in [0, 1], N >= 2")
    if float(images.min()) < 0 or float(images.max()) > 1:
        raise ParameterError(
            "images", f"values in [{float(images.min()):.3g}, {float(images.max()):.3g}]", "pixels in [0, 1]"
        )
    max_t = cfg.ddpm_timesteps - 1 if cfg.ddpm_max_t is None else cfg.ddpm_max_t
    check_int("ddpm_max_t", max_t, low=1, high=cfg.ddpm_timesteps - 1)
    return images.shape[1], images.shape[2], max_t


def train_ddpm(
    cfg: DDoSConfig,
    images: Tensor,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool | None = None,
    name: str = "ddpm",
    trained: tuple[dict[str, Tensor], dict[str, Any]] | None = None,
) -> Diffusion:
    """The DDPM of ``cfg`` trained on ``images`` (N × C × H × W pixels in [0, 1]), or loaded from the cache
    (:func:`ddpm_state`, whose docstring gives the training), as a :class:`Diffusion` on ``device``.
    ``trained``: the ``(state, info)`` that :func:`ddpm_state` already returned for these arguments (in a
    worker process)."""
    clock = Timer()
    channels, size, max_t = _check_images(cfg, images)
    device = resolve_device(device)
    if trained is None:
        trained = ddpm_state(cfg, images, device=device, seed=seed, progress=progress, name=name)
    state, info = trained
    unet = build_unet(cfg, channels, size)
    unet.load_state_dict(state)
    history = info["history"]
    return Diffusion(
        unet=unet.to(device).eval(),
        scheduler_config=noise_scheduler(cfg).config,
        max_t=max_t,
        history=history,
        loaded=info["loaded"],
        path=str(info["path"]),
        device=device,
        # the training loop's seconds, wherever it ran (this process or a worker); the load's when loaded
        train_seconds=history.total_seconds if history is not None and not info["loaded"] else clock.elapsed(),
    )


def check_noise_level(t: Any, timesteps: int, stride: int) -> int:
    """A noise level: 0 (no diffusion), or a multiple of ``stride`` below ``timesteps``."""
    check_int("t", t, low=0, high=timesteps - 1)
    if t % stride:
        raise ParameterError("t", t, f"0 or a multiple of the DDIM stride {stride} below {timesteps}")
    return int(t)


@torch.no_grad()
def reconstruct(
    diffusion: Diffusion,
    pixels: Tensor,
    t: int,
    *,
    stride: int,
    generator: torch.Generator | None = None,
    batch_size: int = 256,
) -> Tensor:
    """x̂: ``pixels`` (N × C × H × W in [0, 1]) diffused to step ``t`` then denoised by DDIM back to 0.

    DDIM runs on the timesteps t, t − s, …, 0 (s = ``stride``; the scheduler's "leading" spacing with
    T / s inference steps), deterministically (η = 0); its last step returns the predicted x̂₀. ``t`` = 0
    returns the images unchanged. The forward noise comes from ``generator`` (CPU), batch after batch.
    """
    from diffusers import DDIMScheduler

    stride = check_int("stride", stride, low=1, high=diffusion.timesteps)
    if diffusion.timesteps % stride:
        raise ParameterError("stride", stride, f"a divisor of the number of diffusion steps {diffusion.timesteps}")
    t = check_noise_level(t, diffusion.timesteps, stride)
    if t > diffusion.max_t:
        raise ParameterError("t", t, f"a noise level the DDPM was trained on (t <= {diffusion.max_t})")
    if t == 0:
        return pixels.clone()
    ddim = DDIMScheduler.from_config(diffusion.scheduler_config)
    ddim.set_timesteps(diffusion.timesteps // stride)
    steps = [int(s) for s in ddim.timesteps if int(s) <= t]
    device = diffusion.device
    out = []
    for start in range(0, len(pixels), batch_size):
        x0 = pixels[start : start + batch_size].to(device) * 2 - 1
        noise = torch.randn(x0.shape, generator=generator).to(device)
        # x_t = √ᾱ_t·x₀ + √(1 − ᾱ_t)·ε
        x = ddim.add_noise(x0, noise, torch.full((len(x0),), t, dtype=torch.long, device=device))
        for s in steps:
            # one deterministic DDIM step x_s → x_{s − stride}, from ε_θ(x_s, s)
            x = ddim.step(diffusion.unet(x, s).sample, s, x).prev_sample
        out.append(((x.clamp(-1, 1) + 1) / 2).cpu())
    return torch.cat(out)


@torch.no_grad()
def sample(diffusion: Diffusion, n: int, *, steps: int, seed: int = 0) -> Tensor:
    """``n`` unconditional samples (pixels in [0, 1], N × C × H × W) by ``diffusers``' DDIM pipeline."""
    from diffusers import DDIMPipeline, DDIMScheduler

    check_int("n", n, low=1)
    check_int("steps", steps, low=1)
    pipeline = DDIMPipeline(unet=diffusion.unet, scheduler=DDIMScheduler.from_config(diffusion.scheduler_config))
    # diffusers: mypy reads its import-time placeholders (utils.dummy_pt_objects), not the torch classes
    pipeline.set_progress_bar_config(disable=True)  # type: ignore[attr-defined]
    images = pipeline(
        batch_size=n,
        num_inference_steps=steps,  # type: ignore[operator]
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
    ).images  # N × H × W × C in [0, 1]
    return torch.from_numpy(images).permute(0, 3, 1, 2).float()


__all__ = [
    "Diffusion",
    "build_unet",
    "check_noise_level",
    "ddpm_training_step",
    "from_pixels",
    "noise_scheduler",
    "reconstruct",
    "sample",
    "to_pixels",
    "train_ddpm",
    "unet_config",
]
