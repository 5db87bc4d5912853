"""Kernel pcp rules pinned with worked examples computed by hand (kernel-pcp.md §5-§8)."""

from __future__ import annotations

import pytest
from helpers_mm import make_zone, take_pages

from pcplab.mm import (
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    check_invariants,
)
from pcplab.mm.invariants import check_zone
from pcplab.mm.ops import (
    decay_pcp_high,
    drain_lists,
    free_pcppages_bulk,
    free_unref_page,
    free_unref_page_commit,
    hand_out,
    nr_pcp_alloc,
    nr_pcp_free,
    nr_pcp_high,
    pcp_take,
    rmqueue_buddy,
    rmqueue_bulk,
    rmqueue_pcplist,
    rmqueue_pcplist_prepare,
    take_back,
    zone_restore_high_batch,
    zone_set_high_batch,
)


def _free(zone, pcp, pfn, order=0):
    take_back(zone, pfn, order)
    return free_unref_page(zone, pcp, pfn, order)


# --- free_factor doubling (≤ 6.6) ---------------------------------------------------------------


@pytest.mark.parametrize("version", ["5.17", "6.0", "6.1", "6.6"])
def test_free_factor_doubling_and_clamp(version):
    # batch = 2, high = 20 → nr_pcp_free clamps to [batch, high - batch] = [2, 18].
    # A free-only run: count reaches 20 → free 2<<0 = 2 (ff 0→1, count 18); two frees later
    # count 20 → free 2<<1 = 4 (ff 2, count 16); four frees → 8 (ff 3, count 12); eight frees →
    # 16 (ff 4, count 4); sixteen frees → 2<<4 = 32 ≥ 18 → clamp 18 (ff stays 4, count 2);
    # eighteen frees → 18 again.
    zone = make_zone(version, batch=2, high=20)
    pcp = zone.per_cpu_pageset[0]
    pages = take_pages(zone, 80)
    bulk = []  # (free number, pages bulk-freed)
    for i, pfn in enumerate(pages[:68], start=1):
        n = _free(zone, pcp, pfn)
        if n:
            bulk.append((i, n))
    assert bulk == [(20, 2), (22, 4), (26, 8), (34, 16), (50, 18), (68, 18)]
    assert pcp.free_factor == 4 and pcp.count == 2
    # an allocation halves free_factor: 4 → 2, so the next bulk free is 2 << 2 = 8
    pfn = rmqueue_pcplist(zone, pcp, 0, MIGRATE_MOVABLE)
    assert pfn == pages[67]  # LIFO: the last page freed is at the head
    hand_out(zone, pfn, 0)
    assert pcp.free_factor == 2
    assert nr_pcp_free(pcp, 20, 2) == 8 and pcp.free_factor == 3
    assert check_zone(zone) == []


def test_nr_pcp_free_small_high_and_disabled():
    zone = make_zone("5.17", batch=4, high=6)
    pcp = zone.per_cpu_pageset[0]
    # high < batch (zone_pcp_disable writes high 0, batch 1; or a boot pageset) → free 1
    assert nr_pcp_free(pcp, 3, 4) == 1
    # high 6, batch 4: clamp(4, 4, 2) → the kernel clamp gives the upper bound, 2; ff grows
    # only while 4 << ff < high - batch = 2, so it stays 0
    assert nr_pcp_free(pcp, 6, 4) == 2 and pcp.free_factor == 0


@pytest.mark.parametrize("version", ["5.17", "6.0"])
def test_reclaim_active_limits_high(version):
    zone = make_zone(version, batch=2, high=20)
    pcp = zone.per_cpu_pageset[0]
    assert nr_pcp_high(pcp, zone) == 20
    zone.reclaim_active = True
    assert nr_pcp_high(pcp, zone) == 8  # min(4 * batch, high) = min(8, 20)
    pcp.high = 6
    assert nr_pcp_high(pcp, zone) == 6  # min(8, 6)
    pcp.high = 20
    pages = take_pages(zone, 8)
    freed = [_free(zone, pcp, p) for p in pages]
    # the 8th free reaches min(8, 20): free batch << 0 = 2 (clamp [2, 8 - 2 = 6])
    assert freed == [0] * 7 + [2]
    assert pcp.count == 6


