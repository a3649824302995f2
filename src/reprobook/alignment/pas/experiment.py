"""The PAS chapter's glue between stages: the train/held-out split, the PAS training stage, the claims.

Explained in `notebooks/alignment/pas.ipynb`.

Verdicts (every one from :mod:`reprobook.claims`, Holm-adjusted together):

* **plug-and-play gain**: PAS's win rate over no augmentation, per answering model and per judge, above
  ½ by a one-sided exact binomial test over the held-out prompts; the claim holds when it holds for every
  answering model (:func:`reprobook.claims.all_of`);
* **better than a generic suffix** (what this run tests in place of the paper's +6.09 over BPO): the same
  rule against the fixed prompt-engineering sentence;
* **data efficiency**: the PAS model trained on the smallest set already beats no augmentation (reward
  model), same rule;
* **data generated without human labour**: more than half of the generated complementary prompts
  survive the critique (after regeneration): one-sided exact binomial test over the prompts;
* **+6.09 over BPO**: not comparable (no BPO model, no GPT-4 judge, no Arena-Hard or AlpacaEval here).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from ...checks import ParameterError, check_int
from ...results import glued
from .data import Prompt


@dataclass
class Split:
    """Selected prompts divided into those sent to generation and the held-out evaluation prompts."""

    train: list[Prompt]
    train_categories: list[str]
    held_out: list[Prompt]
    n_train: int = glued("d", default=0)
    n_held_out: int = glued("d", default=0)


def split_prompts(prompts: Sequence[Prompt], categories: Sequence[str], cfg: Any, *, seed: int) -> Split:
    """Shuffle each source's prompts (seeded), interleave the sources, then take ``cfg.eval_prompts`` for
    the evaluation and the next ``cfg.train_prompts`` for generation: both mix every source, never overlap."""
    check_int("eval_prompts", cfg.eval_prompts, low=1)
    check_int("train_prompts", cfg.train_prompts, low=1)
    if cfg.eval_prompts + cfg.train_prompts > len(prompts):
        raise ParameterError("train_prompts", cfg.train_prompts,
                             f"at most {len(prompts) - cfg.eval_prompts} (selected prompts less the held-out ones)")
    rng = random.Random(seed)
    by_source: dict[str, list[int]] = {}
    for i, p in enumerate(prompts):
        by_source.setdefault(p.source, []).append(i)
    for idx in by_source.values():
        rng.shuffle(idx)
    order = [idx[k] for k in range(max(map(len, by_source.values()))) for idx in by_source.values() if k < len(idx)]
    held, train = order[:cfg.eval_prompts], order[cfg.eval_prompts:cfg.eval_prompts + cfg.train_prompts]
    return Split([prompts[i] for i in train], [categories[i] for i in train], [prompts[i] for i in held],
                 n_train=len(train), n_held_out=len(held))


@dataclass
class PASTraining:
    """Stage 5: the trained PAS model, its training record and the check that no pair holds an answer."""

    model: Any
    record: Any
    losses: Any  # table: step → loss
    figure: Any = glued()
    n_pairs: int = glued("d", default=0)
    n_with_answer: int = glued("d", default=0)
    steps: int = glued("d", default=0)
    tokens_per_second: float = glued(".0f", default=0.0)
    seconds: float = glued(".0f", default=0.0)
    loaded: str = glued(default="")
    first_loss: float = glued(".2f", default=0.0)
    last_loss: float = glued(".2f", default=0.0)
    base: str = glued(default="")


def train_stage(base_lm: Any, pairs: Sequence[dict[str, Any]], cfg: Any, *, seed: int) -> PASTraining:
    """Check the pairs, train the PAS model on all of them (cached), and plot its loss."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from .model import pairs_with_answers, train_pas

    leaking = pairs_with_answers(pairs)
    trained = train_pas(base_lm, pairs, cfg, seed=seed, name="pas")
    rec = trained.record
    losses = pd.DataFrame({"step": range(1, len(rec.losses) + 1), "loss": rec.losses}).set_index("step")
    fig, ax = plt.subplots(figsize=(4.8, 2.6))
    ax.plot(losses.index, losses["loss"], "o-")
    ax.set(xlabel="optimiser step", ylabel="SFT loss (complement tokens)", title="Training the PAS model")
    fig.tight_layout()
    return PASTraining(trained.model, rec, losses, fig, n_pairs=len(pairs), n_with_answer=len(leaking),
                       steps=rec.steps, tokens_per_second=rec.tokens_per_second, seconds=rec.seconds,
                       loaded="loaded from the checkpoint cache" if rec.loaded else "trained in this run",
                       first_loss=rec.losses[0] if rec.losses else float("nan"),
                       last_loss=rec.losses[-1] if rec.losses else float("nan"), base=base_lm.name)


# --------------------------------------------------------------------------------------------- claims
@dataclass
class PASVerdicts:
    """The claims table's rows and each rule in words (glued before the numbers)."""

    rows: list
    verdicts: dict
    rule_rate: str = glued(default="")
    rule_generation: str = glued(default="")
    n_tests: int = glued("d", default=0)


def _text(v: Any) -> str:
    if v.estimate is None:
        return v.reason or ""
    return f"{v.estimate:.0%} [{v.low:.0%}, {v.high:.0%}], p = {v.p:.2g}, n = {v.n}"


