"""Seeded bootstrap: a confidence interval for a mean, and for the difference of two systems.

Resampling is over documents. The point estimate is the plain mean (not the bootstrap median
that HF `evaluate` reports), and the interval is the percentile interval of the resampled
means. The paired bootstrap (Koehn 2004) draws the same documents for both systems, so the
difference's interval reflects how the two systems differ on the same articles.
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
    """`system - base`, its interval, and the two-sided bootstrap p-value of no difference."""

    delta: float
    low: float
    high: float
    p_value: float
    n: int

    def to_json(self) -> dict[str, float]:
        return asdict(self)


def resample_indices(n: int, samples: int, seed: int) -> np.ndarray:
    """`samples` rows of `n` document indices drawn with replacement; the same for a seed."""
    return np.random.default_rng(seed).integers(0, n, size=(samples, n))


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
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> Difference:
    """`mean(system) - mean(base)` over paired documents, with a paired bootstrap interval.

    The p-value is two-sided: twice the share of resamples on the far side of zero (capped at
    1), so a system against itself gives delta 0 and p = 1.
    """
    a = np.asarray(base, dtype=float)
    b = np.asarray(system, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired bootstrap needs equal lengths, got {a.size} base and {b.size}")
    if a.size == 0:
        return Difference(math.nan, math.nan, math.nan, math.nan, 0)
    diffs = b - a
    deltas = diffs[resample_indices(diffs.size, samples, seed)].mean(axis=1)
    low, high = _percentiles(deltas, confidence)
    at_or_below = float(np.mean(deltas <= 0))
    at_or_above = float(np.mean(deltas >= 0))
    p_value = min(1.0, 2 * min(at_or_below, at_or_above))
    return Difference(float(diffs.mean()), low, high, p_value, int(diffs.size))


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
