"""Mutant of ``rcu``: the free path reads ``pcp->lp`` with a plain load, not ``rcu_dereference``.

It still runs inside its local-lock (IRQ-off) read-side section, so the owner rule of ``lp`` holds;
what is missing is the marking.  The drainer replaces the pointer with ``rcu_assign_pointer``
(a marked store) while the owner may be reading it: a plain read racing with a write, which KCSAN
reports and the checker's data-race rule reports.  Nothing else goes wrong in the model (it has no
compiler to tear or re-read the load), so the data race is the whole finding.
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import Load, LocalLock, LocalUnlock, PcpEnter, PcpExit
from pcplab.mm.state import Zone


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> common.Gen:
    pagesets = ctx.state.pagesets
    yield LocalLock(pagesets, func="free_unref_page")
    pcp = zone.per_cpu_pageset[ctx.cpu]
    # MUTATION: a plain read of the RCU pointer (no rcu_dereference)
    lp = yield Load(pcp, "lp", owner=ctx.cpu, func="free_unref_page_commit", marked=False)
    yield PcpEnter(lp, ctx.cpu, func="free_unref_page_commit")
    yield from common.free_unref_page_commit(ctx, zone, pcp, lp, pfn, order, mt)
    yield PcpExit(lp, ctx.cpu, func="free_unref_page_commit")
    yield LocalUnlock(pagesets, func="free_unref_page")


DESIGN = mutant_design(
    mutate("pcplab.designs.rcu", {"free_unref_page": free_unref_page}),
    "rcu-lp-plain-read",
    "rcu whose free path reads pcp->lp with a plain load instead of rcu_dereference",
    "data-race",
    __name__,
)
