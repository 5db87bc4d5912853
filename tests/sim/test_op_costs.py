"""Per-operation costs that see the design (issue 11): lock pair vs local lock, pageset lines
from the design's layout, the buddy path on its own, CONFIG_DEBUG_PREEMPT and PREEMPT_RT."""

from __future__ import annotations

import math

import pytest

from pcplab import designs
from pcplab.errors import PcplabError
from pcplab.machines.registry import get_profile
from pcplab.sim import pft
from pcplab.sim.api import run_pft
from pcplab.sim.costs import CostModel, KernelConfig

# --- a design that bypasses the pcp lists: every page straight from/to buddy ---------------

BYPASS_SOURCE = '''
"""test only: every order-0 page straight from/to buddy under zone->lock (no pcp lists)."""
from pcplab.designs import common, workqueue
from pcplab.designs.workqueue import State, __drain_all_pages, drain_pages_zone  # noqa: F401

NAME = "test-bypass"
KERNEL_VERSION = "5.17"
SOURCES = ("tests/sim/test_op_costs.py",)


def rmqueue_pcplist(ctx, zone, order, mt):
    return (yield from common.rmqueue_buddy(ctx, zone, order, mt))


def free_unref_page(ctx, zone, pfn, order, mt):
    yield from common.free_one_page(ctx, zone, pfn, order, mt)


def size_statement(machine):
    return dict(workqueue.size_statement(machine), design=NAME)
'''


@pytest.fixture(scope="module")
def bypass(tmp_path_factory):
    path = tmp_path_factory.mktemp("designs") / "test_bypass.py"
    path.write_text(BYPASS_SOURCE)
    return designs.get(str(path))


def _path_ns(costs: CostModel, batch: float, pages: int, enter_ns: float) -> tuple[float, float]:
    """(pcp path, buddy path) per order-0 allocation of a ``pages``-fault run, from the cost
    model's own arithmetic: the pcp path refills ``batch`` pages at a time (the last refill only
    partly used), the bypass takes zone->lock with IRQs saved for every page."""
    buddy = (costs.spin_lock_ns(True) + costs.spin_unlock_ns(True)
             + costs.work_ns("buddy_alloc") + costs.work_call_ns("buddy_alloc"))
    refill = (costs.spin_lock_ns(False) + costs.spin_unlock_ns(False)
              + costs.work_call_ns("rmqueue_bulk") + batch * costs.work_ns("rmqueue_bulk"))
    refills = math.ceil(pages / batch)
    pcp = (costs.local_lock_ns() + costs.local_unlock_ns() + costs.cycles_ns(2) + enter_ns
           + costs.work_ns("pcp_alloc") + refill * refills / pages)
    return pcp, buddy


@pytest.mark.parametrize("machine", ["xeon-e5-2640v3", "power9", "cascadelake-2s"])
def test_one_thread_pft_separates_bypass_from_pcp_by_the_buddy_path(machine, bypass):
    prof = get_profile(machine)
    mapping = 1024 * prof.page_size
    sv = pft.setup(prof, designs.get("workqueue"), mapping=mapping)
    sb = pft.setup(prof, bypass, mapping=mapping)
    batch = sv.probe.refill_pages  # pages per refill under the version's rules (POWER9: ~3)
    pages = sv.mapping_bytes // sv.page_size
    enter = sv.costs.pageset_prices(sv.costs.pageset_size).enter_ns
    pcp, buddy = _path_ns(sv.costs, batch, pages, enter)
    assert buddy > pcp
    for exact in (False, True):
        if exact:
            v = pft.run_exact(_fresh(sv), sv.design, sv.costs, [0], pages, sv.distance, noise=0.0)
            b = pft.run_exact(_fresh(sb), sb.design, sb.costs, [0], pages, sb.distance, noise=0.0)
        else:
            v, _ = pft.run_once(sv, 1, seed=1, run_jitter=0.0)
            b, _ = pft.run_once(sb, 1, seed=1, run_jitter=0.0)
        per_fault = (b.system - v.system) * 1e9 / v.pages
        # page_size 64 KiB (POWER9): the pageset and zone lines are L2 hits there
        assert per_fault == pytest.approx(buddy - pcp, rel=0.1), (exact, per_fault)
        assert b.system > v.system


