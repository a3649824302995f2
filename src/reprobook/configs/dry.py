"""The dry run: every chapter at a profile's configuration (the paper's) with every loop capped.

``reprobook run --profile paper --dry-run`` executes each chapter with its paper-profile configuration
(models, sequence lengths, batch sizes, optimisers, LoRA or full fine-tuning, dataset shapes, detector
sets, retrieval depths) but with every loop cut short: at most two optimiser steps per training stage,
at most four items per evaluation, one seed. It tests that the paper's code path runs to its claims
table on any machine, in about a minute per chapter; it is never evidence (its verdicts read *not
comparable (dry run)*, and ``reprobook build`` refuses its results).

How a chapter learns it is a dry run: the runner sets :data:`ENV` (``REPROBOOK_DRY_RUN=paper``, the
profile run dry) in the kernel's environment; :func:`reprobook.profiles.config` then applies this module's caps
(:data:`CAPS`) on top of the profile's values, :func:`reprobook.notebook.start` marks the run's record and shows a
banner, and the loaders put a *stand-in* where the real source needs a network this machine lacks
(:func:`note_stand_in`: torchvision ``FakeData`` of the real shapes for image sets, a randomly initialised
model of the paper model's own architecture at reduced width for language models), each announced in
the executed copy.

A cap is a value, or a function of the profile's (uncapped) values that returns one; a cap on a field
the configuration does not have is ignored (:func:`unknown_caps` lists them, so that a renamed field
is noticed). Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..dryrun import ENV, MAX_ITEMS, MAX_STEPS, active, environment, note_stand_in  # noqa: F401  (re-exported)

MAX_BOOT = 20  # bootstrap / resampling rounds (a loop, not a unit of evidence)
MAX_NEW_TOKENS = 8  # generated tokens per answer (a decoding loop; a stand-in model's noise never stops by itself)
BUDGET_SECONDS = 90  # every chapter's dry run on a 2-core CPU ("about a minute")
BOOK_GOAL_SECONDS = 10 * 60  # the whole dry run: its share of `make test`'s 20 minutes


def _encoder_here(name: str) -> str:
    """The dense encoder a dry run loads for ``name``: itself when it is a local folder, a registry name, or a hub
    id that the hub or its cache serves; else the folder of its stand-in, a randomly initialised encoder of the
    paper encoder's own architecture (:func:`reprobook.llm.loading.encoder_folder`, announced in the run)."""
    from ..llm import loading  # noqa: PLC0415  (the llm package imports torch: chapters stay light)

    kind, _ = loading._where(name) if "/" in name else ("registry", name)
    return loading.encoder_folder(name) if kind == "hub" else name


def _fit_steps(fractions: tuple[float, ...], distinct: int = 3) -> int:
    """The fewest steps of a scaling study's full budget whose ``fractions`` (each at least one step) give
    ``distinct`` different budgets: a power law's fit needs as many points as it has parameters."""
    steps = MAX_STEPS
    while len({max(1, round(f * steps)) for f in fractions}) < min(distinct, len(set(fractions))):
        steps += 1
    return steps


def _one_step(batch: str = "batch_size") -> Callable[[dict[str, Any]], int]:
    """Training examples for one optimiser step of the profile's batch size (the image classifiers: a step of
    ResNet-18 at the paper's batch of 128-256 takes 5-10 s of this 2-core CPU, and each chapter trains several)."""
    return lambda v: int(v.get(batch) or 1)


# A decoder trained from scratch (Baichuan 2's ablations): (hidden, layers, heads), the width and depth of the hub
# models' stand-ins (reprobook.llm.loading.STAND_IN_SIZE; tests/test_dry_run.py checks they agree)
LM_SIZE = (64, 2, 4)

# Shared caps of the image classifiers (Parts I and II): one epoch of one batch, four test images
_VISION = dict(n_train=_one_step(), n_test=MAX_ITEMS, epochs=1)
_SHARPNESS = dict(
    _VISION,
    n_seeds=1,
    probe_samples=MAX_ITEMS,
    hessian_samples=MAX_ITEMS,
    lanczos_max_matvecs=4,
    sharpness_directions=1,
    landscape_points=3,
    step_timing_steps=1,
)
_OOD = dict(_VISION, n_ood=MAX_ITEMS)

