"""v5.17: drain remote pcp lists by running a work item on each CPU (mainline 2017 → 5.19).

Sources: kernel-pcp.md §3.4 (locking), §5.1 (allocation), §6.1 (free), §9.2-9.3 (drain)
[SRC✓ v5.17-rc5 mm/page_alloc.c:3023-3250]; commit 0ccce3b92421 ("drain per-cpu pages from
workqueue context", Mel Gorman).

* Only the owning CPU touches its pcp lists, inside ``local_lock_irqsave(&pagesets.lock)`` (IRQs
  off on !RT; migrate_disable + a per-CPU spinlock on PREEMPT_RT).  A dead CPU's lists may be
  touched by anyone (``page_alloc_cpu_dead``).
* ``__drain_all_pages`` serialises on ``pcpu_drain_mutex`` (a global drain that loses the trylock
  gives up; a zone drain waits), builds ``cpus_with_pcps`` from unlocked count reads, queues
  ``drain_local_pages_wq`` on every CPU in the mask and waits for each with ``flush_work``.
* No buddy fallback for pcp orders: an empty list that cannot be refilled fails the allocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pcplab.designs import common, standard
from pcplab.designs.base import Context, size_record
from pcplab.designs.base import v517_fields as _v517_fields
from pcplab.designs.standard import drain_local_pages
from pcplab.designs.state import DesignState
from pcplab.kernel.ops import (
    FlushWork,
    LocalLock,
    LocalUnlock,
    MigrateDisable,
    MigrateEnable,
    MutexUnlock,
    PcpEnter,
    PcpExit,
    QueueWorkOn,
    WorkItem,
)
from pcplab.mm.state import Zone
from pcplab.mm.version import parse_kernel

NAME = "workqueue"
DESCRIPTION = "v5.17: a kworker on each CPU drains its own lists; the drainer flushes each work"
KERNEL_VERSION = "5.17"
SOURCES = ("kernel-pcp.md §9.3", "commit 0ccce3b92421", "[SRC✓ v5.17 mm/page_alloc.c:3175-3250]")

Gen = common.Gen


@dataclass
class State(DesignState):
    #: struct pcpu_drain { zone, work } per CPU; INIT_WORK happens at each drain
    pcpu_drain: list[WorkItem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.pcpu_drain and self.machine is not None:
            self.pcpu_drain = [WorkItem(f"pcpu_drain/{cpu}") for cpu in range(self.machine.nr_cpus)]


# --- allocation ----------------------------------------------------------------------------------


def rmqueue_pcplist(ctx: Context, zone: Zone, order: int, mt: int) -> Gen:
    pagesets = ctx.state.pagesets
    yield LocalLock(pagesets)
    pcp = zone.per_cpu_pageset[ctx.cpu]
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu)
    common.mm.rmqueue_pcplist_prepare(pcp)  # free_factor >>= 1
    page = yield from common.__rmqueue_pcplist(ctx, zone, order, mt, pcp, lists)
    yield PcpExit(lists, ctx.cpu)
    yield LocalUnlock(pagesets)
    return page


# --- free ----------------------------------------------------------------------------------------


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> Gen:
    pagesets = ctx.state.pagesets
    yield LocalLock(pagesets)
    pcp = zone.per_cpu_pageset[ctx.cpu]
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu, func="free_unref_page_commit")
    yield from common.free_unref_page_commit(ctx, zone, pcp, lists, pfn, order, mt)
    yield PcpExit(lists, ctx.cpu, func="free_unref_page_commit")
    yield LocalUnlock(pagesets)


# --- drains --------------------------------------------------------------------------------------


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> Gen:
    """Free all of ``cpu``'s pages of ``zone``.  Legal for the running CPU or a dead one: the
    local lock taken is the *running* CPU's."""
    pagesets = ctx.state.pagesets
    yield LocalLock(pagesets)
    pcp = zone.per_cpu_pageset[cpu]
    lists = pcp.lp
    yield PcpEnter(lists, cpu)
    if lists.count:
        yield from common.free_pcppages_bulk(ctx, zone, lists.count, pcp, lists)
    yield PcpExit(lists, cpu)
    yield LocalUnlock(pagesets)


def drain_local_pages_wq(ctx: Context, zone: Zone | None) -> Gen:
    """The work function, run by the bound kworker of the target CPU.  migrate_disable because
    during CPU offline the item may run on another CPU; draining that one is fine (§9.2)."""
    yield MigrateDisable()
    yield from drain_local_pages(ctx, zone)
    yield MigrateEnable()


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> Gen:
    st = ctx.state
    func = "__drain_all_pages"
    # A global drain already running does what we want: do not wait for it.  Zone drainers
    # (CMA, memory offline) must be sure their zone was drained, so they wait.
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False

    cpus_with_pcps = yield from standard.cpus_with_pcps(ctx, zone, force_all_cpus, func)

    yield from queue_and_flush_drains(ctx, zone, cpus_with_pcps, func)

    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


def queue_and_flush_drains(ctx: Context, zone: Zone | None, cpus: list[int], func: str) -> Gen:
    """v5.17's work loop of ``__drain_all_pages``: queue ``drain_local_pages_wq`` on every CPU of
    the mask, then ``flush_work`` each.  Designs that keep the workqueue drain for some CPUs
    reuse it (``static-key`` without nohz_full CPUs, the examples)."""
    st = ctx.state
    for cpu in cpus:
        drain = st.pcpu_drain[cpu]
        drain.fn = drain_local_pages_wq  # INIT_WORK(&drain->work, drain_local_pages_wq)
        drain.args = (zone,)  # drain->zone = zone
        yield QueueWorkOn(cpu, drain, func=func)
    for cpu in cpus:
        yield FlushWork(st.pcpu_drain[cpu], func=func)


def size_statement(machine: Any) -> dict[str, Any]:
    nr = parse_kernel("5.17").configured(thp=machine.version.thp).nr_pcp_lists
    return size_record(
        "workqueue",
        machine,
        _v517_fields(nr),
        source="kernel-pcp.md §3.2 [SRC v5.17 include/linux/mmzone.h]: 16 B scalars + "
        f"{nr} list heads",
        note="per CPU also struct pcpu_drain {zone *, work_struct} = 40 B (ASSUMPTION: no "
        "lockdep; work_struct = data + list_head + func)",
        extra_per_cpu={"pcpu_drain": 40},
    )

