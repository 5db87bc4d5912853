"""A simulated day of the seed's stress test per design: 100 forced drains/s + allocator traffic.

Run: ``python benchmarks/bench_drain_day.py [--hours 24] [--designs workqueue,rcu,...]
[--machine rpi4] [--rate 100] [--full-check-every 10000] [--seed 0]``.  Not run in CI.

**Aggregated form** (``pcplab.workloads.drain_day``; what makes a day tractable, DESIGN.md
"aggregated steps"):

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
pages lost, invariant errors.  Measured on the shared 2-vCPU build VM (rpi4, 0.05 h = 18,000
drains per design): 26-45 s each, i.e. a full day takes about 3.5-6 hours per design.  The exact mode of the same storm is ``pcplab noise --load
drain-storm`` (timed engine, full check after every drain).
"""

from __future__ import annotations

import argparse
import sys

from pcplab.workloads.drain_day import run_day


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--machine", default="day")
    ap.add_argument("--designs", default="workqueue,rcu,static-key,spinlock-irqsave,spinlock")
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--burst", type=int, default=4)
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
