"""The confidence interval of a difference of means (difference plots) and the t quantile."""

import math

import pytest

from pcplab.stats.diff import mean_diff
from pcplab.stats.tdist import t_cdf, t_ppf


def test_t_ppf_inverts_the_cdf() -> None:
    assert t_ppf(0.975, 8) == pytest.approx(2.306004135, abs=1e-8)  # R: qt(0.975, 8)
    assert t_ppf(0.975, 58) == pytest.approx(2.001717484, abs=1e-8)  # R: qt(0.975, 58)
    assert t_ppf(0.025, 8) == pytest.approx(-2.306004135, abs=1e-8)
    for q in (0.6, 0.9, 0.999):
        assert t_cdf(t_ppf(q, 5), 5) == pytest.approx(q, abs=1e-12)


def test_welch_interval_by_hand() -> None:
    # means 3 and 4, both SDs sqrt(2.5), n = 5: se = 1, Welch df = 8
    d = mean_diff([1, 2, 3, 4, 5], [2, 3, 4, 5, 6])
    assert d.pct == pytest.approx(-100 / 3)  # pndiff: a third more time is -33.3 %
    assert d.df == pytest.approx(8.0)
    half = 100 * 2.306004135 * 1.0 / 3
    assert (d.low, d.high) == (pytest.approx(-100 / 3 - half), pytest.approx(-100 / 3 + half))
    up = mean_diff([1, 2, 3, 4, 5], [2, 3, 4, 5, 6], higher_is_better=True)
    assert up.pct == pytest.approx(100 / 3) and up.high - up.low == pytest.approx(2 * half)
    assert math.isnan(mean_diff([1.0], [2.0]).low)  # one sample: no interval
    flat = mean_diff([2.0, 2.0], [3.0, 3.0])
    assert flat.low == flat.high == flat.pct  # no spread: the interval has no width
