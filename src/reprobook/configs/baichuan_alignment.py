"""The Baichuan Alignment chapter (notebooks/alignment/baichuan_alignment.ipynb): SFT, reward models, DPO,
GRPO and model merging on a small pretrained chat model, with the report's numbers it sets beside them."""

from __future__ import annotations

from dataclasses import dataclass

from ..claims import ClaimSpec
from .registry import ChapterConfig, register_chapter


@dataclass(frozen=True)
class BaichuanAlignmentConfig(ChapterConfig):
    """Sizes and settings of the Baichuan Alignment chapter.

    The report (arXiv 2410.14940) gives no hyper-parameters for its SFT, reward-model or RL runs except
    GRPO's 3 samples per prompt; the values below are common small-scale choices, fixed before any
    result was seen and the same in every run of a profile. Step counts and learning rates were chosen
    by measuring whether a stage *moves* the model (its greedy answers and its per-token KL against its
    parent on held-out prompts), never by the held-out measures the claims test.
    """

    model: str = "smollm2-135m-instruct"  # a registry name, a folder or a HF id; "tiny": llm.tiny_causal_lm
    tiny_base: str = "smollm2-135m-instruct"  # tokenizer and architecture family of the tiny model
    lora_r: int | None = 16  # SFT's LoRA rank; None: full fine-tuning (paper profile)
    # SFT on natural-instructions tasks (train tasks only)
    n_sft: int = 32
    sft_steps: int = 6
    sft_batch: int = 2  # packed rows per step
    sft_max_length: int = 256  # examples longer than this are left out, so that no answer is cut
    sft_lr: float = 3e-4
    n_length_sample: int = 360  # train-task examples whose token lengths make the utilisation table
    n_heldout_ni: int = 16  # held-out-task examples whose reference answers SFT is scored on
    # reward heads on the frozen SFT model's features: HHH split by prompt (test / A / B) plus NI scored pairs
    hhh_test_fraction: float = 0.4
    rm_max_length: int = 192
    n_ni_rm_pairs: int = 16
    mse_alpha: float = 0.5  # weight of the pointwise MSE term on the pairs that have scores (report: α)
    rm_lambdas: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)  # L2 weights the cross-validation chooses from
    # DPO (from the SFT model, on HHH split A), one run per seed, full fine-tuning (dpo_lora_r None)
    dpo_seeds: tuple[int, ...] = (0, 1)
    dpo_lora_r: int | None = None
    dpo_steps: int = 8
    dpo_batch: int = 2
    dpo_lr: float = 1e-5
    dpo_beta: float = 0.1
    # GRPO on the length task (from the SFT model): LoRA on every linear layer, loss_type "grpo", no KL
    grpo_steps: int = 8
    grpo_generations: int = 4  # the report: 3 samples per prompt
    grpo_prompts_per_step: int = 4
    grpo_max_completion: int = 24
    grpo_lr: float = 5e-4
    grpo_kl: float = 0.0
    grpo_lora_r: int | None = 8
    grpo_target_words: int = 6
    # guards: a stage acted when under max_identical of its greedy answers equal its parent's or its KL ≥ min_kl
    guard_prompts: int = 8
    guard_tokens: int = 16
    max_identical: float = 0.75
    min_kl: float = 0.01
    # evaluation
    gen_max_new_tokens: int = 32
    eval_batch: int = 16
    n_samples_shown: int = 3
    # smallest effects of interest (see claim_specs)
    sft_sesoi: float = 0.05  # nats per token
    rm_sesoi: float = 0.1  # held-out accuracy (10 points) over the length baseline
    mse_sesoi: float = 0.1  # standardised margin
    dpo_sesoi: float = 0.1  # nats of log-likelihood ratio
    merge_sesoi: float = 0.05  # nats
    grpo_sesoi: float = 0.1  # reward units (0.6 words at a 6-word target)
    headline_sesoi: float = 0.2  # the judge's standard deviations


