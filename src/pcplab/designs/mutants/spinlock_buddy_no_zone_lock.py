"""Mutant of ``spinlock`` (6.0): the buddy fallback runs without ``zone->lock``.

When ``spin_trylock(&pcp->lock)`` fails (a drainer holds it), 6.0 allocates with
``rmqueue_buddy`` and frees with ``free_one_page``, both under
``spin_lock_irqsave(&zone->lock)`` (v6.0.1 ``mm/page_alloc.c``).  This version calls the same
bodies with the lock dropped, as the issue's new user did.  The buddy access is a step of its own
and the zone's owner rule (``lockdep_assert_held(&zone->lock)``, :mod:`pcplab.mm.owners`) is
checked there, so the checker reports ``lock-not-held`` naming ``zone->lock`` on the first
execution that takes the fallback (one preemption: the drainer must hold the pcp lock).
"""

from __future__ import annotations

from pcplab.designs import common, standard
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.designs.spinlock import pcp_spin_trylock_irqsave, pcp_spin_unlock_irqrestore
from pcplab.kernel.ops import PcpEnter, PcpExit
from pcplab.mm.state import Zone


def rmqueue(ctx: Context, zone: Zone, order: int, mt: int) -> common.Gen:
    """``rmqueue`` (6.0) with the fallback's lock dropped."""
    if common.needs_pcp(zone, order, mt):
        page = yield from standard.impl(ctx).rmqueue_pcplist(ctx, zone, order, mt)
        if page is not None:
            return page
    # MUTATION: rmqueue_buddy without spin_lock_irqsave(&zone->lock)
    return (yield from common.rmqueue_buddy_locked(ctx, zone, order, mt))


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> common.Gen:
    pcp = yield from pcp_spin_trylock_irqsave(ctx, zone, "free_unref_page")
    if pcp is None:
        # MUTATION: free_one_page without spin_lock_irqsave(&zone->lock)
        yield from common.free_one_page_locked(ctx, zone, pfn, order, mt)
        return
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu, func="free_unref_page_commit")
    yield from common.free_unref_page_commit(ctx, zone, pcp, lists, pfn, order, mt)
    yield PcpExit(lists, ctx.cpu, func="free_unref_page_commit")
    yield from pcp_spin_unlock_irqrestore(ctx, zone, pcp, "free_unref_page")


_copy = mutate("pcplab.designs.spinlock", {"free_unref_page": free_unref_page})
_copy.rmqueue = rmqueue  # type: ignore[attr-defined]  # the standard wrapper, overridden

DESIGN = mutant_design(
    _copy,
    "spinlock-buddy-no-zone-lock",
    "6.0 whose trylock-failed buddy fallback (rmqueue_buddy, free_one_page) drops zone->lock",
    "lock-not-held",
    __name__,
)
