"""``alloc_contig_range``-style zone drains (CMA, ``alloc_contig_pages``, gigantic hugetlb).

kernel-pcp.md §9.1: ``alloc_contig_range()`` isolates the pageblocks of the range
(``start_isolate_page_range``), then calls ``drain_all_pages(cc.zone)`` so that free pages of the
range stranded on pcp lists reach the buddy allocator (freed pages of an isolated pageblock go to
its ISOLATE free list), then migrates the used pages away and takes the range.  A zone drainer
waits for ``pcpu_drain_mutex`` rather than giving up (§9.3).

The model does the isolation and the drain with the design's code, then checks whether the whole
range is free in buddy (``test_pages_isolated``), and always undoes the isolation.
ASSUMPTION: page migration is not modelled — a range with pages in use counts as ``-EBUSY``
(the kernel would migrate them and usually succeed); the drain, which is what matters here,
happens either way.  ASSUMPTION: ranges are one pageblock, taken round-robin over the zone.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from pcplab.designs import lifecycle
from pcplab.designs.base import Context
from pcplab.kernel.ops import Sleep, SpinLock, SpinUnlock, Work
from pcplab.mm import buddy
from pcplab.mm.constants import MIGRATE_ISOLATE, MIGRATE_MOVABLE
from pcplab.mm.state import Zone
from pcplab.workloads.slowpath import MemoryEnv, ktime_get

Gen = Generator[Any, Any, Any]


@dataclass
class CmaLog:
    attempts: int = 0
    success: int = 0
    busy: int = 0


def free_pages_in_range(zone: Zone, start: int, end: int) -> int:
    """Base pages of ``[start, end)`` that are free in buddy (blocks inside the range)."""
    free = 0
    pfn = start
    info = zone.buddy_info
    while pfn < end:
        v = info.get(pfn)
        if v is not None:
            free += 1 << (v >> 3)
            pfn += 1 << (v >> 3)
        else:
            pfn += 1
    return free


def pageblocks(zone: Zone) -> list[int]:
    """Start pfns of the zone's pageblocks that lie wholly in its managed range."""
    step = 1 << zone.pageblock_order
    first = -(-zone.managed_start // step) * step
    return list(range(first, zone.managed_end - step + 1, step))


def alloc_contig_range(ctx: Context, env: MemoryEnv, zone: Zone, start: int, end: int) -> Gen:
    """Isolate ``[start, end)``, drain the zone's pcp lists, test, undo.  True when the whole
    range was free after the drain."""
    lock = ctx.state.zone_lock[zone.name]
    step = 1 << zone.pageblock_order
    yield SpinLock(lock, irqsave=True, func="start_isolate_page_range")
    for pfn in range(start, end, step):
        buddy.isolate_pageblock(zone, pfn)
    yield Work("cycles", 200 * ((end - start) // step), zone, None, func="start_isolate_page_range")
    yield SpinUnlock(lock, irqrestore=True, func="start_isolate_page_range")

    t0 = yield from ktime_get(env)
    done = yield from env.design.drain_all_pages(ctx, zone, False)
    env.drain_latency_ns.append((yield from ktime_get(env)) - t0)
    env.count("drains")
    if done is False:
        env.count("drains_skipped")

    yield SpinLock(lock, irqsave=True, func="test_pages_isolated")
    ok = free_pages_in_range(zone, start, end) == end - start
    yield SpinUnlock(lock, irqrestore=True, func="test_pages_isolated")

    yield SpinLock(lock, irqsave=True, func="undo_isolate_page_range")
    for pfn in range(start, end, step):
        if buddy.pageblock_migratetype(zone, pfn) == MIGRATE_ISOLATE:
            buddy.unisolate_pageblock(zone, pfn, MIGRATE_MOVABLE)
    yield SpinUnlock(lock, irqrestore=True, func="undo_isolate_page_range")
    return ok


def cma_allocator(
    ctx: Context, env: MemoryEnv, log: CmaLog, rate_hz: float, end_ns: int, zone: Zone
) -> Gen:
    """``alloc_contig_range`` on the next pageblock of ``zone`` every ``1 / rate_hz`` s."""
    period = int(1e9 / rate_hz)
    blocks = pageblocks(zone)
    if not blocks:
        return
    step = 1 << zone.pageblock_order
    next_t = env.now() + period
    i = 0
    while next_t < end_ns:
        now = yield from ktime_get(env)
        if next_t > now:
            yield from lifecycle.before_sleep(env.design, ctx)
            yield Sleep(next_t - now, func="cma_alloc")
        start = blocks[i % len(blocks)]
        i += 1
        ok = yield from alloc_contig_range(ctx, env, zone, start, start + step)
        log.attempts += 1
        if ok:
            log.success += 1
        else:
            log.busy += 1
        next_t += period
    env.stop = True
