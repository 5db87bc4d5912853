"""Mutant of ``spinlock`` (6.0): the drain frees another CPU's lists without taking its
``pcp->lock`` (only IRQs off, which protects nothing on the remote CPU).

The owner's fast path holds its own lock and is inside its lists when the drainer walks them.
"""

from __future__ import annotations

from pcplab.designs import common
from pcplab.designs.base import Context
from pcplab.designs.mutants import mutant_design, mutate
from pcplab.kernel.ops import IrqRestore, IrqSave, Load, PcpEnter, PcpExit
from pcplab.mm.state import Zone


def drain_pages_zone(ctx: Context, cpu: int, zone: Zone) -> common.Gen:
    pcp = zone.per_cpu_pageset[cpu]
    if (yield Load(pcp.lp, "count", owner=cpu)):
        yield IrqSave()  # MUTATION: no spin_lock(&pcp->lock)
        lists = pcp.lp
        yield PcpEnter(lists, cpu)
        if lists.count:
            yield from common.free_pcppages_bulk(ctx, zone, lists.count, pcp, lists)
        yield PcpExit(lists, cpu)
        yield IrqRestore()


DESIGN = mutant_design(
    mutate("pcplab.designs.spinlock", {"drain_pages_zone": drain_pages_zone}),
    "spinlock-no-remote-lock",
    "6.0 drain that frees a remote pcp without taking its pcp->lock",
    "list-race",
    __name__,
)
