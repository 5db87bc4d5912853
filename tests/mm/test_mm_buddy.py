"""Buddy allocator: split, merge, alignment, zone boundaries, isolation, fallback stealing."""

from __future__ import annotations

from helpers_mm import make_zone, take_pages

from pcplab.mm import (
    MIGRATE_CMA,
    MIGRATE_HIGHATOMIC,
    MIGRATE_ISOLATE,
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    Machine,
    NodeSpec,
    Topology,
    ZoneSpec,
    check_invariants,
)
from pcplab.mm.buddy import (
    buddy_free,
    free_all_managed,
    free_block_at,
    isolate_pageblock,
    pageblock_migratetype,
    rmqueue,
    rmqueue_smallest,
    set_pageblock_migratetype,
)
from pcplab.mm.invariants import check_zone
from pcplab.mm.ops import (
    free_one_page,
    hand_out,
    rmqueue_buddy,
    take_back,
    zone_watermark_ok,
)


def _blocks(zone):
    return {pfn: (v >> 3, v & 7) for pfn, v in zone.buddy_info.items()}


def test_boot_blocks_are_largest_aligned_and_lowest_first():
    # start pfn 1, 4095 pages: 1 (o0), 2 (o1), 4 (o2) ... 512 (o9), then 1024, 2048, 3072 (o10)
    zone = make_zone("6.0", pages=4095, start_pfn=1)
    expect = {1 << k: k for k in range(10)} | {1024: 10, 2048: 10, 3072: 10}
    assert {p: o for p, (o, _) in _blocks(zone).items()} == expect
    assert zone.nr_free_pages == 4095
    # the list head is the lowest pfn (boot frees to the tail in ascending order)
    assert rmqueue_smallest(zone, 10, MIGRATE_MOVABLE) == 1024
    assert any("managed" in e for e in check_zone(zone))  # the taken block is nowhere yet
    hand_out(zone, 1024, 10)
    assert check_zone(zone) == []


def test_split_keeps_low_half_and_frees_upper_halves():
    zone = make_zone("6.0", pages=1024)
    assert rmqueue_smallest(zone, 0, MIGRATE_MOVABLE) == 0
    # expand(): 512 (o9), 256 (o8), ..., 2 (o1), 1 (o0) go back to the MOVABLE lists
    assert _blocks(zone) == {1 << k: (k, MIGRATE_MOVABLE) for k in range(10)}
    assert zone.nr_free_pages == 1023
    # the next order-0 requests walk up in pfn order: 1, then split 2 → 2 (3 freed), 3, 4 ...
    assert [rmqueue_smallest(zone, 0, MIGRATE_MOVABLE) for _ in range(5)] == [1, 2, 3, 4, 5]
    # an order-2 request takes the smallest fitting block: 8 (o3) split → 8, and 12 (o2) freed
    assert rmqueue_smallest(zone, 2, MIGRATE_MOVABLE) == 8
    assert _blocks(zone)[12] == (2, MIGRATE_MOVABLE)


def test_merge_rebuilds_the_block_in_any_free_order():
    zone = make_zone("6.0", pages=1024)
    pages = [rmqueue_smallest(zone, 0, MIGRATE_MOVABLE) for _ in range(8)]
    assert pages == list(range(8))
    for pfn in (5, 0, 7, 2, 6, 1, 4):
        buddy_free(zone, pfn, 0, MIGRATE_MOVABLE)
    # 0+1 (o1), 4+5 → o1, 6+7 → o1 → 4..7 (o2); 2 is alone while 3 is out
    b = _blocks(zone)
    assert b[0] == (1, 1) and b[2] == (0, 1) and b[4] == (2, 1) and 3 not in b
    buddy_free(zone, 3, 0, MIGRATE_MOVABLE)
    assert _blocks(zone) == {0: (10, MIGRATE_MOVABLE)} and zone.nr_free_pages == 1024


def test_buddy_pfn_is_xor_and_misaligned_neighbours_do_not_merge():
    zone = make_zone("6.0", pages=1024)
    got = [rmqueue_smallest(zone, 1, MIGRATE_MOVABLE) for _ in range(3)]
    assert got == [0, 2, 4]
    buddy_free(zone, 2, 1, MIGRATE_MOVABLE)
    buddy_free(zone, 4, 1, MIGRATE_MOVABLE)
    # 2 and 4 are adjacent but not buddies (2 ^ 2 = 0, 4 ^ 2 = 6): 4+6 merge, 2 waits for 0
    b = _blocks(zone)
    assert b[2] == (1, 1) and b[4] == (2, 1)
    buddy_free(zone, 0, 1, MIGRATE_MOVABLE)
    assert _blocks(zone) == {0: (10, MIGRATE_MOVABLE)}


