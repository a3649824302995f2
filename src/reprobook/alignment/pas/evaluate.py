"""PAS stage 6, plug-and-play evaluation: answers with the PAS complement, without it, with a generic suffix.

Explained in `notebooks/alignment/pas.ipynb`.

Each answering model answers every held-out prompt x three times: x alone ("none"), x followed by a
fixed prompt-engineering sentence ("generic": the same for every prompt, the baseline any automatic
prompt engineering must beat), and x followed by PAS's complementary prompt ("PAS"). The answering
models never took part in training PAS. Two judges compare the answers *to the user's original prompt*
(the judge never sees a complement):

* the pairwise judge of :mod:`reprobook.llm` (a language model asked "A or B?" in both orders; the
  answer whose probability of being better, averaged over the two orders, exceeds ½ wins, which cancels
  a constant preference for a position; how often the two orders disagree outright is reported);
* the held-out reward model (:mod:`reprobook.alignment.pas.reward`): the answer with the larger reward wins.

The win rate of PAS over a condition is wins / (wins + losses), ties left out; its interval is Wilson's
and its verdict the one-sided exact binomial test of a rate above ½ (:func:`reprobook.claims.rate_above`),
over the held-out prompts.
"""

from __future__ import annotations

import contextlib
import gc
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ...results import glued
from .generate import complete, model_inputs
from .model import augmented, write_complements

CONDITIONS = ("none", "generic", "PAS")
JUDGE_CRITERIA = "helpful, accurate and well organised"
JUDGE_BATCH = 8  # the judge scores every position of its inputs: small batches bound the memory of the logits


