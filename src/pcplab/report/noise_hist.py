"""``rtla osnoise hist``'s table and ``--json`` rows of the model's noise-duration histograms
(built per isolated CPU by ``pcplab.workloads.noise_hist``; what one sample is and how it is
bucketed is explained there)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def histogram_total_us(hist: Mapping[str, Any]) -> float:
    """count x avg: the sum of the samples' lower bounds (what rtla's avg row was made from)."""
    return 0.0 if not hist.get("count") else float(hist["count"]) * float(hist["avg"])


def osnoise_hist_text(cpus: Sequence[Mapping[str, Any]]) -> str:
    """rtla osnoise hist's table of the CPU records that carry a ``noise_histogram`` (only those
    with a sample get a column, as rtla prints them)."""
    shown = [c for c in cpus if (c.get("noise_histogram") or {}).get("count")]
    if not shown:
        return "Index\nover: 0\ncount: 0\nmin: 0\navg: 0\nmax: 0\n"
    hists = [c["noise_histogram"] for c in shown]
    lines = ["Index" + "".join(f"   CPU-{c['cpu']:03d}" for c in shown)]
    rows = sorted({int(k) for h in hists for k in h["buckets"]})
    for r in rows:
        lines.append(f"{r:<6d}" + "".join(f"{h['buckets'].get(str(r), 0):9d} " for h in hists))

    def row(label: str, key: str, fmt: str) -> str:
        return label + "".join(fmt.format(h[key] if h[key] is not None else 0) for h in hists)

    lines.append(row("over: ", "over", "{:9d} "))
    lines.append(row("count:", "count", "{:9d} "))
    lines.append("min:  " + "".join(f"{int(h['min']):9d} " for h in hists))
    lines.append(row("avg:  ", "avg", "{:9.2f} "))
    lines.append("max:  " + "".join(f"{int(h['max']):9d} " for h in hists))
    return "\n".join(lines) + "\n"


def noise_hist_json(res: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"cpu", "noise_histogram"}]`` of the isolated CPUs that carry one."""
    return [{"cpu": c["cpu"], "noise_histogram": c["noise_histogram"]}
            for c in res.get("cpus", []) if c.get("isolated") and "noise_histogram" in c]
