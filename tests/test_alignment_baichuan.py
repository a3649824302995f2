"""The Baichuan Alignment chapter's helpers: prompt-grouped splits, token utilisation, ROUGE-L, scored pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reprobook.alignment.reward import length_baseline, ni_scored_pairs, split_by_prompt
from reprobook.alignment.sft import utilisation


def test_split_by_prompt_keeps_every_prompt_on_one_side():
    rows = [{"prompt": f"p{i // 3}", "chosen": "c", "rejected": "r", "category": ("x", "y")[i % 2]} for i in range(60)]
    parts = split_by_prompt(rows, {"test": 0.4, "A": 0.3, "B": 0.3}, seed=0)
    assert sum(len(v) for v in parts.values()) == len(rows)
    seen = {}
    for name, part in parts.items():
        for r in part:
            assert seen.setdefault((r["prompt"], r["category"]), name) == name
    assert split_by_prompt(rows, {"test": 0.4, "A": 0.3, "B": 0.3}, seed=0) == parts  # seeded


def test_utilisation_against_hand_counts():
    # lengths 10, 30 | 20, 20 with max length 40: padded to longest 80 / (2·30 + 2·20) = 0.8;
    # to max length 80 / 160; packed best-fit-decreasing: bins {30, 10}, {20, 20} -> 80 / 80
    u = utilisation([10, 30, 20, 20], batch_size=2, max_length=40)
    assert u["pad to longest in batch"] == pytest.approx(0.8)
    assert u["pad to max length"] == pytest.approx(0.5)
    assert u["packed (bfd)"] == pytest.approx(1.0) and u["packed rows"] == 2


def test_scored_pairs_and_length_baseline():
    examples = [
        {"task": "t", "prompt": f"q{i}", "answer": f"answer number {i}", "targets": [f"answer number {i}"]}
        for i in range(4)
    ]
    pairs = ni_scored_pairs(examples, 3, seed=0, alpha=0.5)
    assert len(pairs) == 3
    for p in pairs:
        assert p["chosen_score"] == 1.0 and p["score_weight"] == 0.5
        assert p["rejected"] != p["chosen"] and p["rejected_score"] == pytest.approx(2 / 3, abs=1e-6)
    assert length_baseline([{"chosen": "long answer", "rejected": "no"}, {"chosen": "x", "rejected": "yy"}]) == [1, 0]


def test_training_figure_draws_what_the_runs_logged():
    import matplotlib

    matplotlib.use("Agg")
    from types import SimpleNamespace as NS

    from reprobook.chapters.baichuan_alignment.report import training_figure
    from reprobook.training import History

    run = lambda losses, logs=(): NS(history=History("step", train_loss=list(losses), logs=list(logs)))  # noqa: E731
    sft = NS(record=run([2.0, 1.5, 1.2]))
    dpo = NS(records={"DPO (seed 0)": run([0.69, 0.6]), "DPO (seed 1)": run([0.69, 0.65])})
    grpo = NS(record=run([], [{"reward": 0.1}, {"loss": 0.0}, {"reward": 0.3}]))
    fig = training_figure(sft, dpo, grpo)
    assert len(fig.axes) == 3
    grpo.record = run([], [])  # a run restored from the cache without its logs: its panel is left out
    assert len(training_figure(sft, dpo, grpo).axes) == 2


# --------------------------------------------------------------------------------------------- reward heads
def _planted_features(n, d=6, seed=0):
    rng = np.random.default_rng(seed)
    good, bad = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    good[:, 0] += 2.0  # the first feature carries the preference
    return good, bad


def test_reward_head_converges_to_the_same_optimum_from_any_seed():
    from reprobook.alignment.reward import fit_reward_head

    good, bad = _planted_features(40)
    a = fit_reward_head(good, bad, alpha=0.0, lam=0.01, seed=0)
    b = fit_reward_head(good, bad, alpha=0.0, lam=0.01, seed=7)
    assert a.converged and b.converged and np.allclose(a.w, b.w, atol=1e-4)
    assert (a.score(good) > a.score(bad)).mean() >= 0.85
    raw = np.concatenate([((good - a.mean) / a.scale) @ a.w, ((bad - a.mean) / a.scale) @ a.w]) + a.b
    assert a.unit == pytest.approx(raw.std())


def test_the_pointwise_term_pulls_scores_toward_the_absolute_ones():
    from reprobook.alignment.reward import fit_reward_head

    good, bad = _planted_features(40)
    kw = dict(chosen_score=[1.0] * 40, rejected_score=[0.0] * 40, score_weight=[1.0] * 40, lam=0.01, seed=0)
    with_ = fit_reward_head(good, bad, alpha=5.0, **kw)
    without = fit_reward_head(good, bad, alpha=0.0, **kw)

    def raw(h, x):
        return ((x - h.mean) / h.scale) @ h.w + h.b

    err = lambda h: np.mean((raw(h, good) - 1) ** 2 + raw(h, bad) ** 2)  # noqa: E731
    assert err(with_) < err(without)
    # α·ω = 0 where a pair has no scores: the term then changes nothing
    zero = fit_reward_head(good, bad, alpha=5.0, **{**kw, "score_weight": [0.0] * 40})
    assert np.allclose(zero.w, without.w, atol=1e-4)


def test_lambda_is_chosen_by_cross_validation_over_prompts():
    from reprobook.alignment.reward import choose_lambda

    good, bad = _planted_features(40)
    lam = choose_lambda(good, bad, [f"p{i // 2}" for i in range(40)], (1e-3, 1e-1, 100.0), seed=0)
    assert lam in (1e-3, 1e-1)  # a huge penalty flattens the head


def test_per_prompt_averages_pairs_that_share_a_prompt():
    from reprobook.chapters.baichuan_alignment.measures import per_prompt

    assert per_prompt([1, 0, 1, 1], ["a", "a", "b", "c"]) == (["a", "b", "c"], [0.5, 1.0, 1.0])


# --------------------------------------------------------------------------------------------- merging
def test_model_stock_clips_its_ratio_to_the_segment():
    import torch

    from reprobook.llm.merging import model_stock, model_stock_ratio

    u = torch.tensor([1.0, 0.0])
    assert model_stock_ratio([u, u]) == pytest.approx(1.0)
    assert model_stock_ratio([u, torch.tensor([0.0, 1.0])]) == 0.0
    assert model_stock_ratio([u, -0.9 * u + torch.tensor([0.0, 0.1])]) == 0.0  # cos θ ≈ −0.99: t would be ≈ −198
    cos = 0.5
    assert model_stock_ratio([u, torch.tensor([cos, math.sqrt(1 - cos**2)])]) == pytest.approx(2 * cos / (1 + cos))
    ratios = {}
    w0 = {"w": torch.zeros(2)}
    merged = model_stock([{"w": u}, {"w": torch.tensor([0.0, 1.0])}], w0, ratios=ratios)
    assert torch.equal(merged["w"], w0["w"]) and ratios["w"][1] == 0.0  # orthogonal updates: back to the anchor


@pytest.mark.parametrize("base, cap", [("smollm2-135m-instruct", None), ("gemma-3-270m", 2.0)])
@pytest.mark.parametrize("apart", ["head apart", "model whole"])
def test_scoring_equals_the_models_own_log_probabilities(base, cap, apart, monkeypatch):
    """``alignment.scoring``: log π(y | x), the last-token feature and the per-token KL equal what the model's
    own forward gives, with the output layer apart or the model run whole, for Llama and for Gemma 3 with its
    final logit soft-capping switched on (which the output layer apart must apply)."""
    from reprobook import llm
    from reprobook.llm import generation

    def tiny(seed):
        lm = llm.tiny_causal_lm(base, seed=seed, layers=2, hidden=32, dtype="float64")
        lm.model.config.final_logit_softcapping = cap
        if apart == "model whole":
            monkeypatch.setitem(generation._HEADS, lm.model, None)
        else:
            assert generation.output_layer(lm) is not None
        return lm

    _check_scoring(tiny(3), tiny(5), cap)


def test_scoring_runs_a_model_whole_where_its_forward_does_more_than_the_head():
    """A model whose forward rescales the head's logits (Granite divides them by ``logits_scaling``) fails the
    output-layer probe by itself, and ``alignment.scoring`` then gives the model's own numbers."""
    import dataclasses

    import torch
    from transformers import GraniteConfig, GraniteForCausalLM

    from reprobook import llm
    from reprobook.llm import generation

    base = llm.tiny_causal_lm("smollm2-135m-instruct", seed=3, layers=2, hidden=32, dtype="float64")

    def granite(seed):
        torch.manual_seed(seed)
        config = GraniteConfig(
            vocab_size=base.model.config.vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            logits_scaling=4.0,
            max_position_embeddings=512,
        )
        lm = dataclasses.replace(base, model=GraniteForCausalLM(config).double().eval())
        assert generation.output_layer(lm) is None
        return lm

    _check_scoring(granite(3), granite(5), None)


