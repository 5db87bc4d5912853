"""The 6.0 design's locking on the kernels after it: 6.2 leaves IRQs on under ``pcp->lock`` (the
bulk paths take ``zone->lock`` irqsave themselves), 6.10 drains in chunks of ``batch << 5``."""

from __future__ import annotations

import pytest

from pcplab import designs
from pcplab.designs import spinlock
from pcplab.kernel import ops
from pcplab.kernel.state import Kernel
from pcplab.mm import ops as mm
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.mm.invariants import check_invariants
from pcplab.mm.machine import Machine, tiny_topology


def _drain_ops(version: str, pages: int, batch: int) -> tuple[list[ops.Op], Machine]:
    d = designs.get("spinlock")
    m = Machine.build(tiny_topology(cpus_per_node=2, zone_pages=(1024,)), version)
    k = Kernel(2, machine=m)
    k.state = d.setup(m, k)
    zone = m.zones[0]
    pcp = zone.per_cpu_pageset[0]
    pcp.batch = batch
    got = mm.rmqueue_bulk(zone, 0, pages, pcp.lp, 0, MIGRATE_MOVABLE)
    assert got == pages
    t = k.spawn(1, spinlock.drain_pages_zone, (0, zone), prime=True)
    seen: list[ops.Op] = []
    while not t.done:
        if t.op is not None:
            seen.append(t.op)
        k.step(t)
    assert pcp.lp.count == 0 and not any(pcp.lp.lists)
    assert check_invariants(m) == []
    return seen, m


def _locks(seen: list[ops.Op], what: str) -> list[ops.Op]:
    return [op for op in seen if isinstance(op, ops.SpinLock) and what in op.lock.name]


@pytest.mark.parametrize(
    ("version", "holds", "pcp_irqsave", "zone_irqsave"),
    [("6.0", 1, True, False), ("6.2", 1, False, True), ("6.10", 3, False, True)],
)
def test_drain_pages_zone_locking_follows_the_kernel(version, holds, pcp_irqsave, zone_irqsave):
    # 150 pages with batch 2: one hold before 6.10; 64 + 64 + 22 pages from 6.10 on
    seen, _ = _drain_ops(version, 150, 2)
    pcp_holds = _locks(seen, "pcp->lock")
    zone_holds = _locks(seen, "zone->lock")
    assert len(pcp_holds) == holds
    assert len(zone_holds) == holds
    assert all(op.irqsave == pcp_irqsave for op in pcp_holds)
    assert all(op.irqsave == zone_irqsave for op in zone_holds)


def test_a_6_10_design_from_a_file_passes_the_checker(tmp_path):
    from pcplab.check.api import run_check

    f = tmp_path / "spinlock_610.py"
    f.write_text("from pcplab.designs.spinlock import *  # noqa: F403\n"
                 'NAME = "spinlock-6.10"\nKERNEL_VERSION = "6.10"\nBASE = "spinlock"\n')  # fmt: skip
    assert designs.get(str(f)).kernel_version == "6.10"
    r = run_check(str(f), "free-vs-global-drain")
    assert r["violation"] is None and r["exhaustive"]


def _free_list_ops(version: str, n: int) -> list[ops.Op]:
    from pcplab.designs import standard

    d = designs.get("spinlock")
    m = Machine.build(tiny_topology(cpus_per_node=2, zone_pages=(1024,)), version)
    k = Kernel(2, machine=m)
    k.state = d.setup(m, k)
    zone = m.zones[0]
    pages = [(zone, pfn) for pfn in (mm.rmqueue_buddy(zone, 0, MIGRATE_MOVABLE) for _ in range(n))]
    for _, pfn in pages:
        mm.hand_out(zone, pfn, 0)
    t = k.spawn(0, standard.free_unref_page_list, (pages, d.free_pages), prime=True)
    seen: list[ops.Op] = []
    while not t.done:
        if t.op is not None:
            seen.append(t.op)
        k.step(t)
    assert check_invariants(m) == [] and not zone.allocated
    return seen


@pytest.mark.parametrize(("version", "op", "irqsave"),
                         [("6.0", ops.SpinLock, True), ("6.2", ops.SpinTrylock, False)])  # fmt: skip
def test_free_unref_page_list_holds_pcp_lock_per_32_pages(version, op, irqsave):
    # 70 pages: holds of 32, 32 and 6; 6.0 takes pcp->lock blocking (pcp_spin_lock_irqsave),
    # 6.2 with the IRQs-on trylock
    seen = _free_list_ops(version, 70)
    holds = [o for o in seen if type(o) is op and "pcp->lock" in o.lock.name]
    assert len(holds) == 3 and all(o.irqsave == irqsave for o in holds)
    assert not [o for o in seen if type(o) in (ops.SpinLock, ops.SpinTrylock)
                and "pcp->lock" in o.lock.name and type(o) is not op]  # fmt: skip
