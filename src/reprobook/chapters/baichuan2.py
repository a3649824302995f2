"""The Baichuan 2 chapter (notebooks/alignment/baichuan2.ipynb): corpus, tokenizer, model sizes, optimiser,
ablations and scaling-law settings, and the paper numbers the chapter quotes."""

from __future__ import annotations

from dataclasses import dataclass

from ..profiles import ChapterConfig, register_chapter


@dataclass(frozen=True)
class Baichuan2Config(ChapterConfig):
    """Sizes and settings of the Baichuan 2 chapter (notebooks/alignment/baichuan2.ipynb).

    Baichuan 2's own values (Section 2 of the paper) are marked "paper"; the rest is this book's scale.
    """

    corpus: str = "bilingual-corpus"  # a data-registry name, or a folder of .txt / .jsonl files (paper profile)
    tokenizer_train_chars: int | None = None  # characters of train text for the tokenizer study (None: all)
    # the compression-rate curve: vocabulary sizes cut from one BPE run (special + byte tokens included)
    vocab_sizes: tuple[int, ...] = (8192, 16384, 32768, 49152, 65536)
    character_coverage: float = 0.9999  # paper: "character coverage is set to 0.9999"
    max_token_length: int = 32  # paper: "maximum token length to 32"
    reference_tokenizers: tuple[str, ...] = ("smollm2-135m-instruct", "gemma-3-270m")
    # the language models' tokenizer: None trains one like the study's at lm_vocab_size / lm_coverage;
    # otherwise any Hugging Face tokenizer (registry model, folder or hub id)
    lm_tokenizer: str | None = None
    lm_vocab_size: int = 2048
    lm_coverage: float = 0.98
    seq_len: int = 128
    batch_size: int = 8
    steps: int = 150  # every model sees steps × batch_size × seq_len tokens (the same budget for all sizes)
    lr: float = 3e-3  # peak learning rate of every scaling run (one value for all sizes)
    stress_lr: float = 3e-2  # the ablations' learning rate: 10× lr, high enough to stress training
    warmup_fraction: float = 0.1
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1  # paper: AdamW, weight decay 0.1
    betas: tuple[float, float] = (0.9, 0.95)  # paper: β1 = 0.9, β2 = 0.95
    grad_clip: float = 0.5  # paper: gradient norm clipped to 0.5
    max_z_weight: float = 2e-4  # paper, Eq. (1)
    # model sizes of the scaling law, (hidden, layers, heads), smallest first; the last one is predicted
    # (the largest has about twice the compute of the next: an extrapolation, like the paper's 3B → 7B)
    model_sizes: tuple[tuple[int, int, int], ...] = ((8, 2, 1), (16, 2, 1), (32, 2, 2), (48, 2, 2), (80, 2, 4))
    ablation_size: tuple[int, int, int] = (32, 2, 2)
    ablation_steps: int = 100  # the ablations' training steps (their own, shorter budget)
    n_seeds: int = 2
    eval_every: int = 25  # validation loss every this many steps in the ablations (0: only at the end)
    lm_tokenizer_chars: int | None = 1_000_000  # characters of train text the models' BPE learns from
    val_blocks: int = 64  # validation blocks of seq_len tokens
    prediction_tolerance: float = 2.0  # the scaling verdict's tolerance, in pooled seed standard deviations
    maxz_loss_margin: float = 0.05  # non-inferiority margin (nats) of "max-z does not cost validation loss"

    def seeds(self, base_seed: int) -> list[int]:
        return [base_seed + i for i in range(self.n_seeds)]


SMOKE = dict(budget_seconds=360, data_files=("bilingual-corpus", "smollm2-135m-instruct-gguf", "gemma-3-270m-gguf"))
TINY = dict(
    tokenizer_train_chars=300_000, vocab_sizes=(2048, 3072, 4096), character_coverage=0.99,
    reference_tokenizers=("smollm2-135m-instruct",), lm_vocab_size=1536, lm_coverage=0.9, seq_len=32,
    batch_size=4, steps=6, ablation_steps=6, lm_tokenizer_chars=300_000, model_sizes=((8, 1, 1), (12, 1, 1), (16, 1, 1), (24, 1, 1)), ablation_size=(8, 1, 1),
    stress_lr=3e-2,
    eval_every=3, val_blocks=8, budget_seconds=None, data_files=("bilingual-corpus", "smollm2-135m-instruct-gguf"),
)
# The paper profile: Baichuan 2's tokenizer and optimiser settings at a GPU scale (the 7B/13B models
# themselves are out of reach); a larger corpus is supplied through the `corpus` parameter.
PAPER = dict(
    vocab_sizes=(16384, 32768, 65536, 125696), lm_vocab_size=64000, lm_coverage=0.9999, seq_len=1024,
    batch_size=64, steps=20000, ablation_steps=20000, lm_tokenizer_chars=None, lr=3e-4, stress_lr=3e-3, warmup_fraction=0.1, eval_every=500, val_blocks=512,
    model_sizes=((256, 4, 4), (384, 6, 6), (512, 8, 8), (768, 12, 12), (1024, 16, 16), (1536, 24, 16)),
    ablation_size=(512, 8, 8), n_seeds=3, data_files=("bilingual-corpus",),
)

# Baichuan 2 (Yang et al., 2023), Table 2: vocabulary size and compression rate (lower is better) of each
# tokenizer, on a text the paper does not name
PAPER_TOKENIZERS = {"LLaMA 2": (32000, 1.037), "Bloom": (250680, 0.501), "ChatGLM 2": (64794, 0.527),
                    "Baichuan 1": (64000, 0.570), "Baichuan 2": (125696, 0.498)}
PAPER_TOKENIZERS_SOURCE = "Yang et al. (2023), Baichuan 2, Table 2"
# Baichuan 2, Section 2.6 and Table 3 (7B): the architecture and optimiser this chapter scales down
PAPER_7B = {"hidden": 4096, "ffn": 11008, "heads": 32, "layers": 32, "seq_len": 4096, "max_lr": 2e-4,
            "vocab": 125696, "tokens": "2.6T", "max_z_weight": 2e-4, "scaling_models": "7 models, 10M to 3B",
            "parameters_n": 7e9, "tokens_n": 2.6e12}
PAPER_7B_SOURCE = "Yang et al. (2023), Baichuan 2, Sections 2.2-2.7 and Table 3"

register_chapter("baichuan2", notebook="alignment/baichuan2", config_class=Baichuan2Config,
                 values={"tiny": TINY, "smoke": SMOKE, "paper": PAPER})
