"""Kernel versions, list layout, Machine.build sizing and validation, state_key."""

from __future__ import annotations

import pytest

from pcplab.errors import PcplabError
from pcplab.mm import (
    MIGRATE_MOVABLE,
    MIGRATE_RECLAIMABLE,
    MIGRATE_UNMOVABLE,
    Machine,
    NodeSpec,
    Topology,
    ZoneSpec,
    check_invariants,
    parse_kernel,
    state_key,
    tiny_topology,
)
from pcplab.mm.ops import free_unref_page, hand_out, rmqueue, take_back

GIB = 1 << 18  # 4 KiB pages


def test_version_layouts():
    v517, v60, v66, v67, v613 = (parse_kernel(x) for x in ("5.17", "6.0", "6.6", "6.7", "6.13"))
    assert [v.nr_pcp_lists for v in (v517, v60, v66, v67, v613)] == [15, 13, 13, 13, 14]
    assert v517.configured(thp=False).nr_pcp_lists == 12
    # order 0..3: 3 * order + mt
    assert v60.order_to_pindex(MIGRATE_RECLAIMABLE, 3) == 11
    assert v517.order_to_pindex(MIGRATE_MOVABLE, 1) == 4
    # THP: 5.17 one list per type; 6.0 one shared; 6.13 MOVABLE apart from the others
    assert [v517.order_to_pindex(mt, 9) for mt in range(3)] == [12, 13, 14]
    assert [v60.order_to_pindex(mt, 9) for mt in range(3)] == [12, 12, 12]
    assert [v613.order_to_pindex(mt, 9) for mt in range(3)] == [12, 13, 12]
    assert v517.pindex_to_order(14) == 9 and v517.pindex_to_order(11) == 3
    assert v613.pindex_to_order(13) == 9
    with pytest.raises(ValueError):
        v60.order_to_pindex(MIGRATE_MOVABLE, 4)
    assert not v60.pcp_allowed_order(4) and v60.pcp_allowed_order(9)
    assert not v60.configured(thp=False).pcp_allowed_order(9)
    assert (v517.free_high, v60.free_high, v66.autotune, v67.autotune) == (False, True, False, True)
    assert v517.bulk_round_robin and not v60.bulk_round_robin
    assert parse_kernel("v6.8.1").autotune and parse_kernel("6.18-rc3").nr_pcp_lists == 14


@pytest.mark.parametrize("bad", ["4.19", "5.18", "banana", "", "6"])
def test_unknown_version_is_a_clear_error(bad):
    with pytest.raises(PcplabError, match="kernel version"):
        parse_kernel(bad)


def _one_gib_topology(cpus=4, mfk=4096, fraction=0):
    z = ZoneSpec("Normal", 0, GIB, GIB, GIB)
    return Topology(
        nodes=(NodeSpec(0, tuple(range(cpus)), (z,)),),
        min_free_kbytes=mfk,
        percpu_pagelist_high_fraction=fraction,
    )


def test_build_sizes_like_the_worked_example():
    # kernel-pcp.md §4.4, 1 GiB / 4 CPUs / min_free_kbytes 4096: pages_min 1024 = min;
    # tmp = max(1024 / 4, 262144 * 10 / 10000 = 262) = 262 → low 1286, high 1548;
    # batch 63; high = max(1286 // 4 = 321, 4 * 63 = 252) = 321
    m = Machine.build(_one_gib_topology(), "6.0")
    z = m.zones[0]
    wm = z.watermarks
    assert (wm.min, wm.low, wm.high) == (1024, 1286, 1548)
    p = z.per_cpu_pageset[3]
    assert (p.batch, p.high) == (63, 321)
    # 6.7+: high_min 321, high_max = max(262144 // 8 // 4 = 8192, 252) = 8192; high starts at min
    p = Machine.build(_one_gib_topology(), "6.7").zones[0].per_cpu_pageset[0]
    assert (p.batch, p.high, p.high_min, p.high_max) == (63, 321, 321, 8192)
    # sysctl fraction 8 pins both: 262144 // 8 // 4 = 8192
    p = Machine.build(_one_gib_topology(fraction=8), "6.7").zones[0].per_cpu_pageset[0]
    assert (p.high_min, p.high_max) == (8192, 8192)
    assert z.nr_free_pages == GIB and z.managed == GIB


