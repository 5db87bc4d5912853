"""Generator helpers every design shares: the ``zone->lock`` sections and the pcp list bodies.

Each helper models one kernel function.  The mm model (:mod:`pcplab.mm.ops`) does the sequential
work; these wrappers add the locking and announce the work, so the work happens in the step that
holds the lock (kernel-pcp.md §5.1, §6, §7):

* ``rmqueue_bulk``, ``free_pcppages_bulk``: ``spin_lock(&zone->lock)`` (IRQs are already off in
  5.17 and 6.0 callers), one lock hold for the whole refill / bulk free.
* ``rmqueue_buddy``, ``free_one_page``: ``spin_lock_irqsave(&zone->lock)`` — the buddy paths used
  for orders without pcp lists, ISOLATE pages, and 6.0's trylock fallback.

Every buddy access is announced with :class:`~pcplab.kernel.ops.Access` right before the mm
model does it (:data:`BUDDY_FIELDS`: the free areas, ``NR_FREE_PAGES`` and, for allocations
that may steal a pageblock, the pageblock migratetypes): a scheduling point where another CPU can
interleave, and the point where the checker holds the access to the zone's owner rule
(``zone->lock``, :mod:`pcplab.mm.owners`).  The ``*_locked`` bodies are what runs under the lock;
a design (or mutant) that calls one without taking ``zone->lock`` is reported as
``lock-not-held``.

5.17's ``free_pcppages_bulk`` takes the pages off the pcp lists and lowers ``pcp->count`` before
it takes ``zone->lock`` (kernel-pcp.md §7.1; SRC v5.17-rc5 mm/page_alloc.c free_pcppages_bulk;
6.0 does it under the lock, §7.2).  The model announces that first pass as its own work before
the lock (``free_pcppages_detach``, priced outside the lock hold) and changes the lists and the
buddy in the locked step, as for 6.0.  That move is exact for everything but a remote racy read
of ``pcp->count`` between the two: the caller holds what protects the lists (their CPU's local
lock with IRQs off, the static-key design's per-CPU spinlock, or lists the RCU design detached a
grace period ago), so no other access to them can fall in between, and the one racy reader,
v5.17's drain mask (:func:`read_pcp_count`), could in the kernel already see the lowered count
while the pages are on their way to buddy; here it sees them still counted and queues a drain
that finds nothing to do -- a cost, never a lost page.

The pcp bodies (``__rmqueue_pcplist``, ``free_unref_page_commit``) run inside a window the caller
opened with ``PcpEnter(lists, owner)``; they record the hand-out / take-back in the same step as
the list change, so a page is never "nowhere" between two steps.

Drain side: ``drain_mutex_enter`` and ``cpus_with_pcps`` are the first two parts of every
``__drain_all_pages`` that keeps v5.17's rule and mask; ``zone_pcp_disable``/``zone_pcp_enable``
serve all designs.  Per-design wrappers such as ``drain_pages`` stay in each module: they bind the
design's own ``drain_pages_zone`` at call time (mutants swap it) and keep kernel names in call
traces, which a shared generator would add a frame to.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pcplab.designs.base import Context
from pcplab.kernel.ops import (
    Access,
    Load,
    MutexLock,
    MutexTrylock,
    MutexUnlock,
    SpinLock,
    SpinUnlock,
    Store,
    Work,
)
from pcplab.mm import ops as mm
from pcplab.mm.constants import MIGRATE_ISOLATE, MIGRATE_PCPTYPES
from pcplab.mm.state import PcpLists, PerCpuPages, Zone

Gen = Generator[Any, Any, Any]


def zone_lock(ctx: Context, zone: Zone) -> Any:
    return ctx.state.zone_lock[zone.name]


def pcp_lock(ctx: Context, zone: Zone, cpu: int) -> Any:
    """``per_cpu_ptr(zone->per_cpu_pageset, cpu)->lock`` (designs with a ``pcp->lock``)."""
    return ctx.state.pcp_lock[zone.name][cpu]


#: what a buddy allocation touches (``__rmqueue`` may steal a pageblock: its migratetype) and
#: what a buddy free touches (``__free_one_page``)
BUDDY_ALLOC_FIELDS = ("free_area", "nr_free_pages", "pageblock_mt")
BUDDY_FREE_FIELDS = ("free_area", "nr_free_pages")
BUDDY_FIELDS = BUDDY_ALLOC_FIELDS


def rmqueue_bulk_locked(
    ctx: Context, zone: Zone, order: int, count: int, lists: PcpLists, pindex: int, mt: int
) -> Gen:
    """The body of ``rmqueue_bulk`` that ``zone->lock`` covers."""
    yield Access(zone, BUDDY_ALLOC_FIELDS, func="rmqueue_bulk")
    got = mm.rmqueue_bulk(zone, order, count, lists, pindex, mt)
    if got:
        yield Work("rmqueue_bulk", got << order, zone, None, func="rmqueue_bulk")
    return got


def rmqueue_bulk(
    ctx: Context, zone: Zone, order: int, count: int, lists: PcpLists, pindex: int, mt: int
) -> Gen:
    """Refill: up to ``count`` blocks from buddy onto the list tail, under ``zone->lock``
    (irqsave from 6.2, where the pcp lock no longer disables IRQs: :func:`bulk_irqsave`)."""
    lock = zone_lock(ctx, zone)
    irq = bulk_irqsave(zone)
    yield SpinLock(lock, irqsave=irq, func="rmqueue_bulk")
    got = yield from rmqueue_bulk_locked(ctx, zone, order, count, lists, pindex, mt)
    yield SpinUnlock(lock, irqrestore=irq, func="rmqueue_bulk")
    return got


def bulk_irqsave(zone: Zone) -> bool:
    """Whether ``rmqueue_bulk``/``free_pcppages_bulk`` take ``zone->lock`` with irqsave: from 6.2
    (5749077415994eb0, "leave IRQs enabled for per-cpu page allocations"; kernel-pcp.md §13;
    [SRC v6.8 mm/page_alloc.c free_pcppages_bulk: spin_lock_irqsave(&zone->lock)]); before that
    the caller already holds IRQs off (a local lock in 5.17, ``pcp->lock`` irqsave in 6.0)."""
    return bool(zone.version.pcp_irqs_enabled)


def free_pcppages_bulk_locked(
    ctx: Context, zone: Zone, count: int, pcp: PerCpuPages, lists: PcpLists, pindex: int = 0
) -> Gen:
    """The body of ``free_pcppages_bulk`` that ``zone->lock`` covers."""
    yield Access(zone, BUDDY_FREE_FIELDS, func="free_pcppages_bulk")
    freed = mm.free_pcppages_bulk(zone, count, pcp, lists, pindex)
    if freed:
        # 5.17: only the buddy frees are left for the lock hold (the first pass ran before it)
        kind = "free_pcppages_merge" if zone.version.bulk_detach_unlocked else "free_pcppages_bulk"
        yield Work(kind, freed, zone, None, func="free_pcppages_bulk")
    return freed


def free_pcppages_bulk(
    ctx: Context, zone: Zone, count: int, pcp: PerCpuPages, lists: PcpLists, pindex: int = 0
) -> Gen:
    """Bulk free ``count`` base pages from the list tails into buddy, under ``zone->lock``
    (irqsave from 6.2: :func:`bulk_irqsave`)."""
    lock = zone_lock(ctx, zone)
    irq = bulk_irqsave(zone)
    if zone.version.bulk_detach_unlocked:
        # 5.17's first pass, before the lock (module doc): its cost, with the lines of the lists
        n = min(count, lists.count)
        if n > 0:
            yield Work("free_pcppages_detach", n, lists, pcp.cpu, func="free_pcppages_bulk")
    yield SpinLock(lock, irqsave=irq, func="free_pcppages_bulk")
    freed = yield from free_pcppages_bulk_locked(ctx, zone, count, pcp, lists, pindex)
    yield SpinUnlock(lock, irqrestore=irq, func="free_pcppages_bulk")
    return freed


def rmqueue_buddy_locked(ctx: Context, zone: Zone, order: int, mt: int) -> Gen:
    """The body of ``rmqueue_buddy`` that ``zone->lock`` covers: one block, recorded."""
    yield Access(zone, BUDDY_ALLOC_FIELDS, func="rmqueue_buddy")
    pfn = mm.rmqueue_buddy(zone, order, mt)
    if pfn is not None:
        mm.hand_out(zone, pfn, order)
        yield Work("buddy_alloc", 1 << order, zone, None, func="rmqueue_buddy")
    return pfn


def rmqueue_buddy(ctx: Context, zone: Zone, order: int, mt: int) -> Gen:
    """One block straight from buddy under ``spin_lock_irqsave(&zone->lock)``; records it."""
    lock = zone_lock(ctx, zone)
    yield SpinLock(lock, irqsave=True, func="rmqueue_buddy")
    pfn = yield from rmqueue_buddy_locked(ctx, zone, order, mt)
    yield SpinUnlock(lock, irqrestore=True, func="rmqueue_buddy")
    return pfn


def free_one_page_locked(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> Gen:
    """The body of ``free_one_page`` that ``zone->lock`` covers."""
    yield Access(zone, BUDDY_FREE_FIELDS, func="free_one_page")
    mm.take_back(zone, pfn, order)
    mm.free_one_page(zone, pfn, order, mt)
    yield Work("buddy_free", 1 << order, zone, None, func="free_one_page")


def free_one_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> Gen:
    """A caller's block straight to buddy under ``spin_lock_irqsave(&zone->lock)``."""
    lock = zone_lock(ctx, zone)
    yield SpinLock(lock, irqsave=True, func="free_one_page")
    yield from free_one_page_locked(ctx, zone, pfn, order, mt)
    yield SpinUnlock(lock, irqrestore=True, func="free_one_page")


