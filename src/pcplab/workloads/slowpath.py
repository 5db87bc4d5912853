"""The page-fault and page-allocation path that workloads run, with the kernel's function names.

Every function below is a generator run inside a task (``ctx``); it yields
:mod:`pcplab.kernel.ops` and calls the design's generators with ``yield from``, so a Python
traceback taken inside a design reads like a kernel call trace::

    do_page_fault → handle_mm_fault → __handle_mm_fault → __pte_alloc / do_anonymous_page
      → alloc_pages → __alloc_pages → get_page_from_freelist                (fast: low watermark)
                                    → __alloc_pages_slowpath
                                        → wake_all_kswapds
                                        → get_page_from_freelist            (min watermark)
                                        → __alloc_pages_direct_reclaim
                                            → __perform_reclaim → shrink_page_cache → free_pages
                                            → get_page_from_freelist
                                            → drain_all_pages(NULL) (once: ``drained``) → retry
                                        → __alloc_pages_may_oom → out_of_memory

Rules (kernel-pcp.md §9.1, v5.17 ``__alloc_pages_direct_reclaim`` page_alloc.c:4622-4646): the
drain happens only when reclaim made progress but the retry still failed, at most once per
direct-reclaim call, then the allocation is retried; no progress returns without draining; the
OOM path does not drain.

The reclaimable memory is a **page-cache pool** (:class:`PageCache`): pages taken from the buddy
allocator before the run starts (so page conservation holds), reclaimed by freeing them through the
design's ``free_pages`` on the reclaiming CPU — which puts them on that CPU's pcp lists first, as
the kernel's ``free_unref_page_list`` does.  That is what strands free pages on pcp lists under
memory pressure and makes the drain necessary.

Modelling choices (ASSUMPTIONs, listed in the report):

* ASSUMPTION: no ``lowmem_reserve``, highatomic reserves or ``ALLOC_HARDER``: the watermark test
  is ``pcplab.designs.page_alloc.get_page_from_freelist``'s (plain min/low/high mark).
  ``unreserve_highatomic_pageblock`` therefore has nothing to do.
* ASSUMPTION: ``should_reclaim_retry`` is reduced to "progress → retry, no progress → OOM" (the
  kernel retries up to ``MAX_RECLAIM_RETRIES`` = 16 times without progress first); compaction is
  not modelled (order-0 faults never need it).
* ASSUMPTION: one LRU per node holding clean page cache only; reclaim drops the oldest
  ``SWAP_CLUSTER_MAX`` (32) pages per direct-reclaim call regardless of zone; kswapd reclaims
  in the same batches until one eligible zone of its node is above its high watermark
  (``pgdat_balanced``).
* ASSUMPTION: kswapd is a kernel thread that polls its wake-up flag every ``KSWAPD_POLL_NS``
  (the kernel wakes it through a wait queue; the model has no wait-queue op), and it marks every
  zone of its node ``reclaim_active`` while it reclaims (``ZONE_RECLAIM_ACTIVE``, 5.14+, read by
  ``nr_pcp_high``).
* ASSUMPTION: the OOM killer picks the process with the largest RSS (``oom_badness`` without
  swap, page-table or ``oom_score_adj`` terms); the victim frees its memory itself when it
  notices the kill (``exit_mmap``); the OOM reaper is not modelled.  A second OOM while a victim
  has not exited yet reports progress (``oom_evaluate_task`` aborts on a pending victim) and the
  caller retries at once; only a task that loses the ``oom_lock`` trylock sleeps a jiffy.
* ASSUMPTION: a direct-reclaim pass that finds nothing to reclaim and an ``out_of_memory()`` that
  finds a victim still exiting cost no CPU time here (the kernel's ``shrink_node`` walk, slab
  shrinkers and ``select_bad_process`` task scan are not priced), so a task that retries while
  the victim exits loops fast: ``pcplab oom`` counts each of those passes as a direct reclaim.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from pcplab.designs import lifecycle, page_alloc, standard
from pcplab.designs.base import Context
from pcplab.kernel.locks import Mutex
from pcplab.kernel.ops import EnterKernel, MutexTrylock, MutexUnlock, Sleep, Work
from pcplab.mm import ops as mm
from pcplab.mm.constants import MIGRATE_MOVABLE, MIGRATE_UNMOVABLE
from pcplab.mm.state import Zone
from pcplab.mm.zonelist import machine_distance, zonelists

Gen = Generator[Any, Any, Any]
Page = tuple[Zone, int]  # (zone, pfn) of an order-0 page

SWAP_CLUSTER_MAX = 32  # pages reclaimed per shrink call [include/linux/swap.h]
PTRS_PER_PTE = 512  # one page-table page maps 512 pages (4 KiB pages, 64-bit)
KSWAPD_POLL_NS = 1_000_000  # ASSUMPTION: kswapd notices a wake-up within 1 ms
JIFFY_NS = 1_000_000  # HZ = 1000: schedule_timeout_uninterruptible(1) in the OOM path

ALLOC_WMARK_MIN = page_alloc.ALLOC_WMARK_MIN
ALLOC_WMARK_LOW = page_alloc.ALLOC_WMARK_LOW
ALLOC_WMARK_HIGH = page_alloc.ALLOC_WMARK_HIGH

#: cycles to reclaim one clean page-cache page in ``shrink_page_list`` (isolate from the LRU,
#: unmap, remove from the mapping), besides freeing it.  ASSUMPTION: ~1000 cycles; no source.
RECLAIM_PAGE_CYCLES = 1000


@dataclass(eq=False)
class Process:
    """A user process: its anonymous pages and page-table pages (all order 0)."""

    name: str
    pages: list[Page] = field(default_factory=list)
    page_tables: list[Page] = field(default_factory=list)
    mapped: int = 0  # virtual pages touched so far (page-table slots used)
    killed: bool = False  # SIGKILL from the OOM killer pending
    exited: bool = False

    @property
    def rss(self) -> int:
        return len(self.pages) + len(self.page_tables)


class PageCache:
    """Clean, reclaimable page cache: pages in LRU order (oldest at the left)."""

    def __init__(self) -> None:
        self.lru: deque[Page] = deque()

    def __len__(self) -> int:
        return len(self.lru)

    def populate(self, machine: Any, fraction: float) -> int:
        """Before the run: take ``fraction`` of every zone's free pages from buddy (as file data
        read at boot) and record them as allocated.  Pages are taken in pfn order from the buddy
        lists, zone by zone, and interleaved across zones in the LRU so reclaim hits every zone.
        Returns the number of pages taken."""
        per_zone: list[list[Page]] = []
        for zone in machine.populated_zones():
            want = int(zone.nr_free_pages * fraction)
            got: list[Page] = []
            for _ in range(want):
                pfn = mm.rmqueue_buddy(zone, 0, MIGRATE_MOVABLE)
                if pfn is None:
                    break
                mm.hand_out(zone, pfn, 0)
                got.append((zone, pfn))
            per_zone.append(got)
        # interleave zones so the oldest pages come from every zone
        longest = max((len(p) for p in per_zone), default=0)
        for i in range(longest):
            for pages in per_zone:
                if i < len(pages):
                    self.lru.append(pages[i])
        return len(self.lru)


@dataclass(eq=False)
class MemoryEnv:
    """Everything the slow path shares between tasks: the design, the zonelist, the page cache,
    kswapd's wake-up flags, the OOM state and counters.  ``now`` returns simulated time in ns
    (the engine sets it; 0 without an engine)."""

    design: Any
    machine: Any
    page_cache: PageCache = field(default_factory=PageCache)
    processes: list[Process] = field(default_factory=list)
    kswapd_wake: dict[int, bool] = field(default_factory=dict)
    oom_lock: Mutex = field(default_factory=lambda: Mutex("oom_lock"))
    oom_victim: Process | None = None
    stop: bool = False
    now: Callable[[], int] = lambda: 0
    stats: dict[str, int] = field(default_factory=dict)
    drain_latency_ns: list[int] = field(default_factory=list)
    _zonelists: dict[int, list[Zone]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for key in (
            "faults", "page_table_pages", "fast_allocs", "slowpath", "kswapd_wakeups",
            "kswapd_reclaimed", "direct_reclaims", "direct_reclaimed", "drains",
            "drains_skipped", "oom_kills", "alloc_failures", "pages_freed_on_exit",
        ):  # fmt: skip
            self.stats.setdefault(key, 0)
        for node in sorted({z.node for z in self.machine.populated_zones()}):
            self.kswapd_wake.setdefault(node, False)

    def zonelist(self, ctx: Context) -> list[Zone]:
        """The fallback zonelist of the running CPU's node (v5.17 CONFIG_NUMA
        ``build_zonelists``, :mod:`pcplab.mm.zonelist`)."""
        node = self.machine.cpu_node(ctx.cpu)
        zl = self._zonelists.get(node)
        if zl is None:
            # CONFIG_NUMA's distance order, the same builder as pft's (mm/zonelist.py)
            self._zonelists.update(zonelists(self.machine, machine_distance(self.machine)))
            zl = self._zonelists[node]
        return zl

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def owned_pages(self) -> int:
        """Pages the workload knows it holds (processes + page cache)."""
        return len(self.page_cache) + sum(p.rss for p in self.processes if not p.exited)


def ktime_get(env: MemoryEnv) -> Gen:
    """Read the clock after every earlier op has completed.

    Plain code between two yields runs when the engine executes the *preceding* op, i.e. at that
    op's start; a zero-cost op first makes the read happen once everything before it is done."""
    yield Work("ns", 0, None, None, func="ktime_get")
    return env.now()


