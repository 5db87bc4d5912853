"""Kernel services both engines drive: CPUs, tasks, locks, RCU, workqueues, IPIs.

No costs and no scheduling policy live here: an engine (the simulator or the checker) decides which
enabled task runs next and what each step costs.  This module only says what an op *means*.

API (what an engine uses)
-------------------------
``k = Kernel(nr_cpus, preempt_rt=False, nohz_full=frozenset(), machine=None)``
    ``k.machine`` and ``k.state`` (the design's global state, set by the engine from
    ``design.setup``) are reachable from every task as ``ctx.machine`` / ``ctx.state``.
``t = k.spawn(cpu, fn, args=(), name=None, prime=False)``
    create a *program* task running generator function ``fn(ctx, *args)`` pinned to ``cpu`` (tasks
    never migrate, except a kworker whose CPU goes offline, see below).  The :class:`Task` **is** the ``ctx`` designs receive: ``ctx.cpu``,
    ``ctx.kernel``, ``ctx.machine``, ``ctx.state``.  ``prime=True`` runs the code before the first
    ``yield`` now (saves one scheduling point).
``k.enabled_tasks()``
    the tasks that may take a step now, in a deterministic order (CPU id, then current task, then
    IRQ, then others in spawn order).  Per CPU: an active IRQ handler runs alone; a pending IPI can
    start when the running task has IRQs enabled; the current task may continue; another task on the
    CPU may be switched to only if the current one is preemptible (IRQs on, preempt count 0 — e.g.
    asleep on a mutex) or finished.  A context switch is an RCU quiescent state (RCU readers are
    tracked per task, so a preempted ``rcu_read_lock()`` section on RT still holds a grace period).
    A blocked task is listed only once what it waits for has happened (it then retries its op).
``k.enabled_indices()``
    ``[t.index for t in k.enabled_tasks()]`` without the intermediate list (the checker's loop).
``k.step(task) -> op | None | BLOCKED``
    one scheduling point: execute the task's pending op (``task.op``) and, unless that returns
    :data:`BLOCKED`, send the result into the generator and run the design's plain code up to the
    next ``yield`` (which becomes ``task.op``).  Returns the executed op (``None`` for the first step
    of an unprimed task).  Exceptions raised by design code propagate unchanged (the checker turns an
    ``AttributeError`` on ``None`` into an oops).  Lock-discipline errors raise
    :class:`KernelViolation`.
``k.execute(task, op)``
    the op semantics alone (result or :data:`BLOCKED`); ``step`` calls it.
``k.wait_key(task)``
    what a blocked task waits for: ``("spinlock", lock, owner)``, ``("mutex", lock, owner)``,
    ``("local_lock", lock, cpu, owner)``, ``("rcu_gp", (tasks...))``, ``("flush_work", work)``,
    ``("ipi", irq_task)``, ``("work", cpu)`` (an idle kworker), ``("cpu_dead", cpu)``,
    ``("cpu_down", cpu)`` (going offline: waits for pending IPIs and a running work item);
    ``None`` when not blocked.  ``task.spinning`` is True when the wait is a busy-wait that
    keeps the CPU (non-RT spinlock, ``smp_call_function_single`` waiting).
``k.runnable(cpu)``, ``k.can_run(task)``
    the same per CPU; whether a task's wait is over (ignoring its CPU).
``k.unfinished()``
    non-daemon tasks that have not finished (kworkers are daemons; tasks left on a CPU that went
    offline are not counted).  No enabled task and a non-empty ``unfinished()`` is a deadlock.
``k.events``
    when ``k.record_events`` is True, a list of :class:`KernelEvent` the simulator consumes (and
    clears): ``"ipi"`` (``smp_call_function_single``), ``"rcu_exp_ipi"`` (an expedited grace period
    IPIs a CPU that is not in an extended quiescent state), ``"work_queued"`` (a kworker woken on
    ``dst``), ``"gp_start"`` / ``"gp_end"`` (normal or expedited grace period waits).
``k.cpus[i]``: :class:`Cpu` with ``id``, ``online``, ``nohz_full``, ``current``, ``irq`` (active
    IRQ task), ``pending_irqs``, ``worklist``, ``kworker``, ``tasks`` and properties ``mode``
    (``"user" | "kernel" | "idle" | "offline"``), ``irq_depth``, ``preempt_count``,
    ``migrate_disable``, ``rcu_nesting``, ``held_locks``, ``in_eqs`` (RCU extended quiescent state).

Semantics (sources: ``docs/internals.md``; kernel-pcp.md §3.4, §9, §16)
-----------------------------------------------------------------------
One module per service, each with its ops' meaning in its docstring and its ``EXEC`` (op type ->
method) and ``READY`` (blocking op type -> may it retry) tables; :class:`Kernel` composes them:

* :mod:`pcplab.kernel.core`: tasks, lock owners, might_sleep(), the clean-exit check;
* :mod:`pcplab.kernel.context`: IRQ/preempt/migrate nesting, user/kernel/idle mode, ``Sleep``;
* :mod:`pcplab.kernel.locking`: spinlocks, mutexes, local locks (and PREEMPT_RT's versions);
* :mod:`pcplab.kernel.memory`: ``Load``/``Store``/``Access`` and pcp list windows;
* :mod:`pcplab.kernel.rcu`: readers and grace periods;
* :mod:`pcplab.kernel.workqueue`: kworkers, ``queue_work_on``, ``flush_work``;
* :mod:`pcplab.kernel.ipi`: ``smp_call_function_single``;
* :mod:`pcplab.kernel.hotplug`: ``GoOffline``, ``WaitCpuDead``.

``Task``, ``Cpu``, ``BLOCKED`` (:mod:`pcplab.kernel.task`) and ``KernelViolation``,
``CheckViolation``, ``KernelEvent`` (:mod:`pcplab.kernel.core`) are importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pcplab.kernel import context, hotplug, ipi, locking, memory, ops, rcu, workqueue
from pcplab.kernel.context import ContextOps
from pcplab.kernel.core import CheckViolation, KernelEvent, KernelViolation
from pcplab.kernel.hotplug import Hotplug
from pcplab.kernel.ipi import Ipis
from pcplab.kernel.locking import Locking
from pcplab.kernel.locks import LocalLockVar, Mutex, Spinlock
from pcplab.kernel.memory import MemoryOps
from pcplab.kernel.rcu import Rcu
from pcplab.kernel.task import BLOCKED, Cpu, Task
from pcplab.kernel.workqueue import WaitForWork


class Kernel(ContextOps, Locking, MemoryOps, Rcu, Hotplug, Ipis):
    """CPUs, tasks and the kernel services; see the module docstring."""

    def enabled_tasks(self) -> list[Task]:
        out: list[Task] = []
        for cpu in self.cpus:
            self._cpu_enabled(cpu, out)
        return out

    def enabled_indices(self) -> list[int]:
        """``[t.index for t in enabled_tasks()]``, inlined for the checker's inner loop (keep the
        two in step: ``tests/kernel`` compares them)."""
        out: list[int] = []
        ready = _READY
        for cpu in self.cpus:
            irq = cpu.irq
            if irq is not None:
                w = irq.wait
                if w is None or ready[type(w)](self, irq, w):
                    out.append(irq.index)
                continue
            if not cpu.online:
                continue
            cur = cpu.current
            if cur is not None:
                if cur.done:
                    cur = None
                else:
                    w = cur.wait
                    if w is None or ready[type(w)](self, cur, w):
                        out.append(cur.index)
            if cpu.pending_irqs and (cur is None or cur.irq_depth == 0):
                out.append(cpu.pending_irqs[0].index)
            if cur is None or (cur.irq_depth == 0 and cur.preempt == 0):
                for t in cpu.tasks:
                    if t is not cur and not t.done:
                        w = t.wait
                        if w is None or ready[type(w)](self, t, w):
                            out.append(t.index)
        return out

    def can_run(self, t: Task) -> bool:
        """True unless ``t`` is blocked on something that has not happened yet (it ignores
        whether its CPU would let it run; see :meth:`runnable`)."""
        w = t.wait
        return w is None or _READY[type(w)](self, t, w)

    def would_block(self, t: Task) -> bool:
        """Whether ``t``'s pending op is a blocking op that would put it to sleep if it ran now."""
        op = t.op
        ready = _READY.get(type(op))
        return ready is not None and t.wait is None and not ready(self, t, op)

    def runnable(self, cpu: int) -> list[Task]:
        """The tasks that may take a step on ``cpu`` now (see :meth:`enabled_tasks`)."""
        out: list[Task] = []
        self._cpu_enabled(self.cpus[cpu], out)
        return out

    def _cpu_enabled(self, cpu: Cpu, out: list[Task]) -> None:
        irq = cpu.irq
        if irq is not None:
            if self.can_run(irq):
                out.append(irq)
            return
        if not cpu.online:
            return
        cur = cpu.current
        if cur is not None and cur.done:
            cur = None
        if cur is not None and self.can_run(cur):
            out.append(cur)
        if cpu.pending_irqs and (cur is None or cur.irq_depth == 0):
            out.append(cpu.pending_irqs[0])
        if cur is None or (cur.irq_depth == 0 and cur.preempt == 0):
            for t in cpu.tasks:
                if t is not cur and not t.done and self.can_run(t):
                    out.append(t)

    def unfinished(self) -> list[Task]:
        return [
            t
            for t in self.tasks
            if not t.done and not t.daemon and (t.kind == "irq" or self.cpus[t.cpu].online)
        ]

    def step(self, task: Task) -> Any:
        cpu = self.cpus[task.cpu]
        if task.kind == "irq":
            if cpu.irq is None:
                cpu.pending_irqs.popleft()
                cpu.irq = task
        elif cpu.online:
            cpu.current = task
        task.steps += 1
        op = task.op
        if op is None:
            self.resume(task, None)
            return None
        # execute() and resume() inlined: this is the checker's innermost loop
        tp = type(op)
        if task.mode != "kernel" and tp not in _CONTEXT_OPS:
            task.mode = "kernel"  # implicit syscall / fault entry
        fn = _EXEC.get(tp)
        if fn is None:
            raise TypeError(f"{task.name} yielded {op!r}, which is not a pcplab.kernel.ops.Op")
        res = fn(self, task, op)
        if res is BLOCKED:
            return BLOCKED
        if task.kill:
            task.gen.close()
            self.finish(task, None)
            return op
        try:
            task.op = task.gen.send(res)
        except StopIteration as stop:
            task.op = None
            self.finish(task, stop.value)
        return op

    def execute(self, task: Task, op: Any) -> Any:
        if task.mode != "kernel" and type(op) not in _CONTEXT_OPS:
            task.mode = "kernel"  # implicit syscall / fault entry
        fn = _EXEC.get(type(op))
        if fn is None:
            raise TypeError(f"{task.name} yielded {op!r}, which is not a pcplab.kernel.ops.Op")
        return fn(self, task, op)

    def online_cpus(self) -> list[int]:
        return [c.id for c in self.cpus if c.online]

    def wait_key(self, task: Task) -> tuple[Any, ...] | None:
        w = task.wait
        if w is None:
            return None
        if isinstance(w, ops.SpinLock):
            return ("spinlock", w.lock, self.owner.get(id(w.lock)))
        if isinstance(w, ops.MutexLock):
            return ("mutex", w.mutex, self.owner.get(id(w.mutex)))
        if isinstance(w, ops.LocalLock):
            return ("local_lock", w.lock, task.cpu, self.owner.get((id(w.lock), task.cpu)))
        if isinstance(w, ops.SynchronizeRcu):
            pending = tuple(t for t, s in (task.gp or ()) if not t.done and t.qs_seq == s)
            return ("rcu_gp", pending)
        if isinstance(w, ops.FlushWork):
            return ("flush_work", w.work)
        if isinstance(w, ops.IpiCall):
            return ("ipi", task.irq_task)
        if isinstance(w, WaitForWork):
            return ("work", task.cpu)
        if isinstance(w, ops.WaitCpuDead):
            return ("cpu_dead", w.cpu)
        if isinstance(w, ops.GoOffline):
            return ("cpu_down", task.cpu)
        return ("?", w)


#: op type -> Kernel method executing it
_EXEC: dict[type, Callable[[Kernel, Task, Any], Any]] = {
    **context.EXEC,
    **locking.EXEC,
    **memory.EXEC,
    **rcu.EXEC,
    **workqueue.EXEC,
    **ipi.EXEC,
    **hotplug.EXEC,
}
#: blocking op type -> whether the task waiting on it may retry now
_READY: dict[type, Callable[[Kernel, Task, Any], bool]] = {
    **locking.READY,
    **rcu.READY,
    **workqueue.READY,
    **ipi.READY,
    **hotplug.READY,
}
_CONTEXT_OPS = context.CONTEXT_OPS
#: blocking ops a task waiting on is keyed as if it had not tried them yet (workqueue.RETRY_ALIKE)
RETRY_ALIKE: frozenset[type] = workqueue.RETRY_ALIKE

__all__ = [
    "BLOCKED",
    "RETRY_ALIKE",
    "Cpu",
    "Kernel",
    "KernelEvent",
    "KernelViolation",
    "CheckViolation",
    "LocalLockVar",
    "Mutex",
    "Spinlock",
    "Task",
    "WaitForWork",
]
