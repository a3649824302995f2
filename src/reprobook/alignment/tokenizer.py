"""Explained in `notebooks/alignment/baichuan2.ipynb`: a BPE tokenizer built the way Baichuan 2 builds its own.

Baichuan 2 (Section 2.2) trains byte-pair encoding with SentencePiece and

- applies **no normalisation** to the input text and adds no dummy prefix;
- **splits numbers into single digits**;
- adds **whitespace-only tokens** (for code);
- keeps the characters that cover 99.99 % of the text (**character coverage 0.9999**) and lets the rare
  rest **fall back to UTF-8 bytes**;
- allows tokens of up to **32 characters** (long Chinese phrases).

This module builds the same kind of tokenizer with Hugging Face ``tokenizers`` (the Rust BPE trainer):
no normaliser; a pre-tokenizer that cuts the text into single digits, runs of Chinese characters, runs
of other letters, runs of punctuation and runs of whitespace (a space stays attached to the word after
it, as SentencePiece's ``▁`` does); an alphabet chosen by character coverage; 256 byte tokens
``<0x00>`` … ``<0xFF>`` for everything else. Decoding turns byte tokens back into UTF-8 and fuses the
pieces, so ``decode(encode(x)) == x`` for every string. (SentencePiece's own whitespace symbol ``▁``
cannot make that promise for a text that contains ``▁`` itself.)

BPE merges greedily: a run stopped after *m* merges has exactly the first *m* merges of a longer run on
the same data. :func:`truncate` uses that to get every smaller vocabulary from one training run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..checks import ParameterError, check_fraction, check_int
from ..results import glued

# Baichuan 2's settings (Section 2.2 of the paper)
CHARACTER_COVERAGE = 0.9999
MAX_TOKEN_LENGTH = 32
SPECIAL_TOKENS = ("<s>", "</s>")  # ids 0 and 1: beginning and end of a document
BYTE_TOKENS = tuple(f"<0x{b:02X}>" for b in range(256))
# One regex, alternatives tried in order at each position; together they cover every character, so the
# pre-tokenizer loses nothing. \p{N}: one digit per piece (Baichuan 2 splits numbers into digits).
PRETOKENIZE_PATTERN = (r" ?\p{N}"  # a single digit, with the space before it
                       r"| ?\p{Han}+"  # a run of Chinese characters
                       r"| ?[^\s\p{N}\p{P}\p{S}\p{Han}]+"  # a run of other letters (and marks)
                       r"| ?[\p{P}\p{S}]+"  # a run of punctuation and symbols
                       r"|\s+(?!\S)|\s+")  # whitespace-only pieces (the last space joins the next word)


def character_alphabet(texts: Iterable[str], coverage: float = CHARACTER_COVERAGE) -> list[str]:
    """The most frequent characters whose occurrences cover ``coverage`` of all characters (ties broken
    by code point): SentencePiece's ``character_coverage``. The rest will be spelled in bytes."""
    check_fraction("coverage", coverage)
    counts = Counter()
    for t in texts:
        counts.update(t)
    total = sum(counts.values())
    if total == 0:
        raise ParameterError("texts", "no characters", "at least one non-empty text")
    alphabet, covered = [], 0
    for ch, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if covered >= coverage * total:
            break
        alphabet.append(ch)
        covered += n
    return alphabet


def _pre_tokenizer():
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated")


def _assemble(vocab: dict[str, int], merges: list[tuple[str, str]]):
    """A ``tokenizers.Tokenizer``: special tokens, then byte tokens, then ``vocab`` (ids shifted), BPE with
    byte fallback, no normaliser, the digit-splitting pre-tokenizer, a byte-fallback decoder."""
    from tokenizers import AddedToken, Tokenizer, decoders, models

    full = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + BYTE_TOKENS)}
    for tok, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
        if tok not in full:
            full[tok] = len(full)
    tokenizer = Tokenizer(models.BPE(vocab=full, merges=merges, byte_fallback=True, unk_token=None))
    tokenizer.pre_tokenizer = _pre_tokenizer()
    tokenizer.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tokenizer.encode_special_tokens = True  # "</s>" typed in a text is text, never the special token
    return tokenizer


@dataclass
class TrainedBPE:
    """One BPE training run: its alphabet and its merges in order, from which any vocabulary size up to
    ``max_vocab_size`` is cut by :func:`truncate`."""

    alphabet: list[str]
    merges: list[tuple[str, str]]
    coverage: float
    max_token_length: int

    @property
    def min_vocab_size(self) -> int:
        """Special tokens, byte tokens and the alphabet: the vocabulary before any merge."""
        return len(SPECIAL_TOKENS) + len(BYTE_TOKENS) + len(self.alphabet)

    @property
    def max_vocab_size(self) -> int:
        return self.min_vocab_size + len(self.merges)


