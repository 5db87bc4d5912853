"""Throughput of the mm fast paths the simulator and checker call most.

Prints operations per second for: pcp alloc+free pairs (``rmqueue_pcplist`` +
``free_unref_page``, including the refills and bulk frees they trigger) per kernel version, and
``check_invariants`` + ``state_key`` on a tiny checker-sized machine.  The baseline is a bare
deque push/pop loop in the same process; ratios are printed against it.
Usage: ``python benchmarks/bench_mm_ops.py``.
"""

from __future__ import annotations

import time
from collections import deque

from pcplab.mm import MIGRATE_MOVABLE, Machine, check_invariants, ops, state_key, tiny_topology

N = 100_000


def baseline() -> float:
    d: deque[int] = deque(range(1000))
    t = time.perf_counter()
    for i in range(N):
        d.appendleft(i)
        d.pop()
    return N / (time.perf_counter() - t)


def pcp_pairs(version: str) -> float:
    m = Machine.build(tiny_topology(zone_pages=(1 << 18,)), version)
    z = m.zones[0]
    p = z.per_cpu_pageset[0]
    held: deque[int] = deque()
    t = time.perf_counter()
    for _ in range(N):
        pfn = ops.rmqueue_pcplist(z, p, 0, MIGRATE_MOVABLE)
        held.append(pfn)
        if len(held) > 1000:
            ops.free_unref_page(z, p, held.popleft(), 0)
    return N / (time.perf_counter() - t)


def checks() -> float:
    m = Machine.build(tiny_topology(zone_pages=(512,), cpus_per_node=3), "6.0", batch=4, high=16)
    n = 5000
    t = time.perf_counter()
    for _ in range(n):
        check_invariants(m)
        state_key(m)
    return n / (time.perf_counter() - t)


def main() -> None:
    base = baseline()
    print(f"baseline deque push+pop: {base / 1e3:.0f}k/s")
    for v in ("5.17", "6.0", "6.7", "6.13"):
        r = pcp_pairs(v)
        print(f"kernel {v}: pcp alloc+free pairs {r / 1e3:.0f}k/s ({base / r:.1f}x baseline cost)")
    r = checks()
    print(f"check_invariants + state_key, 512-page 3-CPU machine: {r / 1e3:.1f}k/s")


if __name__ == "__main__":
    main()
