"""Invariants of the allocator state, and a canonical state key for the checker.

``check_invariants(machine)`` returns one line per violation (empty list: fine):

* every managed page is in exactly one place: a free buddy block, a pcp list (``lp`` or
  ``drain`` of any CPU) or a block handed to a caller (``allocated``); nothing outside the zone's
  managed pfns;
* every block is aligned to its order; buddy lists and ``buddy_info`` agree (no block listed
  twice, none listed under another order or type);
* no two free buddies of the same order stay unmerged (unless the merge is forbidden at
  pageblock order and above between an unmergeable type and another type);
* pcp counters equal what their lists hold; ``nr_free_pages`` equals the buddy total;
  free + pcp + allocated == managed;
* pcp lists hold blocks of the order their index stands for.

Cost is O(blocks · log blocks) per zone (one sort); fine for the checker's tiny machines, and
usable (seconds) on big ones.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import chain, compress
from typing import Any

from pcplab.mm.constants import MIGRATE_ISOLATE, MIGRATE_PCPTYPES
from pcplab.mm.machine import Machine
from pcplab.mm.state import PcpLists, Zone


def check_zone(zone: Zone) -> list[str]:
    """The invariants of one zone (see module doc)."""
    errs: list[str] = []
    name = zone.name
    info = zone.buddy_info
    blocks: list[tuple[int, int, str]] = []  # (pfn, order, where)
    add = blocks.append
    buddy_pages = 0
    listed = 0
    for order, row in enumerate(zone.free_area):
        for mt, d in enumerate(row):
            for pfn in d:
                listed += 1
                v = info.get(pfn)
                if v != (order << 3) | mt:
                    errs.append(
                        f"{name}: buddy block {pfn} on the order-{order} type-{mt} list but "
                        f"buddy_info says {None if v is None else (v >> 3, v & 7)}"
                    )
                add((pfn, order, "buddy"))
                buddy_pages += 1 << order
    if listed != len(info):
        errs.append(f"{name}: {len(info)} buddy_info entries but {listed} blocks on buddy lists")
    if buddy_pages != zone.nr_free_pages:
        errs.append(
            f"{name}: nr_free_pages {zone.nr_free_pages} != {buddy_pages} pages on buddy lists"
        )
    porder = zone.version.pindex_order
    pcp_pages = 0
    for pcp in zone.per_cpu_pageset:
        for lists in (pcp.lp, pcp.drain):
            if lists is None:
                continue
            pcp_pages += _check_lists(errs, name, lists, porder, add)
        if pcp.high < 0 or pcp.batch < 1 and pcp.high:
            errs.append(f"{name}: {pcp.name} has high {pcp.high}, batch {pcp.batch}")
    alloc_pages = 0
    for pfn, order in zone.allocated.items():
        add((pfn, order, "allocated"))
        alloc_pages += 1 << order
    total = buddy_pages + pcp_pages + alloc_pages
    if total != zone.managed:
        errs.append(
            f"{name}: free {buddy_pages} + pcp {pcp_pages} + allocated {alloc_pages} = {total} "
            f"!= managed {zone.managed}"
        )
    blocks.sort()
    lo, hi = zone.managed_start, zone.managed_end
    prev_end = lo
    prev = None
    for pfn, order, where in blocks:
        size = 1 << order
        if pfn & (size - 1):
            errs.append(f"{name}: {where} block {pfn} of order {order} is not aligned")
        if pfn < lo or pfn + size > hi:
            errs.append(f"{name}: {where} block {pfn}+{size} outside managed pfns [{lo}, {hi})")
        if pfn < prev_end and prev is not None:
            errs.append(
                f"{name}: {where} block {pfn} (order {order}) overlaps {prev[2]} block "
                f"{prev[0]} (order {prev[1]})"
            )
        if pfn + size > prev_end:
            prev_end = pfn + size
            prev = (pfn, order, where)
    errs.extend(_unmerged_buddies(zone))
    errs.extend(_isolation_lists(zone))
    return errs


def _isolation_lists(zone: Zone) -> list[str]:
    """Free pages of isolated pageblocks are on ISOLATE lists, and only those.

    (The kernel's isolation accounting depends on it: ISOLATE pages must never be allocatable.)
    """
    errs: list[str] = []
    pbo = zone.pageblock_order
    pmt = zone.pageblock_mt
    base = zone.pageblock_base
    if not zone.nr_isolate_pageblock and not any(
        zone.free_area[o][MIGRATE_ISOLATE] for o in range(zone.max_order + 1)
    ):
        return errs
    for pfn, v in zone.buddy_info.items():
        order = v >> 3
        on_isolate = (v & 7) == MIGRATE_ISOLATE
        first = (pfn >> pbo) - base
        n = 1 << (order - pbo) if order > pbo else 1
        isolated = [pmt[i] == MIGRATE_ISOLATE for i in range(first, first + n)]
        if any(isolated) and not all(isolated):
            errs.append(
                f"{zone.name}: free block {pfn} (order {order}) spans isolated and "
                "non-isolated pageblocks"
            )
        elif isolated[0] != on_isolate:
            where = "on" if on_isolate else "not on"
            errs.append(
                f"{zone.name}: free block {pfn} (order {order}) {where} the ISOLATE list but its "
                f"pageblock type is {pmt[first]}"
            )
    return errs


def _check_lists(errs: list[str], name: str, lists: PcpLists, porder: tuple[int, ...], add) -> int:
    pages = 0
    for p, lst in enumerate(lists.lists):
        order = porder[p]
        for pfn in lst:
            add((pfn, order, f"pcp {lists.name}[{p}]"))
        pages += len(lst) << order
    if pages != lists.count:
        errs.append(f"{name}: {lists.name} count {lists.count} != {pages} pages on its lists")
    return pages


def _unmerged_buddies(zone: Zone) -> list[str]:
    errs = []
    info = zone.buddy_info
    pbo = zone.pageblock_order
    pmt = zone.pageblock_mt
    base = zone.pageblock_base
    max_order = zone.max_order
    for pfn, v in info.items():
        order = v >> 3
        if order >= max_order:
            continue
        buddy = pfn ^ (1 << order)
        if buddy < pfn:
            continue  # report each pair once
        w = info.get(buddy)
        if w is None or w >> 3 != order:
            continue
        if order >= pbo:
            a = pmt[(pfn >> pbo) - base]
            b = pmt[(buddy >> pbo) - base]
            if a != b and (a >= MIGRATE_PCPTYPES or b >= MIGRATE_PCPTYPES):
                continue
        errs.append(f"{zone.name}: free buddies {pfn} and {buddy} of order {order} not merged")
    return errs


def check_invariants(machine: Machine) -> list[str]:
    """All zones' invariants; empty when the state is consistent."""
    errs: list[str] = []
    for zone in machine.zones:
        errs.extend(check_zone(zone))
    return errs


def zone_page_counts(zone: Zone) -> tuple[int, int, int]:
    """(free in buddy, on pcp lists, allocated) base pages of a zone."""
    porder = zone.version.pindex_order
    pcp = 0
    for p in zone.per_cpu_pageset:
        pcp += p.lp.total(porder)
        if p.drain is not None:
            pcp += p.drain.total(porder)
    alloc = sum(1 << o for o in zone.allocated.values())
    return zone.nr_free_pages, pcp, alloc


def _lists_key(lists: PcpLists | None) -> Hashable:
    if lists is None:
        return None
    return (lists.count, tuple(tuple(lst) for lst in lists.lists))


def zone_key(zone: Zone) -> Hashable:
    """Canonical summary of one zone (see :func:`state_key`)."""
    area = tuple(
        tuple(tuple(d) for d in row) for row in zone.free_area
    )  # list order matters: the head (dict end) is taken next
    pcps = tuple(
        (
            p.high,
            p.batch,
            p.free_factor,
            p.high_min,
            p.high_max,
            p.free_count,
            p.alloc_factor,
            p.flags,
            p.expire,
            _lists_key(p.lp),
            _lists_key(p.drain),
        )
        for p in zone.per_cpu_pageset
    )
    return (
        zone.nr_free_pages,
        area,
        pcps,
        tuple(sorted(zone.allocated.items())),
        bytes(zone.pageblock_mt),
        zone.reclaim_active,
        zone.below_high,
    )


def state_key(machine: Machine) -> Hashable:
    """A hashable, deterministic summary of the whole allocator state.

    Two states with equal keys behave the same from here on: it holds every buddy list **in list
    order** (which block is taken next depends on it), every pcp list set (``lp`` and ``drain``)
    in list order with its count, each pcp's ``high``/``batch``/factors/flags, the allocated
    blocks (sorted), pageblock types and the zone flags.  Nothing depends on hash seeds.
    """
    return tuple(zone_key(z) for z in machine.zones)


def zone_consistent(zone: Zone) -> bool:
    """Fast path of :func:`check_zone` for the interleaving checker: ``True`` only when
    ``check_zone(zone)`` would return no error (``False`` may be conservative; then call
    :func:`check_zone` for the messages).

    Same rules, cheaper bookkeeping: overlap is found with a bitmask of the managed pfns instead
    of sorting every block, and the first problem ends the scan.
    """
    try:
        return _zone_consistent(zone)
    except Exception:  # noqa: BLE001 - malformed state: let check_zone describe (or raise) it
        return False


#: by zone name, the last buddy side :func:`_buddy_side` found consistent, with the contents it
#: was computed from (only exact equality of those contents reuses it)
_buddy_seen: dict[str, tuple[Any, ...]] = {}


def _buddy_side(
    info: dict[int, int], area: list[Any], lo: int, hi: int, max_order: int
) -> tuple[int, int, bool, bool] | None:
    """The buddy half of :func:`_zone_consistent`: None if broken, else (the mask of buddy pages,
    their count, whether two free buddies of one order exist, whether an ISOLATE block is free).

    Each ``buddy_info`` entry must sit on the list its code names; with as many listed blocks as
    entries, that pairs every listed block with its own entry."""
    if sum(map(len, chain.from_iterable(area))) != len(info):
        return None
    mask = 0
    buddy_pages = 0
    pairs = isolate = False
    for pfn, v in info.items():
        order = v >> 3
        mt = v & 7
        if pfn not in area[order][mt]:
            return None
        if mt == MIGRATE_ISOLATE:
            isolate = True
        size = 1 << order
        if pfn & (size - 1) or pfn < lo or pfn + size > hi:
            return None
        bits = ((1 << size) - 1) << (pfn - lo)
        if mask & bits:
            return None
        mask |= bits
        buddy_pages += size
        if order < max_order:
            buddy = pfn ^ size
            if buddy > pfn:
                w = info.get(buddy)
                if w is not None and w >> 3 == order:
                    pairs = True  # unmerged unless a pageblock rule forbids it: see the caller
    return mask, buddy_pages, pairs, isolate


def _zone_consistent(zone: Zone) -> bool:
    info = zone.buddy_info
    area = zone.free_area
    lo = zone.managed_start
    hi = zone.managed_end
    max_order = zone.max_order
    # The buddy side is a pure function of buddy_info, the free lists and the zone's bounds, and
    # the checker tests it after every step while it changes only at the few steps that take or
    # give back buddy pages: its last good result is reused while those contents compare equal
    # (dict and list equality, in C; an exact test, so nothing is assumed about who changed what).
    seen = _buddy_seen.get(zone.name)
    if (seen is not None and seen[0] == lo and seen[1] == hi and seen[2] == max_order
            and seen[3] == info and seen[4] == area):  # fmt: skip
        mask, buddy_pages, pairs, isolate = seen[5]
    else:
        got = _buddy_side(info, area, lo, hi, max_order)
        if got is None:
            return False
        mask, buddy_pages, pairs, isolate = got
        _buddy_seen[zone.name] = (lo, hi, max_order, dict(info),
                                  [[dict(d) for d in row] for row in area], got)  # fmt: skip
    if buddy_pages != zone.nr_free_pages:
        return False
    porder = zone.version.pindex_order
    pcp_pages = 0
    for pcp in zone.per_cpu_pageset:
        if pcp.high < 0 or pcp.batch < 1 and pcp.high:
            return False
        for lists in (pcp.lp, pcp.drain):
            if lists is None:
                continue
            ll = lists.lists
            if not any(ll):
                if lists.count:
                    return False
                continue
            pages = 0
            for p in compress(range(len(ll)), ll):  # the non-empty lists only
                lst = ll[p]
                order = porder[p]
                size = 1 << order
                align = size - 1
                ones = (1 << size) - 1
                for pfn in lst:
                    if pfn & align or pfn < lo or pfn + size > hi:
                        return False
                    bits = ones << (pfn - lo)
                    if mask & bits:
                        return False
                    mask |= bits
                pages += len(lst) << order
            if pages != lists.count:
                return False
            pcp_pages += pages
    alloc_pages = 0
    for pfn, order in zone.allocated.items():
        size = 1 << order
        if pfn & (size - 1) or pfn < lo or pfn + size > hi:
            return False
        bits = ((1 << size) - 1) << (pfn - lo)
        if mask & bits:
            return False
        mask |= bits
        alloc_pages += size
    if buddy_pages + pcp_pages + alloc_pages != zone.managed:
        return False
    if len(area) != max_order + 1:
        isolate = True  # unusual layout: let _isolation_lists look for itself
    if pairs and _unmerged_buddies(zone):
        return False
    return not ((isolate or zone.nr_isolate_pageblock) and _isolation_lists(zone))


def machine_consistent(machine: Machine) -> bool:
    """``True`` only when :func:`check_invariants` would return no error (see
    :func:`zone_consistent`)."""
    try:
        for zone in machine.zones:
            if not _zone_consistent(zone):
                return False
    except Exception:  # noqa: BLE001 - as zone_consistent: let check_zone describe (or raise) it
        return False
    return True
