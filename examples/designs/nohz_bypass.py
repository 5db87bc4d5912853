"""nohz_full CPUs bypass the pcp lists: nothing is ever left to drain there.

The idea floated in the 2022 thread on remote pcp draining (Mel Gorman, Vlastimil Babka): an
isolated (nohz_full) CPU allocates and frees order-0 pages straight from the buddy allocator
under ``zone->lock``, so its pcp lists stay empty and a drain never needs to interrupt it; every
other CPU keeps v5.17's pcp lists and workqueue drain.  The price is paid on the isolated CPU
itself: each allocation takes ``zone->lock`` (``rmqueue_buddy``) instead of the lock-free local
list.

This file is a complete pcplab design: the two fast paths and the drain mask
(``cpus_with_pcps``) differ from ``workqueue`` (v5.17); everything else (v5.17's
``__drain_all_pages``, which asks the design for its mask, the standard wrappers, the state) is
reused.  The drain leaves nohz_full CPUs out of its mask even when forced
(``force_all_cpus``, e.g. ``zone_pcp_disable``): their lists are never used, so there is nothing
there for a kworker to free.

    pcplab check --design examples/designs/nohz_bypass.py --bound -1
    pcplab compare --designs workqueue,spinlock,examples/designs/nohz_bypass.py --isolated 2-3 \\
        --clients 1,4 --iterations 3
"""

from __future__ import annotations

from typing import Any

from pcplab.check.scenario import (
    Scenario,
    alloc,
    drain,
    drain_dead,
    enter_user,
    free,
    go_offline,
    pcp_disable,
    pcp_enable,
)
from pcplab.designs import Context, common, workqueue
from pcplab.designs.workqueue import State, __drain_all_pages, drain_pages_zone  # noqa: F401
from pcplab.mm.state import Zone

NAME = "nohz-bypass"
KERNEL_VERSION = "5.17"
SOURCES = ("kernel-pcp.md §9.4 (the isolation problem)", "examples/designs/nohz_bypass.py")

Gen = common.Gen


def on_nohz_full_cpu(ctx: Context) -> bool:
    """``tick_nohz_full_cpu(smp_processor_id())``: fixed at boot (``nohz_full=``), so a plain
    read with no scheduling point."""
    return ctx.cpu in ctx.kernel.nohz_full


def rmqueue_pcplist(ctx: Context, zone: Zone, order: int, mt: int) -> Gen:
    if on_nohz_full_cpu(ctx):
        return (yield from common.rmqueue_buddy(ctx, zone, order, mt))
    return (yield from workqueue.rmqueue_pcplist(ctx, zone, order, mt))


def free_unref_page(ctx: Context, zone: Zone, pfn: int, order: int, mt: int) -> Gen:
    if on_nohz_full_cpu(ctx):
        yield from common.free_one_page(ctx, zone, pfn, order, mt)
        return
    yield from workqueue.free_unref_page(ctx, zone, pfn, order, mt)


def cpus_with_pcps(ctx: Context, zone: Zone | None, force_all_cpus: bool, func: str) -> Gen:
    """v5.17's drain mask without the nohz_full CPUs (``workqueue.__drain_all_pages`` uses it)."""
    mask = yield from common.cpus_with_pcps(ctx, zone, force_all_cpus, func)
    return [cpu for cpu in mask if cpu not in ctx.kernel.nohz_full]


def size_statement(machine: Any) -> dict[str, Any]:
    return dict(workqueue.size_statement(machine), design=NAME)


#: nohz_full CPUs against every kind of drain (added to the standard set for this design)
SCENARIOS = [
    Scenario(
        "nohz-bypass-vs-global-drain",
        "nohz_full cpu0 allocates and frees (straight to buddy) and returns to user space while "
        "cpu1 allocates and frees through its pcp lists and cpu2 runs drain_all_pages(NULL)",
        programs=((alloc(0), free(), enter_user()), (alloc(0), free()), (drain(None),)),
        prefill=((1, 0, 1),),
        nohz_full=(0,),
    ),
    Scenario(
        "nohz-bypass-vs-forced-and-zone-drain",
        "nohz_full cpu0 allocates and frees while cpu1 runs a forced global drain and then a "
        "zone drain (CMA)",
        programs=((alloc(0), alloc(1), free(), free()), (drain(None, force=True), drain(0))),
        nohz_full=(0,),
    ),
    Scenario(
        "nohz-bypass-vs-pcp-disable",
        "nohz_full cpu0 allocates and frees while cpu1 runs zone_pcp_disable/enable (memory "
        "offline)",
        programs=((alloc(0), free(), alloc(0), free()), (pcp_disable(0), pcp_enable(0))),
        nohz_full=(0,),
    ),
    Scenario(
        "nohz-bypass-cpu-offline",
        "nohz_full cpu1 allocates, frees and goes offline; cpu0 waits and drains it",
        programs=((drain_dead(1),), (alloc(0), free(), go_offline())),
        nohz_full=(1,),
    ),
]