@pytest.mark.parametrize("version", ["5.17", "6.0", "6.5"])
def test_refill_batch_scaled_by_order(version):
    zone = make_zone(version, batch=63, high=400)
    pcp = zone.per_cpu_pageset[0]
    # max(63 >> order, 2): 63, 31, 15, 7; THP order 9: 63 >> 9 = 0 → 2
    assert [nr_pcp_alloc(pcp, zone, o) for o in (0, 1, 2, 3, 9)] == [63, 31, 15, 7, 2]
    pcp.batch = 5
    assert nr_pcp_alloc(pcp, zone, 2) == 2  # 5 >> 2 = 1 → 2
    pcp.batch = 1
    assert nr_pcp_alloc(pcp, zone, 3) == 1  # batch 1 is not scaled (zone_pcp_disable)


def test_refill_appends_at_tail_and_alloc_takes_head():
    zone = make_zone("5.17", batch=4, high=40)
    pcp = zone.per_cpu_pageset[0]
    # empty list: refill 4 pages from buddy; the buddy hands out 0, 1, 2, 3 (split order)
    first = rmqueue_pcplist(zone, pcp, 0, MIGRATE_MOVABLE)
    p = zone.version.order_to_pindex(MIGRATE_MOVABLE, 0)
    assert first == 0 and list(pcp.lp.lists[p]) == [1, 2, 3] and pcp.count == 3
    hand_out(zone, first, 0)
    # a second refill appends behind what is there
    got = rmqueue_bulk(zone, 0, 2, pcp.lp, p, MIGRATE_MOVABLE)
    assert got == 2 and list(pcp.lp.lists[p]) == [1, 2, 3, 4, 5] and pcp.count == 5
    # a free goes to the head; the next allocation takes it back (LIFO)
    take_back(zone, 0, 0)
    free_unref_page_commit(zone, pcp, pcp.lp, 0, 0, MIGRATE_MOVABLE)
    assert list(pcp.lp.lists[p]) == [0, 1, 2, 3, 4, 5]
    assert pcp_take(pcp, pcp.lp, p, 0) == 0 and pcp.count == 5
    hand_out(zone, 0, 0)
    assert pcp_take(pcp, pcp.lp, 1 - p if p else 2, 0) is None
    assert check_zone(zone) == []


def test_5_17_pcp_allocation_has_no_buddy_fallback_but_returns_none_when_empty():
    zone = make_zone("5.17", pages=16, batch=4, high=40)
    pcp = zone.per_cpu_pageset[0]
    got = [rmqueue_pcplist(zone, pcp, 0, MIGRATE_MOVABLE) for _ in range(17)]
    assert got[:16] == list(range(16)) and got[16] is None


# --- 6.7+ auto-tuning ----------------------------------------------------------------------------


