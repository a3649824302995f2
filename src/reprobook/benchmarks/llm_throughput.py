"""Language-model throughput: generated tokens per second by batch size, and scored tokens per second.

Explained in ``notebooks/alignment/baichuan_alignment.ipynb``; run from the shell as
``reprobook bench llm-throughput``.

How it measures: the profile's model (``model``: a registry name, folder or HF id; ``"tiny"`` for a
random tiny model with SmolLM2's tokenizer) answers ``n_prompts`` short chat prompts greedily with
:func:`reprobook.llm.generate`, ``max_new_tokens`` each, at every batch size in ``batch_sizes``
(left-padded batches, EOS stop); tokens/s counts the generated tokens up to EOS. Scoring runs
:func:`reprobook.llm.completion_logprobs` over the same prompts with a fixed answer and counts every
token it processes. After ``warmup`` untimed calls, each row is the median of ``repeats`` rounds (in a
shuffled order per round) with its quartiles; every round's value is in the settings.
"""

from __future__ import annotations

import random
import statistics
from typing import Any

import pandas as pd

from ..checks import ParameterError, check_int, check_str
from . import check_count, synchronize

SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(model="tiny", n_prompts=4, max_new_tokens=4, batch_sizes=(1, 4), warmup=0, repeats=2),
    "smoke": dict(model="smollm2-135m-instruct", n_prompts=8, max_new_tokens=32, batch_sizes=(1, 4, 8), warmup=1,
                  repeats=3),
    "paper": dict(model="smollm2-135m-instruct", n_prompts=32, max_new_tokens=128, batch_sizes=(1, 8, 32),
                  warmup=1, repeats=5),
}
PROMPTS = ("Name three primary colours.", "What is the boiling point of water at sea level?",
           "Write one sentence about the sea.", "Give a synonym of 'happy'.", "How many legs does a spider have?",
           "What is the capital of Italy?", "Suggest a name for a cat.", "Explain what rain is in one sentence.")


def measure(device: Any, profile: str, **settings: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    from .. import llm

    s = {**SIZES[profile], **settings}
    unknown = set(settings) - set(SIZES["smoke"]) - {"seed"}
    if unknown:
        raise ParameterError("settings", sorted(unknown)[0], ", ".join(sorted(SIZES["smoke"])))
    check_str("model", s["model"])
    n, new = check_count("n_prompts", s["n_prompts"]), check_count("max_new_tokens", s["max_new_tokens"])
    sizes = tuple(check_int("batch_sizes", b, low=1) for b in s["batch_sizes"])
    repeats, warmup = check_count("repeats", s["repeats"]), check_count("warmup", s["warmup"], low=0)
    lm = (llm.tiny_causal_lm(device=device) if s["model"] == "tiny" else llm.load_causal_lm(s["model"], device=device))
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(n)]
    methods = {f"generate, batch {b}": ("generate", b) for b in sizes} | {"score (log-probabilities)": ("score", 8)}

    def once(kind: str, batch: int) -> float:
        synchronize(device)
        if kind == "generate":
            out = llm.generate(lm, prompts, max_new_tokens=new, batch_size=batch)
            return out.tokens_per_second
        import time

        start = time.perf_counter()
        llm.completion_logprobs(lm, prompts, ["A short answer."] * n, batch_size=batch)
        synchronize(device)
        tokens = sum(llm.prompt_tokens(lm, p) + 6 for p in prompts)
        return tokens / (time.perf_counter() - start)

    for _ in range(warmup):
        for kind, batch in methods.values():
            once(kind, batch)
    rounds: dict[str, list[float]] = {m: [] for m in methods}
    rng = random.Random(s.get("seed", 0))
    for _ in range(repeats):
        for m in rng.sample(list(methods), len(methods)):
            rounds[m].append(once(*methods[m]))
    rows = []
    for m, values in rounds.items():
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        rows.append({"method": m, "tokens/s": statistics.median(values), "q1": q[0], "q3": q[2]})
    used = {k: s[k] for k in SIZES["smoke"]} | {"rounds": rounds, "parameters": lm.parameters}
    return pd.DataFrame(rows), used
