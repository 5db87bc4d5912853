"""Mutant of ``rcu``: the drainer disables IRQs around the whole swap / grace period / free.

``synchronize_rcu()`` sleeps; calling it with IRQs off is "sleeping function called from invalid
context" (and on a real kernel would wait for its own reader section forever).
"""

from __future__ import annotations

from pcplab.designs import common, rcu
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import (
    IrqRestore,
    IrqSave,
    MutexUnlock,
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
        yield IrqSave(func=func)  # MUTATION: IRQs off across a sleeping wait
        yield from rcu.swap_pcplists(ctx, zone, cpus_with_pcps, func)
        yield SynchronizeRcu(func=func)
        yield from rcu.free_detached_pcplists(ctx, zone, cpus_with_pcps, func)
        yield IrqRestore(func=func)
    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


DESIGN = mutant_design(
    mutate("pcplab.designs.rcu", {"__drain_all_pages": __drain_all_pages}),
    "rcu-sync-irqs-off",
    "rcu drain that calls synchronize_rcu() with IRQs disabled",
    "sleep-in-atomic",
    __name__,
)