def test_nr_pcp_alloc_autotune_growth():
    zone = make_zone("6.8", batch=4, high_min=16, high_max=256, high=16)
    pcp = zone.per_cpu_pageset[0]
    # count stays 0 (the refilled pages are allocated away). Each call, order 0:
    #   b = batch << alloc_factor; high = min(high + b, 256); cap = max(high - 0 - 4, 4);
    #   alloc_factor += 1 while b <= cap and alloc_factor < 5.
    # 1: b 4,  high 20,  cap 16  → af 1, return 4
    # 2: b 8,  high 28,  cap 24  → af 2, return 8
    # 3: b 16, high 44,  cap 40  → af 3, return 16
    # 4: b 32, high 76,  cap 72  → af 4, return 32
    # 5: b 64, high 140, cap 136 → af 5, return 64
    # 6: b 128, high min(268, 256) = 256, cap 252, af stays 5, return 128
    seq = []
    for _ in range(7):
        seq.append((nr_pcp_alloc(pcp, zone, 0), pcp.high, pcp.alloc_factor))
    assert seq == [
        (4, 20, 1),
        (8, 28, 2),
        (16, 44, 3),
        (32, 76, 4),
        (64, 140, 5),
        (128, 256, 5),
        (128, 256, 5),
    ]
    # with pages on the list the refill is capped: count 200 → cap = max(256 - 200 - 4, 4) = 52
    pcp.lp.count = 200
    assert nr_pcp_alloc(pcp, zone, 0) == 52 and pcp.alloc_factor == 5
    pcp.lp.count = 0
    # order 1 ignores alloc_factor: b = 4 → max(4 >> 1, 2) = 2; high is already at high_max
    assert nr_pcp_alloc(pcp, zone, 1) == 2
    # a free halves alloc_factor (5 → 2)
    (pfn,) = take_pages(zone, 1)
    take_back(zone, pfn, 0)
    free_unref_page_commit(zone, pcp, pcp.lp, pfn, 0, MIGRATE_MOVABLE)
    assert pcp.alloc_factor == 2
    # below the high watermark high does not grow
    zone.below_high = True
    pcp.high = 100
    nr_pcp_alloc(pcp, zone, 1)
    assert pcp.high == 100
    # pcp disabled (high_max 0 < batch): refill one page
    zone_set_high_batch(zone, 0, 1)
    assert nr_pcp_alloc(pcp, zone, 0) == 1 and pcp.high == 0
    zone_restore_high_batch(zone)
    assert (pcp.high_min, pcp.high_max, pcp.batch) == (16, 256, 4)


def test_autotune_free_raises_high_to_hold_a_free_batch():
    # tuning on, count >= high: high grows to free_count + batch (clamped), threshold unchanged
    zone = make_zone("6.7", batch=4, high_min=8, high_max=64, high=8)
    pcp = zone.per_cpu_pageset[0]
    pages = take_pages(zone, 8)
    out = []
    for pfn in pages:
        out.append(_free(zone, pcp, pfn))
    # frees 1..7: count < 8, free_count 1..7. 8th: free_count 8, count 8 >= high 8 →
    # need = 8 + 4 = 12 → pcp.high 12; returns high 8 → bulk-free clamp(8, 4, 8 - 4) = 4
    assert out == [0] * 7 + [4]
    assert pcp.high == 12 and pcp.count == 4 and pcp.free_count == 8


def test_autotune_free_high_needs_two_high_order_frees():
    zone = make_zone("6.13", batch=2, high_min=20, high_max=20, high=20)
    pcp = zone.per_cpu_pageset[0]
    o1 = take_pages(zone, 4, order=1)
    o0 = take_pages(zone, 1, order=0)
    # order-1 free: free_count 0 < batch → no free_high; sets PREV_FREE_HIGH_ORDER; free_count 2
    assert _free(zone, pcp, o1[0], 1) == 0 and pcp.count == 2
    # order-0 free clears the flag; free_count 3
    assert _free(zone, pcp, o0[0], 0) == 0 and pcp.count == 3
    # order-1: free_count 3 >= 2 but previous free was order 0 → no drain; free_count 5
    assert _free(zone, pcp, o1[1], 1) == 0 and pcp.count == 5
    # order-1 again: free_high → nr_pcp_high 0 → free min(count 7, 2 << 5) = 7: everything
    assert _free(zone, pcp, o1[2], 1) == 7 and pcp.count == 0
    assert check_zone(zone) == []


