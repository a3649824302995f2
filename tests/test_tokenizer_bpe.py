"""The tokenizer at Baichuan 2's settings (SentencePiece BPE): exact round trip, digit splitting, byte
fallback, no normalisation, whitespace kept, the compression rate and the study."""

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprobook.alignment import tokenizer as T
from reprobook.checks import ParameterError

ENGLISH = (
    "The quick brown fox jumps over the lazy dog in 1998. Students asked 12 questions about the "
    "university, and 345 of them were answered by the admissions office. "
)
CHINESE = "中国人民大学文学院的前身是1939年成立的华北联合大学文艺学院。新华社记者报道了新年讲话。我们欢迎学生报考。"
CORPUS = [ENGLISH * 3, CHINESE * 3, ENGLISH + CHINESE, "  indented   code\n\tline two\n" * 2] * 5


@pytest.fixture(scope="module")
def tok():
    return T.train_sentencepiece(CORPUS, 420, coverage=1.0)


def test_the_trainer_gets_baichuan_2_s_settings(monkeypatch):
    import sentencepiece as spm

    seen = {}
    original = spm.SentencePieceTrainer.train

    def spy(**kwargs):
        seen.update(kwargs)
        return original(**kwargs)

    monkeypatch.setattr(spm.SentencePieceTrainer, "train", spy)
    T.train_sentencepiece(CORPUS, 420, coverage=1.0)
    assert {
        k: seen[k]
        for k in (
            "model_type",
            "split_digits",
            "byte_fallback",
            "normalization_rule_name",
            "add_dummy_prefix",
            "remove_extra_whitespaces",
            "allow_whitespace_only_pieces",
            "max_sentencepiece_length",
        )
    } == {
        "model_type": "bpe",
        "split_digits": True,
        "byte_fallback": True,
        "normalization_rule_name": "identity",
        "add_dummy_prefix": False,
        "remove_extra_whitespaces": False,
        "allow_whitespace_only_pieces": True,
        "max_sentencepiece_length": 32,
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\u2581\x00"), max_size=200))
def test_decode_encode_is_the_identity_on_text_without_the_space_symbol(tok, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert tok.eos_token_id not in ids and tok.bos_token_id not in ids


def test_sentencepiece_s_space_symbol_decodes_to_a_space(tok):
    # the one documented exception to the round trip: "▁" is SentencePiece's own spelling of a space
    assert tok.decode(tok.encode("a\u2581b")) == "a b"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(categories=("Nd",)) | st.sampled_from(list(" ab中,.")), max_size=80))
def test_every_digit_is_a_token_of_its_own(tok, text):
    byte_ids = tok.byte_ids()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    for i, piece in zip(ids, tok.convert_ids_to_tokens(ids)):
        if i in byte_ids:  # one byte of a character outside the vocabulary
            continue
        if any(unicodedata.category(c) == "Nd" for c in piece):
            assert len(piece.lstrip("\u2581")) == 1, piece


def test_digits_of_a_number_are_split(tok):
    pieces = tok.convert_ids_to_tokens(tok("in 1998 and 12345", add_special_tokens=False)["input_ids"])
    assert [p.strip("\u2581") for p in pieces if p.strip("\u2581").isdigit()] == list("1998") + list("12345")


def test_characters_outside_the_vocabulary_fall_back_to_bytes(tok):
    pieces = tok.convert_ids_to_tokens(tok("😀", add_special_tokens=False)["input_ids"])
    assert pieces == ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"]
    assert T.byte_fallback_share(tok, ["😀"]) == 1.0
    assert T.byte_fallback_share(tok, [ENGLISH]) == 0.0


def test_no_normalisation_and_whitespace_kept(tok):
    composed, decomposed = "é", unicodedata.normalize("NFD", "é")
    for text in (composed, decomposed, "ｆｕｌｌ　ｗｉｄｔｈ１２", "two  spaces\r\n", "  lead", "trail  "):
        assert tok.decode(tok(text)["input_ids"]) == text
    assert tok(composed)["input_ids"] != tok(decomposed)["input_ids"]


def test_vocabulary_size_and_special_ids(tok):
    assert len(tok) == 420
    assert tok.convert_ids_to_tokens([0, 1, 2]) == ["<s>", "</s>", "<unk>"]
    assert tok.eos_token_id == 1 and tok.pad_token_id == 1 and len(tok.byte_ids()) == 256
    assert tok("ab", add_special_tokens=True)["input_ids"][0] == tok.bos_token_id


def test_compression_rate_is_tokens_per_character(tok):
    texts = ["1234", "ab"]  # four digit tokens; "ab" is at least one token
    n_ab = len(tok("ab")["input_ids"])
    assert T.compression_rate(tok, texts) == pytest.approx((4 + n_ab) / 6)
    small = T.train_sentencepiece(CORPUS, 350, coverage=1.0)
    assert T.compression_rate(tok, [CHINESE]) < T.compression_rate(small, [CHINESE]) <= 1.0


def test_bad_sizes_are_named():
    with pytest.raises(ParameterError, match="vocab_size"):
        T.train_sentencepiece(CORPUS, 100_000, coverage=1.0)  # more pieces than the text allows
    with pytest.raises(ParameterError, match="vocab_size"):
        T.train_sentencepiece(CORPUS, 10)
    with pytest.raises(ParameterError, match="texts"):
        T.compression_rate(None, [""])


def test_the_study_measures_every_size_and_the_references(tok):
    held = {"en": [ENGLISH], "zh": [CHINESE]}
    study = T.tokenizer_study(
        CORPUS,
        held,
        vocab_sizes=(350, 420),
        coverage=1.0,
        references={"plain": tok},
        paper={"Baichuan 2": (125696, 0.498)},
    )
    assert list(study.table.tokenizer) == ["BPE 350", "BPE 420", "plain"]
    t = study.table.set_index("tokenizer")
    assert t.loc["plain", "tokens/char en"] == pytest.approx(t.loc["BPE 420", "tokens/char en"])
    assert study.facts.monotone == (t.loc["BPE 420", "tokens/char mixed"] < t.loc["BPE 350", "tokens/char mixed"])
    assert study.facts.roundtrip_docs == study.facts.roundtrip_candidates == 2
    assert len(study.per_document[("plain", "zh")]) == 1
    with pytest.raises(ParameterError, match="vocab_sizes"):
        T.tokenizer_study(CORPUS, held, vocab_sizes=(350,), coverage=1.0)