def __rmqueue_pcplist(
    ctx: Context, zone: Zone, order: int, mt: int, pcp: PerCpuPages, lists: PcpLists
) -> Gen:
    """Inside the caller's pcp window: refill an empty list with ``rmqueue_bulk``, then take the
    head block and hand it out.  None when buddy had nothing either (kernel-pcp.md §5.1)."""
    pindex = zone.version.order_to_pindex(mt, order)
    if not lists.lists[pindex]:
        batch = mm.nr_pcp_alloc(pcp, zone, order)
        yield from rmqueue_bulk(ctx, zone, order, batch, lists, pindex, mt)
    pfn = mm.pcp_take(pcp, lists, pindex, order)
    if pfn is None:
        return None
    mm.hand_out(zone, pfn, order)
    yield Work("pcp_alloc", 1 << order, lists, pcp.cpu, func="rmqueue_pcplist")
    return pfn


def free_unref_page_commit(
    ctx: Context, zone: Zone, pcp: PerCpuPages, lists: PcpLists, pfn: int, order: int, mt: int
) -> Gen:
    """Inside the caller's pcp window: take the block back, push it at the list head and bulk
    free what ``nr_pcp_high``/``nr_pcp_free`` ask for (kernel-pcp.md §6)."""
    mm.take_back(zone, pfn, order)
    to_free = mm.free_unref_page_commit(zone, pcp, lists, pfn, order, mt)
    yield Work("pcp_free", 1 << order, lists, pcp.cpu)
    if to_free:
        pindex = zone.version.pindex_table[order][mt]
        yield from free_pcppages_bulk(ctx, zone, to_free, pcp, lists, pindex)
        mm.clear_below_high(zone)  # 6.7+: only this bulk free clears ZONE_BELOW_HIGH


