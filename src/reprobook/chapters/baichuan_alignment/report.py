"""The Baichuan Alignment chapter's report: the paper's tables, the stages' settings, the training figure and the scale
note.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`; the stages and the claim tests are in :mod:`.experiment`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...configs.baichuan_alignment import PAPER_TABLE2, PAPER_TABLE3, BaichuanAlignmentConfig
from ...plots import training_curves
from .experiment import ALL_LINEAR, DPOEval, GRPOEval


def paper_tables():
    """The report's Tables 2 and 3 as one DataFrame (official instruct → Nova), with the gain."""
    rows = [
        {"base": base, "benchmark": k, "official instruct": a, "Nova": b, "gain": b - a}
        for base, table in (("Qwen2-72B", PAPER_TABLE2), ("Llama-3-70B", PAPER_TABLE3))
        for k, (a, b) in table.items()
    ]
    return pd.DataFrame(rows).set_index(["base", "benchmark"])


def stage_configs(cfg: BaichuanAlignmentConfig, *, seed: int) -> dict[str, dict[str, Any]]:
    """The trainer settings of each stage (``reprobook.llm.TrainConfig`` fields) from the chapter config."""
    lora = dict(lora_r=cfg.lora_r, lora_alpha=2 * (cfg.lora_r or 1), seed=seed)
    return {
        "sft": dict(
            lora, steps=cfg.sft_steps, batch_size=cfg.sft_batch, max_length=cfg.sft_max_length, learning_rate=cfg.sft_lr
        ),
        "dpo": dict(
            lora_r=cfg.dpo_lora_r,
            lora_alpha=2 * (cfg.dpo_lora_r or 1),
            seed=seed,
            steps=cfg.dpo_steps,
            batch_size=cfg.dpo_batch,
            max_length=cfg.rm_max_length,
            learning_rate=cfg.dpo_lr,
            beta=cfg.dpo_beta,
        ),
        "grpo": dict(
            lora_r=cfg.grpo_lora_r,
            lora_alpha=2 * (cfg.grpo_lora_r or 1),
            lora_targets=ALL_LINEAR,
            seed=seed,
            steps=cfg.grpo_steps,
            batch_size=cfg.grpo_generations * cfg.grpo_prompts_per_step,
            num_generations=cfg.grpo_generations,
            max_completion_length=cfg.grpo_max_completion,
            learning_rate=cfg.grpo_lr,
            kl_beta=cfg.grpo_kl,
            loss_type="grpo",
            max_length=cfg.rm_max_length,
        ),
    }


def scale_note(cfg: BaichuanAlignmentConfig, lm: Any) -> str:
    """The scale of this run in words (the claims table's last column)."""
    size = f"{lm.parameters / 1e6:.0f}M-parameter {lm.name}"
    dpo = f"DPO LoRA r = {cfg.dpo_lora_r}" if cfg.dpo_lora_r else "DPO full fine-tuning"
    return (
        f"{size}; SFT LoRA {cfg.sft_steps} steps, {dpo} {cfg.dpo_steps} steps × {len(cfg.dpo_seeds)} seeds, "
        f"GRPO {cfg.grpo_steps} steps ({cfg.profile} profile)"
    )


def training_figure(sft: Any, dpo: DPOEval, grpo: GRPOEval):
    """The chapter's training runs, step by step: the SFT loss, each DPO run's loss and GRPO's mean reward
    (as the trainers logged them; a run loaded from the cache shows its saved losses)."""
    curves = {
        "SFT loss": {"SFT": [sft.record.history.train_loss]},
        "DPO loss": {k: [r.history.train_loss] for k, r in dpo.records.items()},
        "GRPO mean reward (length task)": {"GRPO": [[r["reward"] for r in grpo.record.history.logs if "reward" in r]]},
    }
    curves = {q: {k: v for k, v in series.items() if len(v[0])} for q, series in curves.items()}
    curves = {q: series for q, series in curves.items() if series}
    if not curves:
        raise ValueError("no training run logged a loss: nothing to draw")
    return training_curves(
        {q: {k: np.asarray(v, dtype=float) for k, v in s.items()} for q, s in curves.items()}, xlabel="logged step"
    )
