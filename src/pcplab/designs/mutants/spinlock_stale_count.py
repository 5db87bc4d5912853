"""Mutant of ``spinlock`` (6.0): the free reads ``pcp->count`` before taking the lock and writes
``old + 1`` back under it — a read-modify-write split across the lock.

If a drain empties the lists in between, the count written back still includes the drained
pages: the counter disagrees with the lists (pages the allocator believes it has are gone).
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.designs.spinlock import pcp_spin_trylock_irqsave, pcp_spin_unlock_irqrestore
from pcplab.kernel.ops import Load, PcpEnter, PcpExit, Store
from pcplab.mm.state import Zone


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> common.Gen:
    mine = zone.per_cpu_pageset[ctx.cpu].lp
    count = yield Load(mine, "count", owner=ctx.cpu)  # MUTATION: unlocked
    pcp = yield from pcp_spin_trylock_irqsave(ctx, zone, "free_unref_page")
    if pcp is None:
        yield from common.free_one_page(ctx, zone, pfn, order, mt)
        return
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu, func="free_unref_page_commit")
    # MUTATION: store the count read before the lock; the commit below adds this page to it
    yield Store(lists, "count", count, owner=ctx.cpu, func="free_unref_page_commit")
    yield from common.free_unref_page_commit(ctx, zone, pcp, lists, pfn, order, mt)
    yield PcpExit(lists, ctx.cpu, func="free_unref_page_commit")
    yield from pcp_spin_unlock_irqrestore(ctx, zone, pcp, "free_unref_page")


DESIGN = mutant_design(
    mutate("pcplab.designs.spinlock", {"free_unref_page": free_unref_page}),
    "spinlock-stale-count",
    "6.0 free whose pcp->count update is a Load before the lock and a Store under it",
    "page-lost",
    __name__,
)
