"""Import of ``/proc/zoneinfo``: zones, watermarks and per-CPU pagesets as the kernel reported them.

Handles the 5.x layout (pagesets with ``count``/``high``/``batch``) and the 6.7+ one (plus
``high_min``/``high_max``), with or without ``boost`` (4.20+) and ``promo`` (6.0+) watermarks.
Statistics lines (``nr_*``, ``numa_*``, per-node stats, ``protection``) are skipped.
Any malformed line raises one PcplabError naming the line number and the problem.

zoneinfo does not say which CPUs belong to which node (every zone lists every online CPU), nor the
page size; callers pass ``node_cpus`` and ``page_size`` when they know them (``host`` reads
``/sys``). Without ``node_cpus`` a single node gets every CPU and several nodes split the CPU ids
into equal contiguous blocks (ASSUMPTION, flagged by ``cpus_inferred``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pcplab.errors import PcplabError
from pcplab.mm.topology import NodeSpec, Topology, ZoneSpec

ZONE_NAMES = ("DMA", "DMA32", "Normal", "HighMem", "Movable", "Device")
WATERMARK_KEYS = ("min", "low", "high", "promo", "boost")
SPAN_KEYS = ("spanned", "present", "managed", "cma")
PAGESET_KEYS = ("count", "high", "batch", "high_min", "high_max")
REQUIRED_ZONE_KEYS = ("free", "min", "low", "high", "spanned", "present", "managed")

_HEADER = re.compile(r"^Node\s+(\d{1,40}),\s+zone\s+(\S+)\s*$")
_INT = re.compile(r"^\d{1,19}$")
#: counters are unsigned long in the kernel; a page count above 2^63 is not from a real file
MAX_COUNT = 2**63 - 1
#: MAX_NUMNODES = 1 << NODES_SHIFT, NODES_SHIFT at most 10 (mm/Kconfig); NR_CPUS at most 8192
MAX_NODE_ID = 1023
MAX_CPU_ID = 8191
# any other line inside a zone: a name (words, '-', '_'), optional ':', optional value
_OTHER = re.compile(r"^\s+[A-Za-z][\w\-]*(?: [A-Za-z][\w\-]*)*:?(?:\s+[\w(),.\- ]*)?\s*$")


@dataclass(frozen=True)
class ReportedPageset:
    cpu: int
    count: int
    high: int
    batch: int
    high_min: int | None = None
    high_max: int | None = None


@dataclass(frozen=True)
class ReportedZone:
    node: int
    name: str
    line: int  # line number of the "Node N, zone X" header (1-based)
    free: int
    min: int
    low: int
    high: int
    spanned: int
    present: int
    managed: int
    promo: int | None = None
    boost: int | None = None
    start_pfn: int | None = None
    pagesets: tuple[ReportedPageset, ...] = ()

    @property
    def populated(self) -> bool:
        """The kernel's ``populated_zone``: the zone has present pages."""
        return self.present > 0

    @property
    def label(self) -> str:
        return f"Node {self.node} {self.name}"


@dataclass(frozen=True)
class Zoneinfo:
    zones: tuple[ReportedZone, ...]
    node_cpus: dict[int, tuple[int, ...]]
    cpus_inferred: bool
    origin: str = "<zoneinfo>"
    page_size: int = 4096
    pageblock_order: int = 9
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def has_high_min(self) -> bool:
        return any(p.high_min is not None for z in self.zones for p in z.pagesets)

    @property
    def default_kernel(self) -> str:
        """6.7 (auto-tuning rules) when the file reports high_min, else 5.17."""
        return "6.7" if self.has_high_min else "5.17"

    @property
    def cpus(self) -> tuple[int, ...]:
        return tuple(sorted({p.cpu for z in self.zones for p in z.pagesets}))

    def populated_zones(self) -> list[ReportedZone]:
        return [z for z in self.zones if z.populated]

    def topology(
        self,
        *,
        thp: bool = True,
        min_free_kbytes: int | None = None,
        watermark_scale_factor: int = 10,
        percpu_pagelist_high_fraction: int = 0,
        max_order: int = 10,
        name: str | None = None,
    ) -> Topology:
        """The populated zones as a Topology (nodes without memory keep their CPUs)."""
        nodes = []
        node_ids = sorted({z.node for z in self.zones} | set(self.node_cpus))
        for nid in node_ids:
            zones = tuple(
                ZoneSpec(
                    name=z.name,
                    start_pfn=z.start_pfn or 0,
                    spanned=z.spanned,
                    present=z.present,
                    managed=z.managed,
                )
                for z in self.zones
                if z.node == nid and z.populated
            )
            cpus = self.node_cpus.get(nid, ())
            if zones or cpus:
                nodes.append(NodeSpec(node_id=nid, cpus=cpus, zones=zones))
        return Topology(
            nodes=tuple(nodes),
            page_size=self.page_size,
            pageblock_order=self.pageblock_order,
            max_order=max_order,
            thp=thp,
            min_free_kbytes=min_free_kbytes,
            watermark_scale_factor=watermark_scale_factor,
            percpu_pagelist_high_fraction=percpu_pagelist_high_fraction,
            name=name or Path(self.origin).name,
            extra={"zoneinfo": self.origin, "cpus_inferred": self.cpus_inferred, **self.extra},
        )