def test_free_high_6_0_drains_everything_but_5_17_does_not():
    # count 20 (high) after 20 order-0 frees: bulk 2 (free_factor 0 → 1), count 18.
    # Then an order-1 free: 6.0 free_high (ff > 0, order 1) → high 0 → free all 20 pages;
    # 5.17: count 20 >= 20 → free 2 << 1 = 4 → 16 left.
    for version, left in (("6.0", 0), ("5.17", 16)):
        zone = make_zone(version, batch=2, high=20)
        pcp = zone.per_cpu_pageset[0]
        pages = take_pages(zone, 20)
        (big,) = take_pages(zone, 1, order=1)
        for pfn in pages:
            _free(zone, pcp, pfn)
        assert pcp.count == 18 and pcp.free_factor == 1
        _free(zone, pcp, big, 1)
        assert pcp.count == left, version
        assert check_zone(zone) == []


def test_decay_pcp_high_arithmetic():
    zone = make_zone("6.7", batch=4, high_min=16, high_max=4096, high=800)
    pcp = zone.per_cpu_pageset[0]
    # count 0: high loses 1/8 (integer) each second: 800 → 700 → 613 → 537 → 470
    highs = []
    for _ in range(4):
        assert decay_pcp_high(zone, pcp) == 0
        highs.append(pcp.high)
    assert highs == [700, 613, 537, 470]
    # not more than batch << 5 = 128 below count: count 1990, high 2000 →
    # max(1990 - 128, 2000 - 250, 16) = 1862 → free 1990 - 1862 = 128
    pcp.high, pcp.lp.count = 2000, 1990
    assert decay_pcp_high(zone, pcp) == 128 and pcp.high == 1862
    # count 790, high 800 → max(662, 700, 16) = 700 → free 90
    pcp.high, pcp.lp.count = 800, 790
    assert decay_pcp_high(zone, pcp) == 90 and pcp.high == 700
    # at high_min nothing changes
    pcp.high, pcp.lp.count = 16, 10
    assert decay_pcp_high(zone, pcp) == 0 and pcp.high == 16
    pcp.lp.count = 0
    # ≤ 6.6 has no decay
    old = make_zone("6.6", batch=4, high=800)
    assert decay_pcp_high(old, old.per_cpu_pageset[0]) == 0 and old.per_cpu_pageset[0].high == 800


def test_decay_frees_real_pages():
    zone = make_zone("6.7", batch=4, high_min=16, high_max=2048, high=400)
    pcp = zone.per_cpu_pageset[0]
    p = zone.version.order_to_pindex(MIGRATE_MOVABLE, 0)
    assert rmqueue_bulk(zone, 0, 300, pcp.lp, p, MIGRATE_MOVABLE) == 300
    # 400 → 350 (max(172, 350, 16)) → 307 → 269: only the third decay frees 300 - 269 = 31
    assert [decay_pcp_high(zone, pcp) for _ in range(2)] == [0, 0]
    n = decay_pcp_high(zone, pcp)
    assert (n, pcp.high) == (31, 269)
    assert free_pcppages_bulk(zone, n, pcp, pcp.lp, 0) == 31
    assert pcp.count == 269 and zone.nr_free_pages == 4096 - 269
    # the coldest pages (tail: the highest pfns refilled last) went back
    assert list(pcp.lp.lists[p])[-1] == 268
    assert check_zone(zone) == []


# --- free_pcppages_bulk order ---------------------------------------------------------------------


def _fill_lists(zone, pcp):
    """list 0 (order 0 UNMOVABLE) = [0, 1, 2], list 1 (MOVABLE) = [3..7], list 2 = [8]
    (head first), using pages taken from buddy in pfn order."""
    pages = [rmqueue_buddy(zone, 0, MIGRATE_MOVABLE) for _ in range(9)]
    assert pages == list(range(9))
    for idx, pfns in ((0, pages[0:3]), (1, pages[3:8]), (2, pages[8:9])):
        pcp.lp.lists[idx].extend(pfns)
        pcp.lp.count += len(pfns)


