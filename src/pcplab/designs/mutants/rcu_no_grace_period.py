"""Mutant of ``rcu``: swap the list sets but free the old ones without waiting for a grace period.

A reader that loaded the old ``lp`` just before the swap is still inside its IRQ-off section and
still pushing or popping on the old set while the drainer frees it: two CPUs in one list set.
The grace period is the whole correctness argument of the seed (kernel-pcp.md §10.2).
"""

from __future__ import annotations

from pcplab.designs import common, rcu
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import MutexUnlock
from pcplab.mm.state import Zone


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> common.Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False
    cpus_with_pcps = yield from common.cpus_with_pcps(ctx, zone, force_all_cpus, func)
    if cpus_with_pcps:
        yield from rcu.swap_pcplists(ctx, zone, cpus_with_pcps, func)
        # MUTATION: no synchronize_rcu() here
        yield from rcu.free_detached_pcplists(ctx, zone, cpus_with_pcps, func)
    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


DESIGN = mutant_design(
    mutate("pcplab.designs.rcu", {"__drain_all_pages": __drain_all_pages}),
    "rcu-no-grace-period",
    "rcu drain that frees the swapped-out lists without synchronize_rcu()",
    "list-race",
    __name__,
)
