"""The seed's drain stress test in aggregated form: many forced drains, no simulated time.

The seed's cover letter (kernel-pcp.md §10.4) ran 100 forced drains/s plus pft for a day.  A
literal day is 8.64 M drains; the timed engine (``pcplab noise --load drain-storm``, the exact
mode, full invariant check after every drain) is far too slow for that, so this driver:

* executes **every drain in full**: the design's ``drain_all_pages(NULL, force_all_cpus=True)``
  generator runs on CPU 0 against the real allocator state, with its kworkers, grace periods and
  locks (``pcplab.kernel.state.Kernel`` semantics);
* does **not simulate time**: between two drains (one *epoch*) every traffic CPU runs one burst
  of pft-style allocator traffic — order-0 MOVABLE allocations, then frees of the same pages,
  through the design's fast paths (``alloc_pages``/``free_pages``), so its pcp lists are
  refilled, trimmed at ``high`` and hold pages when the drain comes.  The burst length is drawn
  per epoch (seeded) from ``1 .. 2 * burst - 1``: the traffic of a drain interval aggregated;
* interleaves drain and traffic with a seeded random scheduler over the kernel's enabled tasks
  (``Kernel.enabled_indices``), so it also explores races the timed engine's schedule never
  produces;
* checks page conservation after every drain by recounting the lists (buddy free counter + pages
  on every pcp list set, recounted + allocated = managed, per zone: O(zones x CPUs x lists));
  the full structural check (``pcplab.mm.check_invariants``) runs every ``full_every`` drains and
  at the end.

The default machine is **the smallest one that still exercises every design path** (``DAY``):
three CPUs (the drainer's CPU 0 and two traffic CPUs, so a drain crosses several remote CPUs and
the traffic CPUs contend on ``zone->lock``), two zones (the per-zone drain loop, per-zone locks),
``batch`` 2 and ``high`` 8 (= the kernel's floor ``4 * batch``, ``zone_highsize``), so a burst
refills a list several times and, when long enough, trims it through ``free_pcppages_bulk``.  A
named machine profile (``rpi4``, ...) runs with the kernel's own sizing instead, far slower.
ASSUMPTION: races between traffic and drain do not depend on the list lengths a big batch/high
gives, only on the order of the critical sections, which the random scheduler explores.

Design errors surface as the exceptions the kernel model raises (``KernelViolation`` for a list
race or a lock error, ``DoubleAlloc``/``BadFree``) or as a failed check.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from pcplab import designs
from pcplab.errors import PcplabError
from pcplab.kernel.ops import Sleep
from pcplab.kernel.state import BLOCKED, Kernel
from pcplab.mm import Machine, check_invariants
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.mm.machine import tiny_topology

EPOCH_WAIT = "epoch_wait"
#: the one op every program yields at the end of its epoch; identity marks "at the barrier"
_BARRIER = Sleep(0, func=EPOCH_WAIT)


@dataclass(frozen=True)
class DayMachine:
    """A small machine for the day: ``cpus`` CPUs on one node, ``zones`` zones of ``zone_pages``
    pages each, every zone's pcp ``batch``/``high`` forced (``Machine.build`` overrides)."""

    cpus: int = 3
    zones: int = 2
    zone_pages: int = 2048
    batch: int = 2
    high: int = 8

    def build(self, version: str) -> Machine:
        names = ("DMA32", "Normal")
        if not 1 <= self.zones <= len(names):
            raise PcplabError(f"day machine: {self.zones} zones; use 1 or 2")
        if self.cpus < 2:
            raise PcplabError(f"day machine: {self.cpus} CPUs; use at least 2 (drainer + traffic)")
        topo = tiny_topology(
            cpus_per_node=self.cpus,
            zone_pages=(self.zone_pages,) * self.zones,
            zone_names=names[: self.zones],
            name="day",
        )
        return Machine.build(topo, version, batch=self.batch, high=self.high)


DAY = DayMachine()


def drainer(ctx: Any, drain_all_pages: Any, log: list[int]) -> Any:
    while True:
        done = yield from drain_all_pages(ctx, None, True)
        log[0] += 1
        if done is False:
            log[1] += 1
        yield _BARRIER


def traffic(
    ctx: Any, design: Any, zones: list[Any], burst: float, rng: random.Random, log: list[int]
) -> Any:
    """pft in a loop, aggregated: each epoch fault in ``n`` order-0 MOVABLE pages then free them
    (unmap); ``n`` is geometric with mean ``burst`` (mostly short bursts, now and then a long
    one that refills the list several times and trims it at ``high``)."""
    alloc_pages = design.alloc_pages
    free_pages = design.free_pages
    rnd = rng.random
    nz = len(zones)
    more = 1.0 - 1.0 / burst
    held: list[tuple[Any, int]] = []
    while True:
        n = 1
        while rnd() < more:
            n += 1
        for _ in range(n):
            zone = zones[int(rnd() * nz)] if nz > 1 else zones[0]
            pfn = yield from alloc_pages(ctx, zone, 0, MIGRATE_MOVABLE)
            if pfn is None:
                log[2] += 1  # allocation failure: legal, but counted
            else:
                held.append((zone, pfn))
        log[3] += len(held)
        while held:
            zone, pfn = held.pop()
            yield from free_pages(ctx, zone, pfn, 0)
        yield _BARRIER


