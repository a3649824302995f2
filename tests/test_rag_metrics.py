"""Answer and retrieval metrics on worked examples (Chinese and English, every gold shape).

The expected values are computed by hand in the comments from the official DomainRAG evaluator's rules
(``BCM/evaluation/Evaluator.py``): EM = gold ⊂ prediction, parts averaged and the best alternative
kept; EMS = equality; the official F1 counts the characters of the jieba-joined strings, spaces
included; ROUGE is rouge_chinese on jieba words.
"""

from __future__ import annotations

import pytest

from reprobook.checks import ParameterError
from reprobook.rag import metrics as M
from reprobook.rag.text import jieba_join, words


def test_segmentation_the_examples_rely_on():
    # jieba 0.42.1's default dictionary
    assert words("招生人数为80人") == ["招生人数", "为", "80", "人"]
    assert words("中国人民大学的校长是谁？") == ["中国人民大学", "的", "校长", "是", "谁"]  # punctuation dropped
    assert jieba_join("80人") == "80 人"
    assert jieba_join("a b") == "a   b"  # the space is a token of its own: joined, it becomes three


# --------------------------------------------------------------------------------------------- EM / EMS
def test_exact_match_gold_shapes():
    # a string, alternatives, alternatives of parts
    assert M.exact_match("校长是林尚立。", "林尚立") == 1.0
    assert M.exact_match("招生人数为80人", ["80人", "80"]) == 1.0
    assert M.exact_match("招生人数为七十人", ["80人", "80"]) == 0.0
    # one alternative of three parts, two of them present: 2/3
    assert M.exact_match("汉语和法语", [["汉语", "法语", "英语"]]) == pytest.approx(2 / 3)
    # the best alternative counts: [汉语, 法语] is complete
    assert M.exact_match("汉语和法语", [["汉语", "英语"], ["汉语", "法语"]]) == 1.0


def test_exact_match_english_and_normalisation():
    assert M.exact_match("The answer is Paris.", ["Paris"]) == 1.0
    # the official evaluator compares as is (identity), so case matters ...
    assert M.exact_match("the answer is PARIS", ["Paris"]) == 0.0
    # ... unless SQuAD's normalisation is asked for
    assert M.exact_match("the answer is PARIS", ["Paris"], normalize=M.normalize_answer) == 1.0
    assert M.normalize_answer("The  Cat, sat!") == "cat sat"


def test_exact_match_strict():
    assert M.exact_match_strict("80人", ["80人", "80"]) == 1.0
    assert M.exact_match_strict("答案80人", ["80人", "80"]) == 0.0
    # parts: the prediction equals one of two parts
    assert M.exact_match_strict("汉语", [["汉语", "英语"]]) == 0.5
    assert M.exact_match_strict("Paris", "Paris") == 1.0


# --------------------------------------------------------------------------------------------- F1
def test_official_f1_counts_characters_and_spaces():
    # "a   b" vs "a   c": common a + 3 spaces = 4 of 5 characters each → P = R = 4/5 → F1 = 0.8
    assert M.f1_jieba_chars("a b", "a c") == pytest.approx(0.8)
    # the token-level F1 sees one common word of two: 0.5
    assert M.f1_tokens("a b", "a c") == pytest.approx(0.5)


def test_f1_chinese_alternatives():
    pred, golds = "招生人数为80人", ["80人", "80"]
    # tokens: [招生人数, 为, 80, 人] vs [80, 人] → P = 2/4, R = 1 → 2/3 (vs [80]: 0.4); best 2/3
    assert M.f1_tokens(pred, golds) == pytest.approx(2 / 3)
    # characters: "招生人数 为 80 人" (11) vs "80 人" (4): common 8, 0, 人, one space = 4 → P 4/11, R 1 → 8/15
    assert M.f1_jieba_chars(pred, golds) == pytest.approx(8 / 15)


def test_f1_list_of_lists_joins_the_parts():
    pred, golds = "汉语和法语", [["汉语", "法语", "英语"]]
    # tokens: [汉语, 和, 法语] vs [汉语, 法语, 英语] → 2 common → 2/3
    assert M.f1_tokens(pred, golds) == pytest.approx(2 / 3)
    # characters: "汉语 和 法语" (7) vs "汉语   法语   英语" (12): common 汉, 语 ×2, 法, 2 spaces = 6
    # P = 6/7, R = 6/12 → F1 = 12/19
    assert M.f1_jieba_chars(pred, golds) == pytest.approx(12 / 19)


# --------------------------------------------------------------------------------------------- ROUGE
def test_rouge_english_by_hand():
    r1, r2, rl = M.rouge_scores("the cat sat", "the cat")
    # unigrams P = 2/3, R = 1 → 0.8; bigrams P = 1/2, R = 1 → 2/3; LCS 2 → 0.8
    assert (r1, r2, rl) == pytest.approx((0.8, 2 / 3, 0.8), abs=1e-6)


def test_rouge_chinese_alternatives_and_empty():
    r1, r2, rl = M.rouge_scores("招生人数为80人", ["80人", "八十人"])
    # [招生人数, 为, 80, 人] vs [80, 人]: R1 = 2/3; bigrams 1 of 3 vs 1 of 1 → 0.5; LCS 2 → 2/3
    assert (r1, r2, rl) == pytest.approx((2 / 3, 0.5, 2 / 3), abs=1e-6)
    assert M.rouge_scores("", ["80人"]) == (0.0, 0.0, 0.0)
    assert M.rouge_scores("  ", ["80人"]) == (0.0, 0.0, 0.0)  # no words: the library refuses, the evaluator scores 0
    assert M.rouge_scores("80人", "80人") == pytest.approx((1.0, 1.0, 1.0), abs=1e-6)


def test_score_answer_has_every_metric():
    s = M.score_answer("汉语和法语", [["汉语", "法语", "英语"]])
    assert set(s) == set(M.METRICS)
    assert s["em"] == pytest.approx(2 / 3) and s["ems"] == 0.0


@pytest.mark.parametrize("golds", [[], [["汉语"], "英语"], [[]], 3])
def test_bad_golds_are_named(golds):
    with pytest.raises(ParameterError, match="golds"):
        M.exact_match("汉语", golds)


# --------------------------------------------------------------------------------------------- retrieval
def test_recall_hit_and_reciprocal_rank():
    ranked = ["a", "b", "c", "d"]
    assert M.recall_at_k(ranked, "c", 2) == 0.0 and M.recall_at_k(ranked, "c", 3) == 1.0
    assert M.recall_at_k(ranked, {"b", "z"}, 4) == 0.5  # one of two golden passages found
    assert M.hit_at_k(ranked, {"b", "z"}, 2) == 1.0
    assert M.reciprocal_rank(ranked, {"c", "d"}) == pytest.approx(1 / 3)
    assert M.reciprocal_rank(ranked, "z") == 0.0
    with pytest.raises(ParameterError, match="'k'"):
        M.recall_at_k(ranked, "a", 0)
