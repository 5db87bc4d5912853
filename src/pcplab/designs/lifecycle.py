"""The one path from a CPU's context changes to a design's hooks.

A design may act when a CPU returns to user space (on a nohz_full CPU: enters nohz, where the tick
stops and the kernel folds its per-CPU vmstat deltas with ``quiet_vmstat()``), when it enters idle,
and when it goes offline.  Workloads and the checker never yield :class:`~pcplab.kernel.ops.EnterUser`,
:class:`~pcplab.kernel.ops.GoIdle` or :class:`~pcplab.kernel.ops.GoOffline` themselves: they call the
generators below, which run the design's hook (if it has one) in kernel context first and then the
context change, so every engine reaches every hook the same way.

Where the kernel does it (v5.17-rc5):

* return to user: ``exit_to_user_mode_prepare()`` (kernel/entry/common.c) is the last kernel code
  before user mode; on a nohz_full CPU the tick is stopped on the way out
  (``tick_nohz_user_enter_prepare()``, ``tick_nohz_full_update_tick`` in kernel/time/tick-sched.c),
  and ``quiet_vmstat()`` (mm/vmstat.c) runs when the tick stops in idle.
* idle: ``do_idle()`` (kernel/sched/idle.c) → ``tick_nohz_idle_stop_tick()`` → ``quiet_vmstat()``.
* offline: the dying CPU runs the ``CPUHP_AP_*`` teardown callbacks in ``take_cpu_down()``
  (kernel/cpu.c) before it stops; ``page_alloc_cpu_dead()`` then runs on another CPU
  (the design's ``drain_dead_cpu``).

ASSUMPTION: in the simulator a task that goes to sleep makes its CPU idle without a separate idle
task, so the idle hook runs in the sleeping task's kernel context just before it sleeps (the
kernel runs it from the idle task a moment later; the work done is the same).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pcplab.designs.base import Context
from pcplab.kernel.ops import EnterUser, GoIdle, GoOffline

Gen = Generator[Any, Any, Any]


def exit_to_user_mode(design: Any, ctx: Context, func: str = "exit_to_user_mode") -> Gen:
    """Return to user space: the design's ``on_user_entry`` hook, then :class:`EnterUser`."""
    hook = design.on_user_entry
    if hook is not None:
        yield from hook(ctx)
    yield EnterUser(func=func)


def enter_idle(design: Any, ctx: Context, func: str = "do_idle") -> Gen:
    """Enter idle (checker scenarios): the design's ``on_idle_entry`` hook, then :class:`GoIdle`."""
    hook = design.on_idle_entry
    if hook is not None:
        yield from hook(ctx)
    yield GoIdle(func=func)


def before_sleep(design: Any, ctx: Context) -> Gen:
    """A simulated task is about to sleep, so its CPU idles: the ``on_idle_entry`` hook only (the
    engine idles the CPU itself when the task blocks; see the module's ASSUMPTION)."""
    hook = design.on_idle_entry
    if hook is not None:
        yield from hook(ctx)


def takedown_cpu(design: Any, ctx: Context, func: str = "takedown_cpu") -> Gen:
    """This CPU goes offline: the design's ``on_cpu_offline`` hook, then :class:`GoOffline`."""
    hook = design.on_cpu_offline
    if hook is not None:
        yield from hook(ctx)
    yield GoOffline(func=func)


__all__ = ["before_sleep", "enter_idle", "exit_to_user_mode", "takedown_cpu"]
