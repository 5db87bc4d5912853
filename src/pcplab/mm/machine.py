"""A whole machine's allocator state, built from a :class:`~pcplab.mm.topology.Topology`.

``Machine.build(topology, version)``:

1. validates the topology (CPU ids ``0..n-1`` each on one node, known zone names, ``managed ≤
   present ≤ spanned``, no overlapping zones) — bad input raises ``PcplabError``;
2. computes ``min_free_kbytes`` (the sqrt rule, raised by khugepaged with THP) unless the topology
   pins it, and every zone's watermarks, with :mod:`pcplab.mm.tunables`;
3. sizes every zone's pcp (``batch``, ``high`` or ``high_min``/``high_max``) with
   ``tunables.pcp_sizing`` for the version (``split`` = CPUs of the zone's node; memory-only
   nodes split over all CPUs);
4. frees all managed pages into buddy in the largest aligned blocks (``buddy.free_all_managed``).

Tiny machines for tests and the checker: :func:`tiny_topology`, and ``batch``/``high`` overrides.
"""

from __future__ import annotations

from pcplab.errors import PcplabError
from pcplab.mm import tunables
from pcplab.mm.buddy import free_all_managed
from pcplab.mm.constants import PCPF_FREE_HIGH_BATCH, ZONE_NAMES
from pcplab.mm.state import Watermarks, Zone
from pcplab.mm.topology import NodeSpec, Topology, ZoneSpec
from pcplab.mm.version import KernelVersion, parse_kernel


class Machine:
    """Zones (populated, in (node, zone index) order) and the CPUs that own pcp lists."""

    __slots__ = ("zones", "nr_cpus", "version", "topology", "min_free_kbytes", "name", "_cpu_node")

    def __init__(
        self,
        zones: list[Zone],
        nr_cpus: int,
        version: KernelVersion,
        cpu_node: list[int],
        topology: Topology | None = None,
        min_free_kbytes: int = 0,
        name: str = "machine",
    ) -> None:
        self.zones = zones
        self.nr_cpus = nr_cpus
        self.version = version
        self.topology = topology
        self.min_free_kbytes = min_free_kbytes
        self.name = name
        self._cpu_node = cpu_node

    def cpu_node(self, cpu: int) -> int:
        return self._cpu_node[cpu]

    def populated_zones(self) -> list[Zone]:
        return self.zones

    def zones_of_node(self, node: int) -> list[Zone]:
        return [z for z in self.zones if z.node == node]

    def zone_by_name(self, name: str, node: int | None = None) -> Zone:
        """``"Node 0 Normal"``, or ``("Normal", node=0)``; a bare name needs a unique match."""
        for z in self.zones:
            if z.name == name:
                return z
        matches = [
            z
            for z in self.zones
            if z.name.split(" ", 2)[-1] == name and (node is None or z.node == node)
        ]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(z.name for z in self.zones)
        what = "is ambiguous" if matches else "does not exist"
        raise PcplabError(f"zone {name!r} {what}; use one of: {known}")

    @property
    def managed_pages(self) -> int:
        return sum(z.managed for z in self.zones)

    def __repr__(self) -> str:
        return (
            f"Machine({self.name!r}, {self.nr_cpus} CPUs, {len(self.zones)} zones, "
            f"kernel {self.version.name})"
        )

    @classmethod
    def build(
        cls,
        topology: Topology,
        version: str | KernelVersion,
        *,
        batch: int | None = None,
        high: int | None = None,
        high_max: int | None = None,
        populate: bool = True,
    ) -> Machine:
        """Build the allocator state.  ``batch``/``high``/``high_max`` override the kernel's
        sizing on every zone (for tiny test machines); ``high_max`` only matters for 6.7+."""
        kv = parse_kernel(version).configured(thp=topology.thp, thp_order=topology.pageblock_order)
        cpu_node = _validate(topology)
        nr_cpus = len(cpu_node)
        specs = [(node, zs) for node in topology.nodes for zs in node.zones]
        sizes = [tunables.ZoneSize(zs.name, zs.present, zs.managed) for _, zs in specs]
        if topology.min_free_kbytes is not None:
            mfk = topology.min_free_kbytes
        else:
            mfk = tunables.machine_min_free_kbytes(
                sizes,
                topology.page_size,
                topology.pageblock_order,
                topology.thp,
                topology.watermark_scale_factor,
            )
        wmarks = tunables.setup_per_zone_wmarks(
            sizes, mfk, topology.page_size, topology.watermark_scale_factor
        )
        slice_bytes = topology.extra.get("per_cpu_data_slice_bytes")
        zones: list[Zone] = []
        for (node, zs), wm in zip(specs, wmarks, strict=True):
            if zs.managed <= 0:
                continue
            sizing = tunables.pcp_sizing(
                kv,
                zs.managed,
                wm.low,
                len(node.cpus),
                nr_cpus,
                topology.percpu_pagelist_high_fraction,
                page_size=topology.page_size,
            )
            b = sizing.batch if batch is None else batch
            if kv.autotune:
                hmin = sizing.high_min if high is None else high
                hmax = sizing.high_max if high_max is None else high_max
                if high is not None and high_max is None:
                    hmax = high
                if hmin is None or hmax is None:
                    raise PcplabError("pcp sizing gave no high_min/high_max for a 6.7+ kernel")
                h = hmin
            else:
                h = sizing.high if high is None else high
                hmin = hmax = h
            zone = Zone(
                node.node_id,
                zs.name,
                zs.start_pfn,
                zs.spanned,
                zs.present,
                zs.managed,
                kv,
                nr_cpus,
                watermarks=Watermarks(wm.min, wm.low, wm.high, wm.promo),
                batch=b,
                high=h,
                high_min=hmin,
                high_max=hmax,
                pageblock_order=topology.pageblock_order,
                max_order=topology.max_order,
            )
            if populate:
                free_all_managed(zone)
            if kv.autotune and isinstance(slice_bytes, int):
                # setup_pcp_cacheinfo (6.7+): keep a batch for consecutive high-order frees when
                # this CPU's slice of the data cache exceeds 3 batches.  ASSUMPTION: off unless
                # the topology gives the slice size.
                if slice_bytes // topology.page_size > 3 * b:
                    for pcp in zone.per_cpu_pageset:
                        pcp.flags |= PCPF_FREE_HIGH_BATCH
            zones.append(zone)
        zones.sort(key=lambda z: (z.node, z.idx))
        return cls(zones, nr_cpus, kv, cpu_node, topology, mfk, topology.name)


