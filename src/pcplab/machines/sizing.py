"""The model's watermarks and pcp sizes for a topology, and their comparison with a zoneinfo.

Numbers come from :mod:`pcplab.mm.tunables`, the same functions ``pcplab.mm.machine.Machine.build``
sizes zones with, without building page-level state (a 1 TiB profile would need ~10^8 pages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pcplab.machines.zoneinfo import ReportedZone, Zoneinfo
from pcplab.mm.topology import Topology
from pcplab.mm.tunables import (
    PcpSizing,
    Watermarks,
    ZoneSize,
    machine_min_free_kbytes,
    pcp_sizing,
    setup_per_zone_wmarks,
)
from pcplab.mm.version import KernelVersion, parse_kernel


@dataclass(frozen=True)
class ModelZone:
    node: int
    name: str
    present: int
    managed: int
    cpus_on_node: int
    watermarks: Watermarks
    pcp: PcpSizing


@dataclass(frozen=True)
class ModelSizing:
    min_free_kbytes: int
    version: str
    zones: tuple[ModelZone, ...]


def _version(version: KernelVersion | str) -> KernelVersion:
    return parse_kernel(version) if isinstance(version, str) else version


def model_zones(topology: Topology, version: KernelVersion | str) -> ModelSizing:
    """Watermarks and batch/high of every zone of ``topology`` under ``version``'s rules."""
    kv = _version(version)
    entries = [(node, z) for node in topology.nodes for z in node.zones]
    sizes = [ZoneSize(z.name, z.present, z.managed) for _, z in entries]
    if topology.min_free_kbytes is not None:
        mfk = topology.min_free_kbytes
    else:
        mfk = machine_min_free_kbytes(
            sizes,
            topology.page_size,
            topology.pageblock_order,
            topology.thp,
            topology.watermark_scale_factor,
        )
    wms = setup_per_zone_wmarks(sizes, mfk, topology.page_size, topology.watermark_scale_factor)
    online = topology.nr_cpus
    zones = []
    for (node, z), wm in zip(entries, wms, strict=True):
        pcp = pcp_sizing(
            kv,
            z.managed,
            wm.low,
            len(node.cpus),
            online,
            topology.percpu_pagelist_high_fraction,
            page_size=topology.page_size,
        )
        zones.append(ModelZone(node.node_id, z.name, z.present, z.managed, len(node.cpus), wm, pcp))
    return ModelSizing(min_free_kbytes=mfk, version=kv.name, zones=tuple(zones))


def pcp_fields(autotune: bool) -> tuple[str, ...]:
    """The pageset fields ``pageset_update`` writes: ≤6.6 batch+high, 6.7+ batch+high_min/max.

    In 6.7+ the reported ``high`` is the run-time tuned value, so it is shown but not compared.
    """
    return ("batch", "high_min", "high_max") if autotune else ("batch", "high")


def _model_dict(mz: ModelZone, autotune: bool) -> dict[str, Any]:
    d: dict[str, Any] = {
        "watermarks": {
            "min": mz.watermarks.min,
            "low": mz.watermarks.low,
            "high": mz.watermarks.high,
            "promo": mz.watermarks.promo,
        }
    }
    for f in pcp_fields(autotune):
        d[f] = getattr(mz.pcp, f)
    return d


def _reported_dict(rz: ReportedZone) -> dict[str, Any]:
    wm = {"min": rz.min, "low": rz.low, "high": rz.high}
    if rz.promo is not None:
        wm["promo"] = rz.promo
    d: dict[str, Any] = {"watermarks": wm, "free": rz.free}
    for f in PCP_REPORTED:
        values = {getattr(p, f) for p in rz.pagesets}
        if len(values) == 1 and None not in values:
            d[f] = values.pop()
    d["cpus"] = [{k: v for k, v in vars(p).items() if v is not None} for p in rz.pagesets]
    return d


PCP_REPORTED = ("batch", "high", "high_min", "high_max")


@dataclass(frozen=True)
class ZoneComparison:
    node: int
    zone: str
    managed: int
    model: dict[str, Any]
    reported: dict[str, Any]
    mismatches: tuple[str, ...]

    @property
    def match(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "zone": self.zone,
            "managed": self.managed,
            "model": self.model,
            "reported": self.reported,
            "match": self.match,
            "mismatches": list(self.mismatches),
        }


def compare_zoneinfo(
    zi: Zoneinfo, version: KernelVersion | str, topology: Topology | None = None
) -> tuple[ModelSizing, list[ZoneComparison]]:
    """Model vs reported for every populated zone: watermarks (promo only if reported), then
    the fields ``pageset_update`` writes on every CPU."""
    topo = topology if topology is not None else zi.topology()
    kv = _version(version)
    sizing = model_zones(topo, kv)
    model_by_key = {(m.node, m.name): m for m in sizing.zones}
    out = []
    for rz in zi.populated_zones():
        mz = model_by_key[(rz.node, rz.name)]
        problems: list[str] = []
        for key in ("min", "low", "high", "promo"):
            reported = getattr(rz, key)
            if reported is not None and reported != getattr(mz.watermarks, key):
                problems.append(
                    f"watermark {key}: model {getattr(mz.watermarks, key)}, reported {reported}"
                )
        for f in pcp_fields(kv.autotune):
            want = getattr(mz.pcp, f)
            bad = [p for p in rz.pagesets if getattr(p, f) != want]
            if bad:
                got = sorted({str(getattr(p, f)) for p in bad})
                cpus = ",".join(str(p.cpu) for p in bad)
                problems.append(f"{f}: model {want}, reported {'/'.join(got)} on cpu {cpus}")
        if not rz.pagesets:
            problems.append("no pagesets reported for a populated zone")
        out.append(
            ZoneComparison(
                node=rz.node,
                zone=rz.name,
                managed=rz.managed,
                model=_model_dict(mz, kv.autotune),
                reported=_reported_dict(rz),
                mismatches=tuple(problems),
            )
        )
    return sizing, out


def model_zone_dicts(sizing: ModelSizing, autotune: bool) -> list[dict[str, Any]]:
    """JSON rows for ``machines show NAME``."""
    return [
        {
            "node": m.node,
            "zone": m.name,
            "present": m.present,
            "managed": m.managed,
            "cpus_on_node": m.cpus_on_node,
            "model": _model_dict(m, autotune),
        }
        for m in sizing.zones
    ]
