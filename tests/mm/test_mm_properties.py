"""Property tests: random operation sequences keep every invariant after every step."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcplab.mm import (
    MIGRATE_MOVABLE,
    Machine,
    NodeSpec,
    Topology,
    ZoneSpec,
    check_invariants,
    ops,
    state_key,
    tiny_topology,
)
from pcplab.mm.buddy import isolate_pageblock, unisolate_pageblock
from pcplab.mm.invariants import zone_page_counts

VERSIONS = ["5.17", "6.0", "6.7", "6.13"]


def _machine(kind: int, version: str) -> Machine:
    if kind == 0:
        # 2 nodes x 2 CPUs, DMA32 (1024 pages) + Normal (2048 pages) per node; x86 orders
        topo = tiny_topology(
            nodes=2, cpus_per_node=2, zone_pages=(1024, 2048), zone_names=("DMA32", "Normal")
        )
        return Machine.build(topo, version, batch=4, high=24, high_max=96)
    if kind == 2:
        # one zone, larger batch: high-order refills of more than 2 blocks
        topo = tiny_topology(nodes=1, cpus_per_node=2, zone_pages=(4096,))
        return Machine.build(topo, version, batch=16, high=64, high_max=256)
    # tiny pageblocks (order 3, max order 5), zones not aligned and back to back, holes
    topo = Topology(
        nodes=(
            NodeSpec(
                0,
                (0, 1, 2),
                (ZoneSpec("DMA", 1, 300, 300, 290), ZoneSpec("Normal", 301, 203, 203, 203)),
            ),
        ),
        pageblock_order=3,
        max_order=5,
        min_free_kbytes=128,
    )
    return Machine.build(topo, version, batch=3, high=12, high_max=40)


def _apply(m: Machine, held: list[tuple[int, int, int]], step: tuple[int, int, int, int]) -> None:
    kind, a, b, c = step
    zones = m.zones
    zi = a % len(zones)
    zone = zones[zi]
    cpu = b % m.nr_cpus
    pcp = zone.per_cpu_pageset[cpu]
    version = zone.version
    thp = version.thp_order
    pcp_orders = (0, 1, 2, 3, thp)
    if kind == 0 or kind == 1:  # allocate through pcp (or buddy for the version's fallback)
        order = pcp_orders[c % 5]
        mt = (c // 5) % 3
        pfn = ops.rmqueue(zone, pcp, order, mt)
        if pfn is not None:
            ops.hand_out(zone, pfn, order)
            held.append((zi, pfn, order))
    elif kind == 2:  # buddy-only orders
        order = 4 + c % (zone.max_order - 3)
        pfn = ops.rmqueue_buddy(zone, order, (c // 16) % 3)
        if pfn is not None:
            ops.hand_out(zone, pfn, order)
            held.append((zi, pfn, order))
    elif kind in (3, 4, 5):  # free a held block on some CPU
        if held:
            zj, pfn, order = held.pop(c % len(held))
            z = zones[zj]
            ops.take_back(z, pfn, order)
            ops.free_unref_page(z, z.per_cpu_pageset[cpu], pfn, order)
    elif kind == 6:  # refill a list
        order = pcp_orders[c % 5]
        mt = (c // 5) % 3
        lists = pcp.lp
        p = version.order_to_pindex(mt, order)
        ops.rmqueue_bulk(zone, order, ops.nr_pcp_alloc(pcp, zone, order), lists, p, mt)
    elif kind == 7:  # bulk free from either list set
        lists = pcp.drain if (c & 1 and pcp.drain is not None) else pcp.lp
        ops.free_pcppages_bulk(zone, c % 40, pcp, lists, (c >> 1) % version.nr_pcp_lists)
    elif kind == 8:  # drains: one CPU, or a swap of list sets (seed design)
        if c % 3 == 0:
            ops.drain_pages_zone(zone, pcp)
        elif c % 3 == 1:
            spare = pcp.add_spare_lists()
            pcp.lp, pcp.drain = spare, pcp.lp
        else:
            ops.drain_zone_pages(zone, pcp)
    elif kind == 9:  # reclaim on/off, decay
        if c % 2:
            zone.reclaim_active = not zone.reclaim_active
        else:
            n = ops.decay_pcp_high(zone, pcp)
            if n:
                ops.free_pcppages_bulk(zone, n, pcp, pcp.lp, 0)
    elif kind == 10:  # zone_pcp_disable / enable
        if c % 2:
            ops.zone_set_high_batch(zone, 0, 1)
            for p in zone.per_cpu_pageset:
                ops.drain_pages_zone(zone, p)
        else:
            ops.zone_restore_high_batch(zone)
    else:  # isolate / unisolate a pageblock
        pbo = zone.pageblock_order
        first = zone.managed_start >> pbo
        last = (zone.managed_end - 1) >> pbo
        pb = (first + c % (last - first + 1)) << pbo
        if c & 64:
            isolate_pageblock(zone, pb)
        else:
            unisolate_pageblock(zone, pb, MIGRATE_MOVABLE)


STEP = st.tuples(
    st.integers(0, 11), st.integers(0, 63), st.integers(0, 63), st.integers(0, 1 << 10)
)


@pytest.mark.parametrize("version", VERSIONS)
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(kind=st.integers(0, 2), steps=st.lists(STEP, min_size=10, max_size=80))
def test_random_sequences_keep_invariants(version, kind, steps):
    _walk(kind, version, steps)


def _walk(kind: int, version: str, steps: list[tuple[int, int, int, int]]) -> Machine:
    m = _machine(kind, version)
    held: list[tuple[int, int, int]] = []
    for i, step in enumerate(steps):
        _apply(m, held, step)
        errs = check_invariants(m)
        assert errs == [], f"after step {i} {step}: {errs}"
        for zone in m.zones:
            free, pcp, alloc = zone_page_counts(zone)
            assert free + pcp + alloc == zone.managed
            assert free >= 0 and pcp >= 0
    # every held block is recorded exactly once
    assert sorted((zi, pfn) for zi, pfn, _ in held) == sorted(
        (zi, pfn) for zi, z in enumerate(m.zones) for pfn in z.allocated
    )
    return m


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", [0, 1, 2])
def test_long_seeded_walks_keep_invariants(version, kind):
    # long walks hypothesis rarely builds: 1200 steps, alternating 300 allocation-heavy steps
    # (fill memory, high orders included) with 300 mixed ones (frees, drains, isolation, ...)
    rng = random.Random(f"stress/{version}/{kind}")
    steps = []
    for i in range(1200):
        op = rng.choice((0, 1, 2, 6)) if (i // 300) % 2 == 0 else rng.randrange(12)
        steps.append((op, rng.randrange(64), rng.randrange(64), rng.randrange(1 << 10)))
    m = _walk(kind, version, steps)
    # the walk did real work: pages moved through pcp lists and buddy both ways
    assert any(z.allocated for z in m.zones)


@pytest.mark.parametrize("version", ["5.17", "6.7"])
@settings(max_examples=10, deadline=None, derandomize=True)
@given(steps=st.lists(STEP, min_size=1, max_size=40))
def test_replay_gives_the_same_state_key(version, steps):
    keys = []
    for _ in range(2):
        m = _machine(0, version)
        held: list[tuple[int, int, int]] = []
        for step in steps:
            _apply(m, held, step)
        keys.append(state_key(m))
    assert keys[0] == keys[1]


@pytest.mark.parametrize("version", VERSIONS)
def test_free_everything_restores_boot_state(version):
    m = _machine(0, version)
    boot = [{pfn: v >> 3 for pfn, v in z.buddy_info.items()} for z in m.zones]
    held: list[tuple[int, int, int]] = []
    for c in range(200):
        _apply(m, held, (c % 3, c, c * 7, c * 13))
    assert held
    for zi, pfn, order in held:
        z = m.zones[zi]
        ops.take_back(z, pfn, order)
        ops.free_unref_page(z, z.per_cpu_pageset[0], pfn, order)
    for z, blocks in zip(m.zones, boot, strict=True):
        for p in z.per_cpu_pageset:
            ops.drain_pages_zone(z, p)
        assert z.nr_free_pages == z.managed
        # everything merged back into the boot blocks (types and list order may differ)
        assert {pfn: v >> 3 for pfn, v in z.buddy_info.items()} == blocks
    assert check_invariants(m) == []