class _Conservation:
    """Per-zone page conservation, recounting every pcp list set (live and ``drain``)."""

    def __init__(self, machine: Machine) -> None:
        self.zones = [
            (z, z.per_cpu_pageset, z.version.pindex_order) for z in machine.populated_zones()
        ]

    def __call__(self) -> list[str]:
        errs = []
        for z, pcps, porder in self.zones:
            pcp = 0
            for p in pcps:
                pcp += _recount(p.lp, porder)
                if p.drain is not None:
                    pcp += _recount(p.drain, porder)
            alloc = sum(1 << o for o in z.allocated.values()) if z.allocated else 0
            free = z.nr_free_pages
            if free + pcp + alloc != z.managed:
                errs.append(
                    f"{z.name}: free {free} + pcp {pcp} + allocated {alloc} != {z.managed} "
                    f"({z.managed - free - pcp - alloc:+d} pages lost)"
                )
        return errs


def _recount(lists: Any, porder: tuple[int, ...]) -> int:
    n = 0
    for o, lst in zip(porder, lists.lists, strict=True):
        if lst:
            n += len(lst) << o
    return n


def build_machine(machine_name: str, version: str) -> Machine:
    if machine_name == "day":
        return DAY.build(version)
    from pcplab.machines.registry import get_profile

    return Machine.build(get_profile(machine_name).topology(), version)


def run_day(
    machine_name: str, design_name: str, hours: float, rate: float = 100.0, burst: float = 1.5,
    full_every: int = 10_000, seed: int = 0, machine: Machine | None = None, stay: float = 0.75,
    traffic_on_drainer_cpu: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """``hours`` of forced drains at ``rate`` per second (``hours * 3600 * rate`` drains) on
    ``machine_name`` (``"day"``: :data:`DAY`; else a machine profile) or on ``machine``.

    Returns ``{"design", "machine", "drains", "skipped", "simulated_s", "wall_s", "steps",
    "day_wall_s", "allocs", "alloc_failures", "errors"}`` (``errors``: the first failed checks,
    empty when nothing was lost)."""
    if not burst >= 1:
        raise PcplabError(f"burst {burst}: use a mean of at least 1 allocation per epoch")
    design = designs.get(design_name)
    if machine is None:
        machine = build_machine(machine_name, design.kernel_version)
    k = Kernel(machine.nr_cpus, machine=machine)
    k.record_events = False
    k.state = design.setup(machine, k)
    rnd = random.Random(seed).random
    log = [0, 0, 0, 0]  # drains, skipped drains, allocation failures, pages allocated
    programs = [k.spawn(0, drainer, (design.drain_all_pages, log), name="drainer")]
    zones = machine.populated_zones()
    for cpu in range(0 if traffic_on_drainer_cpu else 1, machine.nr_cpus):
        trng = random.Random(seed * 1000 + cpu)
        programs.append(k.spawn(cpu, traffic, (design, zones, burst, trng, log)))
    conservation = _Conservation(machine)
    target = int(hours * 3600 * rate)
    errors: list[str] = []
    tasks = k.tasks  # grows as kworkers / IPI handlers are spawned: read through each step
    enabled = k.enabled_indices
    step = k.step
    barrier = _BARRIER
    t0 = time.perf_counter()
    steps = 0
    try:
        while log[0] < target:
            # one epoch: every program leaves the barrier, then runs until it is back there
            for t in programs:
                step(t)
            steps += len(programs)
            while True:
                en = [i for i in enabled() if tasks[i].op is not barrier]
                if not en:
                    break
                t = tasks[en[int(rnd() * len(en))]] if len(en) > 1 else tasks[en[0]]
                # run it for a random number of steps (geometric, mean 1 / (1 - stay)): a task
                # that just completed a step stays enabled, so this is the same as the
                # scheduler picking it again, without recomputing the enabled set
                while True:
                    steps += 1
                    if step(t) is BLOCKED or t.op is barrier or t.done or rnd() >= stay:
                        break
            stuck = [
                t.name for t in tasks
                if not t.done and t.op is not barrier and not (t.kind == "kworker" and t.work is None)
            ]  # fmt: skip
            if stuck:
                errors = [f"deadlock: {', '.join(stuck)} cannot proceed, nothing else can run"]
            if errors:
                break
            errors = conservation()
            if errors:
                break
            if full_every and log[0] % full_every == 0:
                errors = check_invariants(machine)
                if errors:
                    break
    except Exception as exc:  # noqa: BLE001 - a design bug the kernel model caught
        errors = [f"{type(exc).__name__}: {exc}"]
    if not errors:
        errors = check_invariants(machine)
    wall = time.perf_counter() - t0
    done = log[0]
    return {
        "design": design_name,
        "machine": machine_name if machine_name else machine.name,
        "drains": done,
        "skipped": log[1],
        "simulated_s": done / rate,
        "wall_s": wall,
        "steps": steps,
        "day_wall_s": wall / max(done, 1) * 86400 * rate,
        "allocs": log[3],
        "alloc_failures": log[2],
        "errors": errors[:3],
    }
