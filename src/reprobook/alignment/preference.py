"""Preference alignment: DPO runs from the SFT model, GRPO on a verifiable reward, and what each costs.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

DPO (Rafailov et al., 2023) fits the policy to preference pairs directly, with the starting model as
the reference:

    L_DPO = −log σ( β [log π(y_c|x) − log π_ref(y_c|x)] − β [log π(y_r|x) − log π_ref(y_r|x)] ),

so that the *implicit reward margin* of a pair, Δ = [log π/π_ref](y_c) − [log π/π_ref](y_r) (sums over the
answers' tokens), is what DPO raises; the chapter measures it on held-out pairs. Several DPO runs with
different seeds (data order) are the ingredients of Model Stock.

GRPO (Shao et al., 2024) samples G completions per prompt, scores them and uses the group-normalised
reward as each completion's advantage, so that no value model (critic) is trained:

    A_i = (r_i − mean(r_1..r_G)) / std(r_1..r_G).

trl's ``GRPOTrainer`` runs it with ``loss_type="grpo"`` set explicitly (its default is DAPO's loss). The
task has a graded, verifiable reward — "Write one sentence about X." scored by −|words − target| / target —
on which a 135M model visibly learns in tens of steps: it shows that the optimiser works, on held-out
topics, not that GRPO aligns a model to human preferences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from .. import llm
from ..checks import check_int
from ..llm import generate

# Topics of the GRPO task: the first GRPO_TRAIN are trained on, the rest are held out
TOPICS = (
    "the ocean",
    "a library",
    "winter mornings",
    "bicycles",
    "coffee",
    "the moon",
    "gardening",
    "trains",
    "a thunderstorm",
    "honeybees",
    "chess",
    "bread",
    "mountains",
    "rainbows",
    "a lighthouse",
    "volcanoes",
    "music lessons",
    "a market",
    "owls",
    "paper boats",
    "the desert",
    "a museum",
    "autumn leaves",
    "sailing boats",
    "tea",
    "the sun",
    "cooking",
    "airports",
    "a snowfall",
    "butterflies",
    "football",
    "cheese",
    "rivers",
    "clouds",
    "a castle",
    "earthquakes",
    "painting",
    "a bakery",
    "penguins",
    "kites",
    "forests",
    "a bridge",
    "whales",
    "a village",
    "glaciers",
    "robots",
    "a circus",
    "deserts at night",
    "old maps",
    "a harbour",
    "candles",
    "a violin",
    "the stars",
    "a farm",
    "wolves",
    "a waterfall",
)
GRPO_TRAIN = 20
GRPO_PROMPT = "Write one sentence about {topic}."


def grpo_prompts(split: str) -> list[str]:
    """The GRPO task's prompts: ``"train"`` (the first topics) or ``"test"`` (the held-out topics)."""
    topics = TOPICS[:GRPO_TRAIN] if split == "train" else TOPICS[GRPO_TRAIN:]
    return [GRPO_PROMPT.format(topic=t) for t in topics]


def _text(x: Any) -> str:
    if isinstance(x, str):
        return x
    turns = [m for m in x if m.get("role") in ("user", "assistant")] or list(x)
    return turns[-1]["content"]


def length_reward(target: int) -> Callable:
    """The graded, verifiable reward −|words − ``target``| / ``target`` of a completion (0 is best)."""
    check_int("target", target, low=1)

    def reward(prompts, completions, **_):
        # r = −|words − target| / target
        return [-abs(len(_text(c).split()) - target) / target for c in completions]

    reward.__name__ = f"sentence_of_{target}_words"
    return reward


def greedy_rewards(
    lm: Any, prompts: Sequence[str], target: int, *, max_new_tokens: int, batch_size: int = 16
) -> tuple[list[float], list[str]]:
    """The length reward of ``lm``'s greedy answer to each prompt, and the answers."""
    answers = generate(lm, list(prompts), max_new_tokens=max_new_tokens, batch_size=batch_size).texts
    return length_reward(target)(prompts, answers), answers


def dpo_runs(
    sft_lm: Any,
    pairs: Sequence[dict[str, Any]],
    *,
    config: dict[str, Any],
    seeds: Sequence[int],
    name: str = "baichuan-dpo",
) -> list[Any]:
    """DPO from ``sft_lm`` on ``pairs`` once per seed (the seed sets the data order and any initialisation);
    returns the ``llm.Trained`` runs."""
    rows = llm.preference_rows(
        [p["prompt"] for p in pairs], [p["chosen"] for p in pairs], [p["rejected"] for p in pairs]
    )
    return [llm.dpo(sft_lm, rows, config={**config, "seed": s}, output_name=f"{name}-{k}") for k, s in enumerate(seeds)]


def grpo_length(sft_lm: Any, *, config: dict[str, Any], target: int, name: str = "baichuan-grpo") -> Any:
    """GRPO from ``sft_lm`` on the training topics with the length reward (``llm.Trained``)."""
    return llm.grpo(
        sft_lm,
        grpo_prompts("train"),
        reward=length_reward(target),
        config=config,
        output_name=name,
        reward_key=f"length-{target}",
    )


def compute_table(records: dict[str, Any]):
    """Steps, samples, seconds per step and per sample, tokens/s of each training run (a DataFrame)."""
    return pd.DataFrame(
        [
            {
                "run": k,
                "steps": r.history.steps,
                "samples": r.history.samples,
                "s/step": r.seconds_per_step,
                "s/sample": r.history.total_seconds / max(1, r.history.samples),
                "tokens/s": r.history.tokens_per_second,
                "from cache": r.loaded,
            }
            for k, r in records.items()
        ]
    ).set_index("run")
