"""The language-model toolkit of Parts III–IV: load, prompt, generate, score, judge, train, merge.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`; used by the DomainRAG, PAS and SlimPLM
chapters as well.

>>> from reprobook import llm
>>> lm = llm.load_causal_lm("smollm2-135m-instruct")              # doctest: +SKIP
>>> llm.generate(lm, ["Name a primary colour."], max_new_tokens=8).texts  # doctest: +SKIP

Loading (:mod:`.loading`): registry names (GGUF converted once to safetensors in the cache), local
folders, Hugging Face ids; :func:`tiny_causal_lm` for the tiny profile and the tests. Prompts and
generation (:mod:`.generation`): the chat template, batched left-padded generation stopping at EOS,
the context-length guard, completion log-probabilities. Judges (:mod:`.judges`). Training
(:mod:`.trainers`): trl's SFT, reward, DPO and GRPO trainers set up for a CPU and a GPU, cached by
configuration. Merging: :mod:`reprobook.llm.merging`.
"""

from .generation import Generation, chat_prompt, completion_logprobs, fit_context, generate, prompt_tokens
from .judges import Comparison, PairwiseJudge, RewardJudge
from .loading import (
    MODELS,
    LanguageModel,
    ModelSpec,
    converted_dir,
    load_causal_lm,
    load_tokenizer,
    tiny_causal_lm,
    wrap,
)
from .merging import linear_merge, model_stock
from .trainers import (
    TrainConfig,
    Trained,
    TrainRecord,
    build_trainer,
    dpo,
    grpo,
    preference_rows,
    reward_function,
    sft,
    sft_rows,
    train_reward_model,
    training_arguments,
)

__all__ = [
    "MODELS",
    "Comparison",
    "Generation",
    "LanguageModel",
    "ModelSpec",
    "PairwiseJudge",
    "RewardJudge",
    "TrainConfig",
    "TrainRecord",
    "Trained",
    "build_trainer",
    "chat_prompt",
    "completion_logprobs",
    "converted_dir",
    "dpo",
    "fit_context",
    "generate",
    "grpo",
    "linear_merge",
    "load_causal_lm",
    "load_tokenizer",
    "model_stock",
    "preference_rows",
    "prompt_tokens",
    "reward_function",
    "sft",
    "sft_rows",
    "tiny_causal_lm",
    "train_reward_model",
    "training_arguments",
    "wrap",
]