BASE = dict(data_files=("smollm2-135m-instruct-gguf", "hhh-alignment", "natural-instructions"))
TINY = dict(
    BASE,
    model="tiny",
    n_sft=4,
    n_length_sample=18,
    sft_steps=2,
    sft_batch=2,
    n_heldout_ni=4,
    hhh_test_fraction=0.4,
    n_ni_rm_pairs=4,
    rm_max_length=160,
    dpo_steps=1,
    dpo_batch=2,
    dpo_lora_r=4,
    grpo_steps=1,
    grpo_generations=2,
    grpo_prompts_per_step=1,
    grpo_max_completion=4,
    grpo_lora_r=4,
    guard_prompts=3,
    guard_tokens=4,
    gen_max_new_tokens=4,
    n_samples_shown=1,
    lora_r=4,
    budget_seconds=60,
)
# smoke: sized to the 480 s budget on a 2-core CPU (measured, see the chapter)
SMOKE = dict(BASE, budget_seconds=480)
PAPER = dict(
    BASE,
    model="Qwen/Qwen2-7B",
    lora_r=None,
    n_sft=2000,
    sft_steps=500,
    sft_batch=16,
    sft_max_length=2048,
    sft_lr=1e-5,
    n_heldout_ni=400,
    n_ni_rm_pairs=500,
    rm_max_length=2048,
    dpo_steps=300,
    dpo_batch=16,
    dpo_lr=5e-7,
    dpo_seeds=(0, 1, 2),
    grpo_steps=300,
    grpo_generations=3,
    grpo_prompts_per_step=8,
    grpo_max_completion=64,
    grpo_lr=1e-6,
    grpo_lora_r=None,
    guard_prompts=64,
    gen_max_new_tokens=256,
    eval_batch=16,
    budget_seconds=None,
)

# The report's numbers (Baichuan Alignment Technical Report, arXiv 2410.14940 v4)
PAPER_TABLE1_GAINS = {"Math": 0.28, "Reason": 0.23, "IF": 0.20, "KQA": 0.25, "Code": 0.21}
PAPER_TABLE1_SOURCE = "Baichuan Alignment report, Table 1 (internal pass-rate gains of Baichuan-Instruct)"
PAPER_TABLE2 = {  # Qwen2-72B-Instruct -> Qwen2-Nova-72B
    "ArenaHard": (48.1, 75.1),
    "MT-Bench": (9.12, 9.23),
    "HumanEval": (86.0, 86.6),
    "BBH": (80.89, 86.43),
    "MATH": (59.70, 69.06),
    "FollowBench": (79.95, 81.61),
    "IFEval": (77.60, 80.59),
}
PAPER_TABLE3 = {  # Llama-3-70B-Instruct -> Llama3-PBM-Nova-70B
    "ArenaHard": (46.6, 74.5),
    "MixEval-Hard": (55.9, 58.1),
    "AlpacaEval 2.0": (34.4, 56.9),
    "GPQA": (29.0, 34.0),
}
PAPER_TABLES_SOURCE = "Baichuan Alignment report, Tables 2 and 3 (official instruct model → Nova)"
PAPER_PACKING = (0.10, 0.98)  # token utilisation before and after packing
PAPER_GRPO_SAMPLES = 3
PAPER_TECHNIQUES_SOURCE = "Baichuan Alignment report, Sections on SFT efficiency, reward model, RL and merging"

SOURCE = PAPER_TECHNIQUES_SOURCE


