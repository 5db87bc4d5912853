"""Mutant of ``spinlock`` (6.0): the drainer, finding a CPU's ``pcp->count`` zero in its lockless
check, writes the zero back with a plain store ("resets" the count) without taking that CPU's
``pcp->lock``.

The count belongs to the pcp's owner rule (``pcp->lock`` in 6.0, :mod:`pcplab.mm.owners`), which
the store breaks (a ``lock-not-held`` prediction).  The search reaches what that leads to within
one preemption: the owner adds pages between the drainer's read and its store, and the store
throws their count away — ``pcp->count`` disagrees with the lists, reported as ``page-lost``, the
concrete failure, which wins over the prediction.
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import Load, PcpEnter, PcpExit, SpinLock, SpinUnlock, Store
from pcplab.mm.state import Zone


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> common.Gen:
    pcp = zone.per_cpu_pageset[cpu]
    if not (yield Load(pcp.lp, "count", owner=cpu, func="drain_pages_zone")):
        # MUTATION: pcp->count = 0, plain, without pcp->lock
        yield Store(pcp.lp, "count", 0, owner=cpu, func="drain_pages_zone", marked=False)
        return
    lock = common.pcp_lock(ctx, zone, cpu)
    yield SpinLock(lock, irqsave=True, func="drain_pages_zone")
    lists = pcp.lp
    yield PcpEnter(lists, cpu, func="drain_pages_zone")
    if lists.count:
        yield from common.free_pcppages_bulk(ctx, zone, lists.count, pcp, lists)
    yield PcpExit(lists, cpu, func="drain_pages_zone")
    yield SpinUnlock(lock, irqrestore=True, func="drain_pages_zone")


DESIGN = mutant_design(
    mutate("pcplab.designs.spinlock", {"drain_pages_zone": drain_pages_zone}),
    "spinlock-drainer-plain-count-write",
    "6.0 drain that stores pcp->count = 0 with a plain write, without the owner's pcp->lock",
    "page-lost",
    __name__,
)
