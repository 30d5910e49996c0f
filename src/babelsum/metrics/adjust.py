"""Adjusted p-values for a family of tests: Holm-Bonferroni and Benjamini-Hochberg.

A family is the set of tests one statement draws on, e.g. the cells of one difference
matrix. Holm controls the chance of any false "significant" in the family (family-wise
error); Benjamini-Hochberg the expected share of false ones among those called significant
(false discovery rate), and is less strict. Missing p-values (None, NaN) are not tests: they
are left as None and do not count in the family's size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

Method = Literal["holm", "bh"]
METHOD_NAMES = {"holm": "Holm-Bonferroni", "bh": "Benjamini-Hochberg"}


def adjust(p_values: Sequence[float | None], method: Method) -> list[float | None]:
    """The adjusted p-values of one family, in the order given."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    raise ValueError(f"unknown p-value adjustment {method!r}; use holm or bh")


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm (1979): the i-th smallest of m p-values times (m - i + 1), kept monotone, at most 1."""
    order, m = _tests(p_values)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini and Hochberg (1995): the i-th smallest of m p-values times m / i, made
    monotone from the largest down, at most 1."""
    order, m = _tests(p_values)
    out: list[float | None] = [None] * len(p_values)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, m / (rank + 1) * p_values[i])
        out[i] = running
    return out


def _tests(p_values: Sequence[float | None]) -> tuple[list[int], int]:
    """Positions of the real p-values, smallest first, and how many there are."""
    real = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    return sorted(real, key=lambda i: p_values[i]), len(real)
