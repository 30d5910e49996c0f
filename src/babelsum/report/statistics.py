"""How the report's numbers are tested: the settings, adjusted p-values, and p as text.

Every "significant" (a star, "the difference is above 0") rests on a p-value adjusted within
its family (`evaluate.p_adjust`: Holm-Bonferroni by default, or Benjamini-Hochberg):
- a difference-from-base matrix: the cells of one (model, method, test set, metric), and for
  several seeds one family per seed as well (cells.csv lists the seeds' own p-values);
- the judge's differences of one (model, method, test set);
- a method comparison: every cell of one (method pair, test set, metric).
A p-value from B bootstrap resamples is never below 1/(B+1); one that fell below is stored as
that floor with a flag and printed as "< floor". An adjusted p-value made from a floored one
is an upper bound as well, and is printed the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from babelsum.metrics.adjust import METHOD_NAMES, adjust
from babelsum.metrics.bootstrap import CONFIDENCE, p_floor

if TYPE_CHECKING:
    from babelsum.config import SweepConfig

ALPHA = round(1 - CONFIDENCE, 10)  # the level of every "significant"


@dataclass(frozen=True)
class Statistics:
    samples: int = 1000  # bootstrap resamples
    seed: int = 0
    relative_floor: float = 0.05
    p_adjust: str = "holm"
    health_flag_share: float = 0.2

    @classmethod
    def of(cls, config: SweepConfig) -> Statistics:
        e = config.evaluate
        return cls(
            e.bootstrap_samples, config.seed, e.relative_floor, e.p_adjust, e.health_flag_share
        )

    @property
    def adjustment(self) -> str:
        return METHOD_NAMES.get(self.p_adjust, self.p_adjust)


def adjust_families(
    tests: Iterable[dict[str, Any]], family: Callable[[dict[str, Any]], tuple], method: str
) -> None:
    """Write `p_adjusted` into each test dict (a `Difference.to_json()`: `p_value`, `p_floor`),
    adjusting within the families `family(test)` names. A test without a p-value gets None."""
    families: dict[tuple, list[dict[str, Any]]] = {}
    for test in tests:
        families.setdefault(family(test), []).append(test)
    for members in families.values():
        adjusted = adjust([_number(t.get("p_value")) for t in members], method)  # type: ignore[arg-type]
        for test, value in zip(members, adjusted, strict=True):
            test["p_adjusted"] = value


def with_floor(p: float | None, samples: int) -> tuple[float | None, bool]:
    """A p-value from elsewhere (the judge stage, an older run) raised to the floor 1/(B+1),
    and whether it was at or below it."""
    if _number(p) is None:
        return None, False
    floor = p_floor(samples)
    return (floor, True) if p <= floor * (1 + 1e-9) else (p, False)


def significant(test: dict[str, Any] | None) -> int:
    """+1 / -1 when an adjusted p-value says the difference is above / below 0, else 0."""
    if not test or test.get("p_adjusted") is None or test["p_adjusted"] >= ALPHA:
        return 0
    delta = test.get("delta")
    return 0 if delta is None else 1 if delta > 0 else -1 if delta < 0 else 0


def p_text(p: float | None, floored: bool = False) -> str:
    """ "0.034", "< 0.005" (a floor: the true value is below), or "n/a"."""
    if p is None or math.isnan(p):
        return "n/a"
    if floored:
        return f"< {_round_up(p):g}"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _round_up(p: float) -> float:
    """`p` rounded up to one significant digit, so "< x" stays true (1/1001 -> 0.001)."""
    if p <= 0:
        return p
    unit = 10 ** math.floor(math.log10(p))
    return math.ceil(round(p / unit, 9)) * unit


def _number(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x
