"""The seed's drain stress test in aggregated form: many forced drains, no simulated time.

The seed's cover letter (kernel-pcp.md §10.4) ran 100 forced drains/s plus pft for a day.  A
literal day is 8.64 M drains; the timed engine (``pcplab noise --load drain-storm``, the exact
mode, full invariant check after every drain) is far too slow for that, so this driver:

* executes **every drain in full**: the design's ``drain_all_pages(NULL, force_all_cpus=True)``
  generator runs on CPU 0 against the real allocator state, with its kworkers, grace periods and
  locks (``pcplab.kernel.state.Kernel`` semantics);
* does **not simulate time**: between two drains (one *epoch*) every other CPU runs one burst of
  allocator traffic (``burst`` order-0 allocations then frees through the design's fast paths, so
  its pcp lists are refilled and hold pages) — the traffic of a drain interval aggregated into
  that burst — interleaved with the drain by a seeded random scheduler over the kernel's enabled
  tasks (so it also explores races the timed engine's schedule never produces);
* checks page conservation from the counters after every drain (buddy free + every pcp list set
  + allocated = managed, per zone: O(zones x CPUs)) and the full structural check
  (``pcplab.mm.check_invariants``) every ``full_check_every`` drains and at the end.

Design errors surface as the exceptions the kernel model raises (``KernelViolation`` for a list
race or a lock error, ``DoubleAlloc``/``BadFree``) or as a failed check.
"""

from __future__ import annotations

import random
import time
from typing import Any

from pcplab import designs
from pcplab.kernel.ops import Sleep
from pcplab.kernel.state import Kernel
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
    machine_name: str, design_name: str, hours: float, rate: float = 100.0, burst: int = 2,
    full_every: int = 10_000, seed: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """``hours`` of forced drains at ``rate`` per second (``hours * 3600 * rate`` drains).
    Returns ``{"design", "drains", "skipped", "simulated_s", "wall_s", "steps", "day_wall_s",
    "errors"}`` (``errors``: the first failed checks, empty when nothing was lost)."""
    from pcplab.machines.registry import get_profile

    design = designs.get(design_name)
    machine = Machine.build(get_profile(machine_name).topology(), design.kernel_version)
    k = Kernel(machine.nr_cpus, machine=machine)
    k.record_events = False
    k.state = design.setup(machine, k)
    rng = random.Random(seed)
    rnd = rng.random
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
            try:
                k.step(en[int(rnd() * len(en))])
            except Exception as exc:  # noqa: BLE001 - a design bug the kernel model caught
                errors = [f"{type(exc).__name__}: {exc}"]
                break
            steps += 1
        if errors:
            break
        stuck = [t.name for t in programs if getattr(t.op, "func", "") != EPOCH_WAIT]
        if stuck:
            errors = [f"deadlock: {', '.join(stuck)} cannot proceed and nothing else can run"]
            break
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