def _check_scoring(lm, other, cap):
    import torch

    from reprobook.alignment import scoring
    from reprobook.llm import generation

    prompts = ["Name a colour.", "What is two plus two? Answer briefly, then explain."]
    answers = ["Blue.", "Four, of course: two and two make four."]
    pairs = scoring.encode_pairs(lm, prompts, answers)
    assert pairs == generation.completion_pairs(lm, prompts, answers, chat=True)
    got = scoring.score(lm, pairs, features=True, batch_size=2)  # one right-padded batch of unequal rows
    kl_want, count = 0.0, 0
    for i, (p, c) in enumerate(pairs):
        ids = torch.tensor([p + c])
        with torch.inference_mode():
            logits = lm.model(input_ids=ids).logits[0]
            logp, logq = logits.log_softmax(-1), other.model(input_ids=ids).logits[0].log_softmax(-1)
            hidden = lm.model.get_decoder()(input_ids=ids).last_hidden_state[0]
        if cap:
            assert float(logits.abs().max()) <= cap  # the soft-capping acts in the model's forward
        assert got.logprob[i] == pytest.approx(sum(float(logp[len(p) + k - 1, t]) for k, t in enumerate(c)), abs=1e-8)
        assert got.features is not None and np.allclose(got.features[i], hidden[-1].numpy(), atol=1e-6)
        at = slice(len(p) - 1, len(p) + len(c) - 1)
        kl_want += float((logp[at].exp() * (logp[at] - logq[at])).sum())
        count += len(c)
    assert list(got.tokens) == [len(c) for _, c in pairs]
    assert scoring.token_kl(lm, other, pairs, batch_size=2) == pytest.approx(kl_want / count, abs=1e-8)
    assert scoring.token_kl(lm, lm, pairs) == pytest.approx(0.0, abs=1e-12)
