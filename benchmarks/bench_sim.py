"""Simulator speed: faults per wall-second, the full epyc-7742 pft table, SimPy-style micro runs.

Prints:

1. simulated page faults per wall-second in exact mode (every fault through the engine and the
   design's generators) and in aggregated mode (a full-size run);
2. wall time of the full pft table for ``epyc-7742`` (mmtests' 10 client counts, workqueue and
   rcu, 5 iterations; target ≤ 60 s);
3. the "simple events" (A, A': 100 processes x 2000 timeouts) and "lock ping-pong" (B, B2: 100
   processes looping acquire -> timeout(1) -> release on a capacity-1 / capacity-2 lock)
   micro-workloads on pcplab's engine and on SimPy in the same process when it is installed
   (peers.md §1.1 anchors on the reference VM: SimPy ~1.0 M timeouts/s, ~0.18-0.19 M resource
   cycles/s); the ratio pcplab/SimPy is printed per workload (see the comment above ``micro``).

Usage: ``python benchmarks/bench_sim.py [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from collections import deque
from typing import Any

from pcplab import designs
from pcplab.kernel import ops
from pcplab.kernel.locks import Mutex
from pcplab.machines.registry import get_profile
from pcplab.mm import Machine, tiny_topology
from pcplab.sim import pft
from pcplab.sim.api import run_pft
from pcplab.sim.engine import Simulator


def best_of(n: int, fn):
    best = None
    out = None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        best = dt if best is None or dt < best else best
    return best, out


# --- 1. faults per wall-second ------------------------------------------------------------------


def faults_per_second(quick: bool) -> None:
    prof = get_profile("xeon-e5-2640v3")
    s = pft.setup(prof, designs.get("workqueue"), mapping=(8 if quick else 32) << 20)
    for n in (1, 4):
        per, _ = pft.split_pages(s.mapping_bytes, s.page_size, n)
        cpus = pft.place_threads(s.costs, s.distance, n)
        machine = Machine.build(s.machine.topology, s.design.kernel_version)  # not timed
        t = time.perf_counter()
        res = pft.run_exact(machine, s.design, s.costs, cpus, per, s.distance, seed=1)
        dt = time.perf_counter() - t
        print(
            f"exact mode, {n} thread(s): {res.pages} faults in {dt:.2f} s wall = "
            f"{res.pages / dt:,.0f} simulated faults/s (every op through engine + design)"
        )
    s = pft.setup(prof, designs.get("workqueue"))
    for n in (1, 32):
        dt, (res, ev) = best_of(1, lambda n=n: pft.run_once(s, n, seed=1))
        print(
            f"aggregated mode, {n} thread(s): {res.pages:,} faults ({ev} steps) in {dt:.3f} s "
            f"wall = {res.pages / dt:,.0f} simulated faults/s"
        )


# --- 2. the full epyc table ----------------------------------------------------------------------


def epyc_table() -> None:
    t = time.perf_counter()
    for d in ("workqueue", "rcu"):
        run_pft("epyc-7742", d, iterations=5, seed=0)
    dt = time.perf_counter() - t
    print(
        f"full pft table epyc-7742 (10 client counts x 2 designs x 5 iterations): {dt:.1f} s "
        f"wall (target <= 60 s)"
    )


# --- 3. SimPy-style micro-workloads --------------------------------------------------------------
#
# Like with like: each pair below is the same program written for each engine, run in this process,
# best of 3 (other processes share the machine: the ratio of two runs made seconds apart is what
# carries over, not the absolute rates).  Events are what each engine took off its queue: SimPy's
# scheduled events (its ``_eid`` counter), pcplab's ``sim.events_processed``.
#
# A   simple events: 100 processes x N timeouts.  SimPy ``yield env.timeout(1)``; pcplab
#     ``yield ops.Sleep(1)`` (a program task sleeping 1 ns on its own CPU: one timer event each).
# A'  the same, the pcplab process yielding one ``Sleep`` object it made once (ops are plain
#     immutable descriptions, so this is legal; SimPy must create a new Timeout per wait).  A
#     minus A' is the cost of building the op object, workload code rather than engine code.
# B   lock ping-pong: 100 processes loop acquire -> hold 1 -> release on ONE lock.  SimPy
#     ``Resource(capacity=1)`` request/timeout(1)/release; pcplab ``MutexLock`` -> ``Sleep(1)`` ->
#     ``MutexUnlock`` on one ``Mutex``.  A mutex, not a spinlock, because it is the same kind of
#     work: a waiter blocks (frees its CPU) in a FIFO queue and the release hands the lock to the
#     first waiter, as a SimPy Resource grants the oldest request; a spinlock holder may not sleep
#     and its waiters burn CPU instead of waiting in a queue.  pcplab does more per cycle than
#     SimPy: the lock word's cacheline moves between CPUs and each acquire/release is priced, so a
#     cycle is ~4 engine events to SimPy's ~3.
# B2  B with capacity 2 (two mutexes, half the processes on each): peers.md section 1.1's anchor.
# A0  A's generators driven by a bare heapq loop that models nothing (measured ~1.3-1.8x SimPy).
# A1  the same with pcplab's queue structure, a heap of distinct times plus a FIFO per time (the
#     calendar queue): ~1.9-2.6x SimPy.  That is the ceiling for any engine consuming pcplab ops
#     in CPython here: 2x SimPy leaves ~0.15 us per event for everything the engine models.
#     pcplab's engine does far more per event (per-CPU scheduling, run-queue and IRQ checks,
#     accounting, kernel state, priced ops): as of 2026-11-26 (after a leaner timer path and
#     cheaper op construction) it is ~0.8-1.0x SimPy on A, ~1.0-1.4x on A' and ~0.3-0.4x on B
#     -- NOT the 2x the issue asks.  B costs 4 engine events per cycle (acquire end, hold end,
#     release end, the waiter's wake-up), each a pass through the per-CPU scheduler and the
#     kernel's lock rules; ~100 Python calls per cycle against SimPy's ~25.

_PROCS = 100


def _machine(cpus: int) -> Machine:
    return Machine.build(tiny_topology(nodes=1, cpus_per_node=cpus, zone_pages=(1024,)), "5.17")


def pcplab_timeouts(each: int, reuse: bool = False) -> tuple[float, int, int]:
    """A (A' with ``reuse``): returns (run seconds, timeouts done, engine events)."""
    sim = Simulator(_machine(_PROCS), noise=0)

    def proc(ctx):
        for _ in range(each):
            yield ops.Sleep(1)

    def proc_reuse(ctx):
        nap = ops.Sleep(1)
        for _ in range(each):
            yield nap

    for p in range(_PROCS):
        sim.spawn(p, proc_reuse if reuse else proc)
    t = time.perf_counter()
    sim.run()
    return time.perf_counter() - t, _PROCS * each, sim.events_processed


def pcplab_pingpong(cycles: int, capacity: int = 1) -> tuple[float, int, int]:
    """B (B2 with ``capacity=2``): returns (run seconds, cycles done, engine events)."""
    sim = Simulator(_machine(_PROCS), noise=0)
    locks = [Mutex(f"r{i}") for i in range(capacity)]

    def proc(ctx, lock):
        for _ in range(cycles):
            yield ops.MutexLock(lock)
            yield ops.Sleep(1)
            yield ops.MutexUnlock(lock)

    for p in range(_PROCS):
        sim.spawn(p, proc, (locks[p % capacity],))
    t = time.perf_counter()
    sim.run()
    return time.perf_counter() - t, _PROCS * cycles, sim.events_processed


def bare_loop_timeouts(each: int) -> tuple[float, int, int]:
    """A on a bare heapq + generator loop (no CPUs, no statistics, no kernel state): the ceiling
    any engine driving the same ``ops.Sleep`` generators can reach on this machine."""
    import heapq

    def proc():
        for _ in range(each):
            yield ops.Sleep(1)

    heap = [(0, i, proc()) for i in range(_PROCS)]
    seq = _PROCS
    pop, push = heapq.heappop, heapq.heappush
    t0 = time.perf_counter()
    while heap:
        t, _, g = pop(heap)
        try:
            op = g.send(None)
        except StopIteration:
            continue
        seq += 1
        push(heap, (t + op.ns, seq, g))
    return time.perf_counter() - t0, _PROCS * each, _PROCS * (each + 1)


def bare_calendar_timeouts(each: int) -> tuple[float, int, int]:
    """A on a bare calendar queue (a heap of distinct times, a FIFO per time; no CPUs, no
    statistics, no kernel state): the ceiling with the engine's queue structure."""
    import heapq

    def proc():
        for _ in range(each):
            yield ops.Sleep(1)

    gens = [proc() for _ in range(_PROCS)]
    keys = [0]
    buckets: dict[int, deque] = {0: deque(gens)}
    pop, push = heapq.heappop, heapq.heappush
    t0 = time.perf_counter()
    n = 0
    while keys:
        k = pop(keys)
        for g in buckets.pop(k):
            n += 1
            try:
                op = g.send(None)
            except StopIteration:
                continue
            nk = k + op.ns
            b = buckets.get(nk)
            if b is None:
                b = buckets[nk] = deque()
                push(keys, nk)
            b.append(g)
    return time.perf_counter() - t0, _PROCS * each, n


def simpy_timeouts(each: int) -> tuple[float, int, int]:
    import simpy

    env = simpy.Environment()

    def proc(env):
        for _ in range(each):
            yield env.timeout(1)

    for _ in range(_PROCS):
        env.process(proc(env))
    t = time.perf_counter()
    env.run()
    return time.perf_counter() - t, _PROCS * each, next(env._eid)


def simpy_pingpong(cycles: int, capacity: int = 1) -> tuple[float, int, int]:
    import simpy

    env = simpy.Environment()
    res = simpy.Resource(env, capacity=capacity)

    def proc(env):
        for _ in range(cycles):
            with res.request() as req:
                yield req
                yield env.timeout(1)

    for _ in range(_PROCS):
        env.process(proc(env))
    t = time.perf_counter()
    env.run()
    return time.perf_counter() - t, _PROCS * cycles, next(env._eid)


def _best(rounds: int, fn, other=None) -> tuple[tuple[float, int, int], Any]:
    """Best of ``rounds`` (seconds of the run itself, work units, events) of ``fn`` and, run
    alternately with it so both see the same machine load, of ``other``.  Only ``run()`` is timed:
    building the 100-CPU machine and the simulator (~20 ms) is set-up, not throughput."""
    mine = theirs = None
    for _ in range(rounds):
        r = fn()
        mine = r if mine is None or r < mine else mine
        if other is not None:
            r = other()
            theirs = r if theirs is None or r < theirs else theirs
    return mine, theirs


def micro(quick: bool) -> None:
    each = 200 if quick else 2000
    cyc = 100 if quick else 1000
    rounds = 1 if quick else 3
    try:
        import simpy  # noqa: F401

        have_simpy = True
    except ImportError:
        have_simpy = False
    cases = [
        ("A  simple events (fresh op)", "timeouts", lambda: pcplab_timeouts(each),
         lambda: simpy_timeouts(each), 1.0e6),
        ("A' simple events (reused op)", "timeouts", lambda: pcplab_timeouts(each, reuse=True),
         lambda: simpy_timeouts(each), 1.0e6),
        ("A0 simple events, bare heapq loop (ceiling)", "timeouts", lambda: bare_loop_timeouts(each),
         lambda: simpy_timeouts(each), 1.0e6),
        ("A1 simple events, bare calendar loop (ceiling)", "timeouts",
         lambda: bare_calendar_timeouts(each), lambda: simpy_timeouts(each), 1.0e6),
        ("B  lock ping-pong, capacity 1", "cycles", lambda: pcplab_pingpong(cyc),
         lambda: simpy_pingpong(cyc), 0.18e6),
        ("B2 lock ping-pong, capacity 2", "cycles", lambda: pcplab_pingpong(cyc, 2),
         lambda: simpy_pingpong(cyc, 2), 0.19e6),
    ]  # fmt: skip
    print(f"micro-workloads, {_PROCS} processes, best of {rounds}:")
    for name, unit, ours, theirs, anchor in cases:
        (dt, n, ev), simpy_best = _best(rounds, ours, theirs if have_simpy else None)
        line = (
            f"  {name}: {'bare loop' if name.startswith(('A0', 'A1')) else 'pcplab'} {n / dt:,.0f} {unit}/s ({ev / dt:,.0f} events/s, "
            f"{ev / n:.1f} events per {unit[:-1]})"
        )
        if have_simpy:
            sdt, sn, sev = simpy_best
            line += (
                f"; SimPy {sn / sdt:,.0f} {unit}/s ({sev / sdt:,.0f} events/s, "
                f"{sev / sn:.1f} per {unit[:-1]}) -> pcplab/SimPy = {(n / dt) / (sn / sdt):.2f}x"
            )
        else:
            line += (
                f"; SimPy not installed: peers.md anchor {anchor:,.0f} {unit}/s on the "
                f"reference VM -> {n / dt / anchor:.2f}x (different machine)"
            )
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs (smoke test)")
    args = ap.parse_args()
    faults_per_second(args.quick)
    if not args.quick:
        epyc_table()
    micro(args.quick)


if __name__ == "__main__":
    main()
