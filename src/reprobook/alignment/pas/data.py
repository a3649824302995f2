"""PAS stage 1, collect: the seed pairs and the prompts gathered from the offline sources.

Explained in `notebooks/alignment/pas.ipynb`.

A collected :class:`Prompt` keeps where it came from and its *references*: the answers the source
knows for it (SQuAD's answer spans, the natural-instructions targets, HHH's two responses). No stage
shows them to a model; the critique uses them to catch a complementary prompt that gives the answer
away, and the check on the training pairs uses them to prove that none does.

HHH prompts are split by prompt (seeded): one part trains and checks the held-out reward model and is
never a PAS prompt, the other part joins the PAS pool. Multi-turn HHH dialogues are left out of the
pool (a complementary prompt supplements one request).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ... import data
from ...checks import check_choice, check_fraction, check_int, check_seed
from ...configs.pas import PASConfig
from ...results import facts, glued
from .seed_en import ENGLISH_SEED

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Prompt:
    """A user prompt of the pool: its text, its source and the answers known for it (never shown)."""

    id: str
    text: str
    source: str  # "natural-instructions", "hhh", "squad", "planted"
    references: tuple[str, ...] = ()
    origin: str = ""  # finer source: the NI task, the HHH category, the SQuAD article; a planted copy's original id


# --------------------------------------------------------------------------------------------- seed
def seed_pairs(language: str = "zh", seed_data: Any = None) -> list[dict[str, str]]:
    """The 63 seed pairs as ``{prompt, complement, category, language}``: the official Chinese file
    (``"zh"``) or its English rendering (``"en"``, :data:`~reprobook.alignment.pas.seed_en.ENGLISH_SEED`)."""
    check_choice("language", language, LANGUAGES)
    if language == "en":
        return [{"prompt": p, "complement": c, "category": k, "language": "en"} for k, p, c in ENGLISH_SEED]
    if seed_data is None:
        seed_data = data.load("pas-seed")
    return [
        {"prompt": r["prompt"].strip(), "complement": r["ape"].strip(), "category": r["category"], "language": "zh"}
        for r in seed_data["ape_seed"]
    ]


def parallel_seed(seed_data: Any = None) -> list[tuple[dict[str, str], dict[str, str]]]:
    """(Chinese pair, English pair) for each seed pair: the k-th pair of a category in the file with the
    k-th English row of that category."""
    zh, en = seed_pairs("zh", seed_data), seed_pairs("en")
    by_category: dict[str, list[dict[str, str]]] = {}
    for row in en:
        by_category.setdefault(row["category"], []).append(row)
    seen: Counter = Counter()
    out = []
    for row in zh:
        k = seen[row["category"]]
        seen[row["category"]] += 1
        out.append((row, by_category[row["category"]][k]))
    return out


def seed_templates(seed_data: Any = None) -> dict[str, str]:
    """The repository's 17 per-ability generation prompts (``task_pe.jsonl``: ability → template with
    ``PROMPT_PLACEHOLDER``)."""
    if seed_data is None:
        seed_data = data.load("pas-seed")
    (templates,) = seed_data["task_pe"]
    return dict(templates)


def official_rules(seed_data: Any = None) -> str:
    """The rules that open every official generation prompt (its "Background" section, read from the data)."""
    template = next(iter(seed_templates(seed_data).values()))
    head = template.split("## Example 1")[0]
    return head.replace("## Background", "").strip()


# --------------------------------------------------------------------------------------------- sources
def ni_prompt(definition: str, example_input: str) -> str:
    """A natural-instructions example as a user prompt: the task's one-line "Prompt:" and the input."""
    match = re.search(r"Prompt:\s*(.+)$", definition)
    instruction = match.group(1).strip() if match else definition.strip()
    return f"{instruction}\n{example_input.strip()}"


def is_multi_turn(text: str) -> bool:
    return bool(re.search(r"(^|\n)\s*(Assistant|Human|User)\s*:", text))