def test_no_merge_across_zone_boundary():
    # DMA32 [0, 512) and Normal [512, 1024) are order-9 buddies of each other (0 ^ 512)
    topo = Topology(
        nodes=(
            NodeSpec(
                0,
                (0,),
                (ZoneSpec("DMA32", 0, 512, 512, 512), ZoneSpec("Normal", 512, 512, 512, 512)),
            ),
        ),
        min_free_kbytes=128,
    )
    m = Machine.build(topo, "6.0", batch=1, high=0)
    a, b = m.zones
    assert _blocks(a) == {0: (9, MIGRATE_MOVABLE)} and _blocks(b) == {512: (9, MIGRATE_MOVABLE)}
    pa = rmqueue_buddy(a, 9, MIGRATE_MOVABLE)
    pb = rmqueue_buddy(b, 9, MIGRATE_MOVABLE)
    free_one_page(b, pb, 9, MIGRATE_MOVABLE)
    free_one_page(a, pa, 9, MIGRATE_MOVABLE)
    assert _blocks(a) == {0: (9, MIGRATE_MOVABLE)} and _blocks(b) == {512: (9, MIGRATE_MOVABLE)}
    assert check_invariants(m) == []


def test_isolate_blocks_merge_across_pageblocks_only():
    zone = make_zone("6.0", pages=1024)
    moved = isolate_pageblock(zone, 512)
    # the order-10 block was split into its pageblocks: 0 stays MOVABLE, 512 is ISOLATE
    assert moved == 512
    assert _blocks(zone) == {0: (9, MIGRATE_MOVABLE), 512: (9, MIGRATE_ISOLATE)}
    assert check_zone(zone) == []
    # inside the isolated pageblock pages still merge with each other
    p = rmqueue_smallest(zone, 0, MIGRATE_ISOLATE)
    assert p == 512
    free_one_page(zone, p, 0, MIGRATE_MOVABLE)  # re-reads the pageblock: ISOLATE
    assert _blocks(zone)[512] == (9, MIGRATE_ISOLATE)
    # CMA and HIGHATOMIC do not merge with other types at pageblock order either
    zone = make_zone("6.0", pages=1024)
    set_pageblock_migratetype(zone, 0, MIGRATE_CMA)
    a = rmqueue_smallest(zone, 10, MIGRATE_MOVABLE)
    buddy_free(zone, 0, 9, MIGRATE_CMA)
    buddy_free(zone, 512, 9, MIGRATE_MOVABLE)
    assert a == 0 and _blocks(zone) == {0: (9, MIGRATE_CMA), 512: (9, MIGRATE_MOVABLE)}
    assert check_zone(zone) == []
    # two ordinary types merge at pageblock order (the merged block takes the freed type)
    zone = make_zone("6.0", pages=1024)
    set_pageblock_migratetype(zone, 0, MIGRATE_UNMOVABLE)
    rmqueue_smallest(zone, 10, MIGRATE_MOVABLE)
    buddy_free(zone, 0, 9, MIGRATE_UNMOVABLE)
    buddy_free(zone, 512, 9, MIGRATE_MOVABLE)
    assert _blocks(zone) == {0: (10, MIGRATE_MOVABLE)}


def test_unmovable_steals_a_whole_max_order_block():
    zone = make_zone("6.0", pages=2048)  # two order-10 blocks, four MOVABLE pageblocks
    # no UNMOVABLE pages: take the largest fallback block (order 10 at the head: pfn 0); order ≥
    # pageblock order → both of its pageblocks become UNMOVABLE; then split it for the request
    assert rmqueue(zone, 0, MIGRATE_UNMOVABLE) == 0
    assert list(zone.pageblock_mt) == [MIGRATE_UNMOVABLE, MIGRATE_UNMOVABLE, 1, 1]
    b = _blocks(zone)
    assert b[1024] == (10, MIGRATE_MOVABLE) and b[512] == (9, MIGRATE_UNMOVABLE)