def test_bulk_free_5_17_round_robin_with_quota():
    zone = make_zone("5.17")
    pcp = zone.per_cpu_pageset[0]
    _fill_lists(zone, pcp)
    # count 6, 15 lists. Search starts at list 1 (quota 1): take tail 7, quota 0.
    # list 2 (quota 1): take 8. Lists 3..14 empty, then list 0: quota 1 + 12 + 1 = 14:
    # take 2, 1, 0 (list empties, 11 quota left over). List 1 (quota 12): take 6 → count 0.
    assert free_pcppages_bulk(zone, 6, pcp, pcp.lp, 0) == 6
    assert [list(x) for x in pcp.lp.lists[:3]] == [[], [3, 4, 5], []]
    assert pcp.count == 3
    # freed in the order 7, 8, 2, 1, 0, 6: 8 merges with the free 9..15 (order 3), 0 with 1,
    # 6 with 7; 2 stays alone (3 is still on list 1)
    low = {pfn: v >> 3 for pfn, v in zone.buddy_info.items() if pfn < 16}
    assert low == {0: 1, 2: 0, 6: 1, 8: 3}
    assert check_zone(zone) == []


@pytest.mark.parametrize("version", ["6.0", "6.7", "6.13"])
def test_bulk_free_6_0_single_pass_from_pindex(version):
    zone = make_zone(version)
    pcp = zone.per_cpu_pageset[0]
    _fill_lists(zone, pcp)
    # start at list 1: empty it (7, 6, 5, 4, 3; count 6 → 1), then list 2: 8 → count 0
    assert free_pcppages_bulk(zone, 6, pcp, pcp.lp, 1) == 6
    assert [list(x) for x in pcp.lp.lists[:3]] == [[0, 1, 2], [], []]
    zone = make_zone(version)
    pcp = zone.per_cpu_pageset[0]
    _fill_lists(zone, pcp)
    # start at list 0: 2, 1, 0 (count 3), then list 1: 7, 6, 5 → count 0
    assert free_pcppages_bulk(zone, 6, pcp, pcp.lp, 0) == 6
    assert [list(x) for x in pcp.lp.lists[:3]] == [[], [3, 4], [8]]
    assert check_zone(zone) == []


def test_bulk_free_count_capped_and_high_order_undershoot():
    zone = make_zone("6.0")
    pcp = zone.per_cpu_pageset[0]
    p1 = zone.version.order_to_pindex(MIGRATE_RECLAIMABLE, 2)
    rmqueue_bulk(zone, 2, 3, pcp.lp, p1, MIGRATE_MOVABLE)
    assert pcp.count == 12
    # asking for 5 pages frees two order-2 blocks (8 pages: count may undershoot)
    assert free_pcppages_bulk(zone, 5, pcp, pcp.lp, 0) == 8 and pcp.count == 4
    # asking for more than count frees only what is there
    assert free_pcppages_bulk(zone, 100, pcp, pcp.lp, 0) == 4 and pcp.count == 0
    assert drain_lists(zone, pcp, pcp.lp) == 0
    assert zone.nr_free_pages == 4096 and check_zone(zone) == []


def test_prepare_halves_the_right_factor():
    zone = make_zone("6.0")
    pcp = zone.per_cpu_pageset[0]
    pcp.free_factor = 5
    rmqueue_pcplist_prepare(pcp)
    assert pcp.free_factor == 2
    zone = make_zone("6.7", high_min=20, high_max=100)
    pcp = zone.per_cpu_pageset[0]
    pcp.free_count = 9
    rmqueue_pcplist_prepare(pcp)
    assert pcp.free_count == 4 and pcp.free_factor == 0