def alloc_pages(ctx: Context, env: MemoryEnv, order: int, mt: int, proc: Process | None) -> Gen:
    """Returns ``(zone, pfn)`` or None.  ``proc``: the process the allocation is for (the OOM
    path asks whether it is the victim)."""
    return (yield from __alloc_pages(ctx, env, order, mt, proc))


def __alloc_pages(ctx: Context, env: MemoryEnv, order: int, mt: int, proc: Process | None) -> Gen:
    page = yield from page_alloc.get_page_from_freelist(
        ctx, env.design, env.zonelist(ctx), order, mt, ALLOC_WMARK_LOW
    )
    if page is not None:
        env.count("fast_allocs")
        return page
    return (yield from __alloc_pages_slowpath(ctx, env, order, mt, proc))


def wake_all_kswapds(env: MemoryEnv) -> None:
    """``wakeup_kswapd`` for every node in the zonelist (a flag the kswapd thread polls)."""
    for node, awake in env.kswapd_wake.items():
        if not awake:
            env.kswapd_wake[node] = True
            env.count("kswapd_wakeups")


def __alloc_pages_slowpath(
    ctx: Context, env: MemoryEnv, order: int, mt: int, proc: Process | None
) -> Gen:
    """v5.17 ``__alloc_pages_slowpath`` (mm/page_alloc.c), order-0 part: the ``retry:`` loop
    tries the freelists, then direct reclaim (which may drain), then ``__alloc_pages_may_oom``.
    An OOM victim (``tsk_is_oom_victim``: ``proc.killed``) keeps going through reclaim -- and
    with it ``drain_all_pages(NULL)`` -- and fails only after ``__alloc_pages_may_oom``
    (``tsk_is_oom_victim(current) && alloc_flags & ALLOC_OOM`` -> ``nopage``); any other task
    that got OOM progress retries at once.  ASSUMPTION: the victim's ``ALLOC_OOM`` (half the
    min watermark, ``__zone_watermark_ok``) is priced as the min watermark, since
    ``designs/page_alloc.get_page_from_freelist`` has no ALLOC_OOM."""
    env.count("slowpath")
    while True:
        wake_all_kswapds(env)
        page = yield from page_alloc.get_page_from_freelist(
            ctx, env.design, env.zonelist(ctx), order, mt, ALLOC_WMARK_MIN
        )
        if page is not None:
            return page
        page, progress = yield from __alloc_pages_direct_reclaim(ctx, env, order, mt)
        if page is not None:
            return page
        if progress:
            continue  # should_reclaim_retry
        page, oom_progress = yield from __alloc_pages_may_oom(ctx, env, order, mt, proc)
        if page is not None:
            return page
        if proc is not None and proc.killed:
            env.count("alloc_failures")
            return None  # OOM victim with ALLOC_OOM: nopage, the fault returns VM_FAULT_OOM
        if not oom_progress:
            env.count("alloc_failures")
            return None


