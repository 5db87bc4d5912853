"""Cacheline ownership: which CPU last wrote each shared object's line, and what moving it costs.

A write takes the line exclusive (RFO) from its last writer at the cost model's transfer price by
distance; a contended line moves one CPU at a time (transfers serialise, ``busy_until``).  A read
of a line another CPU wrote pays one transfer per new version.  Lines are keyed by ``id(obj)``;
the objects are kept alive so that ids stay unique.
"""

from __future__ import annotations

from typing import Any

from pcplab.sim import costs as C
from pcplab.sim.costs import CostModel


class Line:
    __slots__ = ("writer", "version", "busy_until")

    def __init__(self) -> None:
        self.writer: int | None = None
        self.version = 0
        self.busy_until = 0  # a line moves to one CPU at a time: transfers serialise


class CacheLines:
    """The lines of lock words, ``Load``/``Store`` objects and ``Work.data``."""

    costs: CostModel

    def _init_cache(self) -> None:
        self._lines: dict[int, Line] = {}
        self._seen: dict[tuple[int, int], int] = {}
        self._keep: list[object] = []  # objects whose id() keys a line: keep them alive

    def _line(self, obj: Any) -> Line:
        key = id(obj)
        ln = self._lines.get(key)
        if ln is None:
            ln = self._lines[key] = Line()
            self._keep.append(obj)
        return ln

    def _write(self, cpu: int, obj: Any, t: int | None = None) -> float:
        """Take the line of ``obj`` exclusive for a write (RFO): the transfer from its last
        writer, after any transfer in flight (a contended line moves one CPU at a time)."""
        ln = self._line(obj)
        if ln.writer is None or ln.writer == cpu:
            ln.writer = cpu
            return 0.0
        cost = self.costs.transfer_ns(ln.writer, cpu)
        ln.writer = cpu
        ln.version += 1
        if t is None:
            return cost
        start = ln.busy_until if ln.busy_until > t else t
        ln.busy_until = int(start + cost + C.ATOMIC_CYCLES / self.costs.clock_ghz)
        return start - t + cost

    def _read(self, cpu: int, obj: Any) -> float:
        ln = self._line(obj)
        if ln.writer is None or ln.writer == cpu:
            return 0.0
        key = (id(obj), cpu)
        if self._seen.get(key) == ln.version:
            return 0.0
        self._seen[key] = ln.version
        return self.costs.transfer_ns(ln.writer, cpu)
