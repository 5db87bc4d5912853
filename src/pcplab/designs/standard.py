"""The kernel functions a design does not change, written once for every design.

A design module writes only what its patch changes: at least ``rmqueue_pcplist``,
``free_unref_page``, ``drain_pages_zone`` and ``__drain_all_pages``.  The callers around them are
the same in every design (v5.17-rc5 and v6.0.1 ``mm/page_alloc.c``: ``rmqueue``, ``free_the_page``,
``drain_pages``, ``drain_local_pages``, ``drain_all_pages``, ``page_alloc_cpu_dead``,
``zone_pcp_disable``/``zone_pcp_enable``) and live here.

Each wrapper finds the design's own functions at call time through ``ctx.state`` (the namespace
the loader attached when the design's ``setup`` built the state), never through this module's
globals: a mutant that swaps one function of a design, or a design that overrides one of these
wrappers, is seen by every caller.  A design module that calls a wrapper itself (e.g.
``drain_pages`` from its ``__drain_all_pages``) imports it from here.
"""

from __future__ import annotations

from typing import Any

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.kernel.ops import WaitCpuDead
from pcplab.mm.state import Zone

Gen = common.Gen


def impl(ctx: Context) -> Any:
    """The design's resolved functions (attributes named like the kernel functions)."""
    return ctx.state._impl


def rmqueue(ctx: Context, zone: Zone, order: int, mt: int) -> Gen:
    """``rmqueue``: pcp orders through the design's ``rmqueue_pcplist``; from 6.0 an empty result
    falls back to ``rmqueue_buddy`` (``version.pcp_buddy_fallback``), in 5.17 it fails the
    allocation; other orders and migratetypes go to buddy."""
    if common.needs_pcp(zone, order, mt):
        page = yield from impl(ctx).rmqueue_pcplist(ctx, zone, order, mt)
        if page is not None or not zone.version.pcp_buddy_fallback:
            return page
    return (yield from common.rmqueue_buddy(ctx, zone, order, mt))


def free_pages(ctx: Context, zone: Zone, pfn: int, order: int) -> Gen:
    """``free_the_page``: pcp orders to the design's ``free_unref_page``, others to buddy."""
    yield from common.free_the_page(ctx, zone, pfn, order, impl(ctx).free_unref_page)


def free_unref_page_list(ctx: Context, pages: list[tuple[Zone, int]], free_pages: Any) -> Gen:
    """``release_pages``/``free_unref_page_list``: order-0 ``(zone, pfn)`` pages freed as one
    batch (munmap, exit, reclaim).  A design with its own ``free_unref_page_list(ctx, pages)``
    gets the batch (the 6.0 design: one blocking ``pcp->lock`` hold per 32 pages); the others
    free page by page with ``free_pages`` (ASSUMPTION for the 5.17 designs: their local lock per
    page instead of per 32 pages changes when IRQs are off, not what is freed where)."""
    own = getattr(impl(ctx), "free_unref_page_list", None)
    if own is None:
        for zone, pfn in pages:
            yield from free_pages(ctx, zone, pfn, 0)
        return
    yield from own(ctx, pages)


def drain_pages(ctx: Context, cpu: int) -> Gen:
    """Drain ``cpu``'s lists of every populated zone with the design's ``drain_pages_zone``."""
    d = impl(ctx)
    for zone in ctx.machine.populated_zones():
        yield from d.drain_pages_zone(ctx, cpu, zone)


def drain_local_pages(ctx: Context, zone: Zone | None) -> Gen:
    """Drain this CPU's lists of ``zone`` (all zones for None)."""
    d = impl(ctx)
    if zone is not None:
        yield from d.drain_pages_zone(ctx, ctx.cpu, zone)
    else:
        yield from d.drain_pages(ctx, ctx.cpu)


def drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool = False) -> Gen:
    """``drain_all_pages``: the design's ``__drain_all_pages`` (False: a global drain lost the
    ``pcpu_drain_mutex`` trylock and did nothing)."""
    return (yield from impl(ctx).__drain_all_pages(ctx, zone, force_all_cpus))


def cpus_with_pcps(ctx: Context, zone: Zone | None, force_all_cpus: bool, func: str) -> Gen:
    """The drain mask: the design's own ``cpus_with_pcps`` if it defines one (a design that only
    changes which CPUs a drain visits writes just that), else v5.17's racy count reads
    (:func:`pcplab.designs.common.cpus_with_pcps`)."""
    return (yield from impl(ctx).cpus_with_pcps(ctx, zone, force_all_cpus, func))


def drain_cpus(ctx: Context, zone: Zone | None, cpus: list[int]) -> Gen:
    """The remote-drain loop of ``__drain_all_pages`` (6.0, and attempts [1]/[2]): every CPU
    of the mask drained from this CPU, one after another, with the design's ``drain_pages_zone``
    (``zone``) or ``drain_pages`` (all zones)."""
    d = impl(ctx)
    for cpu in cpus:
        if zone is not None:
            yield from d.drain_pages_zone(ctx, cpu, zone)
        else:
            yield from d.drain_pages(ctx, cpu)


def drain_dead_cpu(ctx: Context, cpu: int) -> Gen:
    """``page_alloc_cpu_dead``: once ``cpu`` is dead, drain its lists from this CPU (legal for
    every design: nobody else touches a dead CPU's lists).

    ASSUMPTION: ``zone_pcp_update`` (re-sizing high/batch for one CPU less) is not modelled."""
    yield WaitCpuDead(cpu, func="page_alloc_cpu_dead")
    yield from impl(ctx).drain_pages(ctx, cpu)


def zone_pcp_disable(ctx: Context, zone: Zone) -> Gen:
    """``zone_pcp_disable``: sizes to 0/1 under ``pcp_batch_high_lock``, then a forced drain of
    the zone with the design's ``__drain_all_pages``."""
    yield from common.zone_pcp_disable(ctx, zone, impl(ctx).__drain_all_pages)


def zone_pcp_enable(ctx: Context, zone: Zone) -> Gen:
    """``zone_pcp_enable``: the zone's sizes back, ``pcp_batch_high_lock`` released."""
    yield from common.zone_pcp_enable(ctx, zone)


#: the wrappers a design gets unless it defines its own, by kernel name
WRAPPERS: dict[str, Any] = {
    "rmqueue": rmqueue,
    "free_pages": free_pages,
    "drain_pages": drain_pages,
    "drain_local_pages": drain_local_pages,
    "drain_all_pages": drain_all_pages,
    "drain_dead_cpu": drain_dead_cpu,
    "zone_pcp_disable": zone_pcp_disable,
    "zone_pcp_enable": zone_pcp_enable,
    "cpus_with_pcps": common.cpus_with_pcps,
}

#: what a design must define, and which wrapper needs it (a design that defines the wrapper
#: itself need not define what the standard one would call)
REQUIRED: dict[str, tuple[str, ...]] = {
    "rmqueue_pcplist": ("rmqueue",),
    "free_unref_page": ("free_pages",),
    "drain_pages_zone": ("drain_pages", "drain_local_pages"),
    "__drain_all_pages": ("drain_all_pages", "zone_pcp_disable"),
}

__all__ = [
    "REQUIRED",
    "WRAPPERS",
    "cpus_with_pcps",
    "drain_all_pages",
    "drain_cpus",
    "drain_dead_cpu",
    "drain_local_pages",
    "drain_pages",
    "free_pages",
    "impl",
    "rmqueue",
    "zone_pcp_disable",
    "zone_pcp_enable",
]
