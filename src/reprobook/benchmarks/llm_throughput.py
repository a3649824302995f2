"""Language-model throughput: generated tokens per second by batch size, and scored pairs per second.

Explained in ``notebooks/alignment/baichuan_alignment.ipynb`` (generation) and ``notebooks/rag/domainrag.ipynb``
(scoring); run from the shell as ``reprobook bench llm-throughput``.

How it measures: the profile's model (``model``: a registry name, folder or HF id; ``"tiny"`` for a
random tiny model with SmolLM2's tokenizer) answers ``n_prompts`` short chat prompts greedily with
:func:`reprobook.llm.generate`, ``max_new_tokens`` each, at every batch size in ``batch_sizes``
(left-padded batches, EOS stop); tokens/s counts the generated tokens up to EOS.

Scoring is what the RAG chapters pay for: ``score_model`` (default: ``model``) computes log p(answer |
prompt) for ``score_prompts`` raw-text prompts of about ``score_prompt_tokens`` tokens that share one
instruction (the DomainRAG layout: instruction, a passage, the question), each followed by
``score_answers`` short answers. Three ways, the same log-probabilities:

* ``all logits``: one pass per (prompt, answer), the output layer at every position (the old way);
* ``completion logits``: one pass per pair, the output layer only where an answer token is predicted
  (transformers' ``logits_to_keep``);
* ``shared prefix``: :func:`reprobook.llm.generation.score_completions`: the instruction once, each
  prompt once, its answers side by side from the key-value cache.

``score_dtypes`` lists precisions (None: the device's default, float32 on a CPU; ``"bfloat16"``, ...): the
scoring model is loaded in the first, and each further one adds the shared-prefix way on the same weights
cast to it, one row each, with the largest difference of its log-probabilities from the first precision's
(``max |Δ log p|``, nats per pair). bfloat16 is fast only where the hardware multiplies it natively (a GPU;
a CPU with AMX or AVX512-BF16) and several times slower than float32 on a CPU without, so the table says
which it is on this machine.

Rows report pairs/s (a pair: one prompt with one answer) and tokens/s. After ``warmup`` untimed calls,
each row is the median of ``repeats`` rounds (in a shuffled order per round) with its quartiles; every
round's value is in the settings.
"""

from __future__ import annotations

import random
import statistics
from typing import Any

import pandas as pd

from .. import llm
from ..checks import PRECISIONS, ParameterError, check_int, check_str
from ..llm.generation import _score_pairs, completion_pairs, score_completions
from ..llm.loading import resolve_dtype
from ..timing import Timer, synchronize
from . import check_count

SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(
        model="tiny",
        n_prompts=4,
        max_new_tokens=4,
        batch_sizes=(1, 4),
        warmup=0,
        repeats=2,
        score_model=None,
        score_prompts=3,
        score_prompt_tokens=48,
        score_answers=2,
        score_dtypes=(None,),
    ),
    "smoke": dict(
        model="smollm2-135m-instruct",
        n_prompts=8,
        max_new_tokens=32,
        batch_sizes=(1, 4, 8),
        warmup=1,
        repeats=3,
        score_model="gemma-3-270m",
        score_prompts=4,
        score_prompt_tokens=400,
        score_answers=2,
        score_dtypes=(None,),
    ),
    "paper": dict(
        model="smollm2-135m-instruct",
        n_prompts=32,
        max_new_tokens=128,
        batch_sizes=(1, 8, 32),
        warmup=1,
        repeats=5,
        score_model="gemma-3-270m",
        score_prompts=8,
        score_prompt_tokens=400,
        score_answers=2,
        score_dtypes=(None,),
    ),
}
PROMPTS = (
    "Name three primary colours.",
    "What is the boiling point of water at sea level?",
    "Write one sentence about the sea.",
    "Give a synonym of 'happy'.",
    "How many legs does a spider have?",
    "What is the capital of Italy?",
    "Suggest a name for a cat.",
    "Explain what rain is in one sentence.",
)
# a DomainRAG-like layout: the official short-answer instruction, a passage, the question
_INSTRUCTION = (
    "使用给定的信息，请对用户的问题给出准确的回答。确保:\n"
    "1. 尽可能简洁的回答问题，用实体形式而不是句子形式回答问题。\n"
    "2. 只给我答案，不要输出任何其他的话。\n **给定信息:** \n"
)
_SENTENCES = (
    "中国人民大学{i}年本科招生计划共{n}人，其中国家专项计划{m}人。",
    "学校设有{n}个本科专业，分布在{m}个学院。",
    "招生咨询电话为010-6251{n}，网址为www.ruc.edu.cn。",
    "第{i}条 考生须参加{m}年全国统一考试。",
)
SCORE_METHODS = ("all logits", "completion logits", "shared prefix")
SCORE_DTYPES = (None, *PRECISIONS)  # None: the device's default (float32 on a CPU)


def scoring_prompts(lm: Any, n: int, tokens: int) -> tuple[list[str], list[list[str]]]:
    """``n`` raw-text prompts of about ``tokens`` tokens each (one instruction, a different passage, a
    question) and two short answers for each."""
    prompts = []
    for i in range(n):
        passage = ""
        k = 0
        while len(lm.tokenizer(_INSTRUCTION + passage, add_special_tokens=True)["input_ids"]) < tokens - 24:
            passage += _SENTENCES[(i + k) % len(_SENTENCES)].format(i=2000 + i + k, n=100 + 7 * k + i, m=3 + k)
            k += 1
        prompts.append(
            f"{_INSTRUCTION}[信息 1]: [题目: 招生简章. 内容: {passage}]\n **问题:**\n第{i}个问题是什么？\n**回答:**\n"
        )
    answers = [[f"{100 + i}人", f"{2000 + i}年"] for i in range(n)]
    return prompts, answers


