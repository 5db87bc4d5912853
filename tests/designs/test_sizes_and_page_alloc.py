"""Size statements against the figures of kernel-pcp.md §3.2, and get_page_from_freelist."""

from __future__ import annotations

import pytest

from pcplab import designs
from pcplab.designs.base import struct_layout
from pcplab.designs.page_alloc import (
    ALLOC_NO_WATERMARKS,
    ALLOC_WMARK_LOW,
    get_page_from_freelist,
    node_zonelist,
    wmark_pages,
)
from pcplab.mm.constants import MIGRATE_MOVABLE

from .helpers import run, setup

# (bytes, cache lines) per design with THP, as stated in kernel-pcp.md §3.2 / §11.2
EXPECTED = {
    "workqueue": (256, 4),  # [SRC v5.17]
    "static-key": (256, 4),  # struct unchanged; the spinlock lives in the pagesets record
    "rcu": (528, 9),  # [INF] seed v1
    "rcu-v1": (528, 9),
    "spinlock-irqsave": (264, 5),  # lock after lists: a fifth line (Mel's suspicion, §11.2)
    "spinlock": (256, 4),  # Mel's pahole, 64-byte aligned
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_size_statements(name):
    d, m, k = setup(name)
    s = d.size_statement(m)
    assert (s["bytes"], s["cache_lines"]) == EXPECTED[name]
    assert s["design"] == name and s["source"]
    assert s["instances"] == m.nr_cpus * len(m.zones)
    assert s["machine_bytes"] >= s["bytes"] * s["instances"]


def test_v60_layout_matches_pahole():
    from pcplab.designs.spinlock import v60_fields

    layout, size = struct_layout(v60_fields(13), cacheline_aligned=True)
    offs = {f["field"]: f["offset"] for f in layout}
    assert offs == {"lock": 0, "count": 4, "high": 8, "batch": 12, "free_factor": 16,
                    "expire": 18, "lists[13]": 24}  # fmt: skip
    assert size == 256


def test_no_thp_shrinks_the_517_struct():
    from pcplab.mm.machine import Machine, tiny_topology

    m = Machine.build(tiny_topology(thp=False), "5.17")
    s = designs.get("workqueue").size_statement(m)
    assert s["bytes"] == 16 + 12 * 16 and s["cache_lines"] == 4


def test_get_page_from_freelist_respects_watermarks():
    d, m, k = setup("spinlock", zone_pages=(1024, 2048), zone_names=("DMA32", "Normal"))
    dma32, normal = m.zones
    zl = node_zonelist(m, 0)
    assert zl == [normal, dma32]
    got = run(k, 0, get_page_from_freelist, d, zl, 0, MIGRATE_MOVABLE, ALLOC_WMARK_LOW)
    assert got is not None and got[0] is normal and normal.allocated[got[1]] == 0
    # push Normal under its low watermark: the allocation falls back to DMA32
    normal.watermarks.low = normal.nr_free_pages + 10
    got = run(k, 0, get_page_from_freelist, d, zl, 0, MIGRATE_MOVABLE, ALLOC_WMARK_LOW)
    assert got[0] is dma32
    dma32.watermarks.low = dma32.nr_free_pages + 10
    assert run(k, 0, get_page_from_freelist, d, zl, 0, MIGRATE_MOVABLE, ALLOC_WMARK_LOW) is None
    got = run(k, 0, get_page_from_freelist, d, zl, 0, MIGRATE_MOVABLE, ALLOC_NO_WATERMARKS)
    assert got is not None and got[0] is normal
    assert wmark_pages(normal, ALLOC_WMARK_LOW) == normal.watermarks.low + normal.watermarks.boost


def test_draining_pcp_pages_lets_a_watermark_check_pass():
    """Pages parked on pcp lists do not count as free; draining them can lift a zone back over
    its watermark (why direct reclaim calls drain_all_pages(NULL), kernel-pcp.md §9.1)."""
    d, m, k = setup("workqueue", batch=16, high=256)
    z = m.zones[0]
    pfns = [run(k, cpu, d.alloc_pages, z, 0, MIGRATE_MOVABLE) for cpu in (0, 1) for _ in range(40)]
    for i, pfn in enumerate(pfns):
        run(k, i // 40, d.free_pages, z, pfn, 0)
    parked = sum(p.lp.count for p in z.per_cpu_pageset)
    assert parked > 0
    z.watermarks.low = z.nr_free_pages + parked // 2
    assert run(k, 0, get_page_from_freelist, d, [z], 0, MIGRATE_MOVABLE) is None
    run(k, 0, d.drain_all_pages, None)
    assert run(k, 0, get_page_from_freelist, d, [z], 0, MIGRATE_MOVABLE) is not None
