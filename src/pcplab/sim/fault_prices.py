"""What one pft fault costs uncontended: the design's allocation measured through the engine
(:func:`probe_design`) and the fault path's other pieces (:class:`FaultPrices`), shared by the exact
and the mean-value pft runs."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from pcplab.designs.base import Context
from pcplab.errors import PcplabError
from pcplab.kernel import ops
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.sim import costs as C
from pcplab.sim.costs import CostModel
from pcplab.sim.engine import Simulator
from pcplab.workloads.pft import distances, zonelist


@dataclass
class DesignProbe:
    """Uncontended prices of a design's order-0 allocation on one CPU (ns)."""

    fast_ns: float  # an allocation served from the pcp list
    refill_hold_ns: float  # zone->lock hold of one refill (lock word local)
    refill_pages: float  # pages per refill
    outside_ns: float = 0.0  # work of the refill outside the lock (per refill)
    #: writes of the global ratelimit line per allocation (CONFIG_DEBUG_PREEMPT's check in
    #: preemptible code, counted by the engine while the design's ops ran) and the local work
    #: of each (the line's hold)
    shared_per_alloc: float = 0.0
    shared_hold_ns: float = 0.0


def probe_design(
    machine: Any, design: Any, costs: CostModel, cpu: int = 0, nohz_full: tuple[int, ...] = ()
) -> DesignProbe:
    """Run ``design.alloc_pages`` on ``cpu`` with no other activity and split the time into
    fast-path, refill lock-hold and outside-lock parts.  Uses (and leaves allocated) a few hundred
    pages of ``machine``."""
    sim = Simulator(machine, costs=costs, design=design, noise=0.0, nohz_full=nohz_full)
    state = sim.kernel.state
    zone_locks = {id(lk) for lk in getattr(state, "zone_lock", {}).values()}
    zone = zonelist(machine, distances(None, machine), machine.cpu_node(cpu))[0]
    batch = zone.per_cpu_pageset[cpu].batch
    n = max(64, 20 * max(1, batch))
    acc = {"in": 0.0, "out": 0.0, "locks": 0, "inlock": False}

    def watch(task: Any, op: Any, t: int, ns: int) -> None:
        if isinstance(op, ops.SpinLock) and id(op.lock) in zone_locks:
            acc["inlock"] = True
            acc["locks"] += 1
        if acc["inlock"]:
            acc["in"] += ns
        else:
            acc["out"] += ns
        if isinstance(op, ops.SpinUnlock) and id(op.lock) in zone_locks:
            acc["inlock"] = False

    sim.on_op(watch)

    def prog(ctx: Context) -> Generator[Any, Any, None]:
        for _ in range(n):
            pfn = yield from design.alloc_pages(ctx, zone, 0, MIGRATE_MOVABLE)
            if pfn is None:
                raise PcplabError(f"probe of design {design.name}: zone {zone.name} is empty")

    sim.spawn(cpu, prog)
    sim.run()
    refills = max(1, acc["locks"])
    shared = sim.preempt_checks_slow / n
    return DesignProbe(
        fast_ns=acc["out"] / n,
        refill_hold_ns=acc["in"] / refills,
        refill_pages=n / refills,
        shared_per_alloc=shared,
        shared_hold_ns=costs.debug_slow_check_ns() if shared else 0.0,
    )


@dataclass
class FaultPrices:
    """Uncontended ns per fault (at SMT speed 1) of the pieces pft's fault path is made of."""

    user_ns: float
    sys_ns: float  # entry/exit, handling, two mmap_lock atomics (line local), alloc fast path
    atomic_ns: float
    lru_hold_ns: float  # one pagevec flush (PAGEVEC_SIZE pages) under lru_lock
    page_size: int

    @classmethod
    def build(cls, costs: CostModel, probe: DesignProbe) -> FaultPrices:
        atomic = costs.work_ns("cycles", C.ATOMIC_CYCLES)
        sys_ns = (
            costs.work_ns("fault_entry")
            + costs.work_ns("fault_exit")
            + costs.work_ns("fault_handle")
            + 2 * atomic
            + probe.fast_ns
        )
        lru_hold = costs.work_ns("lru_add", C.PAGEVEC_SIZE) + 2 * costs.cycles_ns(C.FLAG_CYCLES)
        return cls(costs.work_ns("user_page"), sys_ns, atomic, lru_hold, costs.page_size)
