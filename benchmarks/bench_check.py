"""Checker throughput on the standard scenarios: steps/s and executions/s per design.

    python benchmarks/bench_check.py [--designs rcu,spinlock] [--bound 1] [--scenarios a,b]
                                     [--cache auto|on|off] [--no-baseline]

Prints one line per (design, scenario) and a total per design.  ``steps`` count every step the
explorer executes, schedule-prefix replays included; ``cpu-s`` is the process CPU time, which is
steadier than wall time on a shared machine (``steps/cpu-s`` beside ``steps/s``).

In-process baselines (same scenario, same search, run in this process one after the other):

* *rebuild + full check*: every execution rebuilds the world with ``ScenarioWorld(design,
  scenario)`` and every state runs the full ``pcplab.mm.check_invariants`` — the checker's slow
  path before ``scenario_factory`` (world clones) and ``machine_consistent`` (the invariant fast
  path) — against the fast path; the search is identical, so the step counts agree;
* the same search with the state cache switched the other way (its speed-up ratio);
* unbounded (``--bound -1``): the same search with and without the synchronisation-point
  reduction (``explore_dfs(atomic=...)``), alternating, medians of three.

Anchors (the issue): SPIN explores a toy model of this protocol at about 2 M states/s (C); the
best Python tool found explores about 200 executions/s; the aim is at least 100 000 steps/s.
Figures depend on the machine and its load; no speed is asserted (only that both paths ran the
same search).
"""

from __future__ import annotations

import argparse
import platform
import time

from pcplab.check.api import DEFAULT_BOUND
from pcplab.check.explore import explore_dfs
from pcplab.check.scenario import STANDARD, ScenarioWorld, scenario_factory

REAL = ["workqueue", "rcu", "static-key", "spinlock-irqsave", "spinlock"]


class _SlowWorld(ScenarioWorld):
    """The slow path: the full invariant check on every state (no fast path)."""

    def check_state(self):  # type: ignore[no-untyped-def]
        from pcplab.check.world import Violation
        from pcplab.mm.invariants import check_invariants

        if self.setup_violation is not None:
            return self.setup_violation
        errs = check_invariants(self.machine)
        return Violation("page-lost", errs[0]) if errs else None


def _timed(factory, bound, cache, atomic=False, limit=None):  # type: ignore[no-untyped-def]
    c0 = time.process_time()
    r = explore_dfs(factory, bound=bound, cache=cache, atomic=atomic, time_limit=limit)
    return r, time.process_time() - c0


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
    ap.add_argument(
        "--atomic",
        choices=["auto", "on", "off"],
        default="auto",
        help="synchronisation-point reduction (auto: as run_check, only without a bound)",
    )
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per scenario")
    ap.add_argument("--no-baseline", action="store_true", help="skip the in-process baselines")
    a = ap.parse_args()
    wanted = set(filter(None, a.scenarios.split(",")))
    bound = None if a.bound < 0 else a.bound
    cache = {"on": True, "off": False}.get(a.cache, bound is None)
    atomic = {"on": True, "off": False}.get(a.atomic, bound is None)
    scs = [s for s in STANDARD if not wanted or s.name in wanted]
    print(
        f"python {platform.python_version()} on {platform.machine()}, bound {bound}, "
        f"state cache {'on' if cache else 'off'}, synchronisation-point reduction "
        f"{'on' if atomic else 'off'}"
    )
    print(f"{'design':<18} {'scenario':<28} {'execs':>7} {'states':>7} {'steps':>8} "
          f"{'secs':>7} {'cpu-s':>7} {'steps/s':>8} {'execs/s':>8} {'steps/cpu-s':>11}")  # fmt: skip
    for name in a.designs.split(","):
        d = designs.get(name)
        tot_steps = tot_ex = 0
        tot_s = tot_cpu = 0.0
        for sc in scs:
            r, cpu = _timed(scenario_factory(d, sc), bound, cache, atomic, a.time_limit)
            tot_steps += r.steps
            tot_ex += r.executions
            tot_s += r.seconds
            tot_cpu += cpu
            flag = "" if r.exhaustive else "  (not exhaustive)"
            flag += f"  VIOLATION {r.violation.kind}" if r.violation else ""
            print(f"{name:<18} {sc.name:<28} {r.executions:>7} {r.states:>7} {r.steps:>8} "
                  f"{r.seconds:>7.2f} {cpu:>7.2f} {r.steps / r.seconds:>8.0f} "
                  f"{r.executions / r.seconds:>8.1f} {r.steps / max(cpu, 1e-9):>11.0f}"
                  f"{flag}")  # fmt: skip
        print(f"{name:<18} {'TOTAL':<28} {tot_ex:>7} {'':>7} {tot_steps:>8} {tot_s:>7.2f} "
              f"{tot_cpu:>7.2f} {tot_steps / tot_s:>8.0f} {tot_ex / tot_s:>8.1f} "
              f"{tot_steps / max(tot_cpu, 1e-9):>11.0f}")  # fmt: skip
    if a.no_baseline:
        return
    d = designs.get(a.designs.split(",")[0])
    sc = scs[0]
    fast, fast_cpu = _timed(scenario_factory(d, sc), bound, cache, atomic)
    slow, slow_cpu = _timed(lambda: _SlowWorld(d, sc), bound, cache, atomic)
    assert slow.steps == fast.steps and slow.executions == fast.executions  # same search
    print(
        f"{d.name}/{sc.name}: rebuild + full check {slow.steps} steps {slow_cpu:.2f} cpu-s; "
        f"clones + fast check {fast.steps} steps {fast_cpu:.2f} cpu-s "
        f"(speed-up x{slow_cpu / max(fast_cpu, 1e-9):.2f})"
    )
    one, t1 = _timed(scenario_factory(d, sc), bound, cache, atomic)
    other, t2 = _timed(scenario_factory(d, sc), bound, not cache, atomic)
    print(
        f"{d.name}/{sc.name}: cache {'on' if cache else 'off'} {one.steps} steps "
        f"{t1:.2f} cpu-s; cache {'off' if cache else 'on'} {other.steps} steps {t2:.2f} cpu-s "
        f"(ratio x{t2 / max(t1, 1e-9):.2f})"
    )
    if bound is None:
        # the reduction against the full search, alternating, median of three each (a shared
        # machine): same verdict required, states and CPU time compared
        red: list[float] = []
        full: list[float] = []
        for _ in range(3):
            r1, c1 = _timed(scenario_factory(d, sc), None, True, True)
            r2, c2 = _timed(scenario_factory(d, sc), None, True, False)
            assert (r1.violation is None) == (r2.violation is None)
            red.append(c1)
            full.append(c2)
        red.sort()
        full.sort()
        print(
            f"{d.name}/{sc.name}: reduction on {r1.states} states {red[1]:.2f} cpu-s; off "
            f"{r2.states} states {full[1]:.2f} cpu-s (speed-up x{full[1] / max(red[1], 1e-9):.2f})"
        )


if __name__ == "__main__":
    main()
