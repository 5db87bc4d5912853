"""Sequential kernel rules for the pcp lists, per kernel version.

Plain functions; the **caller** models locking (IRQs off, ``pcp->lock``, ``zone->lock``) by
calling them between the right ops.  Version differences follow ``zone.version``.
Sources: kernel-pcp.md §5 (allocation and refill), §6 (free), §7 (bulk free), §8 (decay), §4.2
(``zone_pcp_disable``) — [SRC✓ v5.17], [SRC✓ v6.0.1], [SRC✓ v6.8] as cited there.

The pcp lists a function works on are passed explicitly (``lists``: normally ``pcp.lp``;
designs that swap list sets pass the set they hold), so ``lists.count`` is the count the kernel
function would read as ``pcp->count``.

Composite helpers at the end (``rmqueue_pcplist``, ``free_unref_page``, ``rmqueue``,
``drain_pages_zone``) chain the steps the way one kernel call does, for tests, workloads and
designs that need no scheduling point inside.
"""

from __future__ import annotations

from pcplab.mm.buddy import (
    buddy_free,
    free_one_page,
    pageblock_migratetype,
    rmqueue_smallest,
)
from pcplab.mm.buddy import rmqueue as buddy_rmqueue
from pcplab.mm.constants import (
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    PAGE_ALLOC_COSTLY_ORDER,
    PCP_BATCH_SCALE_MAX,
    PCPF_FREE_HIGH_BATCH,
    PCPF_PREV_FREE_HIGH_ORDER,
)
from pcplab.mm.errors import AllocatorBug, BadFree, DoubleAlloc
from pcplab.mm.state import PcpLists, PerCpuPages, Zone

__all__ = [
    "rmqueue_bulk",
    "nr_pcp_alloc",
    "pcp_take",
    "rmqueue_pcplist_prepare",
    "free_unref_page_commit",
    "nr_pcp_high",
    "nr_pcp_free",
    "free_pcppages_bulk",
    "drain_lists",
    "rmqueue_buddy",
    "free_one_page",
    "pageblock_migratetype",
    "hand_out",
    "take_back",
    "decay_pcp_high",
    "zone_set_high_batch",
    "zone_restore_high_batch",
    "zone_watermark_ok",
    "update_below_high",
    "clear_below_high",
    "pcp_free_migratetype",
    "rmqueue_pcplist",
    "free_unref_page",
    "rmqueue",
    "drain_pages_zone",
    "drain_zone_pages",
    "buddy_rmqueue",
    "rmqueue_smallest",
    "buddy_free",
]


# --- watermarks ---------------------------------------------------------------------------------


def zone_watermark_ok(zone: Zone, order: int, mark: int, free_pages: int | None = None) -> bool:
    """``__zone_watermark_ok`` without reserves: enough free pages above ``mark`` for ``order``.

    ``free_pages`` defaults to ``zone.nr_free_pages``.  An order-k request needs
    ``free - (2**k - 1) > mark``; for k > 0 there must also be a free block of order ≥ k on a
    pcp-type list (or CMA).  ASSUMPTION: no ``lowmem_reserve``, no highatomic reserve, no
    ALLOC_HARDER/ALLOC_OOM scaling of ``mark``; ``mark`` already includes any boost.
    """
    free = zone.nr_free_pages if free_pages is None else free_pages
    free -= (1 << order) - 1
    if free <= mark:
        return False
    if order == 0:
        return True
    area = zone.free_area
    for o in range(order, zone.max_order + 1):
        row = area[o]
        if row[0] or row[1] or row[2] or row[4]:
            return True
    return False


def update_below_high(zone: Zone, order: int = 0) -> None:
    """6.7+: set ``ZONE_BELOW_HIGH`` when free pages are under the high watermark.

    The kernel tests this in ``get_page_from_freelist`` on every allocation attempt
    [SRC v6.8 page_alloc.c:3247-3256]; the model tests it when a refill or buddy allocation
    happens (ASSUMPTION: free pages only change at those points and at bulk frees).
    """
    if not zone.below_high:
        wm = zone.watermarks
        if not zone_watermark_ok(zone, order, wm.high + wm.boost):
            zone.below_high = True


