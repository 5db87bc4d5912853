"""The ``host`` profile: this machine, read from /proc/zoneinfo, /sys/devices/system/node and
/proc/cpuinfo (plus a few vm sysctls). Cost facts are generic ASSUMPTIONs: nothing here measures
hardware; use a TOML profile for real figures.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

from pcplab.errors import PcplabError
from pcplab.machines.cpulist import parse_cpulist
from pcplab.machines.profile import Fact, NodeLayout, Profile
from pcplab.machines.zoneinfo import Zoneinfo, load_zoneinfo

_GENERIC = "ASSUMPTION: generic host default (not measured); write a TOML profile for real figures"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    if text is None:
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None


def host_node_cpus(sys_root: Path) -> dict[int, tuple[int, ...]]:
    """CPUs of each NUMA node from /sys/devices/system/node/node*/cpulist (empty if absent)."""
    base = sys_root / "devices" / "system" / "node"
    out: dict[int, tuple[int, ...]] = {}
    if not base.is_dir():
        return out
    for entry in sorted(base.iterdir()):
        m = re.fullmatch(r"node(\d+)", entry.name)
        if m is None:
            continue
        text = _read(entry / "cpulist")
        if text is None:
            continue
        try:
            out[int(m.group(1))] = parse_cpulist(text)
        except PcplabError as exc:
            raise PcplabError(f"{entry / 'cpulist'}: {exc}") from None
    return out


def _cpuinfo(proc_root: Path) -> list[dict[str, str]]:
    text = _read(proc_root / "cpuinfo") or ""
    cpus: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if cur:
                cpus.append(cur)
                cur = {}
            continue
        key, _, value = line.partition(":")
        cur[key.strip()] = value.strip()
    if cur:
        cpus.append(cur)
    return [c for c in cpus if "processor" in c]


def host_zoneinfo(proc_root: Path | str = "/proc", sys_root: Path | str = "/sys") -> Zoneinfo:
    """/proc/zoneinfo of this host with node CPU lists from /sys and the real page size."""
    proc_root, sys_root = Path(proc_root), Path(sys_root)
    page_size = os.sysconf("SC_PAGE_SIZE") if proc_root == Path("/proc") else 4096
    pmd = _read_int(sys_root / "kernel" / "mm" / "transparent_hugepage" / "hpage_pmd_size")
    pageblock_order = (pmd // page_size).bit_length() - 1 if pmd and pmd > page_size else 9
    node_cpus = host_node_cpus(sys_root) or None
    return load_zoneinfo(
        proc_root / "zoneinfo",
        node_cpus=node_cpus,
        page_size=page_size,
        pageblock_order=pageblock_order,
    )


def host_settings(
    proc_root: Path | str = "/proc", sys_root: Path | str = "/sys"
) -> dict[str, object]:
    """The vm sysctls and THP mode that shape sizing, as this host has them (None = unknown)."""
    proc_root, sys_root = Path(proc_root), Path(sys_root)
    thp_text = _read(sys_root / "kernel" / "mm" / "transparent_hugepage" / "enabled")
    thp = None if thp_text is None else "[never]" not in thp_text
    return {
        "kernel": platform.release() if proc_root == Path("/proc") else None,
        "thp": thp,
        "min_free_kbytes": _read_int(proc_root / "sys" / "vm" / "min_free_kbytes"),
        "watermark_scale_factor": _read_int(proc_root / "sys" / "vm" / "watermark_scale_factor"),
        "percpu_pagelist_high_fraction": _read_int(
            proc_root / "sys" / "vm" / "percpu_pagelist_high_fraction"
        ),
    }


def host_profile(
    proc_root: Path | str = "/proc",
    sys_root: Path | str = "/sys",
    zoneinfo: Zoneinfo | None = None,
) -> Profile:
    """A Profile of this machine. ``min_free_kbytes`` is left to the model (the host's sysctl is
    kept in ``topology().extra['host']`` for comparison); the scale factor, high fraction and
    THP mode are taken as set. ``zoneinfo``: an already read :func:`host_zoneinfo`."""
    zi = zoneinfo if zoneinfo is not None else host_zoneinfo(proc_root, sys_root)
    settings = host_settings(proc_root, sys_root)
    topo = zi.topology(
        thp=settings["thp"] if isinstance(settings["thp"], bool) else True,
        watermark_scale_factor=int(settings["watermark_scale_factor"] or 10),  # type: ignore[call-overload]  # int | None from _read_int
        percpu_pagelist_high_fraction=int(settings["percpu_pagelist_high_fraction"] or 0),  # type: ignore[call-overload]  # int | None
        name="host",
    )
    topo.extra["host"] = settings
    info = _cpuinfo(Path(proc_root))
    nr_cpus = topo.nr_cpus
    sockets = len({c.get("physical id", "0") for c in info}) or 1
    cores = int(info[0].get("cpu cores", 0) or 0) if info else 0
    siblings = int(info[0].get("siblings", 0) or 0) if info else 0
    smt = siblings // cores if cores and siblings else 1
    if sockets * cores * smt != nr_cpus:  # VMs and non-x86 cpuinfo: fall back to flat cores
        sockets, cores, smt = 1, nr_cpus, 1
    mhz = info[0].get("cpu MHz") if info else None
    clock = round(float(mhz) / 1000, 3) if mhz else 2.0
    model = info[0].get("model name", "unknown CPU") if info else "unknown CPU"
    nodes = tuple(
        NodeLayout(n.node_id, n.cpus, sum(z.present for z in n.zones)) for n in topo.nodes
    )
    n = len(nodes)
    costs = {
        "clock_ghz": Fact(clock, "GHz", "/proc/cpuinfo 'cpu MHz'" if mhz else _GENERIC),
        "mem_bw_node_gbs": Fact(20.0, "GB/s", _GENERIC),
        "cacheline_local_ns": Fact(50.0, "ns", _GENERIC),
        "cacheline_remote_socket_ns": Fact(150.0, "ns", _GENERIC),
        "ipi_ns": Fact(2000.0, "ns", _GENERIC + " (kernel-pcp.md 17: 1-3 us)"),
        "context_switch_ns": Fact(3000.0, "ns", _GENERIC),
        "smt_per_core": Fact(float(smt), "threads", "/proc/cpuinfo siblings / cpu cores"),
        "llc_mb": Fact(32.0, "MB per socket", _GENERIC),
    }
    return Profile(
        name="host",
        description=f"this machine: {model}, {nr_cpus} CPUs, {n} node(s), "
        f"kernel {settings['kernel'] or 'unknown'}",
        arch=platform.machine(),
        sockets=sockets,
        cores_per_socket=cores,
        smt=smt,
        cpu_numbering="thread-major",
        page_size=zi.page_size,
        pageblock_order=zi.pageblock_order,
        max_order=10,
        cacheline_bytes=64,
        thp=topo.thp,
        max_clients=nr_cpus,
        default_kernel=host_kernel(settings) or zi.default_kernel,
        numa_distance=tuple(tuple(10 if i == j else 20 for j in range(n)) for i in range(n)),
        nodes=nodes,
        memory=None,
        costs=costs,
        sources={"all": "read from /proc and /sys of this host; costs are generic assumptions"},
        origin="host",
        imported=topo,
    )


def host_kernel(settings: dict[str, object]) -> str | None:
    """'major.minor' of the running kernel if pcplab knows it, else None."""
    release = settings.get("kernel")
    if not isinstance(release, str):
        return None
    m = re.match(r"(\d+)\.(\d+)", release)
    if m is None:
        return None
    name = f"{m.group(1)}.{m.group(2)}"
    try:
        from pcplab.mm.version import parse_kernel

        parse_kernel(name)
    except PcplabError:
        return None
    return name