def __alloc_pages_direct_reclaim(ctx: Context, env: MemoryEnv, order: int, mt: int) -> Gen:
    """Reclaim, then retry; if the retry fails, drain the pcp lists of every CPU once and retry
    again (kernel-pcp.md §9.1).  Returns (page or None, pages reclaimed)."""
    env.count("direct_reclaims")
    progress = yield from __perform_reclaim(ctx, env, SWAP_CLUSTER_MAX)
    if not progress:
        return None, 0
    drained = False
    while True:
        page = yield from page_alloc.get_page_from_freelist(
            ctx, env.design, env.zonelist(ctx), order, mt, ALLOC_WMARK_MIN
        )
        if page is not None or drained:
            return page, progress
        unreserve_highatomic_pageblock(env)
        start = yield from ktime_get(env)
        env.count("drains")
        done = yield from env.design.drain_all_pages(ctx, None)
        env.drain_latency_ns.append((yield from ktime_get(env)) - start)
        if done is False:
            env.count("drains_skipped")
        drained = True


def unreserve_highatomic_pageblock(env: MemoryEnv) -> bool:
    """ASSUMPTION: the model keeps no highatomic reserves, so there is nothing to release."""
    del env
    return False


def __perform_reclaim(ctx: Context, env: MemoryEnv, nr_to_reclaim: int) -> Gen:
    return (yield from shrink_page_cache(ctx, env, nr_to_reclaim, "direct_reclaimed"))


