"""The seed exactly as posted (v1, 2022-02-08), with its NULL-zone bug.

Everything is the ``rcu`` design except one line of ``__drain_all_pages``: in the mask loop's
branch for ``zone == NULL`` (walk every populated zone) the pcp pointer is taken from the function
argument ``zone`` instead of the loop variable ``z`` (kernel-pcp.md §10.5).  Any
``drain_all_pages(NULL)`` that wins the mutex and is not forced dereferences NULL — in the kernel at
``__drain_all_pages+0x1c4``, address 0x58 (``per_cpu_pageset`` in ``struct zone``), first reported by
Xiongfeng Wang from an OOM run ``<7c87f388-cc50-e9a1-17a7-802bb42656e4@huawei.com>``.  Zone drains
and forced drains never reach that branch, so they work.
"""

from __future__ import annotations

from typing import Any

from pcplab.designs import common, rcu
from pcplab.designs.base import Context
from pcplab.kernel.ops import MutexUnlock, SynchronizeRcu
from pcplab.mm.state import Zone

NAME = "rcu-v1"
DESCRIPTION = "seed v1 as posted: rcu, but the NULL-zone mask loop dereferences the zone argument"
BASE = "rcu"  # every function this module does not define is the fixed design's
EXPECTED_VIOLATION = "null-deref"
SOURCES = (
    "kernel-pcp.md §10.5",
    "<20220208100750.1189808-3-nsaenzju@redhat.com>",
    "<7c87f388-cc50-e9a1-17a7-802bb42656e4@huawei.com>",
)

Gen = common.Gen


def __drain_all_pages(ctx: Context, zone: Zone | None, force_all_cpus: bool) -> Gen:
    st = ctx.state
    func = "__drain_all_pages"
    if not (yield from common.drain_mutex_enter(ctx, zone, func)):
        return False

    cpus_with_pcps = []
    for cpu in st.online_cpus():
        has_pcps = False
        if force_all_cpus:
            has_pcps = True
        elif zone is not None:
            pcp = zone.per_cpu_pageset[cpu]
            lp = pcp.lp
            if (yield from common.read_pcp_count(ctx, lp, cpu, func)):
                has_pcps = True
        else:
            for z in ctx.machine.populated_zones():  # noqa: B007 - the bug: z is never used
                pcp = zone.per_cpu_pageset[cpu]  # type: ignore[attr-defined]  # as posted: `zone` (NULL here), not `z`
                lp = pcp.lp
                if (yield from common.read_pcp_count(ctx, lp, cpu, func)):
                    has_pcps = True
                    break
        if has_pcps:
            cpus_with_pcps.append(cpu)

    if cpus_with_pcps:
        yield from rcu.swap_pcplists(ctx, zone, cpus_with_pcps, func)
        yield SynchronizeRcu(func=func)
        yield from rcu.free_detached_pcplists(ctx, zone, cpus_with_pcps, func)

    yield MutexUnlock(st.pcpu_drain_mutex, func=func)
    return True


def size_statement(machine: Any) -> dict[str, Any]:
    return dict(rcu.size_statement(machine), design="rcu-v1")

