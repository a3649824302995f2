"""The PAS chapter's glue between stages: the train/held-out split, the PAS training stage, the claims.

Explained in `notebooks/alignment/pas.ipynb`.

Verdicts (every one from :mod:`reprobook.claims`, declared in :func:`reprobook.configs.pas.claim_specs`,
Holm-adjusted together; :func:`claim_tests`): each a paired comparison over the held-out prompts of the primary
judge's score (the reward model on sentence embeddings, pooled over the unseen answering models), in the
reward model's standard deviations:

* **plug-and-play gain** (the one primary test): PAS against no augmentation, superiority;
* **better than a generic suffix** (what this run tests in place of the paper's +6.09 over BPO): PAS against
  the fixed prompt-engineering sentence;
* **data efficiency**: PAS trained on a few pairs against the untrained base (superiority) and against PAS
  trained on all of them (non-inferiority);
* **data generated without human labour**: PAS trained on critique-passing complements against PAS trained
  on unfiltered ones;
* every one *not comparable* when the reward model's agreement with the human labels is not above ½, when a
  variant's complements are mostly identical to those it is compared with, or (the last) when the critique
  filtered nothing;
* **+6.09 over BPO** and the language-model judge: *not comparable* where no BPO model, GPT-4 judge or
  independent language model is offline.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from ... import claims
from ...alignment.pas.data import Prompt
from ...alignment.pas.model import pairs_with_answers, subset, train_pas
from ...alignment.pas.reward import cross_validated_agreement
from ...checks import ParameterError, check_int
from ...claims import rate
from ...configs.pas import PAPER_GAIN_OVER_BPO, PAPER_PAIRS, PAPER_TRAINING, PAPER_TRAINING_SOURCE, PASConfig
from ...results import facts, glued


@dataclass
class Split:
    """Selected prompts divided into those sent to generation and the held-out evaluation prompts."""

    train: list[Prompt]
    train_categories: list[str]
    held_out: list[Prompt]
    # n_train, n_held_out
    facts: pd.Series = glued()


def split_prompts(prompts: Sequence[Prompt], categories: Sequence[str], cfg: PASConfig, *, seed: int) -> Split:
    """Shuffle each source's prompts (seeded), interleave the sources, then take ``cfg.train_prompts`` for
    generation and the next ``cfg.eval_prompts`` for the evaluation: both mix every source, never overlap, and
    a larger evaluation leaves the prompts PAS trains on as they are."""
    check_int("eval_prompts", cfg.eval_prompts, low=1)
    check_int("train_prompts", cfg.train_prompts, low=1)
    if cfg.eval_prompts + cfg.train_prompts > len(prompts):
        raise ParameterError(
            "eval_prompts",
            cfg.eval_prompts,
            f"at most {len(prompts) - cfg.train_prompts} (selected prompts less the {cfg.train_prompts} sent to "
            "generation)",
        )
    rng = random.Random(seed)
    by_source: dict[str, list[int]] = {}
    for i, p in enumerate(prompts):
        by_source.setdefault(p.source, []).append(i)
    for idx in by_source.values():
        rng.shuffle(idx)
    order = [idx[k] for k in range(max(map(len, by_source.values()))) for idx in by_source.values() if k < len(idx)]
    train, held = order[: cfg.train_prompts], order[cfg.train_prompts : cfg.train_prompts + cfg.eval_prompts]
    return Split(
        [prompts[i] for i in train],
        [categories[i] for i in train],
        [prompts[i] for i in held],
        facts(None, n_train=len(train), n_held_out=len(held)),
    )


@dataclass
class PASTraining:
    """Stage 5: the trained PAS model, its training record and the check that no pair holds an answer."""

    model: Any
    record: Any
    losses: Any  # table: step → loss
    figure: Any = glued()
    # n_pairs, n_with_answer, steps, tokens_per_second, seconds, loaded, first_loss, last_loss, base
    facts: pd.Series = glued()


def train_stage(base_lm: Any, pairs: Sequence[dict[str, Any]], cfg: PASConfig, *, seed: int) -> PASTraining:
    """Check the pairs, train the PAS model on all of them (cached), and plot its loss."""
    import matplotlib.pyplot as plt

    leaking = pairs_with_answers(pairs)
    trained = train_pas(base_lm, pairs, cfg, seed=seed, name="pas")
    rec = trained.record
    h = rec.history
    losses = pd.DataFrame({"step": range(1, len(h.train_loss) + 1), "loss": h.train_loss}).set_index("step")
    fig, ax = plt.subplots(figsize=(4.8, 2.6))
    ax.plot(losses.index, losses["loss"], "o-")
    ax.set(xlabel="optimiser step", ylabel="SFT loss (complement tokens)", title="Training the PAS model")
    fig.tight_layout()
    return PASTraining(
        trained.model,
        rec,
        losses,
        fig,
        facts=facts(
            {"tokens_per_second": ".0f", "seconds": ".0f", "first_loss": ".2f", "last_loss": ".2f"},
            n_pairs=len(pairs),
            n_with_answer=len(leaking),
            steps=h.steps,
            tokens_per_second=h.tokens_per_second,
            seconds=h.total_seconds,
            loaded="loaded from the checkpoint cache" if rec.loaded else "trained in this run",
            first_loss=h.train_loss[0] if h.train_loss else float("nan"),
            last_loss=h.train_loss[-1] if h.train_loss else float("nan"),
            base=base_lm.name,
        ),
    )


# --------------------------------------------------------------------------------------------- claims
@dataclass
class Variants:
    """The PAS models the claims compare: the full model (critique-passing pairs), one trained on a few of
    them, the untrained base given the same instruction, one trained on unfiltered complements."""

    models: dict  # name -> LanguageModel
    records: dict  # name -> TrainRecord (trained variants)
    # small (the small variant's name, e.g. "PAS-6"), n_small, n_unfiltered, n_unfiltered_failing (unfiltered pairs
    # the critique would have rejected)
    facts: pd.Series = glued()


def train_variants(base_lm: Any, generated: Any, full: PASTraining, cfg: PASConfig, *, seed: int) -> Variants:
    """The small and the unfiltered variants beside the full model (cached like it)."""
    small = min(cfg.small_size, len(generated.pairs))
    small_model = train_pas(base_lm, subset(generated.pairs, small, seed=seed), cfg, seed=seed, name=f"pas-{small}")
    failing = int((generated.attempts[generated.attempts["round"] == 0]["failures"].map(len) > 0).sum())
    name = f"PAS-{small}"
    models = {"PAS": full.model, name: small_model.model, "PAS-0": base_lm}
    records = {"PAS": full.record, name: small_model.record}
    if generated.first_round:  # empty when every first-round complement was empty
        unfiltered = train_pas(base_lm, generated.first_round, cfg, seed=seed, name="pas-unfiltered", unfiltered=True)
        models["PAS (unfiltered)"], records["PAS (unfiltered)"] = unfiltered.model, unfiltered.record
    return Variants(
        models,
        records,
        facts=facts(
            None, small=name, n_small=small, n_unfiltered=len(generated.first_round), n_unfiltered_failing=failing
        ),
    )


@dataclass
class JudgeCheck:
    """The primary judge's agreement with human labels (cross-validated over the HHH pairs it owns)."""

    verdict: Any  # claims.Verdict of an agreement rate above ½
    # correct, n, agreement, low, high, above_chance, test (the test's answer in words, with its p)
    facts: pd.Series = glued()