def drain_mutex_enter(ctx: Context, zone: Zone | None, func: str) -> Gen:
    """``__drain_all_pages``' entry rule for ``pcpu_drain_mutex`` (kernel-pcp.md §9.3): trylock;
    if another drain runs, a global drain (``zone`` None) gives up — the running drain does what
    it wants — and returns False, while a zone drain (CMA, memory offline) must see its zone
    drained and waits for the mutex.  True: the caller holds the mutex."""
    if not (yield MutexTrylock(ctx.state.pcpu_drain_mutex, func=func)):
        if zone is None:
            return False
        yield MutexLock(ctx.state.pcpu_drain_mutex, func=func)
    return True


def read_pcp_count(ctx: Context, lists: PcpLists, cpu: int, func: str, marked: bool = True) -> Gen:
    """One racy read of another CPU's ``pcp->count``, for the drain mask.

    The kernel writes it as a plain C read under a comment that says the race is intended ("The
    pcp.count check is racy, some callers need a guarantee that no cpu is missed", v5.17
    ``mm/page_alloc.c`` ``__drain_all_pages``:3215-3222, the same in v6.0.1:3287-3294), i.e. what
    ``data_race()`` marks; the model marks it (``Load``, ``marked=True``) so the checker's
    data-race rule exempts it.  A real KCSAN build reports the unannotated C read (plain read vs
    the owner's plain write); ``marked=False`` gives that read, which the checker reports.
    """
    count = yield Load(lists, "count", owner=cpu, func=func, marked=marked)
    yield Work("drain_mask_check", 1, lists, cpu, func=func)
    return count


def cpus_with_pcps(ctx: Context, zone: Zone | None, force_all_cpus: bool, func: str) -> Gen:
    """The ``cpus_with_pcps`` mask of ``__drain_all_pages`` (kernel-pcp.md §9.3): every online CPU
    when forced; else those whose count for ``zone`` (any populated zone for None) was non-zero
    when read without a lock.  Returns the CPU ids in order.  The mask is the kernel's ``static
    cpumask_t cpus_with_pcps``: written under ``pcpu_drain_mutex`` (announced as an access).

    A CPU the mask leaves out (offline, or its count read 0) is noted in the checker's trace
    (``kernel.trace_notes``, set while a counterexample is recorded) instead of passing in
    silence."""
    yield Access(None, "cpus_with_pcps", func=func)
    mask: list[int] = []
    online = ctx.state.online_cpus()
    for c in range(ctx.machine.nr_cpus):
        if c not in online:
            _note(ctx, f"cpu{c} offline: not in cpus_with_pcps")
    for cpu in online:
        if force_all_cpus:
            has_pcps = True
        elif zone is not None:
            pcp = zone.per_cpu_pageset[cpu]
            has_pcps = bool((yield from read_pcp_count(ctx, pcp.lp, cpu, func)))
        else:
            has_pcps = False
            for z in ctx.machine.populated_zones():
                pcp = z.per_cpu_pageset[cpu]
                if (yield from read_pcp_count(ctx, pcp.lp, cpu, func)):
                    has_pcps = True
                    break
        if has_pcps:
            mask.append(cpu)
        else:
            _note(ctx, f"cpu{cpu} skipped by the drain mask: its pcp->count read 0")
    return mask