def clear_below_high(zone: Zone) -> None:
    """6.7+: after ``free_unref_page_commit``'s own bulk free, clear ``ZONE_BELOW_HIGH`` once
    the zone is above its high watermark (boost included, ``high_wmark_pages``) [SRC v6.8
    mm/page_alloc.c:2467-2471 free_unref_page_commit].  Only there: a drain's or decay's bulk
    free leaves the flag as it is, as in the kernel."""
    if not (zone.version.autotune and zone.below_high):
        return
    wm = zone.watermarks
    if zone_watermark_ok(zone, 0, wm.high + wm.boost):
        zone.below_high = False


# --- allocation side ----------------------------------------------------------------------------


def rmqueue_bulk(zone: Zone, order: int, count: int, lists: PcpLists, pindex: int, mt: int) -> int:
    """Take up to ``count`` order-``order`` blocks from buddy and append them at the list **tail**.

    [kernel-pcp.md §5.1] One ``zone->lock`` hold for the whole refill; ``__rmqueue`` may fall back
    to other types.  ``lists.count`` grows by ``got << order``; returns ``got`` (blocks).
    """
    lst = lists.lists[pindex]
    append = lst.append
    got = 0
    for _ in range(count):
        pfn = buddy_rmqueue(zone, order, mt)
        if pfn is None:
            break
        append(pfn)
        got += 1
    lists.count += got << order
    if zone.version.autotune:
        update_below_high(zone, order)
    return got


def nr_pcp_alloc(pcp: PerCpuPages, zone: Zone, order: int) -> int:
    """Refill size in order-``order`` blocks.

    ≤ 6.6 [§5.1]: ``batch``, scaled by order as ``max(batch >> order, 2)`` when ``batch > 1``.
    6.7+ [§5.3]: clamp ``high`` into ``[high_min, high_max]``; ``high < batch`` → 1; each refill
    grows ``high`` by the refill (tuning on, zone not below high); order-0 refills double with
    ``alloc_factor`` (up to ``batch << 5``) while they fit under ``high - count - batch``.
    """
    batch = pcp.batch
    if not zone.version.autotune:
        if batch > 1:
            batch = max(batch >> order, 2)
        return batch
    high = pcp.high
    if high < pcp.high_min:
        high = pcp.high_min
    if high > pcp.high_max:
        high = pcp.high_max
    pcp.high = high
    if high < batch:
        return 1
    b = batch << pcp.alloc_factor if order == 0 else batch
    if pcp.high_min != pcp.high_max and not zone.below_high:
        high = min(high + b, pcp.high_max)
        pcp.high = high
    if order == 0:
        cap = max(high - pcp.lp.count - batch, batch)
        if b <= cap and pcp.alloc_factor < PCP_BATCH_SCALE_MAX:
            pcp.alloc_factor += 1
        b = min(b, cap)
    if b > 1:
        b = max(b >> order, 2)
    return b


def rmqueue_pcplist_prepare(pcp: PerCpuPages) -> None:
    """Start of ``rmqueue_pcplist``: an allocation halves ``free_factor`` (≤ 6.6) or
    ``free_count`` (6.7+); the other field is 0 in each version, so both are halved."""
    pcp.free_factor >>= 1
    pcp.free_count >>= 1


def pcp_take(pcp: PerCpuPages, lists: PcpLists, pindex: int, order: int) -> int | None:
    """Pop the list **head** (the hottest page); ``count -= 1 << order``.  None if empty."""
    lst = lists.lists[pindex]
    if not lst:
        return None
    lists.count -= 1 << order
    return lst.popleft()


# --- free side ----------------------------------------------------------------------------------


