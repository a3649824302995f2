"""The DDoS chapter's trained networks: the protected classifiers, the perceptual mode's and the DDPM, trained side
by side.

On a CPU every loop runs on ``cfg.train_threads`` threads (one in the smoke profile, so that a chapter run alone
trains the networks of the book, which gives a notebook one core). :func:`pretrain` then fills the run's other
cores with other loops (:func:`reprobook.pool.train_many`), the DDPM, the longest, first. The networks are the
same as those trained one after the other: each loop depends on its arguments alone (``tests/test_pool.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ...configs.ddos import DDoSConfig
from ...ood.benchmark import classifier_job, plain_training_set
from ...ood.diffusion import ddpm_state
from ...pool import call, pool_size, train_many
from ...training import resolve_device
from .samples import pixels_of

Trained = tuple[dict[str, Any], dict[str, Any]]  # train_or_load's (state, info)


def ddpm_job(cfg: DDoSConfig, seed: int, data_seed: int) -> Trained:
    """The DDPM's ``(state, info)`` on the CPU, in a worker process: its training images built again there (those of
    :func:`.samples.training_pixels` for the benchmark of ``data_seed``)."""
    images = pixels_of(plain_training_set(cfg, data_seed), cfg.in_dataset, cfg.ddpm_train_images, seed=seed)
    return ddpm_state(cfg, images, device=torch.device("cpu"), seed=seed, progress=False)


def pretrain(
    cfg: DDoSConfig, seeds: Sequence[int], *, ddpm_seed: int, device: Any = "auto", data_seed: int = 0
) -> tuple[dict[int, Trained], Trained | None]:
    """The classifiers of ``seeds`` and the DDPM of ``ddpm_seed`` trained (or loaded) side by side, as many at once
    as the run's threads hold: ``({seed: (state, info)}, (state, info))`` for ``build_benchmarks``' and
    ``train_ddpm``'s ``trained``. Where one loop at a time is all the run holds (one thread, another device),
    nothing: ``({}, None)``, and each is trained where it is built."""
    workers = pool_size(cfg.train_threads, resolve_device(device).type, torch.get_num_threads())
    if workers == 1:
        return {}, None
    jobs = [(ddpm_job, (cfg, ddpm_seed, data_seed)), *((classifier_job, (cfg, s, data_seed)) for s in seeds)]
    ddpm, *classifiers = train_many(call, jobs, workers)
    return dict(zip(seeds, classifiers, strict=True)), ddpm