def shrink_page_cache(ctx: Context, env: MemoryEnv, nr: int, counter: str) -> Gen:
    """Drop up to ``nr`` clean page-cache pages, oldest first, and free them as one batch
    through the design's free path on this CPU (``shrink_page_list`` collects what it reclaimed
    and ends with ``free_unref_page_list``, v5.17 mm/vmscan.c:1959 shrink_page_list; munmap and
    exit free through ``release_pages``, mm/swap.c:980).  Returns the number reclaimed."""
    freed: list[tuple[Zone, int]] = []
    lru = env.page_cache.lru
    while len(freed) < nr and lru:
        freed.append(lru.popleft())
        yield Work("cycles", RECLAIM_PAGE_CYCLES, None, None, func="shrink_page_list")
    yield from standard.free_unref_page_list(ctx, freed, env.design.free_pages)
    done = len(freed)
    env.count(counter, done)
    return done


def __alloc_pages_may_oom(
    ctx: Context, env: MemoryEnv, order: int, mt: int, proc: Process | None
) -> Gen:
    """Take ``oom_lock`` (trylock: someone else is killing → wait a jiffy and report progress),
    try once more at the high watermark, then invoke the OOM killer.  Only the trylock loser
    sleeps (5.17 ``__alloc_pages_may_oom``: ``schedule_timeout_uninterruptible(1)``); after
    ``out_of_memory()`` the caller retries at once."""
    if not (yield MutexTrylock(env.oom_lock, func="__alloc_pages_may_oom")):
        yield from lifecycle.before_sleep(env.design, ctx)
        yield Sleep(JIFFY_NS, func="__alloc_pages_may_oom")
        return None, True
    page = yield from page_alloc.get_page_from_freelist(
        ctx, env.design, env.zonelist(ctx), order, mt, ALLOC_WMARK_HIGH
    )
    progress = True
    if page is None:
        progress = out_of_memory(env)
    yield MutexUnlock(env.oom_lock, func="__alloc_pages_may_oom")
    return page, progress


def out_of_memory(env: MemoryEnv) -> bool:
    """Select and kill the process with the largest RSS.  False when nothing can be killed."""
    victim = env.oom_victim
    if victim is not None and not victim.exited:
        return True  # a victim is still exiting: abort this round, retry later
    candidates = [p for p in env.processes if not p.exited and not p.killed and p.rss > 0]
    if not candidates:
        return False
    victim = max(candidates, key=lambda p: (p.rss, -env.processes.index(p)))
    victim.killed = True
    env.oom_victim = victim
    env.count("oom_kills")
    return True


# --- page faults ----------------------------------------------------------------------------


def do_page_fault(ctx: Context, env: MemoryEnv, proc: Process) -> Gen:
    """A user access to the next untouched page of ``proc``'s anonymous mapping.  Returns True
    when the page is mapped, False on ``VM_FAULT_OOM``."""
    yield EnterKernel(func="do_page_fault")
    yield Work("fault_entry", 1, None, ctx.cpu, func="do_page_fault")
    ok = yield from handle_mm_fault(ctx, env, proc)
    yield Work("fault_exit", 1, None, ctx.cpu, func="do_page_fault")
    return ok


def handle_mm_fault(ctx: Context, env: MemoryEnv, proc: Process) -> Gen:
    env.count("faults")
    yield Work("fault_handle", 1, None, ctx.cpu, func="handle_mm_fault")
    return (yield from __handle_mm_fault(ctx, env, proc))


