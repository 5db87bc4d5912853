"""Forced drains at a fixed rate while other CPUs use the allocator: the seed's stress test.

The seed's cover letter (kernel-pcp.md §10.4): "100 forced drains/s plus pft for a day" showed no
problem.  The drainer here calls the design's ``drain_all_pages(NULL, force_all_cpus=True)`` —
every online CPU is drained whatever its count — every ``1 / rate`` seconds from one CPU, records
each call's latency, and checks the allocator's invariants (``pcplab.mm.check_invariants``: every
page in exactly one place, counters agree with lists) at the end of every drain.  A global drain
that loses the ``pcpu_drain_mutex`` trylock returns at once (§9.3); it is counted as skipped.

``allocator_traffic`` (from :mod:`pcplab.workloads.oom`) runs on the other CPUs: page faults in
chunks followed by ``munmap``, so every CPU's pcp lists fill and empty continuously.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from pcplab.designs import lifecycle
from pcplab.designs.base import Context
from pcplab.kernel.ops import Sleep
from pcplab.mm.invariants import check_invariants
from pcplab.workloads.slowpath import MemoryEnv, ktime_get

Gen = Generator[Any, Any, Any]


class LostPages(AssertionError):
    """The invariants failed at the end of a drain."""


@dataclass
class StormLog:
    """What the drainer observed."""

    drains: int = 0
    skipped: int = 0
    checks: int = 0
    #: per CPU: drains that started while that CPU's live pcp lists held pages
    found_pages: dict[int, int] = field(default_factory=dict)


def cpus_holding_pages(machine: Any) -> list[int]:
    """CPUs whose live pcp lists (any zone) hold pages right now."""
    out = []
    for cpu in range(machine.nr_cpus):
        if any(z.per_cpu_pageset[cpu].lp.count for z in machine.populated_zones()):
            out.append(cpu)
    return out


def drain_storm_drainer(
    ctx: Context,
    env: MemoryEnv,
    log: StormLog,
    rate_hz: float,
    end_ns: int,
    *,
    zone: Any = None,
    force_all_cpus: bool = True,
    check: Callable[[Any], list[str]] | None = check_invariants,
    stop_at_end: bool = True,
    phase: float = 1.0,
    rng: Any = None,
) -> Gen:
    """Drain at ``rate_hz`` until ``end_ns``; ``check`` runs after every drain (None: never).
    The first drain comes ``phase`` periods after the start (``phase`` in (0, 1]).  With ``rng``
    (a ``random.Random``) each interval is the period times a uniform factor in [0.5, 1.5]
    (ASSUMPTION: timer jitter, so drains do not stay phase-locked to other periodic loads; the
    mean rate is unchanged)."""
    period = int(1e9 / rate_hz)
    next_t = env.now() + max(1, int(period * phase))
    design = env.design
    machine = env.machine
    while next_t < end_ns and not (env.stop and not stop_at_end):
        now = yield from ktime_get(env)
        if next_t > now:
            yield from lifecycle.before_sleep(design, ctx)
            yield Sleep(next_t - now, func="drain_storm")
            yield from ktime_get(env)
        for cpu in cpus_holding_pages(machine):
            log.found_pages[cpu] = log.found_pages.get(cpu, 0) + 1
        start = yield from ktime_get(env)
        done = yield from design.drain_all_pages(ctx, zone, force_all_cpus)
        env.drain_latency_ns.append((yield from ktime_get(env)) - start)
        log.drains += 1
        env.count("drains")
        if done is False:
            log.skipped += 1
            env.count("drains_skipped")
        if check is not None:
            errs = check(machine)
            log.checks += 1
            if errs:
                more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
                raise LostPages(
                    f"after drain {log.drains} at t={env.now()} ns: " + "; ".join(errs[:3]) + more
                )
        next_t += period if rng is None else int(period * (0.5 + rng.random()))
    if stop_at_end:
        env.stop = True
