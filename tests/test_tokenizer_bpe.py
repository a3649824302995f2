"""The Baichuan-2-style BPE tokenizer: exact round trip, digit splitting, byte fallback, no normalisation,
vocabularies cut from one run, the compression rate."""

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from reprobook.alignment import tokenizer as T
from reprobook.checks import ParameterError

ENGLISH = ("The quick brown fox jumps over the lazy dog in 1998. Students asked 12 questions about the "
           "university, and 345 of them were answered by the admissions office. ")
CHINESE = "中国人民大学文学院的前身是1939年成立的华北联合大学文艺学院。新华社记者报道了新年讲话。我们欢迎学生报考。"
CORPUS = [ENGLISH * 3, CHINESE * 3, ENGLISH + CHINESE, "  indented   code\n\tline two\n" * 2] * 5


@pytest.fixture(scope="module")
def trained():
    return T.train_bpe(CORPUS, 700, coverage=1.0)


@pytest.fixture(scope="module")
def tok(trained):
    return T.truncate(trained, trained.max_vocab_size)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_decode_encode_is_the_identity_on_any_unicode(tok, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list("▁</s> <0x41>\n\t 中文abc123")), max_size=60))
def test_round_trip_survives_the_symbols_other_tokenizers_treat_specially(tok, text):
    # SentencePiece's "▁", literal special-token and byte-token spellings are plain text here
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert tok.eos_token_id not in ids and tok.bos_token_id not in ids


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(categories=("Nd",)) | st.sampled_from(list(" ab中,.")), max_size=80))
def test_every_digit_is_a_token_of_its_own(tok, text):
    pieces = tok.convert_ids_to_tokens(tok(text, add_special_tokens=False)["input_ids"])
    for piece in pieces:
        if piece in T.BYTE_TOKENS:  # one byte of a character outside the alphabet
            continue
        if any(unicodedata.category(c) == "Nd" for c in piece):
            assert len(piece.lstrip(" ")) == 1, pieces  # one digit, at most with the space before it


def test_digits_of_a_number_are_split(tok):
    pieces = tok.convert_ids_to_tokens(tok("in 1998 and 12345", add_special_tokens=False)["input_ids"])
    assert [p.strip() for p in pieces if p.strip().isdigit()] == list("1998") + list("12345")


def test_characters_outside_the_alphabet_fall_back_to_bytes(trained, tok):
    assert "😀" not in trained.alphabet
    pieces = tok.convert_ids_to_tokens(tok("😀", add_special_tokens=False)["input_ids"])
    assert pieces == ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"]
    assert T.byte_fallback_share(tok, ["😀"]) == 1.0
    assert T.byte_fallback_share(tok, [ENGLISH]) == 0.0


def test_no_normalisation(tok):
    composed, decomposed = "é", unicodedata.normalize("NFD", "é")
    for text in (composed, decomposed, "ｆｕｌｌ　ｗｉｄｔｈ１２", "two  spaces\r\n"):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
    assert tok(composed, add_special_tokens=False)["input_ids"] != tok(decomposed, add_special_tokens=False)["input_ids"]


def test_a_cut_vocabulary_equals_a_run_trained_at_that_size(trained):
    # BPE is greedy: stopping earlier gives the first merges of the longer run
    size = trained.min_vocab_size + 60
    direct = T.train_bpe(CORPUS, size, coverage=1.0)
    assert direct.merges == trained.merges[:60]
    assert direct.alphabet == trained.alphabet
    cut, again = T.truncate(trained, size), T.truncate(direct, size)
    assert cut.get_vocab() == again.get_vocab()
    for text in CORPUS[:4]:
        assert cut(text)["input_ids"] == again(text)["input_ids"]


def test_vocabulary_size_and_layout(trained):
    tok = T.truncate(trained, trained.min_vocab_size + 10)
    assert len(tok) == trained.min_vocab_size + 10
    assert tok.convert_ids_to_tokens([0, 1, 2, 257]) == ["<s>", "</s>", "<0x00>", "<0xFF>"]
    assert tok.eos_token_id == 1 and tok.pad_token_id == 1


def test_character_alphabet_keeps_the_covering_characters():
    texts = ["a" * 90 + "b" * 9 + "c"]
    assert T.character_alphabet(texts, 0.9) == ["a"]
    assert T.character_alphabet(texts, 0.99) == ["a", "b"]
    assert T.character_alphabet(texts, 1.0) == ["a", "b", "c"]
    with pytest.raises(ParameterError, match="coverage"):
        T.character_alphabet(texts, 1.5)


def test_compression_rate_is_tokens_per_character(trained, tok):
    texts = ["1234", "ab"]  # four digit tokens; "ab" is at least one token
    n_ab = len(tok("ab", add_special_tokens=False)["input_ids"])
    assert T.compression_rate(tok, texts) == pytest.approx((4 + n_ab) / 6)
    # without merges every (covered) character is one token; merges only lower the rate
    alphabet_only = T.truncate(trained, trained.min_vocab_size)
    assert T.compression_rate(alphabet_only, [CHINESE]) == 1.0
    assert T.compression_rate(tok, [CHINESE]) < 1.0


def test_bad_sizes_are_named(trained):
    with pytest.raises(ParameterError, match="vocab_size"):
        T.truncate(trained, trained.min_vocab_size - 1)
    with pytest.raises(ParameterError, match="vocab_size"):
        T.train_bpe(CORPUS, 10)
    with pytest.raises(ParameterError, match="texts"):
        T.compression_rate(None, [""])


def test_the_study_measures_every_size_and_the_references(trained):
    held = {"en": [ENGLISH], "zh": [CHINESE]}
    sizes = (trained.min_vocab_size, trained.min_vocab_size + 40)
    ref = T.truncate(trained, trained.min_vocab_size)
    study = T.tokenizer_study(CORPUS, held, vocab_sizes=sizes, coverage=1.0, references={"plain": ref},
                              paper={"Baichuan 2": (125696, 0.498)})
    assert list(study.table.tokenizer) == [f"BPE {sizes[0]:,}", f"BPE {sizes[1]:,}", "plain"]
    t = study.table.set_index("tokenizer")
    assert t.loc["plain", "tokens/char en"] == pytest.approx(t.loc[f"BPE {sizes[0]:,}", "tokens/char en"])
    assert t.loc[f"BPE {sizes[1]:,}", "tokens/char mixed"] < t.loc[f"BPE {sizes[0]:,}", "tokens/char mixed"]
    assert study.roundtrip_docs == 2
    assert len(study.per_document[("plain", "zh")]) == 1
    with pytest.raises(ParameterError, match="vocab_sizes"):
        T.tokenizer_study(CORPUS, held, vocab_sizes=(sizes[0],), coverage=1.0)
