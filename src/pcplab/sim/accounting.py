"""Where simulated time goes: per-task statistics and per-CPU spans.

Every span of CPU time is charged to a task (user or system time) and, when someone listens
(``Simulator.on_segment``), reported as ``fn(cpu, t0, t1, task, what)`` with ``what`` in
``"user" | "kernel" | "spin" | "irq" | "switch"``; ``cpu_busy_ns`` adds up the busy time per CPU.
A CPU's span in progress (``CpuSim.seg``) is cut short by an interruption (:meth:`_flush`).
"""

from __future__ import annotations

from collections.abc import Callable

from pcplab.kernel.state import Task
from pcplab.sim.cpu import CpuSim
from pcplab.sim.events import EventQueue


class TaskStats:
    """What one task did: ``user_ns``, ``system_ns``, ``start_ns``, ``end_ns``, ``wait_ns``
    (runnable but not running), ``switches``, ``interrupted_ns``; and its scheduler state."""

    __slots__ = (
        "user_ns", "system_ns", "start_ns", "end_ns", "wait_ns", "switches", "interrupted_ns",
        "policy", "state", "ready_since", "rest", "rest_kind", "spin_since", "sleep_gen",
    )  # fmt: skip

    def __init__(self, policy: str, start_ns: int) -> None:
        self.user_ns = 0
        self.system_ns = 0
        self.start_ns = start_ns
        self.end_ns: int | None = None
        self.wait_ns = 0
        self.switches = 0
        self.interrupted_ns = 0
        self.policy = policy
        self.state = "new"  # new | ready | running | spinning | sleeping | done
        self.ready_since = start_ns
        self.rest = 0  # remaining ns of an interrupted op
        self.rest_kind = "kernel"
        self.spin_since = 0
        self.sleep_gen = 0


class Accounting(EventQueue):
    """Task statistics, spans and the ``on_segment`` / ``on_op`` listeners."""

    def _init_accounting(self, nr_cpus: int) -> None:
        self._info: dict[Task, TaskStats] = {}
        self._segment_fns: list[Callable[..., None]] = []
        self._op_fns: list[Callable[..., None]] = []
        self._track = False  # keep per-CPU spans only when someone listens
        self.cpu_busy_ns = [0] * nr_cpus

    def on_segment(self, fn: Callable[..., None]) -> None:
        self._segment_fns.append(fn)
        self._track = True

    def on_op(self, fn: Callable[..., None]) -> None:
        self._op_fns.append(fn)

    def stats(self, task: Task) -> TaskStats:
        return self._info[task]

    def _segment(self, c: CpuSim, t0: int, t1: int, task: Task | None, what: str) -> None:
        if t1 > t0:
            self.cpu_busy_ns[c.id] += t1 - t0
            for fn in self._segment_fns:
                fn(c.id, t0, t1, task, what)

    def _flush(self, c: CpuSim, t: int) -> None:
        """Emit the span in progress on ``c`` up to ``t`` (it may have been cut short)."""
        seg = c.seg
        if seg is not None:
            c.seg = None
            self._segment(c, seg[0], min(seg[1], t), seg[2], seg[3])

    def _account(self, c: CpuSim, task: Task, t0: int, t1: int, kind: str) -> None:
        st = self._info[task]
        if kind == "user":
            st.user_ns += t1 - t0
        else:
            st.system_ns += t1 - t0
        if not self._track:
            self.cpu_busy_ns[c.id] += t1 - t0
            return
        if c.seg is not None:
            self._flush(c, t0)
        if t1 > t0:
            c.seg = (t0, t1, task, kind)

    def _adopt(self, task: Task, t: int) -> TaskStats:
        st = TaskStats("other", t)
        st.state = "running" if task.kind == "irq" else "sleeping"
        self._info[task] = st
        return st
