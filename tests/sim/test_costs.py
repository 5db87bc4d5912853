"""Cost-model sanity: transfer ordering, units, SMT, contention grows with sharers."""

from __future__ import annotations

import pytest

from pcplab import designs
from pcplab.errors import PcplabError
from pcplab.machines.registry import get_profile
from pcplab.mm import MIGRATE_MOVABLE, Machine, tiny_topology
from pcplab.sim.costs import CostModel
from pcplab.sim.engine import Simulator


def test_transfer_cost_grows_with_distance():
    cm = CostModel.for_profile(get_profile("epyc-7742"))
    # cpu 0 and 128 are SMT siblings; 1 shares the CCX; 8 another CCX of node 0; 32 node 1;
    # 64 the other socket
    sib, llc, node, sock, remote = (cm.transfer_ns(0, x) for x in (128, 1, 8, 32, 64))
    assert cm.transfer_ns(0, 0) == 0
    assert sib < llc < node <= sock < remote


def test_unknown_work_kind_is_a_clear_error():
    cm = CostModel.for_profile(get_profile("xeon-e5-2640v3"))
    with pytest.raises(PcplabError, match="unknown work kind"):
        cm.work_ns("defrost")


def test_clock_scales_cpu_work_and_smt_slows_threads():
    fast = CostModel.for_profile(get_profile("epyc-7742"))
    assert fast.work_ns("pcp_alloc") == pytest.approx(125 / fast.clock_ghz)
    assert CostModel.smt_speed(1) == 1.0
    assert 0.5 < CostModel.smt_speed(2) < 1.0
    assert CostModel.smt_speed(4) < CostModel.smt_speed(2)


def test_grace_period_lengths():
    normal = [CostModel.gp_ns(False, u / 10) for u in range(1, 10)]
    exp = [CostModel.gp_ns(True, u / 10) for u in range(1, 10)]
    assert normal == sorted(normal) and 3_000_000 < normal[4] < 20_000_000
    assert max(exp) < min(normal)


def _alloc_system_ns(nthreads: int) -> float:
    """Mean system ns per allocation when ``nthreads`` CPUs of one node allocate from one zone."""
    design = designs.get("workqueue")
    m = Machine.build(tiny_topology(nodes=1, cpus_per_node=8, zone_pages=(1 << 16,)), "5.17")
    sim = Simulator(m, design=design, noise=0)
    zone = m.zones[0]
    per = 400

    def prog(ctx):
        for _ in range(per):
            yield from design.alloc_pages(ctx, zone, 0, MIGRATE_MOVABLE)

    tasks = [sim.spawn(c, prog) for c in range(nthreads)]
    sim.run()
    return sum(sim.stats(t).system_ns for t in tasks) / (per * nthreads)


def test_more_threads_on_one_node_more_zone_lock_wait():
    one, four, eight = (_alloc_system_ns(n) for n in (1, 4, 8))
    assert one < four < eight


def test_node_reclaim_distance_is_a_profile_fact():
    # RECLAIM_DISTANCE 30 by default; AMD Zen kernels use 32 (init_amd_zn)
    assert CostModel.for_profile(get_profile("xeon-e5-2640v3")).node_reclaim_distance == 30
    assert CostModel.for_profile(get_profile("power9")).node_reclaim_distance == 30
    assert CostModel.for_profile(get_profile("epyc-7601")).node_reclaim_distance == 32


def test_clear_rate_is_a_per_architecture_profile_fact():
    # the store path of the instruction clear_page uses (rep stosb / dcbz / dc zva)
    rate = {
        name: CostModel.for_profile(get_profile(name)).clear_bytes_per_cycle
        for name in ("epyc-7742", "epyc-7601", "power9", "rpi4", "xeon-e5-2640v3")
    }
    assert rate == {"epyc-7742": 32, "epyc-7601": 16, "power9": 32, "rpi4": 16,
                    "xeon-e5-2640v3": 32}
    p9 = CostModel.for_profile(get_profile("power9"))
    assert p9.core_clear_bw() == pytest.approx(32 * p9.clock_ghz)


def test_arch_ops_profile_overrides_and_the_l1_footprint_rule():
    cl = CostModel.for_profile(get_profile("cascadelake-2s"))
    assert cl.arch_ops.l2_hit == 14 and cl.arch_ops.l1d_bytes == 32 << 10  # profile facts
    p9 = CostModel.for_profile(get_profile("power9"))
    assert p9.arch_ops.lock_acquire > cl.arch_ops.lock_acquire  # larx/stcx + isync
    # a line touched once per fault stays in L1 behind a 4 KiB clear, not behind a 64 KiB one
    cl.footprint_bytes = 4096 + 2048
    p9.footprint_bytes = 65536 + 2048
    assert cl.line_cycles() == cl.arch_ops.l1_hit
    assert p9.line_cycles() == p9.arch_ops.l2_hit
    # the buddy path's zone lines are part of every buddy call and of each bulk refill
    assert cl.work_call_ns("buddy_alloc") > cl.work_call_ns("rmqueue_bulk") > 0
    assert cl.work_call_ns("pcp_alloc") == 0
    names = {row[0] for row in cl.describe()}
    assert {"lock_acquire_cycles", "BUDDY_CALL_CYCLES", "kernel_config"} <= names
