"""A plain description of a machine's memory and CPUs, from which the allocator model is built.

Machine profiles (`pcplab.machines`) and `/proc/zoneinfo` imports produce a :class:`Topology`;
`pcplab.mm.machine.Machine.build(topology, version)` turns it into zones, buddy free areas and
per-CPU page lists sized by the chosen kernel version's rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ZoneSpec:
    """One zone of one node, in base pages (``page_size`` of the topology)."""

    name: str  # "DMA", "DMA32", "Normal", "Movable", ...
    start_pfn: int
    spanned: int
    present: int
    managed: int


@dataclass(frozen=True)
class NodeSpec:
    node_id: int
    cpus: tuple[int, ...]  # logical CPU ids on this node (may be empty: memory-only node)
    zones: tuple[ZoneSpec, ...]


@dataclass(frozen=True)
class Topology:
    """What the allocator model needs to know about a machine.

    ``min_free_kbytes``: None computes it the kernel's way (``calculate_min_free_kbytes`` and, with
    ``thp``, khugepaged's raise); an int pins it (as a sysctl write would).
    ``percpu_pagelist_high_fraction``: the sysctl (0 = default sizing from the low watermark).
    """

    nodes: tuple[NodeSpec, ...]
    page_size: int = 4096
    pageblock_order: int = 9
    max_order: int = 10
    thp: bool = True
    min_free_kbytes: int | None = None
    watermark_scale_factor: int = 10
    percpu_pagelist_high_fraction: int = 0
    name: str = "machine"
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    @property
    def nr_cpus(self) -> int:
        return sum(len(n.cpus) for n in self.nodes)

    def cpu_node(self) -> dict[int, int]:
        return {cpu: n.node_id for n in self.nodes for cpu in n.cpus}
