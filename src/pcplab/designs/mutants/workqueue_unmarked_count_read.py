"""Mutant of ``workqueue`` (v5.17): the drain mask reads each CPU's ``pcp->count`` as an unmarked
plain load.

The real design's read is the intended race the kernel's comment documents ("The pcp.count check
is racy", ``__drain_all_pages``), modelled as a marked read (see
:func:`pcplab.designs.common.read_pcp_count`) and exempt from the data-race rule.  The same read
unmarked races with the owner's plain updates of the count (inside its IRQ-off section) with no
lock and no happens-before in common: the checker reports ``data-race``.  The count read is only
a hint either way, so nothing else goes wrong.
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.designs.workqueue import drain_local_pages_wq
from pcplab.kernel.ops import Access, FlushWork, MutexUnlock, QueueWorkOn
from pcplab.mm.state import Zone


def cpus_with_pcps(ctx: Context, zone: Zone | None, force_all_cpus: bool, func: str) -> common.Gen:
    yield Access(None, "cpus_with_pcps", func=func)
    mask: list[int] = []
    for cpu in ctx.state.online_cpus():
        zones = [zone] if zone is not None else ctx.machine.populated_zones()
        for z in zones:
            lists = z.per_cpu_pageset[cpu].lp
            # MUTATION: marked=False (a plain read with no data_race()/READ_ONCE)
            if force_all_cpus or (yield from common.read_pcp_count(ctx, lists, cpu, func, False)):
                mask.append(cpu)
                break
    return mask


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> common.Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False
    mask = yield from cpus_with_pcps(ctx, zone, force_all_cpus, func)
    for cpu in mask:
        drain = st.pcpu_drain[cpu]
        drain.fn = drain_local_pages_wq
        drain.args = (zone,)
        yield QueueWorkOn(cpu, drain, func=func)
    for cpu in mask:
        yield FlushWork(st.pcpu_drain[cpu], func=func)
    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


DESIGN = mutant_design(
    mutate("pcplab.designs.workqueue", {"__drain_all_pages": __drain_all_pages}),
    "workqueue-unmarked-count-read",
    "v5.17 drain whose cpus_with_pcps reads pcp->count unmarked (the real read is data_race())",
    "data-race",
    __name__,
)