def test_unmovable_claims_a_mostly_used_movable_pageblock():
    zone = make_zone("6.0", pages=512)  # one MOVABLE pageblock
    take_pages(zone, 300)  # pfns 0..299 in use
    # free: 300 (o2), 304 (o4), 320 (o6), 384 (o7): 212 pages. The largest fallback block is
    # 384 (o7). UNMOVABLE may steal the block: move all 212 free pages; alike = 512 - 212 = 300
    # in-use pages count as compatible (old block MOVABLE) → 512 ≥ 256: claim the pageblock.
    # Then the smallest UNMOVABLE block is 300 (o2): split → 300, with 301 (o0), 302 (o1) free.
    assert rmqueue(zone, 0, MIGRATE_UNMOVABLE) == 300
    assert pageblock_migratetype(zone, 0) == MIGRATE_UNMOVABLE
    assert _blocks(zone) == {
        301: (0, MIGRATE_UNMOVABLE),
        302: (1, MIGRATE_UNMOVABLE),
        304: (4, MIGRATE_UNMOVABLE),
        320: (6, MIGRATE_UNMOVABLE),
        384: (7, MIGRATE_UNMOVABLE),
    }


def _unmovable_zone_with_free(blocks):
    """One UNMOVABLE pageblock whose only free blocks are ``blocks`` [(pfn, order)]."""
    zone = make_zone("6.0", pages=512, populate=False)
    set_pageblock_migratetype(zone, 0, MIGRATE_UNMOVABLE)
    free_all_managed(zone)
    whole = rmqueue_smallest(zone, 9, MIGRATE_UNMOVABLE)
    assert whole == 0
    free = set()
    for pfn, order in blocks:
        free.update(range(pfn, pfn + (1 << order)))
    # hand out everything else as order-0 pages, then free the wanted blocks
    for pfn in range(512):
        if pfn not in free:
            zone.allocated[pfn] = 0
    for pfn, order in blocks:
        buddy_free(zone, pfn, order, MIGRATE_UNMOVABLE)
    zone.nr_free_pages = sum(1 << o for _, o in blocks)
    assert check_zone(zone) == []
    return zone


def test_movable_steals_free_pages_but_does_not_claim_a_mostly_used_block():
    zone = _unmovable_zone_with_free([(64, 3), (128, 5)])
    # MOVABLE: largest fallback block 128 (o5); order 5 ≥ pageblock_order // 2 = 4 → may steal
    # the whole block: both free blocks (40 pages) move to MOVABLE lists; alike = 0 (movable
    # in-use pages are not counted) → 40 < 256: the pageblock stays UNMOVABLE. The retry takes
    # the smallest MOVABLE block, 64 (o3).
    assert rmqueue(zone, 0, MIGRATE_MOVABLE) == 64
    assert pageblock_migratetype(zone, 0) == MIGRATE_UNMOVABLE
    b = _blocks(zone)
    assert b[128] == (5, MIGRATE_MOVABLE) and b[65] == (0, MIGRATE_MOVABLE)
    hand_out(zone, 64, 0)
    assert check_zone(zone) == []


def test_movable_takes_smallest_fallback_when_it_may_not_steal():
    zone = _unmovable_zone_with_free([(64, 2), (128, 3)])
    # largest fallback is order 3 < 4: MOVABLE may not steal whole blocks → find_smallest:
    # order 2 at 64 moves alone to the MOVABLE list and is split; 128 (o3) stays UNMOVABLE
    assert rmqueue(zone, 0, MIGRATE_MOVABLE) == 64
    b = _blocks(zone)
    assert b[128] == (3, MIGRATE_UNMOVABLE)
    assert b[65] == (0, MIGRATE_MOVABLE) and b[66] == (1, MIGRATE_MOVABLE)


def test_fallback_order_and_highatomic_isolate_never_taken():
    zone = make_zone("6.0", pages=2048, populate=False)
    for pb, mt in enumerate((MIGRATE_HIGHATOMIC, MIGRATE_ISOLATE, MIGRATE_RECLAIMABLE, 1)):
        set_pageblock_migratetype(zone, pb * 512, mt)
    free_all_managed(zone)
    # blocks: 0 HIGHATOMIC, 512 ISOLATE, 1024 RECLAIMABLE, 1536 MOVABLE (types differ: no merge)
    # UNMOVABLE falls back to RECLAIMABLE first (both fallbacks have order-9 blocks)
    assert rmqueue(zone, 0, MIGRATE_UNMOVABLE) == 1024
    # the stolen block had pageblock order: its pageblock is UNMOVABLE now
    assert pageblock_migratetype(zone, 1024) == MIGRATE_UNMOVABLE
    # RECLAIMABLE: the largest fallback block wins over the preferred type: MOVABLE 1536 is
    # order 9, the UNMOVABLE pieces of 1024 are order ≤ 8
    assert rmqueue(zone, 0, MIGRATE_RECLAIMABLE) == 1536
    assert pageblock_migratetype(zone, 1536) == MIGRATE_RECLAIMABLE
    # MOVABLE: own lists empty; at order 8 both fallbacks have a block, RECLAIMABLE (1792) is
    # tried first; order 8 ≥ 4 → steal the whole pageblock: 511 free pages ≥ 256 → claimed
    assert rmqueue(zone, 0, MIGRATE_MOVABLE) == 1537
    assert pageblock_migratetype(zone, 1536) == MIGRATE_MOVABLE
    # HIGHATOMIC and ISOLATE pages are never handed out by __rmqueue
    got = []
    while (p := rmqueue(zone, 0, MIGRATE_UNMOVABLE)) is not None:
        got.append(p)
    assert len(got) == 1024 - 3 and all(1024 <= p < 2048 for p in got)
    assert free_block_at(zone, 0) == (9, MIGRATE_HIGHATOMIC)
    assert free_block_at(zone, 512) == (9, MIGRATE_ISOLATE)


