"""Small drivers for design tests: build a tiny machine + kernel, run tasks to completion, and
schedule interleavings by hand with the real :class:`pcplab.kernel.state.Kernel`."""

from __future__ import annotations

from typing import Any

from pcplab import designs
from pcplab.kernel.state import Kernel
from pcplab.mm.invariants import check_invariants
from pcplab.mm.machine import Machine, tiny_topology


def setup(
    name: str,
    *,
    cpus: int = 2,
    zone_pages: tuple[int, ...] = (2048,),
    zone_names: tuple[str, ...] = ("Normal",),
    batch: int = 4,
    high: int = 16,
    nohz_full: tuple[int, ...] = (),
    preempt_rt: bool = False,
    version: str | None = None,
) -> tuple[Any, Machine, Kernel]:
    d = designs.get(name)
    topo = tiny_topology(cpus_per_node=cpus, zone_pages=zone_pages, zone_names=zone_names)
    m = Machine.build(topo, version or d.kernel_version, batch=batch, high=high)
    k = Kernel(cpus, machine=m, nohz_full=nohz_full, preempt_rt=preempt_rt)
    k.state = d.setup(m, k)
    return d, m, k


def spawn(k: Kernel, cpu: int, fn: Any, *args: Any, name: str | None = None) -> Any:
    return k.spawn(cpu, fn, args, name=name)


def run_all(k: Kernel, first: Any = None, limit: int = 100_000, check: Any = None) -> None:
    """Run until no task can run, preferring ``first`` while it is enabled, then the earliest
    enabled task.  ``check(k)`` runs after every step.  Fails on a deadlock."""
    for _ in range(limit):
        en = k.enabled_tasks()
        if not en:
            left = k.unfinished()
            assert not left, f"deadlock: {[(t.name, k.wait_key(t)) for t in left]}"
            return
        t = first if first in en else en[0]
        k.step(t)
        if check is not None:
            check(k)
    raise AssertionError("step limit")


def run(k: Kernel, cpu: int, fn: Any, *args: Any) -> Any:
    """Spawn ``fn(ctx, *args)`` on ``cpu`` and run everything to completion; its return value."""
    t = k.spawn(cpu, fn, args)
    run_all(k, first=t)
    assert t.done
    return t.retval


def pcp_pages(m: Machine) -> int:
    """Base pages on all pcp list sets (recounted from the lists)."""
    total = 0
    for z in m.populated_zones():
        porder = z.version.pindex_order
        for pcp in z.per_cpu_pageset:
            for lists in (pcp.lp, pcp.drain):
                if lists is not None:
                    total += lists.total(porder)
    return total


def invariants(m: Machine) -> list[str]:
    """mm's invariant checker: page conservation, counters agree with lists, buddy sanity."""
    return check_invariants(m)


def run_random(k: Kernel, rng: Any, limit: int = 200_000, check: Any = None) -> int:
    """Run until no task can run, picking a random enabled task each step.  Fails on a deadlock.
    Returns the number of steps."""
    for n in range(limit):
        en = k.enabled_tasks()
        if not en:
            left = k.unfinished()
            assert not left, f"deadlock: {[(t.name, k.wait_key(t)) for t in left]}"
            return n
        k.step(en[rng.randrange(len(en))])
        if check is not None:
            check(k)
    raise AssertionError("step limit")


def drain_then_check(ctx: Any, d: Any, zone: Any, force: bool = False) -> Any:
    """A task body: ``drain_all_pages`` and the design's postcondition evaluated the moment the
    drain returns (not after other tasks such as kworkers had their turn).  Returns
    ``(result, message)``."""
    res = yield from d.drain_all_pages(ctx, zone, force)
    return res, d.postcondition(ctx.machine, ctx.state, zone, force, res)


EXAMPLES_DIR = __import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "designs"


def every_design(mutants: bool = False) -> list[str]:
    """Every design the suite knows without a list to keep by hand: the built-ins (and mutants),
    then every example design file."""
    return designs.names(mutants=mutants) + sorted(str(p) for p in EXAMPLES_DIR.glob("*.py"))


def design_id(spec: str) -> str:
    return spec.rsplit("/", 1)[-1]