def nr_pcp_high(pcp: PerCpuPages, zone: Zone, free_high: bool = False) -> int:
    """The ``high`` a free compares ``count`` against.

    ≤ 6.6 [§6.1, §6.2]: 0 if ``high == 0`` or (6.0+) ``free_high``; ``high`` normally;
    ``min(4 * batch, high)`` while reclaim is active on the zone.
    6.7+ [§6.3]: clamps and tunes ``pcp.high`` (shrinks it under reclaim, below-high or
    free_high; grows it to hold a free batch) and returns the threshold.
    """
    if not zone.version.autotune:
        high = pcp.high
        if not high or free_high:
            return 0
        if not zone.reclaim_active:
            return high
        return min(pcp.batch << 2, high)
    batch = pcp.batch
    high_min = pcp.high_min
    high = pcp.high
    if high < high_min:
        high = high_min
    if high > pcp.high_max:
        high = pcp.high_max
    pcp.high = high
    if not high:
        return 0
    if free_high:
        pcp.high = max(high - (batch << PCP_BATCH_SCALE_MAX), high_min)
        return 0
    if zone.reclaim_active:
        pcp.high = max(high - max(pcp.free_count, batch), high_min)
        return min(batch << 2, pcp.high)
    if high_min == pcp.high_max:
        return high
    count = pcp.lp.count
    if zone.below_high:
        pcp.high = max(high - max(pcp.free_count, batch), high_min)
        high = max(count, high_min)
    elif count >= high:
        need = pcp.free_count + batch
        if pcp.high < need:
            pcp.high = min(max(need, high_min), pcp.high_max)
    return high


def nr_pcp_free(pcp: PerCpuPages, high: int, batch: int, free_high: bool = False) -> int:
    """Base pages to bulk-free once ``count >= high``.

    ≤ 6.6 [§6.1, §6.2]: everything on ``free_high`` (6.0+); 1 if ``high < batch``; otherwise
    ``batch << free_factor`` clamped to ``[batch, high - batch]`` (kernel ``clamp``: the upper
    bound wins), and ``free_factor`` grows while the unclamped value is under ``high - batch``:
    batch, 2·batch, 4·batch, … capped at ``high − batch``.
    6.7+ [§6.3]: ``min(count, batch << 5)`` on free_high; 1 if ``high < batch``; otherwise
    ``free_count`` clamped to ``[batch, high - batch]``.
    """
    return _nr_pcp_free(pcp, high, batch, free_high, pcp.autotune)


def _nr_pcp_free(pcp: PerCpuPages, high: int, batch: int, free_high: bool, autotune: bool) -> int:
    if autotune:
        if free_high:
            return min(pcp.lp.count, batch << PCP_BATCH_SCALE_MAX)
        if high < batch:
            return 1
        return min(max(pcp.free_count, batch), high - batch)
    if free_high:
        return pcp.lp.count
    if high < batch:
        return 1
    hi = high - batch
    n = batch << pcp.free_factor
    if n < hi:
        pcp.free_factor += 1
    return min(max(n, batch), hi)


def pcp_free_migratetype(zone: Zone, pfn: int) -> int:
    """The list type a free uses: the pageblock type, types ≥ 3 (other than ISOLATE) → MOVABLE.

    Returns ``MIGRATE_ISOLATE`` for isolated blocks: those must bypass pcp (``free_one_page``).
    """
    mt = zone.pageblock_mt[(pfn >> zone.pageblock_order) - zone.pageblock_base]
    if mt >= MIGRATE_PCPTYPES and mt != MIGRATE_ISOLATE:
        return MIGRATE_MOVABLE
    return mt


