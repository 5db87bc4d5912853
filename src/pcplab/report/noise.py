"""Noise and drain-latency reports in osnoise / rtla vocabulary.

Column names follow ``rtla osnoise top`` (``Documentation/tools/rtla/rtla-osnoise-top.rst``:
Runtime, Noise, %CPU Aval, Max Single, then interference counters); pcplab's simulator reports
IRQ, IPI and Thread interference, so those are the counter columns.  Times are printed in
microseconds like rtla.  Designs are compared side by side, the first being the baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

NoiseRuns = Sequence[tuple[str, Mapping[str, Any]]]  # (label, noise result)


def _us(ns: float | None, decimals: int = 2) -> str:
    if ns is None or (isinstance(ns, float) and math.isnan(ns)):
        return "-"
    return f"{ns / 1000:.{decimals}f}"


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1,
          align: str | None = None) -> str:
    """Plain-text table.  ``align``: one 'l'/'r' per column; by default the first ``left``
    columns are left-aligned and the rest right-aligned."""
    if align is None:
        align = "l" * left + "r" * (len(header) - left)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for r in [header, *rows]:
        cells = [
            f"{c:<{w}}" if a == "l" else f"{c:>{w}}"
            for c, w, a in zip(r, widths, align, strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out) + "\n"


def isolated_cpus(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in result.get("cpus", []) if c.get("isolated")]


def noise_summary(runs: NoiseRuns, runtime_s: float | None = None) -> str:
    """Isolated CPUs, designs side by side: total/worst noise, availability, interference."""
    header = ["isolated CPUs", *[label for label, _ in runs]]
    rows: list[list[str]] = []

    def add(name: str, fn: Any) -> None:
        rows.append([name, *[fn(isolated_cpus(res)) for _, res in runs]])

    add("CPUs", lambda cs: ",".join(str(c["cpu"]) for c in cs) or "-")
    if runtime_s:
        rows.append(["Runtime (us)", *[f"{runtime_s * 1e6:.0f}" for _ in runs]])
    add("Noise (us)", lambda cs: _us(sum(c["noise_ns"] for c in cs)))
    add("Max Single (us)",
        lambda cs: _us(max((c["max_single_noise_ns"] for c in cs), default=None)))
    add("%CPU Aval (min)", lambda cs: f"{min(c['available_pct'] for c in cs):.5f}" if cs else "-")
    for kind, name in (("irq", "IRQ"), ("ipi", "IPI"), ("thread", "Thread")):
        add(name, lambda cs, k=kind: str(sum(int(c["interference"].get(k, 0)) for c in cs)))
    return _grid(header, rows)


def _sources(cpu: Mapping[str, Any]) -> str:
    src = cpu.get("sources") or {}
    return " ".join(f"{name}:{src[name]}" for name in sorted(src)) or "-"


def noise_per_cpu(runs: NoiseRuns, isolated_only: bool = False) -> str:
    """One line per (design, CPU), as rtla osnoise top prints one line per CPU, plus what the
    noise is attributed to (osnoise's per-source events) and, when the simulator reports it, the
    time the CPU's own tasks spun on pcp locks (the per-CPU spinlock design's cost)."""
    cpus = [(label, c) for label, res in runs for c in res.get("cpus", [])
            if c.get("isolated") or not isolated_only]
    spin = any("lock_spin_ns" in c for _, c in cpus)
    header = ["Design", "CPU", "Iso", "Noise(us)", "%CPU Aval", "Max Single(us)", "IRQ", "IPI",
              "Thread", *(["Lock spin(us)"] if spin else []), "Sources"]
    rows = []
    for label, c in cpus:
        i = c.get("interference", {})
        rows.append([
            label, str(c["cpu"]), "yes" if c.get("isolated") else "no", _us(c["noise_ns"]),
            f"{c['available_pct']:.5f}", _us(c["max_single_noise_ns"]),
            str(i.get("irq", 0)), str(i.get("ipi", 0)), str(i.get("thread", 0)),
            *([_us(c.get("lock_spin_ns", 0))] if spin else []), _sources(c),
        ])
    # the free-text Sources column reads better left-aligned
    return _grid(header, rows, align="l" + "r" * (len(header) - 2) + "l")


def drain_latency_summary(runs: NoiseRuns) -> str:
    """drain_all_pages() latency per design (us): min, mean, p99, max and sample count."""
    header = ["drain latency (us)", *[label for label, _ in runs]]
    rows = []
    for key, name in (("min", "Min"), ("mean", "Mean"), ("p99", "p99"), ("max", "Max")):
        rows.append([name, *[_us(res.get("drain_latency_ns", {}).get(key)) for _, res in runs]])
    rows.append(["Samples", *[str(len(res.get("drain_latency_ns", {}).get("samples", [])))
                              for _, res in runs]])
    return _grid(header, rows)


def check_summary(verdicts: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The checker's verdict per design.

    Wall-clock seconds are left out so the same results always print the same text; they stay in
    the stored verdict and the JSON output.
    """
    header = ["Design", "Verdict", "Mode", "Bound", "Exhaustive", "Executions", "States",
              "Detail"]
    rows = []
    for label, v in verdicts:
        viol = v.get("violation")
        if viol:
            detail = (f"{viol.get('kind', '?')} in {viol.get('function', '?')} on CPU "
                      f"{viol.get('cpu', '?')}")
            verdict = "VIOLATION"
        else:
            detail, verdict = "", "ok"
        bound = v.get("bound")
        rows.append([label, verdict, str(v.get("mode", "-")), "-" if bound is None else str(bound),
                     "yes" if v.get("exhaustive") else "no", str(v.get("executions", "")),
                     str(v.get("states", "")), detail])
    return _grid(header, rows, align="lllrrrrl")
