"""Seeded bootstrap intervals and the paired bootstrap of a difference."""

import math

import numpy as np
import pytest

from babelsum.metrics.bootstrap import (
    mean_interval,
    p_floor,
    paired_difference,
    relative_change,
    seeded_difference,
    seeded_mean,
)


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


def test_a_p_value_is_never_zero_but_the_floor_with_a_flag():
    """Every resampled difference is above 0: the p-value is the floor 1/(B+1), flagged."""
    diff = paired_difference([0.1] * 20, [0.6] * 20, samples=200, seed=0)
    assert diff.p_value == pytest.approx(1 / 201) and diff.p_value == p_floor(200)
    assert diff.p_floor is True
    close = paired_difference([0.5, 0.4, 0.6, 0.5], [0.5, 0.5, 0.5, 0.5], samples=200, seed=0)
    assert close.p_value > p_floor(200) and close.p_floor is False


def test_one_run_per_system_is_the_plain_paired_bootstrap():
    rng = np.random.default_rng(4)
    base, system = rng.random(30), rng.random(30)
    assert seeded_difference([base], [system], samples=500, seed=3) == paired_difference(
        base, system, samples=500, seed=3
    )
    assert seeded_mean([system], samples=500, seed=3) == mean_interval(system, samples=500, seed=3)


def test_relative_change_resamples_numerator_and_denominator_together():
    """A system at twice the base on every article is +100% in every resample: a point
    interval (resampled apart, the ratio would scatter)."""
    base = np.random.default_rng(5).random(40) * 0.5 + 0.1
    change = relative_change([base], [2 * base], samples=300, seed=0)
    assert change.mean == pytest.approx(1.0)
    assert change.low == pytest.approx(1.0) and change.high == pytest.approx(1.0)


def test_relative_change_has_an_interval_around_its_ratio_of_means():
    rng = np.random.default_rng(6)
    base = rng.random(50) * 0.4 + 0.1
    system = base + rng.normal(0.1, 0.1, 50)
    change = relative_change([base], [system], samples=1000, seed=0)
    assert change.mean == pytest.approx((system.mean() - base.mean()) / base.mean())
    assert change.low < change.mean < change.high


def test_relative_change_over_a_zero_base_has_no_number():
    change = relative_change([[0.0] * 5], [[0.3] * 5], samples=100, seed=0)
    assert math.isnan(change.mean) and math.isnan(change.low)


def test_several_seeds_widen_the_interval_beyond_each_seeds_own():
    """Two seeds at different levels: the mean over seeds, and an interval that covers the
    seed variance as well as the article variance."""
    rng = np.random.default_rng(7)
    articles = rng.random(40) * 0.2
    seed0, seed1 = articles + 0.5, articles + 0.3 + rng.normal(0, 0.02, 40)
    both = seeded_mean([seed0, seed1], samples=1000, seed=0)
    assert both.mean == pytest.approx((seed0.mean() + seed1.mean()) / 2)
    for one in (seed0, seed1):
        alone = mean_interval(one, samples=1000, seed=0)
        assert both.high - both.low > alone.high - alone.low
    assert both.low < seed1.mean() + 0.01 and both.high > seed0.mean() - 0.01


def test_seeded_difference_against_one_base_run():
    base = np.linspace(0.1, 0.3, 20)
    diff = seeded_difference([base], [base + 0.1, base + 0.3], samples=500, seed=0)
    assert diff.delta == pytest.approx(0.2) and diff.n == 20
    assert diff.low == pytest.approx(0.1) and diff.high == pytest.approx(0.3)
    assert diff.p_floor is True


def test_seeds_on_both_sides_are_resampled_each_on_their_own():
    """Base seeds 0.2 apart, system seeds alike: the difference's interval spans what the
    base seeds drawn can give (both low, one each, both high), articles paired."""
    articles = np.linspace(0.1, 0.3, 20)
    diff = seeded_difference(
        [articles, articles + 0.2], [articles + 0.5, articles + 0.5], samples=1000, seed=0
    )
    assert diff.delta == pytest.approx(0.4)
    assert diff.low == pytest.approx(0.3) and diff.high == pytest.approx(0.5)
