"""The Baichuan Alignment experiment: each stage's held-out measurement, merging, and the claims (the data and the
starting model are in :mod:`.data`, the guards and shared measures in :mod:`.measures`, the reward models in
:mod:`.rewards`, the tables and figure in :mod:`.report`).

Explained in `notebooks/alignment/baichuan_alignment.ipynb`.

Every stage is measured on held-out data, and no stage can refute a claim without having moved the model:
every trained stage is compared with its parent on held-out prompts (the share of greedy answers identical
to the parent's, the mean per-token KL on the parent's answers, :func:`reprobook.alignment.scoring.moved`),
and a stage that did not act makes its claims *not comparable*. The held-out measures: the reference
answers' negative log-likelihood on held-out natural-instructions tasks (SFT); the reward heads' ranking of
held-out HHH pairs (reward models); the implicit reward margin on held-out HHH pairs (DPO, merges: the
quantity DPO trains, on pairs it did not see); the verifiable reward of greedy answers on held-out topics
(GRPO: the reward it trains on, so its claim checks that the optimiser works there); and the score of a
reward head — trained on human-labelled HHH pairs no policy saw, on the SFT model's frozen features, so not
independent of the policy's lineage — on held-out prompts (the aligned model against the starting instruct
model). A judge that does not rank the held-out human pairs above chance decides nothing (the headline
reads *not comparable*), nor do two reward heads that both fail to (the pointwise term's claim).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ... import claims, llm
from ...alignment.preference import dpo_runs, greedy_rewards, grpo_length, grpo_prompts
from ...alignment.scoring import encode_pairs, score
from ...alignment.scoring import moved as moved_fn
from ...checks import check_choice
from ...configs.baichuan_alignment import BaichuanAlignmentConfig
from ...llm import generate
from ...llm.merging import linear_merge, model_stock
from ...llm.trainers import release_memory
from ...results import facts, glued
from .data import AlignmentData
from .measures import MOVED_FORMATS, Parent, implicit_margins, movement, per_prompt
from .rewards import RewardModels


# --------------------------------------------------------------------------------------------- SFT
@dataclass
class SFTEval:
    """SFT against the start on held-out tasks: the reference answers' negative log-likelihood per token."""

    nll_start: list[float]  # per held-out example
    nll_sft: list[float]
    moved: Any
    facts: pd.Series = glued()  # mean_start, mean_sft (mean NLL per token); identical, kl: the movement


def sft_eval(start: Any, sft: Parent, d: AlignmentData, guard: Parent, cfg: BaichuanAlignmentConfig) -> SFTEval:
    """Per held-out example, −log π(reference | prompt) / tokens under the start and the SFT model (``sft``:
    the SFT model with its greedy answers to the guard prompts); and whether SFT moved the model (against
    the start, on the guard prompts)."""
    pairs = encode_pairs(start, [e["prompt"] for e in d.heldout_ni], [e["answer"] for e in d.heldout_ni])
    a, b = score(start, pairs, batch_size=cfg.eval_batch), score(sft.lm, pairs, batch_size=cfg.eval_batch)
    nll_a, nll_b = list(-a.logprob / a.tokens), list(-b.logprob / b.tokens)
    m = movement(sft.lm, guard, cfg, answers=sft.answers)
    return SFTEval(
        nll_a,
        nll_b,
        m,
        facts(
            {"mean_start": ".3f", "mean_sft": ".3f", **MOVED_FORMATS},
            mean_start=float(np.mean(nll_a)),
            mean_sft=float(np.mean(nll_b)),
            identical=m.identical,
            kl=m.kl,
        ),
    )


# --------------------------------------------------------------------------------------------- DPO and merges
MERGES = ("merged (linear)", "merged (Model Stock)")


def merged_model(kind: str, sft_lm: Any, runs: Sequence[Any], ratios: dict | None = None) -> Any:
    """The DPO runs merged linearly or by Model Stock (anchor: the SFT model they all start from)."""
    check_choice("kind", kind, MERGES)
    states = [r.model.model.state_dict() for r in runs]
    merged = (
        linear_merge(states)
        if kind == MERGES[0]
        else model_stock(states, anchor=sft_lm.model.state_dict(), ratios=ratios)
    )
    out = sft_lm.copy(name=kind)
    out.model.load_state_dict(merged)
    return llm.wrap(
        out.model,
        sft_lm.tokenizer,
        name=kind,
        device=sft_lm.device,
        fingerprint=f"{kind}:" + "+".join(r.model.fingerprint for r in runs),
    )


