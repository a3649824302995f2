"""Images per second of the whole DDoS detector against a plain classifier detector, timed in one run.

Explained in ``notebooks/ood/ddos.ipynb``; run from the shell as ``reprobook bench ddos-throughput``.
A classifier detector (MSP) costs one forward pass of the classifier per image. DDoS costs, per image,
the forward noise, t / s + 1 evaluations of the diffusion UNet (DDIM from step t to 0 with stride s),
then the classifier on x and on x̂ and the two similarity terms. The cost depends on the sizes of the
networks, not on what they learned, so both are the profile's architectures, freshly initialised (seeded):
no training is needed to measure.

How it measures: one batch of ``n_images`` random images; each method scores it ``warmup`` times untimed,
then ``repeats`` rounds, each method once per round in a shuffled order (``torch.cuda.synchronize()``
around each call on a GPU). Per method: the median images per second over the rounds and its quartiles;
``slowdown`` is the median over the rounds of the method's time over the classifier's time *in the same
round*. Every round's time is in the settings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from pytorch_ood.detector import MaxSoftmax

from .. import profiles
from ..checks import ParameterError
from ..data import vision
from ..models import build_model
from ..ood.ddos import AnomalyRemoval, ddos_terms
from ..ood.diffusion import Diffusion, build_unet, check_noise_level, from_pixels, noise_scheduler, reconstruct
from ..timing import Timer, synchronize
from . import check_count
from . import check_methods as _check_methods

METHODS: dict[str, str] = {
    "classifier": "classifier detector (MSP on one forward pass)",
    "reconstruction": "diffusion reconstruction alone (noise to t, DDIM to 0)",
    "ddos": "DDoS (reconstruction, classifier on x and x̂, anomaly removal on x̂, both terms)",
}
SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(warmup=0, repeats=2),
    "smoke": dict(warmup=1, repeats=3),
    "paper": dict(warmup=2, repeats=10),
}
SETTINGS = ("n_images", "warmup", "repeats", "noise_t", "ddim_stride", "seed", "methods")


def check_methods(methods: Any) -> tuple[str, ...]:
    """Known method names, with ``"classifier"`` (the reference of every slowdown)."""
    return _check_methods(methods, METHODS, "classifier", "every slowdown is a method's time over the classifier's")


def measure(device: torch.device, profile: str, **settings: Any):
    """Time the scoring of one batch by each method; return ``(table, settings used)``.

    Settings (each defaults to the DDoS chapter's profile): ``n_images``, ``warmup``, ``repeats``,
    ``noise_t``, ``ddim_stride``, ``seed``, ``methods`` (a list of :data:`METHODS` names, with ``"classifier"``).
    """
    profiles.check_profile(profile)
    for key in settings:
        if key not in SETTINGS:
            raise ParameterError(key, settings[key], f"a ddos-throughput setting: {', '.join(SETTINGS)}")
    cfg = profiles.config("ddos", profile)
    sizes = SIZES["tiny" if profiles.dry_run(profile) else profile]  # a dry run: the smallest rounds (loops)
    n_images = check_count("n_images", settings.get("n_images", cfg.bench_images))
    warmup = check_count("warmup", settings.get("warmup", sizes["warmup"]), low=0)
    repeats = check_count("repeats", settings.get("repeats", sizes["repeats"]))
    stride = check_count("ddim_stride", settings.get("ddim_stride", cfg.ddim_stride))
    t = check_noise_level(settings.get("noise_t", cfg.noise_t), cfg.ddpm_timesteps, stride)
    seed = check_count("seed", settings.get("seed", 0), low=0)
    methods = check_methods(settings.get("methods", tuple(METHODS)))

    spec = vision.input_spec(cfg.in_dataset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(cfg.model, **cfg.model_kwargs).to(device).eval()
        unet = build_unet(cfg, spec.channels, spec.size).to(device).eval()
    diffusion = Diffusion(
        unet=unet,
        scheduler_config=noise_scheduler(cfg).config,
        max_t=cfg.ddpm_timesteps - 1,
        history=None,
        loaded=False,
        path="",
        device=device,
        train_seconds=0.0,
    )
    pixels = torch.rand(n_images, spec.channels, spec.size, spec.size, generator=torch.Generator().manual_seed(seed))
    # torch stubs: a Module's attributes are typed Tensor | Module (head is an nn.Linear)
    removal = AnomalyRemoval(cfg.clip_low, cfg.clip_high).fit(torch.rand(256, model.head.in_features))  # type: ignore[union-attr, arg-type]

    @torch.no_grad()
    def classifier():
        return MaxSoftmax.score(model(from_pixels(pixels, spec).to(device)))

    def reconstruction():
        return reconstruct(diffusion, pixels, t, stride=stride, generator=torch.Generator().manual_seed(seed))

    @torch.no_grad()
    def ddos():
        x_hat = reconstruction()
        z = model.features(from_pixels(pixels, spec).to(device))
        z_hat = model.features(from_pixels(x_hat, spec).to(device))
        return ddos_terms(model.head, z, z_hat, removal)

    run = {"classifier": classifier, "reconstruction": reconstruction, "ddos": ddos}
    for _ in range(warmup):
        for m in methods:
            run[m]()
    synchronize(device)
    rounds: dict[str, list[float]] = {m: [] for m in methods}
    order = np.random.default_rng(seed)
    for _ in range(repeats):
        for i in order.permutation(len(methods)):
            m = methods[i]
            synchronize(device)
            clock = Timer()
            run[m]()
            synchronize(device)
            rounds[m].append(clock.elapsed())
    reference = np.array(rounds["classifier"])
    rows = []
    for m in methods:
        seconds = np.array(rounds[m])
        rate = n_images / seconds
        rows.append(
            {
                "method": m,
                "detector": METHODS[m],
                "images_per_s": float(np.median(rate)),
                "p25_per_s": float(np.percentile(rate, 25)),
                "p75_per_s": float(np.percentile(rate, 75)),
                # the method's time / the classifier's time, round by round; the median over the rounds
                "slowdown": float(np.median(seconds / reference)),
            }
        )
    evaluations = 0 if t == 0 else t // stride + 1
    used = {
        "methods": list(methods),
        "n_images": n_images,
        "warmup": warmup,
        "repeats": repeats,
        "noise_t": t,
        "ddim_stride": stride,
        "unet_evaluations": evaluations,
        "seed": seed,
        "device": str(device),
        "model": cfg.model,
        "unet_channels": list(cfg.ddpm_channels),
        "unet_parameters": sum(p.numel() for p in unet.parameters()),
        "torch_threads": torch.get_num_threads(),
        "weights": "freshly initialised (cost depends on the sizes only)",
        "rounds_s": {m: v for m, v in rounds.items()},
    }
    return pd.DataFrame(rows), used
