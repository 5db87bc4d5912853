"""The seed: remote drain by an RCU-protected pointer switch (N. Saenz Julienne, v1 + its fix).

Sources: kernel-pcp.md §10 — patches ``<20220208100750.1189808-2-nsaenzju@redhat.com>`` (1/2,
count and lists move into ``struct pcplists`` reached through ``pcp->lp``) and ``...-3-...`` (2/2,
remote draining); the NULL-zone fix ``<b5363ced8e17d07d41554da8fde06c410e6688e0.camel@redhat.com>``
(this module is the fixed version; ``rcu_v1`` is the series as posted).

* Each ``per_cpu_pages`` holds two list sets: ``lp`` (the live one, an RCU pointer) and
  ``drain`` (the spare).  Readers are the existing ``local_lock_irqsave`` sections — IRQs off on
  !RT, an rt spinlock (which takes ``rcu_read_lock``) on RT — and read ``lp`` once per section.
* The drainer keeps the 5.17 mutex rule and count-read mask.  For every masked CPU it publishes
  the empty spare set with release semantics and keeps the old one as ``drain``; then ONE
  ``synchronize_rcu()`` for the whole batch; then it frees the detached sets itself, IRQs off
  around ``free_pcppages_bulk`` (for ``zone->lock``).  No code runs on the remote CPUs.
* Local drains and ``page_alloc_cpu_dead`` still drain ``lp`` under the local lock.
"""

from __future__ import annotations

from typing import Any

from pcplab.designs import common, standard
from pcplab.designs.base import LIST_HEAD, Context, size_record, struct_layout
from pcplab.designs.state import DesignState
from pcplab.kernel.ops import (
    IrqRestore,
    IrqSave,
    Load,
    LocalLock,
    LocalUnlock,
    MutexUnlock,
    PcpEnter,
    PcpExit,
    Store,
    SynchronizeRcu,
    Work,
)
from pcplab.mm.state import Zone
from pcplab.mm.version import parse_kernel

NAME = "rcu"
DESCRIPTION = "seed (fixed): swap each pcp's list set under RCU, one grace period, drainer frees"
KERNEL_VERSION = "5.17"
SOURCES = (
    "kernel-pcp.md §10",
    "<20220208100750.1189808-3-nsaenzju@redhat.com>",
    "<b5363ced8e17d07d41554da8fde06c410e6688e0.camel@redhat.com>",
)

Gen = common.Gen


def setup(machine: Any, kernel: Any) -> DesignState:
    for zone in machine.populated_zones():
        for pcp in zone.per_cpu_pageset:
            pcp.add_spare_lists()  # lp -> __pcplists[0], drain -> __pcplists[1]
    return DesignState(machine, kernel)


# --- readers: the local-lock sections, which load pcp->lp once -----------------------------------


def rmqueue_pcplist(ctx: Context, zone: Zone, order: int, mt: int) -> Gen:
    pagesets = ctx.state.pagesets
    yield LocalLock(pagesets)
    pcp = zone.per_cpu_pageset[ctx.cpu]
    lp = yield Load(pcp, "lp", owner=ctx.cpu, acquire=True)
    yield PcpEnter(lp, ctx.cpu)
    common.mm.rmqueue_pcplist_prepare(pcp)
    page = yield from common.__rmqueue_pcplist(ctx, zone, order, mt, pcp, lp)
    yield PcpExit(lp, ctx.cpu)
    yield LocalUnlock(pagesets)
    return page


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> Gen:
    pagesets = ctx.state.pagesets
    yield LocalLock(pagesets)
    pcp = zone.per_cpu_pageset[ctx.cpu]
    lp = yield Load(pcp, "lp", owner=ctx.cpu, acquire=True, func="free_unref_page_commit")
    yield PcpEnter(lp, ctx.cpu, func="free_unref_page_commit")
    yield from common.free_unref_page_commit(ctx, zone, pcp, lp, pfn, order, mt)
    yield PcpExit(lp, ctx.cpu, func="free_unref_page_commit")
    yield LocalUnlock(pagesets)


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> Gen:
    """Local (or dead-CPU) drain of ``lp``, under the running CPU's local lock."""
    pagesets = ctx.state.pagesets
    yield LocalLock(pagesets)
    pcp = zone.per_cpu_pageset[cpu]
    lp = yield Load(pcp, "lp", owner=cpu, acquire=True)
    yield PcpEnter(lp, cpu)
    if lp.count:
        yield from common.free_pcppages_bulk(ctx, zone, lp.count, pcp, lp)
    yield PcpExit(lp, cpu)
    yield LocalUnlock(pagesets)


