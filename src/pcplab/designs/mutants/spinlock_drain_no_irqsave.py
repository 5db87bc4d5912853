"""Mutant of ``spinlock`` (6.0): ``drain_pages_zone`` takes ``pcp->lock`` with plain
``spin_lock``, IRQs left on.

v6.0.1 ``mm/page_alloc.c`` says why the irqsave is there: "free_pcppages_bulk expects IRQs
disabled for zone->lock so even though pcp->lock is not intended to be IRQ-safe, it's needed in
this context" (``drain_zone_pages``; ``drain_pages_zone`` the same).  ``zone->lock`` is taken from
hard-IRQ context (pages are freed from interrupts), so holding it with IRQs on is lockdep's
inconsistent lock state: an interrupt on this CPU that frees a page would spin on it forever.
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import Load, PcpEnter, PcpExit, SpinLock, SpinUnlock
from pcplab.mm.state import Zone


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> common.Gen:
    pcp = zone.per_cpu_pageset[cpu]
    if (yield Load(pcp.lp, "count", owner=cpu, func="drain_pages_zone")):
        lock = common.pcp_lock(ctx, zone, cpu)
        yield SpinLock(lock, func="drain_pages_zone")  # MUTATION: no irqsave
        lists = pcp.lp
        yield PcpEnter(lists, cpu, func="drain_pages_zone")
        if lists.count:
            yield from common.free_pcppages_bulk(ctx, zone, lists.count, pcp, lists)
        yield PcpExit(lists, cpu, func="drain_pages_zone")
        yield SpinUnlock(lock, func="drain_pages_zone")


DESIGN = mutant_design(
    mutate("pcplab.designs.spinlock", {"drain_pages_zone": drain_pages_zone}),
    "spinlock-drain-no-irqsave",
    "6.0 drain that takes pcp->lock without irqsave, so zone->lock is held with IRQs on",
    "inconsistent-lock-state",
    __name__,
)
