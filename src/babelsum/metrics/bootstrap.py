"""Seeded bootstrap: a confidence interval for a mean, and for the difference of two systems.

Resampling is over documents. The point estimate is the plain mean (not the bootstrap median
that HF `evaluate` reports), and the interval is the percentile interval of the resampled
means. The paired bootstrap (Koehn 2004) draws the same documents for both systems, so the
difference's interval reflects how the two systems differ on the same articles.

Several training seeds (`runs`: one row per seed, one column per article, the same articles
in every row) are resampled at two levels: each resample draws the seeds with replacement,
then the articles with replacement, the same drawn articles for every drawn seed and for both
systems. Every seed is evaluated on the same test articles, so an article's difficulty is
shared by all seeds: drawing the articles once keeps that (drawing them anew within each seed
would treat the seeds' articles as independent and understate the article variance). The
interval then covers both the seed and the article variance. With one run per system this
is the plain paired bootstrap, to the last digit.

A bootstrap p-value from B resamples cannot be smaller than 1/(B+1): below that it is
reported as that floor, with a flag (`p_floor`), and printed as "< floor", never as 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float

    def to_json(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """`system - base`, its interval, and the two-sided bootstrap p-value of no difference.

    `p_floor`: no resample fell on the far side of 0, so `p_value` is the floor 1/(B+1) and
    the true value lies below it.
    """

    delta: float
    low: float
    high: float
    p_value: float
    n: int
    p_floor: bool = False

    def to_json(self) -> dict[str, float]:
        return asdict(self)


Runs = Sequence[Sequence[float]]  # one row per training seed, one column per article

# independent random streams for the seeds drawn of each system (the articles use `seed`)
_BASE_RUNS, _SYSTEM_RUNS = 1, 2


def resample_indices(n: int, samples: int, seed: int | Sequence[int]) -> np.ndarray:
    """`samples` rows of `n` document indices drawn with replacement; the same for a seed."""
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


def resample_runs(runs: int, samples: int, seed: int | Sequence[int], stream: int) -> np.ndarray:
    """`samples` rows of `runs` seed indices drawn with replacement (all 0 for one run)."""
    if runs == 1:
        return np.zeros((samples, 1), dtype=int)
    seeds = [seed] if isinstance(seed, int) else list(seed)
    return np.random.default_rng([*seeds, stream]).integers(0, runs, size=(samples, runs))


def p_floor(samples: int) -> float:
    """The smallest p-value `samples` bootstrap resamples can give: 1/(samples + 1)."""
    return 1 / (samples + 1)


def mean_interval(
    values: Sequence[float],
    *,
    samples: int = 1000,
    seed: int = 0,
    confidence: float = CONFIDENCE,
    indices: np.ndarray | None = None,
) -> Interval:
    """The mean of `values` and its percentile bootstrap interval (NaN for no values).

    Pass `indices` (from `resample_indices`) to resample several metrics of the same
    documents together.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    if indices is None:
        indices = resample_indices(data.size, samples, seed)
    means = data[indices].mean(axis=1)
    low, high = _percentiles(means, confidence)
    return Interval(float(data.mean()), low, high)


