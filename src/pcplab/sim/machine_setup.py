"""Build the allocator model and the simulator for the drain workloads (oom, noise, storms).

The seed's machines have gigabytes of memory; the drain workloads only need the *shape* of a
machine (its CPUs, nodes, zones, costs), not its size, and an OOM run must fault every page once.
:func:`small_topology` therefore keeps a profile's CPUs, nodes and zones and scales the zones down
to ``memory_mib`` in total, in proportion to their real sizes; watermarks and pcp ``batch``/
``high`` are then computed for the smaller zones by the kernel's own rules (``Machine.build``).
ASSUMPTION: the behaviours studied (drains, pcp refills, noise on isolated CPUs) depend on the
pcp sizes and zone structure, which the kernel's formulas recompute, not on the absolute size.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pcplab.errors import PcplabError
from pcplab.machines.registry import get_profile
from pcplab.mm import Machine
from pcplab.mm.topology import NodeSpec, Topology, ZoneSpec
from pcplab.sim.costs import CostModel
from pcplab.sim.engine import Simulator


def small_topology(profile: Any, memory_mib: int) -> Topology:
    """``profile``'s topology with its zones scaled to ``memory_mib`` MiB in total (each zone at
    least one max-order block), laid out back to back from pfn 0 without holes."""
    topo = profile.topology()
    total = sum(z.managed for n in topo.nodes for z in n.zones)
    target = memory_mib * 2**20 // topo.page_size
    if memory_mib < 4:
        raise PcplabError(f"memory of {memory_mib} MiB is too small; use at least 4 MiB")
    if total <= 0:
        raise PcplabError(f"machine {profile.name} has no managed memory")
    if target >= total:
        return topo
    factor = target / total
    align = 1 << topo.max_order
    pfn = 0
    nodes = []
    for n in topo.nodes:
        zones = []
        for z in n.zones:
            if z.managed <= 0:
                continue
            pages = max(align, int(z.managed * factor))
            zones.append(ZoneSpec(z.name, pfn, pages, pages, pages))
            pfn += -(-pages // align) * align
        nodes.append(NodeSpec(n.node_id, n.cpus, tuple(zones)))
    return replace(topo, nodes=tuple(nodes), min_free_kbytes=None)


def build_simulator(
    machine_name: str,
    design: Any,
    *,
    seed: int,
    memory_mib: int | None,
    nohz_full: tuple[int, ...] = (),
    rt_runtime_us: int = 950_000,
    rt_period_us: int = 1_000_000,
) -> tuple[Any, Any, Any]:
    """(profile, machine, simulator) for a run of ``design`` on profile ``machine_name``;
    ``memory_mib`` None keeps the machine's real memory.  ``rt_runtime_us``/``rt_period_us``:
    the RT throttling sysctls (``sched_rt_runtime_us = -1``: none)."""
    profile = get_profile(machine_name)
    topo = profile.topology() if memory_mib is None else small_topology(profile, memory_mib)
    machine = Machine.build(topo, design.kernel_version)
    bad = [c for c in nohz_full if not 0 <= c < machine.nr_cpus]
    if bad:
        raise PcplabError(
            f"CPUs {bad} do not exist on {profile.name}; it has CPUs 0-{machine.nr_cpus - 1}"
        )
    sim = Simulator(
        machine,
        costs=CostModel.for_profile(profile),
        design=design,
        seed=seed,
        nohz_full=nohz_full,
        rt_runtime_ns=None if rt_runtime_us == -1 else rt_runtime_us * 1000,
        rt_period_ns=rt_period_us * 1000,
    )
    return profile, machine, sim