def free_unref_page_commit(
    zone: Zone, pcp: PerCpuPages, lists: PcpLists, pfn: int, order: int, mt: int
) -> int:
    """Push a freed block at the list **head** and decide whether to bulk-free.

    Returns the base pages the caller must now free with ``free_pcppages_bulk(zone, n, pcp,
    lists, pindex)`` where ``pindex = zone.version.order_to_pindex(mt, order)`` (0: nothing).
    ``mt`` ≥ 3 (HIGHATOMIC, CMA) is put on the MOVABLE list; ISOLATE must not reach here.
    """
    version = zone.version
    if mt >= MIGRATE_PCPTYPES:
        if mt == MIGRATE_ISOLATE:
            raise AllocatorBug(
                f"{zone.name}: ISOLATE page {pfn} freed to pcp (must use free_one_page)"
            )
        mt = MIGRATE_MOVABLE
    pindex = version.pindex_table[order][mt]
    lists.lists[pindex].appendleft(pfn)
    lists.count += 1 << order
    batch = pcp.batch
    if not version.autotune:
        free_high = (
            version.free_high and pcp.free_factor > 0 and 0 < order <= PAGE_ALLOC_COSTLY_ORDER
        )
        high = nr_pcp_high(pcp, zone, free_high)
        if lists.count >= high:
            return _nr_pcp_free(pcp, high, batch, free_high, False)
        return 0
    pcp.alloc_factor >>= 1
    free_high = False
    if 0 < order <= PAGE_ALLOC_COSTLY_ORDER:
        flags = pcp.flags
        free_high = (
            pcp.free_count >= batch
            and bool(flags & PCPF_PREV_FREE_HIGH_ORDER)
            and (not flags & PCPF_FREE_HIGH_BATCH or lists.count >= batch)
        )
        pcp.flags = flags | PCPF_PREV_FREE_HIGH_ORDER
    else:
        pcp.flags &= ~PCPF_PREV_FREE_HIGH_ORDER
    if pcp.free_count < batch << PCP_BATCH_SCALE_MAX:
        pcp.free_count += 1 << order
    high = nr_pcp_high(pcp, zone, free_high)
    if lists.count >= high:
        return _nr_pcp_free(pcp, high, batch, free_high, True)
    return 0


def free_pcppages_bulk(
    zone: Zone, count: int, pcp: PerCpuPages, lists: PcpLists, pindex: int = 0
) -> int:
    """Free ``count`` base pages (at most ``lists.count``) from the list **tails** into buddy.

    5.17 [§7.1]: round-robin starting at list 1; every list looked at adds 1 to a quota of pages
    to take from the next non-empty list (leftover quota carries over); when the only non-empty
    list is found after a full turn, it gives everything still needed.  All pages are detached
    first, then freed to buddy in that order.
    6.0+ [§7.2]: one pass starting at ``pindex`` (the list just freed into); each non-empty list
    visited is emptied until ``count`` is reached; no quota.
    Returns base pages freed.  6.7+ also clears ``ZONE_BELOW_HIGH`` afterwards when the zone is
    back above the high watermark (ASSUMPTION: also after drains, not only the free path).
    The buddy type of each page is its pageblock's current type (ASSUMPTION: the 5.17 kernel uses
    the type cached in the page when it went onto the pcp list; they differ only when a block
    was retyped while the page sat on a pcp list).
    """
    version = zone.version
    n = lists.count
    if count > n:
        count = n
    if count <= 0:
        return 0
    pls = lists.lists
    nr = len(pls)
    porder = version.pindex_order
    pmt = zone.pageblock_mt
    pbo = zone.pageblock_order
    base = zone.pageblock_base
    freed = 0
    if version.bulk_round_robin:
        p = 0
        quota = 0
        picked: list[tuple[int, int]] = []
        while count > 0:
            seen = 0
            while True:
                quota += 1
                p += 1
                if p == nr:
                    p = 0
                if pls[p]:
                    break
                seen += 1
                if seen > nr:
                    break
            if seen > nr:
                break  # lists.count claims pages the lists do not hold: stop, invariants say why
            if quota == nr:
                quota = count
            order = porder[p]
            lst = pls[p]
            size = 1 << order
            while True:
                picked.append((lst.pop(), order))
                freed += size
                count -= size
                if count <= 0:
                    break
                quota -= 1
                if quota == 0 or not lst:
                    break
        lists.count -= freed
        for pfn, order in picked:
            buddy_free(zone, pfn, order, pmt[(pfn >> pbo) - base])
    else:
        p = pindex - 1
        while count > 0:
            seen = 0
            while True:
                p += 1
                if p >= nr:
                    p = 0
                if pls[p]:
                    break
                seen += 1
                if seen > nr:
                    break
            if seen > nr:
                break  # inconsistent count (a broken design): never spin forever
            order = porder[p]
            lst = pls[p]
            size = 1 << order
            while True:
                pfn = lst.pop()
                count -= size
                freed += size
                buddy_free(zone, pfn, order, pmt[(pfn >> pbo) - base])
                if count <= 0 or not lst:
                    break
        lists.count -= freed
    return freed


