"""Simulator speed: faults per wall-second, the full epyc-7742 pft table, SimPy-style micro runs.

Prints:

1. simulated page faults per wall-second in exact mode (every fault through the engine and the
   design's generators) and in aggregated mode (a full-size run);
2. wall time of the full pft table for ``epyc-7742`` (mmtests' 10 client counts, workqueue and
   rcu, 5 iterations; target ≤ 60 s);
3. the "simple events" (A: 100 processes x 2000 timeouts) and "lock ping-pong" (B: 100 processes
   looping lock -> timeout(1) -> unlock on a capacity-2 resource) micro-workloads on pcplab's
   engine, and on SimPy in the same process when it is installed (peers.md §1.1 anchors on the
   reference VM: SimPy ~1.0 M timeouts/s and ~0.19 M resource cycles/s).

Usage: ``python benchmarks/bench_sim.py [--quick]``.
"""

from __future__ import annotations

import argparse
import time

from pcplab import designs
from pcplab.kernel import ops
from pcplab.kernel.locks import Mutex
from pcplab.machines.registry import get_profile
from pcplab.mm import Machine, tiny_topology
from pcplab.sim.api import run_pft
from pcplab.sim.engine import Simulator
from pcplab.workloads import pft


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
        print(f"exact mode, {n} thread(s): {res.pages} faults in {dt:.2f} s wall = "
              f"{res.pages / dt:,.0f} simulated faults/s (every op through engine + design)")
    s = pft.setup(prof, designs.get("workqueue"))
    for n in (1, 32):
        dt, (res, ev) = best_of(1, lambda n=n: pft.run_once(s, n, seed=1))
        print(f"aggregated mode, {n} thread(s): {res.pages:,} faults ({ev} steps) in {dt:.3f} s "
              f"wall = {res.pages / dt:,.0f} simulated faults/s")


# --- 2. the full epyc table ----------------------------------------------------------------------


def epyc_table() -> None:
    t = time.perf_counter()
    for d in ("workqueue", "rcu"):
        run_pft("epyc-7742", d, iterations=5, seed=0)
    dt = time.perf_counter() - t
    print(f"full pft table epyc-7742 (10 client counts x 2 designs x 5 iterations): {dt:.1f} s "
          f"wall (target <= 60 s)")


# --- 3. SimPy-style micro-workloads --------------------------------------------------------------


def _machine(cpus: int) -> Machine:
    return Machine.build(tiny_topology(nodes=1, cpus_per_node=cpus, zone_pages=(1024,)), "5.17")


def pcplab_timeouts(procs: int, each: int) -> int:
    """A: ``procs`` tasks, each doing ``each`` timeouts (Sleep(1)); returns timeouts done."""
    sim = Simulator(_machine(procs), noise=0)

    def proc(ctx):
        for _ in range(each):
            yield ops.Sleep(1)

    for p in range(procs):
        sim.spawn(p, proc)
    sim.run()
    return procs * each


def pcplab_pingpong(procs: int, cycles: int) -> int:
    """B: ``procs`` tasks loop lock -> timeout(1) -> unlock; capacity 2 = two mutexes, half the
    tasks on each (each mutex queue is FIFO like a SimPy Resource's)."""
    sim = Simulator(_machine(procs), noise=0)
    locks = (Mutex("r0"), Mutex("r1"))

    def proc(ctx, lock):
        for _ in range(cycles):
            yield ops.MutexLock(lock)
            yield ops.Sleep(1)
            yield ops.MutexUnlock(lock)

    for p in range(procs):
        sim.spawn(p, proc, (locks[p % 2],))
    sim.run()
    return procs * cycles


def simpy_timeouts(procs: int, each: int) -> int:
    import simpy

    env = simpy.Environment()

    def proc(env):
        for _ in range(each):
            yield env.timeout(1)

    for _ in range(procs):
        env.process(proc(env))
    env.run()
    return procs * each


def simpy_pingpong(procs: int, cycles: int) -> int:
    import simpy

    env = simpy.Environment()
    res = simpy.Resource(env, capacity=2)

    def proc(env):
        for _ in range(cycles):
            with res.request() as req:
                yield req
                yield env.timeout(1)

    for _ in range(procs):
        env.process(proc(env))
    env.run()
    return procs * cycles


def micro(quick: bool) -> None:
    each = 200 if quick else 2000
    cyc = 100 if quick else 1000
    rounds = 1 if quick else 3
    dt, n = best_of(rounds, lambda: pcplab_timeouts(100, each))
    ours_a = n / dt
    dt, n = best_of(rounds, lambda: pcplab_pingpong(100, cyc))
    ours_b = n / dt
    print(f"pcplab engine, A simple events: {ours_a:,.0f} timeouts/s")
    print(f"pcplab engine, B lock ping-pong: {ours_b:,.0f} cycles/s")
    try:
        import simpy  # noqa: F401
    except ImportError:
        print("simpy not installed: anchors from peers.md §1.1 (reference VM): "
              f"A 1.0 M/s -> ratio {ours_a / 1.0e6:.2f}; B 0.19 M/s -> ratio {ours_b / 0.19e6:.2f}")
        return
    dt, n = best_of(rounds, lambda: simpy_timeouts(100, each))
    sa = n / dt
    dt, n = best_of(rounds, lambda: simpy_pingpong(100, cyc))
    sb = n / dt
    print(f"SimPy (same process), A: {sa:,.0f} timeouts/s -> pcplab/SimPy = {ours_a / sa:.2f}")
    print(f"SimPy (same process), B: {sb:,.0f} cycles/s -> pcplab/SimPy = {ours_b / sb:.2f}")


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