def measure(device: Any, profile: str, **settings: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    s = {**SIZES[profile], **settings}
    unknown = set(settings) - set(SIZES["smoke"]) - {"seed"}
    if unknown:
        raise ParameterError("settings", sorted(unknown)[0], ", ".join(sorted(SIZES["smoke"])))
    check_str("model", s["model"])
    n, new = check_count("n_prompts", s["n_prompts"]), check_count("max_new_tokens", s["max_new_tokens"])
    sizes = tuple(check_int("batch_sizes", b, low=1) for b in s["batch_sizes"])
    repeats, warmup = check_count("repeats", s["repeats"]), check_count("warmup", s["warmup"], low=0)
    n_score, score_tokens = (
        check_count("score_prompts", s["score_prompts"]),
        check_int("score_prompt_tokens", s["score_prompt_tokens"], low=16),
    )
    n_answers = check_count("score_answers", s["score_answers"])
    dtypes = list(dict.fromkeys(s["score_dtypes"])) if isinstance(s["score_dtypes"], (list, tuple)) else []
    if not dtypes or any(d not in SCORE_DTYPES for d in dtypes):
        raise ParameterError(
            "score_dtypes", s["score_dtypes"], "a non-empty list of " + ", ".join(map(repr, SCORE_DTYPES))
        )

    def load(name: str, dtype: str | None = None):
        if name == "tiny":
            return llm.tiny_causal_lm(device=device, dtype=dtype)
        return llm.load_causal_lm(name, device=device, dtype=dtype)

    lm = load(s["model"])
    score_name = s["model"] if s["score_model"] is None else s["score_model"]
    scorer = lm if score_name == s["model"] and dtypes[0] is None else load(score_name, dtypes[0])
    # the same weights in another precision, under a fingerprint that names it
    others = {str(d): scorer.copy(dtype=resolve_dtype(d, device)) for d in dtypes[1:]}
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(n)]
    long_prompts, answers = scoring_prompts(scorer, n_score, score_tokens)
    answers = [a[:n_answers] + [f"{i}号" for i in range(n_answers - len(a))] for a in answers]
    pairs = [
        pair
        for p, group in zip(long_prompts, answers)
        for pair in completion_pairs(scorer, [p] * len(group), group, False, None)
    ]
    n_pairs = len(pairs)
    pair_tokens = sum(len(a) + len(b) for a, b in pairs)
    methods = {f"generate, batch {b}": ("generate", b) for b in sizes} | {f"score, {m}": (m, 1) for m in SCORE_METHODS}
    methods |= {f"score, shared prefix, {d}": (f"shared prefix {d}", 1) for d in others}
    # the largest difference of each other precision's log-probabilities from the first precision's
    first = score_completions(scorer, long_prompts, answers, average=False)[0]
    gaps = {
        f"score, shared prefix, {d}": max(
            abs(a - b)
            for ga, gb in zip(first, score_completions(m, long_prompts, answers, average=False)[0])
            for a, b in zip(ga, gb)
        )
        for d, m in others.items()
    }

    def once(kind: str, batch: int) -> tuple[float, float]:
        synchronize(device)
        if kind == "generate":
            out = llm.generate(lm, prompts, max_new_tokens=new, batch_size=batch)
            return out.tokens_per_second, float("nan")
        clock = Timer()
        if kind == "shared prefix":
            score_completions(scorer, long_prompts, answers, average=False)
        elif kind.startswith("shared prefix "):
            score_completions(others[kind.removeprefix("shared prefix ")], long_prompts, answers, average=False)
        else:
            _score_pairs(scorer, pairs, batch_size=batch, all_logits=kind == "all logits")
        synchronize(device)
        seconds = clock.elapsed()
        return pair_tokens / seconds, n_pairs / seconds

    for _ in range(warmup):
        for kind, batch in methods.values():
            once(kind, batch)
    rounds: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    rng = random.Random(s.get("seed", 0))
    for _ in range(repeats):
        for m in rng.sample(list(methods), len(methods)):
            rounds[m].append(once(*methods[m]))
    rows = []
    for m, values in rounds.items():
        tokens = [v[0] for v in values]
        q = statistics.quantiles(tokens, n=4) if len(tokens) > 1 else [tokens[0]] * 3
        rows.append(
            {
                "method": m,
                "tokens/s": statistics.median(tokens),
                "q1": q[0],
                "q3": q[2],
                "pairs/s": statistics.median(v[1] for v in values),
            }
            | ({"max |Δ log p|": gaps.get(m, 0.0 if m == "score, shared prefix" else float("nan"))} if others else {})
        )
    used = {k: s[k] for k in SIZES["smoke"]} | {
        "score_dtype": str(scorer.model.dtype).removeprefix("torch."),
        "rounds": {m: [v[0] for v in values] for m, values in rounds.items()},
        "pair_rounds": {m: [v[1] for v in values] for m, values in rounds.items() if m.startswith("score")},
        "parameters": lm.parameters,
        "score_parameters": scorer.parameters,
        "score_pairs": n_pairs,
        "score_tokens_per_pair": pair_tokens / n_pairs,
    }
    return pd.DataFrame(rows), used
