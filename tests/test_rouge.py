"""The book's English ROUGE-L: Google's rouge-score, checked against hand-computed LCS scores."""

import pytest

from reprobook.rouge import rouge_l


def test_rouge_l_against_a_hand_lcs():
    # words: "the cat sat on the mat" vs "the cat is on the mat": LCS "the cat on the mat" = 5 of 6 each
    assert rouge_l("The cat sat on the mat.", "the cat is on the mat") == pytest.approx(5 / 6)
    # P = 2/3, R = 1: F = 2PR / (P + R) = 0.8 (not Lin's β-weighted form, which gives 0.74 here)
    assert rouge_l("denver broncos won", "denver broncos") == pytest.approx(0.8)
    assert rouge_l("", "anything") == 0.0 and rouge_l("Same words", "same words!") == pytest.approx(1.0)


def test_rouge_l_keeps_the_best_reference_and_scores_no_reference_zero():
    refs = ["carolina panthers", "denver broncos", "broncos"]
    assert rouge_l("denver broncos won", refs) == pytest.approx(0.8)
    assert rouge_l("denver broncos won", []) == 0.0
    # words are runs of ASCII letters and digits, lower-cased, no stemming
    assert rouge_l("Cats ran", "cat runs") == 0.0 and rouge_l("B-52s!", "b 52s") == pytest.approx(1.0)
