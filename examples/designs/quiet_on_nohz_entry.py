"""Flush a nohz_full CPU's pcp lists when it enters nohz; global drains skip those CPUs.

The second idea of the 2022 thread: like ``quiet_vmstat()``, which folds a CPU's vmstat deltas
when its tick stops, a nohz_full CPU empties its own pcp lists on its way back to user space.  A
nohz_full CPU found in user mode (an RCU extended quiescent state) then has nothing on its lists,
and ``__drain_all_pages`` leaves it alone instead of queueing a kworker there.  The drain
elsewhere is v5.17's.  Entering idle flushes too (it saves the kworker a trip), but idle CPUs are
not skipped: a CPU can be idle without having passed through ``do_idle()`` since it last
allocated (the checker found exactly that when idle CPUs were skipped as well).

The user-mode test reads the target CPU's context-tracking state (``ct_dynticks_cpu()`` /
``rcu_dynticks_in_eqs()`` in the kernel) without a lock: a CPU may leave user mode right after the
read and allocate, which is the same race v5.17's unlocked ``pcp->count`` read already accepts (a
drain only promises empty lists when nothing allocates concurrently).

    pcplab check --design examples/designs/quiet_on_nohz_entry.py --bound -1
"""

from __future__ import annotations

from typing import Any

from pcplab.check.scenario import (
    Scenario,
    alloc,
    drain,
    drain_dead,
    enter_user,
    free,
    go_idle,
    go_offline,
    pcp_disable,
    pcp_enable,
)
from pcplab.designs import Context, common, workqueue
from pcplab.designs.standard import drain_local_pages
from pcplab.designs.workqueue import (  # noqa: F401 - the unchanged v5.17 parts of this design
    State,
    __drain_all_pages,
    drain_pages_zone,
    free_unref_page,
    rmqueue_pcplist,
)
from pcplab.kernel.ops import Load
from pcplab.mm.state import Zone

NAME = "quiet-on-nohz-entry"
KERNEL_VERSION = "5.17"
SOURCES = ("mm/vmstat.c quiet_vmstat() [v5.17-rc5]", "kernel/time/tick-sched.c")

Gen = common.Gen


# --- the hooks: flush this CPU's own lists where the kernel quiets vmstat ----------------------


def on_user_entry(ctx: Context) -> Gen:
    """On a nohz_full CPU, empty this CPU's lists before returning to user space."""
    if ctx.cpu in ctx.kernel.nohz_full:
        yield from drain_local_pages(ctx, None)


def on_idle_entry(ctx: Context) -> Gen:
    """Any CPU entering idle empties its lists (a later drain then finds nothing there)."""
    yield from drain_local_pages(ctx, None)


# --- the drain mask: v5.17's, skipping nohz_full CPUs in user mode ----------------------------


def cpus_with_pcps(ctx: Context, zone: Zone | None, force_all_cpus: bool, func: str) -> Gen:
    """v5.17's mask without nohz_full CPUs found in user mode (v5.17's ``__drain_all_pages``,
    reused from ``workqueue``, asks the design for its mask)."""
    mask = yield from common.cpus_with_pcps(ctx, zone, force_all_cpus, func)
    out = []
    for cpu in mask:
        if cpu in ctx.kernel.nohz_full:
            # READ_ONCE of the remote CPU's context-tracking state
            if (yield Load(ctx.kernel.cpus[cpu], "mode", owner=cpu, func=func)) == "user":
                continue  # it flushed its lists on the way out to user space
        out.append(cpu)
    return out


def size_statement(machine: Any) -> dict[str, Any]:
    return dict(workqueue.size_statement(machine), design=NAME)


SCENARIOS = [
    Scenario(
        "quiet-user-vs-global-drain",
        "nohz_full cpu0 allocates, frees and returns to user space (flushing its lists) while "
        "cpu1 frees through its lists and cpu2 runs drain_all_pages(NULL)",
        programs=((alloc(0), free(), enter_user()), (alloc(0), free()), (drain(None),)),
        prefill=((0, 0, 1), (1, 0, 1)),
        nohz_full=(0,),
    ),
    Scenario(
        "quiet-user-vs-forced-drain",
        "nohz_full cpu0 frees and returns to user space while cpu1 runs a forced global drain "
        "and then a zone drain",
        programs=((alloc(0), free(), enter_user()), (drain(None, force=True), drain(0))),
        prefill=((0, 0, 2),),
        nohz_full=(0,),
    ),
    Scenario(
        "quiet-idle-vs-drain",
        "cpu0 frees and goes idle (flushing) while cpu1 runs zone_pcp_disable/enable and cpu2 a "
        "global drain",
        programs=((alloc(0), free(), go_idle()), (pcp_disable(0), pcp_enable(0)), (drain(None),)),
        prefill=((0, 0, 1),),
    ),
    Scenario(
        "quiet-cpu-offline",
        "nohz_full cpu1 frees and goes offline; cpu0 drains the dead CPU",
        programs=((drain_dead(1),), (alloc(0), free(), go_offline())),
        prefill=((1, 0, 1),),
        nohz_full=(1,),
    ),
]
