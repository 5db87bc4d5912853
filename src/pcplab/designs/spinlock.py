"""Linux 6.0: ``pcp->lock`` with trylock on the fast paths and a buddy fallback (what landed).

Sources: kernel-pcp.md §12 [SRC✓ v6.0.1 mm/page_alloc.c] — Mel Gorman, "Drain remote per-cpu
directly" v5 ``<20220624125423.6126-1-mgorman@techsingularity.net>``; commits 4b23a68f9536
("protect PCP lists with a spinlock"), 443c2accd1b6 ("remotely drain per-cpu lists", N. Saenz
Julienne), 01b44456a7aa ("replace local_lock with normal spinlock"); §5.2, §6.2 for the fallbacks.

* Fast paths pin the task (``preempt_disable``; ``migrate_disable`` on PREEMPT_RT), then
  ``spin_trylock_irqsave(&pcp->lock)`` on this CPU's pcp.  A failed trylock (a drainer holds it)
  sends the allocation to ``rmqueue_buddy`` and the free to ``free_one_page``, both under
  ``zone->lock``.  An empty pcp list that cannot be refilled also falls back to buddy.
* ``drain_pages_zone(cpu, zone)`` reads ``count`` without the lock and, if non-zero, frees the lists
  under ``spin_lock_irqsave(&pcp->lock)`` — all on the draining CPU.  No workqueue, IPI or RCU.
* 6.0 list rules (run with a 6.0 machine): one shared THP list, single-pass bulk free starting
  at the list just freed into, ``free_high``.
* A design built on this one for a later kernel (``KERNEL_VERSION = "6.8"``) follows that
  kernel's locking: from 6.2 the pcp lock leaves IRQs on (``pcp_spin_trylock``, a plain
  ``spin_lock(&pcp->lock)`` in the drain; the bulk paths take ``zone->lock`` irqsave themselves;
  kernel-pcp.md §13, 5749077415994eb0 [SRC v6.8 mm/page_alloc.c pcpu_spin_trylock,
  drain_pages_zone]); from 6.10 the drain frees at most ``batch << CONFIG_PCP_BATCH_SCALE_MAX``
  (5) pages per lock hold, re-reading ``count`` under the lock each time (55f77df7d715,
  66eca1021a42; §15 [SRC v6.13.7 mm/page_alloc.c:2390-2407 drain_pages_zone]).
"""

from __future__ import annotations

from typing import Any

from pcplab.designs import common, standard
from pcplab.designs.base import (
    SPINLOCK,
    Context,
    size_record,
    v517_fields,
)
from pcplab.designs.standard import drain_cpus
from pcplab.designs.state import PcpLockState
from pcplab.kernel.ops import (
    Load,
    MigrateDisable,
    MigrateEnable,
    MutexUnlock,
    PcpEnter,
    PcpExit,
    PreemptDisable,
    PreemptEnable,
    SpinLock,
    SpinTrylock,
    SpinUnlock,
)
from pcplab.mm.constants import MIGRATE_ISOLATE
from pcplab.mm.state import PerCpuPages, Zone
from pcplab.mm.version import parse_kernel

NAME = "spinlock"
DESCRIPTION = "6.0: pin + pcp->lock trylock with buddy fallback; the drainer locks each remote pcp"
KERNEL_VERSION = "6.0"
SOURCES = (
    "kernel-pcp.md §12",
    "<20220624125423.6126-1-mgorman@techsingularity.net>",
    "commit 4b23a68f9536",
    "commit 443c2accd1b6",
    "commit 01b44456a7aa",
)
State = PcpLockState

Gen = common.Gen
pcp_lock = common.pcp_lock


# --- pcp_spin_trylock_irqsave / pcp_spin_unlock_irqrestore ----------------------------------------


def pcpu_task_pin(ctx: Context, func: str) -> Gen:
    # preempt_disable is cheaper; RT needs migrate_disable (sleeping spinlocks)
    if getattr(ctx.kernel, "preempt_rt", False):
        yield MigrateDisable(func=func)
    else:
        yield PreemptDisable(func=func)