@dataclass
class DPOEval:
    """The DPO runs and their merges on the held-out pairs (one per test prompt), with their movement."""

    margins: dict  # model name -> implicit margin per held-out pair
    moved: dict  # model name -> scoring.Moved (against the SFT model)
    # Model Stock's mean cos θ over the merged tensors (size-weighted), its mean interpolation ratio t, t_min,
    # t_max; runs, steps, pairs; mean margins over the pairs: margin_dpo (the first run's), margin_linear,
    # margin_stock; the first run's movement identical_dpo, kl_dpo
    facts: pd.Series = glued()
    models: dict = field(repr=False, default_factory=dict)
    records: dict = field(repr=False, default_factory=dict)


def dpo_stage(
    sft: Any,
    d: AlignmentData,
    rm: RewardModels,
    guard: Parent,
    cfg: BaichuanAlignmentConfig,
    *,
    config: dict[str, Any],
    seeds: Sequence[int],
) -> DPOEval:
    """DPO from the SFT model on split A once per seed, the linear and Model Stock merges, their implicit
    margins on one held-out pair per test prompt and their movement against the SFT model."""
    runs = dpo_runs(sft, d.hhh["A"], config=config, seeds=seeds)
    models = {f"DPO (seed {s})": r.model for s, r in zip(seeds, runs)}
    ratios: dict = {}
    models[MERGES[0]] = merged_model(MERGES[0], sft, runs)
    models[MERGES[1]] = merged_model(MERGES[1], sft, runs, ratios)
    pairs = d.first_pairs()
    scored = [next(iter(models)), *MERGES]  # the models the claims compare (the other runs only enter the merges)
    margins = {k: implicit_margins(models[k], pairs, rm.ref_logprob, cfg.eval_batch) for k in scored}
    moved = {k: movement(models[k], guard, cfg) for k in scored}
    release_memory()
    size = np.array([v[2] for v in ratios.values()], dtype=float)
    cos = np.array([v[0] for v in ratios.values()])
    t = np.array([v[1] for v in ratios.values()])
    first = next(iter(models))
    dpo_keys = [k for k in models if k.startswith("DPO")]
    values = dict(
        cos=float(np.average(cos, weights=size)) if len(size) else float("nan"),
        t=float(np.average(t, weights=size)) if len(size) else float("nan"),
        t_min=float(t.min()) if len(t) else float("nan"),
        t_max=float(t.max()) if len(t) else float("nan"),
        runs=len(runs),
        steps=runs[0].record.history.steps,
        pairs=len(pairs),
        margin_dpo=float(np.mean(margins[first])),
        margin_linear=float(np.mean(margins[MERGES[0]])),
        margin_stock=float(np.mean(margins[MERGES[1]])),
        identical_dpo=moved[first].identical,
        kl_dpo=moved[first].kl,
    )
    formats = {
        **dict.fromkeys(("cos", "t", "t_min", "t_max", "margin_dpo", "margin_linear", "margin_stock"), ".3f"),
        "identical_dpo": ".0%",
        "kl_dpo": ".3g",
    }
    return DPOEval(margins, moved, facts(formats, **values), models, {k: r.record for k, r in zip(dpo_keys, runs)})


# --------------------------------------------------------------------------------------------- GRPO
@dataclass
class GRPOEval:
    """GRPO on the length task: the greedy reward on held-out topics before (SFT) and after."""

    before: list[float]
    after: list[float]
    answers: Any  # DataFrame: topic prompt, SFT's and GRPO's answers
    moved: Any
    # target (words), steps, group, n_test; mean_before, mean_after (greedy reward on the held-out topics);
    # reward_first, reward_last (training reward, first and last logged step); identical, kl: the movement
    facts: pd.Series = glued()
    record: Any = field(repr=False, default=None)
    model: Any = field(repr=False, default=None)


