"""This host as a machine-profile TOML file (the format :mod:`pcplab.machines.profile` loads).

The host profile (:func:`pcplab.machines.host.host_profile`) takes its zones straight from
``/proc/zoneinfo``; a TOML profile instead lays its memory out from a ``[memory]`` map.  So the
map is written to reproduce the reported zones exactly: RAM from the first zone's ``start_pfn``,
node after node; zone limits at the ends of the DMA/DMA32 spans; in each zone the
``present - managed`` pages as a reserved range at its start and the ``spanned - present`` pages
as a hole after them; ``struct_page_bytes = 0`` (the reserved ranges already hold what the
kernel kept back, memmap included).  ASSUMPTION: where inside a zone its holes and reserved
pages lie is not in zoneinfo; the model only uses the counts.  :func:`check_zones` verifies
the layout against the zoneinfo it came from.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pcplab.errors import PcplabError
from pcplab.machines.cpulist import format_cpulist
from pcplab.machines.profile import Fact, Profile
from pcplab.machines.zoneinfo import Zoneinfo

#: the zones a profile's memory map can express (machines.profile.LOW_ZONES + Normal)
_ZONES = ("DMA", "DMA32", "Normal")
_MEMORY_SOURCE = (
    "/proc/zoneinfo of this host: zone spans, present and managed pages as reported; holes and "
    "reserved ranges placed to reproduce them (where inside a zone: ASSUMPTION, the model uses "
    "only the counts)"
)
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64",
         "ppc64le": "ppc64le"}


def q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=True)


def num(value: float) -> str:
    """A float with 4 significant digits as TOML (the fit's precision; stable bytes)."""
    if not math.isfinite(value):
        raise PcplabError(f"cannot write non-finite figure {value}")
    text = f"{value:.4g}"
    if "e" in text:
        mant, exp = text.split("e")
        if "." not in mant:
            mant += ".0"
        return f"{mant}e{int(exp)}"
    return text if "." in text else text + ".0"


def memory_map(zi: Zoneinfo) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """``[memory]`` fields and ``[(node id, present pages)]`` reproducing ``zi``'s zones."""
    kib = zi.page_size // 1024
    zones = sorted(zi.populated_zones(), key=lambda z: (z.start_pfn or 0, z.node))
    bad = sorted({z.name for z in zones} - set(_ZONES))
    if bad:
        raise PcplabError(f"/proc/zoneinfo has populated zone(s) {', '.join(bad)}, which a "
                          "profile's memory map cannot express; calibrate supports DMA, DMA32 "
                          "and Normal")
    if any(z.start_pfn is None for z in zones):
        raise PcplabError("/proc/zoneinfo has no start_pfn lines (kernel before 4.x?); "
                          "calibrate needs them to lay the memory out")
    order = []
    for z in zones:
        if z.node not in order:
            order.append(z.node)
    by_node = {n: [z for z in zones if z.node == n] for n in order}
    # nodes must follow each other in physical memory, each contiguous in zone order
    cursor = None
    holes: list[tuple[int, int]] = []
    reserved: list[tuple[int, int]] = []
    nodes = []
    for n in order:
        for z in by_node[n]:
            start = int(z.start_pfn or 0)
            if cursor is not None and start < cursor:
                raise PcplabError(f"/proc/zoneinfo: {z.label} starts at pfn {start}, inside the "
                                  "memory before it; interleaved nodes are not supported")
            if cursor is not None and start > cursor:
                holes.append((cursor, start))
            r = z.present - z.managed
            if r < 0:
                raise PcplabError(f"/proc/zoneinfo: {z.label} manages more pages than present")
            if r:
                reserved.append((start, start + r))
            h = z.spanned - z.present
            if h > 0:
                at = start + r + (z.present - r) // 2
                holes.append((at, at + h))
            cursor = start + z.spanned
        nodes.append((n, sum(z.present for z in by_node[n])))
    limits = {}
    for name in ("DMA", "DMA32"):
        ends = [int(z.start_pfn or 0) + z.spanned for z in zones if z.name == name]
        if ends:
            limits[name] = max(ends) * kib
    first = int(zones[0].start_pfn or 0) if zones else 0
    mem = {
        "ram_start_kib": first * kib,
        "zone_limits_kib": limits,
        "holes_kib": [[a * kib, b * kib] for a, b in holes],
        "reserved_kib": [[a * kib, b * kib] for a, b in reserved],
        "struct_page_bytes": 0,
    }
    return mem, nodes


def check_zones(profile: Profile, zi: Zoneinfo) -> None:
    """The written profile's zones must be zoneinfo's (start, spanned, present, managed)."""
    want = sorted((z.node, z.name, z.start_pfn, z.spanned, z.present, z.managed)
                  for z in zi.populated_zones())
    topo = profile.topology()
    nodes = sorted({z.node for z in zi.populated_zones()})
    ids = {i: n for i, n in enumerate(nodes)}
    got = sorted((ids.get(node.node_id, node.node_id), z.name, z.start_pfn, z.spanned,
                  z.present, z.managed) for node in topo.nodes for z in node.zones)
    if got != want:
        raise PcplabError("the written profile's zones differ from /proc/zoneinfo "
                          f"({got[:2]} vs {want[:2]}); this is a pcplab bug, please report it")


def _distance(sys_root: Path, nodes: Sequence[int]) -> list[list[int]]:
    rows = []
    for n in nodes:
        try:
            text = (sys_root / "devices" / "system" / "node" / f"node{n}" / "distance").read_text()
            row = [int(x) for x in text.split()]
        except (OSError, ValueError):
            row = []
        rows.append(row)
    if all(len(r) == len(nodes) for r in rows) and rows:
        return rows
    return [[10 if i == j else 20 for j in range(len(nodes))] for i in range(len(nodes))]


def render(
    host: Profile,
    zi: Zoneinfo,
    name: str,
    description: str,
    costs: Mapping[str, Fact],
    fitted: Mapping[str, str],
    calibration: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    sys_root: Path = Path("/sys"),
) -> str:
    """The profile TOML.  ``fitted``: cost key -> what it was fitted from (marked in the file)."""
    arch = _ARCH.get(host.arch)
    if arch is None:
        raise PcplabError(f"architecture {host.arch!r} has no cost model; pcplab knows "
                          "x86_64, arm64 and ppc64le")
    mem, node_pages = memory_map(zi)
    cpus_of = {n.node_id: n.cpus for n in host.nodes}
    node_ids = [n for n, _ in node_pages]
    for n in cpus_of:
        if n not in node_ids and cpus_of[n]:
            raise PcplabError(f"node {n} has CPUs but no memory; calibrate needs every node "
                              "with CPUs to have memory")
    distance = _distance(sys_root, node_ids)
    src_host = "read from this host by pcplab calibrate (/proc/cpuinfo, /sys, /proc/zoneinfo)"
    out = [
        "# Machine profile written by `pcplab calibrate`: this host's topology and zones, with the",
        "# per-machine cost facts fitted to a measured pft (see [calibration] and docs/calibrate.md).",
        "# Global constants of the cost model (sim/costs.py) are not in this file and stay global.",
        f"name = {q(name)}",
        f"description = {q(description)}",
        f"arch = {q(arch)}",
        f"sockets = {host.sockets}",
        f"cores_per_socket = {host.cores_per_socket}",
        f"smt = {host.smt}",
        f"cpu_numbering = {q(host.cpu_numbering)}",
        f"page_size = {zi.page_size}",
        f"pageblock_order = {zi.pageblock_order}",
        f"max_order = {host.max_order}",
        f"cacheline_bytes = {host.cacheline_bytes}",
        f"thp = {'true' if host.thp else 'false'}",
        f"max_clients = {host.max_clients}",
        f"default_kernel = {q(host.default_kernel)}",
        "numa_distance = [" + ", ".join("[" + ", ".join(map(str, r)) + "]" for r in distance)
        + "]",
        "",
        "[sources]",
    ]
    for key in ("sockets", "cores_per_socket", "smt", "cpu_numbering", "page_size",
                "pageblock_order", "max_order", "cacheline_bytes", "thp", "max_clients",
                "numa_distance", "nodes"):
        out.append(f"{key} = {q(src_host)}")
    out += [
        "",
        "[memory]",
        f"ram_start_kib = {mem['ram_start_kib']}",
        "zone_limits_kib = { " + ", ".join(f"{k} = {v}" for k, v in mem["zone_limits_kib"].items())
        + " }",
        "holes_kib = [" + ", ".join(f"[{a}, {b}]" for a, b in mem["holes_kib"]) + "]",
        "reserved_kib = [" + ", ".join(f"[{a}, {b}]" for a, b in mem["reserved_kib"]) + "]",
        "struct_page_bytes = 0",
        f"source = {q(_MEMORY_SOURCE)}",
    ]
    for n, pages in node_pages:
        out += ["", "[[nodes]]", f"cpus = {q(format_cpulist(cpus_of.get(n, ())))}",
                f"memory_mib = {num_exact(pages * zi.page_size / 2**20)}"]
    for key in sorted(costs):
        f = costs[key]
        out += ["", f"[costs.{key}]", f"value = {num(f.value)}", f"unit = {q(f.unit)}",
                f"source = {q(f.source)}"]
        if key in fitted:
            out += ["fitted = true", f"fitted_from = {q(fitted[key])}"]
    out += ["", "[calibration]"]
    for key, value in calibration.items():
        out.append(f"{key} = {_value(value)}")
    for row in rows:
        out += ["", "[[calibration.rows]]"]
        for key, value in row.items():
            out.append(f"{key} = {_value(value)}")
    return "\n".join(out) + "\n"


def num_exact(value: float) -> str:
    """A float written exactly (``repr``), for sizes that must round-trip to the page."""
    text = repr(float(value))
    return text


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return num(value)
    if isinstance(value, str):
        return q(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise PcplabError(f"cannot write {type(value).__name__} into a profile")