def pcpu_task_unpin(ctx: Context, func: str) -> Gen:
    if getattr(ctx.kernel, "preempt_rt", False):
        yield MigrateEnable(func=func)
    else:
        yield PreemptEnable(func=func)


def pcp_spin_trylock_irqsave(ctx: Context, zone: Zone, func: str) -> Gen:
    """This CPU's pcp with its lock held, or None when the lock is busy.  IRQs off with it up to
    6.1; from 6.2 (``pcp_spin_trylock``) IRQs stay on (module doc)."""
    yield from pcpu_task_pin(ctx, func)
    pcp = zone.per_cpu_pageset[ctx.cpu]
    irq = not zone.version.pcp_irqs_enabled
    if (yield SpinTrylock(pcp_lock(ctx, zone, ctx.cpu), irqsave=irq, func=func)):
        return pcp
    yield from pcpu_task_unpin(ctx, func)
    return None


def pcp_spin_unlock_irqrestore(ctx: Context, zone: Zone, pcp: PerCpuPages, func: str) -> Gen:
    irq = not zone.version.pcp_irqs_enabled
    yield SpinUnlock(pcp_lock(ctx, zone, pcp.cpu), irqrestore=irq, func=func)
    yield from pcpu_task_unpin(ctx, func)


# --- fast paths ----------------------------------------------------------------------------------


def rmqueue_pcplist(ctx: Context, zone: Zone, order: int, mt: int) -> Gen:
    pcp = yield from pcp_spin_trylock_irqsave(ctx, zone, "rmqueue_pcplist")
    if pcp is None:
        return None  # may fail due to a parallel drain: the caller uses buddy
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu)
    common.mm.rmqueue_pcplist_prepare(pcp)
    page = yield from common.__rmqueue_pcplist(ctx, zone, order, mt, pcp, lists)
    yield PcpExit(lists, ctx.cpu)
    yield from pcp_spin_unlock_irqrestore(ctx, zone, pcp, "rmqueue_pcplist")
    return page


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> Gen:
    pcp = yield from pcp_spin_trylock_irqsave(ctx, zone, "free_unref_page")
    if pcp is None:
        yield from common.free_one_page(ctx, zone, pfn, order, mt)
        return
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu, func="free_unref_page_commit")
    yield from common.free_unref_page_commit(ctx, zone, pcp, lists, pfn, order, mt)
    yield PcpExit(lists, ctx.cpu, func="free_unref_page_commit")
    yield from pcp_spin_unlock_irqrestore(ctx, zone, pcp, "free_unref_page")


#: ``SWAP_CLUSTER_MAX``: pages freed per ``pcp->lock`` hold in ``free_unref_page_list``
SWAP_CLUSTER_MAX = 32


def free_unref_page_list(ctx: Context, pages: list[tuple[Zone, int]]) -> Gen:
    """Order-0 pages freed as one batch [SRC v6.0.1 mm/page_alloc.c:3522-3587].  Pages of
    isolated pageblocks go to buddy first; the rest are committed under ``pcp->lock`` taken with
    ``pcp_spin_lock_irqsave`` — blocking, unlike the single-page free's trylock — dropped and
    retaken on a zone change and after every ``SWAP_CLUSTER_MAX`` pages.  From 6.2 the lock is a
    trylock and a page that finds it busy goes to ``free_one_page`` (kernel-pcp.md §13; [SRC v6.8
    mm/page_alloc.c:2522-2600 free_unref_page_list])."""
    func = "free_unref_page_list"
    rest = []
    for zone, pfn in pages:
        mt = common.mm.pcp_free_migratetype(zone, pfn)
        if mt == MIGRATE_ISOLATE:
            yield from common.free_one_page(ctx, zone, pfn, 0, mt)
        else:
            rest.append((zone, pfn, mt))
    locked: Zone | None = None
    pcp: PerCpuPages | None = None
    batch = 0
    for zone, pfn, mt in rest:
        if zone is not locked or batch == SWAP_CLUSTER_MAX:
            if pcp is not None and locked is not None:
                yield from pcp_spin_unlock_irqrestore(ctx, locked, pcp, func)
                pcp = None
            batch = 0
            locked = zone
            if zone.version.pcp_irqs_enabled:
                pcp = yield from pcp_spin_trylock_irqsave(ctx, zone, func)
            else:
                yield from pcpu_task_pin(ctx, func)
                yield SpinLock(pcp_lock(ctx, zone, ctx.cpu), irqsave=True, func=func)
                pcp = zone.per_cpu_pageset[ctx.cpu]
        if pcp is None:  # 6.2+: the trylock failed
            locked = None
            yield from common.free_one_page(ctx, zone, pfn, 0, mt)
            continue
        lists = pcp.lp
        yield PcpEnter(lists, ctx.cpu, func="free_unref_page_commit")
        yield from common.free_unref_page_commit(ctx, zone, pcp, lists, pfn, 0, mt)
        yield PcpExit(lists, ctx.cpu, func="free_unref_page_commit")
        batch += 1
    if pcp is not None and locked is not None:
        yield from pcp_spin_unlock_irqrestore(ctx, locked, pcp, func)