def train_bpe(texts: Sequence[str], vocab_size: int, *, coverage: float = CHARACTER_COVERAGE,
              max_token_length: int = MAX_TOKEN_LENGTH) -> TrainedBPE:
    """Train BPE on ``texts`` up to ``vocab_size`` tokens (special and byte tokens included).

    The alphabet is chosen by :func:`character_alphabet`; the Rust trainer of ``tokenizers`` learns the
    merges over the pre-tokenized pieces (no merge crosses a digit, a script change or a space before
    a word). It may stop early when no pair is left to merge.
    """
    from tokenizers import Tokenizer, models, trainers

    check_int("max_token_length", max_token_length, low=1)
    alphabet = character_alphabet(texts, coverage)
    base = len(SPECIAL_TOKENS) + len(BYTE_TOKENS) + len(alphabet)
    check_int("vocab_size", vocab_size, low=base)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = _pre_tokenizer()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(SPECIAL_TOKENS) - len(BYTE_TOKENS),
                                  initial_alphabet=alphabet, limit_alphabet=len(alphabet),
                                  max_token_length=max_token_length, show_progress=False, min_frequency=2)
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    model = json.loads(tokenizer.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
    kept = [ch for ch in alphabet if ch in model["vocab"]]
    return TrainedBPE(kept, merges, coverage, max_token_length)


def truncate(trained: TrainedBPE, vocab_size: int):
    """The tokenizer of ``vocab_size`` tokens: the alphabet and the first ``vocab_size − min_vocab_size``
    merges of ``trained``, as a ``transformers`` fast tokenizer (``<s>`` BOS, ``</s>`` EOS and padding)."""
    check_int("vocab_size", vocab_size, low=trained.min_vocab_size, high=trained.max_vocab_size)
    merges = trained.merges[: vocab_size - trained.min_vocab_size]
    vocab = {ch: i for i, ch in enumerate(trained.alphabet)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return as_transformers(_assemble(vocab, merges))


def as_transformers(tokenizer):
    """Wrap a ``tokenizers.Tokenizer`` for ``transformers`` without any clean-up that would change text."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=SPECIAL_TOKENS[0],
                                   eos_token=SPECIAL_TOKENS[1], pad_token=SPECIAL_TOKENS[1],
                                   clean_up_tokenization_spaces=False, split_special_tokens=True)


def vocabulary_sizes(trained: TrainedBPE, sizes: Sequence[int]) -> list[int]:
    """The sizes of ``sizes`` this run can cut (between its smallest and largest vocabulary)."""
    return [int(v) for v in sizes if trained.min_vocab_size <= v <= trained.max_vocab_size]


# --------------------------------------------------------------------------------------------- measuring
def encode(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text with no special tokens, for a ``transformers`` tokenizer or a
    ``tokenizers.Tokenizer``."""
    if hasattr(tokenizer, "encode_batch"):
        return [e.ids for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def compression_rate(tokenizer: Any, texts: Sequence[str]) -> float:
    """Tokens per character: the number of tokens the tokenizer needs for ``texts`` (each text encoded
    alone, no special tokens) divided by their number of characters (Unicode code points). Lower is
    better: fewer tokens carry the same text."""
    chars = sum(len(t) for t in texts)
    if chars == 0:
        raise ParameterError("texts", "no characters", "at least one non-empty text")
    return sum(len(ids) for ids in encode(tokenizer, texts)) / chars


def byte_fallback_share(tokenizer: Any, texts: Sequence[str]) -> float:
    """The share of tokens that are byte tokens ``<0xNN>`` (characters outside the vocabulary)."""
    ids = [i for row in encode(tokenizer, texts) for i in row]
    byte_ids = {tokenizer.convert_tokens_to_ids(t) for t in BYTE_TOKENS} - {None, tokenizer.unk_token_id}
    return sum(i in byte_ids for i in ids) / max(len(ids), 1)


# --------------------------------------------------------------------------------------------- the study
@dataclass
class TokenizerStudy:
    """Compression rate against vocabulary size on held-out text, beside pretrained tokenizers."""

    table: Any  # pandas DataFrame: tokenizer, vocabulary, tokens per character per language
    paper_table: Any  # Baichuan 2's Table 2
    digits: Any  # DataFrame: how each tokenizer splits a text with numbers
    trained: TrainedBPE
    tokenizers: dict  # name -> tokenizer (ours at every size, then the references)
    per_document: dict  # (name, lang) -> [tokens per character of each held-out document]
    fig: Any = glued()
    alphabet: int = glued(",")
    train_chars: int = glued(",")
    heldout_chars_en: int = glued(",")
    heldout_chars_zh: int = glued(",")
    heldout_docs: int = glued(",")
    smallest: int = glued(",")
    largest: int = glued(",")
    rate_en_smallest: float = glued(".3f")
    rate_zh_smallest: float = glued(".3f")
    rate_en_largest: float = glued(".3f")
    rate_zh_largest: float = glued(".3f")
    rate_mix_largest: float = glued(".3f")
    byte_share_largest: float = glued(".2%")
    roundtrip_docs: int = glued(",")  # held-out documents decoded back to themselves, by the largest vocabulary
    train_seconds: float = glued(".1f")


def tokenizer_study(train_texts: Sequence[str], heldout: dict[str, Sequence[str]], *, vocab_sizes: Sequence[int],
                    coverage: float = CHARACTER_COVERAGE, max_token_length: int = MAX_TOKEN_LENGTH,
                    references: dict[str, Any] | None = None, paper: dict[str, tuple[int, float]] | None = None,
                    digits_text: str = "In 1998, 12,345 visitors paid ¥3.50 each; 1998年共接待游客12345人次。"
                    ) -> TokenizerStudy:
    """Train one BPE run on ``train_texts`` up to the largest of ``vocab_sizes``, cut every size from it,
    and measure :func:`compression_rate` on ``heldout`` ({"en": texts, "zh": texts}) for each size and for
    each of ``references`` (pretrained tokenizers, same text, same definition)."""
    import time

    import pandas as pd

    for lang in ("en", "zh"):
        if not heldout.get(lang):
            raise ParameterError("heldout", sorted(heldout), "held-out texts for both 'en' and 'zh'")
    start = time.process_time()
    trained = train_bpe(train_texts, max(vocab_sizes), coverage=coverage, max_token_length=max_token_length)
    seconds = time.process_time() - start
    sizes = vocabulary_sizes(trained, sorted(set(vocab_sizes)))
    if len(sizes) < 2:
        raise ParameterError("vocab_sizes", tuple(vocab_sizes), f"at least two sizes between this run's smallest "
                             f"({trained.min_vocab_size}) and largest ({trained.max_vocab_size}) vocabulary")
    tokenizers = {f"BPE {v:,}": truncate(trained, v) for v in sizes}
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
    roundtrip = sum(largest_tok.decode(ids) == t for ids, t in zip(encode(largest_tok, mixed), mixed))
    paper_table = pd.DataFrame([{"tokenizer": k, "vocabulary": v, "compression rate": r}
                                for k, (v, r) in (paper or {}).items()])
    digits = pd.DataFrame([{"tokenizer": name, "pieces": " | ".join(tok.convert_ids_to_tokens(encode(tok, [digits_text])[0]))}
                           for name, tok in tokenizers.items() if not name.startswith("BPE ") or name.endswith(f"{sizes[-1]:,}")])
    small, large = table.iloc[0], table[table.tokenizer == f"BPE {sizes[-1]:,}"].iloc[0]
    return TokenizerStudy(
        table=table, paper_table=paper_table, digits=digits, trained=trained, tokenizers=tokenizers,
        per_document=per_document, fig=_compression_figure(table),
        alphabet=len(trained.alphabet), train_chars=sum(map(len, train_texts)),
        heldout_chars_en=sum(map(len, heldout["en"])), heldout_chars_zh=sum(map(len, heldout["zh"])),
        heldout_docs=len(mixed), smallest=sizes[0], largest=sizes[-1],
        rate_en_smallest=float(small["tokens/char en"]), rate_zh_smallest=float(small["tokens/char zh"]),
        rate_en_largest=float(large["tokens/char en"]), rate_zh_largest=float(large["tokens/char zh"]),
        rate_mix_largest=float(large["tokens/char mixed"]), byte_share_largest=byte_fallback_share(largest_tok, mixed),
        roundtrip_docs=int(roundtrip), train_seconds=seconds,
    )


def _compression_figure(table):
    """Tokens per character against vocabulary size: the trained BPE's curve per language (colour), the
    pretrained tokenizers as open markers (shape) in the same colours."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(7.2, 3.6))
    ours = table[table["trained here"]]
    refs = table[~table["trained here"]]
    markers = "sD^vP"
    handles = []
    for lang, label in (("en", "English"), ("zh", "Chinese"), ("mixed", "mixed")):
        line, = ax.plot(ours.vocabulary, ours[f"tokens/char {lang}"], "o-", label=f"BPE trained here, {label}")
        handles.append(line)
        for k, (_, r) in enumerate(refs.iterrows()):
            ax.plot([r.vocabulary], [r[f"tokens/char {lang}"]], markers[k % len(markers)], color=line.get_color(),
                    mfc="none", ms=8)
    handles += [Line2D([], [], ls="none", marker=markers[k % len(markers)], mfc="none", color="0.3", ms=8,
                       label=f"{r.tokenizer} ({int(r.vocabulary):,})") for k, (_, r) in enumerate(refs.iterrows())]
    ax.set(xscale="log", xlabel="vocabulary size", ylabel="tokens per character (lower is better)")
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig
