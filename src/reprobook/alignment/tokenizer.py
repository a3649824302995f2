"""Explained in `notebooks/alignment/baichuan2.ipynb`: a SentencePiece BPE tokenizer at Baichuan 2's settings.

Baichuan 2 (Section 2.2) trains byte-pair encoding with SentencePiece and

- applies **no normalisation** to the input text and adds **no dummy prefix**;
- **splits numbers into single digits**;
- adds **whitespace-only tokens** (for code);
- keeps the characters that cover 99.99 % of the text (**character coverage 0.9999**) and lets the rare
  rest **fall back to UTF-8 bytes**;
- allows tokens of up to **32 characters** (long Chinese phrases).

:func:`train_sentencepiece` passes exactly these settings to ``sentencepiece.SentencePieceTrainer``
(:data:`BAICHUAN2_SETTINGS`), in memory, and wraps the model in :class:`SentencePieceTokenizer`, which the
rest of the book calls like a ``transformers`` tokenizer (``tok(texts, add_special_tokens=False)``,
``decode``, ``eos_token_id``, ``len(tok)``). SentencePiece writes a space as ``▁`` (U+2581) and decodes
every ``▁`` back to a space: with identity normalisation, no dummy prefix and no whitespace clean-up,
``decode(encode(x)) == x`` for every text without ``▁`` in it.

Each vocabulary size of the study is its own training run (SentencePiece's BPE is greedy, so a smaller
run's merges are, in practice, the first merges of a larger one; the study records the resulting order
of compression rates as a fact, not a claim).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..checks import ParameterError, check_int, check_number
from ..results import facts, glued
from ..timing import Timer

# Baichuan 2's settings (Section 2.2 of the paper)
CHARACTER_COVERAGE = 0.9999
MAX_TOKEN_LENGTH = 32
SPECIAL_TOKENS = ("<s>", "</s>", "<unk>")  # ids 0, 1, 2: beginning and end of a document, unknown
BAICHUAN2_SETTINGS: dict[str, Any] = dict(
    model_type="bpe",
    split_digits=True,  # numbers into single digits
    byte_fallback=True,  # characters outside the vocabulary as UTF-8 bytes <0x00> … <0xFF>
    normalization_rule_name="identity",  # no normalisation of the text
    add_dummy_prefix=False,
    remove_extra_whitespaces=False,
    allow_whitespace_only_pieces=True,  # runs of spaces may be tokens (code)
    bos_id=0,
    eos_id=1,
    unk_id=2,
    pad_id=-1,
)


class SentencePieceTokenizer:
    """A trained SentencePiece model with the calls the book makes on a ``transformers`` tokenizer."""

    def __init__(self, model_proto: bytes, name: str = "SentencePiece BPE"):
        import sentencepiece as spm

        self.model_proto = bytes(model_proto)
        self.sp = spm.SentencePieceProcessor(model_proto=self.model_proto)
        self.name = name
        self.bos_token_id, self.eos_token_id, self.unk_token_id = 0, 1, 2
        self.pad_token_id = self.eos_token_id
        self.bos_token, self.eos_token = SPECIAL_TOKENS[:2]

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def __call__(self, texts: str | Sequence[str], add_special_tokens: bool = False) -> dict[str, Any]:
        single = isinstance(texts, str)
        ids = self.sp.encode([texts] if isinstance(texts, str) else list(texts))  # isinstance: narrows for mypy
        if add_special_tokens:
            ids = [[self.bos_token_id, *row] for row in ids]
        return {"input_ids": ids[0] if single else ids}

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.sp.decode([int(i) for i in ids if int(i) not in (self.bos_token_id, self.eos_token_id)])

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.sp.id_to_piece(int(i)) for i in ids]

    def convert_tokens_to_ids(self, token: str) -> int | None:
        i = self.sp.piece_to_id(token)
        return None if i == self.unk_token_id and token != SPECIAL_TOKENS[2] else i

    def byte_ids(self) -> set[int]:
        """The ids of the 256 byte-fallback pieces ``<0x00>`` … ``<0xFF>``."""
        return {i for i in range(len(self)) if self.sp.is_byte(i)}


def train_sentencepiece(
    texts: Sequence[str],
    vocab_size: int,
    *,
    coverage: float = CHARACTER_COVERAGE,
    max_token_length: int = MAX_TOKEN_LENGTH,
    threads: int = 1,
) -> SentencePieceTokenizer:
    """SentencePiece BPE at Baichuan 2's settings (:data:`BAICHUAN2_SETTINGS`) trained on ``texts``, in
    memory, with ``vocab_size`` pieces (special and byte pieces included). SentencePiece refuses a size
    smaller than the characters ``coverage`` requires, with its own message."""
    import sentencepiece as spm

    check_int("vocab_size", vocab_size, low=len(SPECIAL_TOKENS) + 256 + 1)
    check_number("coverage", coverage, low=0.98, high=1.0)  # SentencePiece refuses a coverage below 0.98
    check_int("max_token_length", max_token_length, low=1, high=512)
    texts = [t for t in texts if t]
    if not texts:
        raise ParameterError("texts", "no text", "at least one non-empty text")
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts),
            model_writer=model,
            vocab_size=vocab_size,
            character_coverage=coverage,
            max_sentencepiece_length=max_token_length,
            num_threads=threads,
            minloglevel=2,
            max_sentence_length=1 << 20,
            **BAICHUAN2_SETTINGS,
        )
    except RuntimeError as exc:
        raise ParameterError("vocab_size", vocab_size, f"a size SentencePiece accepts for this text ({exc})") from None
    return SentencePieceTokenizer(model.getvalue(), name=f"SentencePiece BPE {vocab_size:,}")


# --------------------------------------------------------------------------------------------- measuring
def encode(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text with no special tokens (a :class:`SentencePieceTokenizer` or a
    ``transformers`` tokenizer)."""
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def compression_rate(tokenizer: Any, texts: Sequence[str]) -> float:
    """Tokens per character: the number of tokens the tokenizer needs for ``texts`` (each text encoded
    alone, no special tokens) divided by their number of characters (Unicode code points). Lower is
    better: fewer tokens carry the same text."""
    chars = sum(len(t) for t in texts)
    if chars == 0:
        raise ParameterError("texts", "no characters", "at least one non-empty text")
    return sum(len(ids) for ids in encode(tokenizer, texts)) / chars