def check_reward_model(pairs: Sequence[dict[str, Any]], cfg: PASConfig, *, seed: int) -> JudgeCheck:
    """The reward model's cross-validated agreement with the human labels and its test against ½."""
    correct, n = cross_validated_agreement(pairs, cfg.reward_embedder, folds=cfg.reward_folds, seed=seed)
    v = rate(correct, n, threshold=0.5, unit="human-labelled HHH pairs")
    # a tested rate has its interval (with n < 2 there is none, and this fails as it always did)
    above, p_text = v.verdict == "reproduced", claims.p_format(cast(float, v.p), relation=True)
    return JudgeCheck(
        v,
        facts=facts(
            {"agreement": ".1%", "low": ".1%", "high": ".1%"},
            correct=correct,
            n=n,
            agreement=correct / n,
            low=cast(float, v.low) + 0.5,
            high=cast(float, v.high) + 0.5,
            above_chance=above,
            test=f"{'yes' if above else 'no'} (p {p_text} at α = {claims.ALPHA:g})",
        ),
    )


def identical_share(a: Sequence[str], b: Sequence[str]) -> float:
    return float(sum(x == y for x, y in zip(a, b)) / max(1, len(a)))


def claim_tests(
    specs: Sequence[Any],
    pnp: Any,
    variants: Variants,
    generated: Any,
    rm_check: JudgeCheck,
    cfg: PASConfig,
    *,
    scale: str = "",
) -> list[Any]:
    """The declared claims tested on the pooled reward-model scores over the held-out prompts, guarded
    (a judge at chance; a variant identical to what it is compared with; a critique that rejected
    nothing), Holm-adjusted together."""
    spec = {s.key: s for s in specs}
    p = pnp.pooled
    small, judged = variants.facts.small, rm_check.facts
    judge_ok = judged.above_chance
    chance = (
        f"judge at chance: the reward model agrees with {judged.correct} of {judged.n} human labels "
        f"({rm_check.verdict.format('.3f')})"
    )
    tests = []
    for key, a, b in (
        ("pnp", "PAS", "none"),
        ("generic", "PAS", "generic"),
        ("efficiency_gain", small, "PAS-0"),
        ("efficiency_parity", small, "PAS"),
        ("no_human", "PAS", "PAS (unfiltered)"),
    ):
        if b not in p:
            tests.append(
                claims.untested(spec[key], f"no {b} model: every first-round complement was empty", scale=scale)
            )
            continue
        ev = claims.evaluate(
            spec[key],
            p[a],
            p[b],
            scale=scale,
            this_run=f"mean score {np.mean(p[a]):.3f} ({a}) against {np.mean(p[b]):.3f} ({b})",
        )
        ev.verdict = claims.guard(ev.verdict, judge_ok, chance)
        if a in pnp.complements and b in pnp.complements:
            same = identical_share(pnp.complements[a], pnp.complements[b])
            ev.verdict = claims.guard_acted(
                ev.verdict, same < cfg_max_identical(cfg), f"{same:.0%} of {a}'s complements identical to {b}'s"
            )
        if key == "no_human":
            ev.verdict = claims.guard(
                ev.verdict,
                variants.facts.n_unfiltered_failing > 0,
                "the critique rejected no first-round complement: nothing was filtered",
            )
        tests.append(ev)
    tests.append(claims.untested(spec["bpo"], spec["bpo"].untestable, scale=scale))
    judge = spec["pnp_judge"]
    if judge.test == "none":
        tests.append(claims.untested(judge, judge.untestable, scale=scale))
    else:
        outcomes = [o for m in pnp.judge_outcomes.values() for o in m]
        wins, losses = outcomes.count("a"), outcomes.count("b")
        ev = claims.evaluate(
            judge,
            wins,
            wins + losses,
            scale=scale,
            threshold=0.5,
            this_run=f"{wins} wins, {losses} losses, {len(outcomes) - wins - losses} ties",
        )
        agree, n = pnp.judge_check
        ok = n > 0 and claims.rate(agree, n, threshold=0.5).verdict == "reproduced"
        ev.verdict = claims.guard(ev.verdict, ok, f"judge at chance: it agrees with {agree} of {n} human labels")
        tests.append(ev)
    return claims.holm_tests(tests)


