"""The simulator's per-CPU state (what the scheduler, the accounting and the pricing share)."""

from __future__ import annotations

from collections import deque
from typing import Any

from pcplab.kernel.state import Task


class CpuSim:
    """One simulated CPU: its running task, run queues, pending event, span in progress and RT
    throttling state (``kc`` is the kernel model's :class:`~pcplab.kernel.task.Cpu`)."""

    __slots__ = (
        "id", "core", "node", "gen", "cur", "prev", "op_end", "op_kind", "fifo_q", "other_q",
        "need_resched", "tick_at", "irq_at", "scheduled", "busy", "seg", "carry", "kc",
        "wake_at", "rt_tasks", "rt_throttled", "rt_base", "rt_period_start",
    )  # fmt: skip

    def __init__(self, cpu: int, core: int, node: int) -> None:
        self.id = cpu
        self.core = core
        self.node = node
        self.gen = 0
        self.cur: Task | None = None  # task owning the CPU (program/kworker), None = idle
        self.prev: Task | None = None
        self.op_end = 0
        self.op_kind = ""
        self.fifo_q: deque[Task] = deque()
        self.other_q: deque[Task] = deque()
        self.need_resched = False
        self.tick_at = -1
        self.irq_at = 0
        self.scheduled = False
        self.busy = False
        self.seg: tuple[int, int, Any, str] | None = None  # span in progress (t0, t1, task, what)
        self.carry = 0.0
        self.kc: Any = None  # the kernel's Cpu
        self.wake_at = 0  # an idle CPU woken by a remote IPI runs no earlier than this
        self.rt_tasks: list[Task] = []  # SCHED_FIFO tasks pinned here (RT throttling)
        self.rt_throttled = False
        self.rt_base = 0  # RT time used up to the start of the current RT period
        self.rt_period_start = -1
