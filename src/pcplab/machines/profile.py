"""Machine profiles: CPUs, NUMA nodes, memory layout and hardware cost facts, loaded from TOML.

A profile is a plain description; :meth:`Profile.topology` lays its memory out into zones the way
the kernel does (``free_area_init`` with per-zone upper pfn limits) and estimates each zone's
managed pages. Every figure carries a ``source`` string (a spec sheet, a measurement, or
``ASSUMPTION: ...`` with the reasoning); the loader refuses a profile whose figures lack one.

TOML layout (see ``profiles/*.toml``)::

    name, description, arch, sockets, cores_per_socket, smt, cpu_numbering, page_size,
    pageblock_order, max_order, cacheline_bytes, thp, max_clients, default_kernel,
    numa_distance = [[10, 32], [32, 10]]
    [sources]            one string per figure above (and "nodes", "memory")
    [memory]             ram_start_kib, zone_limits_kib = {DMA = .., DMA32 = ..}, holes_kib,
                         reserved_kib, struct_page_bytes, source
    [[nodes]]            cpus = "0-7,16-23", memory_gib = 32 (or memory_mib)
    [costs.<key>]        value, unit, source   (keys in REQUIRED_COSTS, more allowed)
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pcplab.errors import PcplabError
from pcplab.machines.cpulist import format_cpulist, parse_cpulist
from pcplab.mm.topology import NodeSpec, Topology, ZoneSpec

#: cost facts the simulator reads; every profile must have them
REQUIRED_COSTS = (
    "clock_ghz",
    "mem_bw_node_gbs",
    "cacheline_local_ns",
    "cacheline_remote_socket_ns",
    "ipi_ns",
    "context_switch_ns",
    "smt_per_core",
    "llc_mb",
)
#: top-level figures that need an entry in [sources]
SOURCED_FIELDS = (
    "sockets",
    "cores_per_socket",
    "smt",
    "cpu_numbering",
    "page_size",
    "pageblock_order",
    "max_order",
    "cacheline_bytes",
    "thp",
    "max_clients",
    "numa_distance",
    "nodes",
)
ARCHES = ("x86_64", "arm64", "ppc64le")
CPU_NUMBERINGS = ("thread-major", "core-major")
# zone order below Normal; Normal takes everything above the last limit
LOW_ZONES = ("DMA", "DMA32")
#: ASSUMPTION (physical limits a profile must respect; the kernel's own ceilings where it has one):
#: NR_CPUS is at most 8192 (x86 ``MAXSMP``, arch/x86/Kconfig ``NR_CPUS_RANGE_END``), NUMA nodes at
#: most 1024 (``NODES_SHIFT`` <= 10), and no node holds more than 16 PiB, a cost fact above 1e12
#: (in any of its units) or an order above 20 is a typo, not a machine.
MAX_CPUS = 8192
MAX_NODES = 1024
MAX_NODE_BYTES = 2**54
MAX_COST = 1e12
MAX_ORDER_LIMIT = 20
MAX_PAGE_SIZE = 1 << 20
#: a name is used in file names and tables: letters, digits, '.', '_', '-'
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True)
class Fact:
    """One hardware figure with its unit and where it comes from."""

    value: float
    unit: str
    source: str


@dataclass(frozen=True)
class NodeLayout:
    node_id: int
    cpus: tuple[int, ...]
    memory_pages: int


@dataclass(frozen=True)
class MemoryLayout:
    """Physical memory map in pfns: where RAM starts, zone limits, holes, reserved ranges."""

    ram_start_pfn: int
    zone_limits: tuple[tuple[str, int], ...]  # (zone, end pfn exclusive), ascending
    holes: tuple[tuple[int, int], ...]  # [start, end) pfn ranges with no RAM
    reserved: tuple[tuple[int, int], ...]  # [start, end) pfn ranges never given to the buddy
    struct_page_bytes: int
    source: str


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    arch: str
    sockets: int
    cores_per_socket: int
    smt: int
    cpu_numbering: str
    page_size: int
    pageblock_order: int
    max_order: int
    cacheline_bytes: int
    thp: bool
    max_clients: int
    default_kernel: str
    numa_distance: tuple[tuple[int, ...], ...]
    nodes: tuple[NodeLayout, ...]
    memory: MemoryLayout | None
    costs: Mapping[str, Fact]
    sources: Mapping[str, str]
    origin: str = "built-in"
    #: a topology taken as-is (zoneinfo import / host) instead of laid out from ``memory``
    imported: Topology | None = field(default=None, compare=False)

    @property
    def nr_cpus(self) -> int:
        return sum(len(n.cpus) for n in self.nodes)

    @property
    def memory_bytes(self) -> int:
        return sum(n.memory_pages for n in self.nodes) * self.page_size

    def cost(self, key: str) -> float:
        """The value of cost fact ``key`` (PcplabError naming the known keys if missing)."""
        fact = self.costs.get(key)
        if fact is None:
            known = ", ".join(sorted(self.costs))
            raise PcplabError(f"machine {self.name} has no cost fact {key!r}; known: {known}")
        return fact.value

    def cpu_position(self, cpu: int) -> tuple[int, int, int]:
        """(socket, core within socket, SMT thread) of a logical CPU, per ``cpu_numbering``.

        ``thread-major`` (x86 BIOSes): all first threads, then all second threads.
        ``core-major`` (POWER, many arm64 servers): a core's threads are consecutive.
        """
        if not 0 <= cpu < self.nr_cpus:
            raise PcplabError(
                f"machine {self.name} has no CPU {cpu}; CPUs are 0-{self.nr_cpus - 1}"
            )
        cores = self.sockets * self.cores_per_socket
        if self.cpu_numbering == "thread-major":
            core, thread = cpu % cores, cpu // cores
        else:
            core, thread = cpu // self.smt, cpu % self.smt
        return core // self.cores_per_socket, core % self.cores_per_socket, thread

    def cpu_node(self, cpu: int) -> int:
        for n in self.nodes:
            if cpu in n.cpus:
                return n.node_id
        raise PcplabError(f"machine {self.name} has no CPU {cpu}; CPUs are 0-{self.nr_cpus - 1}")

    def topology(self, **overrides: Any) -> Topology:
        """The allocator model's view; ``overrides`` replace Topology fields (e.g. ``thp``)."""
        extra = {
            "profile": self.name,
            "arch": self.arch,
            "costs": {k: f.value for k, f in sorted(self.costs.items())},
            "numa_distance": [list(r) for r in self.numa_distance],
            "smt": self.smt,
            "sockets": self.sockets,
            "cacheline_bytes": self.cacheline_bytes,
        }
        if self.imported is not None:
            base = self.imported
            fields: dict[str, Any] = {
                "nodes": base.nodes,
                "page_size": base.page_size,
                "pageblock_order": base.pageblock_order,
                "max_order": base.max_order,
                "thp": base.thp,
                "min_free_kbytes": base.min_free_kbytes,
                "watermark_scale_factor": base.watermark_scale_factor,
                "percpu_pagelist_high_fraction": base.percpu_pagelist_high_fraction,
                "name": self.name,
                "extra": {**base.extra, **extra},
            }
        else:
            fields = {
                "nodes": tuple(self._node_specs()),
                "page_size": self.page_size,
                "pageblock_order": self.pageblock_order,
                "max_order": self.max_order,
                "thp": self.thp,
                "name": self.name,
                "extra": extra,
            }
        fields.update(overrides)
        try:
            return Topology(**fields)
        except TypeError as exc:
            raise PcplabError(f"bad topology override for {self.name}: {exc}") from None

    # ---- memory layout --------------------------------------------------------------------
    def _node_specs(self) -> list[NodeSpec]:
        assert self.memory is not None
        mem = self.memory
        cursor = mem.ram_start_pfn
        specs = []
        for node in self.nodes:
            ranges, cursor = _place_ram(cursor, node.memory_pages, mem.holes)
            zones = _split_zones(ranges, mem, node.memory_pages, self.page_size)
            specs.append(NodeSpec(node_id=node.node_id, cpus=node.cpus, zones=tuple(zones)))
        return specs

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "origin": self.origin,
            "arch": self.arch,
            "sockets": self.sockets,
            "cores_per_socket": self.cores_per_socket,
            "smt": self.smt,
            "cpus": self.nr_cpus,
            "max_clients": self.max_clients,
            "page_size": self.page_size,
            "pageblock_order": self.pageblock_order,
            "max_order": self.max_order,
            "cacheline_bytes": self.cacheline_bytes,
            "thp": self.thp,
            "default_kernel": self.default_kernel,
            "memory_gib": round(self.memory_bytes / 2**30, 3),
            "nodes": [
                {
                    "node": n.node_id,
                    "cpus": format_cpulist(n.cpus),
                    "memory_gib": round(n.memory_pages * self.page_size / 2**30, 3),
                }
                for n in self.nodes
            ],
            "numa_distance": [list(r) for r in self.numa_distance],
            "costs": {
                k: {"value": f.value, "unit": f.unit, "source": f.source}
                for k, f in sorted(self.costs.items())
            },
            "sources": dict(sorted(self.sources.items())),
        }


