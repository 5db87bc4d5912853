"""5.17's ``free_pcppages_bulk`` takes the pages off the pcp lists before ``zone->lock`` and
frees them to buddy under it; 6.0 does both under the lock (kernel-pcp.md §7.1, §7.2)."""

from __future__ import annotations

import pytest

from pcplab import designs
from pcplab.designs import common
from pcplab.kernel import ops
from pcplab.kernel.state import Kernel
from pcplab.mm import ops as mm
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.mm.invariants import check_invariants
from pcplab.mm.machine import Machine, tiny_topology
from pcplab.sim.costs import FREE_BULK_PAGE_CYCLES, CostModel


def _bulk_free_ops(design: str, version: str, pages: int) -> list[tuple[ops.Op, bool]]:
    """The ops of one ``free_pcppages_bulk`` of ``pages`` pages, each with whether
    ``zone->lock`` was held when it ran."""
    d = designs.get(design)
    m = Machine.build(tiny_topology(cpus_per_node=2, zone_pages=(1024,)), version)
    k = Kernel(2, machine=m)
    k.state = d.setup(m, k)
    zone = m.zones[0]
    pcp = zone.per_cpu_pageset[0]
    assert mm.rmqueue_bulk(zone, 0, pages, pcp.lp, 0, MIGRATE_MOVABLE) == pages
    lock = k.state.zone_lock[zone.name]
    t = k.spawn(0, common.free_pcppages_bulk, (zone, pages, pcp, pcp.lp), prime=True)
    seen = []
    while not t.done:
        if t.op is not None:
            seen.append((t.op, id(lock) in k.owner))
        k.step(t)
    assert pcp.lp.count == 0 and check_invariants(m) == []
    return seen


def _work(seen: list[tuple[ops.Op, bool]]) -> list[tuple[str, int, bool]]:
    return [(op.kind, op.n, held) for op, held in seen if isinstance(op, ops.Work)]


def test_5_17_takes_the_pages_off_the_lists_before_zone_lock():
    seen = _bulk_free_ops("workqueue", "5.17", 40)
    assert _work(seen) == [("free_pcppages_detach", 40, False), ("free_pcppages_merge", 40, True)]
    locks = [op for op, _ in seen if isinstance(op, ops.SpinLock)]
    assert len(locks) == 1 and not locks[0].irqsave  # IRQs are already off (local lock)


@pytest.mark.parametrize("version", ["6.0", "6.8"])
def test_6_x_frees_in_one_pass_under_zone_lock(version):
    assert _work(_bulk_free_ops("spinlock", version, 40)) == [("free_pcppages_bulk", 40, True)]


def test_the_two_passes_cost_the_single_pass_and_shorten_the_lock_hold():
    m = Machine.build(tiny_topology(cpus_per_node=2, zone_pages=(1024,)), "5.17")
    cm = CostModel.generic(m, clock_ghz=1.0)  # 1 GHz: ns = cycles
    detach = cm.work_ns("free_pcppages_detach", 63)
    merge = cm.work_ns("free_pcppages_merge", 63)
    assert detach + merge == pytest.approx(cm.work_ns("free_pcppages_bulk", 63))
    assert merge == pytest.approx(63 * FREE_BULK_PAGE_CYCLES * 90 / 110)
    # the zone's lines are touched once per call, by the part under the lock
    assert cm.work_call_ns("free_pcppages_merge") == cm.work_call_ns("free_pcppages_bulk") > 0
    assert cm.work_call_ns("free_pcppages_detach") == 0
