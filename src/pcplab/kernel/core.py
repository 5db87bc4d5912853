"""The base of the kernel model: CPUs, tasks, lock owners and the checks every service uses.

:class:`KernelCore` holds the state (``cpus``, ``tasks``, ``owner``, ``pcp_windows``, ``events``,
``checks``) and the shared rules: creating and finishing tasks, the clean-context check at task
and work-item exit, ``might_sleep()`` (sleeping in atomic context), and RCU quiescent states.
Each service (:mod:`~pcplab.kernel.context`, :mod:`~pcplab.kernel.locking`,
:mod:`~pcplab.kernel.memory`, :mod:`~pcplab.kernel.rcu`, :mod:`~pcplab.kernel.workqueue`,
:mod:`~pcplab.kernel.ipi`, :mod:`~pcplab.kernel.hotplug`) is a subclass adding its ops;
:class:`pcplab.kernel.state.Kernel` composes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from pcplab.kernel import ops
from pcplab.kernel.task import Cpu, Task


class KernelViolation(Exception):
    """A lock-discipline or context error the kernel would catch (lockdep, might_sleep, BUG_ON).

    ``kind``: ``"sleep-in-atomic"``, ``"self-deadlock"``, ``"unlock-not-held"``, ``"imbalance"``,
    ``"held-at-exit"``, ``"bad-context"``, ``"list-race"`` (two CPUs inside the same pcp list set)
    or a rule of the checker (:class:`CheckViolation`, ``"lock-order"``).  The checker maps them
    to its kinds with :data:`pcplab.kernel.oops.KERNEL_KINDS`.
    """

    def __init__(self, kind: str, message: str, func: str = "", cpu: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.func = func
        self.cpu = cpu


class CheckViolation(KernelViolation):
    """A finding of the checker's rules (:mod:`pcplab.kernel.checks`) reported at once."""

    def __init__(self, finding: Any) -> None:
        super().__init__(finding.kind, finding.message, finding.func, finding.cpu)
        self.finding = finding


class KernelEvent(NamedTuple):
    kind: str
    src: int | None
    dst: int | None
    func: str


