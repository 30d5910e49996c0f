"""Seeded bootstrap intervals and the paired bootstrap of a difference."""

import math

import numpy as np
import pytest

from babelsum.metrics.bootstrap import mean_interval, paired_difference


def test_mean_interval_is_deterministic_for_a_seed():
    values = np.random.default_rng(1).random(50)
    first = mean_interval(values, samples=1000, seed=7)
    assert first == mean_interval(values, samples=1000, seed=7)
    assert first != mean_interval(values, samples=1000, seed=8)
    assert first.mean == pytest.approx(values.mean())
    assert first.low < first.mean < first.high


def test_mean_interval_of_constant_values_is_a_point():
    interval = mean_interval([0.4] * 10)
    assert interval.low == interval.mean == interval.high == pytest.approx(0.4)


def test_mean_interval_of_nothing_is_nan():
    assert math.isnan(mean_interval([]).mean)


def test_a_system_against_itself_differs_by_zero_with_p_one():
    values = np.random.default_rng(2).random(30)
    diff = paired_difference(values, values)
    assert diff.delta == 0 and diff.low == 0 and diff.high == 0
    assert diff.p_value == 1.0


def test_a_clearly_better_system_has_an_interval_above_zero():
    rng = np.random.default_rng(3)
    base = rng.random(100) * 0.3
    better = base + 0.2 + rng.normal(0, 0.02, 100)
    diff = paired_difference(base, better, samples=2000, seed=0)
    assert diff.delta == pytest.approx(float(np.mean(better - base)))
    assert 0 < diff.low < diff.delta < diff.high
    assert diff.p_value < 0.01
    reverse = paired_difference(better, base, samples=2000, seed=0)
    assert reverse.high < 0


def test_pairing_removes_the_spread_between_documents():
    """Hard and easy documents shift both systems alike: paired intervals stay narrow."""
    difficulty = np.linspace(0, 1, 40)
    paired = paired_difference(difficulty, difficulty + 0.01)
    assert paired.high - paired.low < 1e-9
    assert paired.low > 0


def test_paired_difference_needs_equal_lengths():
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0, 2.0], [1.0])
