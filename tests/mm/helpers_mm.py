"""Small builders shared by the mm tests."""

from __future__ import annotations

from pcplab.mm import MIGRATE_MOVABLE, Watermarks, Zone, parse_kernel
from pcplab.mm.buddy import free_all_managed
from pcplab.mm.ops import hand_out, rmqueue_buddy


def make_zone(
    version: str,
    pages: int = 4096,
    *,
    start_pfn: int = 0,
    batch: int = 2,
    high: int = 20,
    high_min: int | None = None,
    high_max: int | None = None,
    nr_cpus: int = 1,
    pageblock_order: int = 9,
    max_order: int = 10,
    watermarks: Watermarks | None = None,
    populate: bool = True,
) -> Zone:
    kv = parse_kernel(version).configured(thp_order=pageblock_order)
    zone = Zone(
        0,
        "Normal",
        start_pfn,
        pages,
        pages,
        pages,
        kv,
        nr_cpus,
        watermarks=watermarks or Watermarks(32, 40, 48),
        batch=batch,
        high=high,
        high_min=high_min,
        high_max=high_max,
        pageblock_order=pageblock_order,
        max_order=max_order,
    )
    if populate:
        free_all_managed(zone)
    return zone


def take_pages(zone: Zone, n: int, order: int = 0, mt: int = MIGRATE_MOVABLE) -> list[int]:
    """Allocate ``n`` blocks straight from buddy and record them as handed out."""
    out = []
    for _ in range(n):
        pfn = rmqueue_buddy(zone, order, mt)
        assert pfn is not None
        hand_out(zone, pfn, order)
        out.append(pfn)
    return out
