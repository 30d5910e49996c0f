"""p-values as the report prints them, and what counts as significant."""

from babelsum.metrics.bootstrap import p_floor
from babelsum.report.statistics import p_text, significant, with_floor


def test_a_floored_p_value_is_printed_as_an_upper_bound_never_zero():
    assert p_text(p_floor(1000), floored=True) == "< 0.001"
    assert p_text(p_floor(200), floored=True) == "< 0.005"
    assert p_text(4 * p_floor(200), floored=True) == "< 0.02"  # Holm x4 of a floor
    assert p_text(0.0342) == "0.034" and p_text(None) == "n/a"


def test_p_values_from_elsewhere_get_the_floor():
    """The judge stage's p-values (or an older run's) of 0 become the floor, flagged."""
    assert with_floor(0.0, 200) == (p_floor(200), True)
    assert with_floor(0.3, 200) == (0.3, False)
    assert with_floor(None, 200) == (None, False)


def test_significance_reads_the_adjusted_p_value():
    assert significant({"delta": 0.2, "p_value": 0.01, "p_adjusted": 0.04}) == 1
    assert significant({"delta": -0.2, "p_value": 0.01, "p_adjusted": 0.04}) == -1
    # significant before adjustment, not after
    assert significant({"delta": 0.2, "p_value": 0.01, "p_adjusted": 0.08}) == 0
    assert significant(None) == 0 and significant({"delta": 0.2, "p_value": 0.01}) == 0
