"""Forward passes the alignment chapter measures with: completion log-probabilities, last-token features and
per-token KL divergences between two models, paying for the output layer only at the completion's positions.

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

A chat model's answer y to a prompt x is the assistant turn its chat template writes after x. One
forward pass of the decoder over x ⊕ y gives the hidden states h_t; the output layer then turns only the
positions that predict y's tokens into logits (a 135M model's output layer is a fifth of its compute per
position, and x is usually longer than y). The output layer is the one :func:`reprobook.llm.generation.output_layer`
checks against the model's own logits (with a final logit soft-capping where the config has one); a model
whose forward does more runs whole. From them:

    log π(y | x) = Σ_t log softmax(W h_{t−1})[y_t]        (the sum, not the mean, as DPO's implicit reward)
    KL_t(π ‖ π') = Σ_v π(v | x, y_<t) [log π(v | ·) − log π'(v | ·)]   (mean over the completion's tokens)

and the *last-token feature* of (x, y), the final hidden state at y's last token (after the final norm),
which the reward head of :mod:`reprobook.alignment.reward` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..checks import check_int
from ..llm import generate
from ..llm.generation import by_length, completion_pairs, output_layer, pad_rows

Pair = tuple[list[int], list[int]]


def encode_pairs(lm: Any, prompts: Sequence[str], completions: Sequence[str]) -> list[Pair]:
    """(prompt ids, completion ids) of each (user message, assistant answer): the chat template applied,
    the completion being what the template writes after the prompt (its end-of-turn marker included;
    :func:`reprobook.llm.generation.completion_pairs`)."""
    return completion_pairs(lm, prompts, completions, chat=True)


def _batches(pairs: Sequence[Pair], batch_size: int) -> list[list[int]]:
    return by_length([len(p) + len(c) for p, c in pairs], batch_size)


def _forward(lm: Any, pairs: Sequence[Pair], batch: list[int], features: bool = False):
    """Right-padded forward of the pairs ``batch``: ``(rows, head, hidden, ids, lengths)``.

    Where the model's output layer runs apart (:func:`reprobook.llm.generation.output_layer`), only the
    decoder runs: ``rows`` are its final hidden states and ``head`` turns rows into logits. Otherwise (a model
    whose forward does more than decoder and output layer) ``rows`` are the model's own logits, ``head`` is
    None, and the decoder runs again for ``hidden`` when ``features`` asks for it. ``hidden``: the final
    hidden states (None when not asked for and not computed); ``lengths``: (prompt, completion) per pair.
    """
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    ids, mask = pad_rows([pairs[i][0] + pairs[i][1] for i in batch], pad, "right")
    inputs = {"input_ids": ids.to(lm.device), "attention_mask": mask.to(lm.device)}
    lengths = [(len(pairs[i][0]), len(pairs[i][1])) for i in batch]
    head = output_layer(lm)
    if head is not None:
        hidden = lm.model.get_decoder()(**inputs).last_hidden_state
        return hidden, head, hidden, ids, lengths
    logits = lm.model(**inputs).logits
    hidden = lm.model.get_decoder()(**inputs).last_hidden_state if features else None
    return logits, None, hidden, ids, lengths


def _completion_logits(rows: Any, head: Any, k: int, n_prompt: int, n_completion: int):
    """Log-probabilities at the positions that predict the completion's tokens (t − 1 predicts t), in float32
    at least (half-precision logits are cast up first)."""
    part = rows[k, n_prompt - 1 : n_prompt + n_completion - 1]
    logits = part if head is None else head(part)
    return (logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits).log_softmax(-1)


@dataclass
class Scores:
    """Per pair: log π(y | x) summed over y's tokens, y's length, and the last-token feature (or None)."""

    logprob: np.ndarray
    tokens: np.ndarray
    features: np.ndarray | None = None


def score(lm: Any, pairs: Sequence[Pair], *, features: bool = False, batch_size: int = 8) -> Scores:
    """Completion log-probabilities of ``pairs`` under ``lm`` (and last-token features with ``features``)."""
    check_int("batch_size", batch_size, low=1)
    logprob = np.zeros(len(pairs))
    feats = (
        np.zeros((len(pairs), lm.model.config.get_text_config().hidden_size), dtype=np.float32) if features else None
    )
    with torch.inference_mode():
        for batch in _batches(pairs, batch_size):
            rows, head, hidden, ids, lengths = _forward(lm, pairs, batch, features)
            for k, (i, (n_p, n_c)) in enumerate(zip(batch, lengths)):
                if features:
                    assert feats is not None and hidden is not None  # both there when features
                    feats[i] = hidden[k, n_p + n_c - 1].float().cpu().numpy()
                if n_c == 0:
                    continue
                logp = _completion_logits(rows, head, k, n_p, n_c)
                target = ids[k, n_p : n_p + n_c].to(logp.device)
                logprob[i] = float(logp.gather(-1, target[:, None]).sum())
    return Scores(logprob, np.array([len(c) for _, c in pairs]), feats)


def token_kl(lm_p: Any, lm_q: Any, pairs: Sequence[Pair], *, batch_size: int = 8) -> float:
    """The mean over the completions' tokens of KL(π_p ‖ π_q) at each position (teacher-forced on ``pairs``)."""
    total, count = 0.0, 0
    with torch.inference_mode():
        for batch in _batches(pairs, batch_size):
            rp, head_p, _, _, lengths = _forward(lm_p, pairs, batch)
            rq, head_q, _, _, _ = _forward(lm_q, pairs, batch)
            for k, (n_p, n_c) in enumerate(lengths):
                if n_c == 0:
                    continue
                lp = _completion_logits(rp, head_p, k, n_p, n_c)
                lq = _completion_logits(rq, head_q, k, n_p, n_c)
                total += float((lp.exp() * (lp - lq)).sum())
                count += n_c
    return total / count if count else float("nan")


