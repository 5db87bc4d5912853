"""The checker's summaries of kernel state: what two search states are compared on.

:func:`kernel_state_key` is the kernel part of a world's state key (:meth:`World.state_key
<pcplab.check.world.World.state_key>`): per task its contexts (IRQ depth, preempt and migrate
counts, RCU nesting, RT locks held, user/kernel mode), what it waits for (by op type), the grace
periods it waits on and the locks it holds; per CPU whether it is online, what runs on it, its
pending IPIs and its worklist.  Differences that cannot change what happens next are left out
(a task asleep on an op that a retry repeats exactly, an asleep current task), so each such state
is searched once.  It is free of object identity (tasks by index, locks and work by
name), so equal states reached along different schedules have equal keys.  It lives here, not in
:mod:`pcplab.kernel`, because only the checker compares states.
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel.state import RETRY_ALIKE, Kernel


def kernel_state_key(kernel: Kernel) -> tuple[Any, ...]:
    """Kernel state for the checker's state cache (object-identity free)."""
    tasks = tuple(
        (
            t.done,
            t.irq_depth,
            t.preempt,
            t.migrate,
            t.rcu_nest,
            t.rt_locks,
            t.mode,
            _wait_key(kernel, t),
            tuple((x.index, s != x.qs_seq) for x, s in t.gp) if t.gp else None,
            t.irq_task.index if t.irq_task is not None else None,
            tuple(str(h) for h in t.held),
        )
        for t in kernel.tasks
    )
    cpus = tuple(
        (
            c.online,
            _current_key(c),
            c.irq.index if c.irq is not None else -1,
            tuple(t.index for t in c.pending_irqs),
            tuple((w.name, w.args and str(w.args[0])) for w in c.worklist),
        )
        for c in kernel.cpus
    )
    return (tasks, cpus)


def _current_key(c: Any) -> int:
    """The CPU's current task, or -1 when it makes no difference: none, finished, or asleep in a
    plain context (not spinning; no IRQs, preemption, migration, RCU or RT lock nesting; the CPU
    not parked in user mode).  Such a task leaves the CPU idle and every task on it free to run
    exactly as if none were current (``Kernel.enabled_indices``, ``Cpu.mode``)."""
    t = c.current
    if t is None or t.done:
        return -1
    if (t.wait is not None and not t.spinning and not c.parked_user and not t.irq_depth
            and not t.preempt and not t.migrate and not t.rcu_nest and not t.rt_locks):  # fmt: skip
        return -1
    return int(t.index)


def _wait_key(kernel: Kernel, t: Any) -> str | None:
    """What ``t`` waits for, by op type; None also for a task asleep on a :data:`RETRY_ALIKE` op
    that may retry now: it and the same task about to try the op for the first time do the same
    next (both are enabled, and the attempt succeeds).  Whether it may retry is a function of the
    rest of the key (the worklist, the work item's pending/running), so a sleeper that may not
    retry (disabled) never shares a key with a task about to try (enabled, and about to block):
    equal keys keep equal enabled sets, which the state cache's sleep sets rely on."""
    w = t.wait
    if w is None or (type(w) in RETRY_ALIKE and kernel.can_run(t)):
        return None
    return type(w).__name__


__all__ = ["kernel_state_key"]
