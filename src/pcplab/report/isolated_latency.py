"""Tables of the isolated tasks' own page allocation and free latency.

The numbers come from ``isolated_alloc_latency_ns`` / ``isolated_free_latency_ns`` of a noise,
pft or oom result (``pcplab.sim.api_noise.isolated_latency``): per isolated CPU the sample count,
p50, p99 (None below 100 samples, shown ``n/a``) and max in ns, shown here in µs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ALLOC_KEY = "isolated_alloc_latency_ns"
FREE_KEY = "isolated_free_latency_ns"


def _us(ns: Any) -> str:
    return "n/a" if ns is None else f"{ns / 1000:.2f}"


def has_latency(res: dict[str, Any]) -> bool:
    return bool(res.get(ALLOC_KEY))


def format_isolated_latency(res: dict[str, Any]) -> str:
    """One result: a row per isolated CPU, allocation and free p50 / p99 / max in µs."""
    alloc = res.get(ALLOC_KEY) or []
    free = {r["cpu"]: r for r in res.get(FREE_KEY) or []}
    lines = [
        f"isolated task's own page allocator latency (us; p99 from 100 samples)\n"
        f"{'cpu':>4} {'allocs':>7} {'alloc p50':>10} {'p99':>8} {'max':>8}   "
        f"{'free p50':>9} {'p99':>8} {'max':>8}"
    ]
    for a in alloc:
        f = free.get(a["cpu"], {})
        lines.append(
            f"{a['cpu']:>4} {a['n']:>7} {_us(a['p50']):>10} {_us(a['p99']):>8} "
            f"{_us(a['max']):>8}   {_us(f.get('p50')):>9} {_us(f.get('p99')):>8} "
            f"{_us(f.get('max')):>8}"
        )
    return "\n".join(lines)


def latency_by_design(runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """``pcplab compare``: a column per design, rows ``cpuN alloc p50`` ... ``cpuN free max``."""
    cpus = sorted({r["cpu"] for _, res in runs for r in res.get(ALLOC_KEY) or []})
    labels = [lab for lab, _ in runs]
    width = max([12, *(len(lab) for lab in labels)])
    lines = [f"{'':<16}" + "".join(f"{lab:>{width + 1}}" for lab in labels)]
    if not cpus:
        return lines[0] + "\n(no isolated task ran: no samples)\n"
    for cpu in cpus:
        for key, what in ((ALLOC_KEY, "alloc"), (FREE_KEY, "free")):
            per: list[dict[str, Any]] = []
            for _, res in runs:
                per.append(next((r for r in res.get(key) or [] if r["cpu"] == cpu), {}))
            for stat in ("p50", "p99", "max"):
                row = f"{f'cpu{cpu} {what} {stat}':<16}"
                row += "".join(f"{_us(r.get(stat)):>{width + 1}}" for r in per)
                lines.append(row)
        n = [next((r["n"] for r in res.get(ALLOC_KEY) or [] if r["cpu"] == cpu), 0)
             for _, res in runs]
        lines.append(f"{f'cpu{cpu} samples':<16}" + "".join(f"{x:>{width + 1}}" for x in n))
    return "\n".join(lines) + "\n"


__all__ = ["format_isolated_latency", "has_latency", "latency_by_design"]