@dataclass
class Moved:
    """Did a trained stage move the model? Against its parent, on held-out prompts."""

    identical: float  # share of greedy answers identical to the parent's
    kl: float  # mean per-token KL(stage ‖ parent) on the parent's greedy answers
    acted: bool
    measure: str  # the two numbers in words (the guard's reason when the stage did not act)


def moved(
    stage: Any,
    parent: Any,
    prompts: Sequence[str],
    parent_answers: Sequence[str],
    *,
    max_identical: float,
    min_kl: float,
    max_new_tokens: int,
    batch_size: int = 16,
    stage_answers: Sequence[str] | None = None,
    kl_prompts: int | None = None,
) -> Moved:
    """Greedy answers of ``stage`` to ``prompts`` (``stage_answers`` when already generated) against
    ``parent_answers`` (the parent's greedy answers), and the per-token KL on the parent's answers (to the
    first ``kl_prompts`` prompts): the stage *acted* when fewer than ``max_identical`` of its answers are
    identical to the parent's or the KL reaches ``min_kl`` nats per token."""
    answers = (
        stage_answers
        if stage_answers is not None
        else generate(stage, list(prompts), max_new_tokens=max_new_tokens, batch_size=batch_size).texts
    )
    identical = float(np.mean([a == b for a, b in zip(answers, parent_answers)]))
    k = len(prompts) if kl_prompts is None else kl_prompts
    kl = token_kl(stage, parent, encode_pairs(parent, list(prompts)[:k], list(parent_answers)[:k]))
    acted = identical < max_identical or kl >= min_kl
    measure = (
        f"{identical:.0%} of {len(prompts)} greedy answers identical to its parent's, mean per-token KL "
        f"{kl:.2g} nats (acted: under {max_identical:.0%} identical or KL ≥ {min_kl:g})"
    )
    return Moved(identical, kl, acted, measure)
