"""Fallback zonelists by NUMA distance (v5.17 CONFIG_NUMA build_zonelists), shared by pft and
the slow path."""

from __future__ import annotations

from pcplab import designs
from pcplab.machines.registry import get_profile
from pcplab.mm.zonelist import machine_distance, node_orders
from pcplab.sim import pft


def test_orders_go_by_distance_and_spread_equidistant_nodes():
    prof = get_profile("epyc-7601")
    d = [list(r) for r in prof.numa_distance]
    nodes = list(range(len(d)))
    orders = node_orders(d, nodes, set(nodes))
    for nid, order in orders.items():
        assert order[0] == nid and sorted(order) == nodes
        dist = [d[nid][n] for n in order]
        assert dist == sorted(dist)
    # node_load round-robin: the four nodes of a socket do not all fall back to the same one
    assert len({orders[n][1] for n in range(4)}) > 1
    assert len({orders[n][4] for n in range(4)}) > 1


def test_pft_and_the_slow_path_share_one_zonelist():
    from pcplab.workloads.slowpath import MemoryEnv

    s = pft.setup(get_profile("epyc-7601"), designs.get("workqueue"), mapping=4 << 20)
    assert machine_distance(s.machine) == s.distance
    env = MemoryEnv.__new__(MemoryEnv)
    env.machine = s.machine
    env._zonelists = {}

    class Ctx:
        cpu = 8  # node 1

    assert [z.name for z in env.zonelist(Ctx)] == [
        z.name for z in pft.zonelist(s.machine, s.distance, 1)
    ]
