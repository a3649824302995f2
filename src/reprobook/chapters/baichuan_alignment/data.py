"""The Baichuan Alignment chapter's data and starting model: the instruction, preference and held-out prompts.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ... import data, llm
from ...alignment.reward import fits, ni_scored_pairs, split_by_prompt
from ...alignment.sft import ni_examples, sequence_lengths
from ...configs.baichuan_alignment import BaichuanAlignmentConfig
from ...data.catalog.llm import NI_HELDOUT_TASKS, NI_TRAIN_TASKS
from ...llm import sft_rows
from ...results import facts, glued


@dataclass
class AlignmentData:
    """Every split the chapter uses, built once from the registry with the run's seed."""

    sft: list[dict[str, Any]]  # NI train-task examples for SFT
    heldout_ni: list[dict[str, Any]]  # NI held-out-task examples (SFT's held-out likelihood)
    ni_pairs: list[dict[str, Any]]  # NI train-task pairs with absolute scores (the pointwise term)
    hhh: dict[str, list[dict[str, Any]]]  # "test"/"A"/"B": HHH pairs split by prompt
    test_prompts: list[str]  # the distinct prompts of the test split (the units of the held-out claims)
    length_sample: list[int]  # token lengths of more train-task examples (the utilisation table)
    # counts: n_hhh (HHH pairs), n_hhh_kept (within the length limit), n_test, n_a, n_b (pairs per split),
    # n_test_prompts, n_ni_pairs, n_heldout (held-out-task examples), n_heldout_tasks, n_train_tasks
    facts: pd.Series = glued()

    def first_pairs(self) -> list[dict[str, Any]]:
        """One test pair per test prompt (the first): the held-out pairs DPO and the merges are scored on."""
        seen: dict[str, dict[str, Any]] = {}
        for p in self.hhh["test"]:
            seen.setdefault(p["prompt"], p)
        return [seen[p] for p in self.test_prompts]


def prepare_data(lm: Any, cfg: BaichuanAlignmentConfig, *, seed: int) -> AlignmentData:
    """The chapter's data: NI examples for SFT and for scored pairs (train tasks), NI held-out-task
    examples, HHH split by prompt into test / A / B (pairs that fit the length limit only)."""
    train_tasks = data.load("natural-instructions", tasks=NI_TRAIN_TASKS)
    heldout_tasks = data.load("natural-instructions", tasks=NI_HELDOUT_TASKS)
    pool = ni_examples(train_tasks, 2 * cfg.n_sft + 2 * cfg.n_ni_rm_pairs + 2 * len(NI_TRAIN_TASKS), seed=seed)
    lengths = sequence_lengths(lm, sft_rows([e["prompt"] for e in pool], [e["answer"] for e in pool]))
    fitting = [e for e, n in zip(pool, lengths) if n <= cfg.sft_max_length]  # no answer truncated away
    sample = ni_examples(train_tasks, cfg.n_length_sample, seed=seed + 2)
    length_sample = sequence_lengths(lm, sft_rows([e["prompt"] for e in sample], [e["answer"] for e in sample]))
    sft, rest = fitting[: cfg.n_sft], fitting[cfg.n_sft :]
    pairs = ni_scored_pairs(rest, cfg.n_ni_rm_pairs, seed=seed, alpha=1.0)
    hhh_all = data.load("hhh-alignment")
    hhh_kept = fits(lm, hhh_all, cfg.rm_max_length)
    side = (1 - cfg.hhh_test_fraction) / 2
    hhh = split_by_prompt(hhh_kept, {"test": cfg.hhh_test_fraction, "A": side, "B": side}, seed=seed)
    test_prompts = list(dict.fromkeys(p["prompt"] for p in hhh["test"]))
    heldout = ni_examples(heldout_tasks, cfg.n_heldout_ni, seed=seed + 1)
    return AlignmentData(
        sft,
        heldout,
        pairs,
        hhh,
        test_prompts,
        length_sample,
        facts(
            None,
            n_hhh=len(hhh_all),
            n_hhh_kept=len(hhh_kept),
            n_test=len(hhh["test"]),
            n_test_prompts=len(test_prompts),
            n_a=len(hhh["A"]),
            n_b=len(hhh["B"]),
            n_ni_pairs=len(pairs),
            n_heldout=len(heldout),
            n_heldout_tasks=len(NI_HELDOUT_TASKS),
            n_train_tasks=len(NI_TRAIN_TASKS),
        ),
    )


def sft_data(d: AlignmentData) -> list[dict[str, Any]]:
    """The SFT rows (conversational prompt–completion) of the chapter's instruction set."""
    return sft_rows([e["prompt"] for e in d.sft], [e["answer"] for e in d.sft])


def start_model(cfg: BaichuanAlignmentConfig, *, device: Any, seed: int) -> Any:
    """The starting model: ``cfg.model`` loaded (registry name, folder, HF id) or, for ``"tiny"``, a
    random tiny model with ``cfg.tiny_base``'s tokenizer."""
    if cfg.model == "tiny":
        return llm.tiny_causal_lm(cfg.tiny_base, seed=seed, layers=2, hidden=32, device=device)
    return llm.load_causal_lm(cfg.model, device=device)
