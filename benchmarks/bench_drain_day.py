"""A simulated day of the seed's stress test per design: 100 forced drains/s + pft in a loop.

Run: ``python benchmarks/bench_drain_day.py [--hours 24] [--designs workqueue,rcu,...]
[--machine day] [--cpus 2] [--zones 1] [--rate 100] [--burst 1.5] [--full-check-every 10000]
[--seed 0] [--jobs 1] [--isolated CPULIST] [--isolated-task fifo] [--markdown docs/drain-day.md]``.
Not run in CI.

``--isolated 2`` (with ``--cpus 3``): those CPUs are nohz_full and run the isolated task (a few
page-allocating syscalls per drain epoch, returning to user space after each) instead of traffic,
so a design's nohz_full regime is exercised by every drain (``pcplab.workloads.drain_day``).

**Aggregated form** (``pcplab.workloads.drain_day``, where the method and its checks are
described): every drain runs the design's ``drain_all_pages(NULL, force_all_cpus=True)`` in full
against live pft-style traffic (order-0 MOVABLE allocations and frees through the design's fast
paths), interleaved by a seeded random scheduler; page conservation and deadlock freedom are
checked after every drain, the design's postcondition after every quiet drain, the full
structural check every ``--full-check-every`` drains and at the end.

Prints, per design: drains done, simulated span, wall time, µs per drain epoch, projected wall
time for a full day, kernel steps per drain, pages lost.  Before that, a calibration figure (µs
per ``Kernel.step`` of a no-op generator, same process) says how fast this machine runs Python
right now: on the shared 2-vCPU VM it varies by 1.5-2x with the other tenants' load, so compare
projections through it.  Measured figures: ``docs/drain-day.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from pcplab.errors import PcplabError
from pcplab.kernel.ops import Checkpoint
from pcplab.kernel.state import Kernel
from pcplab.mm import Machine
from pcplab.workloads.drain_day import DayMachine, build_machine, run_day


def step_cost_us(n: int = 200_000) -> float:
    """µs per ``Kernel.step`` of a task that yields a no-op: this machine's speed right now."""
    op = Checkpoint(func="calibrate")

    def spin(ctx: Any) -> Any:
        while True:
            yield op

    k = Kernel(1)
    t = k.spawn(0, spin)
    step = k.step
    step(t)
    t0 = time.perf_counter()
    for _ in range(n):
        step(t)
    return (time.perf_counter() - t0) / n * 1e6


def _machine(a: argparse.Namespace, design: str) -> Machine:
    from pcplab import designs

    version = designs.get(design).kernel_version
    if a.machine == "day":
        return DayMachine(cpus=a.cpus, zones=a.zones, batch=a.batch, high=a.high).build(version)
    return build_machine(a.machine, version)


def _one(a: argparse.Namespace, design: str) -> dict[str, Any]:
    def progress(drains: int, wall: float) -> None:
        if a.progress:
            print(f"    {design}: {drains} drains, {wall:.0f} s", file=sys.stderr, flush=True)

    return run_day(
        a.machine, design, a.hours, a.rate, a.burst, a.full_check_every, a.seed,
        machine=_machine(a, design), traffic_on_drainer_cpu=a.traffic_on_drainer_cpu,
        quiet=a.quiet, progress=progress, isolated=a.isolated_cpus,
        isolated_task=a.isolated_task,
    )  # fmt: skip


def _isolated(a: argparse.Namespace, names: list[str]) -> tuple[int, ...]:
    """``--isolated`` checked against the machine the day runs on (CPU 0 is the drainer's)."""
    from pcplab import designs
    from pcplab.machines.cpulist import parse_cpulist

    if not a.isolated:
        return ()
    cpus = parse_cpulist(a.isolated)
    if not cpus:
        raise PcplabError(f"--isolated {a.isolated!r} names no CPU; give e.g. --isolated 2")
    nr = _machine(a, names[0]).nr_cpus if names else a.cpus
    bad = [c for c in cpus if not 0 < c < nr]
    if bad:
        raise PcplabError(
            f"--isolated: CPU(s) {bad} are not among 1-{nr - 1} of machine {a.machine} "
            "(CPU 0 runs the drainer)"
        )
    for n in names:
        designs.get(n)
    return cpus


