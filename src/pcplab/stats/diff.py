"""The difference of two runs' means with a confidence interval (for the difference plots).

mmtests' tables mark significance by non-overlap of mean +/- 1.96 s bands
(:mod:`pcplab.stats.significance`); a plot of "new minus baseline" needs an interval for the
difference itself.  This is Welch's: standard error sqrt(s_b^2/n_b + s_n^2/n_n), Welch-Satterthwaite
degrees of freedom, two-sided 95 % by default.  The percentage uses mmtests' sign convention for
a lower-is-better metric (``pndiff``: positive = better, i.e. less time than the baseline).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pcplab.stats.summary import amean, pdiff, pndiff, stddev
from pcplab.stats.tdist import t_ppf


@dataclass(frozen=True)
class MeanDiff:
    pct: float  # mmtests' % of the means (positive = better)
    low: float  # the interval in the same % units (NaN when it has no width: n <= 1)
    high: float
    df: float


def mean_diff(base: Sequence[float], new: Sequence[float], higher_is_better: bool = False,
              level: float = 0.95) -> MeanDiff:
    mb, mn = amean(base), amean(new)
    pct = pdiff(mn, mb) if higher_is_better else pndiff(mn, mb)
    nb, nn = len(base), len(new)
    if nb < 2 or nn < 2 or mb == 0:
        return MeanDiff(pct, math.nan, math.nan, math.nan)
    vb, vn = stddev(base) ** 2 / nb, stddev(new) ** 2 / nn
    se = math.sqrt(vb + vn)
    if se == 0:
        return MeanDiff(pct, pct, pct, math.inf)
    df = (vb + vn) ** 2 / (vb * vb / (nb - 1) + vn * vn / (nn - 1))
    half = 100.0 * t_ppf(0.5 + level / 2, df) * se / mb
    return MeanDiff(pct, pct - half, pct + half, df)
