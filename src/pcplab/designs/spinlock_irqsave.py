"""Attempt [2] (2021-11-03, v2): an unconditional per-pcp spinlock taken with IRQs off.

Sources: kernel-pcp.md §11.2 — series ``<20211103170512.2745765-1-nsaenzju@redhat.com>``; 2/3
converts the ``pagesets`` local lock into ``spinlock_t lock`` in ``struct per_cpu_pages`` (placed
after ``lists[]``), 3/3 drains remote lists directly.  Mel Gorman's pft numbers (up to −25 %
system time on 2-socket CascadeLake, ``<20211203141306.GG3301@suse.de>``) and his suspicion that
the lock pushed the struct onto a fifth cache line are in §11.2.

* Fast paths: ``spin_lock_irqsave(&pcp->lock)`` on this CPU's pcp, always.
* ``drain_pages_zone(cpu, zone)`` takes the *target* pcp's lock, so ``__drain_all_pages`` drains
  every masked CPU itself, one after another; the mutex rule and the mask are v5.17's.
* 5.17 list rules: no buddy fallback, round-robin bulk free.
"""

from __future__ import annotations

from typing import Any

from pcplab.designs import common, standard
from pcplab.designs.base import (
    SPINLOCK,
    Context,
    size_record,
)
from pcplab.designs.base import v517_fields as _v517_fields
from pcplab.designs.standard import drain_cpus
from pcplab.designs.state import PcpLockState
from pcplab.kernel.ops import (
    MutexUnlock,
    PcpEnter,
    PcpExit,
    SpinLock,
    SpinUnlock,
)
from pcplab.mm.state import Zone
from pcplab.mm.version import parse_kernel

NAME = "spinlock-irqsave"
DESCRIPTION = "attempt [2]: per-pcp spinlock with IRQs off on every access; drainer locks remote"
KERNEL_VERSION = "5.17"
SOURCES = ("kernel-pcp.md §11.2", "<20211103170512.2745765-3-nsaenzju@redhat.com>")
State = PcpLockState

Gen = common.Gen
pcp_lock = common.pcp_lock


def rmqueue_pcplist(ctx: Context, zone: Zone, order: int, mt: int) -> Gen:
    pcp = zone.per_cpu_pageset[ctx.cpu]
    lock = pcp_lock(ctx, zone, ctx.cpu)
    yield SpinLock(lock, irqsave=True)
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu)
    common.mm.rmqueue_pcplist_prepare(pcp)
    page = yield from common.__rmqueue_pcplist(ctx, zone, order, mt, pcp, lists)
    yield PcpExit(lists, ctx.cpu)
    yield SpinUnlock(lock, irqrestore=True)
    return page


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> Gen:
    pcp = zone.per_cpu_pageset[ctx.cpu]
    lock = pcp_lock(ctx, zone, ctx.cpu)
    yield SpinLock(lock, irqsave=True)
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu, func="free_unref_page_commit")
    yield from common.free_unref_page_commit(ctx, zone, pcp, lists, pfn, order, mt)
    yield PcpExit(lists, ctx.cpu, func="free_unref_page_commit")
    yield SpinUnlock(lock, irqrestore=True)


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> Gen:
    """Drain ``cpu``'s lists of ``zone`` under that pcp's own lock (remote, local or dead)."""
    pcp = zone.per_cpu_pageset[cpu]
    lock = pcp_lock(ctx, zone, cpu)
    yield SpinLock(lock, irqsave=True)
    lists = pcp.lp
    yield PcpEnter(lists, cpu)
    if lists.count:
        yield from common.free_pcppages_bulk(ctx, zone, lists.count, pcp, lists)
    yield PcpExit(lists, cpu)
    yield SpinUnlock(lock, irqrestore=True)


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False

    cpus_with_pcps = yield from standard.cpus_with_pcps(ctx, zone, force_all_cpus, func)

    yield from drain_cpus(ctx, zone, cpus_with_pcps)

    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


def size_statement(machine: Any) -> dict[str, Any]:
    nr = parse_kernel("5.17").configured(thp=machine.version.thp).nr_pcp_lists
    return size_record(
        "spinlock-irqsave",
        machine,
        [*_v517_fields(nr), ("lock", SPINLOCK, 4)],
        source="kernel-pcp.md §11.2: 2/3 places spinlock_t lock after lists[]; the 256 B v5.17 "
        "struct grows past 4 cache lines",
        note="ASSUMPTION: no lock debugging (spinlock_t = 4 B)",
    )