def claim_specs(cfg: BaichuanAlignmentConfig) -> list:
    """The chapter's claims, declared before any result (see ``reprobook.claims``)."""
    prompts = "held-out prompts"
    return [
        ClaimSpec(
            "sft",
            "SFT on instruction tasks makes the reference answers of tasks it did not train on more likely (the "
            "examples of the held-out tasks; with a handful of tasks, generalisation across tasks is not tested)",
            paper="Table 1: instruction following +20 % (internal pass rate)",
            source=PAPER_TABLE1_SOURCE,
            unit="held-out-task examples",
            n=cfg.n_heldout_ni,
            test="superiority",
            sesoi=cfg.sft_sesoi,
            sesoi_source=f"a practical threshold: {cfg.sft_sesoi:g} nats per token",
            measure="start − SFT negative log-likelihood per token",
            fmt=".3f",
        ),
        ClaimSpec(
            "rm_quality",
            "A Bradley–Terry reward model with the pointwise term ranks held-out human "
            "preferences better than the answers' length",
            paper="the reward model behind RL (no accuracy given)",
            source=SOURCE,
            unit=prompts,
            n=None,
            test="superiority",
            sesoi=cfg.rm_sesoi,
            sesoi_source=f"a practical threshold: {100 * cfg.rm_sesoi:g} points of accuracy",
            measure="accuracy − length's",
            fmt=".3f",
        ),
        ClaimSpec(
            "rm_mse",
            "The pointwise MSE term toward absolute scores improves the reward model",
            paper="Bradley–Terry plus α·MSE toward normalised absolute scores",
            source=SOURCE,
            unit=prompts,
            n=None,
            test="superiority",
            sesoi=cfg.mse_sesoi,
            sesoi_source="a practical threshold: a tenth of the head's standard deviation",
            measure="held-out margin with − without the term (head units)",
            fmt=".3f",
        ),
        ClaimSpec(
            "dpo",
            "DPO raises the implicit reward margin of held-out preference pairs",
            paper="preference alignment moves the model toward preferred answers",
            source=SOURCE,
            unit=prompts,
            n=None,
            test="superiority",
            sesoi=cfg.dpo_sesoi,
            sesoi_source="a practical threshold: a tenth of a nat of log-likelihood ratio",
            measure="Δ = log-ratio(chosen) − log-ratio(rejected), nats",
            fmt=".3f",
        ),
        ClaimSpec(
            "merge",
            "Model Stock merges DPO runs better than their linear average",
            paper="Model Stock the best of Linear, Task Arithmetic and Model Stock",
            source=SOURCE,
            unit=prompts,
            n=None,
            test="superiority",
            sesoi=cfg.merge_sesoi,
            sesoi_source=f"a practical threshold: {cfg.merge_sesoi:g} nats of margin",
            measure="margin, Model Stock − linear",
            fmt=".3f",
        ),
        ClaimSpec(
            "grpo",
            "GRPO's optimiser raises a verifiable reward on held-out prompts",
            paper="GRPO kept for RL",
            source=SOURCE,
            unit="held-out topics",
            n=None,
            test="superiority",
            sesoi=cfg.grpo_sesoi,
            sesoi_source=f"a practical threshold: {cfg.grpo_sesoi * cfg.grpo_target_words:g} words nearer the target",
            measure="greedy reward after − before",
            fmt=".2f",
        ),
        ClaimSpec(
            "headline",
            "The aligned model answers better than the instruct model it started from, by an independent judge",
            paper="ArenaHard 48.1 → 75.1 (Qwen2-72B), 46.6 → 74.5 (Llama-3-70B)",
            source=PAPER_TABLES_SOURCE,
            unit=prompts,
            n=None,
            test="superiority",
            sesoi=cfg.headline_sesoi,
            sesoi_source="a practical threshold: a fifth of the judge's standard deviation",
            measure="judge's score, aligned − start (judge SDs)",
            fmt=".2f",
        ),
        ClaimSpec(
            "ppo",
            "GRPO needs about half of PPO's compute",
            paper="about half",
            source=SOURCE,
            unit="",
            n=None,
            test="none",
            untestable="trl 1.16 has no PPO trainer to measure",
        ),
        ClaimSpec(
            "nova",
            "Nova models beat the official instruct models on open benchmarks",
            paper="ArenaHard 48.1 → 75.1 (Qwen2-72B), 46.6 → 74.5 (Llama-3-70B)",
            source=PAPER_TABLES_SOURCE,
            unit="",
            n=None,
            test="none",
            untestable="70B models and benchmarks judged by GPT-4; a 135M model cannot be compared",
        ),
    ]


register_chapter(
    "baichuan_alignment",
    notebook="alignment/baichuan_alignment",
    config_class=BaichuanAlignmentConfig,
    values={"tiny": TINY, "smoke": SMOKE, "paper": PAPER},
)
