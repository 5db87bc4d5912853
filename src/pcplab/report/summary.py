"""The summary block that opens `pcplab compare`: one column per design, read before the tables.

Every number is taken from the same statistics the tables below it print (``pft_stats`` for the
pft rows, the noise results for the noise and latency tables, the checker verdicts), so the summary
cannot disagree with them; ``tests/report/test_summary_block.py`` parses the tables and checks.

Rows:

* ``pft Amean/Hmean %``: the range (lowest .. highest) of the % column on the Amean (timings) and
  Hmean (faults) rows, mmtests' sign convention: positive = better than the baseline
  (``mmtests-pft.md`` §5.3).
* ``pft rows marked *``: how many of those rows carry mmtests' significance marker.
* ``Gmean Lower`` / ``Gmean Higher``: as ``compare-mmtests.pl --print-ratio`` prints them
  (``gormanm/mmtests@09b91ce9`` ``bin/lib/MMTests/Compare.pm`` ``_generateRatioComparisonTable``
  and ``_generateRenderRatioTable``): the geometric mean, over every operation of the table, of
  mean(new) / mean(base) (``Stat.pm`` ``rdiff``: a zero base gives 0, a zero new 1, NaN counts
  as 1, a ratio of 0 as 0.00001).  ``Lower`` for the timings (< 1 = faster), ``Higher`` for the
  faults (> 1 = more faults per second).  mmtests prints it with the table's precision (2
  decimals for timings, which rounds most ratios to 1.00); the summary prints 4.
* isolated CPUs: total noise and interruptions (osnoise's interference counters summed: IRQ, with
  IPIs counted as IRQs as osnoise does, Softirq, NMI and Thread), and the time the isolated task
  was runnable while something else ran, when the simulator reports it.
* the isolated tasks' own page allocations (when the simulator reports them): p99 (where the
  sample count supports it) and maximum, the worst isolated CPU's.
* drain latency: p99 only where the sample count supports it
  (:func:`pcplab.report.noise.percentile_supported`), the maximum and the sample count always.
* the checker's verdict.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pcplab.report.noise import (
    interruptions,
    isolated_cpus,
    latency_percentile,
    min_samples,
)
from pcplab.report.pft_tables import fault_ops, timing_ops

GMEAN_ZERO = 0.00001  # Compare.pm pushes this for a ratio of exactly 0


def rdiff(new: float, base: float) -> float:
    """``Stat.pm`` ``rdiff``: new / base, 0 when the base is 0 or NaN, 1 when new is 0 or NaN."""
    if base == 0 or math.isnan(base):
        return 0.0
    if new == 0 or math.isnan(new):
        return 1.0
    return new / base


def gmean_ratio(base_means: Sequence[float], new_means: Sequence[float]) -> float:
    """``Gmean`` of ``--print-ratio``: geometric mean of the per-operation ratios."""
    ratios = []
    for b, n in zip(base_means, new_means, strict=True):
        r = rdiff(n, b)
        ratios.append(1.0 if math.isnan(r) else (r if r != 0 else GMEAN_ZERO))
    if not ratios:
        return float("nan")
    return math.exp(math.fsum(math.log(r) for r in ratios) / len(ratios))


@dataclass
class DesignSummary:
    """What the summary says about one design (the baseline has no pft range)."""

    label: str
    baseline: bool
    pct_min: float | None = None
    pct_max: float | None = None
    marked: int = 0
    rows: int = 0
    gmean_lower: float = 1.0
    gmean_higher: float = 1.0
    noise_ns: float | None = None
    interruptions: int | None = None
    delay_ns: float | None = None
    latency_samples: int = 0
    latency_p99_ns: float | None = None
    latency_max_ns: float | None = None
    alloc_p99_ns: float | None = None  # the isolated tasks' own page allocations, worst CPU
    alloc_max_ns: float | None = None
    verdict: str = "-"
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "extra"}


@dataclass
class Summary:
    title: str
    baseline: str
    designs: list[DesignSummary]
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "baseline": self.baseline, "rule": self.rule,
                "designs": [d.as_dict() for d in self.designs]}

    # -- rendering --------------------------------------------------------------------------
    def rows(self) -> list[tuple[str, list[str]]]:
        """(row name, one cell per design) in display order."""

        def each(fn: Any) -> list[str]:
            return [fn(d) for d in self.designs]

        def pct_range(d: DesignSummary) -> str:
            if d.baseline:
                return "baseline"
            if d.pct_min is None or d.pct_max is None:
                return "-"
            return f"{d.pct_min:+.2f}..{d.pct_max:+.2f}"

        def us(ns: float | None) -> str:
            return "-" if ns is None else f"{ns / 1000:.2f}"

        out = [
            ("pft Amean/Hmean %", each(pct_range)),
            ("pft rows marked *", each(lambda d: "-" if d.baseline else f"{d.marked} of {d.rows}")),
            ("Gmean Lower", each(lambda d: f"{d.gmean_lower:.4f}")),
            ("Gmean Higher", each(lambda d: f"{d.gmean_higher:.4f}")),
            ("iso Noise (us)", each(lambda d: us(d.noise_ns))),
            ("iso interruptions", each(lambda d: "-" if d.interruptions is None
                                        else str(d.interruptions))),
        ]
        if any(d.delay_ns is not None for d in self.designs):
            out.append(("iso task delayed (us)", each(lambda d: us(d.delay_ns))))
        if any(d.alloc_max_ns is not None for d in self.designs):
            out.append(("iso alloc p99|max (us)", each(lambda d: "-" if d.alloc_max_ns is None
                        else f"{us(d.alloc_p99_ns)}|{us(d.alloc_max_ns)}")))
        out += [
            ("drain p99 (us)", each(lambda d: us(d.latency_p99_ns) if d.latency_p99_ns is not None
                                    else f"- (n<{min_samples(99)})")),
            ("drain max (us) [n]", each(lambda d: f"{us(d.latency_max_ns)} "
                                         f"[{d.latency_samples}]")),
            ("checker", each(lambda d: d.verdict)),
        ]
        return out

    def text(self) -> str:
        from pcplab.report.noise import grid

        header = ["", *[d.label for d in self.designs]]
        body = [[name, *cells] for name, cells in self.rows()]
        return f"{self.title}\n" + grid(header, body)

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(d.label)}</th>" for d in self.designs)
        rows = []
        for name, cells in self.rows():
            tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            rows.append(f"<tr><th>{html.escape(name)}</th>{tds}</tr>")
        return (f'<table class="summary"><caption>{html.escape(self.title)}</caption>'
                f"<thead><tr><th></th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _mean_rows(pft: Mapping[str, Sequence[Mapping[str, Any]]], ops: Sequence[str], j: int
               ) -> tuple[list[float], list[bool], list[float], list[float]]:
    pcts, stars, base, new = [], [], [], []
    for op in ops:
        entries = pft[op]
        e = entries[j]
        pcts.append(float("nan") if e.get("pct") is None else float(e["pct"]))
        stars.append(bool(e.get("significant")))
        base.append(float("nan") if entries[0]["mean"] is None else float(entries[0]["mean"]))
        new.append(float("nan") if e["mean"] is None else float(e["mean"]))
    return pcts, stars, base, new


def build_summary(
    title: str,
    labels: Sequence[str],
    pft: Mapping[str, Sequence[Mapping[str, Any]]],
    clients: Sequence[int],
    noise_runs: Sequence[tuple[str, Mapping[str, Any]]],
    verdicts: Sequence[tuple[str, Mapping[str, Any]]],
    rule: str,
) -> Summary:
    """``pft``: :func:`pcplab.report.compare.pft_stats` output (one entry per run and operation,
    the baseline first); ``noise_runs`` and ``verdicts`` in the same design order."""
    t_ops, f_ops = timing_ops(clients), fault_ops(clients)
    out = []
    for j, label in enumerate(labels):
        d = DesignSummary(label, baseline=j == 0)
        tp, ts, tb, tn = _mean_rows(pft, t_ops, j)
        fp, fs, fb, fn = _mean_rows(pft, f_ops, j)
        d.gmean_lower = gmean_ratio(tb, tn)
        d.gmean_higher = gmean_ratio(fb, fn)
        if j > 0:
            finite = [x for x in tp + fp if not math.isnan(x)]
            d.pct_min = min(finite) if finite else None
            d.pct_max = max(finite) if finite else None
            d.marked = sum(ts) + sum(fs)
            d.rows = len(ts) + len(fs)
        res = noise_runs[j][1]
        cpus = isolated_cpus(res)
        if cpus:
            d.noise_ns = float(sum(c["noise_ns"] for c in cpus))
            d.interruptions = sum(interruptions(c) for c in cpus)
            if all("delay_ns" in c for c in cpus):
                d.delay_ns = float(sum(c["delay_ns"] for c in cpus))
        own = res.get("isolated_alloc_latency_ns") or []
        if own:
            d.alloc_max_ns = max((c.get("max") or 0) for c in own)
            p99s = [c.get("p99") for c in own]
            d.alloc_p99_ns = None if any(p is None for p in p99s) else max(p99s)
        lat = res.get("drain_latency_ns") or {}
        samples = lat.get("samples") or []
        d.latency_samples = len(samples)
        d.latency_p99_ns = latency_percentile(lat, 99)
        d.latency_max_ns = lat.get("max")
        v = verdicts[j][1]
        d.verdict = "VIOLATION" if v.get("violation") else "ok"
        out.append(d)
    return Summary(title, labels[0], out, rule)