def test_isolated_pages_bypass_pcp():
    from pcplab.mm.buddy import isolate_pageblock, unisolate_pageblock

    zone = make_zone("6.0", pages=1024)
    pcp = zone.per_cpu_pageset[0]
    (pfn,) = take_pages(zone, 1, mt=MIGRATE_UNMOVABLE)  # pfn 0 after stealing pageblock 0
    assert pfn == 0
    isolate_pageblock(zone, 0)
    take_back(zone, pfn, 0)
    assert free_unref_page(zone, pcp, pfn, 0) == 1  # straight to buddy, ISOLATE list
    assert pcp.count == 0
    assert zone.buddy_info[0] >> 3 == 9  # merged back into the isolated pageblock
    unisolate_pageblock(zone, 0, MIGRATE_MOVABLE)
    assert zone.buddy_info == {0: (10 << 3) | MIGRATE_MOVABLE}
    assert check_invariants_zone_only(zone) == []


def check_invariants_zone_only(zone):
    return check_zone(zone)


def test_check_invariants_detects_corruption():
    from pcplab.mm import Machine, tiny_topology

    m = Machine.build(tiny_topology(zone_pages=(1024,)), "6.0", batch=4, high=16)
    zone = m.zones[0]
    pcp = zone.per_cpu_pageset[0]
    assert check_invariants(m) == []
    pfn = rmqueue_pcplist(zone, pcp, 0, MIGRATE_MOVABLE)
    assert any("managed" in e for e in check_invariants(m))  # the page is nowhere
    # put it on a pcp list and in buddy: double-listed
    zone.allocated[pfn] = 0
    assert check_invariants(m) == []
    pcp.lp.lists[0].append(pfn)
    pcp.lp.count += 1
    errs = check_invariants(m)
    assert any("overlaps" in e for e in errs)
    pcp.lp.lists[0].pop()
    pcp.lp.count -= 2
    assert any("count" in e for e in check_invariants(m))
    pcp.lp.count += 1
    zone.nr_free_pages += 1
    assert any("nr_free_pages" in e for e in check_invariants(m))


def test_autotune_nr_pcp_high_under_reclaim_and_below_high():
    zone = make_zone("6.7", batch=4, high_min=16, high_max=400, high=100)
    pcp = zone.per_cpu_pageset[0]
    pcp.free_count = 10
    # reclaim: high shrinks by max(free_count, batch) = 10 → 90; threshold min(4 * 4, 90) = 16
    zone.reclaim_active = True
    assert nr_pcp_high(pcp, zone) == 16 and pcp.high == 90
    zone.reclaim_active = False
    # below the high watermark: high shrinks again (90 → 80); threshold max(count, high_min):
    # with count 0 that is 16, with count 50 it is 50 (every free then bulk-frees)
    zone.below_high = True
    assert nr_pcp_high(pcp, zone) == 16 and pcp.high == 80
    pcp.lp.count = 50
    assert nr_pcp_high(pcp, zone) == 50 and pcp.high == 70
    pcp.lp.count = 0
    zone.below_high = False
    # free_high: high drops by batch << 5 = 128, not below high_min; threshold 0
    pcp.high = 300
    assert nr_pcp_high(pcp, zone, free_high=True) == 0 and pcp.high == 172
    assert nr_pcp_high(pcp, zone, free_high=True) == 0 and pcp.high == 44
    assert nr_pcp_high(pcp, zone, free_high=True) == 0 and pcp.high == 16
    # tuning off (high_min == high_max): high is returned untouched
    zone_set_high_batch(zone, 64, 4)
    pcp.free_count = 1000
    assert nr_pcp_high(pcp, zone) == 64 and pcp.high == 64
    # nr_pcp_free (6.7+): clamp(free_count, batch, high - batch)
    assert nr_pcp_free(pcp, 64, 4) == 60
    pcp.free_count = 2
    assert nr_pcp_free(pcp, 64, 4) == 4
    pcp.lp.count = 7
    assert nr_pcp_free(pcp, 64, 4, free_high=True) == 7  # min(count, 4 << 5)


