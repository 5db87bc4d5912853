"""Fallback zonelists ordered by NUMA distance, as a CONFIG_NUMA kernel builds them.

v5.17 mm/page_alloc.c, ``__build_all_zonelists`` -> ``build_zonelists`` (the CONFIG_NUMA one) ->
``find_next_best_node``: for every online node in turn, the node itself first, then repeatedly
the unused node with memory that minimises

    (node_distance(local, n) + (n < local) + PENALTY_FOR_NODE_WITH_CPUS if n has CPUs)
        * (MAX_NODE_LOAD * MAX_NUMNODES) + node_load[n]

(first such node on a tie), where ``node_load`` -- zeroed once before all nodes are built --
gets ``load`` (starting at the number of online nodes, one less per node placed) added to the
first node of each new distance group, so equidistant nodes are used round-robin across the
nodes' zonelists.  Each node contributes its zones highest first (``build_zonerefs_node``).

This is the one zonelist builder: ``pcplab.designs.page_alloc.node_zonelist``, pft and the
slow path (:mod:`pcplab.workloads.slowpath`) all order their fallback with it.
"""

from __future__ import annotations

from typing import Any

#: mm/page_alloc.c: nodes with CPUs are a little less preferred (headless nodes first)
PENALTY_FOR_NODE_WITH_CPUS = 1


def node_orders(distance: list[list[int]], nodes: list[int],
                with_cpus: set[int]) -> dict[int, list[int]]:
    """Node fallback order of every node in ``nodes`` (nodes with memory, ascending)."""
    nodes = sorted(nodes)
    big = (len(nodes) + 1) * 1024  # MAX_NODE_LOAD * MAX_NUMNODES: larger than any node_load
    node_load = dict.fromkeys(nodes, 0)
    out: dict[int, list[int]] = {}
    for local in nodes:
        used: set[int] = set()
        order: list[int] = []
        load = len(nodes)
        prev = local
        while True:
            if local not in used:
                best: int | None = local
            else:
                best, best_val = None, None
                for n in nodes:
                    if n in used:
                        continue
                    val = distance[local][n] + (n < local)
                    if n in with_cpus:
                        val += PENALTY_FOR_NODE_WITH_CPUS
                    val = val * big + node_load[n]
                    if best_val is None or val < best_val:
                        best, best_val = n, val
            if best is None:
                break
            used.add(best)
            if distance[local][best] != distance[local][prev]:
                node_load[best] += load
            order.append(best)
            prev = best
            load -= 1
        out[local] = order
    return out


def zonelists(machine: Any, distance: list[list[int]]) -> dict[int, list[Any]]:
    """Every node's fallback zonelist of ``machine``'s zones (highest zone first per node)."""
    nodes = sorted({z.node for z in machine.zones})
    cpus = {machine.cpu_node(c) for c in range(machine.nr_cpus)}
    out = {}
    for nid, order in node_orders(distance, nodes, cpus).items():
        zl = []
        for n in order:
            zl.extend(sorted((z for z in machine.zones if z.node == n), key=lambda z: -z.idx))
        out[nid] = zl
    return out


def machine_distance(machine: Any) -> list[list[int]]:
    """The SLIT the machine was built with (profile ``numa_distance``), else 10 local / 20
    remote (the kernel's default when firmware has no SLIT: LOCAL_DISTANCE/REMOTE_DISTANCE)."""
    topo = getattr(machine, "topology", None)
    extra = getattr(topo, "extra", None) or {}
    dist = extra.get("numa_distance")
    if dist:
        return [list(r) for r in dist]
    nodes = max(machine.cpu_node(c) for c in range(machine.nr_cpus)) + 1
    nodes = max(nodes, 1 + max((z.node for z in machine.zones), default=0))
    return [[10 if a == b else 20 for b in range(nodes)] for a in range(nodes)]