def cfg_max_identical(cfg: PASConfig) -> float:
    """The share of identical complements above which a variant counts as not moved from its comparison."""
    return getattr(cfg, "max_identical", 0.75)


def paper_vs_run(generated: Any, training: Any, pnp: Any, cfg: PASConfig):
    """The "Paper vs this run" settings table (the scale gap, side by side)."""
    lora = (
        f"LoRA r = {cfg.lora_r}" + (f" on the last {cfg.lora_last_layers} layers" if cfg.lora_last_layers else "")
        if cfg.lora_r
        else "full fine-tuning"
    )
    rows = [
        ("training pairs", f"{PAPER_PAIRS:,}", f"{generated.facts.n_pairs}"),
        (
            "PAS model",
            "{parameters}, {epochs} epochs, lr {learning rate:g}".format_map(PAPER_TRAINING),
            f"{training.facts.base}, {cfg.sft_epochs} epochs, lr {cfg.sft_lr:g}, {lora}",
        ),
        ("data generation and critique", "GPT-4 (repository scripts)", f"{generated.facts.generator}, explicit rules"),
        ("answering models", "several open and closed LLMs", pnp.facts.models),
        ("judge", "GPT-4 on Arena-Hard / AlpacaEval 2.0", "a reward model on sentence embeddings"),
        ("baseline", f"BPO (PAS +{PAPER_GAIN_OVER_BPO} points)", f"generic suffix: “{cfg.generic_suffix}”"),
        ("held-out prompts", "benchmark suites", f"{pnp.facts.n_eval}"),
    ]
    table = pd.DataFrame(rows, columns=["", "paper", "this run"]).set_index("")
    table.attrs["source"] = PAPER_TRAINING_SOURCE
    return table
