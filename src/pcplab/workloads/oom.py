"""The seed's crash reproducer: a process eats all memory until the OOM killer stops it.

Xiongfeng Wang's report (kernel-pcp.md §10.5, ``<7c87f388-cc50-e9a1-17a7-802bb42656e4@huawei.com>``):
on QEMU arm64 a user program allocating memory until OOM made the v1 RCU series oops with a NULL
dereference in ``__drain_all_pages``, reached from a user page fault through the allocation slow
path; without the series the OOM killer killed a task instead.

The model (programs are generator functions for an engine to spawn, see :func:`oom_tasks`):

* ``memory_hog`` (one CPU): touches one new anonymous page after another; each touch is a page
  fault through :mod:`pcplab.workloads.slowpath`.  Killed by the OOM killer, it frees everything
  (``exit_mmap``) and the run ends.
* ``allocator_traffic`` (the other CPUs): faults in a chunk of pages and unmaps them again, over
  and over, so every CPU's pcp lists hold pages, as on a live system.
* ``kswapd`` (CPU 0): reclaims the page cache toward the high watermark when woken.
* A page-cache pool of ``page_cache_fraction`` of free memory is allocated before the run and is
  what reclaim frees.

When memory runs out, direct reclaim frees page-cache pages onto the reclaiming CPU's pcp lists,
the watermark retry still fails (pcp pages are not counted free), and the slow path calls
``drain_all_pages(NULL)`` — the seed v1's NULL-zone branch.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from pcplab.designs import lifecycle
from pcplab.designs.base import Context
from pcplab.kernel.ops import EnterUser, Sleep, UserRun
from pcplab.workloads.slowpath import (
    MemoryEnv,
    Process,
    do_page_fault,
    exit_mmap,
    kswapd,
    unmap_pages,
)

Gen = Generator[Any, Any, Any]

#: user time to touch one page (a store per page plus loop overhead).  ASSUMPTION: 100 ns.
HOG_TOUCH_NS = 100
#: pages a traffic process faults in and unmaps per round.  ASSUMPTION.
TRAFFIC_CHUNK = 32
#: sleep between two traffic rounds.  ASSUMPTION: 5 ms.
TRAFFIC_PAUSE_NS = 5_000_000


@dataclass
class OomSetup:
    """Who runs where; build with :func:`oom_tasks`."""

    env: MemoryEnv
    hog: Process
    tasks: list[tuple[int, Any, tuple[Any, ...], str]] = field(default_factory=list)


def memory_hog(ctx: Context, env: MemoryEnv, proc: Process) -> Gen:
    """Touch new pages until killed (or an allocation fails without a kill), then exit.

    Each return to user space goes through :func:`pcplab.designs.lifecycle.exit_to_user_mode`
    when the design has an ``on_user_entry`` hook; without one the ``EnterUser`` is yielded here
    (the same op, without a generator per fault)."""
    design = env.design
    yield from lifecycle.exit_to_user_mode(design, ctx, func="memory_hog")
    while not proc.killed and not env.stop:
        yield UserRun(HOG_TOUCH_NS, func="memory_hog")
        ok = yield from do_page_fault(ctx, env, proc)
        if not ok and not proc.killed:
            break  # VM_FAULT_OOM without a kill: SIGBUS-like exit
        if not proc.killed:
            if design.on_user_entry is None:
                yield EnterUser(func="memory_hog")
            else:
                yield from lifecycle.exit_to_user_mode(design, ctx, func="memory_hog")
    yield from exit_mmap(ctx, env, proc)
    env.stop = True
    env.count("hog_exited")


def allocator_traffic(ctx: Context, env: MemoryEnv, proc: Process, chunk: int, pause_ns: int) -> Gen:
    """Fault in ``chunk`` pages, unmap them (to this CPU's pcp lists), then sleep ``pause_ns``
    (the process waits for something, e.g. I/O); until the run stops or the OOM killer picks
    this process."""
    while not env.stop and not proc.killed:
        yield from lifecycle.before_sleep(env.design, ctx)
        yield Sleep(pause_ns, func="allocator_traffic")
        yield from lifecycle.exit_to_user_mode(env.design, ctx, func="allocator_traffic")
        for _ in range(chunk):
            if env.stop or proc.killed:
                break
            yield UserRun(HOG_TOUCH_NS, func="allocator_traffic")
            if not (yield from do_page_fault(ctx, env, proc)):
                break
        yield from unmap_pages(ctx, env, proc)
    yield from exit_mmap(ctx, env, proc)


def oom_tasks(
    env: MemoryEnv,
    *,
    cpus: list[int] | None = None,
    hog_cpu: int | None = None,
    page_cache_fraction: float = 0.5,
    chunk: int = TRAFFIC_CHUNK,
    pause_ns: int = TRAFFIC_PAUSE_NS,
) -> OomSetup:
    """Populate the page cache and list the programs: ``(cpu, fn, args, name)``.

    ``cpus``: the CPUs the scenario may use (default all).  The hog runs on the second of them
    (the first on a one-CPU set), kswapd of every node on the first usable CPU of that node (or
    the first usable CPU), traffic on every other usable CPU."""
    from pcplab.errors import PcplabError

    machine = env.machine
    nr = machine.nr_cpus
    usable = list(range(nr)) if cpus is None else sorted(cpus)
    if not usable or any(not 0 <= c < nr for c in usable):
        raise PcplabError(f"the OOM scenario needs CPUs among 0-{nr - 1}; got {usable}")
    if hog_cpu is None:
        hog_cpu = usable[1] if len(usable) > 1 else usable[0]
    if hog_cpu not in usable:
        raise PcplabError(f"hog CPU {hog_cpu} is not one of the usable CPUs {usable}")
    env.page_cache.populate(machine, page_cache_fraction)
    hog = Process("memhog")
    env.processes.append(hog)
    setup = OomSetup(env, hog)
    # kswapd first: a kernel thread that exists before the user programs start (the engine
    # starts tasks of one CPU in spawn order)
    for node in sorted({z.node for z in machine.populated_zones()}):
        local = [c for c in usable if machine.cpu_node(c) == node] or usable
        setup.tasks.append((local[0], kswapd, (env, node), f"kswapd{node}"))
    setup.tasks.append((hog_cpu, memory_hog, (env, hog), "memhog"))
    for cpu in usable:
        if cpu == hog_cpu:
            continue
        proc = Process(f"traffic/{cpu}")
        env.processes.append(proc)
        setup.tasks.append((cpu, allocator_traffic, (env, proc, chunk, pause_ns), proc.name))
    return setup


def pages_lost(env: MemoryEnv) -> int:
    """Pages that are neither free (buddy or pcp) nor held by a live owner the workload knows."""
    from pcplab.mm.invariants import zone_page_counts

    free = pcp = alloc = 0
    managed = 0
    for z in env.machine.populated_zones():
        f, p, a = zone_page_counts(z)
        free, pcp, alloc, managed = free + f, pcp + p, alloc + a, managed + z.managed
    missing = managed - free - pcp - alloc  # in no place at all
    unowned = alloc - env.owned_pages()  # allocated, but nobody holds them
    return abs(missing) + abs(unowned)


def idle(ctx: Context, ns: int) -> Gen:
    """A CPU with nothing to do for ``ns`` (helper for runners)."""
    yield Sleep(ns, func="idle")
