"""Hotplug drains: memory offline (``zone_pcp_disable``/``enable``) and a CPU going offline.

kernel-pcp.md §9.1:

* memory offline (``offline_pages``, memory_hotplug.c:1901) and memory-failure handling call
  ``zone_pcp_disable(zone)``: take ``pcp_batch_high_lock``, set every CPU's ``high = 0``,
  ``batch = 1`` so freed pages go straight back to buddy, then ``__drain_all_pages(zone, true)``;
  ``zone_pcp_enable`` restores the sizes and drops the lock.  While disabled, pages freed by any CPU
  must not stay on pcp lists beyond what the high = 0 rule allows.
* CPU hot-unplug: once the CPU is dead, ``page_alloc_cpu_dead`` drains its lists from the control
  CPU (``drain_pages(cpu)``) — legal because the dead CPU can no longer touch them.

``memory_offliner`` repeats disable → (hold) → enable at a rate; ``cpu_offliner`` stops a CPU
(``lifecycle.takedown_cpu``: the design's ``on_cpu_offline`` hook, then ``GoOffline``, after a
process there faulted pages and exited) and ``cpu_hotplug_control`` runs the design's
``drain_dead_cpu`` for it.  ASSUMPTION: the page migration and the removal of the memory itself are
not modelled; the window in which the zone's pcp is disabled lasts ``hold_ns`` (default 1 ms).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from pcplab.designs import lifecycle
from pcplab.designs.base import Context
from pcplab.kernel.ops import Sleep
from pcplab.mm.state import Zone
from pcplab.workloads.slowpath import MemoryEnv, Process, do_page_fault, exit_mmap, ktime_get

Gen = Generator[Any, Any, Any]


@dataclass
class HotplugLog:
    offlines: int = 0
    #: pages found on any CPU's live lists of the zone right after ``zone_pcp_disable`` returned
    left_after_disable: list[int] = field(default_factory=list)
    dead_cpu_left: dict[int, int] = field(default_factory=dict)


def zone_pcp_pages(zone: Zone) -> int:
    """Base pages on every CPU's pcp lists (both sets) of ``zone``."""
    n = 0
    for pcp in zone.per_cpu_pageset:
        n += sum(len(lst) << zone.version.pindex_order[p] for p, lst in enumerate(pcp.lp.lists))
        if pcp.drain is not None:
            n += sum(
                len(lst) << zone.version.pindex_order[p] for p, lst in enumerate(pcp.drain.lists)
            )
    return n


def memory_offliner(
    ctx: Context,
    env: MemoryEnv,
    log: HotplugLog,
    zone: Zone,
    rate_hz: float,
    end_ns: int,
    hold_ns: int = 1_000_000,
) -> Gen:
    """``zone_pcp_disable`` → hold → ``zone_pcp_enable``, every ``1 / rate_hz`` s."""
    period = int(1e9 / rate_hz)
    next_t = env.now() + period
    while next_t < end_ns:
        now = yield from ktime_get(env)
        if next_t > now:
            yield from lifecycle.before_sleep(env.design, ctx)
            yield Sleep(next_t - now, func="offline_pages")
        t0 = yield from ktime_get(env)
        yield from env.design.zone_pcp_disable(ctx, zone)
        env.drain_latency_ns.append((yield from ktime_get(env)) - t0)
        env.count("drains")
        log.left_after_disable.append(zone_pcp_pages(zone))
        # no idle hook here: lifecycle runs it in the sleeper's context, which holds
        # pcp_batch_high_lock until zone_pcp_enable (the kernel's idle task would not)
        yield Sleep(hold_ns, func="offline_pages")
        yield from env.design.zone_pcp_enable(ctx, zone)
        log.offlines += 1
        next_t += period
    env.stop = True


def cpu_offliner(ctx: Context, env: MemoryEnv, proc: Process, faults: int) -> Gen:
    """Fault ``faults`` pages, exit (its pages go to this CPU's pcp lists), go offline."""
    for _ in range(faults):
        if not (yield from do_page_fault(ctx, env, proc)):
            break
    yield from exit_mmap(ctx, env, proc)
    yield from lifecycle.takedown_cpu(env.design, ctx, func="takedown_cpu")


def cpu_hotplug_control(ctx: Context, env: MemoryEnv, log: HotplugLog, cpu: int) -> Gen:
    """``page_alloc_cpu_dead`` for ``cpu`` through the design, then record what is left."""
    yield from env.design.drain_dead_cpu(ctx, cpu)
    left = 0
    for zone in env.machine.populated_zones():
        pcp = zone.per_cpu_pageset[cpu]
        left += pcp.lp.count + (pcp.drain.count if pcp.drain is not None else 0)
    log.dead_cpu_left[cpu] = left