def drain_lists(zone: Zone, pcp: PerCpuPages, lists: PcpLists) -> int:
    """Body of ``drain_pages_zone``: bulk-free everything on ``lists`` (starting at list 0)."""
    if not lists.count:
        return 0
    return free_pcppages_bulk(zone, lists.count, pcp, lists, 0)


def decay_pcp_high(zone: Zone, pcp: PerCpuPages, lists: PcpLists | None = None) -> int:
    """6.7+ once-a-second decay of ``high`` [§8, SRC✓ v6.8 page_alloc.c:2163].

    ``high`` drops by 1/8 (integer), but not below ``count - (batch << 5)`` nor ``high_min``.
    Returns the base pages above the new ``high`` that the caller frees (under ``pcp->lock``)
    with ``free_pcppages_bulk(zone, n, pcp, lists, 0)``; 0 for ≤ 6.6 kernels.
    """
    if not zone.version.autotune:
        return 0
    count = (pcp.lp if lists is None else lists).count
    if pcp.high > pcp.high_min:
        pcp.high = max(
            count - (pcp.batch << PCP_BATCH_SCALE_MAX), pcp.high - (pcp.high >> 3), pcp.high_min
        )
    to_drain = count - pcp.high
    return to_drain if to_drain > 0 else 0


def drain_zone_pages(zone: Zone, pcp: PerCpuPages, lists: PcpLists | None = None) -> int:
    """``drain_zone_pages`` (vmstat remote-node drain, §8): free ``min(count, batch)`` pages."""
    lists = pcp.lp if lists is None else lists
    n = min(lists.count, pcp.batch)
    if n <= 0:
        return 0
    return free_pcppages_bulk(zone, n, pcp, lists, 0)


def zone_set_high_batch(zone: Zone, high: int, batch: int, high_max: int | None = None) -> None:
    """``pageset_update`` on every CPU's pageset of the zone (``zone_pcp_disable``: 0, 1).

    ≤ 6.6 writes ``high`` and ``batch``.  6.7+ writes ``high_min = high``, ``high_max`` (default
    ``high``) and ``batch``; ``pcp.high`` itself is clamped into the new bounds on next use
    [§14], which the model does here at once (same effect, visible in ``state_key``).
    """
    hmax = high if high_max is None else high_max
    for pcp in zone.per_cpu_pageset:
        pcp.batch = batch
        pcp.high_min = high
        pcp.high_max = hmax
        if zone.version.autotune:
            pcp.high = min(max(pcp.high, high), hmax)
        else:
            pcp.high = high


def zone_restore_high_batch(zone: Zone) -> None:
    """``zone_pcp_enable``: write back the zone's computed sizes (``zone->pageset_*``)."""
    zone_set_high_batch(zone, zone.pageset_high_min, zone.pageset_batch, zone.pageset_high_max)


# --- buddy-only paths and ownership -------------------------------------------------------------


def rmqueue_buddy(zone: Zone, order: int, mt: int) -> int | None:
    """One block straight from buddy (6.0+ trylock/empty fallback, orders without pcp lists)."""
    pfn = buddy_rmqueue(zone, order, mt)
    if zone.version.autotune:
        update_below_high(zone, order)
    return pfn


