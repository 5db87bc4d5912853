"""pft's result line and mmtests' way of reading it.

Writing: ``gormanm/pft@b5cfe1be`` ``pft.c:1660-1663`` prints, after a leading space,
``%3ld`` GiB, `` %4ld`` workers, `` %3ld`` cache lines, then user, system and elapsed seconds as
`` %8.2f`` each followed by a literal ``s``, then two spaces, faults per CPU-second ``%10.3f`` and
`` %10.3f`` faults per wall-second (``mmtests-pft.md`` §1.1).

Reading: ``ExtractPft.pm`` deletes every ``s``, skips a line in which any letter remains, and splits
on whitespace (§4).  Because mmtests only ever sees these printed values, pcplab computes its
tables from samples passed through :func:`as_mmtests_sees`, so that a run exported as logs and
imported again yields the same table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pcplab.errors import PcplabError

_LETTER = re.compile(r"[A-Za-z]")
METRICS = ("user", "system", "elapsed", "faults_per_cpu", "faults_per_sec")


@dataclass(frozen=True)
class PftLine:
    gbyte: int
    clients: int
    cachelines: int
    user: float
    system: float
    elapsed: float
    faults_per_cpu: float
    faults_per_sec: float


def format_line(line: PftLine) -> str:
    return (
        f" {line.gbyte:3d} {line.clients:4d} {line.cachelines:3d}"
        f" {line.user:8.2f}s {line.system:8.2f}s {line.elapsed:8.2f}s"
        f"  {line.faults_per_cpu:10.3f} {line.faults_per_sec:10.3f}"
    )


def parse_line(text: str) -> PftLine | None:
    """One log line as ExtractPft reads it; None for lines it skips."""
    stripped = text.replace("s", "")
    if _LETTER.search(stripped):
        return None
    fields = stripped.split()
    if not fields:
        return None
    if len(fields) != 8:
        raise PcplabError(
            f"pft log line has {len(fields)} fields, expected 8: {text.strip()!r}; "
            "is this a pft-<N>.log from mmtests?"
        )
    try:
        g, n, c = (int(float(f)) for f in fields[:3])
        u, s, e, fc, fs = (float(f) for f in fields[3:])
    except (ValueError, OverflowError) as exc:
        raise PcplabError(f"pft log line is not numeric: {text.strip()!r}") from exc
    return PftLine(g, n, c, u, s, e, fc, fs)


def parse_log(lines: Iterable[str]) -> list[PftLine]:
    return [p for p in (parse_line(t) for t in lines) if p is not None]


def lines_from_client(gbyte: int, entry: Mapping[str, object]) -> list[PftLine]:
    """The log lines of one client count of a pft result (one per iteration)."""
    n = int(entry["clients"])  # type: ignore[call-overload]  # a result entry: clients is an int
    cols: list[Sequence[float]] = [entry[m] for m in METRICS]  # type: ignore[misc]
    count = len(cols[0])
    if any(len(c) != count for c in cols):
        raise PcplabError(f"pft result for {n} clients has sample lists of different lengths")
    return [
        PftLine(gbyte, n, 1, *(float(c[i]) for c in cols))
        for i in range(count)
    ]


def as_mmtests_sees(result: Mapping[str, object]) -> dict[int, dict[str, list[float]]]:
    """Per-client samples of a pft result after a trip through pft's printf and ExtractPft."""
    gbyte = int(result.get("gbyte", 0) or 0)  # type: ignore[call-overload]
    out: dict[int, dict[str, list[float]]] = {}
    for entry in result["clients"]:  # type: ignore[attr-defined]
        parsed = [parse_line(format_line(x)) for x in lines_from_client(gbyte, entry)]
        out[int(entry["clients"])] = {
            m: [getattr(p, m) for p in parsed if p is not None] for m in METRICS
        }
    return out


def result_from_lines(lines_by_clients: Mapping[int, Sequence[PftLine]]) -> dict[str, object]:
    """The ``clients`` part of a pft result rebuilt from parsed log lines."""
    clients = []
    gbyte = 0
    for n in sorted(lines_by_clients):
        lines = lines_by_clients[n]
        if lines:
            gbyte = lines[0].gbyte
        entry: dict[str, object] = {"clients": n, "pages": None}
        for m in METRICS:
            entry[m] = [getattr(p, m) for p in lines]
        clients.append(entry)
    return {"gbyte": gbyte, "clients": clients}
