"""Mutant of ``spinlock`` (6.0): the drain's ``free_pcppages_bulk`` updates ``NR_FREE_PAGES``
before it takes ``zone->lock``.

The kernel changes the counter in the same ``zone->lock`` section as the free lists
(``__free_one_page`` -> ``__mod_zone_freepage_state``, v5.17/v6.0.1 ``mm/page_alloc.c``); readers
of the counter (watermark checks) then never see pages counted free that are not on a free list.
Here the counter moves first, outside the lock.  The counter's owner rule (:mod:`pcplab.mm.owners`)
names ``zone->lock``, so the checker reports ``lock-not-held`` at that access.
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import Access, Load, PcpEnter, PcpExit, SpinLock, SpinUnlock
from pcplab.mm.state import PcpLists, PerCpuPages, Zone


def free_pcppages_bulk(
    ctx: Context, zone: Zone, count: int, pcp: PerCpuPages, lists: PcpLists
) -> common.Gen:
    func = "free_pcppages_bulk"
    # MUTATION: __mod_zone_freepage_state before spin_lock(&zone->lock)
    yield Access(zone, "nr_free_pages", func=func)
    zone.nr_free_pages += count
    lock = common.zone_lock(ctx, zone)
    yield SpinLock(lock, func=func)
    freed = yield from common.free_pcppages_bulk_locked(ctx, zone, count, pcp, lists)
    zone.nr_free_pages -= freed  # the locked body counted them again
    yield SpinUnlock(lock, func=func)
    return freed


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> common.Gen:
    pcp = zone.per_cpu_pageset[cpu]
    if (yield Load(pcp.lp, "count", owner=cpu, func="drain_pages_zone")):
        lock = common.pcp_lock(ctx, zone, cpu)
        yield SpinLock(lock, irqsave=True, func="drain_pages_zone")
        lists = pcp.lp
        yield PcpEnter(lists, cpu, func="drain_pages_zone")
        if lists.count:
            yield from free_pcppages_bulk(ctx, zone, lists.count, pcp, lists)
        yield PcpExit(lists, cpu, func="drain_pages_zone")
        yield SpinUnlock(lock, irqrestore=True, func="drain_pages_zone")


DESIGN = mutant_design(
    mutate("pcplab.designs.spinlock", {"drain_pages_zone": drain_pages_zone}),
    "spinlock-nr-free-outside-zone-lock",
    "6.0 drain whose free_pcppages_bulk updates NR_FREE_PAGES outside zone->lock",
    "lock-not-held",
    __name__,
)
