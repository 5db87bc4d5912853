"""Mutant of ``spinlock`` (6.0): the allocation picks its page in one lock section and takes it
in a second one, trusting that the page is still free.

A drain between the two sections returns the page to buddy; the allocation then hands out a page
that is free in buddy (which the next buddy allocation may hand out again).
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.designs.spinlock import pcp_spin_trylock_irqsave, pcp_spin_unlock_irqrestore
from pcplab.kernel.ops import PcpEnter, PcpExit, Work
from pcplab.mm import ops as mm
from pcplab.mm.state import Zone


def rmqueue_pcplist(ctx: Context, zone: Zone, order: int, mt: int) -> common.Gen:
    func = "rmqueue_pcplist"
    pindex = zone.version.order_to_pindex(mt, order)
    pcp = yield from pcp_spin_trylock_irqsave(ctx, zone, func)
    if pcp is None:
        return None
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu, func=func)
    mm.rmqueue_pcplist_prepare(pcp)
    if not lists.lists[pindex]:
        batch = mm.nr_pcp_alloc(pcp, zone, order)
        yield from common.rmqueue_bulk(ctx, zone, order, batch, lists, pindex, mt)
    page = lists.lists[pindex][0] if lists.lists[pindex] else None  # MUTATION: only peek
    yield PcpExit(lists, ctx.cpu, func=func)
    yield from pcp_spin_unlock_irqrestore(ctx, zone, pcp, func)
    if page is None:
        return None
    pcp = yield from pcp_spin_trylock_irqsave(ctx, zone, func)
    if pcp is None:
        return None
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu, func=func)
    lst = lists.lists[pindex]
    if page in lst:
        lst.remove(page)
        lists.count -= 1 << order
    mm.hand_out(zone, page, order)  # MUTATION: hands it out even if it left the list
    yield Work("pcp_alloc", 1 << order, lists, pcp.cpu, func=func)
    yield PcpExit(lists, ctx.cpu, func=func)
    yield from pcp_spin_unlock_irqrestore(ctx, zone, pcp, func)
    return page


DESIGN = mutant_design(
    mutate("pcplab.designs.spinlock", {"rmqueue_pcplist": rmqueue_pcplist}),
    "spinlock-peek-then-take",
    "6.0 allocation that chooses the page under one lock hold and takes it under another",
    "double-alloc",
    __name__,
)