def _place_ram(
    cursor: int, pages: int, holes: tuple[tuple[int, int], ...]
) -> tuple[list[tuple[int, int]], int]:
    """Lay ``pages`` of RAM out from ``cursor`` upwards, skipping holes; return ranges and end."""
    ranges: list[tuple[int, int]] = []
    left = pages
    while left > 0:
        inside = [h for h in holes if h[0] <= cursor < h[1]]
        if inside:
            cursor = max(h[1] for h in inside)
            continue
        nxt = min((h[0] for h in holes if h[0] > cursor), default=None)
        take = left if nxt is None else min(left, nxt - cursor)
        ranges.append((cursor, cursor + take))
        cursor += take
        left -= take
    return ranges, cursor


def _overlap(ranges: list[tuple[int, int]], lo: int, hi: int) -> int:
    return sum(max(0, min(e, hi) - max(s, lo)) for s, e in ranges)


def _split_zones(
    ranges: list[tuple[int, int]], mem: MemoryLayout, node_pages: int, page_size: int
) -> list[ZoneSpec]:
    """Zones of one node: spans clipped to the node, present = RAM inside, managed estimated.

    ASSUMPTION (reservation model): managed = present minus (a) the reserved ranges of the
    profile (e.g. x86 keeps the first MiB since Linux 5.13; the kernel image) and (b) the node's
    ``struct page`` array (``struct_page_bytes`` per page of the node), which memblock places
    top-down in node-local memory, so it is charged to the node's highest zone first.
    """
    if not ranges:
        return []
    node_start, node_end = ranges[0][0], ranges[-1][1]
    bounds: list[tuple[str, int, int]] = []
    lo = 0
    for name, limit in mem.zone_limits:
        bounds.append((name, lo, limit))
        lo = max(lo, limit)
    bounds.append(("Normal", lo, math.inf))  # type: ignore[arg-type]
    zones: list[list[Any]] = []
    for name, zlo, zhi in bounds:
        start, end = max(zlo, node_start), min(zhi, node_end)
        if end <= start:
            continue
        present = _overlap(ranges, start, end)
        if present == 0:
            continue
        reserved = sum(_overlap(ranges, max(s, start), min(e, end)) for s, e in mem.reserved)
        zones.append([name, start, end - start, present, present - reserved])
    memmap = -(-node_pages * mem.struct_page_bytes // page_size)
    for z in reversed(zones):  # top-down: highest zone pays first
        take = min(memmap, z[4])
        z[4] -= take
        memmap -= take
    return [
        ZoneSpec(name=n, start_pfn=s, spanned=sp, present=p, managed=max(m, 0))
        for n, s, sp, p, m in zones
    ]


# ---- loading -----------------------------------------------------------------------------------
def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile TOML file; any problem is one PcplabError line."""
    p = Path(path)
    try:
        if p.stat().st_size > 1 << 20:
            raise PcplabError(f"machine profile {p} is over 1 MiB; is it a profile TOML file?")
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PcplabError(f"cannot read machine profile {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise PcplabError(f"machine profile {p} is not UTF-8 text") from None
    return parse_profile(text, origin=str(p))


def parse_profile(text: str, origin: str = "<profile>") -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PcplabError(f"machine profile {origin}: bad TOML: {exc}") from None
    except (RecursionError, ValueError) as exc:  # 100k nested arrays; int() of 5000 digits
        raise PcplabError(f"machine profile {origin}: unreadable TOML ({exc})") from None
    profile = _Validator(data, origin).build()
    _check_layout(profile)
    return profile


def _check_layout(profile: Profile) -> None:
    """Lay the profile's memory out once so a layout that leaves a node without usable memory is
    reported now, naming the profile, rather than as a crash inside a simulation."""
    try:
        topo = profile.topology()
    except PcplabError:
        raise
    except (ValueError, ArithmeticError) as exc:
        raise PcplabError(f"machine profile {profile.origin}: memory layout fails: {exc}") from None
    for node in topo.nodes:
        if sum(z.managed for z in node.zones) <= 0:
            raise PcplabError(
                f"machine profile {profile.origin}: nodes[{node.node_id}] has no managed memory "
                "after holes, reserved ranges and struct pages; give it more memory"
            )


class _Validator:
    def __init__(self, data: dict[str, Any], origin: str) -> None:
        self.data = data
        self.origin = origin

    def fail(self, problem: str) -> PcplabError:
        return PcplabError(f"machine profile {self.origin}: {problem}")

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        table: Mapping[str, Any] | None = None,
        where: str = "",
    ) -> Any:
        src = self.data if table is None else table
        if key not in src:
            raise self.fail(f"missing {where}{key!r}")
        value = src[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(f"{where}{key!r} must be {_kind_name(kinds)}, got {_short(value)}")
        if not isinstance(value, kinds):
            raise self.fail(f"{where}{key!r} must be {_kind_name(kinds)}, got {_short(value)}")
        return value

    def positive(self, key: str, top: int = MAX_CPUS) -> int:
        v = self.get(key, int)
        if not 0 < v <= top:
            raise self.fail(f"{key!r} must be within 1..{top}, got {_short(v)}")
        return v

    def build(self) -> Profile:
        d = self.data
        name = self.get("name", str)
        if not name or len(name) > 64 or not set(name) <= _NAME_CHARS:
            raise self.fail(
                f"name {name[:40]!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        arch = self.get("arch", str)
        if arch not in ARCHES:
            raise self.fail(f"arch {arch!r} unknown; use one of {', '.join(ARCHES)}")
        page_size = self.positive("page_size", MAX_PAGE_SIZE)
        if page_size & (page_size - 1) or page_size < 4096:
            raise self.fail(f"page_size {page_size} must be a power of two from 4096 to {MAX_PAGE_SIZE}")
        numbering = self.get("cpu_numbering", str)
        if numbering not in CPU_NUMBERINGS:
            raise self.fail(
                f"cpu_numbering {numbering!r} unknown; use {' or '.join(CPU_NUMBERINGS)}"
            )
        sources = self.get("sources", dict)
        for key in SOURCED_FIELDS:
            if not isinstance(sources.get(key), str) or not sources[key].strip():
                raise self.fail(f"[sources] needs a non-empty string for {key!r}")
        sockets = self.positive("sockets")
        cores = self.positive("cores_per_socket")
        smt = self.positive("smt")
        if sockets * cores * smt > MAX_CPUS:
            raise self.fail(
                f"sockets*cores_per_socket*smt = {sockets * cores * smt} is above {MAX_CPUS} CPUs"
            )
        nodes = self._nodes(page_size)
        nr_cpus = sum(len(n.cpus) for n in nodes)
        if nr_cpus != sockets * cores * smt:
            raise self.fail(
                f"nodes hold {nr_cpus} CPUs but sockets*cores_per_socket*smt = {sockets * cores * smt}"
            )
        all_cpus = sorted(c for n in nodes for c in n.cpus)
        if all_cpus != list(range(nr_cpus)):
            raise self.fail(f"node cpulists must cover CPUs 0-{nr_cpus - 1} exactly once")
        distance = self.get("numa_distance", list)
        if len(distance) != len(nodes) or any(
            not isinstance(r, list)
            or len(r) != len(nodes)
            or not all(isinstance(x, int) for x in r)
            for r in distance
        ):
            raise self.fail(f"numa_distance must be a {len(nodes)}x{len(nodes)} integer matrix")
        if any(distance[i][i] != 10 for i in range(len(nodes))):
            raise self.fail("numa_distance diagonal must be 10 (local distance, as in ACPI SLIT)")
        if any(not 10 <= x <= 255 for r in distance for x in r):
            raise self.fail("numa_distance entries must be within 10..255 (ACPI SLIT values)")
        max_clients = self.positive("max_clients")
        if max_clients > nr_cpus:
            raise self.fail(f"max_clients {max_clients} exceeds the {nr_cpus} CPUs")
        max_order = self.positive("max_order", MAX_ORDER_LIMIT)
        pageblock_order = self.get("pageblock_order", int)
        if not 0 <= pageblock_order <= max_order:
            raise self.fail(f"pageblock_order {pageblock_order} must be within 0..max_order")
        default_kernel = str(d.get("default_kernel", "5.17"))
        try:
            from pcplab.mm.version import parse_kernel

            parse_kernel(default_kernel)
        except ImportError:
            pass
        except PcplabError as exc:
            raise self.fail(f"default_kernel: {exc}") from None
        return Profile(
            name=name,
            description=self.get("description", str),
            arch=arch,
            sockets=sockets,
            cores_per_socket=cores,
            smt=smt,
            cpu_numbering=numbering,
            page_size=page_size,
            pageblock_order=pageblock_order,
            max_order=max_order,
            cacheline_bytes=self._cacheline(),
            thp=self.get("thp", bool),
            max_clients=max_clients,
            default_kernel=default_kernel,
            numa_distance=tuple(tuple(r) for r in distance),
            nodes=nodes,
            memory=self._memory(page_size),
            costs=MappingProxyType(self._costs()),
            sources=MappingProxyType(dict(sources)),
            origin=self.origin,
        )

    def _cacheline(self) -> int:
        v = self.positive("cacheline_bytes", 1024)
        if v & (v - 1) or v < 16:
            raise self.fail(f"cacheline_bytes {v} must be a power of two from 16 to 1024")
        return v

    def _nodes(self, page_size: int) -> tuple[NodeLayout, ...]:
        raw = self.get("nodes", list)
        if not raw:
            raise self.fail("needs at least one [[nodes]] entry")
        if len(raw) > MAX_NODES:
            raise self.fail(f"{len(raw)} nodes is above the kernel's {MAX_NODES} (NODES_SHIFT 10)")
        nodes = []
        for i, entry in enumerate(raw):
            where = f"nodes[{i}]."
            if not isinstance(entry, dict):
                raise self.fail(f"nodes[{i}] must be a table")
            try:
                cpus = parse_cpulist(self.get("cpus", str, entry, where), limit=MAX_CPUS)
            except PcplabError as exc:
                raise self.fail(f"{where}cpus: {exc}") from None
            key = "memory_gib" if "memory_gib" in entry else "memory_mib"
            amount = self.get(key, (int, float), entry, where)
            if not (isinstance(amount, int) or math.isfinite(amount)) or amount <= 0:
                raise self.fail(f"{where}{key} must be a positive finite number, got {_short(amount)}")
            size = amount * (2**30 if key == "memory_gib" else 2**20)
            if size > MAX_NODE_BYTES:
                raise self.fail(f"{where}{key} {_short(amount)} is above 16 PiB per node")
            if int(size) // page_size < 1:
                raise self.fail(f"{where}{key} {_short(amount)} is less than one page")
            nodes.append(NodeLayout(node_id=i, cpus=cpus, memory_pages=int(size) // page_size))
        return tuple(nodes)

    def _memory(self, page_size: int) -> MemoryLayout:
        mem = self.get("memory", dict)
        kib_per_page = page_size // 1024

        def pfn(kib: Any, what: str) -> int:
            if isinstance(kib, bool) or not isinstance(kib, int) or not 0 <= kib <= 2**62:
                raise self.fail(
                    f"memory.{what} must hold integers (KiB) within 0..2^62, got {_short(kib)}"
                )
            return kib // kib_per_page

        def ranges(key: str) -> tuple[tuple[int, int], ...]:
            out = []
            entries = mem.get(key, [])
            if not isinstance(entries, list):
                raise self.fail(f"memory.{key} must be an array of [start_kib, end_kib]")
            for r in entries:
                if not isinstance(r, list) or len(r) != 2:
                    raise self.fail(f"memory.{key} entries must be [start_kib, end_kib]")
                lo = pfn(r[0], key)
                pfn(r[1], key)  # validates
                hi = -(-r[1] // kib_per_page)  # a partly covered page counts as covered
                if hi <= lo:
                    raise self.fail(f"memory.{key} range {r} is empty")
                out.append((lo, hi))
            return tuple(sorted(out))

        limits = self.get("zone_limits_kib", dict, mem, "memory.")
        struct_page = self.get("struct_page_bytes", int, mem, "memory.")
        if not 0 <= struct_page <= 1024:
            raise self.fail(f"memory.struct_page_bytes must be within 0..1024, got {_short(struct_page)}")
        zone_limits = []
        for zname in LOW_ZONES:
            if zname in limits:
                zone_limits.append((zname, pfn(limits[zname], "zone_limits_kib")))
        unknown = set(limits) - set(LOW_ZONES)
        if unknown:
            raise self.fail(
                f"memory.zone_limits_kib: unknown zone(s) {sorted(unknown)}; use DMA, DMA32"
            )
        if [lim for _, lim in zone_limits] != sorted(lim for _, lim in zone_limits):
            raise self.fail("memory.zone_limits_kib must ascend (DMA <= DMA32)")
        return MemoryLayout(
            ram_start_pfn=pfn(mem.get("ram_start_kib", 0), "ram_start_kib"),
            zone_limits=tuple(zone_limits),
            holes=ranges("holes_kib"),
            reserved=ranges("reserved_kib"),
            struct_page_bytes=struct_page,
            source=self.get("source", str, mem, "memory."),
        )

    def _costs(self) -> dict[str, Fact]:
        costs = self.get("costs", dict)
        out = {}
        for key, entry in costs.items():
            where = f"costs.{key}."
            if not isinstance(entry, dict):
                raise self.fail(f"costs.{key} must be a table with value, unit, source")
            value = self.get("value", (int, float), entry, where)
            source = self.get("source", str, entry, where)
            if not source.strip():
                raise self.fail(f"costs.{key}.source is empty; say where the figure comes from")
            if isinstance(value, int) and abs(value) > MAX_COST:
                raise self.fail(f"costs.{key}.value {_short(value)} is above {MAX_COST:g}")
            if value < 0 or not math.isfinite(value) or value > MAX_COST:
                raise self.fail(
                    f"costs.{key}.value must be a finite number within 0..{MAX_COST:g}, "
                    f"got {_short(value)}"
                )
            if value == 0:
                # the cost model divides by most facts (bandwidths, clocks, bytes per cycle) and
                # scales by the rest; no built-in figure is 0, so a 0 is a typo
                raise self.fail(f"costs.{key}.value must be above 0 (a rate, size or time)")
            out[key] = Fact(float(value), self.get("unit", str, entry, where), source)
        missing = [k for k in REQUIRED_COSTS if k not in out]
        if missing:
            raise self.fail(f"missing cost facts: {', '.join(missing)}")
        return out


def _short(value: Any) -> str:
    """repr of a value, cut to 40 characters (a 5000-digit number stays readable)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of {len(hex(value)) - 2} hex digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true/false",
        list: "an array",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)