# --- the drainer ---------------------------------------------------------------------------------


def swap_pcplists(ctx: Context, zone: Zone | None, cpus_with_pcps: list[int], func: str) -> Gen:
    """(a) For every masked CPU (and ``zone``, or every populated zone) publish the empty spare
    set and keep the old live set as ``drain`` (``rcu_replace_pointer``)."""
    st = ctx.state
    for cpu in cpus_with_pcps:
        for z in ctx.machine.populated_zones():
            if zone is not None and z is not zone:
                continue
            pcp = z.per_cpu_pageset[cpu]
            assert pcp.drain is not None  # setup gave every pageset its spare set
            if pcp.drain.count:  # WARN_ON(pcp->drain->count)
                st.warnings.append(f"{func}: {pcp.name} spare list set not empty before swap")
            old = pcp.lp
            yield Store(pcp, "lp", pcp.drain, owner=cpu, release=True, func=func)
            pcp.drain = old  # same step: only the drainer (under the mutex) uses ->drain
            yield Work("pcp_swap", 1, pcp, cpu, func=func)


def free_detached_pcplists(
    ctx: Context, zone: Zone | None, cpus_with_pcps: list[int], func: str
) -> Gen:
    """(c) After the grace period nobody uses the old sets: free them from this CPU, IRQs off
    around ``free_pcppages_bulk`` as the patch does (kernel-pcp.md §10.2).

    On PREEMPT_RT ``zone->lock`` is a sleeping lock, so the kernel model reports this as sleeping
    in atomic context.  UNCONFIRMED whether the patch used ``local_irq_save`` there or an RT-safe
    local lock; the knowledge base only says "IRQs off"."""
    for cpu in cpus_with_pcps:
        for z in ctx.machine.populated_zones():
            if zone is not None and z is not zone:
                continue
            pcp = z.per_cpu_pageset[cpu]
            lists = pcp.drain
            assert lists is not None  # setup gave every pageset its spare set
            if lists.count:
                yield IrqSave(func=func)  # zone->lock is taken with IRQs off
                yield PcpEnter(lists, cpu, func=func)
                yield from common.free_pcppages_bulk(ctx, z, lists.count, pcp, lists)
                yield PcpExit(lists, cpu, func=func)
                yield IrqRestore(func=func)


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False

    # cpus_with_pcps from racy reads of pcp->lp->count; ->lp itself is stable: only we change
    # it, under the mutex (rcu_dereference_protected).
    cpus_with_pcps = yield from standard.cpus_with_pcps(ctx, zone, force_all_cpus, func)

    if cpus_with_pcps:
        yield from swap_pcplists(ctx, zone, cpus_with_pcps, func)
        # (b) one grace period for the whole batch: every reader that may still hold an old set
        # was inside an IRQ-off (or RT local-lock) section when we swapped.
        yield SynchronizeRcu(func=func)
        yield from free_detached_pcplists(ctx, zone, cpus_with_pcps, func)

    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


# zone_pcp_disable is the standard one: high = 0 is published before the swap, and the swap's
# release makes it visible (§10.2)


def seed_fields(nr_lists: int) -> list[tuple[str, int, int]]:
    """``struct per_cpu_pages`` of the seed with CONFIG_NUMA: count and lists live in ``struct
    pcplists {int count; struct list_head lists[]}``, two of which are embedded (§3.2, §10.1)."""
    _, pcplists = struct_layout([("count", 4, 4), ("lists", LIST_HEAD * nr_lists, 8)])
    return [
        ("high", 4, 4),
        ("batch", 4, 4),
        ("free_factor", 2, 2),
        ("expire", 2, 2),
        ("lp", 8, 8),
        ("drain", 8, 8),
        (f"__pcplists[2] ({pcplists} B each)", 2 * pcplists, 8),
    ]


def size_statement(machine: Any) -> dict[str, Any]:
    nr = parse_kernel("5.17").configured(thp=machine.version.thp).nr_pcp_lists
    return size_record(
        "rcu",
        machine,
        seed_fields(nr),
        source="kernel-pcp.md §3.2 [INF]: seed v1 ≈ 528 B, 4 → 9 cache lines",
        note="computed from the patch's struct, not measured with pahole",
    )

