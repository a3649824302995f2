"""Supervised fine-tuning data and its efficiency: an instruction set, the assistant-only loss, packing.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

The Baichuan Alignment report packs SFT samples into full-length sequences (FlashAttention-2's
``cu_seqlens`` keeps them apart) and reports that token utilisation rose from 10% to 98%. Here the
same comparison is measured on the chapter's instruction set: *utilisation* is the share of the token
slots a batch computes on that hold real tokens,

    utilisation = Σ real tokens / Σ (rows × row length),

for three layouts: every sequence padded to the maximum length (a fixed-shape batch), padded to the
longest sequence of its batch (trl's default collator), and packed best-fit-decreasing into bins of
the maximum length (trl's ``packing=True``; on a CPU padding-free rows with position ids restarting at
each sequence, so that sequences never attend to each other).
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import llm
from ..checks import check_int
from ..llm.trainers import TrainConfig, build_trainer, quiet_training
from ..results import facts, glued

NI_INSTRUCTION = "{definition}\n\n{input}"


def ni_examples(tasks: dict[str, dict[str, Any]], n: int, *, seed: int, max_chars: int = 600) -> list[dict[str, Any]]:
    """``n`` natural-instructions examples spread evenly over ``tasks`` (drawn with ``seed``): each a dict
    with the task, the user message (the task's definition, then the input) and the reference answers."""
    check_int("n", n, low=1)
    rng = random.Random(seed)
    names = sorted(tasks)
    per_task = [n // len(names) + (i < n % len(names)) for i in range(len(names))]
    out = []
    for name, k in zip(names, per_task):
        task = tasks[name]
        pool = [e for e in task["examples"] if len(e["input"]) <= max_chars and e["targets"] and e["targets"][0]]
        for e in rng.sample(pool, min(k, len(pool))):
            out.append(
                {
                    "task": name,
                    "prompt": NI_INSTRUCTION.format(definition=_short(task["definition"]), input=e["input"]),
                    "answer": e["targets"][0],
                    "targets": list(e["targets"]),
                }
            )
    rng.shuffle(out)
    return out


def _short(definition: str) -> str:
    """The task definition without BIG-bench's "Things to Avoid" / "Emphasis" clauses (shorter prompts)."""
    head = definition.split("Things to Avoid:")[0].strip()
    prompt = definition.split("Prompt:")[-1].strip() if "Prompt:" in definition else ""
    return f"{head} {prompt}".strip()


def sequence_lengths(lm: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Tokens of each SFT row (the chat template applied to prompt and completion), as trl tokenises it."""
    tok = lm.tokenizer
    return [
        len(tok.apply_chat_template(r["prompt"] + r["completion"], tokenize=True, return_dict=True)["input_ids"])
        for r in rows
    ]


def utilisation(lengths: Sequence[int], *, batch_size: int, max_length: int) -> dict[str, float]:
    """Token utilisation of the three layouts (see the module docstring) for sequences of ``lengths``."""
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    lengths = [min(n, max_length) for n in lengths]
    real = sum(lengths)
    batches = [lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)]
    longest = sum(len(b) * max(b) for b in batches)
    with quiet_training():
        packed = pack_dataset(Dataset.from_dict({"input_ids": [[1] * n for n in lengths]}), max_length, "bfd")
    return {
        "pad to max length": real / (len(lengths) * max_length),
        "pad to longest in batch": real / longest,
        "packed (bfd)": real / (len(packed) * max_length),
        "packed rows": float(len(packed)),
    }


def utilisation_by_length(lengths: Sequence[int], *, batch_size: int, max_lengths: Sequence[int]):
    """:func:`utilisation` of the same sequences for several maximum lengths (bin sizes), as a DataFrame:
    the longer the bins, the more padding a fixed shape costs and the better packing fills them."""
    rows = []
    for m in max_lengths:
        u = utilisation([n for n in lengths if n <= m], batch_size=batch_size, max_length=m)
        rows.append({"max length": m, **{k: v for k, v in u.items() if k != "packed rows"}})
    return pd.DataFrame(rows).set_index("max length")


def loss_mask_table(lm: Any, row: dict[str, Any], *, max_tokens: int | None = None):
    """One tokenised SFT example as trl's collator hands it to the model: each token and whether the
    loss covers it (the assistant's reply and its end-of-turn marker only)."""
    with tempfile.TemporaryDirectory() as out, quiet_training():
        trainer = build_trainer("sft", lm, [row], TrainConfig(steps=1, batch_size=1, lora_r=None), output_dir=out)
        batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    frame = pd.DataFrame(
        {
            "token": lm.tokenizer.convert_ids_to_tokens(ids),
            "id": ids,
            "in the loss": [label != -100 for label in labels],
        }
    )
    return frame if max_tokens is None else frame.tail(max_tokens)


@dataclass
class SFTResult:
    """The SFT stage: utilisation of the layouts (a fact of the data), the packed run and the trained model."""

    utilisation: Any  # DataFrame: maximum length × layout -> utilisation
    runs: Any  # DataFrame: the run's steps, seconds, tokens, tokens/s, loss
    # n_examples, n_tasks; utilisation at the training length: util_pad_max, util_pad_longest, util_packed; at
    # long_length (the longest bin size of the table): util_pad_max_long, util_packed_long; n_table (sequences
    # behind the utilisation table); the packed run: tps_packed, loss_first, loss_last, steps, max_length
    facts: pd.Series = glued()
    model: Any = field(repr=False, default=None)
    record: Any = field(default=None, repr=False)


def sft_stage(
    lm: Any,
    rows: Sequence[dict[str, Any]],
    *,
    config: dict[str, Any],
    n_tasks: int = 0,
    max_lengths: Sequence[int] = (256, 512, 1024, 2048),
    table_lengths: Sequence[int] | None = None,
    name: str = "baichuan-sft",
) -> SFTResult:
    """Measure utilisation, then fine-tune ``lm`` on ``rows`` packed (``config``: TrainConfig fields). The
    utilisation table by maximum length uses ``table_lengths`` (a larger sample of sequence lengths of the
    same data) when given: a few dozen sequences fill only a bin or two of a long context."""
    batch_size, max_length = config["batch_size"], config["max_length"]
    lengths = sequence_lengths(lm, rows)
    util = utilisation(lengths, batch_size=batch_size, max_length=max_length)
    packed = llm.sft(lm, list(rows), config={**config, "packing": True}, output_name=f"{name}-packed")
    r = packed.record.history
    runs = pd.DataFrame(
        [
            {
                "layout": "packed (bfd)",
                "steps": r.steps,
                "seconds": r.total_seconds,
                "tokens": r.tokens,
                "tokens/s": r.tokens_per_second,
                "loss (first → last)": f"{r.train_loss[0]:.2f} → {r.train_loss[-1]:.2f}",
                "from cache": packed.record.loaded,
            }
        ]
    ).set_index("layout")
    table = utilisation_by_length(
        lengths if table_lengths is None else table_lengths,
        batch_size=batch_size,
        max_lengths=sorted({max_length, *max_lengths}),
    )
    longest = table.index.max()
    formats = {
        **dict.fromkeys(
            ("util_pad_max", "util_pad_longest", "util_packed", "util_pad_max_long", "util_packed_long"), ".0%"
        ),
        "tps_packed": ".0f",
        "loss_first": ".2f",
        "loss_last": ".2f",
    }
    return SFTResult(
        utilisation=table,
        runs=runs,
        model=packed.model,
        record=packed.record,
        facts=facts(
            formats,
            n_examples=len(rows),
            n_tasks=n_tasks,
            util_pad_max=util["pad to max length"],
            util_pad_longest=util["pad to longest in batch"],
            util_packed=util["packed (bfd)"],
            long_length=int(longest),
            util_pad_max_long=float(table.loc[longest, "pad to max length"]),
            util_packed_long=float(table.loc[longest, "packed (bfd)"]),
            n_table=len(lengths if table_lengths is None else table_lengths),
            tps_packed=r.tokens_per_second,
            loss_first=r.train_loss[0],
            loss_last=r.train_loss[-1],
            steps=r.steps,
            max_length=max_length,
        ),
    )