class KernelCore:
    """What every service shares: CPUs, tasks, lock owners, events, and the context checks
    (might_sleep, clean exit) the services raise :class:`KernelViolation` from."""

    def __init__(
        self,
        nr_cpus: int,
        *,
        preempt_rt: bool = False,
        nohz_full: Iterable[int] = frozenset(),
        machine: Any = None,
    ) -> None:
        if nr_cpus < 1:
            raise ValueError("nr_cpus must be >= 1")
        nohz = frozenset(nohz_full)
        self.nr_cpus = nr_cpus
        self.preempt_rt = preempt_rt
        self.nohz_full = nohz
        self.machine = machine
        self.state: Any = None
        self.cpus = [Cpu(i, i in nohz) for i in range(nr_cpus)]
        self.tasks: list[Task] = []
        self.owner: dict[Any, Task] = {}  # id(lock) or (id(local lock), cpu) -> owner
        self.pcp_windows: dict[int, tuple[Task, Any, str]] = {}
        self.record_events = True
        self.events: list[KernelEvent] = []
        #: the checker's rules (pcplab.kernel.checks.Checks), None in the simulator
        self.checks: Any = None
        #: set to a list while a counterexample is recorded: designs note silent decisions there
        self.trace_notes: list[str] | None = None

    def spawn(
        self,
        cpu: int,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        name: str | None = None,
        prime: bool = False,
        kind: str = "program",
    ) -> Task:
        """Create a task running ``fn(ctx, *args)`` (a generator function) pinned to ``cpu``."""
        if not 0 <= cpu < self.nr_cpus:
            raise ValueError(f"cpu {cpu} out of range 0..{self.nr_cpus - 1}")
        task = Task(
            self, cpu, name or f"{getattr(fn, '__name__', 'task')}/{cpu}", kind, len(self.tasks)
        )
        task.gen = fn(task, *args)
        self.tasks.append(task)
        if kind == "program" and self.checks is not None:
            self.checks.barrier()  # spawned by the engine between steps: after all so far
        if kind == "irq":
            self.cpus[cpu].pending_irqs.append(task)
        else:
            self.cpus[cpu].tasks.append(task)
        if prime:
            self.resume(task, None)
        return task

    def resume(self, task: Task, value: Any) -> None:
        """Send ``value`` into ``task``'s generator: its next op becomes ``task.op`` (or it
        finishes)."""
        try:
            task.op = task.gen.send(value)
        except StopIteration as stop:
            task.op = None
            self.finish(task, stop.value)

    def finish(self, task: Task, value: Any) -> None:
        """``task`` ended (its generator returned ``value``, or it was killed): free its CPU and
        check that it left a clean context."""
        task.done = True
        task.retval = value
        cpu = self.cpus[task.cpu]
        if task.kind == "irq":
            if cpu.irq is task:
                cpu.irq = None
        elif cpu.current is task:
            cpu.current = None
            cpu.parked_user = task.kind == "program" and task.mode == "user" and cpu.nohz_full
        if not task.kill:
            self._check_clean(task, "task exit", ops.Op(func=getattr(task.gen, "__name__", "")))

    def _check_clean(self, task: Task, where: str, op: ops.Op) -> None:
        if not (task.held or task.irq_depth != task.irq_base or task.preempt or task.rcu_nest
                or task.migrate or task.windows):  # fmt: skip
            return  # the common case: a clean exit
        problems = self._unclean(task, at_exit=True)
        if problems:
            self._violation(
                "held-at-exit", f"{task.name}: {where} " + " and ".join(problems), task, op
            )

    @staticmethod
    def _unclean(task: Task, at_exit: bool) -> list[str]:
        """What ``task``'s context still holds, worded for a task or work-item exit
        (``at_exit``: IRQ state against its base, migration counted) or for a change of mode."""
        out = []
        if task.held:
            out.append("holding " + ", ".join(str(x) for x in task.held))
        if (task.irq_depth != task.irq_base) if at_exit else task.irq_depth:
            out.append("with IRQs disabled" if at_exit else "IRQs disabled")
        if task.preempt:
            out.append(f"with preempt count {task.preempt}" if at_exit else "preemption disabled")
        if task.rcu_nest:
            out.append("inside rcu_read_lock()")
        if at_exit and task.migrate:
            out.append("with migration disabled")
        if task.windows:
            out.append("inside a pcp list window")
        return out

    def _violation(self, kind: str, msg: str, task: Task, op: Any) -> None:
        raise KernelViolation(kind, msg, getattr(op, "func", "") or "", task.cpu)

    def _event(self, kind: str, src: int | None, dst: int | None, func: str) -> None:
        if self.record_events:
            self.events.append(KernelEvent(kind, src, dst, func))

    def _qs(self, task: Task) -> None:
        if not (task.irq_depth or task.preempt or task.rcu_nest or task.rt_locks):
            task.qs_seq += 1

    def _unnest(
        self, task: Task, op: Any, field: str, floor: int, underflow: str, quiescent: bool = True
    ) -> None:
        """Leave one level of the nesting counter ``field`` (IRQ-off, preempt-off, migrate-off,
        RCU reader); below ``floor`` is an ``imbalance`` (``underflow`` says which).  Leaving the
        last reader-making level is an RCU quiescent state (``quiescent``)."""
        n = getattr(task, field)
        if n <= floor:
            self._violation("imbalance", underflow, task, op)
        setattr(task, field, n - 1)
        if quiescent:
            self._qs(task)

    def _might_sleep(self, task: Task, op: Any, what: str, rt_lock: bool = False) -> None:
        # an RT sleeping spinlock may be taken inside rcu_read_lock() or another RT spinlock
        # (preemptible RCU), but never with IRQs or preemption disabled
        if task.irq_depth or task.preempt or (not rt_lock and (task.rcu_nest or task.rt_locks)):
            ctx = []
            if task.irq_depth:
                ctx.append("IRQs disabled" if task.kind != "irq" else "in IRQ context")
            if task.preempt:
                ctx.append(f"preempt count {task.preempt}")
            if task.rcu_nest or task.rt_locks:
                ctx.append("inside an RCU read-side section")
            self._violation(
                "sleep-in-atomic",
                f"BUG: sleeping function called from invalid context: {what} with "
                + ", ".join(ctx),
                task,
                op,
            )

    def _need_clean(self, task: Task, op: Any, what: str) -> None:
        if task.kind != "program":
            self._violation("bad-context", f"{what} from {task.kind} context", task, op)
        bad = self._unclean(task, at_exit=False)
        if bad:
            self._violation("bad-context", f"{what} " + ", ".join(bad), task, op)