def test_build_overrides_and_lookup():
    m = Machine.build(
        tiny_topology(nodes=2, zone_pages=(256, 512), zone_names=("DMA32", "Normal")),
        "6.13",
        batch=4,
        high=16,
        high_max=64,
    )
    assert [z.name for z in m.zones] == [
        "Node 0 DMA32",
        "Node 0 Normal",
        "Node 1 DMA32",
        "Node 1 Normal",
    ]
    assert m.nr_cpus == 4 and m.cpu_node(3) == 1
    p = m.zone_by_name("Normal", node=1).per_cpu_pageset[2]
    assert (p.batch, p.high, p.high_min, p.high_max) == (4, 16, 16, 64)
    assert m.zone_by_name("Node 0 DMA32") is m.zones[0]
    with pytest.raises(PcplabError, match="ambiguous"):
        m.zone_by_name("Normal")
    with pytest.raises(PcplabError, match="does not exist"):
        m.zone_by_name("HighMem")
    assert check_invariants(m) == []


@pytest.mark.parametrize(
    "nodes, message",
    [
        ((NodeSpec(0, (0, 2), (ZoneSpec("Normal", 0, 64, 64, 64),)),), "without gaps"),
        ((NodeSpec(0, (0,), (ZoneSpec("Normal", 0, 64, 64, 65),)),), "managed"),
        ((NodeSpec(0, (0,), (ZoneSpec("Weird", 0, 64, 64, 64),)),), "unknown zone"),
        (
            (
                NodeSpec(0, (0,), (ZoneSpec("Normal", 0, 64, 64, 64),)),
                NodeSpec(1, (1,), (ZoneSpec("Normal", 32, 64, 64, 64),)),
            ),
            "overlap",
        ),
        ((NodeSpec(0, (), (ZoneSpec("Normal", 0, 64, 64, 64),)),), "no CPUs"),
    ],
)
def test_bad_topology_is_a_clear_error(nodes, message):
    with pytest.raises(PcplabError, match=message):
        Machine.build(Topology(nodes=nodes, min_free_kbytes=128), "6.0")


def test_memory_only_node_splits_over_all_cpus():
    z0 = ZoneSpec("Normal", 0, GIB, GIB, GIB)
    z1 = ZoneSpec("Normal", GIB, GIB, GIB, GIB)
    topo = Topology(
        nodes=(NodeSpec(0, (0, 1, 2, 3), (z0,)), NodeSpec(1, (), (z1,))), min_free_kbytes=8192
    )
    m = Machine.build(topo, "6.0")
    # min_free 8192 KiB = 2048 pages over 2 GiB lowmem: min 1024 per zone → low 1286 (as above)
    # node 1 has no CPUs: split over the 4 online CPUs → 321; node 0: its 4 CPUs → 321 too
    assert [z.per_cpu_pageset[0].high for z in m.zones] == [321, 321]
    assert len(m.zones[1].per_cpu_pageset) == 4


def _run(machine, script):
    """Apply (cpu, zone index, action, arg) steps; return allocated pfns in order."""
    held = []
    for cpu, zi, action, arg in script:
        zone = machine.zones[zi]
        pcp = zone.per_cpu_pageset[cpu]
        if action == "alloc":
            order, mt = arg
            pfn = rmqueue(zone, pcp, order, mt)
            if pfn is not None:
                hand_out(zone, pfn, order)
                held.append((zi, pfn, order))
        elif held:
            zj, pfn, order = held.pop(arg % len(held))
            z = machine.zones[zj]
            take_back(z, pfn, order)
            free_unref_page(z, z.per_cpu_pageset[cpu], pfn, order)
    return held


SCRIPT = [
    (0, 0, "alloc", (0, MIGRATE_MOVABLE)),
    (1, 1, "alloc", (1, MIGRATE_UNMOVABLE)),
    (0, 1, "alloc", (9, MIGRATE_MOVABLE)),
    (1, 0, "free", 0),
    (0, 0, "alloc", (3, MIGRATE_RECLAIMABLE)),
    (1, 1, "free", 1),
]


@pytest.mark.parametrize("version", ["5.17", "6.0", "6.7", "6.13"])
def test_state_key_is_deterministic_and_sensitive(version):
    topo = tiny_topology(zone_pages=(1024, 2048), zone_names=("DMA32", "Normal"))
    a = Machine.build(topo, version, batch=4, high=16)
    b = Machine.build(topo, version, batch=4, high=16)
    assert state_key(a) == state_key(b) and hash(state_key(a)) == hash(state_key(b))
    _run(a, SCRIPT)
    assert state_key(a) != state_key(b)
    _run(b, SCRIPT)
    assert state_key(a) == state_key(b)
    assert check_invariants(a) == []
    # list order is part of the key: same sets, different pcp list order → different keys
    pcp = a.zones[0].per_cpu_pageset[0]
    lst = next(lst for lst in pcp.lp.lists if len(lst) > 1)
    lst.rotate(1)
    assert state_key(a) != state_key(b)
    lst.rotate(-1)
    # flags and factors are part of it
    a.zones[1].reclaim_active = True
    assert state_key(a) != state_key(b)
    a.zones[1].reclaim_active = False
    a.zones[0].per_cpu_pageset[1].free_factor += 1
    assert state_key(a) != state_key(b)
