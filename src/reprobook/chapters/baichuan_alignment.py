"""The Baichuan Alignment chapter (notebooks/alignment/baichuan_alignment.ipynb): SFT, reward models, DPO,
GRPO and model merging on a small pretrained chat model, with the report's numbers it sets beside them."""

from __future__ import annotations

from dataclasses import dataclass

from ..profiles import ChapterConfig, register_chapter


@dataclass(frozen=True)
class BaichuanAlignmentConfig(ChapterConfig):
    """Sizes and settings of the Baichuan Alignment chapter.

    The report (arXiv 2410.14940) gives no hyper-parameters for its SFT, reward-model or RL runs except
    GRPO's 3 samples per prompt; the values below are common small-scale choices (LoRA rank 16, the
    learning rates of trl's examples scaled for LoRA), fixed before any result was seen and the same in
    every run of a profile. Nothing here was tuned on the evaluation data.
    """

    model: str = "smollm2-135m-instruct"  # a registry name, a folder or a HF id; "tiny": llm.tiny_causal_lm
    tiny_base: str = "smollm2-135m-instruct"  # tokenizer and architecture family of the tiny model
    lora_r: int | None = 16  # LoRA rank of every stage; None: full fine-tuning (paper profile)
    # SFT on natural-instructions tasks (train tasks only)
    n_sft: int = 32
    sft_steps: int = 6
    sft_padded_steps: int = 2  # the padded run exists only to compare throughput
    sft_batch: int = 2  # packed rows (or padded sequences) per step
    sft_max_length: int = 256  # examples longer than this are left out, so that no answer is cut
    sft_lr: float = 3e-4
    n_length_sample: int = 360  # train-task examples whose token lengths make the utilisation table
    # reward models: HHH split by prompt (test / A / B), plus NI pairs with absolute scores
    hhh_test_fraction: float = 0.4
    max_test_pairs: int | None = 24  # held-out pairs scored per stage (a sample of the test split); None: all
    n_ni_rm_pairs: int = 8  # per reward model
    rm_steps: int = 5
    rm_batch: int = 2
    rm_max_length: int = 192
    rm_lr: float = 3e-4
    mse_alpha: float = 0.5  # weight of the pointwise MSE term on the pairs that have scores (report: α)
    # DPO (from the SFT model, on HHH split A)
    dpo_steps: int = 5
    dpo_batch: int = 2
    dpo_lr: float = 1e-4
    dpo_beta: float = 0.1
    # GRPO (from the SFT model, reward model A)
    grpo_steps: int = 4
    grpo_generations: int = 4  # the report: 3 samples per prompt (the batch must be a multiple of it)
    grpo_batch: int = 4
    grpo_max_completion: int = 24
    grpo_lr: float = 5e-5
    grpo_kl: float = 0.04  # KL toward the starting model (the report replaces PPO's PTX term by a KL)
    # evaluation
    n_rouge_per_task: int = 2  # held-out natural-instructions tasks
    n_hhh_gen_prompts: int = 4  # held-out HHH prompts answered and scored by reward model B
    gen_max_new_tokens: int = 24
    eval_batch: int = 8
    n_samples_shown: int = 3
    n_boot: int = 200


BASE = dict(data_files=("smollm2-135m-instruct-gguf", "hhh-alignment", "natural-instructions"))
TINY = dict(BASE, model="tiny", n_sft=4, n_length_sample=18, sft_steps=2, sft_padded_steps=1, sft_batch=2, max_test_pairs=4,
            hhh_test_fraction=0.4, n_ni_rm_pairs=4, rm_steps=1, rm_batch=2, rm_max_length=160, dpo_steps=1,
            dpo_batch=2, grpo_steps=1, grpo_generations=2, grpo_batch=2, grpo_max_completion=4,
            n_rouge_per_task=1, n_hhh_gen_prompts=2, gen_max_new_tokens=4, n_samples_shown=1, n_boot=20,
            lora_r=4, budget_seconds=60)
# smoke: sized to the 480 s budget on a 2-core CPU (measured single-threaded CPU time, see the chapter)
SMOKE = dict(BASE, budget_seconds=480)
PAPER = dict(BASE, model="Qwen/Qwen2-7B", lora_r=None, n_sft=2000, sft_steps=500, sft_padded_steps=50,
             sft_batch=16, sft_max_length=2048, sft_lr=1e-5, n_ni_rm_pairs=500, rm_steps=300, rm_batch=16,
             rm_max_length=2048, rm_lr=1e-5, dpo_steps=300, dpo_batch=16, dpo_lr=5e-7, grpo_steps=300,
             grpo_generations=3, grpo_batch=24, grpo_max_completion=512, grpo_lr=1e-6, n_rouge_per_task=100, max_test_pairs=None,
             n_hhh_gen_prompts=60, gen_max_new_tokens=256, eval_batch=16, n_boot=1000, budget_seconds=None)

# The report's numbers (Baichuan Alignment Technical Report, arXiv 2410.14940 v4)
PAPER_TABLE1_GAINS = {"Math": 0.28, "Reason": 0.23, "IF": 0.20, "KQA": 0.25, "Code": 0.21}
PAPER_TABLE1_SOURCE = "Baichuan Alignment report, Table 1 (internal pass-rate gains of Baichuan-Instruct)"
PAPER_TABLE2 = {  # Qwen2-72B-Instruct -> Qwen2-Nova-72B
    "ArenaHard": (48.1, 75.1), "MT-Bench": (9.12, 9.23), "HumanEval": (86.0, 86.6), "BBH": (80.89, 86.43),
    "MATH": (59.70, 69.06), "FollowBench": (79.95, 81.61), "IFEval": (77.60, 80.59)}
PAPER_TABLE3 = {  # Llama-3-70B-Instruct -> Llama3-PBM-Nova-70B
    "ArenaHard": (46.6, 74.5), "MixEval-Hard": (55.9, 58.1), "AlpacaEval 2.0": (34.4, 56.9), "GPQA": (29.0, 34.0)}
PAPER_TABLES_SOURCE = "Baichuan Alignment report, Tables 2 and 3 (official instruct model → Nova)"
PAPER_PACKING = (0.10, 0.98)  # token utilisation before and after packing
PAPER_GRPO_SAMPLES = 3
PAPER_TECHNIQUES_SOURCE = "Baichuan Alignment report, Sections on SFT efficiency, reward model, RL and merging"

register_chapter("baichuan_alignment", notebook="alignment/baichuan_alignment", config_class=BaichuanAlignmentConfig,
                 values={"tiny": TINY, "smoke": SMOKE, "paper": PAPER}, produces=("aligned-smollm2",))
