"""The two pft reports of ``compare-kernels.sh`` ("pft timings", then "pft faults").

Operations as ``ExtractPfttime``/``ExtractPft`` name them (``mmtests-pft.md`` §4): ``system-N`` for
all N then ``elapsed-N`` (lower is better, Amean); ``faults/cpu-N`` then ``faults/sec-N`` (higher is
better, Hmean).  Client counts are sorted numerically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pcplab.report.mmtests_table import FAULTS, TIMINGS, render_table

#: per-client sample lists as mmtests sees them: {clients: {"user"|"system"|"elapsed"|
#: "faults_per_cpu"|"faults_per_sec": [samples]}}
PftSamples = Mapping[int, Mapping[str, Sequence[float]]]


def common_clients(runs: Sequence[tuple[str, PftSamples]]) -> list[int]:
    """Client counts present in every run (mmtests compares what the baseline has)."""
    common = set(runs[0][1])
    for _, s in runs[1:]:
        common &= set(s)
    return sorted(common)


def timing_ops(clients: Sequence[int]) -> list[str]:
    return [f"system-{n}" for n in clients] + [f"elapsed-{n}" for n in clients]


def fault_ops(clients: Sequence[int]) -> list[str]:
    return [f"faults/cpu-{n}" for n in clients] + [f"faults/sec-{n}" for n in clients]


def _ops(samples: PftSamples) -> dict[str, Sequence[float]]:
    out: dict[str, Sequence[float]] = {}
    for n, s in samples.items():
        out[f"system-{n}"] = s["system"]
        out[f"elapsed-{n}"] = s["elapsed"]
        out[f"faults/cpu-{n}"] = s["faults_per_cpu"]
        out[f"faults/sec-{n}"] = s["faults_per_sec"]
    return out


def pft_tables(runs: Sequence[tuple[str, PftSamples]], rule: str = "ci") -> dict[str, str]:
    """{"pft timings": text, "pft faults": text} for runs (first = baseline)."""
    clients = common_clients(runs)
    if not clients:
        raise ValueError("the runs share no client count")
    named = [(name, _ops(s)) for name, s in runs]
    return {
        TIMINGS.title: render_table(named, timing_ops(clients), TIMINGS, rule),
        FAULTS.title: render_table(named, fault_ops(clients), FAULTS, rule),
    }


def pft_report(runs: Sequence[tuple[str, PftSamples]], rule: str = "ci") -> str:
    """Both tables, each under its heading, as compare-kernels.sh prints them."""
    tables = pft_tables(runs, rule)
    return "\n".join(f"{title}\n{text}" for title, text in tables.items())