@contextlib.contextmanager
def _clock(seconds: dict[str, float], name: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


# --------------------------------------------------------------------------------------------- models
def load_model(name: str, cfg: Any, *, seed: int = 0, device: Any = "cpu"):
    """A language model of the chapter: ``name`` loaded, or a random tiny model of its family (tiny profile)."""
    from ... import llm

    if cfg.tiny_models:
        return llm.tiny_causal_lm(name, seed=seed, layers=2, hidden=64, device=device)
    return llm.load_causal_lm(name, device=device)


class Models:
    """The chapter's language models by name, each loaded at most once: the generator, the PAS model's
    base, the judge and the first answering model may be one model. ``get(name, keep=False)`` loads a
    model without keeping it (an answering model needed once)."""

    def __init__(self, cfg: Any, *, seed: int = 0, device: Any = "cpu"):
        self.cfg, self.seed, self.device = cfg, seed, device
        self.loaded: dict[str, Any] = {}

    def get(self, name: str, *, keep: bool = True) -> Any:
        if name in self.loaded:
            return self.loaded[name]
        lm = load_model(name, self.cfg, seed=self.seed, device=self.device)
        if keep:
            self.loaded[name] = lm
        return lm

    def loader(self, name: str):
        """A function that loads ``name`` when called (kept only if already loaded)."""
        return lambda: self.get(name, keep=False)


def cached_aligned_models(stages: Sequence[str], *, profile: str, seed: int = 0, device: Any = "cpu") -> dict[str, Any]:
    """The Baichuan Alignment chapter's aligned models of ``stages`` ("SFT", "DPO", "GRPO") when its run of
    ``profile`` left them in the checkpoint cache; nothing is trained here (an empty dict otherwise)."""
    import inspect

    if not stages:
        return {}
    try:
        from ..evaluation import aligned_models
    except ImportError:
        return {}
    if "only_cached" not in inspect.signature(aligned_models).parameters:
        return {}  # this version can only load them by training what is missing
    models = aligned_models(profile, seed=seed, device=device, only_cached=True) or {}
    return {f"Baichuan-Alignment {k}": v for k, v in models.items() if k in stages and v is not None}


def cut_tokens(tokenizer: Any, texts: Sequence[str], n: int) -> list[str]:
    """Each text cut to its first ``n`` tokens (judges compare answers of bounded length)."""
    return [tokenizer.decode(tokenizer(t, add_special_tokens=False)["input_ids"][:n]) for t in texts]


# --------------------------------------------------------------------------------------------- answers
def answer(lm: Any, user_prompts: Sequence[str], cfg: Any, *, seed: int = 0):
    """Answers of ``lm`` to ``user_prompts`` (greedy, ``cfg.answer_tokens`` new tokens, one big batch)."""
    out = complete(lm, [model_inputs(lm, p) for p in user_prompts], max_new_tokens=cfg.answer_tokens,
                   batch_size=max(cfg.batch_size, len(user_prompts)), seed=seed)
    out.texts = [t.strip() for t in out.texts]
    return out


def condition_prompts(prompts: Sequence[str], complements: dict[str, Sequence[str]], generic_suffix: str
                      ) -> dict[str, list[str]]:
    """The user messages of each condition: the prompt alone, with the generic suffix, with each
    set of complements (``{"PAS": [...], ...}``)."""
    out = {"none": list(prompts), "generic": [augmented(p, generic_suffix) for p in prompts]}
    for name, comps in complements.items():
        out[name] = [augmented(p, c) for p, c in zip(prompts, comps)]
    return out


def answer_conditions(lm: Any, messages: dict[str, list[str]], cfg: Any, *, seed: int = 0):
    """Every condition answered in one call; returns ({condition: answers}, the Generation)."""
    flat = [m for msgs in messages.values() for m in msgs]
    out = answer(lm, flat, cfg, seed=seed)
    answers, k = {}, 0
    for name, msgs in messages.items():
        answers[name] = out.texts[k:k + len(msgs)]
        k += len(msgs)
    return answers, out


# --------------------------------------------------------------------------------------------- judging
def pairwise_outcomes(judge: Any, prompts: Sequence[str], a: Sequence[str], b: Sequence[str], *,
                      strict: bool = False) -> list[str]:
    """"a", "b" or "tie" per prompt by the position-swapped pairwise judge: by the probability that a is
    better averaged over the two orders, p_a = ½[P(A | a first) + P(B | b first)] (a wins when p_a > ½),
    which cancels a constant preference for one position; ``strict``: a wins only when both orders prefer
    it, a disagreement being a tie (:attr:`reprobook.llm.Comparison.winner`)."""
    comparisons = judge.compare_many(list(prompts), list(a), list(b))
    if strict:
        return [c.winner for c in comparisons]
    return ["a" if c.p_a > 0.5 else "b" if c.p_a < 0.5 else "tie" for c in comparisons]


def reward_outcomes(rm: Any, prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> list[str]:
    """"a", "b" or "tie" per prompt by the reward model's scores."""
    ra, rb = rm.score(list(prompts), list(a)), rm.score(list(prompts), list(b))
    return ["a" if x > y else "b" if y > x else "tie" for x, y in zip(ra, rb)]


@dataclass(frozen=True)
class WinRate:
    """Wins, losses and ties of a against b, the win rate among decided comparisons and its verdict."""

    wins: int
    losses: int
    ties: int
    verdict: Any  # reprobook.claims.Verdict of a rate above ½

    @property
    def rate(self) -> float:
        decided = self.wins + self.losses
        return self.wins / decided if decided else float("nan")


def win_rate(outcomes: Sequence[str], *, alpha: float = 0.05) -> WinRate:
    """Count "a" wins among the decided outcomes; the verdict of :func:`reprobook.claims.rate_above`."""
    from ...claims import rate_above

    wins, losses = outcomes.count("a"), outcomes.count("b")
    verdict = rate_above(wins, wins + losses, threshold=0.5, alpha=alpha, unit="held-out prompts (ties left out)")
    return WinRate(wins, losses, len(outcomes) - wins - losses, verdict)


def judge_check(judge: Any, rm: Any, pairs: Sequence[dict[str, Any]], tokenizer: Any, n_tokens: int):
    """Both judges on held-out human preference pairs (HHH): how often each prefers the human's choice."""
    import pandas as pd

    from ...claims import proportion_ci
    from .reward import pairwise_accuracy

    prompts = [p["prompt"] for p in pairs]
    chosen, rejected = (cut_tokens(tokenizer, [p[k] for p in pairs], n_tokens) for k in ("chosen", "rejected"))
    comparisons = judge.compare_many(prompts, chosen, rejected)
    correct_rm, n = pairwise_accuracy(rm, [dict(p, chosen=c, rejected=r) for p, c, r in zip(pairs, chosen, rejected)])
    rows = []
    for name, correct, strict_ties in (("pairwise judge", sum(c.p_a > 0.5 for c in comparisons),
                                        sum(c.winner == "tie" for c in comparisons)),
                                       ("reward model", correct_rm, 0)):
        rate, low, high = proportion_ci(correct, n)
        rows.append({"judge": name, "agrees with the human label": rate, "low": low, "high": high, "pairs": n,
                     "orders disagree": strict_ties})
    return pd.DataFrame(rows).set_index("judge")


# --------------------------------------------------------------------------------------------- the experiment
@dataclass
class PlugAndPlay:
    """Stage 6: answers of every answering model under each condition, and PAS's win rates."""

    prompts: list[str]
    complements: list[str]
    answers: dict  # answering model → {condition: answers}
    table: Any  # per answering model, comparison and judge: wins, ties, losses, win rate, interval, verdict
    rates: dict  # (model, comparison, judge) → WinRate
    examples: Any
    judge_check: Any
    lengths: Any  # mean new tokens per answering model and condition
    seconds: Any  # wall seconds of each part of the evaluation
    figure: Any = glued()
    n_eval: int = glued("d", default=0)
    models: str = glued(default="")
    judge_name: str = glued(default="")
    generic_suffix: str = glued(default="")
    answer_tokens: int = glued("d", default=0)
    tokens_per_second: float = glued(".1f", default=0.0)
    judge_agreement: float = glued(".0%", default=0.0)
    rm_agreement: float = glued(".0%", default=0.0)
    n_check: int = glued("d", default=0)
    rule: str = glued(default="")


def _forest(table: Any):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 0.42 * len(table) + 1.0))
    labels = [f"{m} · PAS vs {c} · {j}" for m, c, j in table.index]
    y = np.arange(len(table))[::-1]
    rate = table["win rate"].to_numpy(dtype=float)
    ax.errorbar(rate, y, xerr=[rate - table["low"].to_numpy(dtype=float), table["high"].to_numpy(dtype=float) - rate],
                fmt="o", capsize=3)
    ax.axvline(0.5, color="grey", ls=":", lw=1)
    ax.set(yticks=y, yticklabels=labels, xlim=(0, 1), xlabel="win rate of PAS (ties left out), 90% Wilson interval")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def plug_and_play(pas_lm: Any, answerers: dict[str, Any], judge_lm: Any, rm: Any, prompts: Sequence[str], cfg: Any, *,
                  check_pairs: Sequence[dict[str, Any]] = (), seed: int = 0) -> PlugAndPlay:
    """PAS writes a complement for each held-out prompt; each answering model (name → model, or name →
    a loader called once) answers under the three conditions; both judges compare PAS with the others."""
    import pandas as pd

    from ... import llm

    seconds: dict[str, float] = {}
    with _clock(seconds, "PAS complements"):
        comps = write_complements(pas_lm, prompts, cfg, seed=seed).texts
    messages = condition_prompts(prompts, {"PAS": comps}, cfg.generic_suffix)
    judge = llm.PairwiseJudge(judge_lm, criteria=JUDGE_CRITERIA, batch_size=JUDGE_BATCH)
    answers, rates, lengths, speeds, strict_ties = {}, {}, {}, [], {}
    for name, model in answerers.items():
        with _clock(seconds, f"answers: {name}"):
            lm = model() if callable(model) else model
            answers[name], gen = answer_conditions(lm, messages, cfg, seed=seed)
            del lm
            gc.collect()
        speeds.append(gen.tokens_per_second)
        k = len(prompts)
        lengths[name] = {c: float(np.mean(gen.new_tokens[i * k:(i + 1) * k])) for i, c in enumerate(messages)}
        cut = {c: cut_tokens(judge_lm.tokenizer, a, cfg.judge_answer_tokens) for c, a in answers[name].items()}
        for other in ("none", "generic"):
            if other in cfg.pairwise_against:
                with _clock(seconds, "pairwise judge"):
                    comparisons = judge.compare_many(list(prompts), cut["PAS"], cut[other])
                outcomes = ["a" if c.p_a > 0.5 else "b" if c.p_a < 0.5 else "tie" for c in comparisons]
                rates[(name, other, "pairwise judge")] = win_rate(outcomes, alpha=cfg.alpha)
                strict_ties[(name, other, "pairwise judge")] = sum(c.winner == "tie" for c in comparisons)
            with _clock(seconds, "reward model"):
                rates[(name, other, "reward model")] = win_rate(reward_outcomes(rm, prompts, answers[name]["PAS"],
                                                                                answers[name][other]), alpha=cfg.alpha)
    rows = [{"answering model": m, "PAS vs": c, "judge": j, "wins": r.wins, "ties": r.ties, "losses": r.losses,
             "win rate": r.rate, "low": r.verdict.low, "high": r.verdict.high, "p": r.verdict.p,
             "verdict": r.verdict.verdict, "orders disagree": strict_ties.get((m, c, j), 0)}
            for (m, c, j), r in rates.items()]
    table = pd.DataFrame(rows).set_index(["answering model", "PAS vs", "judge"])
    first = next(iter(answers))
    examples = pd.DataFrame({"prompt": [p[:100] for p in prompts], "PAS complement": comps,
                             **{f"{first}: {c}": [a[:120] for a in answers[first][c]] for c in CONDITIONS}})
    check, agreement = None, {"pairwise judge": float("nan"), "reward model": float("nan")}
    if check_pairs:
        with _clock(seconds, "judge check"):
            check = judge_check(judge, rm, check_pairs, judge_lm.tokenizer, cfg.judge_answer_tokens)
        agreement = check["agrees with the human label"].to_dict()
    return PlugAndPlay(list(prompts), comps, answers, table, rates, examples, check, pd.DataFrame(lengths).T,
                       pd.Series(seconds, name="seconds").to_frame(), _forest(table), n_eval=len(prompts),
                       models=", ".join(answers), judge_name=judge_lm.name, generic_suffix=cfg.generic_suffix,
                       answer_tokens=cfg.answer_tokens, tokens_per_second=float(np.mean(speeds)) if speeds else 0.0,
                       judge_agreement=float(agreement["pairwise judge"]),
                       rm_agreement=float(agreement["reward model"]),
                       n_check=len(check_pairs), rule=next(iter(rates.values())).verdict.rule if rates else "")


