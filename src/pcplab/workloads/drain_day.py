"""The seed's drain stress test in aggregated form: many forced drains, no simulated time.

The seed's cover letter (kernel-pcp.md §10.4) ran 100 forced drains/s plus pft for a day.  A
literal day is 8.64 M drains; the timed engine (``pcplab noise --load drain-storm``, the exact
mode, full invariant check after every drain) is far too slow for that, so this driver:

* executes **every drain in full**: the design's ``drain_all_pages(NULL, force_all_cpus=True)``
  generator runs on CPU 0 against the real allocator state, with its kworkers, grace periods and
  locks (``pcplab.kernel.state.Kernel`` semantics);
* does **not simulate time**: between two drains (one *epoch*) every traffic CPU runs one burst
  of pft-style traffic — order-0 MOVABLE allocations (page faults), then frees of the same pages
  (unmap), through the design's fast paths (``alloc_pages``/``free_pages``), so its pcp lists
  are refilled and hold pages when the drain comes.  The burst length is geometric with mean
  ``burst`` (seeded): mostly short, now and then long enough to refill a list several times and
  trim it at ``high`` — the traffic of a drain interval, aggregated;
* interleaves drain and traffic with a seeded random scheduler over the kernel's enabled tasks
  (``Kernel.enabled_indices``): a random pick that runs a geometric number of steps.  Every
  interleaving of the critical sections stays possible, including races the timed engine's
  schedule never produces;
* checks page conservation after every drain by recounting the lists (buddy free counter + pages
  on every pcp list set, recounted + allocated = managed, per zone: O(zones x CPUs x lists)), a
  deadlock (a program neither parked nor able to run) after every drain, the design's
  postcondition (every list empty) when a drain returns in a *quiet* epoch (a random ``quiet``
  fraction: traffic first, then the drain alone — with frees racing, a drain promises nothing),
  and the full structural check (``pcplab.mm.check_invariants``) every ``full_every`` drains and
  at the end.

The default machine (``DAY``) is the smallest that still runs every path of a drain against
live traffic: two CPUs — the drainer's CPU 0 and a traffic CPU 1, so each drain handles a remote
CPU whose lists are in use (remote lock / list swap / kworker preempting the traffic on its
CPU) and its own CPU — one zone, ``batch`` 2 and ``high`` 8 (the kernel's floor ``4 * batch``,
``zone_highsize``).  ``DayMachine(cpus=3, zones=2)`` and ``traffic_on_drainer_cpu`` widen it
(more remote CPUs, the per-zone loop, drain preempting local traffic) at 1.2-2x the cost; a
named machine profile (``rpi4``, ...) runs with the kernel's own sizing, 5-10x slower.
ASSUMPTION: the races a day is after depend on the order of the critical sections (which the
scheduler randomises), not on list lengths or CPU counts beyond two.

Design errors surface as the exceptions the kernel model raises (``KernelViolation`` for a list
race or a lock error, ``DoubleAlloc``/``BadFree``) or as a failed check.

Isolated CPUs (``isolated``, the benchmark's ``--isolated``): those CPUs are nohz_full in the
kernel model and run the isolated task instead of traffic (:func:`isolated_syscalls`): each epoch
it makes ``ISOLATED_SYSCALLS_PER_EPOCH`` syscalls that allocate one order-0 page and free it,
returning to user space (nohz entry: the design's ``on_user_entry`` hook, through
:mod:`pcplab.designs.lifecycle`) after each, and waits at the barrier in user mode -- an RCU
extended quiescent state, as a real isolated CPU is between its syscalls.  A design that behaves
differently on nohz_full CPUs (remote draining, bypassing the pcp lists there) has its regime
checked by every drain.  The drainer's CPU 0 cannot be isolated.  ASSUMPTION: 3 syscalls per
epoch (``pcplab.workloads.isolated``'s syscall every 3 ms against a drain every 10 ms); the
scheduler has no priorities, so the ``fifo``/``other``/``fifo-busy`` isolated tasks are the same
program here, and ``idle`` runs nothing there.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pcplab import designs
from pcplab.designs import lifecycle
from pcplab.designs.base import Context
from pcplab.errors import PcplabError
from pcplab.kernel.ops import EnterKernel, Sleep
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

    cpus: int = 2
    zones: int = 1
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


#: syscalls (one page allocated and freed) an isolated task makes per epoch (module docstring)
ISOLATED_SYSCALLS_PER_EPOCH = 3


class _Log:
    """What the programs report to the driver (plain attributes: cheap to bump)."""

    __slots__ = ("drains", "skipped", "allocs", "alloc_failures", "quiet", "quiet_drains", "post",
                 "isolated_syscalls")  # fmt: skip

    def __init__(self) -> None:
        self.drains = 0
        self.skipped = 0
        self.allocs = 0
        self.isolated_syscalls = 0
        self.alloc_failures = 0
        self.quiet = False  # this epoch's drain runs while the traffic is parked
        self.quiet_drains = 0
        self.post: str | None = None  # a failed postcondition


def drainer(ctx: Context, design: Any, log: _Log) -> Any:
    drain_all_pages = design.drain_all_pages
    postcondition = design.postcondition
    while True:
        yield _BARRIER
        done = yield from drain_all_pages(ctx, None, True)
        log.drains += 1
        if done is False:
            log.skipped += 1
        if log.quiet:
            # nothing else touched the pcp lists during this drain: the design's promise (every
            # online CPU's lists empty when drain_all_pages returns) must hold right now
            log.quiet_drains += 1
            err = postcondition(ctx.machine, ctx.state, None, True, done)
            if err:
                log.post = f"postcondition after drain {log.drains}: {err}"


def traffic(
    ctx: Context, design: Any, zones: list[Any], burst: float, rng: random.Random, log: _Log
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
        yield _BARRIER
        n = 1
        while rnd() < more:
            n += 1
        for _ in range(n):
            zone = zones[int(rnd() * nz)] if nz > 1 else zones[0]
            pfn = yield from alloc_pages(ctx, zone, 0, MIGRATE_MOVABLE)
            if pfn is None:
                log.alloc_failures += 1  # legal (no buddy fallback in 5.17), but counted
            else:
                held.append((zone, pfn))
        log.allocs += len(held)
        while held:
            zone, pfn = held.pop()
            yield from free_pages(ctx, zone, pfn, 0)


def isolated_syscalls(ctx: Context, design: Any, zones: list[Any], log: _Log) -> Any:
    """The isolated task of a nohz_full CPU, aggregated: each epoch a few syscalls that allocate
    an order-0 MOVABLE page and free it, each followed by the return to user space."""
    alloc_pages = design.alloc_pages
    free_pages = design.free_pages
    zone = zones[-1]  # the highest zone, where a MOVABLE allocation starts
    while True:
        yield _BARRIER
        for _ in range(ISOLATED_SYSCALLS_PER_EPOCH):
            yield EnterKernel(func="syscall")
            pfn = yield from alloc_pages(ctx, zone, 0, MIGRATE_MOVABLE)
            if pfn is None:
                log.alloc_failures += 1
            else:
                yield from free_pages(ctx, zone, pfn, 0)
            log.isolated_syscalls += 1
            yield from lifecycle.exit_to_user_mode(design, ctx, func="isolated_task")


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
    traffic_on_drainer_cpu: bool = False, quiet: float = 0.05,
    progress: Callable[[int, float], None] | None = None,
    isolated: tuple[int, ...] | list[int] = (), isolated_task: str = "fifo",
) -> dict[str, Any]:  # fmt: skip
    """``hours`` of forced drains at ``rate`` per second (``hours * 3600 * rate`` drains) on
    ``machine_name`` (``"day"``: :data:`DAY`; else a machine profile) or on ``machine``.

    Scheduling: a seeded random pick among the enabled tasks (never one parked at the barrier),
    which then runs for a geometric number of steps (mean ``1 / (1 - stay)``).  A fraction
    ``quiet`` of the epochs runs the traffic first and then the drain alone, so the design's
    postcondition can be checked when the drain returns (it promises nothing under concurrent
    frees).  ``traffic_on_drainer_cpu`` also runs traffic on CPU 0 (drain preempting local
    traffic; about 1.5x slower).  ``progress(drains, wall_s)`` is called after every periodic
    full check.  ``isolated``: nohz_full CPUs running ``isolated_task`` instead of traffic
    (module docstring; not CPU 0).

    Returns ``{"design", "machine", "drains", "skipped", "quiet_drains", "simulated_s",
    "wall_s", "steps", "day_wall_s", "allocs", "alloc_failures", "full_checks", "errors"}``
    (``errors``: the first failed checks, empty when nothing was lost), with ``isolated`` also
    ``"isolated"``, ``"isolated_task"`` and ``"isolated_syscalls"``."""
    if not burst >= 1:
        raise PcplabError(f"burst {burst}: use a mean of at least 1 allocation per epoch")
    if not 0 <= stay < 1 or not 0 <= quiet <= 1:
        raise PcplabError(f"stay {stay} / quiet {quiet}: use 0 <= stay < 1 and 0 <= quiet <= 1")
    from pcplab.workloads.isolated import program_for

    design = designs.get(design_name)
    if machine is None:
        machine = build_machine(machine_name, design.kernel_version)
    iso = tuple(sorted(set(int(c) for c in isolated)))
    bad = [c for c in iso if not 0 < c < machine.nr_cpus]
    if bad:
        raise PcplabError(
            f"isolated CPUs {bad}: use CPUs among 1-{machine.nr_cpus - 1} of {machine.name} "
            "(CPU 0 runs the drainer)"
        )
    runs_task = program_for(isolated_task) is not None  # an unknown task is an error here
    k = Kernel(machine.nr_cpus, machine=machine, nohz_full=iso)
    k.record_events = False
    k.state = design.setup(machine, k)
    rnd = random.Random(seed).random
    log = _Log()
    drain_task = k.spawn(0, drainer, (design, log), name="drainer")
    zones = machine.populated_zones()
    traffic_tasks = [
        k.spawn(cpu, traffic, (design, zones, burst, random.Random(seed * 1000 + cpu), log))
        for cpu in range(0 if traffic_on_drainer_cpu else 1, machine.nr_cpus)
        if cpu not in iso
    ]
    if runs_task:  # the isolated tasks count as traffic: quiet epochs run them before the drain
        traffic_tasks += [
            k.spawn(cpu, isolated_syscalls, (design, zones, log), name=f"isolated/{cpu}")
            for cpu in iso
        ]
    programs = [drain_task, *traffic_tasks]
    for t in programs:
        k.step(t)  # start: run up to the first barrier
    conservation = _Conservation(machine)
    target = int(hours * 3600 * rate)
    errors: list[str] = []
    tasks = k.tasks  # grows as kworkers / IPI handlers are spawned: read through each step
    enabled = k.enabled_indices
    step = k.step
    barrier = _BARRIER
    steps = 0
    full_checks = 0

    def run() -> None:
        """Step enabled tasks until every one is parked at the barrier or blocked."""
        nonlocal steps
        while True:
            en = [i for i in enabled() if tasks[i].op is not barrier]
            if not en:
                return
            t = tasks[en[int(rnd() * len(en))]] if len(en) > 1 else tasks[en[0]]
            # a task that just completed a step stays enabled (it is its CPU's current task and
            # waits for nothing), so running it on is the scheduler picking it again
            while True:
                steps += 1
                if step(t) is BLOCKED or t.op is barrier or t.done or rnd() >= stay:
                    break

    t0 = time.perf_counter()
    try:
        while log.drains < target:
            if quiet and rnd() < quiet:
                for t in traffic_tasks:
                    step(t)
                run()
                log.quiet = True
                step(drain_task)
                run()
                log.quiet = False
            else:
                for t in programs:
                    step(t)  # leave the barrier
                run()
            steps += len(programs)
            stuck = [
                t.name for t in tasks
                if not t.done and t.op is not barrier and not (t.kind == "kworker" and t.work is None)
            ]  # fmt: skip
            if stuck:
                errors = [f"deadlock: {', '.join(stuck)} cannot proceed, nothing else can run"]
                break
            if log.post:
                errors = [log.post]
                break
            errors = conservation()
            if errors:
                break
            if full_every and log.drains % full_every == 0:
                full_checks += 1
                errors = check_invariants(machine)
                if errors:
                    break
                if progress is not None:
                    progress(log.drains, time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - a design bug the kernel model caught
        errors = [f"{type(exc).__name__}: {exc}"]
    if not errors:
        full_checks += 1
        errors = check_invariants(machine)
    wall = time.perf_counter() - t0
    done = log.drains
    extra: dict[str, Any] = {}
    if iso:
        extra = {"isolated": list(iso), "isolated_task": isolated_task,
                 "isolated_syscalls": log.isolated_syscalls}
    return {
        "design": design_name,
        "machine": machine.name,
        "drains": done,
        "skipped": log.skipped,
        "quiet_drains": log.quiet_drains,
        "simulated_s": done / rate,
        "wall_s": wall,
        "steps": steps,
        "day_wall_s": wall / max(done, 1) * 86400 * rate,
        "allocs": log.allocs,
        "alloc_failures": log.alloc_failures,
        "full_checks": full_checks,
        "errors": errors[:3],
        **extra,
    }
