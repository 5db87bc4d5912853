"""The buddy allocator: free areas per (order, migratetype), split, merge, fallback stealing.

Restated from the v5.17 kernel as I know it (``mm/page_alloc.c``: ``__free_one_page``,
``expand``, ``__rmqueue_smallest``, ``__rmqueue_fallback``, ``find_suitable_fallback``,
``can_steal_fallback``, ``steal_suitable_fallback``, ``move_freepages_block``, ``__rmqueue``).
The knowledge base only names these functions (kernel-pcp.md §5.1, §7); the rules below are from
my reading of the 5.17 source and are marked ASSUMPTION where they simplify.

Every function here expects the caller to hold ``zone->lock`` (the model does not check locks).
``zone.nr_free_pages`` is maintained here: every block entering or leaving the free lists moves it.

ASSUMPTIONs (model simplifications):

* Blocks are always added at the list head (no ``FPI_TO_TAIL``, no ``buddy_merge_likely``
  tail placement, no free-list shuffling).
* Isolated pages count in ``nr_free_pages`` (the kernel leaves ISOLATE out of ``NR_FREE_PAGES``).
* No watermark boosting on fallback (``boost_watermark``; there is no kswapd to undo it), no
  ``ALLOC_NOFRAGMENT``, no highatomic reserve, no CMA balancing (a MOVABLE request uses CMA only
  when its own lists are empty), ``page_group_by_mobility_disabled`` is false.
* ``move_freepages_block`` counts no "movable" in-use pages (the model does not know which
  allocated pages are on the LRU), so a MOVABLE request claims a block only on free pages, while
  UNMOVABLE/RECLAIMABLE requests stealing from a MOVABLE block count all in-use pages as alike.
* Stealing rules are the 5.17 ones for every version (the 2024-25 reworks are not modelled).
"""

from __future__ import annotations

from pcplab.mm.constants import (
    FALLBACKS,
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
)
from pcplab.mm.state import Zone


def pageblock_migratetype(zone: Zone, pfn: int) -> int:
    """The pageblock's migratetype (``get_pageblock_migratetype``)."""
    return zone.pageblock_mt[(pfn >> zone.pageblock_order) - zone.pageblock_base]


def set_pageblock_migratetype(zone: Zone, pfn: int, mt: int) -> None:
    """Set the type of the pageblock holding ``pfn`` (keeps ``nr_isolate_pageblock``)."""
    i = (pfn >> zone.pageblock_order) - zone.pageblock_base
    old = zone.pageblock_mt[i]
    if old == mt:
        return
    if old == MIGRATE_ISOLATE:
        zone.nr_isolate_pageblock -= 1
    if mt == MIGRATE_ISOLATE:
        zone.nr_isolate_pageblock += 1
    zone.pageblock_mt[i] = mt


def free_block_at(zone: Zone, pfn: int) -> tuple[int, int] | None:
    """(order, migratetype) of the free buddy block whose head is ``pfn``, or None."""
    v = zone.buddy_info.get(pfn)
    return None if v is None else (v >> 3, v & 7)


def buddy_free(zone: Zone, pfn: int, order: int, mt: int) -> None:
    """``__free_one_page``: put a block into buddy, merging with free buddies.

    A block larger than a pageblock whose pageblocks have different types is freed pageblock by
    pageblock, each with its own type (ASSUMPTION: as ``split_large_buddy`` does in 6.10+
    kernels; older kernels avoid the case by isolating MAX_ORDER-aligned ranges, which the model
    does not require of its callers).

    The buddy of the block at ``pfn`` of order k is ``pfn ^ (1 << k)``; it merges when it is a
    free block of exactly order k **in this zone** (each zone has its own ``buddy_info``, so merges
    never cross zones).  Once the blocks are pageblock-sized or larger, two blocks of different
    types do not merge if either type is not mergeable (HIGHATOMIC, CMA, ISOLATE)
    (``migratetype_is_mergeable``).
    """
    info = zone.buddy_info
    area = zone.free_area
    max_order = zone.max_order
    pbo = zone.pageblock_order
    if order > pbo and _mixed_pageblocks(zone, pfn, order):
        # split_large_buddy: free each pageblock with its own type
        for p in range(pfn + (1 << order) - (1 << pbo), pfn - 1, -(1 << pbo)):
            buddy_free(zone, p, pbo, zone.pageblock_mt[(p >> pbo) - zone.pageblock_base])
        return
    zone.nr_free_pages += 1 << order
    while order < max_order:
        buddy = pfn ^ (1 << order)
        v = info.get(buddy)
        if v is None or (v >> 3) != order:
            break
        if order >= pbo:
            bmt = zone.pageblock_mt[(buddy >> pbo) - zone.pageblock_base]
            if bmt != mt and (mt >= MIGRATE_PCPTYPES or bmt >= MIGRATE_PCPTYPES):
                break
        del info[buddy]
        del area[order][v & 7][buddy]
        pfn &= buddy
        order += 1
    area[order][mt][pfn] = None
    info[pfn] = (order << 3) | mt