def _row(r: dict[str, Any]) -> str:
    lost = "no" if not r["errors"] else "YES"
    us = r["wall_s"] / max(r["drains"], 1) * 1e6
    return (
        f"| {r['design']} | {r['drains']:,} | {r['simulated_s'] / 3600:.3f} | "
        f"{r['wall_s']:.1f} | {us:.0f} | {r['day_wall_s'] / 60:.1f} | "
        f"{r['steps'] / max(r['drains'], 1):.0f} | {r['quiet_drains']:,} | {r['allocs']:,} | "
        f"{lost} |"
    )


HEADER = (
    "| design | drains | simulated h | wall s | µs/drain | full day (min) | steps/drain | "
    "quiet drains | pages allocated | lost |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--machine", default="day", help="'day' (small, see --cpus...) or a profile")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--zones", type=int, default=1)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--high", type=int, default=8)
    ap.add_argument("--traffic-on-drainer-cpu", action="store_true")
    ap.add_argument("--designs", default="workqueue,rcu,static-key,spinlock-irqsave,spinlock")
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--burst", type=float, default=1.5, help="mean allocations per burst")
    ap.add_argument("--quiet", type=float, default=0.05, help="fraction of quiet epochs")
    ap.add_argument("--full-check-every", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="designs run in parallel processes")
    ap.add_argument("--progress", action="store_true", help="report every full check on stderr")
    ap.add_argument("--isolated", default="", help="nohz_full CPUs running the isolated task")
    ap.add_argument("--isolated-task", default="fifo",
                    choices=["fifo", "other", "fifo-busy", "idle"],
                    help="what they run ('idle': nothing; the others are the same here)")
    ap.add_argument("--markdown", help="also write the table to this file (at the end)")
    a = ap.parse_args(argv)
    names = a.designs.split(",")
    try:
        a.isolated_cpus = _isolated(a, names)
    except PcplabError as exc:
        print(f"bench_drain_day: error: {exc}", file=sys.stderr)
        return 2
    calib = step_cost_us()
    where = (
        f"day machine: {a.cpus} CPUs, {a.zones} zone(s), batch {a.batch}, high {a.high}, "
        f"traffic on CPU {'0' if a.traffic_on_drainer_cpu else '1'}..{a.cpus - 1}"
        if a.machine == "day"
        else f"machine {a.machine}"
    )
    if a.isolated_cpus:
        where += (f"; nohz_full CPUs {','.join(map(str, a.isolated_cpus))} run the isolated "
                  f"task ({a.isolated_task}) instead of traffic")
    head = (
        f"drain day (aggregated): {where}; {a.rate:g} forced drains/s, {a.hours:g} h simulated "
        f"per design, burst mean {a.burst:g}, quiet {a.quiet:g}, full check every "
        f"{a.full_check_every}, seed {a.seed}\ncalibration: {calib:.2f} µs per no-op Kernel.step"
    )
    print(head)
    print(HEADER, flush=True)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if a.jobs > 1:
        with ProcessPoolExecutor(max_workers=a.jobs) as ex:
            for r in ex.map(_one, [a] * len(names), names):
                rows.append(r)
                print(_row(r), flush=True)
    else:
        for n in names:
            rows.append(_one(a, n))
            print(_row(rows[-1]), flush=True)
    for r in rows:
        for e in r["errors"]:
            print(f"    {r['design']}: {e}")
    total = time.perf_counter() - t0
    print(f"total wall {total:.1f} s")
    if a.markdown:
        cmd = "python benchmarks/bench_drain_day.py " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        text = (
            f"Command: `{cmd}`\n\n{head}\n\n{HEADER}\n"
            + "\n".join(_row(r) for r in rows)
            + "\n\n"
            + "".join(f"- {r['design']}: {e}\n" for r in rows for e in r["errors"])
            + f"Total wall {total:.1f} s.\n"
        )
        tmp = a.markdown + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, a.markdown)
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
