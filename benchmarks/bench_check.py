"""Checker throughput on the standard scenarios: steps/s and executions/s per design.

    python benchmarks/bench_check.py [--designs rcu,spinlock] [--bound 1] [--scenarios a,b]

Prints one line per (design, scenario) and a total per design, plus the same search without the
state cache on the smallest scenario as an in-process baseline (the cache's speed-up ratio).
Figures depend on the machine and its load; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import platform
import time

from pcplab.check.api import DEFAULT_BOUND
from pcplab.check.explore import explore_dfs
from pcplab.check.scenario import STANDARD, ScenarioWorld, scenario_factory

REAL = ["workqueue", "rcu", "static-key", "spinlock-irqsave", "spinlock"]


def main() -> None:
    from pcplab import designs

    ap = argparse.ArgumentParser()
    ap.add_argument("--designs", default=",".join(REAL))
    ap.add_argument("--bound", type=int, default=DEFAULT_BOUND)
    ap.add_argument("--scenarios", default="")
    ap.add_argument(
        "--cache",
        choices=["auto", "on", "off"],
        default="auto",
        help="state cache (auto: as run_check, only without a bound)",
    )
    a = ap.parse_args()
    wanted = set(filter(None, a.scenarios.split(",")))
    bound = None if a.bound < 0 else a.bound
    cache = {"on": True, "off": False}.get(a.cache, bound is None)
    scs = [s for s in STANDARD if not wanted or s.name in wanted]
    print(
        f"python {platform.python_version()} on {platform.machine()}, bound {bound}, "
        f"state cache {'on' if cache else 'off'}"
    )
    print(f"{'design':<18} {'scenario':<28} {'execs':>7} {'states':>7} {'steps':>8} "
          f"{'secs':>7} {'steps/s':>8} {'execs/s':>8}")  # fmt: skip
    for name in a.designs.split(","):
        d = designs.get(name)
        tot_steps = tot_ex = 0
        tot_s = 0.0
        for sc in scs:
            r = explore_dfs(scenario_factory(d, sc), bound=bound, cache=cache)
            tot_steps += r.steps
            tot_ex += r.executions
            tot_s += r.seconds
            flag = "" if r.exhaustive else "  (not exhaustive)"
            flag += f"  VIOLATION {r.violation.kind}" if r.violation else ""
            print(f"{name:<18} {sc.name:<28} {r.executions:>7} {r.states:>7} {r.steps:>8} "
                  f"{r.seconds:>7.2f} {r.steps / r.seconds:>8.0f} "
                  f"{r.executions / r.seconds:>8.1f}{flag}")  # fmt: skip
        print(f"{name:<18} {'TOTAL':<28} {tot_ex:>7} {'':>7} {tot_steps:>8} {tot_s:>7.2f} "
              f"{tot_steps / tot_s:>8.0f} {tot_ex / tot_s:>8.1f}")  # fmt: skip
    # in-process baseline: the same search with the state cache switched the other way
    d = designs.get(a.designs.split(",")[0])
    sc = scs[0]
    t = time.perf_counter()
    one = explore_dfs(lambda: ScenarioWorld(d, sc), bound=bound, cache=cache)
    t1 = time.perf_counter()
    other = explore_dfs(lambda: ScenarioWorld(d, sc), bound=bound, cache=not cache)
    t2 = time.perf_counter()
    print(
        f"{d.name}/{sc.name}: cache {'on' if cache else 'off'} {one.steps} steps "
        f"{t1 - t:.2f} s; cache {'off' if cache else 'on'} {other.steps} steps {t2 - t1:.2f} s "
        f"(ratio x{(t2 - t1) / (t1 - t):.2f})"
    )


if __name__ == "__main__":
    main()
