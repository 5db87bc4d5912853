"""mmtests' per-operation summary rows, reimplemented from the formulas (not the Perl).

Sources (``gormanm/mmtests@09b91ce9``): ``bin/lib/MMTests/Stat.pm`` (``calc_amean``,
``calc_hmean``, ``calc_stddev``, ``calc_coeffvar``, ``pdiff``/``pndiff``),
``Summarise.pm:48-76, 267-297`` (preferred value, B-means, the interval), ``SummariseMultiops.pm``
(row order).  See ``/work/shared/knowledge/mmtests-pft.md`` §5.2-5.3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

NAN = float("nan")

#: percentages of the "best" B-mean rows, in row order
B_PERCENTS = (50, 95, 99)


def amean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs) if xs else NAN


def hmean(xs: Sequence[float]) -> float:
    """n / sum(1/x); NaN if any sample is not positive (as ``calc_hmean``)."""
    if not xs or any(x <= 0 for x in xs):
        return NAN
    return len(xs) / math.fsum(1.0 / x for x in xs)


def stddev(xs: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); NaN when n <= 1."""
    n = len(xs)
    if n <= 1:
        return NAN
    m = amean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (n - 1))


def hstddev(xs: Sequence[float]) -> float:
    """Harmonic SD: sqrt(sum((1/x - 1/H)^2) * H^4 / n), divided by n, not n - 1 (``8a0e63a2``)."""
    n = len(xs)
    if n <= 1:
        return NAN
    h = hmean(xs)
    if math.isnan(h):
        return NAN
    return math.sqrt(math.fsum((1.0 / x - 1.0 / h) ** 2 for x in xs) * h**4 / n)


def coeffvar(sd: float, mean: float) -> float:
    """100 * sd / mean, with a NaN sd counted as 0."""
    if math.isnan(sd):
        sd = 0.0
    if mean == 0 or math.isnan(mean):
        return NAN
    return 100.0 * sd / mean


def pdiff(new: float, base: float) -> float:
    """Percent change for Higher-is-better values (positive = better)."""
    if new == base or new == 0:
        return 0.0
    if base == 0:
        return 100.0
    return new * 100.0 / base - 100.0


def pndiff(new: float, base: float) -> float:
    """Percent change for Lower-is-better values (positive = better)."""
    if new == base:
        return 0.0
    if new == 0:
        return 100.0
    if base == 0:
        return -99.0
    return 100.0 - new * 100.0 / base


def best_count(n: int, percent: int) -> int:
    """k = max(1, int(n * P / 100)) samples make a B-mean."""
    return max(1, int(n * percent / 100))


@dataclass(frozen=True)
class Row:
    """One statistic of one operation."""

    name: str  # row label, e.g. "Amean", "HStddev", "BHmean-95"
    value: float
    kind: str  # "min", "mean", "spread", "coeffvar", "max", "bmean"


@dataclass(frozen=True)
class OpSummary:
    """The rows of one operation plus what significance testing needs."""

    op: str
    higher_is_better: bool
    n: int
    rows: tuple[Row, ...]
    mean: float  # Amean or Hmean
    spread: float  # SD that goes with the mean (Stddev or HStddev), NaN when n <= 1
    arith_sd: float  # arithmetic sample SD (the pre-8a0e63a2 t-test used it for every row)
    samples: tuple[float, ...] = field(repr=False, default=())

    def row(self, name_or_kind: str) -> Row:
        for r in self.rows:
            if r.name == name_or_kind or r.kind == name_or_kind:
                return r
        raise KeyError(name_or_kind)


def summarise(
    op: str, samples: Sequence[float], higher_is_better: bool, legacy_sd: bool = False
) -> OpSummary:
    """Compute mmtests' rows for one operation.

    Lower-is-better metrics use the arithmetic mean, higher-is-better ones the harmonic mean.
    ``legacy_sd`` reproduces tables from before ``8a0e63a2`` (2024-11-28): the spread rows of
    Hmean metrics are the arithmetic ``Stddev``/``CoeffVar``.
    ASSUMPTION: in that era ``CoeffVar`` of an Hmean metric divided the arithmetic SD by the
    arithmetic mean (the knowledge file only records the row names, not the denominator).
    """
    xs = [float(x) for x in samples]
    if not xs:
        raise ValueError(f"operation {op!r} has no samples")
    n = len(xs)
    # best-first order as Summarise::extractSummary sorts them
    best_first = sorted(xs, reverse=higher_is_better)
    arith_sd = stddev(xs)
    if higher_is_better:
        mean = hmean(xs)
        mean_name, b_prefix = "Hmean", "BHmean"
        if legacy_sd:
            spread, sd_name, cv_name = arith_sd, "Stddev", "CoeffVar"
            cv = coeffvar(arith_sd, amean(xs))
        else:
            spread, sd_name, cv_name = hstddev(xs), "HStddev", "HCoeffVar"
            cv = coeffvar(spread, mean)
        bmean = hmean
    else:
        mean = amean(xs)
        mean_name, b_prefix = "Amean", "BAmean"
        spread, sd_name, cv_name = arith_sd, "Stddev", "CoeffVar"
        cv = coeffvar(spread, mean)
        bmean = amean
    rows = [
        Row("Min", min(xs), "min"),
        Row(mean_name, mean, "mean"),
        Row(sd_name, spread, "spread"),
        Row(cv_name, cv, "coeffvar"),
        Row("Max", max(xs), "max"),
    ]
    for p in B_PERCENTS:
        rows.append(Row(f"{b_prefix}-{p}", bmean(best_first[: best_count(n, p)]), "bmean"))
    return OpSummary(op, higher_is_better, n, tuple(rows), mean, spread, arith_sd, tuple(xs))


def row_pct(kind: str, new: float, base: float, higher_is_better: bool) -> float:
    """The % column: spread rows always pndiff; the rest by the metric's direction."""
    if kind in ("spread", "coeffvar"):
        # a NaN SD is printed and compared as 0
        return pndiff(_nan0(new), _nan0(base))
    return pdiff(new, base) if higher_is_better else pndiff(new, base)


def _nan0(x: float) -> float:
    return 0.0 if math.isnan(x) else x