def pas_claims(generated: Any, pnp: Any, efficiency: Any, cfg: Any, *, scale: str) -> PASVerdicts:
    """Verdicts on the paper's claims from the run's results, Holm-adjusted together."""
    from ...chapters.pas import PAPER_GAIN_OVER_BPO, PAPER_PAIRS, PAPER_SOURCE
    from ...claims import all_of, holm, not_comparable, rate_above

    tests = {key: rate.verdict for key, rate in pnp.rates.items()}
    tests[("efficiency", efficiency.smallest)] = efficiency.rates[efficiency.smallest].verdict
    tests["generation"] = rate_above(generated.n_pairs, generated.n_prompts, threshold=0.5, alpha=cfg.alpha,
                                     unit="prompts sent to generation")
    adjusted = holm(tests, alpha=cfg.alpha)
    models = list(pnp.answers)

    def combined(other: str) -> dict[str, Any]:
        judges = [j for j in ("pairwise judge", "reward model") if all((m, other, j) in adjusted for m in models)]
        return {judge: all_of(*(adjusted[(m, other, judge)] for m in models), covers=f"{len(models)} answering models")
                for judge in judges}

    rows, verdicts = [], {}
    for other, claim in (("none", "PAS improves the answers of models it was not trained with (plug-and-play)"),
                         ("generic", "PAS beats the best earlier prompt engineering (BPO, +6.09); tested here: "
                                     "PAS beats a fixed generic prompt suffix")):
        for judge, v in combined(other).items():
            verdicts[(other, judge)] = v
            detail = "; ".join(f"{m}: {_text(adjusted[(m, other, judge)])}" for m in models)
            paper = f"+{PAPER_GAIN_OVER_BPO} points over BPO" if other == "generic" else "improves every model"
            rows.append(dict(claim=f"{claim} ({judge})", paper=paper, verdict=v, source=PAPER_SOURCE, scale=scale,
                             this_run=f"win rate of PAS over {other}: {detail}"))
    v_eff = adjusted[("efficiency", efficiency.smallest)]
    verdicts["efficiency"] = v_eff
    rows.append(dict(claim="PAS is data-efficient: a small training set suffices", paper=f"{PAPER_PAIRS:,} pairs",
                     this_run=f"trained on {efficiency.smallest} pairs, win rate over none ({efficiency.answerer}, "
                              f"reward model): {_text(v_eff)}", verdict=v_eff, source=PAPER_SOURCE, scale=scale))
    v_gen = adjusted["generation"]
    verdicts["generation"] = v_gen
    rows.append(dict(claim="PAS generates its own training data without human labour",
                     paper="complementary prompts generated and critiqued automatically",
                     this_run=f"{generated.n_pairs} of {generated.n_prompts} prompts got a complement that passes the "
                              f"critique: {_text(v_gen)}", verdict=v_gen, source=PAPER_SOURCE, scale=scale))
    v_bpo = not_comparable("no BPO model, GPT-4 judge, Arena-Hard or AlpacaEval offline")
    verdicts["bpo"] = v_bpo
    rows.append(dict(claim="+6.09 average points over BPO", paper=f"+{PAPER_GAIN_OVER_BPO}", this_run="not measured",
                     verdict=v_bpo, source=PAPER_SOURCE, scale=scale))
    rate_rule = next(iter(pnp.rates.values())).verdict.rule if pnp.rates else ""
    return PASVerdicts(rows, verdicts, rule_rate=rate_rule, rule_generation=tests["generation"].rule,
                       n_tests=len(tests))


def paper_vs_run(generated: Any, training: Any, pnp: Any, efficiency: Any, cfg: Any):
    """The "Paper vs this run" settings table (the scale gap, side by side)."""
    import pandas as pd

    from ...chapters.pas import PAPER_GAIN_OVER_BPO, PAPER_PAIRS, PAPER_TRAINING, PAPER_TRAINING_SOURCE

    lora = f"LoRA r = {cfg.lora_r}" + (f" on the last {cfg.lora_last_layers} layers" if cfg.lora_last_layers else "") \
        if cfg.lora_r else "full fine-tuning"
    rows = [
        ("training pairs", f"{PAPER_PAIRS:,}", f"{generated.n_pairs}"),
        ("PAS model", "{parameters}, {epochs} epochs, lr {learning rate:g}".format_map(PAPER_TRAINING),
         f"{training.base}, {cfg.sft_epochs} epochs, lr {cfg.sft_lr:g}, {lora}"),
        ("data generation and critique", "GPT-4 (repository scripts)", f"{generated.generator}, explicit rules"),
        ("answering models", "several open and closed LLMs", pnp.models),
        ("judge", "GPT-4 on Arena-Hard / AlpacaEval 2.0", f"{pnp.judge_name} (pairwise, swapped) and a reward model"),
        ("baseline", f"BPO (PAS +{PAPER_GAIN_OVER_BPO} points)", f"generic suffix: “{cfg.generic_suffix}”"),
        ("held-out prompts", "benchmark suites", f"{pnp.n_eval}"),
    ]
    table = pd.DataFrame(rows, columns=["", "paper", "this run"]).set_index("")
    table.attrs["source"] = PAPER_TRAINING_SOURCE
    return table


__all__ = ["PASTraining", "PASVerdicts", "Split", "paper_vs_run", "pas_claims", "split_prompts", "train_stage"]
