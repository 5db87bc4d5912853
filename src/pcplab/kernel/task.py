"""The kernel model's tasks and CPUs: what a design's ``ctx`` is, and what each CPU runs.

:class:`Task` is both a scheduled context (program, kworker or IRQ handler) and the ``ctx`` a
design's generator receives; :class:`Cpu` holds what runs on one CPU.  ``BLOCKED`` is what an op
returns when it cannot complete yet.  The services that change them are in the sibling modules
(:mod:`pcplab.kernel.state` composes them).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from pcplab.kernel import ops

if TYPE_CHECKING:
    from pcplab.kernel.core import KernelCore


class _Blocked:
    __slots__ = ()

    def __repr__(self) -> str:
        return "BLOCKED"

    def __bool__(self) -> bool:
        return False


BLOCKED: Any = _Blocked()

"""Returned by :meth:`Kernel.execute` / :meth:`Kernel.step` when the op cannot complete yet."""


class Task:
    """A task (and the ``ctx`` a design's generator receives)."""

    __slots__ = (
        "name", "cpu", "kind", "kernel", "gen", "op", "done", "retval", "index",
        "irq_depth", "irq_base", "preempt", "migrate", "rcu_nest", "rt_locks", "held", "mode",
        "qs_seq", "wait", "gp", "irq_task", "windows", "daemon", "steps", "kill", "spinning",
        "work", "pool",
    )  # fmt: skip

    def __init__(self, kernel: KernelCore, cpu: int, name: str, kind: str, index: int) -> None:
        self.kernel = kernel
        self.cpu = cpu
        self.name = name
        self.kind = kind  # "program" | "kworker" | "irq"
        self.index = index
        self.gen: Any = None
        self.op: ops.Op | None = None  # pending op (None: not started)
        self.done = False
        self.retval: Any = None
        self.irq_depth = 1 if kind == "irq" else 0
        self.irq_base = self.irq_depth
        self.preempt = 0
        self.migrate = 0
        self.rcu_nest = 0
        self.rt_locks = 0  # RT sleeping spinlocks / local locks held: implied RCU readers
        self.held: list[Any] = []
        self.mode = "kernel"
        self.qs_seq = 0  # bumped each time the task leaves an RCU reader section
        self.wait: ops.Op | None = None  # the op it is blocked on
        self.gp: list[tuple[Task, int]] | None = None
        self.irq_task: Task | None = None
        self.windows: dict[int, int] = {}  # id(pcp lists) -> nesting
        self.daemon = kind == "kworker"
        self.steps = 0
        self.kill = False
        self.spinning = False
        self.work: ops.WorkItem | None = None  # kworker: the item it is running
        self.pool = cpu  # kworker: the CPU whose worklist it serves

    # --- ctx interface for designs -----------------------------------------------------------
    @property
    def machine(self) -> Any:
        return self.kernel.machine

    @property
    def state(self) -> Any:
        return self.kernel.state

    def is_reader(self) -> bool:
        return bool(self.irq_depth or self.preempt or self.rcu_nest or self.rt_locks)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"


def _of_running(field: str, doc: str) -> Any:
    """A read-only :class:`Cpu` property: ``field`` of the context running there, 0 if none."""

    def get(cpu: Cpu) -> int:
        r = cpu.running
        return int(getattr(r, field)) if r else 0

    return property(get, doc=doc)


class Cpu:
    __slots__ = (
        "id", "online", "nohz_full", "current", "irq", "pending_irqs", "worklist", "kworker",
        "tasks", "parked_user",
    )  # fmt: skip

    def __init__(self, cpu_id: int, nohz_full: bool) -> None:
        self.id = cpu_id
        self.online = True
        self.nohz_full = nohz_full
        self.current: Task | None = None
        self.irq: Task | None = None
        self.pending_irqs: deque[Task] = deque()
        self.worklist: deque[ops.WorkItem] = deque()
        self.kworker: Task | None = None
        self.tasks: list[Task] = []
        #: a program task of this nohz_full CPU ended in user mode: the CPU stays in user mode
        self.parked_user = False

    @property
    def running(self) -> Task | None:
        """The context executing on this CPU: the IRQ handler if one is active, else the current
        task (None when nothing runs)."""
        if self.irq is not None:
            return self.irq
        cur = self.current
        return None if cur is None or cur.done else cur

    @property
    def mode(self) -> str:
        if not self.online:
            return "offline"
        if self.irq is not None:
            return "kernel"
        cur = self.running
        if cur is None:
            # an isolated CPU whose task returned to user space keeps running there when that
            # task's program is over (its user loop is not); RCU sees an EQS either way
            return "user" if self.parked_user else "idle"
        if cur.wait is not None and not cur.spinning:
            return "idle"  # its task sleeps: the CPU idles
        return cur.mode

    @property
    def in_eqs(self) -> bool:
        """RCU extended quiescent state: offline, idle, or user mode on a nohz_full CPU."""
        m = self.mode
        return m in ("offline", "idle") or (m == "user" and self.nohz_full)

    irq_depth = _of_running("irq_depth", "IRQ-off nesting of the running context (0: none).")
    preempt_count = _of_running("preempt", "Preempt count of the running context.")
    migrate_disable = _of_running("migrate", "migrate_disable() nesting of the running context.")

    @property
    def rcu_nesting(self) -> int:
        r = self.running
        return (r.rcu_nest + r.rt_locks) if r else 0

    @property
    def held_locks(self) -> list[Any]:
        r = self.running
        return list(r.held) if r else []