def _mixed_pageblocks(zone: Zone, pfn: int, order: int) -> bool:
    pbo = zone.pageblock_order
    first = (pfn >> pbo) - zone.pageblock_base
    types = zone.pageblock_mt[first : first + (1 << (order - pbo))]
    return types.count(types[0]) != len(types)


def free_one_page(zone: Zone, pfn: int, order: int, mt: int) -> None:
    """Free straight to buddy (the kernel's ``free_one_page``), merging.

    Like the kernel, re-read the pageblock type when the zone has isolated pageblocks or the
    caller passed ISOLATE, so pages of isolated blocks stay isolated.
    """
    if zone.nr_isolate_pageblock or mt == MIGRATE_ISOLATE:
        mt = zone.pageblock_mt[(pfn >> zone.pageblock_order) - zone.pageblock_base]
    buddy_free(zone, pfn, order, mt)


def _expand(zone: Zone, pfn: int, low: int, high: int, mt: int) -> None:
    """``expand``: split a block of order ``high`` down to ``low``; the upper halves go free."""
    area = zone.free_area
    info = zone.buddy_info
    while high > low:
        high -= 1
        half = pfn + (1 << high)
        area[high][mt][half] = None
        info[half] = (high << 3) | mt


def rmqueue_smallest(zone: Zone, order: int, mt: int) -> int | None:
    """``__rmqueue_smallest``: the smallest free block of type ``mt`` that fits, split to ``order``."""
    area = zone.free_area
    for current in range(order, zone.max_order + 1):
        d = area[current][mt]
        if d:
            pfn = d.popitem()[0]
            del zone.buddy_info[pfn]
            if current > order:
                _expand(zone, pfn, order, current, mt)
            zone.nr_free_pages -= 1 << order
            return pfn
    return None


def can_steal_fallback(zone: Zone, order: int, start_mt: int) -> bool:
    """``can_steal_fallback``: may this request take over a whole pageblock?"""
    pbo = zone.pageblock_order
    if order >= pbo or order >= pbo // 2:
        return True
    return start_mt == MIGRATE_RECLAIMABLE or start_mt == MIGRATE_UNMOVABLE


def find_suitable_fallback(zone: Zone, order: int, start_mt: int) -> int:
    """The first fallback type with a free block of exactly ``order``, or -1."""
    row = zone.free_area[order]
    for fmt in FALLBACKS[start_mt]:
        if row[fmt]:
            return fmt
    return -1


def move_freepages_block(zone: Zone, pfn: int, mt: int) -> int:
    """Move every free block of the pageblock holding ``pfn`` to ``mt``'s lists.

    Returns the base pages moved (0 if the pageblock is not wholly inside the zone's span, as the
    kernel refuses to cross zone boundaries).
    """
    pbo = zone.pageblock_order
    start = (pfn >> pbo) << pbo
    end = start + (1 << pbo)
    if start < zone.start_pfn:
        start = pfn
    if end > zone.start_pfn + zone.spanned:
        return 0
    info = zone.buddy_info
    area = zone.free_area
    allocated = zone.allocated
    moved = 0
    p = start
    while p < end:
        v = info.get(p)
        if v is None:
            a = allocated.get(p)
            p += 1 if a is None else 1 << a
            continue
        order = v >> 3
        old = v & 7
        if old != mt:
            del area[order][old][p]
            area[order][mt][p] = None
            info[p] = (order << 3) | mt
        moved += 1 << order
        p += 1 << order
    return moved


