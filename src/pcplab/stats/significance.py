"""The `*` marker: mmtests' two significance rules, and which one pcplab uses by default.

**Default: ``ci``, the rule compare-kernels.sh applies to pft tables.**  At
``gormanm/mmtests@09b91ce9`` (the last tree with pft, ``mmtests-pft.md`` §0) ``compare-kernels.sh``
prints the pft reports with ``compare-mmtests.pl -b pft -a time`` and ``-b pft``
(``compare-kernels.sh:803-808``); ``ExtractPft``/``ExtractPfttime`` inherit
``SummariseMultiops``, which sets ``_RatioSummaryStat = [_mean, meanci_low-_mean,
meanci_high-_mean]`` and ``_RatioCompareOp = cidiff`` (``SummariseMultiops.pm:13-18``);
``Stat.pm`` ``_calc_meanci`` asks R for ``qnorm(1-alpha/2, mean=0, sd=stddev)`` with alpha 0.05
(``Summarise.pm`` ``runStatFunc``), and ``Compare.pm:117-145`` marks a mean row when
``abs(cidiff) > 1``.  That is the ``ci`` rule below, pcplab's default.

**Why the seed's tables mark nearly every row and pcplab's none.**  The seed's tables are from
2022, when mmtests used the t-test rule (``f0b33946`` 2018 .. ``8cd087ae`` 2024-11;
``mmtests-pft.md`` §7): with n = 30 and equal SDs it marks a difference above about 0.43 s
(s = the per-iteration SD), while the ``ci`` rule needs 1.96 (s_b + s_n) = 3.92 s, nine times as
much.  In the model the designs differ by one ``READ_ONCE(pcp->lp)`` (rcu) or one uncontended
spinlock (spinlock) per fast-path call, i.e. 0.0-0.7 % of the mean, against a per-iteration
coefficient of variation of 0.3-1.3 %: no row reaches 3.92 s, so ``ci`` marks none, which is
that rule's correct answer ("within the run-to-run spread").  ``--significance ttest`` marks the
rows whose difference clears 0.43 s: measured on the default Xeon run (seed 1, client counts
1-30 beside the isolated CPUs 2-3), 4 of 32 Amean/Hmean rows for rcu (about what a p < 0.10 test
marks by chance) and 10 of 32 for spinlock, which is consistently ~0.2 % slower.  Use ``ttest``
to compare with tables of that era.  Even so the model marks fewer rows than the seed (53 of
58 rows in ``data/seed/pft-vanilla-vs-rcu.csv``, down to a 0.05 % difference on EPYC
system-12, which under the t-test needs a per-iteration CV of about 0.1 %): the seed's machines
varied less from run to run than the model's 0.3-1.3 %, and its kernels differed by more than
one load per call (an inference from the CSV, which holds means and markers only).

``ci`` (default; ``gormanm/mmtests@8cd087ae``, in force when pft was removed): each run's interval
is mean +/- qnorm(0.975)*sd, no division by sqrt(n); the marker means the two intervals do not
overlap, i.e. |mean_new - mean_base| > 1.96 * (s_new + s_base).  ``cidiff`` returns the raw
difference when both SDs are 0.  A run with n <= 1 has no interval and is never marked.

``ttest`` (``f0b33946`` .. ``8cd087ae^``, e.g. ``93946ac6`` ``Compare.pm _significanceTest``):
unpooled standard error, Student df = n1 + n2 - 2, two-sided p < 0.10; a zero standard error
marks any difference; n = 1 counts its SD as 0.  The SD is the arithmetic sample SD for every row,
Hmean rows included (before ``8a0e63a2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from pcplab.stats.summary import OpSummary
from pcplab.stats.tdist import t_sf_two_sided

RULES = ("ci", "ttest")
CI_ALPHA = 0.05  # hard-coded in Summarise.pm:209
TTEST_LEVEL = 0.10  # _SignificanceLevel default
Z = NormalDist().inv_cdf(1.0 - CI_ALPHA / 2.0)  # 1.959963984540054, R's qnorm(0.975)


@dataclass(frozen=True)
class Significance:
    significant: bool
    statistic: float  # ci: the cidiff ratio; ttest: the two-sided p value
    rule: str


def ci_ratio(base: OpSummary, new: OpSummary) -> float | None:
    """``cidiff``: (mean_base - mean_new) / (q_base + q_new); None when a run has no interval."""
    if base.n <= 1 or new.n <= 1 or math.isnan(base.spread) or math.isnan(new.spread):
        return None
    q = Z * base.spread + Z * new.spread
    diff = base.mean - new.mean
    return diff if q == 0 else diff / q


def ttest_p(base: OpSummary, new: OpSummary) -> float:
    """Two-sided p of the old rule (0.0 when the standard error is 0 and the means differ)."""
    sb = 0.0 if math.isnan(base.arith_sd) else base.arith_sd
    sn = 0.0 if math.isnan(new.arith_sd) else new.arith_sd
    se = math.sqrt(sb * sb / base.n + sn * sn / new.n)
    if se == 0:
        return 0.0 if base.mean != new.mean else 1.0
    t = abs(base.mean - new.mean) / se
    df = base.n + new.n - 2
    if df <= 0:
        # two single samples with SD treated as 0 never reach here (se == 0 above)
        return 1.0
    return t_sf_two_sided(t, df)


def significance(base: OpSummary, new: OpSummary, rule: str = "ci") -> Significance:
    if rule == "ci":
        ratio = ci_ratio(base, new)
        if ratio is None:
            return Significance(False, float("nan"), rule)
        return Significance(abs(ratio) > 1.0, ratio, rule)
    if rule == "ttest":
        p = ttest_p(base, new)
        return Significance(p < TTEST_LEVEL, p, rule)
    raise ValueError(f"unknown significance rule {rule!r}; choose one of {', '.join(RULES)}")
