"""Preference alignment: DPO from the SFT model, GRPO against a reward model, and what each costs.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

DPO (Rafailov et al., 2023) fits the policy to preference pairs directly, with the starting model as
the reference:

    L_DPO = −log σ( β [log π(y_c|x) − log π_ref(y_c|x)] − β [log π(y_r|x) − log π_ref(y_r|x)] ).

GRPO (Shao et al., 2024) samples G completions per prompt, scores them with the reward model and uses
the group-normalised reward as each completion's advantage, so that no value model (critic) is
trained:

    A_i = (r_i − mean(r_1..r_G)) / std(r_1..r_G).

The report tried PPO and GRPO and kept GRPO at about half PPO's compute. trl 1.16 ships no PPO
trainer, so PPO's compute is *estimated* here from measured parts: a GRPO step plus what a critic of
the policy's size adds, one forward and backward pass over the same sequences, timed on the reward
backbone (a sequence classifier of the same body).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..results import glued


def critic_step_seconds(lm: Any, texts: Sequence[str], *, repeats: int = 2) -> float:
    """Wall seconds of one forward and backward pass of a value model (the policy's body with a scalar
    head) over ``texts``: the work PPO's critic adds per update. The median of ``repeats`` timings."""
    import statistics

    import torch

    from ..llm.generation import _pad
    from ..llm.trainers import reward_backbone

    critic = reward_backbone(lm).train()
    rows = [lm.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    ids, mask = _pad(rows, lm.tokenizer.pad_token_id, "right")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        values = critic(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device)).logits
        values.pow(2).mean().backward()  # a squared error toward returns: the same graph as PPO's value loss
        critic.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    del critic
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return float(statistics.median(times))


@dataclass
class PreferenceResult:
    """DPO and GRPO runs: their models, records and the compute table (with the PPO estimate)."""

    compute: Any  # DataFrame: method × steps, samples, seconds/step, seconds/sample, tokens/s
    dpo_model: Any = field(repr=False, default=None)
    grpo_model: Any = field(repr=False, default=None)
    records: dict[str, Any] = field(repr=False, default_factory=dict)
    dpo_steps: int = glued("d", default=0)
    grpo_steps: int = glued("d", default=0)
    dpo_pairs: int = glued("d", default=0)
    grpo_prompts: int = glued("d", default=0)
    group: int = glued("d", default=0)
    dpo_s_per_sample: float = glued(".2f", default=0.0)
    grpo_s_per_sample: float = glued(".2f", default=0.0)
    ppo_s_per_sample: float = glued(".2f", default=0.0)
    grpo_over_ppo: float = glued(".0%", default=0.0)
    grpo_reward_first: float = glued(".2f", default=0.0)
    grpo_reward_last: float = glued(".2f", default=0.0)


def preference_stage(sft_lm: Any, pairs: Sequence[dict[str, Any]], prompts: Sequence[str], reward_judge: Any, *,
                     dpo_config: dict[str, Any], grpo_config: dict[str, Any], name: str = "baichuan"
                     ) -> PreferenceResult:
    """DPO on ``pairs`` and GRPO on ``prompts`` (reward: ``reward_judge``), both from ``sft_lm``; then
    the compute of each per trained sample and the estimate for PPO."""
    import pandas as pd

    from .. import llm

    rows = llm.preference_rows([p["prompt"] for p in pairs], [p["chosen"] for p in pairs],
                               [p["rejected"] for p in pairs])
    dpo = llm.dpo(sft_lm, rows, config=dpo_config, output_name=f"{name}-dpo")
    grpo = llm.grpo(sft_lm, list(prompts), reward=reward_judge, config=grpo_config, output_name=f"{name}-grpo")
    group = int(grpo_config.get("num_generations", 4))
    batch = int(grpo_config.get("batch_size", 4))
    # PPO's extra work per update: a critic forward and backward over one GRPO batch (prompt + completion)
    sample = [llm.chat_prompt(sft_lm, p) + "word " * int(grpo_config.get("max_completion_length", 32))
              for p in list(prompts)[:batch]]
    critic = critic_step_seconds(sft_lm, sample)
    per = {"DPO": dpo.record.seconds / max(1, dpo.record.samples),
           "GRPO": grpo.record.seconds / max(1, grpo.record.samples)}
    per["PPO (estimate: GRPO + critic)"] = per["GRPO"] + critic / batch
    table = pd.DataFrame([
        {"method": "DPO", "steps": dpo.record.steps, "samples": dpo.record.samples, "unit": "pair",
         "s/step": dpo.record.seconds_per_step, "s/sample": per["DPO"], "tokens/s": dpo.record.tokens_per_second,
         "from cache": dpo.record.loaded},
        {"method": "GRPO", "steps": grpo.record.steps, "samples": grpo.record.samples, "unit": "completion",
         "s/step": grpo.record.seconds_per_step, "s/sample": per["GRPO"], "tokens/s": grpo.record.tokens_per_second,
         "from cache": grpo.record.loaded},
        {"method": "PPO (estimate: GRPO + critic)", "steps": None, "samples": None, "unit": "completion",
         "s/step": grpo.record.seconds_per_step + critic, "s/sample": per["PPO (estimate: GRPO + critic)"],
         "tokens/s": None, "from cache": None},
    ]).set_index("method")
    rewards = [r.get("reward", float("nan")) for r in grpo.record.logs]
    return PreferenceResult(table, dpo.model, grpo.model, {"DPO": dpo.record, "GRPO": grpo.record, "critic_s": critic},
                            dpo_steps=dpo.record.steps, grpo_steps=grpo.record.steps, dpo_pairs=len(rows),
                            grpo_prompts=len(prompts), group=group, dpo_s_per_sample=per["DPO"],
                            grpo_s_per_sample=per["GRPO"], ppo_s_per_sample=per["PPO (estimate: GRPO + critic)"],
                            grpo_over_ppo=per["GRPO"] / per["PPO (estimate: GRPO + critic)"],
                            grpo_reward_first=rewards[0] if rewards else float("nan"),
                            grpo_reward_last=rewards[-1] if rewards else float("nan"))
