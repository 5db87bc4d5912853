"""Mutant of ``spinlock`` (6.0): the drain takes ``zone->lock`` first and then ``pcp->lock``.

Every fast path nests the other way (``pcp->lock``, then ``zone->lock`` in ``rmqueue_bulk`` or
``free_pcppages_bulk``): an owner refilling or bulk-freeing while a drainer holds ``zone->lock``
and waits for that pcp's lock is an ABBA deadlock.
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import Load, PcpEnter, PcpExit, SpinLock, SpinUnlock, Work
from pcplab.mm import ops as mm
from pcplab.mm.state import Zone


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> common.Gen:
    pcp = zone.per_cpu_pageset[cpu]
    func = "drain_pages_zone"
    if (yield Load(pcp.lp, "count", owner=cpu, func=func)):
        zlock = common.zone_lock(ctx, zone)
        yield SpinLock(zlock, irqsave=True, func=func)  # MUTATION: zone->lock before pcp->lock
        lock = common.pcp_lock(ctx, zone, cpu)
        yield SpinLock(lock, func=func)
        lists = pcp.lp
        yield PcpEnter(lists, cpu, func=func)
        freed = mm.free_pcppages_bulk(zone, lists.count, pcp, lists, 0)
        if freed:
            yield Work("free_pcppages_bulk", freed, zone, None, func=func)
        yield PcpExit(lists, cpu, func=func)
        yield SpinUnlock(lock, func=func)
        yield SpinUnlock(zlock, irqrestore=True, func=func)


DESIGN = mutant_design(
    mutate("pcplab.designs.spinlock", {"drain_pages_zone": drain_pages_zone}),
    "spinlock-lock-inversion",
    "6.0 drain that nests pcp->lock inside zone->lock, the reverse of the fast paths",
    "deadlock",
    __name__,
)