def byte_fallback_share(tokenizer: SentencePieceTokenizer, texts: Sequence[str]) -> float:
    """The share of tokens that are byte pieces ``<0xNN>`` (characters outside the vocabulary)."""
    ids = [i for row in encode(tokenizer, texts) for i in row]
    byte_ids = tokenizer.byte_ids()
    return sum(i in byte_ids for i in ids) / max(len(ids), 1)


# --------------------------------------------------------------------------------------------- the study
@dataclass
class TokenizerStudy:
    """Compression rate against vocabulary size on held-out text, beside pretrained tokenizers."""

    table: Any  # pandas DataFrame: tokenizer, vocabulary, tokens per character per language
    paper_table: Any  # Baichuan 2's Table 2
    digits: Any  # DataFrame: how each tokenizer splits a text with numbers
    tokenizers: dict  # name -> tokenizer (ours at every size, then the references)
    per_document: dict  # (name, lang) -> [tokens per character of each held-out document]
    # train_chars, heldout_chars_en, heldout_chars_zh, heldout_docs; smallest and largest vocabulary;
    # rate_<lang>_<size> (tokens per character: en, zh at smallest and largest, mix at largest);
    # byte_share_largest; roundtrip_docs: held-out documents decoded back to themselves by the largest vocabulary,
    # of roundtrip_candidates (the documents without "▁", the ones SentencePiece can return); train_seconds: CPU
    # seconds of every training run together; monotone: every larger vocabulary needs fewer tokens per character
    # (mixed held-out text)
    facts: pd.Series = glued()


STUDY_FORMATS = {
    **dict.fromkeys(
        (
            "train_chars",
            "heldout_chars_en",
            "heldout_chars_zh",
            "heldout_docs",
            "smallest",
            "largest",
            "roundtrip_docs",
            "roundtrip_candidates",
        ),
        ",",
    ),
    **dict.fromkeys(
        ("rate_en_smallest", "rate_zh_smallest", "rate_en_largest", "rate_zh_largest", "rate_mix_largest"), ".3f"
    ),
    "byte_share_largest": ".2%",
    "train_seconds": ".1f",
}