# --------------------------------------------------------------------------------------------- data efficiency
@dataclass
class Efficiency:
    """Win rate of PAS over no augmentation (reward model) against the number of training pairs."""

    table: Any  # training pairs → wins, ties, losses, win rate, interval, verdict
    rates: dict  # size → WinRate
    figure: Any = glued()
    sizes: str = glued(default="")
    smallest: int = glued("d", default=0)
    smallest_rate: float = glued(".0%", default=0.0)
    full_rate: float = glued(".0%", default=0.0)
    answerer: str = glued(default="")


def data_efficiency(base_lm: Any, pairs: Sequence[dict[str, Any]], pnp: PlugAndPlay, answerer_lm: Any, rm: Any,
                    cfg: Any, *, seed: int = 0) -> Efficiency:
    """PAS models trained on nested subsets of ``pairs`` (``cfg.efficiency_sizes``; 0 = the untrained base
    model given the same instruction) against no augmentation, answered by ``answerer_lm`` and judged by
    the reward model; the full set's result is the plug-and-play run's."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from .model import subset, train_pas

    name = next(iter(pnp.answers))
    none = pnp.answers[name]["none"]
    rates = {len(pairs): pnp.rates[(name, "none", "reward model")]}
    for size in sorted({s for s in cfg.efficiency_sizes if s < len(pairs)}):
        lm = base_lm if size == 0 else train_pas(base_lm, subset(pairs, size, seed=seed), cfg, seed=seed,
                                                 name=f"pas-{size}").model
        comps = write_complements(lm, pnp.prompts, cfg, seed=seed).texts
        answers = answer(answerer_lm, [augmented(p, c) for p, c in zip(pnp.prompts, comps)], cfg, seed=seed).texts
        rates[size] = win_rate(reward_outcomes(rm, pnp.prompts, answers, none), alpha=cfg.alpha)
    rates = dict(sorted(rates.items()))
    table = pd.DataFrame([{"training pairs": s, "wins": r.wins, "ties": r.ties, "losses": r.losses, "win rate": r.rate,
                           "low": r.verdict.low, "high": r.verdict.high, "verdict": r.verdict.verdict}
                          for s, r in rates.items()]).set_index("training pairs")
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    x, rate = table.index.to_numpy(), table["win rate"].to_numpy(dtype=float)
    ax.errorbar(x, rate, yerr=[rate - table["low"].to_numpy(dtype=float), table["high"].to_numpy(dtype=float) - rate],
                fmt="o-", capsize=3)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set(xlabel="PAS training pairs (0: the untrained model)", ylabel="win rate over no augmentation",
           ylim=(0, 1), title=f"Data efficiency ({name}, reward model)")
    fig.tight_layout()
    smallest = min(s for s in rates if s > 0)
    return Efficiency(table, rates, fig, sizes=", ".join(str(s) for s in rates), smallest=smallest,
                      smallest_rate=rates[smallest].rate, full_rate=rates[len(pairs)].rate, answerer=name)


__all__ = ["CONDITIONS", "Efficiency", "JUDGE_CRITERIA", "Models", "PlugAndPlay", "WinRate", "answer",
           "answer_conditions", "cached_aligned_models", "condition_prompts", "cut_tokens", "data_efficiency",
           "judge_check", "load_model", "pairwise_outcomes", "plug_and_play", "reward_outcomes", "win_rate"]
