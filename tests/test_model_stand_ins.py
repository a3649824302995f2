"""Hub models without a network: the real loader's error names the model and the two ways to make it
available; a local copy is used; in a dry run a stand-in of the paper model's own architecture takes its place."""

import pytest
import torch

from reprobook.llm import loading


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """A machine whose hub cannot be reached and whose Hugging Face cache is empty."""
    monkeypatch.setattr(loading, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv(loading.MODELS_ENV, raising=False)
    monkeypatch.delenv("REPROBOOK_DRY_RUN", raising=False)
    return tmp_path


def test_an_unreachable_model_is_named_with_the_two_ways_to_make_it_available(offline):
    for load in (loading.load_causal_lm, loading.load_tokenizer):
        with pytest.raises(loading.ModelUnavailableError) as err:
            load("Qwen/Qwen2-7B")
        text = str(err.value)
        assert "'Qwen/Qwen2-7B'" in text and "cannot be reached" in text
        assert "allow network access to the Hugging Face hub" in text  # way one
        assert "local copy" in text and "$REPROBOOK_MODELS/Qwen/Qwen2-7B" in text  # way two
        assert err.value.name == "name"  # a ParameterError, as before


def test_a_local_copy_under_reprobook_models_is_loaded_for_its_hub_id(offline, monkeypatch):
    tiny = loading.tiny_causal_lm(seed=3)
    folder = offline / "models" / "reprobook-test" / "tiny"
    tiny.model.save_pretrained(folder)
    tiny.tokenizer.save_pretrained(folder)
    monkeypatch.setenv(loading.MODELS_ENV, str(offline / "models"))
    lm = loading.load_causal_lm("reprobook-test/tiny")
    assert torch.equal(lm.model.lm_head.weight, tiny.model.lm_head.weight)
    assert lm.source == str(folder.resolve())


@pytest.mark.parametrize(
    "name, config_class, kv_heads",
    [
        ("Qwen/Qwen2-7B", "Qwen2Config", 2),
        ("meta-llama/Llama-2-7b-chat-hf", "LlamaConfig", 4),  # Llama-2-7B: one key/value head per query head
        ("mistralai/Mistral-7B-Instruct-v0.3", "MistralConfig", 2),
    ],
)
def test_a_dry_run_stands_in_the_paper_models_own_architecture(
    offline, monkeypatch, capsys, name, config_class, kv_heads
):
    monkeypatch.setenv("REPROBOOK_DRY_RUN", "paper")
    lm = loading.load_causal_lm(name)
    config = lm.model.config
    assert type(config).__name__ == config_class
    assert (config.num_hidden_layers, config.hidden_size) == (
        loading.STAND_IN_SIZE["layers"],
        loading.STAND_IN_SIZE["hidden"],
    )
    assert config.num_key_value_heads == kv_heads and config.vocab_size == len(lm.tokenizer)
    real = loading.paper_config(name)
    assert config.max_position_embeddings == real.max_position_embeddings == lm.max_context
    assert lm.name == name and lm.source == "stand-in (random)" and lm.info["stand_in_for"] == name
    assert 6e9 < lm.info["real_parameters"] < 8e9  # a 7B model
    out = capsys.readouterr().out
    assert f"DRY RUN stand-in: {name} -> a randomly initialised" in out and "cannot be reached" in out
    ids = lm.tokenizer("Hello", return_tensors="pt")
    with torch.no_grad():
        logits = lm.model(**ids).logits
    assert logits.shape[-1] == len(lm.tokenizer)
    again = loading.load_causal_lm(name)  # the same weights for the same model
    assert torch.equal(again.model.lm_head.weight, lm.model.lm_head.weight)


def test_a_dry_run_stands_in_tokenizers_tiny_models_and_encoders(offline, monkeypatch, capsys):
    monkeypatch.setenv("REPROBOOK_DRY_RUN", "1")
    tokenizer = loading.load_tokenizer("meta-llama/Llama-2-70b-chat-hf")
    assert tokenizer.padding_side == "left" and tokenizer.pad_token is not None
    tiny = loading.tiny_causal_lm("meta-llama/Llama-2-70b-chat-hf", layers=1, hidden=32)
    assert type(tiny.model.config).__name__ == "LlamaConfig" and tiny.model.config.num_hidden_layers == 1
    assert 60e9 < tiny.info["real_parameters"] < 75e9
    folder = loading.encoder_folder("BAAI/bge-base-zh-v1.5")
    out = capsys.readouterr().out
    assert "DRY RUN stand-in: BAAI/bge-base-zh-v1.5 -> a randomly initialised bert encoder (BertConfig" in out
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)  # the paper encoder's own config class, at the stand-ins' size
    assert type(config).__name__ == "BertConfig"
    assert (config.num_hidden_layers, config.hidden_size) == (
        loading.STAND_IN_SIZE["layers"],
        loading.STAND_IN_SIZE["hidden"],
    )
    from reprobook.encoders import make_encoder

    vectors = make_encoder(str(folder)).encode_queries(["为这个句子生成表示以用于检索相关文章：你好", "hello"])
    assert vectors.shape == (2, loading.STAND_IN_SIZE["hidden"])
    assert abs(float((vectors**2).sum(axis=1).max()) - 1) < 1e-5  # normalised, as bge's pooling is
    assert loading.encoder_folder("BAAI/bge-base-zh-v1.5") == folder  # written once
    monkeypatch.delenv("REPROBOOK_DRY_RUN")
    with pytest.raises(loading.ModelUnavailableError, match="bge-base-zh"):
        loading.encoder_folder("BAAI/bge-base-zh-v1.5")
    # the retriever's encoder goes through the same door: offline, a named error, not the hub's retries
    with pytest.raises(loading.ModelUnavailableError, match="bge-base-zh"):
        make_encoder("BAAI/bge-base-zh-v1.5")


def test_parameter_counts_of_the_paper_configs():
    assert abs(loading.config_parameters(loading.paper_config("meta-llama/Llama-2-7b-chat-hf")) - 6.74e9) < 0.05e9
    assert abs(loading.config_parameters(loading.paper_config("Qwen/Qwen2-7B")) - 7.62e9) < 0.05e9