def load_zoneinfo(path: str | Path, **kwargs: object) -> Zoneinfo:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise PcplabError(f"cannot read zoneinfo {p}: {reason}") from None
    return parse_zoneinfo(text, origin=str(p), **kwargs)  # type: ignore[arg-type]


def parse_zoneinfo(
    text: str,
    origin: str = "<zoneinfo>",
    node_cpus: dict[int, tuple[int, ...]] | None = None,
    page_size: int = 4096,
    pageblock_order: int = 9,
) -> Zoneinfo:
    """Parse zoneinfo text; see the module docstring for what is kept and assumed."""
    parser = _Parser(origin)
    for lineno, line in enumerate(text.splitlines(), start=1):
        parser.feed(lineno, line)
    zones = parser.finish()
    cpus = sorted({p.cpu for z in zones for p in z.pagesets})
    if node_cpus is None:
        node_cpus, inferred = _infer_node_cpus(zones, cpus)
    else:
        node_cpus, inferred = {n: tuple(sorted(c)) for n, c in node_cpus.items()}, False
        missing = set(cpus) - {c for cs in node_cpus.values() for c in cs}
        if missing:
            raise PcplabError(
                f"{origin}: CPUs {sorted(missing)} have pagesets but no node; fix the node CPU lists"
            )
    return Zoneinfo(
        zones=tuple(zones),
        node_cpus=node_cpus,
        cpus_inferred=inferred,
        origin=origin,
        page_size=page_size,
        pageblock_order=pageblock_order,
    )