def _note(ctx: Context, text: str) -> None:
    """A note for the checker's trace of the current step (only while one is recorded)."""
    notes = getattr(ctx.kernel, "trace_notes", None)
    if notes is not None:
        notes.append(text)


def needs_pcp(zone: Zone, order: int, mt: int) -> bool:
    """``rmqueue``'s test for the pcp path: a pcp order and a migratetype with pcp lists.

    ASSUMPTION: no CONFIG_CMA restriction (the kernel skips pcp for MOVABLE without ALLOC_CMA
    only when CMA is configured, §3.3)."""
    return zone.version.pcp_allowed_order(order) and mt < MIGRATE_PCPTYPES


def pageset_update(ctx: Context, zone: Zone, high: int, batch: int, high_max: int | None = None) -> Gen:
    """``__zone_set_pageset_high_and_batch``: ``WRITE_ONCE`` the sizes into every CPU's pageset,
    one store step per CPU (readers use them with ``READ_ONCE``, kernel-pcp.md §3.4)."""
    hmax = high if high_max is None else high_max
    for pcp in zone.per_cpu_pageset:
        yield Store(pcp, "batch", batch, owner=pcp.cpu)
        # same step: the model writes high and its bounds together with batch
        pcp.high_min = high
        pcp.high_max = hmax
        pcp.high = min(max(pcp.high, high), hmax) if zone.version.autotune else high


def zone_pcp_disable(ctx: Context, zone: Zone, drain_all: Any) -> Gen:
    """``zone_pcp_disable`` [SRC✓ v5.17 page_alloc.c:9360-9365]: take ``pcp_batch_high_lock``, set
    ``high = 0, batch = 1`` on every CPU, then ``__drain_all_pages(zone, true)`` (``drain_all``).
    Returns holding the mutex; ``zone_pcp_enable`` releases it."""
    yield MutexLock(ctx.state.pcp_batch_high_lock)
    yield from pageset_update(ctx, zone, 0, 1)
    yield from drain_all(ctx, zone, True)


def zone_pcp_enable(ctx: Context, zone: Zone) -> Gen:
    """``zone_pcp_enable``: write the zone's computed sizes back, drop ``pcp_batch_high_lock``."""
    yield from pageset_update(
        ctx, zone, zone.pageset_high_min, zone.pageset_batch, zone.pageset_high_max
    )
    yield MutexUnlock(ctx.state.pcp_batch_high_lock)


def free_the_page(ctx: Context, zone: Zone, pfn: int, order: int, free_unref_page: Any) -> Gen:
    """``free_the_page``: pcp orders go to the design's ``free_unref_page(ctx, zone, pfn, order,
    mt)``, except pages of isolated pageblocks (``free_one_page``, kernel-pcp.md §3.3); other
    orders go to buddy (``__free_pages_ok``).  HIGHATOMIC/CMA pages use the MOVABLE list.

    ASSUMPTION: the pageblock type is read without a scheduling point (isolation changes it under
    ``zone->lock``; the kernel reads it racily too and tolerates the race by draining after
    isolating)."""
    if not zone.version.pcp_allowed_order(order):
        yield from free_one_page(ctx, zone, pfn, order, mm.pageblock_migratetype(zone, pfn))
        return
    mt = mm.pcp_free_migratetype(zone, pfn)
    if mt == MIGRATE_ISOLATE:
        yield from free_one_page(ctx, zone, pfn, order, mt)
        return
    yield from free_unref_page(ctx, zone, pfn, order, mt)


__all__ = [
    "cpus_with_pcps",
    "drain_mutex_enter",
    "free_the_page",
    "zone_pcp_disable",
    "zone_pcp_enable",
    "free_one_page",
    "free_pcppages_bulk",
    "free_unref_page_commit",
    "needs_pcp",
    "pageset_update",
    "pcp_lock",
    "read_pcp_count",
    "rmqueue_buddy",
    "rmqueue_bulk",
    "zone_lock",
]
