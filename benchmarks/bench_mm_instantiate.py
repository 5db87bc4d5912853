"""Build a 256-CPU, 1 TiB machine (8 nodes x 128 GiB, 4 KiB pages) and print time and peak RSS.

Target (task brief): < 10 s and < 1 GiB RSS.  Usage: ``python benchmarks/bench_mm_instantiate.py
[kernel-version ...]`` (default 6.0).  Also times ``check_invariants`` and ``state_key`` once.
"""

from __future__ import annotations

import resource
import sys
import time

from pcplab.mm import Machine, NodeSpec, Topology, ZoneSpec, check_invariants

GIB_PAGES = (1 << 30) // 4096


def big_topology() -> Topology:
    nodes = []
    pfn = 0
    for n in range(8):
        zones = []
        if n == 0:
            # x86-64 node 0: DMA (pfn 1..4095), DMA32 (up to 4 GiB), then Normal
            zones.append(ZoneSpec("DMA", 1, 4095, 3999, 3840))
            zones.append(ZoneSpec("DMA32", 4096, 1044480, 782000, 760000))
            pfn = 1 << 20
        normal = 128 * GIB_PAGES - (4 * GIB_PAGES if n == 0 else 0)
        zones.append(ZoneSpec("Normal", pfn, normal, normal, normal - normal // 64))
        pfn += normal
        nodes.append(NodeSpec(n, tuple(range(32 * n, 32 * n + 32)), tuple(zones)))
    return Topology(nodes=tuple(nodes), name="256cpu-1TiB")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    versions = sys.argv[1:] or ["6.0"]
    topo = big_topology()
    base = rss_mib()
    print(f"baseline peak RSS (interpreter + imports): {base:.0f} MiB")
    for v in versions:
        t0 = time.perf_counter()
        m = Machine.build(topo, v)
        t1 = time.perf_counter()
        blocks = sum(len(z.buddy_info) for z in m.zones)
        pages = sum(z.managed for z in m.zones)
        print(
            f"kernel {v}: build {t1 - t0:.2f} s, {m.nr_cpus} CPUs, {len(m.zones)} zones, "
            f"{pages} managed pages ({pages * 4096 / 2**40:.3f} TiB), {blocks} buddy blocks, "
            f"peak RSS {rss_mib():.0f} MiB"
        )
        z = m.zone_by_name("Normal", node=1)
        p = z.per_cpu_pageset[0]
        wm = z.watermarks
        print(
            f"  {z.name}: min_free_kbytes {m.min_free_kbytes}, wmark min/low/high "
            f"{wm.min}/{wm.low}/{wm.high}, batch {p.batch}, high {p.high} "
            f"(high_min {p.high_min}, high_max {p.high_max})"
        )
        t0 = time.perf_counter()
        errs = check_invariants(m)
        t1 = time.perf_counter()
        print(f"  check_invariants: {t1 - t0:.2f} s, {len(errs)} problems")
        del m
    print(f"peak RSS at end: {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