# --- drains --------------------------------------------------------------------------------------


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> Gen:
    pcp = zone.per_cpu_pageset[cpu]
    v = zone.version
    if v.chunked_drain:
        yield from _drain_pages_zone_chunked(ctx, cpu, zone, pcp)
        return
    if (yield Load(pcp.lp, "count", owner=cpu)):
        lock = pcp_lock(ctx, zone, cpu)
        irq = not v.pcp_irqs_enabled  # 6.0/6.1: IRQs off for zone->lock; 6.2+: bulk irqsaves
        yield SpinLock(lock, irqsave=irq)
        lists = pcp.lp
        yield PcpEnter(lists, cpu)
        if lists.count:  # the count passed to free_pcppages_bulk is read under the lock
            yield from common.free_pcppages_bulk(ctx, zone, lists.count, pcp, lists)
        yield PcpExit(lists, cpu)
        yield SpinUnlock(lock, irqrestore=irq)


#: ``CONFIG_PCP_BATCH_SCALE_MAX``'s default (mm/Kconfig, range 0-6) [SRC v6.13.7]
PCP_BATCH_SCALE_MAX = 5


def _drain_pages_zone_chunked(ctx: Context, cpu: int, zone: Zone, pcp: PerCpuPages) -> Gen:
    """6.10+: at most ``batch << PCP_BATCH_SCALE_MAX`` pages per hold of ``pcp->lock``, the count
    read under the lock each round, until none is left (module doc)."""
    func = "drain_pages_zone"
    lock = pcp_lock(ctx, zone, cpu)
    lists = pcp.lp
    while True:
        yield SpinLock(lock, func=func)
        yield PcpEnter(lists, cpu, func=func)
        count = lists.count
        if count:
            chunk = min(count, pcp.batch << PCP_BATCH_SCALE_MAX)
            yield from common.free_pcppages_bulk(ctx, zone, chunk, pcp, lists)
            count -= chunk
        yield PcpExit(lists, cpu, func=func)
        yield SpinUnlock(lock, func=func)
        if not count:
            return


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False

    cpus_with_pcps = yield from standard.cpus_with_pcps(ctx, zone, force_all_cpus, func)

    # all on this CPU, one CPU after another
    yield from drain_cpus(ctx, zone, cpus_with_pcps)

    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


def v60_fields(nr_lists: int) -> list[tuple[str, int, int]]:
    """``struct per_cpu_pages`` of 6.0 with CONFIG_NUMA (mmzone.h:384-396 [SRC✓ v6.0.1]): the
    v5.17 fields behind a leading ``spinlock_t lock``."""
    return [("lock", SPINLOCK, 4), *v517_fields(nr_lists)]


def size_statement(machine: Any) -> dict[str, Any]:
    nr = parse_kernel("6.0").configured(thp=machine.version.thp).nr_pcp_lists
    return size_record(
        "spinlock",
        machine,
        v60_fields(nr),
        cacheline_aligned=True,
        source="kernel-pcp.md §3.2: Mel's pahole <20220613125622.18628-6-mgorman@"
        "techsingularity.net>: lock 0/4 ... lists 24/208, 256 B, 4 lines, 64-byte aligned",
        note="the lock fits because 6.0 shares one THP list (13 lists, commit 5d0a661d808f)",
    )
