"""The t distribution from the incomplete beta function, against closed forms and tables."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcplab.stats.tdist import betainc, t_cdf, t_sf_two_sided


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [
        # two-sided critical values from standard t tables
        (12.706205, 1, 0.05),
        (2.306004, 8, 0.05),
        (1.859548, 8, 0.10),
        (3.355387, 8, 0.01),
        (2.042272, 30, 0.05),
        (1.697261, 30, 0.10),
        (1.959964, 1e7, 0.05),
    ],
)
def test_table_critical_values(t: float, df: float, p: float) -> None:
    assert t_sf_two_sided(t, df) == pytest.approx(p, rel=1e-5)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=-50, max_value=50, allow_nan=False))
def test_closed_forms_df1_df2(t: float) -> None:
    # Cauchy (df=1) and df=2 have elementary CDFs
    assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
    assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)


def test_worked_example_p_value() -> None:
    # mmtests-pft.md §6.2: t = 4.376, df = 8 -> p = 0.0024
    assert round(t_sf_two_sided(4.376, 8), 4) == 0.0024


def test_betainc_known_values_and_symmetry() -> None:
    assert betainc(1, 1, 0.3) == pytest.approx(0.3)  # uniform
    assert betainc(2, 3, 0.4) == pytest.approx(0.5248)  # 1 - sum of binomial terms, by hand
    for a, b, x in [(0.5, 4.0, 0.2), (15.0, 0.5, 0.9), (3.0, 7.0, 0.65)]:
        assert betainc(a, b, x) == pytest.approx(1 - betainc(b, a, 1 - x), abs=1e-13)
    assert betainc(2, 2, 0.0) == 0.0 and betainc(2, 2, 1.0) == 1.0
    with pytest.raises(ValueError):
        betainc(0, 1, 0.5)


def test_tails_are_monotone() -> None:
    ps = [t_sf_two_sided(t / 10, 5) for t in range(0, 100)]
    assert ps[0] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(ps, ps[1:], strict=False))
