"""The Baichuan 2 chapter's experiment: the language-model data and training settings of its profile, the claim tests,
the scale note and the paper's numbers beside this run's.

Explained in `notebooks/alignment/baichuan2.ipynb`; the pre-training methods are in
:mod:`reprobook.alignment.pretraining` and the scaling law in :mod:`reprobook.alignment.scaling`; the NormHead and
max-z experiments in :mod:`.ablations`, the scaling law's prediction in :mod:`.prediction`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ... import claims
from ...alignment.pretraining import LMData, ModelSize, TrainSettings, lm_data
from ...alignment.tokenizer import train_sentencepiece
from ...configs.baichuan2 import PAPER_7B_SOURCE, Baichuan2Config
from ...llm import load_tokenizer
from ...profiles import config


def chapter_lm_data(cfg: Baichuan2Config, overview: Any, *, train_tokens: int) -> LMData:
    """The chapter's token data (``train_tokens`` for training): SentencePiece at Baichuan 2's settings
    (``cfg.lm_vocab_size`` pieces, character coverage ``cfg.lm_coverage``, trained on the train split) or
    any Hugging Face tokenizer (``cfg.lm_tokenizer``)."""
    train_texts = overview.texts("train")
    if cfg.lm_tokenizer is None:
        sample = overview.texts("train", max_chars=cfg.lm_tokenizer_chars)
        tok = train_sentencepiece(
            sample, cfg.lm_vocab_size, coverage=cfg.lm_coverage, max_token_length=cfg.max_token_length
        )
        name = f"SentencePiece BPE {cfg.lm_vocab_size:,} trained here (character coverage {cfg.lm_coverage:g})"
    else:
        tok, name = load_tokenizer(cfg.lm_tokenizer), cfg.lm_tokenizer
    return lm_data(
        tok,
        train_texts,
        overview.texts("validation"),
        seq_len=cfg.seq_len,
        train_tokens=train_tokens,
        val_blocks=cfg.val_blocks,
        name=name,
    )


def settings_from(cfg: Baichuan2Config, **changes: Any) -> TrainSettings:
    """The chapter configuration's optimiser settings (NormHead and max-z on: Baichuan 2's recipe)."""
    values = dict(
        steps=cfg.ablation_steps,
        batch_size=cfg.batch_size,
        seq_len=cfg.seq_len,
        lr=cfg.maxz_lr,
        warmup_fraction=cfg.warmup_fraction,
        min_lr_ratio=cfg.min_lr_ratio,
        weight_decay=cfg.weight_decay,
        betas=tuple(cfg.betas),
        grad_clip=cfg.grad_clip,
        max_z_weight=cfg.max_z_weight,
        normhead=True,
        eval_every=0,
        output_weight_decay=True,
    )
    return TrainSettings(**{**values, **changes})


def claim_tests(
    specs: Sequence[Any],
    study: Any,
    sweep: Any,
    dose: Any,
    prediction: Any,
    check: Any,
    *,
    paper_weight: float,
    english_reference: str,
    scale: str = "",
) -> list[Any]:
    """The chapter's declared claims (``specs``, from ``configs.baichuan2.claim_specs``) tested on this run,
    guarded, and Holm-adjusted together (``claims.ClaimTest`` objects for ``RunRecord.add_claims``);
    ``english_reference``: the configuration's English-centred reference tokenizer (the bilingual claim's
    comparator, LLaMA 2's role)."""
    spec = {s.key: s for s in specs}
    tests = []
    refs = study.table[~study.table["trained here"] & (study.table.tokenizer == english_reference)]
    if len(refs):
        english = refs.iloc[0]
        sizes = sorted(int(v) for v in study.table[study.table["trained here"]].vocabulary)
        same = f"BPE {max([v for v in sizes if v <= english.vocabulary] or [sizes[0]]):,}"
        a, b = study.per_document[(english.tokenizer, "zh")], study.per_document[(same, "zh")]
        # n: the held-out Chinese documents, fixed by the corpus split before any tokenizer is scored
        tests.append(
            claims.evaluate(
                spec["bilingual"].over(b),
                a,
                b,
                scale=scale,
                this_run=f"{english.tokenizer} ({int(english.vocabulary):,}) against {same}",
            )
        )
    else:
        tests.append(
            claims.untested(
                spec["bilingual"], f"the English-centred reference {english_reference} was not scored", scale=scale
            )
        )
    sw, dz = sweep.facts, dose.facts
    normhead = claims.evaluate(
        spec["normhead"],
        sweep.sensitivity["off"],
        sweep.sensitivity["on"],
        scale=scale,
        this_run=f"sensitivity {sw.sensitivity_off:.3f} without, {sw.sensitivity_on:.3f} "
        f"with NormHead over lr {sw.lrs}",
    )
    normhead.verdict = budget_guard(normhead.verdict, sw, spec["normhead"].sesoi, "the sweep")
    tests.append(normhead)
    zeros = [0.0] * dz.seeds
    logit = dose.declines("mean_max_logit")
    tests.append(
        claims.evaluate(
            spec["maxz_logits"],
            logit,
            zeros,
            scale=scale,
            this_run=f"mean max-logit {dz.logit_none:.2f} at weight 0, {dz.logit_largest:.2f} at {dose.weights[-1]:g}",
        )
    )
    tests.append(
        claims.evaluate(
            spec["maxz_inference"],
            dose.declines("repetition_kl"),
            zeros,
            scale=scale,
            this_run=f"KL {dz.kl_none:.4f} at weight 0, {dz.kl_largest:.4f} at {dose.weights[-1]:g}",
        )
    )
    none, paper = dose.per_seed("mean_max_logit", dose.weights[0]), dose.per_seed("mean_max_logit", paper_weight)
    acted = claims.superiority(none, paper, unit="seeds")
    cost = claims.evaluate(
        spec["maxz_cost"],
        [-x for x in dose.per_seed("loss", paper_weight)],
        [-x for x in dose.per_seed("loss", dose.weights[0])],
        scale=scale,
        this_run=f"loss {dz.loss_paper:.3f} with, {dz.loss_none:.3f} without",
    )
    # a cost measured on losses the budget still decides is a cost in speed, not at convergence
    cost.verdict = budget_guard(cost.verdict, dz, spec["maxz_cost"].sesoi, "the dose runs")
    cost.verdict = claims.guard_acted(
        cost.verdict,
        acted.verdict == "reproduced",
        f"mean max-logit lowered at weight {paper_weight:g} by {acted.format('.3g')} "
        "(one-sided paired t over seeds, not below 0.025)",
    )
    tests.append(cost)
    test = dict(check.test)
    test.pop("se")
    scaling = claims.evaluate(
        spec["scaling"],
        scale=scale,
        this_run=(
            f"predicted {prediction.prediction.loss:.3f}, observed {check.facts.observed:.3f} "
            f"at {prediction.facts.target} the budget"
        ),
        **test,
    )
    scaling.verdict = claims.guard(
        scaling.verdict, check.prediction_first, "the prediction was not recorded before the predicted run was trained"
    )
    tests.append(scaling)
    return claims.holm_tests(tests)


