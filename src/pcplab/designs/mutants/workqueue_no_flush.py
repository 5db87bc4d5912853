"""Mutant of ``workqueue``: queue the drain work on every CPU but do not ``flush_work`` it.

``__drain_all_pages`` returns (and drops the mutex) before the kworkers ran, so a caller such as
``zone_pcp_disable`` or ``alloc_contig_range`` finds pages still on the pcp lists.
"""

from __future__ import annotations

from pcplab.designs import common, workqueue
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import MutexUnlock, QueueWorkOn
from pcplab.mm.state import Zone


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> common.Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False
    cpus_with_pcps = yield from common.cpus_with_pcps(ctx, zone, force_all_cpus, func)
    for cpu in cpus_with_pcps:
        drain = st.pcpu_drain[cpu]
        drain.fn = workqueue.drain_local_pages_wq
        drain.args = (zone,)
        yield QueueWorkOn(cpu, drain, func=func)
    # MUTATION: no flush_work() loop
    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


DESIGN = mutant_design(
    mutate("pcplab.designs.workqueue", {"__drain_all_pages": __drain_all_pages}),
    "workqueue-no-flush",
    "workqueue drain that returns without flush_work(): the lists may still be full",
    "postcondition",
    __name__,
)