@pytest.mark.parametrize(
    "version, lists", [("5.17", (12, 13)), ("6.0", (12, 12)), ("6.6", (12, 12)), ("6.13", (12, 13))]
)
def test_thp_free_lands_on_the_versions_thp_list(version, lists):
    from pcplab.mm.buddy import set_pageblock_migratetype

    zone = make_zone(version, pages=2048, batch=63, high=4000)
    pcp = zone.per_cpu_pageset[0]
    a, b = take_pages(zone, 2, order=9)
    set_pageblock_migratetype(zone, a, MIGRATE_UNMOVABLE)
    _free(zone, pcp, a, 9)
    _free(zone, pcp, b, 9)
    where = {p: list(lst) for p, lst in enumerate(pcp.lp.lists) if lst}
    if lists[0] == lists[1]:
        assert where == {lists[0]: [b, a]}
    else:
        assert where == {lists[0]: [a], lists[1]: [b]}
    assert pcp.count == 1024
    # a RECLAIMABLE THP request: 5.17 has its own empty list → refill max(63 >> 9, 2) = 2
    # blocks from buddy (stolen from the free order-10 block at 1024) and take the first;
    # 6.0-6.12 share one list → the head, b; 6.13 uses the non-MOVABLE THP list → a
    pfn = rmqueue_pcplist(zone, pcp, 9, MIGRATE_RECLAIMABLE)
    expect = {"5.17": (1024, 0), "6.0": (b, 1024), "6.6": (b, 1024), "6.13": (a, 1024)}
    assert (pfn, zone.nr_free_pages) == expect[version]


def test_bulk_free_5_17_single_list_takes_all_it_needs():
    zone = make_zone("5.17")
    pcp = zone.per_cpu_pageset[0]
    p = 5  # order 1 RECLAIMABLE
    assert rmqueue_bulk(zone, 1, 10, pcp.lp, p, MIGRATE_MOVABLE) == 10
    # count 20 (pages), ask 14: lists 1..5 → quota 5 → 5 blocks (10 pages); then a full turn
    # over the empty lists back to 5: quota 15 == NR_PCP_LISTS → quota = count (4): 2 blocks
    assert free_pcppages_bulk(zone, 14, pcp, pcp.lp, 0) == 14
    assert list(pcp.lp.lists[p]) == [0, 2, 4]
    assert check_zone(zone) == []


def test_drain_zone_pages_frees_one_batch():
    zone = make_zone("6.0", batch=5, high=100)
    pcp = zone.per_cpu_pageset[0]
    rmqueue_bulk(zone, 0, 12, pcp.lp, 1, MIGRATE_MOVABLE)
    from pcplab.mm.ops import drain_pages_zone, drain_zone_pages

    assert drain_zone_pages(zone, pcp) == 5 and pcp.count == 7
    spare = pcp.add_spare_lists()
    pcp.lp, pcp.drain = spare, pcp.lp
    assert pcp.count == 0 and drain_pages_zone(zone, pcp) == 7
    assert zone.nr_free_pages == 4096 and check_zone(zone) == []


def test_zone_below_high_is_cleared_by_a_free_s_bulk_free_only():
    # 6.7+ (v6.8 free_unref_page_commit): the flag clears after the free path's own bulk free
    # once the zone is above its high watermark; a drain's bulk free leaves it set
    zone = make_zone("6.7", batch=4, high_min=8, high_max=8, high=8)
    pcp = zone.per_cpu_pageset[0]
    pages = take_pages(zone, 24)
    assert zone.nr_free_pages > zone.watermarks.high  # above high: a clear is due when checked
    for pfn in pages[:6]:
        _free(zone, pcp, pfn)
    zone.below_high = True
    drain_lists(zone, pcp, pcp.lp)
    assert zone.below_high  # a drain does not clear it
    freed = 0
    for pfn in pages[6:]:
        freed += _free(zone, pcp, pfn)
        if freed:
            break
    assert freed and not zone.below_high  # the free path's bulk free does
    assert check_zone(zone) == []
