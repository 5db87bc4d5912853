"""Mutant of ``rcu``: the drainer frees ``pcp->lp`` — the live list set — instead of a set it
swapped out (it never calls ``rcu_replace_pointer``; the grace period then protects nothing).

A drain with nothing running concurrently still empties the lists, so only a race shows it: an
allocation or free on the owner CPU that starts after the grace period meets the drainer inside
the same list set.
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import (
    IrqRestore,
    IrqSave,
    MutexUnlock,
    PcpEnter,
    PcpExit,
    SynchronizeRcu,
)
from pcplab.mm.state import Zone


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> common.Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False
    cpus_with_pcps = yield from common.cpus_with_pcps(ctx, zone, force_all_cpus, func)
    if cpus_with_pcps:
        # MUTATION: no swap_pcplists(); the lists freed below are the live ones
        yield SynchronizeRcu(func=func)
        for cpu in cpus_with_pcps:
            for z in ctx.machine.populated_zones():
                if zone is not None and z is not zone:
                    continue
                pcp = z.per_cpu_pageset[cpu]
                lists = pcp.lp
                if lists.count:
                    yield IrqSave(func=func)
                    yield PcpEnter(lists, cpu, func=func)
                    yield from common.free_pcppages_bulk(ctx, z, lists.count, pcp, lists)
                    yield PcpExit(lists, cpu, func=func)
                    yield IrqRestore(func=func)
    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


DESIGN = mutant_design(
    mutate("pcplab.designs.rcu", {"__drain_all_pages": __drain_all_pages}),
    "rcu-free-live-lists",
    "rcu drain that frees the live list set after the grace period instead of a swapped-out one",
    "list-race",
    __name__,
)