def _move_to_free_list(zone: Zone, pfn: int, mt: int) -> None:
    v = zone.buddy_info[pfn]
    order, old = v >> 3, v & 7
    if old != mt:
        del zone.free_area[order][old][pfn]
        zone.free_area[order][mt][pfn] = None
        zone.buddy_info[pfn] = (order << 3) | mt


def steal_suitable_fallback(zone: Zone, pfn: int, start_mt: int, whole_block: bool) -> None:
    """``steal_suitable_fallback``: move the stolen block (or its whole pageblock) to ``start_mt``.

    The pageblock changes type when its free pages plus "alike" in-use pages reach half a
    pageblock (``1 << (pageblock_order - 1)``); blocks of pageblock order or more retype every
    pageblock they cover.
    """
    pbo = zone.pageblock_order
    order = zone.buddy_info[pfn] >> 3
    old_block = pageblock_migratetype(zone, pfn)
    if old_block == MIGRATE_HIGHATOMIC:
        _move_to_free_list(zone, pfn, start_mt)
        return
    if order >= pbo:
        for p in range(pfn, pfn + (1 << order), 1 << pbo):
            set_pageblock_migratetype(zone, p, start_mt)
        _move_to_free_list(zone, pfn, start_mt)
        return
    if not whole_block:
        _move_to_free_list(zone, pfn, start_mt)
        return
    free_pages = move_freepages_block(zone, pfn, start_mt)
    movable_pages = 0  # ASSUMPTION: in-use pages are never counted as movable (module doc)
    if start_mt == MIGRATE_MOVABLE:
        alike = movable_pages
    elif old_block == MIGRATE_MOVABLE:
        alike = (1 << pbo) - (free_pages + movable_pages)
    else:
        alike = 0
    if not free_pages:
        _move_to_free_list(zone, pfn, start_mt)
        return
    if free_pages + alike >= 1 << (pbo - 1):
        set_pageblock_migratetype(zone, pfn, start_mt)


def rmqueue_fallback(zone: Zone, order: int, start_mt: int) -> bool:
    """``__rmqueue_fallback``: steal from another type; True if something was moved.

    Looks for the **largest** free block of a fallback type (to take whole pageblocks and avoid
    fragmenting many); a MOVABLE request that may not steal the whole block takes the
    **smallest** fitting block instead.
    """
    area = zone.free_area
    fallbacks = FALLBACKS[start_mt]
    found = -1
    fmt = -1
    can_steal = False
    for current in range(zone.max_order, order - 1, -1):
        row = area[current]
        fmt = -1
        for f in fallbacks:
            if row[f]:
                fmt = f
                break
        if fmt < 0:
            continue
        can_steal = can_steal_fallback(zone, current, start_mt)
        if not can_steal and start_mt == MIGRATE_MOVABLE and current > order:
            # find_smallest: the kernel rescans from `order` upwards
            for small in range(order, zone.max_order + 1):
                fmt = find_suitable_fallback(zone, small, start_mt)
                if fmt >= 0:
                    can_steal = can_steal_fallback(zone, small, start_mt)
                    found = small
                    break
        else:
            found = current
        break
    if found < 0:
        return False
    d = area[found][fmt]
    pfn = next(reversed(d))  # the list head
    steal_suitable_fallback(zone, pfn, start_mt, can_steal)
    return True


def rmqueue(zone: Zone, order: int, mt: int) -> int | None:
    """``__rmqueue``: own type first, then CMA (MOVABLE only), then stealing and retry."""
    while True:
        pfn = rmqueue_smallest(zone, order, mt)
        if pfn is not None:
            return pfn
        if mt == MIGRATE_MOVABLE:
            pfn = rmqueue_smallest(zone, order, MIGRATE_CMA)
            if pfn is not None:
                return pfn
        if mt >= MIGRATE_PCPTYPES or not rmqueue_fallback(zone, order, mt):
            return None


def _split_covering_block(zone: Zone, start: int) -> None:
    """If a free block larger than a pageblock covers the pageblock at ``start``, take it out and
    free it again pageblock by pageblock, each piece with its own pageblock's type (pieces merge
    again where the types allow)."""
    pbo = zone.pageblock_order
    info = zone.buddy_info
    for order in range(pbo + 1, zone.max_order + 1):
        head = (start >> order) << order
        v = info.get(head)
        if v is not None and v >> 3 == order:
            del info[head]
            del zone.free_area[order][v & 7][head]
            zone.nr_free_pages -= 1 << order
            for p in range(head, head + (1 << order), 1 << pbo):
                buddy_free(zone, p, pbo, pageblock_migratetype(zone, p))
            return


