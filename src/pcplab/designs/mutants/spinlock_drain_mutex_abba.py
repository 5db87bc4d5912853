"""Mutant of ``spinlock`` (6.0): after the drain, ``__drain_all_pages`` re-checks the calling
CPU's own lists: it takes its ``pcp->lock`` and, without dropping it,
``mutex_lock(&pcpu_drain_mutex)`` to drain again (the model stops there: the mutex is taken and
given back).

The drain itself nests ``pcpu_drain_mutex -> pcp->lock`` (it locks each masked CPU's pcp with the
mutex held); the re-check nests ``pcp->lock -> pcpu_drain_mutex``: lockdep's AB-BA, a deadlock as
soon as another drainer holds the mutex and waits for this CPU's pcp lock.  (The same
``mutex_lock`` also sleeps under a spinlock; the checker names the cycle, the root cause, which
stays a deadlock on PREEMPT_RT where the sleep would be legal.)
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.designs.standard import drain_cpus
from pcplab.kernel.ops import MutexLock, MutexUnlock, SpinLock, SpinUnlock
from pcplab.mm.state import Zone


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> common.Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False
    cpus_with_pcps = yield from common.cpus_with_pcps(ctx, zone, force_all_cpus, func)
    yield from drain_cpus(ctx, zone, cpus_with_pcps)
    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    z = zone if zone is not None else ctx.machine.populated_zones()[0]
    lock = common.pcp_lock(ctx, z, ctx.cpu)
    yield SpinLock(lock, irqsave=True, func=func)
    yield MutexLock(st.pcpu_drain_mutex, func=func)  # MUTATION: under pcp->lock
    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    yield SpinUnlock(lock, irqrestore=True, func=func)
    return True


DESIGN = mutant_design(
    mutate("pcplab.designs.spinlock", {"__drain_all_pages": __drain_all_pages}),
    "spinlock-drain-mutex-abba",
    "6.0 drain that takes pcpu_drain_mutex under a pcp->lock: AB-BA with the drain's own order",
    "lock-order",
    __name__,
)