def _validate(topology: Topology) -> list[int]:
    """Check the topology; return ``cpu -> node`` for CPUs ``0..n-1``."""
    if not topology.nodes:
        raise PcplabError("topology has no nodes; describe at least one node with memory")
    if topology.page_size < 1024 or topology.page_size & (topology.page_size - 1):
        raise PcplabError(f"page size {topology.page_size} is not a power of two; use 4096")
    if not 0 <= topology.pageblock_order <= topology.max_order <= 20:
        raise PcplabError(
            f"pageblock_order {topology.pageblock_order} / max_order {topology.max_order} "
            "invalid; need 0 <= pageblock_order <= max_order <= 20 (x86-64: 9 and 10)"
        )
    owner: dict[int, int] = {}
    seen_nodes: set[int] = set()
    ranges: list[tuple[int, int, str]] = []
    for node in topology.nodes:
        _check_node(node, seen_nodes, owner)
        for zs in node.zones:
            _check_zone(node.node_id, zs)
            if zs.spanned:
                ranges.append(
                    (zs.start_pfn, zs.start_pfn + zs.spanned, f"node {node.node_id} {zs.name}")
                )
    n = len(owner)
    if n == 0:
        raise PcplabError("topology has no CPUs; give at least one node a CPU")
    if sorted(owner) != list(range(n)):
        raise PcplabError(f"CPU ids must be 0..{n - 1} without gaps; got {sorted(owner)}")
    ranges.sort()
    for (s1, e1, a), (s2, _e2, b) in zip(ranges, ranges[1:], strict=False):
        if s2 < e1:
            raise PcplabError(f"zones {a} and {b} overlap (pfn {s2} < {e1}); fix their start_pfn")
        del s1
    return [owner[c] for c in range(n)]


def _check_node(node: NodeSpec, seen: set[int], owner: dict[int, int]) -> None:
    if node.node_id in seen:
        raise PcplabError(f"node {node.node_id} appears twice in the topology; give unique ids")
    seen.add(node.node_id)
    names = [zs.name for zs in node.zones]
    if len(set(names)) != len(names):
        raise PcplabError(f"node {node.node_id} lists a zone twice ({names}); list each once")
    for cpu in node.cpus:
        if cpu < 0 or cpu in owner:
            raise PcplabError(f"CPU {cpu} is negative or on two nodes; give each CPU one node")
        owner[cpu] = node.node_id


def _check_zone(node_id: int, zs: ZoneSpec) -> None:
    if zs.name not in ZONE_NAMES:
        raise PcplabError(
            f"node {node_id}: unknown zone {zs.name!r}; use one of {', '.join(ZONE_NAMES)}"
        )
    if zs.start_pfn < 0 or not 0 <= zs.managed <= zs.present <= zs.spanned:
        raise PcplabError(
            f"node {node_id} zone {zs.name}: need start_pfn >= 0 and 0 <= managed "
            f"({zs.managed}) <= present ({zs.present}) <= spanned ({zs.spanned})"
        )


def tiny_topology(
    *,
    nodes: int = 1,
    cpus_per_node: int = 2,
    zone_pages: tuple[int, ...] = (512,),
    zone_names: tuple[str, ...] = ("Normal",),
    pageblock_order: int = 9,
    max_order: int = 10,
    thp: bool = True,
    min_free_kbytes: int | None = 128,
    name: str = "tiny",
) -> Topology:
    """A small machine for tests and the checker: ``nodes`` nodes, each with the zones
    ``zone_names`` of ``zone_pages`` pages (fully present and managed), laid out back to back
    from pfn 0, each zone starting at a ``1 << max_order`` aligned pfn."""
    if len(zone_pages) != len(zone_names):
        raise PcplabError("tiny_topology: zone_pages and zone_names need the same length")
    align = 1 << max_order
    pfn = 0
    node_specs = []
    cpu = 0
    for n in range(nodes):
        zspecs = []
        for zname, pages in zip(zone_names, zone_pages, strict=True):
            zspecs.append(ZoneSpec(zname, pfn, pages, pages, pages))
            pfn += -(-pages // align) * align
        cpus = tuple(range(cpu, cpu + cpus_per_node))
        cpu += cpus_per_node
        node_specs.append(NodeSpec(n, cpus, tuple(zspecs)))
    return Topology(
        nodes=tuple(node_specs),
        pageblock_order=pageblock_order,
        max_order=max_order,
        thp=thp,
        min_free_kbytes=min_free_kbytes,
        name=name,
    )