def isolate_pageblock(zone: Zone, pfn: int) -> int:
    """``set_migratetype_isolate`` (simplified): retype the pageblock ISOLATE and move its free
    blocks to the ISOLATE lists (splitting a larger free block that covers it).  Returns the free
    base pages now isolated in it.  Pages on pcp lists are not touched (callers drain them).
    Caller holds zone->lock."""
    pbo = zone.pageblock_order
    start = (pfn >> pbo) << pbo
    set_pageblock_migratetype(zone, start, MIGRATE_ISOLATE)
    _split_covering_block(zone, start)
    moved = move_freepages_block(zone, start, MIGRATE_ISOLATE)
    _refree_pageblock(zone, start, MIGRATE_ISOLATE)
    return moved


def _refree_pageblock(zone: Zone, start: int, mt: int) -> None:
    """A wholly free pageblock whose type just changed: free it again so it merges with a buddy
    pageblock of a now-compatible type (ASSUMPTION: the kernel leaves two adjacent isolated
    pageblocks unmerged until they are freed again; the model merges at once so that "no free
    buddies left unmerged" stays an invariant)."""
    pbo = zone.pageblock_order
    v = zone.buddy_info.get(start)
    if v is not None and v >> 3 == pbo:
        del zone.buddy_info[start]
        del zone.free_area[pbo][v & 7][start]
        zone.nr_free_pages -= 1 << pbo
        buddy_free(zone, start, pbo, mt)


def unisolate_pageblock(zone: Zone, pfn: int, mt: int = MIGRATE_MOVABLE) -> None:
    """``unset_migratetype_isolate`` (simplified): retype to ``mt``, move the free blocks back and
    re-free a pageblock-sized free block so it merges with its buddy."""
    pbo = zone.pageblock_order
    start = (pfn >> pbo) << pbo
    set_pageblock_migratetype(zone, start, mt)
    _split_covering_block(zone, start)
    move_freepages_block(zone, start, mt)
    _refree_pageblock(zone, start, mt)


def free_all_managed(zone: Zone) -> None:
    """Boot (``memblock_free_all`` down to ``__free_pages_core``): every managed page of a new zone
    free, in the largest aligned blocks, lowest pfn at the head.

    The kernel frees boot memory to the list tail (``__free_pages_core`` with
    ``FPI_TO_TAIL``, "mm/page_alloc: place pages to tail in __free_pages_core()", 5.10), in
    ascending pfn order, so the lowest block is taken first; the model adds blocks in
    descending pfn order at the head, which gives the same list order.
    """
    blocks: list[tuple[int, int]] = []
    pfn, end, max_order = zone.managed_start, zone.managed_end, zone.max_order
    while pfn < end:
        order = min((pfn & -pfn).bit_length() - 1 if pfn else max_order, max_order)
        while pfn + (1 << order) > end:
            order -= 1
        blocks.append((pfn, order))
        pfn += 1 << order
    area, info = zone.free_area, zone.buddy_info
    pbo, base, pmt = zone.pageblock_order, zone.pageblock_base, zone.pageblock_mt
    total = 0
    mixed: list[tuple[int, int]] = []
    for pfn, order in reversed(blocks):
        mt = pmt[(pfn >> pbo) - base]
        if order > pbo:
            first = (pfn >> pbo) - base
            types = pmt[first : first + (1 << (order - pbo))]
            if types.count(mt) != len(types):
                mixed.append((pfn, order))
                continue
        area[order][mt][pfn] = None
        info[pfn] = (order << 3) | mt
        total += 1 << order
    zone.nr_free_pages += total
    if mixed:
        # pageblocks of different types under one block (set before boot, e.g. CMA):
        # free pageblock by pageblock so the merge rules decide what joins
        for pfn, order in mixed:
            for p in range(pfn + (1 << order) - (1 << pbo), pfn - 1, -(1 << pbo)):
                buddy_free(zone, p, pbo, pmt[(p >> pbo) - base])