def hand_out(zone: Zone, pfn: int, order: int) -> None:
    """Record a block given to a caller.  DoubleAlloc if it is already allocated or still free
    in buddy (the model's "bad page state" at allocation)."""
    allocated = zone.allocated
    if pfn in allocated:
        raise DoubleAlloc(
            f"{zone.name}: pfn {pfn} (order {order}) handed out while already allocated "
            f"(order {allocated[pfn]})"
        )
    if pfn in zone.buddy_info:
        raise DoubleAlloc(f"{zone.name}: pfn {pfn} (order {order}) handed out while free in buddy")
    if not zone.managed_start <= pfn < zone.managed_end:
        raise DoubleAlloc(f"{zone.name}: pfn {pfn} handed out but not a page of this zone")
    allocated[pfn] = order


def take_back(zone: Zone, pfn: int, order: int) -> None:
    """Record a block returned by a caller.  BadFree if it was not allocated with this order."""
    got = zone.allocated.get(pfn)
    if got is None:
        raise BadFree(f"{zone.name}: pfn {pfn} (order {order}) freed but not allocated")
    if got != order:
        raise BadFree(f"{zone.name}: pfn {pfn} freed as order {order}, allocated as order {got}")
    del zone.allocated[pfn]


# --- composites: one kernel call without scheduling points ---------------------------------------


def rmqueue_pcplist(
    zone: Zone, pcp: PerCpuPages, order: int, mt: int, lists: PcpLists | None = None
) -> int | None:
    """``rmqueue_pcplist`` + ``__rmqueue_pcplist``: take from the list head, refilling it from
    buddy first if empty.  None if buddy has nothing either.  Does not ``hand_out``."""
    if lists is None:
        lists = pcp.lp
    pcp.free_factor >>= 1  # rmqueue_pcplist_prepare
    pcp.free_count >>= 1
    pindex = zone.version.pindex_table[order][mt]
    if pindex < 0:
        raise ValueError(f"order {order} does not use pcp lists in {zone.version.name}")
    lst = lists.lists[pindex]
    if not lst:
        rmqueue_bulk(zone, order, nr_pcp_alloc(pcp, zone, order), lists, pindex, mt)
        if not lst:
            return None
    lists.count -= 1 << order
    return lst.popleft()


def rmqueue(zone: Zone, pcp: PerCpuPages, order: int, mt: int) -> int | None:
    """``rmqueue`` without locking: pcp for pcp orders (6.0+: buddy if pcp returns nothing),
    buddy otherwise.  Does not ``hand_out``."""
    version = zone.version
    if version.pcp_allowed_order(order) and mt < MIGRATE_PCPTYPES:
        pfn = rmqueue_pcplist(zone, pcp, order, mt)
        if pfn is not None or not version.pcp_buddy_fallback:
            return pfn
    return rmqueue_buddy(zone, order, mt)


def free_unref_page(
    zone: Zone, pcp: PerCpuPages, pfn: int, order: int, lists: PcpLists | None = None
) -> int:
    """``free_unref_page`` without locking: ISOLATE → buddy, else commit to pcp and bulk-free
    what the rules ask for.  Orders without pcp lists go to buddy.  Returns base pages that went
    to buddy.  Does not ``take_back``."""
    version = zone.version
    mt = zone.pageblock_mt[(pfn >> zone.pageblock_order) - zone.pageblock_base]
    po = version.pcp_orders
    if mt == MIGRATE_ISOLATE or order >= len(po) or not po[order]:
        free_one_page(zone, pfn, order, mt)
        return 1 << order
    if mt >= MIGRATE_PCPTYPES:
        mt = MIGRATE_MOVABLE
    if lists is None:
        lists = pcp.lp
    n = free_unref_page_commit(zone, pcp, lists, pfn, order, mt)
    if n:
        freed = free_pcppages_bulk(zone, n, pcp, lists, version.pindex_table[order][mt])
        clear_below_high(zone)
        return freed
    return 0


def drain_pages_zone(zone: Zone, pcp: PerCpuPages) -> int:
    """``drain_pages_zone`` without locking: empty both list sets of this pcp."""
    freed = drain_lists(zone, pcp, pcp.lp)
    if pcp.drain is not None:
        freed += drain_lists(zone, pcp, pcp.drain)
    return freed
