"""A simulated day of the seed's stress test per design: 100 forced drains/s + allocator traffic.

Run: ``python benchmarks/bench_drain_day.py [--hours 24] [--designs workqueue,rcu,...]
[--machine rpi4] [--rate 100] [--full-check-every 10000] [--seed 0]``.  Not run in CI.

**Aggregated form** (what makes a day tractable; DESIGN.md "aggregated steps"):

* every drain is executed in full: the design's ``drain_all_pages(NULL, force_all_cpus=True)``
  generator runs on CPU 0 against the real allocator state, with its kworkers, grace periods and
  locks, exactly as in the timed simulator;
* time is not simulated: between two drains each other CPU runs one *burst* of allocator traffic
  (``burst`` order-0 allocations then frees through the design's fast paths, so its pcp lists are
  refilled and hold pages), interleaved with the drain by a seeded random scheduler over the
  kernel's enabled tasks — the 10 ms of traffic between two real drains is aggregated into that
  burst;
* after every drain, page conservation is checked from the counters (buddy free + every pcp list
  set + allocated = managed, per zone: O(zones x CPUs)); the full structural check
  (``pcplab.mm.check_invariants``) runs every ``--full-check-every`` drains and at the end.

Prints, per design: drains done, simulated span, wall time, projected wall time for a full day,
pages lost, invariant errors.  The exact mode of the same storm is ``pcplab noise --load
drain-storm`` (timed engine, full check after every drain).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

from pcplab import designs
from pcplab.kernel.ops import Sleep
from pcplab.kernel.state import Kernel
from pcplab.machines.registry import get_profile
from pcplab.mm import Machine, check_invariants
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.mm.invariants import zone_page_counts

EPOCH_WAIT = "epoch_wait"


def drainer(ctx: Any, design: Any, log: dict[str, int]) -> Any:
    while True:
        done = yield from design.drain_all_pages(ctx, None, True)
        log["drains"] += 1
        if done is False:
            log["skipped"] += 1
        yield Sleep(0, func=EPOCH_WAIT)


def traffic(ctx: Any, design: Any, zones: list[Any], burst: int, rng: random.Random) -> Any:
    held: list[tuple[Any, int]] = []
    while True:
        for _ in range(burst):
            zone = zones[rng.randrange(len(zones))]
            pfn = yield from design.alloc_pages(ctx, zone, 0, MIGRATE_MOVABLE)
            if pfn is not None:
                held.append((zone, pfn))
        while held:
            zone, pfn = held.pop()
            yield from design.free_pages(ctx, zone, pfn, 0)
        yield Sleep(0, func=EPOCH_WAIT)


def conservation(machine: Machine) -> list[str]:
    errs = []
    for z in machine.populated_zones():
        free, pcp, alloc = zone_page_counts(z)
        if free + pcp + alloc != z.managed:
            errs.append(f"{z.name}: free {free} + pcp {pcp} + allocated {alloc} != {z.managed}")
    return errs


def run_day(
    machine_name: str, design_name: str, hours: float, rate: float, burst: int,
    full_every: int, seed: int,
) -> dict[str, Any]:  # fmt: skip
    design = designs.get(design_name)
    machine = Machine.build(get_profile(machine_name).topology(), design.kernel_version)
    k = Kernel(machine.nr_cpus, machine=machine)
    k.record_events = False
    k.state = design.setup(machine, k)
    rng = random.Random(seed)
    log = {"drains": 0, "skipped": 0}
    programs = [k.spawn(0, drainer, (design, log), name="drainer")]
    zones = machine.populated_zones()
    for cpu in range(1, machine.nr_cpus):
        programs.append(
            k.spawn(cpu, traffic, (design, zones, burst, random.Random(seed * 1000 + cpu)))
        )
    target = int(hours * 3600 * rate)
    errors: list[str] = []
    t0 = time.perf_counter()
    steps = 0
    while log["drains"] < target and not errors:
        # one epoch: every program runs until it waits for the next epoch
        for t in programs:
            if t.op is not None and getattr(t.op, "func", "") == EPOCH_WAIT:
                k.step(t)  # leave the barrier
        while True:
            en = [
                t for t in k.enabled_tasks()
                if t.op is None or getattr(t.op, "func", "") != EPOCH_WAIT
            ]  # fmt: skip
            if not en:
                break
            k.step(en[rng.randrange(len(en))])
            steps += 1
        errors = conservation(machine)
        if not errors and full_every and log["drains"] % full_every == 0:
            errors = check_invariants(machine)
    if not errors:
        errors = check_invariants(machine)
    wall = time.perf_counter() - t0
    done = log["drains"]
    return {
        "design": design_name,
        "drains": done,
        "skipped": log["skipped"],
        "simulated_s": done / rate,
        "wall_s": wall,
        "steps": steps,
        "day_wall_s": wall / max(done, 1) * 86400 * rate,
        "errors": errors[:3],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--machine", default="rpi4")
    ap.add_argument("--designs", default="workqueue,rcu,static-key,spinlock-irqsave,spinlock")
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--burst", type=int, default=2)
    ap.add_argument("--full-check-every", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print(
        f"drain day (aggregated): machine {a.machine}, {a.rate:g} forced drains/s, "
        f"{a.hours:g} h simulated per design"
    )
    print(f"{'design':<18} {'drains':>10} {'sim(h)':>7} {'wall(s)':>9} {'day wall(min)':>14} "
          f"{'steps/s':>9} {'lost':>5}")  # fmt: skip
    bad = 0
    for name in a.designs.split(","):
        r = run_day(a.machine, name, a.hours, a.rate, a.burst, a.full_check_every, a.seed)
        lost = "no" if not r["errors"] else "YES"
        bad += bool(r["errors"])
        print(
            f"{r['design']:<18} {r['drains']:>10} {r['simulated_s'] / 3600:>7.3f} "
            f"{r['wall_s']:>9.1f} {r['day_wall_s'] / 60:>14.1f} "
            f"{r['steps'] / max(r['wall_s'], 1e-9):>9.0f} {lost:>5}",
            flush=True,
        )
        for e in r["errors"]:
            print(f"    {e}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