def _infer_node_cpus(
    zones: list[ReportedZone], cpus: list[int]
) -> tuple[dict[int, tuple[int, ...]], bool]:
    nodes = sorted({z.node for z in zones if z.populated}) or sorted({z.node for z in zones})
    if len(nodes) == 1:
        return {nodes[0]: tuple(cpus)}, False
    # ASSUMPTION: equal contiguous blocks of CPU ids per memory node (x86 without SMT numbering)
    per = -(-len(cpus) // len(nodes))
    return {n: tuple(cpus[i * per : (i + 1) * per]) for i, n in enumerate(nodes)}, True


class _Parser:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.zones: list[ReportedZone] = []
        self.cur: dict[str, object] | None = None
        self.pagesets: list[dict[str, int]] = []
        self.in_pagesets = False
        self.seen: set[tuple[int, str]] = set()

    def fail(self, lineno: int, problem: str) -> PcplabError:
        return PcplabError(f"{self.origin}: line {lineno}: {problem}")

    def _int(self, lineno: int, key: str, value: str) -> int:
        if not _INT.match(value) or int(value) > MAX_COUNT:
            raise self.fail(
                lineno, f"{key!r} needs a non-negative integer below 2^63, got {value[:40]!r}"
            )
        return int(value)

    def feed(self, lineno: int, line: str) -> None:
        if not line.strip():
            return
        if not line[0].isspace():
            m = _HEADER.match(line)
            if m is None:
                hint = " (this looks like /proc/buddyinfo)" if line.startswith("Node") else ""
                raise self.fail(
                    lineno, f"expected 'Node N, zone NAME', got {line.strip()[:40]!r}{hint}"
                )
            self._close(lineno)
            node, name = int(m.group(1)), m.group(2)
            if node > MAX_NODE_ID:
                raise self.fail(lineno, f"node {node} is above the kernel's limit {MAX_NODE_ID}")
            if name not in ZONE_NAMES:
                raise self.fail(
                    lineno, f"unknown zone {name!r}; kernel zones are {', '.join(ZONE_NAMES)}"
                )
            if (node, name) in self.seen:
                raise self.fail(lineno, f"zone 'Node {node} {name}' appears twice")
            self.seen.add((node, name))
            self.cur = {"node": node, "name": name, "line": lineno}
            self.pagesets = []
            self.in_pagesets = False
            return
        if self.cur is None:
            raise self.fail(lineno, "data before the first 'Node N, zone NAME' header")
        tokens = line.split()
        key = tokens[0]
        if key == "pages" and len(tokens) >= 2 and tokens[1] == "free":
            if len(tokens) != 3:
                raise self.fail(lineno, "expected 'pages free N'")
            self._set(lineno, "free", self._int(lineno, "pages free", tokens[2]))
        elif key == "pagesets" and len(tokens) == 1:
            self.in_pagesets = True
        elif key == "cpu:":
            if not self.in_pagesets:
                raise self.fail(lineno, "'cpu:' outside a 'pagesets' block")
            if len(tokens) != 2:
                raise self.fail(lineno, "expected 'cpu: N'")
            cpu = self._int(lineno, "cpu", tokens[1])
            if cpu > MAX_CPU_ID:
                raise self.fail(lineno, f"cpu {cpu} is above the kernel's limit {MAX_CPU_ID}")
            self.pagesets.append({"cpu": cpu, "_line": lineno})
        elif key.endswith(":") and key[:-1] in PAGESET_KEYS and self.in_pagesets:
            if not self.pagesets:
                raise self.fail(lineno, f"{key!r} before any 'cpu: N' line")
            if len(tokens) != 2:
                raise self.fail(lineno, f"expected '{key} N'")
            ps = self.pagesets[-1]
            if key[:-1] in ps:
                raise self.fail(lineno, f"{key!r} twice for cpu {ps['cpu']}")
            ps[key[:-1]] = self._int(lineno, key[:-1], tokens[1])
        elif key == "start_pfn:":
            if len(tokens) != 2:
                raise self.fail(lineno, "expected 'start_pfn: N'")
            self._set(lineno, "start_pfn", self._int(lineno, "start_pfn", tokens[1]))
        elif key in WATERMARK_KEYS + SPAN_KEYS:
            if self.in_pagesets:
                raise self.fail(lineno, f"zone field {key!r} inside the pagesets block")
            if len(tokens) != 2:
                raise self.fail(lineno, f"expected '{key} N', got {line.strip()[:40]!r}")
            self._set(lineno, key, self._int(lineno, key, tokens[1]))
        elif not _OTHER.match(line):
            raise self.fail(lineno, f"unrecognised line {line.strip()[:40]!r}")

    def _set(self, lineno: int, key: str, value: int) -> None:
        assert self.cur is not None
        if key in self.cur:
            raise self.fail(
                lineno, f"{key!r} given twice for zone 'Node {self.cur['node']} {self.cur['name']}'"
            )
        self.cur[key] = value

    def _close(self, lineno: int) -> None:
        cur = self.cur
        if cur is None:
            return
        label = f"Node {cur['node']} {cur['name']}"
        missing = [k for k in REQUIRED_ZONE_KEYS if k not in cur]
        if missing:
            raise self.fail(
                int(cur["line"]),  # type: ignore[call-overload]  # "line" is set to an int on the zone header
                f"zone '{label}' lacks {', '.join(missing)} (file truncated?)",
            )
        sets = []
        for ps in self.pagesets:
            need = [k for k in ("count", "high", "batch") if k not in ps]
            if need:
                raise self.fail(
                    ps["_line"], f"cpu {ps['cpu']} of '{label}' lacks {', '.join(need)}"
                )
            if ("high_min" in ps) != ("high_max" in ps):
                raise self.fail(
                    ps["_line"], f"cpu {ps['cpu']} of '{label}' has only one of high_min/high_max"
                )
            if "high_min" in ps and ps["high_min"] > ps["high_max"]:
                raise self.fail(
                    ps["_line"], f"cpu {ps['cpu']} of '{label}': high_min {ps['high_min']} is "
                    f"above high_max {ps['high_max']}"
                )
            sets.append(ReportedPageset(**{k: v for k, v in ps.items() if k != "_line"}))
        if len({p.cpu for p in sets}) != len(sets):
            raise self.fail(int(cur["line"]), f"zone '{label}' lists a CPU twice")  # type: ignore[call-overload]  # an int
        self._consistent(cur, label)
        cur_fields = {k: v for k, v in cur.items() if k != "cma"}
        self.zones.append(ReportedZone(**cur_fields, pagesets=tuple(sets)))  # type: ignore[arg-type]
        self.cur = None

    def _consistent(self, cur: dict[str, object], label: str) -> None:
        """The orderings every kernel zone obeys: free <= managed <= present <= spanned (pages
        counted by ``zone->managed_pages``, ``present_pages``, ``spanned_pages``) and
        min <= low <= high <= promo (``__setup_per_zone_wmarks`` adds the same non-negative
        step to each: low = min + step, high = min + 2 step, promo = min + 3 step)."""
        line = int(cur["line"])  # type: ignore[call-overload]
        v = {k: int(x) for k, x in cur.items() if isinstance(x, int) and k not in ("node", "line")}
        for small, big in (("free", "managed"), ("managed", "present"), ("present", "spanned"),
                           ("min", "low"), ("low", "high")):  # fmt: skip
            if v[small] > v[big]:
                raise self.fail(
                    line, f"zone '{label}': {small} {v[small]} is above {big} {v[big]}; "
                    "the file is inconsistent (edited or damaged?)"
                )
        if "promo" in v and v["promo"] < v["high"]:
            raise self.fail(line, f"zone '{label}': promo {v['promo']} is below high {v['high']}")

    def finish(self) -> list[ReportedZone]:
        self._close(0)
        if not self.zones:
            raise PcplabError(
                f"{self.origin}: no 'Node N, zone NAME' sections; is this /proc/zoneinfo?"
            )
        return self.zones