def grpo_stage(sft: Any, cfg: BaichuanAlignmentConfig, *, config: dict[str, Any]) -> GRPOEval:
    """GRPO from the SFT model on the training topics; greedy rewards and movement on the held-out topics."""
    trained = grpo_length(sft, config=config, target=cfg.grpo_target_words)
    test = grpo_prompts("test")
    before, a_before = greedy_rewards(
        sft, test, cfg.grpo_target_words, max_new_tokens=cfg.grpo_max_completion, batch_size=cfg.eval_batch
    )
    after, a_after = greedy_rewards(
        trained.model, test, cfg.grpo_target_words, max_new_tokens=cfg.grpo_max_completion, batch_size=cfg.eval_batch
    )

    m = moved_fn(
        trained.model,
        sft,
        test,
        a_before,
        max_identical=cfg.max_identical,
        min_kl=cfg.min_kl,
        max_new_tokens=cfg.grpo_max_completion,
        batch_size=cfg.eval_batch,
        stage_answers=a_after,
        kl_prompts=cfg.guard_prompts,
    )
    rewards = [r["reward"] for r in trained.record.history.logs if "reward" in r]
    answers = pd.DataFrame({"prompt": test, "SFT": a_before, "GRPO": a_after}).head(cfg.n_samples_shown)
    return GRPOEval(
        before,
        after,
        answers,
        m,
        facts(
            {**dict.fromkeys(("mean_before", "mean_after", "reward_first", "reward_last"), ".2f"), **MOVED_FORMATS},
            target=cfg.grpo_target_words,
            steps=trained.record.history.steps,
            group=config["num_generations"],
            n_test=len(test),
            mean_before=float(np.mean(before)),
            mean_after=float(np.mean(after)),
            reward_first=rewards[0] if rewards else float("nan"),
            reward_last=rewards[-1] if rewards else float("nan"),
            identical=m.identical,
            kl=m.kl,
        ),
        trained.record,
        trained.model,
    )


# --------------------------------------------------------------------------------------------- the headline
@dataclass
class Headline:
    """The aligned model against the starting instruct model, judged by the reward head with the pointwise term."""

    start: list[float]  # per held-out prompt: the judge's score of the start's greedy answer
    final: list[float]
    moved: Any
    samples: Any  # DataFrame: prompt, the start's and the aligned model's answers
    facts: pd.Series = glued()  # final_name, n_prompts; mean_start, mean_final (the judge's); identical, kl


def headline(
    start: Parent,
    final: Any,
    final_name: str,
    sft: Any,
    rm: RewardModels,
    d: AlignmentData,
    cfg: BaichuanAlignmentConfig,
) -> Headline:
    """Greedy answers of the start and the aligned model to every held-out test prompt, scored by the head
    with the pointwise term (never trained on a policy's data); and the aligned model's movement."""
    prompts = d.test_prompts
    answers = {
        name: generate(lm, prompts, max_new_tokens=cfg.gen_max_new_tokens, batch_size=cfg.eval_batch).texts
        for name, lm in (("start", start.lm), ("aligned", final))
    }
    scores = {k: list(rm.judge(sft, prompts, a, cfg.eval_batch)) for k, a in answers.items()}

    m = moved_fn(
        final,
        start.lm,
        prompts,
        answers["start"],
        max_identical=cfg.max_identical,
        min_kl=cfg.min_kl,
        max_new_tokens=cfg.gen_max_new_tokens,
        stage_answers=answers["aligned"],
        kl_prompts=cfg.guard_prompts,
    )
    shown = min(cfg.n_samples_shown, len(prompts))
    samples = pd.DataFrame(
        {
            "prompt": [_clip(p) for p in prompts[:shown]],
            **{k: [_clip(a) for a in v[:shown]] for k, v in answers.items()},
        }
    )
    return Headline(
        scores["start"],
        scores["aligned"],
        m,
        samples,
        facts(
            {"mean_start": ".2f", "mean_final": ".2f", **MOVED_FORMATS},
            final_name=final_name,
            n_prompts=len(prompts),
            mean_start=float(np.mean(scores["start"])),
            mean_final=float(np.mean(scores["aligned"])),
            identical=m.identical,
            kl=m.kl,
        ),
    )


