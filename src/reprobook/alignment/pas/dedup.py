"""PAS stage 2, deduplicate: prompts clustered by their sentence embeddings, one kept per cluster.

Explained in `notebooks/alignment/pas.ipynb`.

Each prompt is embedded by a sentence encoder (all-MiniLM-L6-v2 through sentence-transformers) and
L2-normalised, so that the cosine distance of two prompts is ``d(u, v) = 1 − uᵀv``. Agglomerative
clustering with *complete* linkage merges two clusters only while every pair across them is closer than
the threshold τ, so every pair inside a final cluster satisfies

    d(u, v) < τ   for all u, v in the cluster,

and no chain of small steps can join two dissimilar prompts (single linkage could). The first prompt of
each cluster in collection order is kept; the others are removed as its duplicates.

The threshold is checked, not tuned, on *planted* duplicates: near-copies of pool prompts (lower-cased,
a prefix added, a word dropped) appended to the pool. A planted copy is caught when it lands in its
original's cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...checks import ParameterError, check_number
from ...configs.pas import PASConfig
from ...encoders import embed
from ...results import facts, glued
from .data import Prompt


def duplicate_clusters(embeddings: np.ndarray, distance: float) -> np.ndarray:
    """Cluster labels: complete-linkage agglomerative clustering of the rows of ``embeddings`` under the
    cosine distance, clusters merged only below ``distance`` (so every pair inside a cluster is closer)."""
    from sklearn.cluster import AgglomerativeClustering

    check_number("distance", distance, low=0.0, high=2.0, low_inclusive=False)
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ParameterError("embeddings", getattr(x, "shape", None), "a non-empty 2-D array (one row per prompt)")
    if len(x) == 1:
        return np.zeros(1, dtype=int)
    return AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="complete"
    ).fit_predict(x)


def first_of_clusters(labels: Sequence[int] | np.ndarray) -> tuple[list[int], dict[int, int]]:
    """(indices kept: the first of each cluster, in order; removed index → the kept index of its cluster)."""
    first: dict[int, int] = {}
    kept, removed = [], {}
    for i, label in enumerate(labels):
        if label in first:
            removed[i] = first[label]
        else:
            first[label] = i
            kept.append(i)
    return kept, removed


def planted_recall(prompts: Sequence[Prompt], labels: Sequence[int] | np.ndarray) -> float:
    """Share of planted copies clustered with the prompt they copy (NaN when nothing was planted)."""
    index = {p.id: i for i, p in enumerate(prompts)}
    planted = [i for i, p in enumerate(prompts) if p.source == "planted"]
    if not planted:
        return float("nan")
    return float(np.mean([labels[i] == labels[index[prompts[i].origin]] for i in planted]))


@dataclass
class Deduplicated:
    """Stage 2: what was kept, what was removed (and as a duplicate of what), the threshold sweep."""

    kept: list[Prompt]
    removed: Any  # table: removed prompt, the prompt kept in its place, their cosine distance, exact copy?
    sweep: Any  # table: per threshold, planted recall and share of the pool removed
    # distance, n_in, n_kept, n_removed_pool, n_exact, n_near, n_planted, planted_recall, embedder
    facts: pd.Series = glued()


def _sweep_row(prompts: Sequence[Prompt], x: np.ndarray, t: float) -> dict[str, float]:
    labels = duplicate_clusters(x, t)
    _, removed = first_of_clusters(labels)
    pool = [i for i, p in enumerate(prompts) if p.source != "planted"]
    return {
        "threshold τ": t,
        "planted copies caught": planted_recall(prompts, labels),
        "pool removed": float(np.mean([i in removed for i in pool])),
        "clusters": int(len(set(labels))),
    }


def deduplicate(prompts: Sequence[Prompt], planted: Sequence[Prompt], cfg: PASConfig) -> Deduplicated:
    """Embed the pool and the planted copies with ``cfg.embedder``, cluster at ``cfg.dedup_distance``, keep
    the first of each cluster; sweep the thresholds ``cfg.dedup_sweep`` for the planted-duplicate check.
    Planted copies never leave this stage."""
    everything = list(prompts) + list(planted)
    x = embed([p.text for p in everything], cfg.embedder)
    labels = duplicate_clusters(x, cfg.dedup_distance)
    kept_idx, removed = first_of_clusters(labels)
    rows = [
        {
            "removed": everything[i].text[:80],
            "kept instead": everything[j].text[:80],
            "distance": float(1 - x[i] @ x[j]),
            "exact copy": everything[i].text == everything[j].text,
            "source": everything[i].source,
        }
        for i, j in removed.items()
    ]
    table = pd.DataFrame(rows, columns=["removed", "kept instead", "distance", "exact copy", "source"])
    sweep = pd.DataFrame([_sweep_row(everything, x, t) for t in sorted(set(cfg.dedup_sweep) | {cfg.dedup_distance})])
    pool_removed = table[table["source"] != "planted"]
    kept = [everything[i] for i in kept_idx if everything[i].source != "planted"]
    return Deduplicated(
        kept,
        table,
        sweep,
        facts=facts(
            {"distance": ".2f", "planted_recall": ".0%"},
            distance=cfg.dedup_distance,
            n_in=len(prompts),
            n_kept=len(kept),
            n_removed_pool=len(pool_removed),
            n_exact=int(pool_removed["exact copy"].sum()),
            n_near=int((~pool_removed["exact copy"].astype(bool)).sum()),
            n_planted=len(planted),
            planted_recall=planted_recall(everything, labels),
            embedder=cfg.embedder,
        ),
    )


__all__ = ["Deduplicated", "deduplicate", "duplicate_clusters", "first_of_clusters", "planted_recall"]
