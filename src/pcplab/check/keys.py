"""The checker's summaries of kernel state: what two search states are compared on.

:func:`kernel_state_key` is the kernel part of a world's state key (:meth:`World.state_key
<pcplab.check.world.World.state_key>`): per task its contexts (IRQ depth, preempt and migrate
counts, RCU nesting, RT locks held, user/kernel mode), what it waits for (by op type), the grace
periods it waits on and the locks it holds; per CPU whether it is online, what runs on it, its
pending IPIs and its worklist.  It is free of object identity (tasks by index, locks and work by
name), so equal states reached along different schedules have equal keys.  It lives here, not in
:mod:`pcplab.kernel`, because only the checker compares states.
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel.state import Kernel


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
            type(t.wait).__name__ if t.wait is not None else None,
            tuple((x.index, s != x.qs_seq) for x, s in t.gp) if t.gp else None,
            t.irq_task.index if t.irq_task is not None else None,
            tuple(str(h) for h in t.held),
        )
        for t in kernel.tasks
    )
    cpus = tuple(
        (
            c.online,
            c.current.index if c.current is not None else -1,
            c.irq.index if c.irq is not None else -1,
            tuple(t.index for t in c.pending_irqs),
            tuple((w.name, w.args and str(w.args[0])) for w in c.worklist),
        )
        for c in kernel.cpus
    )
    return (tasks, cpus)


__all__ = ["kernel_state_key"]
