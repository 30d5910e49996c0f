"""Adjusted p-values against values computed by hand."""

import pytest

from babelsum.metrics.adjust import adjust, benjamini_hochberg, holm

P = [0.01, 0.04, 0.03, 0.005]


def test_holm_by_hand():
    # sorted: 0.005 x4 = 0.02; 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> kept at 0.06
    assert holm(P) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_by_hand():
    # sorted: 0.005 x4/1 = 0.02; 0.01 x4/2 = 0.02; 0.03 x4/3 = 0.04; 0.04 x4/4 = 0.04,
    # then the running minimum from the largest down
    assert benjamini_hochberg(P) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_adjusted_p_values_stay_at_most_one():
    assert holm([0.6, 0.7]) == [1.0, 1.0]
    assert benjamini_hochberg([0.6, 0.7]) == pytest.approx([0.7, 0.7])


def test_missing_p_values_are_not_tests():
    assert holm([0.01, None, float("nan"), 0.04]) == pytest.approx([0.02, None, None, 0.04])
    assert benjamini_hochberg([None, 0.02]) == [None, 0.02]


def test_one_test_is_not_adjusted():
    assert holm([0.03]) == benjamini_hochberg([0.03]) == [0.03]


def test_adjust_chooses_the_method():
    assert adjust(P, "holm") == holm(P)
    assert adjust(P, "bh") == benjamini_hochberg(P)
    with pytest.raises(ValueError, match="unknown p-value adjustment 'bonferroni'"):
        adjust(P, "bonferroni")  # type: ignore[arg-type]
