"""Mutant of ``spinlock`` (6.0): when the ``pcp->lock`` trylock fails, the free still puts the page
on this CPU's pcp lists instead of falling back to ``free_one_page``.

The trylock fails exactly when a drainer holds the lock and is walking these lists.
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.designs.spinlock import (
    pcp_spin_trylock_irqsave,
    pcp_spin_unlock_irqrestore,
    pcpu_task_pin,
    pcpu_task_unpin,
)
from pcplab.kernel.ops import IrqRestore, IrqSave, PcpEnter, PcpExit
from pcplab.mm.state import Zone


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> common.Gen:
    pcp = yield from pcp_spin_trylock_irqsave(ctx, zone, "free_unref_page")
    if pcp is None:
        # MUTATION: "the lock is only contended by a drain, just use the lists"
        yield from pcpu_task_pin(ctx, "free_unref_page")
        yield IrqSave()
        pcp = zone.per_cpu_pageset[ctx.cpu]
        lists = pcp.lp
        yield PcpEnter(lists, ctx.cpu, func="free_unref_page_commit")
        yield from common.free_unref_page_commit(ctx, zone, pcp, lists, pfn, order, mt)
        yield PcpExit(lists, ctx.cpu, func="free_unref_page_commit")
        yield IrqRestore()
        yield from pcpu_task_unpin(ctx, "free_unref_page")
        return
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu, func="free_unref_page_commit")
    yield from common.free_unref_page_commit(ctx, zone, pcp, lists, pfn, order, mt)
    yield PcpExit(lists, ctx.cpu, func="free_unref_page_commit")
    yield from pcp_spin_unlock_irqrestore(ctx, zone, pcp, "free_unref_page")


DESIGN = mutant_design(
    mutate("pcplab.designs.spinlock", {"free_unref_page": free_unref_page}),
    "spinlock-trylock-fail-uses-pcp",
    "6.0 free that uses the pcp lists even when the pcp->lock trylock failed",
    "list-race",
    __name__,
)