def split_hhh(
    rows: Sequence[dict[str, Any]], rm_fraction: float, *, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """HHH pairs split by prompt into (reward-model training pairs, reward-model/judge check pairs, pairs
    whose prompts join the PAS pool). The reward model's share ``rm_fraction`` of the prompts is split 3:1
    into training and check."""
    check_fraction("rm_fraction", rm_fraction)
    prompts = sorted({r["prompt"] for r in rows})
    random.Random(seed).shuffle(prompts)
    n_rm = round(rm_fraction * len(prompts))
    n_train = round(0.75 * n_rm)
    train, check = set(prompts[:n_train]), set(prompts[n_train:n_rm])
    return (
        [r for r in rows if r["prompt"] in train],
        [r for r in rows if r["prompt"] in check],
        [r for r in rows if r["prompt"] not in train and r["prompt"] not in check],
    )


@dataclass
class Collected:
    """Stage 1: the raw pool (duplicates included) and the HHH pairs kept for the reward model."""

    prompts: list[Prompt]
    rm_train: list[dict[str, Any]]  # HHH pairs that train the held-out reward model
    rm_check: list[dict[str, Any]]  # HHH pairs that check the reward model and the pairwise judge
    table: Any  # per source: collected, left out (multi-turn), examples
    # n_prompts, n_sources, n_rm_train, n_rm_check, n_multi_turn, sources
    facts: pd.Series = glued()


def collect_prompts(cfg: PASConfig, *, seed: int, sources: dict[str, Any] | None = None) -> Collected:
    """Gather the pool: ``cfg.ni_per_task`` examples of each natural-instructions task, the single-turn
    HHH prompts not reserved for the reward model (every row, so repeated prompts stay repeated; at most
    ``cfg.hhh_rows`` rows), and
    ``cfg.squad_questions`` SQuAD questions without their paragraph. ``sources`` replaces the registry
    data (``{"natural-instructions": ..., "hhh-alignment": ..., "squad-dev": ...}``, for tests)."""
    check_seed("seed", seed)
    check_int("ni_per_task", cfg.ni_per_task, low=0)
    check_int("squad_questions", cfg.squad_questions, low=0)
    sources = dict(sources or {})
    if not sources:
        sources = {name: data.load(name) for name in ("natural-instructions", "hhh-alignment", "squad-dev")}
    rng = random.Random(seed)
    prompts: list[Prompt] = []
    for task, spec in sorted(sources["natural-instructions"].items()):
        for k, ex in enumerate(rng.sample(spec["examples"], min(cfg.ni_per_task, len(spec["examples"])))):
            prompts.append(
                Prompt(
                    f"ni-{task.split('_')[0]}-{k}",
                    ni_prompt(spec["definition"], ex["input"]),
                    "natural-instructions",
                    tuple(ex["targets"]),
                    task,
                )
            )
    rm_train, rm_check, pool = split_hhh(sources["hhh-alignment"], cfg.hhh_rm_fraction, seed=seed)
    if cfg.rm_pairs is not None:
        rm_train = rng.sample(rm_train, min(cfg.rm_pairs, len(rm_train)))
    if cfg.hhh_rows is not None:
        pool = [pool[i] for i in sorted(rng.sample(range(len(pool)), min(cfg.hhh_rows, len(pool))))]
    multi = 0
    for k, row in enumerate(pool):
        if is_multi_turn(row["prompt"]):
            multi += 1
            continue
        prompts.append(
            Prompt(f"hhh-{k}", row["prompt"].strip(), "hhh", (row["chosen"], row["rejected"]), row["category"])
        )
    squad = sources["squad-dev"]
    for k, i in enumerate(sorted(rng.sample(range(len(squad)), min(cfg.squad_questions, len(squad))))):
        q = squad[i]
        prompts.append(Prompt(f"squad-{k}", q["question"].strip(), "squad", tuple(q["answers"]), q.get("title", "")))
    table = pd.DataFrame(
        [
            {
                "source": s,
                "prompts": sum(p.source == s for p in prompts),
                "example": next(p.text for p in prompts if p.source == s)[:90],
            }
            for s in dict.fromkeys(p.source for p in prompts)
        ]
    ).set_index("source")
    return Collected(
        prompts,
        rm_train,
        rm_check,
        table,
        facts=facts(
            None,
            n_prompts=len(prompts),
            n_sources=len(table),
            n_rm_train=len(rm_train),
            n_rm_check=len(rm_check),
            n_multi_turn=multi,
            sources=", ".join(f"{n} {s}" for s, n in table["prompts"].items()),
        ),
    )


# --------------------------------------------------------------------------------------------- planted duplicates
_PREFIXES = ("Please tell me: ", "Quick question. ", "Hi! ")


def near_copy(text: str, kind: int, rng: random.Random) -> str:
    """A near-duplicate of ``text`` of one of four kinds: lower-cased without punctuation; a polite
    prefix; one word dropped; a prefix plus doubled spacing and a changed final mark."""
    words = text.split()
    if kind % 4 == 0:
        return re.sub(r"[^\w\s]", "", text.lower())
    if kind % 4 == 1:
        return rng.choice(_PREFIXES) + text
    if kind % 4 == 2 and len(words) > 3:
        drop = rng.randrange(1, len(words))
        return " ".join(words[:drop] + words[drop + 1 :])
    return rng.choice(_PREFIXES) + "  ".join(words).rstrip("?.!") + "!"


def plant_duplicates(prompts: Sequence[Prompt], n: int, *, seed: int) -> list[Prompt]:
    """``n`` near-copies of distinct prompts of the pool (one each, kinds in turn), appended after the
    pool; each copy's ``origin`` names the prompt it copies."""
    check_int("n", n, low=0)
    rng = random.Random(seed + 1)
    unique = list({p.text: p for p in prompts}.values())
    chosen = rng.sample(unique, min(n, len(unique)))
    return [
        Prompt(f"planted-{k}", near_copy(p.text, k, rng), "planted", p.references, p.id) for k, p in enumerate(chosen)
    ]


__all__ = [
    "Collected",
    "LANGUAGES",
    "Prompt",
    "collect_prompts",
    "is_multi_turn",
    "near_copy",
    "ni_prompt",
    "official_rules",
    "parallel_seed",
    "plant_duplicates",
    "seed_pairs",
    "seed_templates",
    "split_hhh",
]