def tokenizer_study(
    train_texts: Sequence[str],
    heldout: dict[str, Sequence[str]],
    *,
    vocab_sizes: Sequence[int],
    coverage: float = CHARACTER_COVERAGE,
    max_token_length: int = MAX_TOKEN_LENGTH,
    references: dict[str, Any] | None = None,
    paper: dict[str, tuple[int, float]] | None = None,
    digits_text: str = "In 1998, 12,345 visitors paid ¥3.50 each; 1998年共接待游客12345人次。",
) -> TokenizerStudy:
    """Train SentencePiece at Baichuan 2's settings on ``train_texts`` once per size of ``vocab_sizes`` and
    measure :func:`compression_rate` on ``heldout`` ({"en": texts, "zh": texts}) for each size and for each
    of ``references`` (pretrained tokenizers, same text, same definition)."""
    for lang in ("en", "zh"):
        if not heldout.get(lang):
            raise ParameterError("heldout", sorted(heldout), "held-out texts for both 'en' and 'zh'")
    sizes = sorted(set(int(v) for v in vocab_sizes))
    if len(sizes) < 2:
        raise ParameterError("vocab_sizes", tuple(vocab_sizes), "at least two vocabulary sizes")
    clock = Timer()
    tokenizers: dict[str, Any] = {
        f"BPE {v:,}": train_sentencepiece(train_texts, v, coverage=coverage, max_token_length=max_token_length)
        for v in sizes
    }
    seconds = clock.cpu_elapsed()
    tokenizers.update(references or {})
    rows, per_document = [], {}
    mixed = list(heldout["en"]) + list(heldout["zh"])
    for name, tok in tokenizers.items():
        row = {"tokenizer": name, "vocabulary": len(tok), "trained here": name.startswith("BPE ")}
        for lang in ("en", "zh"):
            ids = encode(tok, heldout[lang])
            per_document[(name, lang)] = [len(i) / max(len(t), 1) for i, t in zip(ids, heldout[lang])]
            row[f"tokens/char {lang}"] = sum(map(len, ids)) / sum(map(len, heldout[lang]))
        row["tokens/char mixed"] = compression_rate(tok, mixed)
        rows.append(row)
    table = pd.DataFrame(rows)
    largest_tok = tokenizers[f"BPE {sizes[-1]:,}"]
    candidates = [t for t in mixed if "\u2581" not in t]
    roundtrip = sum(largest_tok.decode(ids) == t for ids, t in zip(encode(largest_tok, candidates), candidates))
    paper_table = pd.DataFrame(
        [{"tokenizer": k, "vocabulary": v, "compression rate": r} for k, (v, r) in (paper or {}).items()]
    )
    digits = pd.DataFrame(
        [
            {"tokenizer": name, "pieces": " | ".join(tok.convert_ids_to_tokens(encode(tok, [digits_text])[0]))}
            for name, tok in tokenizers.items()
            if not name.startswith("BPE ") or name.endswith(f"{sizes[-1]:,}")
        ]
    )
    ours = table[table["trained here"]]
    small, large = ours.iloc[0], ours.iloc[-1]
    mix = ours["tokens/char mixed"].tolist()
    return TokenizerStudy(
        table=table,
        paper_table=paper_table,
        digits=digits,
        tokenizers=tokenizers,
        per_document=per_document,
        facts=facts(
            STUDY_FORMATS,
            train_chars=sum(map(len, train_texts)),
            heldout_chars_en=sum(map(len, heldout["en"])),
            heldout_chars_zh=sum(map(len, heldout["zh"])),
            heldout_docs=len(mixed),
            smallest=sizes[0],
            largest=sizes[-1],
            rate_en_smallest=float(small["tokens/char en"]),
            rate_zh_smallest=float(small["tokens/char zh"]),
            rate_en_largest=float(large["tokens/char en"]),
            rate_zh_largest=float(large["tokens/char zh"]),
            rate_mix_largest=float(large["tokens/char mixed"]),
            byte_share_largest=byte_fallback_share(largest_tok, mixed),
            roundtrip_docs=int(roundtrip),
            roundtrip_candidates=len(candidates),
            train_seconds=seconds,
            monotone=all(b < a for a, b in zip(mix, mix[1:])),
        ),
    )