def paired_difference(
    base: Sequence[float],
    system: Sequence[float],
    *,
    samples: int = 1000,
    seed: int | Sequence[int] = 0,
    confidence: float = CONFIDENCE,
) -> Difference:
    """`mean(system) - mean(base)` over paired documents, with a paired bootstrap interval.

    The p-value is two-sided: twice the share of resamples on the far side of zero (capped at
    1), so a system against itself gives delta 0 and p = 1; it is never below 1/(B+1).
    """
    a = np.asarray(base, dtype=float)
    b = np.asarray(system, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired bootstrap needs equal lengths, got {a.size} base and {b.size}")
    return seeded_difference([a], [b], samples=samples, seed=seed, confidence=confidence)


def seeded_mean(
    runs: Runs,
    *,
    samples: int = 1000,
    seed: int | Sequence[int] = 0,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The mean over seeds and articles, with an interval that resamples both (module doc)."""
    point, draws = mean_draws(runs, samples, seed)
    if draws is None:
        return Interval(math.nan, math.nan, math.nan)
    return Interval(point, *_percentiles(draws, confidence))


def seeded_difference(
    base: Runs,
    system: Runs,
    *,
    samples: int = 1000,
    seed: int | Sequence[int] = 0,
    confidence: float = CONFIDENCE,
) -> Difference:
    """`mean(system) - mean(base)` over the same articles, each side's seeds resampled on
    their own and the articles drawn once for both (module doc); p-value as
    `paired_difference`'s."""
    a, b = _runs(base), _runs(system)
    point, draws = difference_draws(a, b, samples, seed)
    if draws is None:
        return Difference(math.nan, math.nan, math.nan, math.nan, 0)
    p_value, floored = two_sided_p(draws, samples)
    return Difference(point, *_percentiles(draws, confidence), p_value, a.shape[1], floored)


def relative_change(
    base: Runs,
    system: Runs,
    *,
    samples: int = 1000,
    seed: int | Sequence[int] = 0,
    confidence: float = CONFIDENCE,
) -> Interval:
    """`(mean(system) - mean(base)) / mean(base)` with a percentile interval: numerator and
    denominator come from the same resamples (the same articles and seeds), as the ratio of
    paired means. A resample whose base mean is 0 has no ratio and is left out. Whether a
    base is high enough for a relative change to mean anything is the caller's call."""
    a, b = _runs(base), _runs(system)
    if a.size == 0 or b.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    indices = resample_indices(a.shape[1], samples, seed)
    base_means = _pick(_run_means(a, indices), resample_runs(len(a), samples, seed, _BASE_RUNS))
    system_means = _pick(_run_means(b, indices), resample_runs(len(b), samples, seed, _SYSTEM_RUNS))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(base_means > 0, (system_means - base_means) / base_means, np.nan)
    ratios = ratios[np.isfinite(ratios)]
    base_mean = float(a.mean())
    point = (float(b.mean()) - base_mean) / base_mean if base_mean > 0 else math.nan
    if ratios.size == 0:
        return Interval(point, math.nan, math.nan)
    return Interval(point, *_percentiles(ratios, confidence))


def mean_draws(
    runs: Runs, samples: int, seed: int | Sequence[int]
) -> tuple[float, np.ndarray | None]:
    """The mean of `runs` and its `samples` resampled values (None without articles)."""
    data = _runs(runs)
    if data.size == 0:
        return math.nan, None
    indices = resample_indices(data.shape[1], samples, seed)
    picks = resample_runs(len(data), samples, seed, _SYSTEM_RUNS)
    return float(data.mean()), _pick(_run_means(data, indices), picks)


def difference_draws(
    base: Runs, system: Runs, samples: int, seed: int | Sequence[int]
) -> tuple[float, np.ndarray | None]:
    """`mean(system) - mean(base)` and its `samples` resampled values (None without articles).

    One base run (a base model, which has no training seed) is subtracted article by article
    from every system run first, which with one system run is exactly the paired bootstrap.
    """
    a, b = _runs(base), _runs(system)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(
            f"paired bootstrap needs equal lengths, got {a.shape[-1]} base and {b.shape[-1]}"
        )
    if a.size == 0 or b.size == 0:
        return math.nan, None
    indices = resample_indices(a.shape[1], samples, seed)
    system_picks = resample_runs(len(b), samples, seed, _SYSTEM_RUNS)
    if len(a) == 1:
        diffs = b - a
        return float(diffs.mean()), _pick(_run_means(diffs, indices), system_picks)
    base_picks = resample_runs(len(a), samples, seed, _BASE_RUNS)
    draws = _pick(_run_means(b, indices), system_picks) - _pick(_run_means(a, indices), base_picks)
    return float(b.mean() - a.mean()), draws


def two_sided_p(draws: np.ndarray, samples: int) -> tuple[float, bool]:
    """Twice the share of resampled differences on the far side of 0 (at most 1), and
    whether it fell below the floor 1/(B+1) (it is then reported as the floor)."""
    at_or_below = float(np.mean(draws <= 0))
    at_or_above = float(np.mean(draws >= 0))
    p_value = min(1.0, 2 * min(at_or_below, at_or_above))
    floor = p_floor(samples)
    return (floor, True) if p_value < floor else (p_value, False)


def interval_of(point: float, draws: np.ndarray, confidence: float = CONFIDENCE) -> Interval:
    """`point` with the percentile interval of its resampled values."""
    return Interval(point, *_percentiles(draws, confidence))


def _runs(runs: Runs) -> np.ndarray:
    data = np.asarray(runs, dtype=float)
    if data.ndim == 1:  # one run given flat, or no run at all
        data = data.reshape(1, -1)
    if data.ndim != 2:
        raise ValueError(f"runs must be rows of article scores, got shape {data.shape}")
    return data


def _run_means(runs: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(runs, samples): each run's mean over each resample's articles."""
    return np.stack([row[indices].mean(axis=1) for row in runs])


def _pick(run_means: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """(samples,): each resample's mean over the runs it drew."""
    return run_means[picks, np.arange(picks.shape[0])[:, None]].mean(axis=1)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
