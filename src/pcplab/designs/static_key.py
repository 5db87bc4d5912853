"""Attempt [1] (2021-09-21): conditional locking behind a static key (rejected).

Sources: kernel-pcp.md §11.1 — series ``<20210921161323.607817-1-nsaenzju@redhat.com>``, 4/6
"Introduce alternative per-cpu list locking" ``<20210921161323.607817-5-nsaenzju@redhat.com>``,
5/6 "Allow remote per-cpu page list draining", 6/6 enables the key with NOHZ_FULL.

* The per-CPU ``pagesets`` record holds both a ``local_lock_t`` and a ``spinlock_t``.  Every
  ``local_lock_irqsave(&pagesets.lock)`` becomes a helper: with the static key
  ``remote_pcpu_cache_access`` on, ``migrate_disable()`` + ``spin_lock_irqsave()`` on this CPU's
  spinlock; off, the usual local lock.  A variant locks a given CPU's spinlock.
* Key on: ``__drain_all_pages`` drains every masked CPU itself, under that CPU's spinlock.
  Key off: exactly the v5.17 workqueue drain.
* The key is on when the machine has nohz_full CPUs (``kernel.nohz_full`` non-empty).

ASSUMPTION: the remote variant takes the target CPU's spinlock with irqsave and no
``migrate_disable`` (the drainer need not stay on a CPU it does not own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pcplab.designs import common, standard
from pcplab.designs.base import Context, size_record
from pcplab.designs.base import v517_fields as _v517_fields
from pcplab.designs.standard import drain_cpus
from pcplab.designs.state import DesignState
from pcplab.designs.workqueue import queue_and_flush_drains
from pcplab.kernel.locks import Spinlock
from pcplab.kernel.ops import (
    LocalLock,
    LocalUnlock,
    MigrateDisable,
    MigrateEnable,
    MutexUnlock,
    PcpEnter,
    PcpExit,
    SpinLock,
    SpinUnlock,
    WorkItem,
)
from pcplab.mm.state import Zone
from pcplab.mm.version import parse_kernel

NAME = "static-key"
DESCRIPTION = "attempt [1]: with nohz_full CPUs, per-CPU spinlocks and remote drain; else v5.17"
KERNEL_VERSION = "5.17"
SOURCES = ("kernel-pcp.md §11.1", "<20210921161323.607817-5-nsaenzju@redhat.com>")

Gen = common.Gen


@dataclass
class State(DesignState):
    #: the spinlock in the per-CPU ``pagesets`` record, indexed by CPU
    pagesets_spin: list[Spinlock] = field(default_factory=list)
    #: the per-CPU ``pcpu_drain`` work items (the workqueue path when no CPU is nohz_full)
    pcpu_drain: list[WorkItem] = field(default_factory=list)
    #: static key ``remote_pcpu_cache_access``: on when nohz_full CPUs exist
    remote_pcpu_cache_access: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        nr = self.machine.nr_cpus
        self.pagesets_spin = [Spinlock(f"cpu{cpu} pagesets.spin") for cpu in range(nr)]
        self.pcpu_drain = [WorkItem(f"pcpu_drain/{cpu}") for cpu in range(nr)]
        self.remote_pcpu_cache_access = bool(getattr(self.kernel, "nohz_full", ()))


# --- the lock helpers that replace local_lock_irqsave(&pagesets.lock) ----------------------------


def pagesets_lock_irqsave(ctx: Context, func: str) -> Gen:
    st = ctx.state
    if st.remote_pcpu_cache_access:
        yield MigrateDisable(func=func)
        yield SpinLock(st.pagesets_spin[ctx.cpu], irqsave=True, func=func)
    else:
        yield LocalLock(st.pagesets, func=func)


def pagesets_unlock_irqrestore(ctx: Context, func: str) -> Gen:
    st = ctx.state
    if st.remote_pcpu_cache_access:
        yield SpinUnlock(st.pagesets_spin[ctx.cpu], irqrestore=True, func=func)
        yield MigrateEnable(func=func)
    else:
        yield LocalUnlock(st.pagesets, func=func)


def pagesets_lock_cpu_irqsave(ctx: Context, cpu: int, func: str) -> Gen:
    """Lock ``cpu``'s pagesets (remote drain); key off it is the running CPU's local lock."""
    st = ctx.state
    if st.remote_pcpu_cache_access:
        yield SpinLock(st.pagesets_spin[cpu], irqsave=True, func=func)
    else:
        yield LocalLock(st.pagesets, func=func)


def pagesets_unlock_cpu_irqrestore(ctx: Context, cpu: int, func: str) -> Gen:
    st = ctx.state
    if st.remote_pcpu_cache_access:
        yield SpinUnlock(st.pagesets_spin[cpu], irqrestore=True, func=func)
    else:
        yield LocalUnlock(st.pagesets, func=func)


# --- fast paths ----------------------------------------------------------------------------------


def rmqueue_pcplist(ctx: Context, zone: Zone, order: int, mt: int) -> Gen:
    yield from pagesets_lock_irqsave(ctx, "rmqueue_pcplist")
    pcp = zone.per_cpu_pageset[ctx.cpu]
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu)
    common.mm.rmqueue_pcplist_prepare(pcp)
    page = yield from common.__rmqueue_pcplist(ctx, zone, order, mt, pcp, lists)
    yield PcpExit(lists, ctx.cpu)
    yield from pagesets_unlock_irqrestore(ctx, "rmqueue_pcplist")
    return page


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> Gen:
    yield from pagesets_lock_irqsave(ctx, "free_unref_page")
    pcp = zone.per_cpu_pageset[ctx.cpu]
    lists = pcp.lp
    yield PcpEnter(lists, ctx.cpu, func="free_unref_page_commit")
    yield from common.free_unref_page_commit(ctx, zone, pcp, lists, pfn, order, mt)
    yield PcpExit(lists, ctx.cpu, func="free_unref_page_commit")
    yield from pagesets_unlock_irqrestore(ctx, "free_unref_page")


# --- drains --------------------------------------------------------------------------------------


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> Gen:
    yield from pagesets_lock_cpu_irqsave(ctx, cpu, "drain_pages_zone")
    pcp = zone.per_cpu_pageset[cpu]
    lists = pcp.lp
    yield PcpEnter(lists, cpu)
    if lists.count:
        yield from common.free_pcppages_bulk(ctx, zone, lists.count, pcp, lists)
    yield PcpExit(lists, cpu)
    yield from pagesets_unlock_cpu_irqrestore(ctx, cpu, "drain_pages_zone")


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False

    cpus_with_pcps = yield from standard.cpus_with_pcps(ctx, zone, force_all_cpus, func)

    if st.remote_pcpu_cache_access:
        yield from drain_cpus(ctx, zone, cpus_with_pcps)
    else:
        yield from queue_and_flush_drains(ctx, zone, cpus_with_pcps, func)

    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


def size_statement(machine: Any) -> dict[str, Any]:
    nr = parse_kernel("5.17").configured(thp=machine.version.thp).nr_pcp_lists
    return size_record(
        "static-key",
        machine,
        _v517_fields(nr),
        source="kernel-pcp.md §3.2, §11.1: per_cpu_pages unchanged; the per-CPU pagesets record "
        "gains a spinlock_t next to the (size 0) local_lock_t",
        note="ASSUMPTION: no lock debugging (spinlock_t = 4 B, local_lock_t = 0 B)",
        extra_per_cpu={"pagesets.spinlock": 4, "pcpu_drain": 40},
    )
