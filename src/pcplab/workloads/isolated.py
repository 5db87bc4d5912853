"""Programs for isolated (``nohz_full``) CPUs: the latency-sensitive task the drains disturb.

kernel-pcp.md §9.4: a drain via the workqueue forces a kworker onto the isolated CPU and the
drainer waits for it; the seed (§10) and 6.0 (§12) drain remotely instead.  The task here is what
such a CPU runs in the seed's motivation (RT / HPC / DPDK-style):

* ``fifo_loop`` (``--isolated-task fifo``): a SCHED_FIFO periodic loop, like an RT control loop or
  cyclictest: every period it computes in user space for ``duty`` of the period, then sleeps until
  the next period (``clock_nanosleep``); every ``syscall_every`` periods it enters the kernel for a
  syscall that allocates a page and frees it again, so its pcp lists hold pages.  A SCHED_OTHER
  kworker only gets the CPU while it sleeps (the engine never lets SCHED_OTHER preempt FIFO).
* ``busy_loop`` (``--isolated-task other``): a SCHED_OTHER user loop that never sleeps (a poller),
  with the same syscalls; a kworker woken there preempts it at once (CFS wakeup preemption).
* ``busy_loop`` as SCHED_FIFO (``--isolated-task fifo-busy``): a poller run at RT priority (a
  DPDK-style packet loop, the case ``stalld`` exists for).  A kworker queued there runs only when
  RT throttling stops the loop (the last 50 ms of each second with the kernel's defaults,
  ``pcplab.sim.costs.RT_RUNTIME_NS``), so a drainer waiting for it waits up to ~950 ms: the
  "hundreds of milliseconds" drain stalls reported for fully booked CPUs (kernel-pcp.md §9.4).
* ``--isolated-task idle``: nothing runs there (the comparison baseline).

ASSUMPTIONs: period 1 ms, duty 90 %, a syscall every 3 ms (the brief's "every few ms"); the
syscall's allocation is an order-0 movable page through the fast path of the page allocator (and
its slow path if memory is low).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from pcplab.kernel.ops import EnterKernel, EnterUser, Sleep, UserRun
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.workloads.slowpath import MemoryEnv, Process, alloc_pages, ktime_get

Gen = Generator[Any, Any, Any]

ISOLATED_TASKS = ("fifo", "other", "fifo-busy", "idle")


@dataclass(frozen=True)
class LoopParams:
    period_ns: int = 1_000_000
    duty: float = 0.9
    syscall_every_ns: int = 3_000_000
    #: start offset (a random phase, so periods do not line up with other periodic loads)
    phase_ns: int = 0


def _syscall(ctx: Any, env: MemoryEnv, proc: Process) -> Gen:
    """A syscall that allocates one page and frees it (its pcp lists keep the refill)."""
    yield EnterKernel(func="syscall")
    page = yield from alloc_pages(ctx, env, 0, MIGRATE_MOVABLE, proc)
    if page is not None:
        zone, pfn = page
        yield from env.design.free_pages(ctx, zone, pfn, 0)
    env.count("isolated_syscalls")


def fifo_loop(ctx: Any, env: MemoryEnv, proc: Process, p: LoopParams) -> Gen:
    """Periodic RT loop: user work for ``duty`` of each period, then sleep to the next period."""
    busy = int(p.period_ns * p.duty)
    if p.phase_ns:
        yield Sleep(p.phase_ns, func="clock_nanosleep")
    next_start = yield from ktime_get(env)
    next_syscall = next_start
    while not env.stop:
        yield EnterUser(func="fifo_loop")
        yield UserRun(busy, func="fifo_loop")
        if (yield from ktime_get(env)) >= next_syscall:
            yield from _syscall(ctx, env, proc)
            next_syscall += p.syscall_every_ns
        next_start += p.period_ns
        now = yield from ktime_get(env)
        if next_start <= now:  # overran the period: start the next one at once
            next_start = now
            continue
        yield Sleep(next_start - now, func="clock_nanosleep")


def busy_loop(ctx: Any, env: MemoryEnv, proc: Process, p: LoopParams) -> Gen:
    """A poller that never sleeps: user work in period-sized slices, syscalls as above."""
    if p.phase_ns:
        yield Sleep(p.phase_ns, func="clock_nanosleep")
    next_syscall = yield from ktime_get(env)
    while not env.stop:
        yield EnterUser(func="busy_loop")
        yield UserRun(p.period_ns, func="busy_loop")
        if (yield from ktime_get(env)) >= next_syscall:
            yield from _syscall(ctx, env, proc)
            next_syscall += p.syscall_every_ns


def program_for(kind: str) -> tuple[Any, str] | None:
    """(generator function, scheduling policy) for ``--isolated-task kind``; None for idle."""
    if kind == "fifo":
        return fifo_loop, "fifo"
    if kind == "other":
        return busy_loop, "other"
    if kind == "fifo-busy":
        return busy_loop, "fifo"
    if kind == "idle":
        return None
    from pcplab.errors import PcplabError

    raise PcplabError(f"unknown isolated task {kind!r}; use one of: {', '.join(ISOLATED_TASKS)}")
