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

The task's own allocation and free latency (:class:`LatencyLog`, summarised by
:func:`latency_summary`): the simulated time from entering the page allocator (``alloc_pages``)
to having the page, and from calling the design's ``free_pages`` to its return, per syscall and
CPU.  It includes everything that happens meanwhile on that CPU (waiting for ``zone->lock`` or a
pcp lock, an IPI handler run with IRQs on), so a design that makes an isolated CPU's own
allocations slower (e.g. by sending them to the buddy allocator under ``zone->lock``) shows it
there, next to the interference it spares the CPU.  The clock is read with zero-cost ops
(:func:`pcplab.workloads.slowpath.ktime_get`); the ``ktime_get()`` the kernel would need is not
charged (instrumentation, not part of the task).

Context changes go through :mod:`pcplab.designs.lifecycle`: each return to user space runs the
design's ``on_user_entry`` hook (on these nohz_full CPUs: nohz entry), each sleep its
``on_idle_entry`` hook (the CPU idles until the next period).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from pcplab.designs import lifecycle
from pcplab.designs.base import Context
from pcplab.kernel.ops import EnterKernel, Sleep, UserRun
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.workloads.slowpath import MemoryEnv, Process, alloc_pages, ktime_get

Gen = Generator[Any, Any, Any]

ISOLATED_TASKS = ("fifo", "other", "fifo-busy", "idle")
#: what ``--isolated-task`` chooses between (help text of every command that has it)
ISOLATED_TASK_HELP = (
    "What the isolated CPUs run: a SCHED_FIFO periodic loop, a SCHED_OTHER poller, a SCHED_FIFO "
    "poller (never sleeps; RT throttling lets kworkers in), or nothing."
)


@dataclass(frozen=True)
class LoopParams:
    period_ns: int = 1_000_000
    duty: float = 0.9
    syscall_every_ns: int = 3_000_000
    #: start offset (a random phase, so periods do not line up with other periodic loads)
    phase_ns: int = 0


#: fewer samples than this give no p99 (it would be the maximum, or close to it)
P99_MIN_SAMPLES = 100


@dataclass
class LatencyLog:
    """The isolated tasks' own allocation and free latencies in ns, per CPU, in syscall order."""

    alloc: dict[int, list[int]] = field(default_factory=dict)
    free: dict[int, list[int]] = field(default_factory=dict)

    def add(self, cpu: int, alloc_ns: int, free_ns: int | None) -> None:
        self.alloc.setdefault(cpu, []).append(alloc_ns)
        if free_ns is not None:
            self.free.setdefault(cpu, []).append(free_ns)

    def merge(self, other: LatencyLog) -> None:
        for mine, theirs in ((self.alloc, other.alloc), (self.free, other.free)):
            for cpu, xs in theirs.items():
                mine.setdefault(cpu, []).extend(xs)

    def summary(self, cpus: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(allocation, free) summaries of ``cpus`` (see :func:`latency_summary`)."""
        return (
            [latency_summary(c, self.alloc.get(c, [])) for c in cpus],
            [latency_summary(c, self.free.get(c, [])) for c in cpus],
        )


def _rank(s: list[int], q: int) -> int:
    """Nearest-rank percentile ``q`` of sorted ``s``."""
    return s[max(1, -(-q * len(s) // 100)) - 1]


def latency_summary(cpu: int, samples: list[int]) -> dict[str, Any]:
    """``{"cpu", "n", "p50", "p99", "max"}`` in ns (nearest rank); ``p99`` is None below
    :data:`P99_MIN_SAMPLES` samples, every statistic None without samples."""
    if not samples:
        return {"cpu": cpu, "n": 0, "p50": None, "p99": None, "max": None}
    s = sorted(samples)
    return {
        "cpu": cpu,
        "n": len(s),
        "p50": _rank(s, 50),
        "p99": _rank(s, 99) if len(s) >= P99_MIN_SAMPLES else None,
        "max": s[-1],
    }


def _syscall(ctx: Context, env: MemoryEnv, proc: Process, log: LatencyLog | None) -> Gen:
    """A syscall that allocates one page and frees it (its pcp lists keep the refill)."""
    yield EnterKernel(func="syscall")
    if log is None:
        page = yield from alloc_pages(ctx, env, 0, MIGRATE_MOVABLE, proc)
        if page is not None:
            zone, pfn = page
            yield from env.design.free_pages(ctx, zone, pfn, 0)
        env.count("isolated_syscalls")
        return
    t0 = yield from ktime_get(env)
    page = yield from alloc_pages(ctx, env, 0, MIGRATE_MOVABLE, proc)
    t1 = yield from ktime_get(env)
    t2 = None
    if page is not None:
        zone, pfn = page
        yield from env.design.free_pages(ctx, zone, pfn, 0)
        t2 = yield from ktime_get(env)
    log.add(ctx.cpu, t1 - t0, None if t2 is None else t2 - t1)
    env.count("isolated_syscalls")


def _sleep(ctx: Context, env: MemoryEnv, ns: int, func: str = "clock_nanosleep") -> Gen:
    """``clock_nanosleep``: nothing else runs on an isolated CPU, so it idles meanwhile.  The
    period's sleep keeps ``func="clock_nanosleep"``: the noise meter takes its expiry as the
    periodic timer's (wakeup latency, :mod:`pcplab.workloads.noise`); the start-phase sleep is
    named apart so it gives no wakeup sample."""
    yield from lifecycle.before_sleep(env.design, ctx)
    yield Sleep(ns, func=func)


def fifo_loop(
    ctx: Context, env: MemoryEnv, proc: Process, p: LoopParams, log: LatencyLog | None = None
) -> Gen:
    """Periodic RT loop: user work for ``duty`` of each period, then sleep to the next period."""
    busy = int(p.period_ns * p.duty)
    if p.phase_ns:
        yield from _sleep(ctx, env, p.phase_ns, func="start_phase")
    next_start = yield from ktime_get(env)
    next_syscall = next_start
    while not env.stop:
        yield from lifecycle.exit_to_user_mode(env.design, ctx, func="fifo_loop")
        yield UserRun(busy, func="fifo_loop")
        if (yield from ktime_get(env)) >= next_syscall:
            yield from _syscall(ctx, env, proc, log)
            next_syscall += p.syscall_every_ns
        next_start += p.period_ns
        now = yield from ktime_get(env)
        if next_start <= now:  # overran the period: start the next one at once
            next_start = now
            continue
        yield from _sleep(ctx, env, next_start - now)


def busy_loop(
    ctx: Context, env: MemoryEnv, proc: Process, p: LoopParams, log: LatencyLog | None = None
) -> Gen:
    """A poller that never sleeps: user work in period-sized slices, syscalls as above."""
    if p.phase_ns:
        yield from _sleep(ctx, env, p.phase_ns, func="start_phase")
    next_syscall = yield from ktime_get(env)
    while not env.stop:
        yield from lifecycle.exit_to_user_mode(env.design, ctx, func="busy_loop")
        yield UserRun(p.period_ns, func="busy_loop")
        if (yield from ktime_get(env)) >= next_syscall:
            yield from _syscall(ctx, env, proc, log)
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