def test_movable_uses_cma_only_when_its_own_lists_are_empty():
    zone = make_zone("6.0", pages=1024, populate=False)
    set_pageblock_migratetype(zone, 0, MIGRATE_CMA)
    free_all_managed(zone)
    assert rmqueue(zone, 9, MIGRATE_MOVABLE) == 512
    assert rmqueue(zone, 0, MIGRATE_MOVABLE) == 0  # CMA
    assert rmqueue(zone, 0, MIGRATE_UNMOVABLE) is None  # never CMA, nothing to steal


def test_zone_watermark_ok():
    zone = make_zone("6.0", pages=1024)
    # order 0: free (1024) must exceed the mark
    assert zone_watermark_ok(zone, 0, 1023) and not zone_watermark_ok(zone, 0, 1024)
    assert not zone_watermark_ok(zone, 0, 50, free_pages=50)
    # order 2: 1024 - 3 = 1021 > 1020 and a block of order ≥ 2 exists
    assert zone_watermark_ok(zone, 2, 1020) and not zone_watermark_ok(zone, 2, 1021)
    # only order-0 blocks free: order-1 fails whatever the count
    zone = make_zone("6.0", pages=8)
    pages = [rmqueue_smallest(zone, 0, MIGRATE_MOVABLE) for _ in range(8)]
    for p in pages[::2]:
        buddy_free(zone, p, 0, MIGRATE_MOVABLE)
    assert zone.nr_free_pages == 4
    assert zone_watermark_ok(zone, 0, 3) and not zone_watermark_ok(zone, 1, 0)


def test_hand_out_and_take_back_catch_misuse():
    import pytest

    from pcplab.mm import BadFree, DoubleAlloc

    zone = make_zone("6.0", pages=64)
    (p,) = take_pages(zone, 1)
    with pytest.raises(DoubleAlloc):
        hand_out(zone, p, 0)
    with pytest.raises(DoubleAlloc):
        hand_out(zone, 32, 0)  # still free in buddy
    with pytest.raises(BadFree):
        take_back(zone, p, 1)  # wrong order
    take_back(zone, p, 0)
    with pytest.raises(BadFree):
        take_back(zone, p, 0)  # double free


def test_freeing_a_block_over_mixed_pageblocks_splits_it():
    zone = make_zone("6.0", pages=1024)
    (p,) = take_pages(zone, 1, order=10)
    isolate_pageblock(zone, 512)  # isolated while allocated: nothing free to move
    take_back(zone, p, 10)
    free_one_page(zone, p, 10, MIGRATE_MOVABLE)
    # each pageblock goes to its own type's list and they do not merge
    assert _blocks(zone) == {0: (9, MIGRATE_MOVABLE), 512: (9, MIGRATE_ISOLATE)}
    assert check_zone(zone) == []


def test_adjacent_isolated_pageblocks_merge_and_split_again():
    from pcplab.mm.buddy import unisolate_pageblock

    zone = make_zone("6.0", pages=1024)
    isolate_pageblock(zone, 0)
    assert _blocks(zone) == {0: (9, MIGRATE_ISOLATE), 512: (9, MIGRATE_MOVABLE)}
    isolate_pageblock(zone, 512)  # both isolated: one isolated order-10 block
    assert _blocks(zone) == {0: (10, MIGRATE_ISOLATE)}
    unisolate_pageblock(zone, 0)
    assert _blocks(zone) == {0: (9, MIGRATE_MOVABLE), 512: (9, MIGRATE_ISOLATE)}
    unisolate_pageblock(zone, 512)
    assert _blocks(zone) == {0: (10, MIGRATE_MOVABLE)}
    assert zone.nr_isolate_pageblock == 0 and check_zone(zone) == []
