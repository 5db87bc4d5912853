"""Summary rows, % columns and significance against hand calculations (mmtests-pft.md §5, §6)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcplab.stats import pdiff, pndiff, significance, summarise
from pcplab.stats.summary import best_count, hmean, hstddev, stddev

BASE_SYS = [10.20, 10.35, 10.10, 10.25, 10.40]
NEW_SYS = [10.60, 10.45, 10.70, 10.55, 10.50]


def test_hand_calculation_system_4() -> None:
    b = summarise("system-4", BASE_SYS, higher_is_better=False)
    n = summarise("system-4", NEW_SYS, higher_is_better=False)
    assert b.mean == pytest.approx(10.26) and n.mean == pytest.approx(10.56)
    assert b.spread == pytest.approx(0.11937, abs=1e-5)
    assert n.spread == pytest.approx(0.09618, abs=1e-5)
    assert b.row("BAmean-50").value == pytest.approx(10.15)
    assert n.row("BAmean-50").value == pytest.approx(10.475)
    assert pndiff(n.mean, b.mean) == pytest.approx(-2.9240, abs=1e-4)
    ci = significance(b, n, "ci")
    assert not ci.significant and ci.statistic == pytest.approx(-0.710, abs=1e-3)
    tt = significance(b, n, "ttest")
    assert tt.significant and tt.statistic == pytest.approx(0.0024, abs=1e-4)


def test_pdiff_pndiff_sign_convention_and_edges() -> None:
    assert pndiff(58.92, 58.52) == pytest.approx(-0.6835, abs=1e-4)  # more time = worse
    assert pdiff(90, 100) == pytest.approx(-10)  # fewer faults/s = worse
    assert pdiff(5, 5) == 0 and pdiff(0, 5) == 0 and pdiff(5, 0) == 100
    assert pndiff(5, 5) == 0 and pndiff(0, 5) == 100 and pndiff(5, 0) == -99


def test_b_counts() -> None:
    assert [best_count(30, p) for p in (50, 95, 99)] == [15, 28, 29]
    assert [best_count(5, p) for p in (50, 95, 99)] == [2, 4, 4]
    assert best_count(1, 50) == 1


def test_hmean_and_hstddev_definitions() -> None:
    xs = [2.0, 4.0, 4.0]
    assert hmean(xs) == pytest.approx(3.0)
    # sqrt(((1/2-1/3)^2 + 2*(1/4-1/3)^2) * 3^4 / 3)
    assert hstddev(xs) == pytest.approx(math.sqrt((1 / 36 + 2 / 144) * 27))
    assert math.isnan(hmean([1.0, 0.0]))
    assert math.isnan(stddev([1.0])) and math.isnan(hstddev([1.0]))


def test_rows_names_and_order() -> None:
    low = [r.name for r in summarise("x", [1, 2, 3], False).rows]
    high = [r.name for r in summarise("x", [1, 2, 3], True).rows]
    assert low == ["Min", "Amean", "Stddev", "CoeffVar", "Max", "BAmean-50", "BAmean-95",
                   "BAmean-99"]
    assert high == ["Min", "Hmean", "HStddev", "HCoeffVar", "Max", "BHmean-50", "BHmean-95",
                    "BHmean-99"]
    legacy = [r.name for r in summarise("x", [1, 2, 3], True, legacy_sd=True).rows]
    assert legacy[2:4] == ["Stddev", "CoeffVar"]


def test_n1_never_starred_by_ci_but_always_by_ttest() -> None:
    b = summarise("x", [1.0], False)
    n = summarise("x", [100.0], False)
    assert not significance(b, n, "ci").significant
    assert significance(b, n, "ttest").significant
    same = summarise("x", [1.0], False)
    assert not significance(b, same, "ttest").significant


def test_zero_spread_ci_uses_raw_units() -> None:
    b = summarise("x", [5.0, 5.0], False)
    assert significance(b, summarise("x", [6.5, 6.5], False), "ci").significant
    assert not significance(b, summarise("x", [5.5, 5.5], False), "ci").significant


def test_ttest_boundary_hand_computed() -> None:
    # df = 2 has p = 1 - t / sqrt(2 + t^2).  base [1,2]: mean 1.5, sd sqrt(.5), se = sqrt(.5)
    base = summarise("x", [1.0, 2.0], False)
    a = summarise("x", [3.0, 4.0], False)  # t = 2/sqrt(.5) = 2.828 -> p = 0.10557
    b = summarise("x", [3.25, 4.25], False)  # t = 2.25/sqrt(.5) = 3.182 -> p = 0.08619
    pa, pb = significance(base, a, "ttest"), significance(base, b, "ttest")
    assert pa.statistic == pytest.approx(1 - 2.828427 / math.sqrt(10), abs=1e-6)
    assert pb.statistic == pytest.approx(1 - 3.181981 / math.sqrt(12.125), abs=1e-6)
    assert not pa.significant and pb.significant
    # the CI rule is far stricter: 2.25 < 1.96 * 2 * 0.7071
    assert not significance(base, b, "ci").significant


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=2, max_size=40),
    st.floats(min_value=0.1, max_value=10),
)
def test_properties(xs: list[float], scale: float) -> None:
    for higher in (False, True):
        s = summarise("op", xs, higher)
        vals = {r.name: r.value for r in s.rows}
        assert vals["Min"] <= s.mean * (1 + 1e-9) and s.mean <= vals["Max"] * (1 + 1e-9)
        # B-means of the best samples are at least as good as the mean
        best = vals["BHmean-50" if higher else "BAmean-50"]
        assert (best >= s.mean * (1 - 1e-9)) if higher else (best <= s.mean * (1 + 1e-9))
    # scaling all samples scales means and SDs, so CoeffVar is unchanged
    a = summarise("op", xs, False)
    b = summarise("op", [x * scale for x in xs], False)
    assert b.mean == pytest.approx(a.mean * scale, rel=1e-9)
    assert b.row("CoeffVar").value == pytest.approx(a.row("CoeffVar").value, rel=1e-6, abs=1e-9)
