"""Prompts, batched generation, the context-length guard and completion log-probabilities.

Explained in `notebooks/alignment/baichuan_alignment.ipynb` (and used by every LLM chapter).

Generation pads on the **left**: a decoder-only model continues the last position of each row, so
the padding must come before the prompt, and the attention mask (from which transformers derives the
position ids) hides it. Scoring a completion pads on the right, where padding never precedes a
scored token. Both sort the inputs by length before batching (less padding) and return results in
the caller's order.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..checks import ParameterError, check_int, check_number, check_seed, check_type
from ..timing import timed
from .loading import LanguageModel

# A plain layout for tokenizers without a chat template (base models): "User: ...\nAssistant:"
PLAIN_TEMPLATE = "{system}User: {user}\nAssistant:"


@dataclass
class Generation:
    """What :func:`generate` returns: the completions and what producing them cost."""

    texts: list[str]  # the completions only (the prompt removed, cut at EOS or a stop string)
    prompt_tokens: list[int]  # tokens of each prompt
    new_tokens: list[int]  # tokens generated for each prompt (up to and including the EOS)
    seconds: float  # wall time of the generation calls
    prompts: list[str] = field(default_factory=list)  # the model inputs (chat template applied)

    @property
    def tokens_per_second(self) -> float:
        return sum(self.new_tokens) / self.seconds if self.seconds > 0 else float("nan")


# --------------------------------------------------------------------------------------------- prompts
def _messages(user: str, system: str | None, history: Sequence[Any]) -> list[dict[str, str]]:
    messages = [] if system is None else [{"role": "system", "content": system}]
    for turn in history:
        if isinstance(turn, dict):
            messages.append(turn)
        else:
            u, a = turn
            messages += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    messages.append({"role": "user", "content": user})
    return messages


def chat_prompt(lm: LanguageModel, user: str, *, system: str | None = None, history: Sequence[Any] = ()) -> str:
    """The model's chat template applied to ``history`` (``(user, assistant)`` pairs or message dicts)
    and ``user``, with the generation prompt (the assistant's turn opened) added.

    A tokenizer without a chat template (a base model) gets :data:`PLAIN_TEMPLATE`.
    """
    check_type("user", user, str, "a string (the user's message)")
    tok = lm.tokenizer
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(_messages(user, system, history), tokenize=False, add_generation_prompt=True)
    text = ""
    for turn in history:
        u, a = (turn["content"], "") if isinstance(turn, dict) else turn
        text += f"User: {u}\nAssistant: {a}\n"
    return text + PLAIN_TEMPLATE.format(system=f"{system}\n" if system else "", user=user)


def _as_texts(lm: LanguageModel, prompts: Sequence[str], chat: bool, system: str | None) -> list[str]:
    if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)):
        raise ParameterError("prompts", prompts, "a list of strings")
    for p in prompts:
        check_type("prompts", p, str, "a list of strings")
    return [chat_prompt(lm, p, system=system) for p in prompts] if chat else list(prompts)


def _encode(lm: LanguageModel, text: str, chat: bool) -> list[int]:
    # a chat template writes its own special tokens (BOS and turn markers); raw text gets the tokenizer's
    return lm.tokenizer(text, add_special_tokens=not chat)["input_ids"]


def by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first), so that little is padded."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, side: str):
    """Token-id rows as one ``[len(rows), longest]`` batch padded with ``pad_id`` on ``side`` ("left" or
    "right"): ``(ids, attention mask)``."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if side == "left":
            ids[i, width - len(r) :], mask[i, width - len(r) :] = torch.tensor(r), 1
        else:
            ids[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), 1
    return ids, mask


# --------------------------------------------------------------------------------------------- generation
def generate(
    lm: LanguageModel,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    batch_size: int = 8,
    seed: int = 0,
    chat: bool = True,
    system: str | None = None,
    stop: Sequence[str] | None = None,
) -> Generation:
    """Complete each prompt: batched, left-padded, stopping at EOS (greedy when ``temperature`` is 0).

    ``prompts`` are user messages (``chat=True``: the chat template is applied, with ``system``) or raw
    strings (``chat=False``). ``stop`` strings cut a completion where they first appear. Sampling is
    seeded by ``seed`` (the caller's random state is left as it was).
    """
    check_int("max_new_tokens", max_new_tokens, low=1)
    check_number("temperature", temperature, low=0.0)
    check_number("top_p", top_p, low=0.0, high=1.0, low_inclusive=False)
    check_int("batch_size", batch_size, low=1)
    check_seed("seed", seed)
    if stop is not None and (isinstance(stop, str) or not all(isinstance(s, str) and s for s in stop)):
        raise ParameterError("stop", stop, "None or a list of non-empty strings")
    texts = _as_texts(lm, prompts, chat, system)
    encoded = [_encode(lm, t, chat) for t in texts]
    eos = lm.eos_token_ids
    pad_id = lm.tokenizer.pad_token_id
    out_text: list[str] = [""] * len(texts)
    out_new: list[int] = [0] * len(texts)
    seconds = 0.0
    sampling = (
        {"do_sample": True, "temperature": temperature, "top_p": top_p}
        if temperature > 0
        else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    )
    with torch.random.fork_rng(devices=[lm.device] if lm.device.type == "cuda" else []), torch.inference_mode():
        torch.manual_seed(seed)
        for batch in by_length([len(e) for e in encoded], batch_size):
            ids, mask = pad_rows([encoded[i] for i in batch], pad_id, "left")
            with timed() as clock:
                out = lm.model.generate(
                    input_ids=ids.to(lm.device),
                    attention_mask=mask.to(lm.device),
                    max_new_tokens=max_new_tokens,
                    eos_token_id=eos,
                    pad_token_id=pad_id,
                    **sampling,
                )
            seconds += clock.seconds
            new = out[:, ids.shape[1] :].tolist()
            for row, i in zip(new, batch):
                cut = next((k + 1 for k, t in enumerate(row) if t in eos), len(row))
                out_new[i] = cut
                out_text[i] = lm.tokenizer.decode(row[:cut], skip_special_tokens=True)
    if stop:
        out_text = [_cut(t, stop) for t in out_text]
    return Generation(out_text, [len(e) for e in encoded], out_new, seconds, texts)


def _cut(text: str, stop: Sequence[str]) -> str:
    ends = [text.find(s) for s in stop if s in text]
    return text[: min(ends)] if ends else text


# --------------------------------------------------------------------------------------------- context guard
def prompt_tokens(lm: LanguageModel, user: str, *, chat: bool = True, system: str | None = None) -> int:
    """How many tokens ``user`` takes as a model input (the chat template applied when ``chat``)."""
    return len(_encode(lm, chat_prompt(lm, user, system=system) if chat else user, chat))


def fit_context(
    lm: LanguageModel,
    question: str,
    passages: Sequence[str],
    *,
    template: Callable[..., str],
    max_prompt_tokens: int | None = None,
    reserve: int = 64,
    chat: bool = True,
    system: str | None = None,
) -> str:
    """The user message ``template(question=..., passages=[...])``, passages shortened until it fits.

    The budget is ``max_prompt_tokens`` (default: the model's context minus ``reserve`` tokens for the
    answer). Passages are cut from the end: the last ones go first, and the passage at the boundary
    keeps its head (its tail is cut); the question is never truncated. A question that does not fit
    even without passages is an error, not a silent truncation.
    """
    if not callable(template):
        raise ParameterError("template", template, "a function template(question=..., passages=[...]) -> str")
    budget = (
        lm.max_context - check_int("reserve", reserve, low=0)
        if max_prompt_tokens is None
        else check_int("max_prompt_tokens", max_prompt_tokens, low=1)
    )
    passages = list(passages)

    def size(kept: list[str]) -> int:
        return prompt_tokens(lm, template(question=question, passages=kept), chat=chat, system=system)

    if size(passages) <= budget:
        return template(question=question, passages=passages)
    tokens = [lm.tokenizer(p, add_special_tokens=False)["input_ids"] for p in passages]
    offsets = [0]
    for t in tokens:
        offsets.append(offsets[-1] + len(t))

    def keep(n: int) -> list[str]:
        """The first ``n`` passage tokens: whole passages, then the head of the one at the boundary."""
        out = []
        for t, start in zip(tokens, offsets):
            if n <= start:
                break
            out.append(t if n >= start + len(t) else t[: n - start])
        return [lm.tokenizer.decode(t) for t in out]

    if size([]) > budget:
        raise ParameterError(
            "max_prompt_tokens", budget, f"at least {size([])} tokens: the question and template alone take that many"
        )
    low, high = 0, offsets[-1]  # the largest n whose prompt fits: size(keep(low)) <= budget < size(keep(high))
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if size(keep(mid)) <= budget else (low, mid)
    return template(question=question, passages=keep(low))


# --------------------------------------------------------------------------------------------- log-probabilities
def _full(x):
    """Half-precision logits in float32 before a softmax (float32 and float64 stay as they are)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def completion_pairs(
    lm: LanguageModel, prompts: Sequence[str], completions: Sequence[str], chat: bool, system: str | None = None
) -> list[tuple[list[int], list[int]]]:
    """Token ids of each (prompt, completion). With ``chat`` the completion is the assistant's turn as
    the template writes it (its end-of-turn marker included), tokenised apart from the prompt."""
    if isinstance(prompts, str) or isinstance(completions, str) or len(prompts) != len(completions):
        raise ParameterError("completions", completions, "one completion per prompt (lists of strings)")
    tok = lm.tokenizer
    pairs = []
    for p, c in zip(prompts, completions):
        if chat:
            prompt_text = chat_prompt(lm, p, system=system)
            reply = c
            if getattr(tok, "chat_template", None):
                full = tok.apply_chat_template(
                    _messages(p, system, ()) + [{"role": "assistant", "content": c}], tokenize=False
                )
                if full.startswith(prompt_text):
                    reply = full[len(prompt_text) :]
            pairs.append((_encode(lm, prompt_text, True), tok(reply, add_special_tokens=False)["input_ids"]))
        else:
            pairs.append((_encode(lm, p, False), tok(c, add_special_tokens=False)["input_ids"]))
    return pairs


def _kept_positions(lengths: Sequence[tuple[int, int]]):
    """The positions whose logits a right-padded batch needs: from the last prompt token of the shortest
    prompt to the last-but-one token of the longest pair (token t is predicted by the logits at t − 1)."""
    start = min(n_p for n_p, _ in lengths) - 1
    end = max(n_p + n_c for n_p, n_c in lengths) - 1
    return start, torch.arange(start, max(end, start + 1))


def _score_pairs(
    lm: LanguageModel,
    pairs: Sequence[tuple[list[int], list[int]]],
    *,
    batch_size: int = 8,
    average: bool = False,
    all_logits: bool = False,
) -> list[float]:
    """log p(completion ids | prompt ids) for each pair of token-id lists (right padding, batched).

    Only the completion positions go through the output layer (transformers' ``logits_to_keep``); with a
    262k-token vocabulary the output layer costs more than the rest of a pass. ``all_logits``: every
    position (the slower way, kept for the throughput benchmark; the values are the same).
    """
    out = [0.0] * len(pairs)
    pad_id = lm.tokenizer.pad_token_id
    with torch.inference_mode():
        for batch in by_length([len(a) + len(b) for a, b in pairs], batch_size):
            if all(len(pairs[i][0]) == 0 or len(pairs[i][1]) == 0 for i in batch):
                continue
            rows = [pairs[i][0] + pairs[i][1] for i in batch]
            ids, mask = pad_rows(rows, pad_id, "right")
            lengths = [(max(len(pairs[i][0]), 1), len(pairs[i][1])) for i in batch]
            start, keep = (0, None) if all_logits else _kept_positions(lengths)
            kwargs = {} if keep is None else {"logits_to_keep": keep.to(lm.device)}
            logits = lm.model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device), **kwargs).logits
            for r, i in enumerate(batch):
                n_prompt, n_completion = len(pairs[i][0]), len(pairs[i][1])
                if n_completion == 0 or n_prompt == 0:
                    continue
                # token t is predicted by the logits at position t − 1 (row start: the first kept position)
                scores = _full(logits[r, n_prompt - 1 - start : n_prompt + n_completion - 1 - start]).log_softmax(-1)
                target = ids[r, n_prompt : n_prompt + n_completion].to(scores.device)
                total = float(scores.gather(-1, target[:, None]).sum())
                out[i] = total / n_completion if average else total
    return out


def completion_logprobs(
    lm: LanguageModel,
    prompts: Sequence[str],
    completions: Sequence[str],
    *,
    batch_size: int = 8,
    chat: bool = True,
    average: bool = False,
    system: str | None = None,
) -> list[float]:
    """log p(completion | prompt) for each pair: the sum over the completion's tokens (``average``: the
    mean per token), batched with right padding; the output layer runs on the completion positions only."""
    check_int("batch_size", batch_size, low=1)
    texts = _as_texts(lm, prompts, False, None)  # checks the list; chat formatting happens below
    pairs = completion_pairs(lm, texts, completions, chat, system)  # checks one completion per prompt
    return _score_pairs(lm, pairs, batch_size=batch_size, average=average)


# --------------------------------------------------------------------------------------------- shared prefixes
@dataclass
class ScoreStats:
    """What :func:`score_completions` cost: prompts and completions scored, tokens through the model, seconds."""

    prompts: int = 0
    completions: int = 0
    prompt_tokens: int = 0  # prompt tokens of every prompt, the shared prefix counted in each
    computed_tokens: int = 0  # tokens that went through the model (the shared prefix once per group)
    seconds: float = 0.0

    def add(self, other: ScoreStats) -> ScoreStats:
        return ScoreStats(
            *(
                getattr(self, f) + getattr(other, f)
                for f in ("prompts", "completions", "prompt_tokens", "computed_tokens", "seconds")
            )
        )

    @property
    def pairs_per_second(self) -> float:
        return self.completions / self.seconds if self.seconds > 0 else float("nan")


def _common_prefix(rows: Sequence[Sequence[int]]) -> int:
    if not rows:
        return 0
    first, n = rows[0], min(len(r) for r in rows)
    for other in rows[1:]:
        k = 0
        while k < n and other[k] == first[k]:
            k += 1
        n = k
    return n


# The output layer apart. With a 262k-word vocabulary a row of logits costs a read of the whole output matrix
# (671 MB in float32), so one row costs about as much as thirty: measured on two cores, 48 ms for one row,
# 17 ms a row for ten, 3.5 ms a row for 128. Scoring runs the model's body per pass and sends the hidden states
# of the scored positions through the output layer together.
_HEADS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
HEAD_ROWS = 128  # hidden states collected before they go through the output layer together


def output_layer(lm: LanguageModel) -> Callable[[Any], Any] | None:
    """The model's output layer as a function of its last hidden states (those of ``model.get_decoder()``),
    when a probe shows that the body followed by this function gives the model's own logits; None otherwise
    (scoring then runs the model whole). The function is the output embedding, then the final logit
    soft-capping where the config has one (Gemma 2); the probe catches any model whose forward does more."""
    model = lm.model
    if model in _HEADS:
        return _HEADS[model]
    head = None
    body = model.get_decoder() if hasattr(model, "get_decoder") else None
    out = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if body is not None and body is not model and out is not None:
        cap = getattr(model.config, "final_logit_softcapping", None)

        def apply(hidden):
            logits = out(hidden)
            return logits if cap is None else torch.tanh(logits / cap) * cap

        vocab = out.weight.shape[0]
        ids = torch.tensor([[min(i, vocab - 1) for i in (1, 2, 3, 5, 8)]], device=lm.device)
        with torch.inference_mode():
            want = _full(model(input_ids=ids).logits[0])
            got = _full(apply(body(input_ids=ids).last_hidden_state[0]))
        if got.shape == want.shape and torch.allclose(got, want, rtol=1e-4, atol=1e-4):
            head = apply
    _HEADS[model] = head
    return head


class _TokenScores:
    """Σ log p(token) per key, from rows that predict the tokens: logits are scored as they come; hidden
    states (``head`` given) wait until ``rows`` of them are there and go through the output layer together."""

    def __init__(self, head: Callable[[Any], Any] | None, rows: int):
        self.head, self.rows = head, rows
        self.sums: dict[Any, float] = {}
        self.waiting: list[tuple[Any, Any, Sequence[int]]] = []
        self.count = 0

    def add(self, key: Any, rows: Any, targets: Sequence[int]) -> None:
        """``rows[t]`` predicts ``targets[t]`` (logits, or hidden states when the output layer runs apart)."""
        if not targets:
            return
        if self.head is None:
            self._score([(key, rows, targets)], rows)
            return
        self.waiting.append((key, rows.clone(), targets))  # a copy: the pass's other positions are freed
        self.count += len(targets)
        if self.count >= self.rows:
            self.flush()

    def flush(self) -> None:
        if self.waiting and self.head is not None:
            self._score(self.waiting, self.head(torch.cat([rows for _, rows, _ in self.waiting])))
            self.waiting, self.count = [], 0

    def _score(self, parts, logits) -> None:
        logits = _full(logits)
        target = torch.tensor([t for _, _, ts in parts for t in ts], device=logits.device)
        picked = (logits.gather(-1, target[:, None])[:, 0] - logits.logsumexp(-1)).tolist()
        k = 0
        for key, _, ts in parts:
            self.sums[key] = self.sums.get(key, 0.0) + sum(picked[k : k + len(ts)])
            k += len(ts)


def _forward(lm: LanguageModel, head: Any, ids: Any, mask: Any, cache: Any, keep: int | None):
    """One pass of ``ids`` (a batch) after the cached tokens: ``(rows, cache)``, rows the hidden states of
    every position when the output layer runs apart (``head``), else the model's logits of the last
    ``keep`` positions (0: all; None: none needed, one is computed)."""
    kwargs = {"input_ids": ids, "attention_mask": mask, "cache": cache, "use_cache": cache is not None}
    if head is not None:
        out = lm.model.get_decoder()(**kwargs)
        return out.last_hidden_state, out.cache
    out = lm.model(**kwargs, logits_to_keep=1 if keep is None else keep)
    return out.logits, out.cache


def score_completions(
    lm: LanguageModel,
    prompts: Sequence[str],
    completions: Sequence[Sequence[str]],
    *,
    chat: bool = False,
    average: bool = True,
    share_prefix: bool = True,
    min_shared: int = 48,
) -> tuple[list[list[float]], ScoreStats]:
    """log p(c | prompt) for every completion c of every prompt, paying for each token once.

    ``completions[i]`` lists the completions scored after ``prompts[i]`` (raw text, or user messages with
    ``chat``). What is shared is computed once and reused through the key-value cache:

    * any token prefix that several prompts have in common, at least ``min_shared`` tokens long (with
      ``share_prefix``): the prompts form a prefix tree, and each branch of it is computed once, so an
      instruction common to every prompt costs one pass, and two settings of one question that differ only
      after a passage (the passage alone, then followed by noise) share the passage;
    * each prompt, whatever number of completions follow it (one pass per prompt, then the completions side
      by side from its cache).

    A pass costs a fixed read of the weights besides its tokens, so a branch shorter than ``min_shared``
    tokens is recomputed rather than split off. Only the positions that predict a completion token go
    through the output layer, and they go through it together, :data:`HEAD_ROWS` at a time, from many passes
    (:func:`output_layer`; a 262k-word output layer costs about as much for one row as for thirty). Returns
    ``(scores, stats)``: per prompt, the sum of the completion's token log-probabilities (``average``: the
    mean per token; an empty completion scores NaN), and the :class:`ScoreStats`. The values equal those of
    one full pass per (prompt, completion) up to floating-point rounding.
    """
    texts = _as_texts(lm, prompts, False, None)
    if isinstance(completions, str) or len(completions) != len(texts):
        raise ParameterError("completions", completions, f"a list of {len(texts)} lists of strings (one per prompt)")
    for group in completions:
        if isinstance(group, str) or not all(isinstance(c, str) for c in group):
            raise ParameterError("completions", group, "a list of strings for each prompt")
    check_int("min_shared", min_shared, low=1)
    tok = lm.tokenizer
    encoded = [chat_prompt(lm, t) if chat else t for t in texts]
    prompt_ids = [_encode(lm, t, chat) for t in encoded]
    comp_ids = [[tok(c, add_special_tokens=False)["input_ids"] for c in group] for group in completions]
    stats = ScoreStats(
        prompts=len(texts), completions=sum(len(g) for g in comp_ids), prompt_tokens=sum(len(p) for p in prompt_ids)
    )

    def run(ids: list[int], cache: Any, past: int, keep: int | None):
        x = torch.tensor([ids], device=lm.device)
        mask = torch.ones((1, past + len(ids)), dtype=torch.long, device=lm.device)
        rows, cache = _forward(lm, head, x, mask, cache, keep)
        return rows[0], cache

    def visit(i: int, cache: Any, shared: int) -> None:
        """Prompt i scored from ``cache``, which holds its first ``shared`` tokens (None: nothing)."""
        ids, comps = prompt_ids[i], comp_ids[i]
        rest = ids[shared:]
        if not any(comps):
            return
        cache = copy.deepcopy(cache) if cache is not None else None
        if len(comps) == 1:  # one pass over the rest of the prompt and the completion
            c = comps[0]
            rows, _ = run(rest + c[:-1], cache, shared, len(c))
            stats.computed_tokens += len(rest) + len(c) - 1
            scores.add((i, 0), rows[-len(c) :], c)
            return
        rows, cache = run(rest, cache if cache is not None else _new_cache(lm), shared, 1)
        stats.computed_tokens += len(rest)
        _score_after(i, rows[-1:], cache, len(ids), comps)

    def _score_after(i: int, last: Any, cache: Any, past: int, comps: Sequence[Sequence[int]]) -> None:
        """The completions of prompt i after its cached prompt, side by side (right padding) on copies of
        the cache; the first token of each is predicted by the prompt's last position (``last``)."""
        for j, c in enumerate(comps):
            scores.add((i, j), last, c[:1])
        tails = [c[:-1] for c in comps]  # the last token of a completion predicts nothing that is scored
        batch = [j for j, t in enumerate(tails) if t]
        if not batch:
            return
        ids, mask = pad_rows([tails[j] for j in batch], tok.pad_token_id, "right")
        cache.batch_repeat_interleave(len(batch))
        full_mask = torch.cat([torch.ones((len(batch), past), dtype=torch.long), mask], dim=1)
        rows, _ = _forward(lm, head, ids.to(lm.device), full_mask.to(lm.device), cache, 0)
        stats.computed_tokens += int(mask.sum())
        for r, j in enumerate(batch):
            scores.add((i, j), rows[r, : len(tails[j])], comps[j][1:])

    def tree(members: list[int], cache: Any, shared: int) -> None:
        """The prompts ``members`` share their first ``shared`` tokens (held by ``cache``): extend the shared
        part while it is long enough to pay for a pass, then split by the next token."""
        # at least one token of every prompt stays outside (its last position starts the scoring)
        common = min(_common_prefix([prompt_ids[i] for i in members]), min(len(prompt_ids[i]) for i in members) - 1)
        if len(members) > 1 and share_prefix and common >= 0:
            if common - shared >= min_shared:
                grown = copy.deepcopy(cache) if cache is not None else _new_cache(lm)
                _, grown = run(prompt_ids[members[0]][shared:common], grown, shared, None)
                stats.computed_tokens += common - shared
                cache, shared = grown, common
            # split where the prompts part ways; each branch may share a longer prefix of its own
            parts: dict[int, list[int]] = {}
            for i in members:
                parts.setdefault(prompt_ids[i][common], []).append(i)
            if len(parts) > 1:
                for part in parts.values():
                    tree(part, cache, shared)
                return
        for i in members:
            visit(i, cache, shared)

    with timed() as clock:
        with torch.inference_mode():
            head = output_layer(lm)
            scores = _TokenScores(head, HEAD_ROWS)
            tree(list(range(len(texts))), None, 0)
            scores.flush()
    stats.seconds = clock.seconds
    out = [
        [
            (scores.sums[(i, j)] / len(c) if average else scores.sums[(i, j)]) if c else float("nan")
            for j, c in enumerate(comps)
        ]
        for i, comps in enumerate(comp_ids)
    ]
    return out, stats


def _new_cache(lm: LanguageModel):
    from transformers import DynamicCache

    return DynamicCache(config=lm.model.config)
