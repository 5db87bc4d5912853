"""``get_page_from_freelist``: walk a zonelist, check each zone's watermark, allocate through a
design's ``rmqueue`` (its ``alloc_pages``).  Design-independent; the OOM workload's slowpath calls it
before and after ``drain_all_pages(NULL)`` (kernel-pcp.md §9.1: direct reclaim drains once, then
retries).

Sources: v5.17 mm/page_alloc.c ``get_page_from_freelist`` / ``zone_watermark_fast`` and
``ALLOC_WMARK_*`` (mm/internal.h), as summarised in kernel-pcp.md §4.3, §9.1.  Pages on pcp lists
are not counted as free (``NR_FREE_PAGES`` excludes them), which is why draining them helps.

ASSUMPTION: no ``lowmem_reserve``, no ALLOC_HARDER/HIGHATOMIC reserves, no node_reclaim, no
dirty-limit or cpuset checks; ``mm.ops.zone_watermark_ok`` is the whole watermark test.
"""

from __future__ import annotations

from typing import Any

from pcplab.designs.base import Context
from pcplab.kernel.ops import Load
from pcplab.mm.ops import zone_watermark_ok
from pcplab.mm.state import Zone
from pcplab.mm.zonelist import machine_distance, zonelists

Gen = Any

# mm/internal.h: the low bits index the watermark, then the flags
ALLOC_WMARK_MIN = 0
ALLOC_WMARK_LOW = 1
ALLOC_WMARK_HIGH = 2
ALLOC_NO_WATERMARKS = 0x04
ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1


def wmark_pages(zone: Zone, alloc_flags: int) -> int:
    """The watermark ``alloc_flags`` selects, plus the boost (``wmark_pages``)."""
    w = zone.watermarks
    idx = alloc_flags & ALLOC_WMARK_MASK
    if idx > ALLOC_WMARK_HIGH:
        raise ValueError(f"alloc_flags {alloc_flags:#x}: no watermark with index {idx}")
    return (w.min, w.low, w.high)[idx] + w.boost


def node_zonelist(machine: Any, nid: int) -> list[Zone]:
    """The fallback zonelist of node ``nid``: CONFIG_NUMA's distance order from the machine's
    SLIT (:mod:`pcplab.mm.zonelist`, the builder pft and the slow path use too)."""
    return zonelists(machine, machine_distance(machine))[nid]


def get_page_from_freelist(
    ctx: Context,
    design: Any,
    zonelist: list[Zone],
    order: int,
    mt: int,
    alloc_flags: int = ALLOC_WMARK_LOW,
) -> Gen:
    """First zone of ``zonelist`` that passes its watermark and yields a page.

    Returns ``(zone, pfn)`` or None.  The free-page counter is read racily (``zone_page_state``),
    one :class:`Load` per zone tried; ``ALLOC_NO_WATERMARKS`` skips the check.
    """
    for zone in zonelist:
        if not alloc_flags & ALLOC_NO_WATERMARKS:
            mark = wmark_pages(zone, alloc_flags)
            free = yield Load(zone, "nr_free_pages")
            if not zone_watermark_ok(zone, order, mark, free):
                continue
        pfn = yield from design.alloc_pages(ctx, zone, order, mt)
        if pfn is not None:
            return zone, pfn
    return None


__all__ = [
    "ALLOC_NO_WATERMARKS",
    "ALLOC_WMARK_HIGH",
    "ALLOC_WMARK_LOW",
    "ALLOC_WMARK_MIN",
    "get_page_from_freelist",
    "node_zonelist",
    "wmark_pages",
]