def _clip(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------------------------- claims
def claim_tests(
    specs: Sequence[Any],
    sft_eval_: SFTEval,
    rm: RewardModels,
    dpo: DPOEval,
    grpo: GRPOEval,
    head: Headline,
    *,
    scale: str = "",
) -> list[Any]:
    """The declared claims (``configs.baichuan_alignment.claim_specs``) tested on this run, each guarded by
    the movement of the stages it rests on, Holm-adjusted together."""
    spec = {s.key: s for s in specs}  # a claim over held-out units takes n from its held-out set (ClaimSpec.over)
    r, dp, gr, hd = rm.facts, dpo.facts, grpo.facts, head.facts
    (judge_ok, judge_said), (other_ok, other_said) = rm.above_chance("with"), rm.above_chance("without")
    tests = []
    ev = claims.evaluate(
        spec["sft"],
        sft_eval_.nll_start,
        sft_eval_.nll_sft,
        scale=scale,
        this_run=f"{sft_eval_.facts.mean_start:.3f} → {sft_eval_.facts.mean_sft:.3f} nats per token",
    )
    ev.verdict = claims.guard_acted(ev.verdict, sft_eval_.moved.acted, sft_eval_.moved.measure)
    tests.append(ev)
    _, quality = per_prompt([a - b for a, b in zip(rm.test["correct with"], rm.test["length"])], rm.test_prompts)
    ev = claims.evaluate(
        spec["rm_quality"].over(quality),
        quality,
        [0.0] * len(quality),
        scale=scale,
        this_run=f"held-out accuracy {r.acc_with:.1%} against {r.acc_length:.1%} (length only)",
    )
    ev.verdict = claims.requires_convergence(ev.verdict, r.converged, "the head's gradient norm stayed above 1e-4")
    tests.append(ev)
    _, with_ = per_prompt(rm.test["margin with"], rm.test_prompts)
    _, without = per_prompt(rm.test["margin without"], rm.test_prompts)
    ev = claims.evaluate(
        spec["rm_mse"].over(with_),
        with_,
        without,
        scale=scale,
        this_run=f"held-out accuracy {r.acc_with:.1%} with, {r.acc_without:.1%} without",
    )
    ev.verdict = claims.requires_convergence(ev.verdict, r.converged, "the head's gradient norm stayed above 1e-4")
    # a floor: two heads that both rank the held-out human pairs at chance cannot tell the term's effect apart
    why = f"floor: neither head ranks the held-out human pairs above chance ({judge_said}; {other_said})"
    ev.verdict = claims.guard(ev.verdict, judge_ok or other_ok, why)
    tests.append(ev)
    first = next(k for k in dpo.margins if k.startswith("DPO"))
    ev = claims.evaluate(
        spec["dpo"].over(dpo.margins[first]),
        dpo.margins[first],
        [0.0] * len(dpo.margins[first]),
        scale=scale,
        this_run=f"{first}: mean margin {np.mean(dpo.margins[first]):.3f} nats over {dp.pairs} pairs",
    )
    ev.verdict = claims.guard_acted(ev.verdict, dpo.moved[first].acted, dpo.moved[first].measure)
    tests.append(ev)
    ev = claims.evaluate(
        spec["merge"].over(dpo.margins[MERGES[1]]),
        dpo.margins[MERGES[1]],
        dpo.margins[MERGES[0]],
        scale=scale,
        this_run=f"margin {dp.margin_stock:.3f} (Model Stock, cos θ {dp.cos:.3f}, t {dp.t:.3f}) "
        f"against {dp.margin_linear:.3f} (linear)",
    )
    both = [dpo.moved[k] for k in MERGES]
    ev.verdict = claims.guard_acted(ev.verdict, all(m.acted for m in both), "; ".join(m.measure for m in both))
    tests.append(ev)
    ev = claims.evaluate(
        spec["grpo"].over(grpo.after),
        grpo.after,
        grpo.before,
        scale=scale,
        this_run=f"greedy reward {gr.mean_before:.2f} → {gr.mean_after:.2f} on {gr.n_test} held-out topics",
    )
    ev.verdict = claims.guard_acted(ev.verdict, grpo.moved.acted, grpo.moved.measure)
    tests.append(ev)
    ev = claims.evaluate(
        spec["headline"].over(head.final),
        head.final,
        head.start,
        scale=scale,
        this_run=f"judge's score {hd.mean_start:.2f} (start) → {hd.mean_final:.2f} ({hd.final_name})",
    )
    ev.verdict = claims.guard_acted(ev.verdict, head.moved.acted, head.moved.measure)
    ev.verdict = claims.guard(ev.verdict, judge_ok, f"judge at chance: {judge_said}")
    tests.append(ev)
    tests += [claims.untested(spec[k], spec[k].untestable, scale=scale) for k in ("ppo", "nova")]
    return claims.holm_tests(tests)


# --------------------------------------------------------------------------------------------- settings


ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