def _fresh(s):
    from pcplab.mm import Machine

    return Machine.build(s.machine.topology, s.design.kernel_version)


def test_bypass_pays_the_zone_lock_under_contention(bypass):
    s_v = pft.setup(get_profile("xeon-e5-2640v3"), designs.get("workqueue"), mapping=64 << 20)
    s_b = pft.setup(get_profile("xeon-e5-2640v3"), bypass, mapping=64 << 20)
    v, _ = pft.run_once(s_v, 16, seed=1, run_jitter=0.0)
    b, _ = pft.run_once(s_b, 16, seed=1, run_jitter=0.0)
    one_v, _ = pft.run_once(s_v, 1, seed=1, run_jitter=0.0)
    one_b, _ = pft.run_once(s_b, 1, seed=1, run_jitter=0.0)
    # the relative cost of the bypass grows with the threads sharing zone->lock
    assert b.system / v.system > one_b.system / one_v.system


# --- layouts, locks, kernel configuration -----------------------------------------------------


def _pageset(design: str, machine: str = "xeon-e5-2640v3"):
    s = pft.setup(get_profile(machine), designs.get(design), mapping=4 << 20)
    assert s.costs.pageset_size is not None  # the THP kernel's layout, not the base-page run's
    return s.costs.pageset_prices(s.costs.pageset_size)


def test_pageset_lines_come_from_each_designs_layout():
    van = _pageset("workqueue")
    assert van.lines == (0,) and van.lock_line is None and van.enter_ns == 0
    two = _pageset("spinlock-irqsave")  # lock after lists[]: offset 256, a fifth line
    assert two.lines == (0,) and two.lock_line == 4 and two.lock_line_ns > 0
    six = _pageset("spinlock")  # 6.0: lock first, same line as count
    assert six.lock_line is None
    seed = _pageset("rcu")  # count + lists in the embedded pcplists: list head crosses a line
    assert seed.lines == (0, 1) and seed.enter_ns > 0


def test_spin_lock_pair_costs_more_than_local_lock_by_the_lock_word():
    cm = CostModel.for_profile(get_profile("cascadelake-2s"))
    pair = cm.spin_lock_ns(True) + cm.spin_unlock_ns(True)
    local = cm.local_lock_ns() + cm.local_unlock_ns()
    a = cm.arch_ops
    assert pair - local == pytest.approx((a.lock_acquire + a.lock_release) / cm.clock_ghz)
    rt = cm.with_config(KernelConfig(preempt_rt=True))
    assert rt.local_lock_ns() > cm.local_lock_ns()  # RT: a lock word, not just cli


def test_debug_preempt_hits_only_this_cpu_ptr_in_preemptible_code():
    prof = get_profile("cascadelake-2s")
    dbg = KernelConfig(debug_preempt=True)
    shared = {d: pft.setup(prof, designs.get(d), mapping=4 << 20, kernel_config=dbg).probe
              for d in ("workqueue", "spinlock-irqsave", "spinlock", "rcu")}
    # [2] computes this_cpu_ptr() before spin_lock_irqsave; the others pin first or lock IRQs
    assert shared["spinlock-irqsave"].shared_per_alloc == pytest.approx(1.0)
    assert all(shared[d].shared_per_alloc == 0 for d in ("workqueue", "spinlock", "rcu"))
    off = pft.setup(prof, designs.get("spinlock-irqsave"), mapping=4 << 20).probe
    assert off.shared_per_alloc == 0
    assert shared["spinlock-irqsave"].fast_ns > off.fast_ns


def test_kernel_config_is_parsed_and_recorded():
    assert KernelConfig.parse("default") == KernelConfig()
    assert KernelConfig.parse("preempt-rt,debug-preempt").label == "debug-preempt,preempt-rt"
    with pytest.raises(PcplabError, match="unknown kernel config"):
        KernelConfig.parse("debug-lockdep")
    r = run_pft("xeon-e5-2640v3", "workqueue", clients=[1], iterations=1,
                mapping_bytes=4 << 20, kernel_config="debug-preempt")
    assert r["kernel_config"] == {"debug_preempt": True, "preempt_rt": False,
                                  "label": "debug-preempt"}