def budget_guard(verdict: Any, budget: Any, sesoi: float, runs: str) -> Any:
    """``verdict``, or *not comparable* where the budget of ``runs`` (their name in the reason) still decides their
    losses: their first seed, trained again with more steps (``budget.budget_steps``; ``budget`` holds the
    experiment's facts), moved a final loss by ``sesoi`` or more (``budget_change``, NaN counting as moved). Runs
    still improving measure how fast they learn, not how stable or how costly a setting is at convergence: they
    can neither show nor refute it."""
    change = budget.budget_change
    return claims.requires_convergence(
        verdict,
        bool(change < sesoi),
        f"{budget.budget_steps} steps instead of {budget.steps} moved a final validation loss of {runs} by "
        f"{change:.3f} nats ({budget.budget_run}, the first seed), against the smallest effect of interest, "
        f"{sesoi:g}: the budget still decides the losses",
    )


def scale_note(cfg: Baichuan2Config, data: LMData, device: Any) -> str:
    """One line on the scale of this run, for the claims table."""
    a, s = ModelSize.parse(cfg.ablation_size), ModelSize.parse(cfg.scaling_size)
    return (
        f"{cfg.profile} profile: corpus {cfg.corpus}; LM tokenizer {data.tokenizer_name} "
        f"({data.vocab_size:,} tokens); Llama-style {a.name} ({cfg.ablation_steps} steps, {cfg.n_seeds} seeds) "
        f"and {s.name} (up to {round(cfg.target_fraction * cfg.scaling_steps)} steps, {cfg.scaling_seeds} seeds) "
        f"of {cfg.batch_size} × {cfg.seq_len} tokens; {getattr(device, 'type', device)}"
    )


def glue_paper_notes(rec: Any, cfg: Baichuan2Config, sweep: Any, prediction: Any, profile: str) -> None:
    """Glue the sentences of the chapter's deviations that depend on the profile."""
    paper = config("baichuan2", "paper")
    rec.glue("bc2_paper_source", PAPER_7B_SOURCE)
    small = sweep.runs[0].history.parameters.get("total", 0)
    rec.glue(
        "bc2_paper_note",
        "This copy of the chapter ran the paper profile."
        if profile == "paper"
        else f"This run ({profile} profile) trains models of {small:,} and {prediction.facts.parameters:,} (compute) "
        f"parameters on {'a CPU' if 'cpu' in str(rec.device) else rec.device}; the paper profile runs the same "
        f"code at widths {paper.ablation_size[0]} and {paper.scaling_size[0]} on GPUs (not run for this copy).",
    )