# chapter -> {field: cap}. Kept to what loops; what the paper's configuration fixes (architectures, widths,
# sequence lengths, batch sizes, learning rates, detector sets, retrieval depths) is left as it is.
CAPS: dict[str, dict[str, Any]] = {
    "rwp": dict(_SHARPNESS),
    # the ablation (ARWP with the other damping; no claim reads it) left out, as the smoke profile does: its run
    # is one more ResNet-18 at the paper's batch, and the tiny profile runs its code
    "marwp": dict(_SHARPNESS, ablation_seeds=0),
    "step_cost": dict(_SHARPNESS),
    "mode_ensemble": dict(
        _OOD,
        n_modes=2,
        ensemble_sizes=lambda v: tuple(m for m in v["ensemble_sizes"] if m <= 2),
        max_subsets=1,
        n_score=MAX_ITEMS,
        slice_points=3,
        slice_samples=MAX_ITEMS,
        landscape_points=3,
        landscape_samples=MAX_ITEMS,
        bn_samples=MAX_ITEMS,
        n_boot=MAX_BOOT,
        null_draws=MAX_BOOT,
    ),
    "kpca": dict(_OOD, n_classifiers=1, rff_probe=16),
    # the DDPM of Ho et al. (35.7 M parameters at 32 × 32) takes ~75 s a step at its batch of 128 on this CPU:
    # batch 8; the InD test images are scored or calibrate, never both (n_test = n_score + n_calibration); two
    # noise levels of the ablation's grid (the smallest and the main one)
    "ddos": dict(
        _OOD,
        n_test=2 * MAX_ITEMS,
        n_classifiers=1,
        perceptual_mode=1,
        ddpm_batch=8,
        ddpm_train_images=lambda v: MAX_STEPS * min(8, int(v["ddpm_batch"])),
        ddpm_steps=MAX_STEPS,
        ddpm_warmup=1,
        t_grid=lambda v: tuple(sorted({min(v["t_grid"]), v["noise_t"]})),
        n_score=MAX_ITEMS,
        n_calibration=MAX_ITEMS,
        n_pairs=1,
        bench_images=MAX_ITEMS,
    ),
    # batch 1 at the paper's sequence length (64 sequences of 1,024 tokens over a 64,000-token vocabulary need
    # 17 GB for the logits alone); the sweeps' two ends (learning rates; max-z weights, with the paper's weight
    # between them, which the claims read); the twelve models it trains (sweep, doses, scaling budgets) at the
    # stand-ins' width and depth (a step of the (512, 8, 8) model is ~5 s here, its 363 MB checkpoint ~2 s), the
    # vocabulary and sequence length kept; the scaling fit's three parameters need three distinct budgets (three
    # steps at the largest); the repetition measure on one block (its one-hot context of 1,024 × 64,000 per
    # block costs seconds)
    "baichuan2": dict(
        ablation_size=LM_SIZE,
        scaling_size=LM_SIZE,
        ablation_steps=MAX_STEPS,
        scaling_steps=lambda v: _fit_steps(v["scaling_fractions"]),
        n_seeds=1,
        scaling_seeds=1,
        val_blocks=MAX_ITEMS,
        repetition_blocks=1,
        batch_size=1,
        sweep_lrs=lambda v: (min(v["sweep_lrs"]), max(v["sweep_lrs"])),
        maxz_weights=lambda v: tuple(sorted({min(v["maxz_weights"]), v["max_z_weight"], max(v["maxz_weights"])})),
    ),
    # two DPO seeds: the merges need two models; SFT and DPO at a batch of four (sixteen pairs of up to 2,048
    # tokens through policy and reference is ~10 GB of the stand-in's 49,152-token logits: minutes of page faults)
    "baichuan_alignment": dict(
        sft_batch=MAX_ITEMS,
        n_sft=lambda v: MAX_STEPS * min(MAX_ITEMS, int(v["sft_batch"])),
        sft_steps=MAX_STEPS,
        n_length_sample=MAX_ITEMS,
        n_heldout_ni=MAX_ITEMS,
        n_ni_rm_pairs=MAX_ITEMS,
        dpo_seeds=lambda v: tuple(v["dpo_seeds"][:2]),
        gen_max_new_tokens=MAX_NEW_TOKENS,
        dpo_steps=MAX_STEPS,
        dpo_batch=MAX_ITEMS,
        grpo_steps=MAX_STEPS,
        guard_prompts=MAX_ITEMS,
        n_samples_shown=1,
    ),
    "pas": dict(
        complement_tokens=MAX_NEW_TOKENS,
        answer_tokens=MAX_NEW_TOKENS,
        judge_answer_tokens=MAX_NEW_TOKENS,
        ni_per_task=1,
        squad_questions=MAX_ITEMS,
        hhh_rows=MAX_ITEMS,
        rm_pairs=MAX_ITEMS,
        planted_duplicates=MAX_ITEMS,
        classifier_folds=2,
        train_prompts=MAX_ITEMS,
        eval_prompts=MAX_ITEMS,
        regenerate_rounds=1,
        small_size=2,
        reward_folds=2,
    ),
    # the paper's dense encoder (BAAI/bge-base-zh-v1.5) is a hub id the retriever loads itself: offline, the
    # stand-in's folder in its place
    "domainrag": dict(
        dense_encoder=lambda v: _encoder_here(v["dense_encoder"]),
        max_new_tokens=MAX_NEW_TOKENS,
        max_new_tokens_long=MAX_NEW_TOKENS,
        questions=1,
        retrieval_questions=2,
        noise_questions=1,
        contrast_questions=1,
        n_boot=MAX_BOOT,
        lik_plan=lambda v: tuple(
            (ability, 1 if n is None else min(n, 1), settings) for ability, n, settings in v["lik_plan"]
        ),
    ),
    "slimplm": dict(
        proxy_max_new_tokens=MAX_NEW_TOKENS,
        answer_max_new_tokens=MAX_NEW_TOKENS,
        train_questions=MAX_ITEMS,
        eval_questions=MAX_ITEMS,
        n_boot=MAX_BOOT,
    ),
}


def caps(chapter: str, values: dict[str, Any], fields: set[str] | None = None) -> dict[str, Any]:
    """The capped values of ``chapter`` for a profile's ``values`` (the fields that change, only).

    A numeric cap never raises a value (a profile already below it keeps its own); ``None`` (all) becomes
    the cap. Fields not in ``fields`` (the configuration's, when given) are left out.
    """
    out: dict[str, Any] = {}
    for name, cap in CAPS.get(chapter, {}).items():
        if fields is not None and name not in fields:
            continue
        value = cap(values) if callable(cap) else cap
        current = values.get(name)
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and isinstance(current, (int, float))
            and not isinstance(current, bool)
        ):
            value = min(current, value)
        if current != value:
            out[name] = value
    return out


def unknown_caps(chapter: str, fields: set[str]) -> list[str]:
    """Caps of ``chapter`` that name no field of its configuration (a renamed field leaves one uncapped)."""
    return sorted(set(CAPS.get(chapter, {})) - set(fields))