def __handle_mm_fault(ctx: Context, env: MemoryEnv, proc: Process) -> Gen:
    if proc.mapped % PTRS_PER_PTE == 0 and proc.mapped // PTRS_PER_PTE >= len(proc.page_tables):
        if not (yield from __pte_alloc(ctx, env, proc)):
            return False
    return (yield from do_anonymous_page(ctx, env, proc))


def __pte_alloc(ctx: Context, env: MemoryEnv, proc: Process) -> Gen:
    """A new page-table page (unmovable, order 0) for the next 512 pages."""
    page = yield from alloc_pages(ctx, env, 0, MIGRATE_UNMOVABLE, proc)
    if page is None:
        return False
    yield Work("clear_page", 1, None, ctx.cpu, func="__pte_alloc")
    proc.page_tables.append(page)
    env.count("page_table_pages")
    return True


def do_anonymous_page(ctx: Context, env: MemoryEnv, proc: Process) -> Gen:
    page = yield from alloc_pages(ctx, env, 0, MIGRATE_MOVABLE, proc)
    if page is None:
        return False
    yield Work("clear_page", 1, None, ctx.cpu, func="do_anonymous_page")
    proc.pages.append(page)
    proc.mapped += 1
    return True


def unmap_pages(ctx: Context, env: MemoryEnv, proc: Process, keep: int = 0) -> Gen:
    """``munmap`` of all but the first ``keep`` anonymous pages (newest first), through the
    design's free path on this CPU; page tables stay."""
    batch: list[tuple[Zone, int]] = []
    while len(proc.pages) > keep:
        batch.append(proc.pages.pop())
    yield from standard.free_unref_page_list(ctx, batch, env.design.free_pages)
    proc.mapped = len(proc.pages)


def exit_mmap(ctx: Context, env: MemoryEnv, proc: Process) -> Gen:
    """Process exit: free every anonymous and page-table page through the design's free path."""
    batch: list[tuple[Zone, int]] = []
    while proc.pages:
        batch.append(proc.pages.pop())
    while proc.page_tables:
        batch.append(proc.page_tables.pop())
    yield from standard.free_unref_page_list(ctx, batch, env.design.free_pages)
    freed = len(batch)
    proc.mapped = 0
    proc.exited = True
    env.count("pages_freed_on_exit", freed)
    return freed


# --- kswapd ---------------------------------------------------------------------------------


def kswapd(ctx: Context, env: MemoryEnv, node: int) -> Gen:
    """The node's reclaim thread: sleep until woken, then ``balance_pgdat``."""
    while not env.stop:
        if not env.kswapd_wake.get(node):
            yield from lifecycle.before_sleep(env.design, ctx)
            yield Sleep(KSWAPD_POLL_NS, func="kswapd")
            continue
        yield from balance_pgdat(ctx, env, node)
        env.kswapd_wake[node] = False


def balance_pgdat(ctx: Context, env: MemoryEnv, node: int) -> Gen:
    """Reclaim in ``SWAP_CLUSTER_MAX`` batches until the node is balanced or the page cache is
    empty; zones are ``reclaim_active`` meanwhile.

    Balanced as 5.17 ``pgdat_balanced`` (mm/vmscan.c) decides it: ANY eligible zone -- index up to
    ``highest_zoneidx`` -- above its high watermark, not every zone.  The model's allocations
    are all for the node's highest zone (GFP_HIGHUSER_MOVABLE faults and GFP_KERNEL page tables
    on a machine without ZONE_MOVABLE), so every populated zone of the node is eligible and
    ``set_reclaim_active(pgdat, highest_zoneidx)`` marks them all.  ASSUMPTION: no
    ``lowmem_reserve`` in the test (``zone_watermark_ok_safe`` adds it for the lower zones)."""
    zones = [z for z in env.machine.populated_zones() if z.node == node]
    for z in zones:
        z.reclaim_active = True
    try:
        while not env.stop and env.page_cache.lru:
            if any(mm.zone_watermark_ok(z, 0, z.watermarks.high) for z in zones):
                break
            got = yield from shrink_page_cache(ctx, env, SWAP_CLUSTER_MAX, "kswapd_reclaimed")
            if not got:
                break
    finally:
        for z in zones:
            z.reclaim_active = False
