"""The timed discrete-event engine: CPUs run tasks whose ops are priced by the cost model.

API (stable; workloads build on it)
-----------------------------------
``sim = Simulator(machine, *, costs=None, profile=None, design=None, seed=0, noise=0.02,
                  preempt_rt=False, nohz_full=(), tick_ns=costs.TICK_NS, invariants=False,
                  rt_runtime_ns=costs.RT_RUNTIME_NS, rt_period_ns=costs.RT_PERIOD_NS,
                  wakeup_preemption=True)``
    ``wakeup_preemption``: CFS wakeup preemption (see Scheduling); False gives the older model in
    which a woken SCHED_OTHER task waits for the next tick behind a running one.
    ``machine``: a :class:`pcplab.mm.Machine`.  ``costs``: a :class:`pcplab.sim.costs.CostModel`
    (default: from ``profile``, else :meth:`CostModel.generic`).  ``design``: a
    ``pcplab.designs`` ``Design``; its ``setup(machine, kernel)`` result becomes
    ``kernel.state`` (``ctx.state``).  ``invariants=True`` runs ``pcplab.mm.check_invariants``
    after every op (slow; tests).  Everything random comes from ``seed``.
``sim.kernel`` (:class:`pcplab.kernel.state.Kernel`), ``sim.machine``, ``sim.costs``,
``sim.design``, ``sim.rng`` (``random.Random``, for workloads), ``sim.now`` (int ns).
``task = sim.spawn(cpu, fn, args=(), name=None, policy="other", start_ns=0)``
    a program task running generator function ``fn(ctx, *args)`` pinned to ``cpu``;
    ``policy``: ``"other"`` (SCHED_OTHER) or ``"fifo"`` (SCHED_FIFO).  ``ctx`` is the kernel's
    :class:`~pcplab.kernel.state.Task` (``ctx.cpu``, ``ctx.machine``, ``ctx.kernel``, ``ctx.state``).
    Workloads yield ``pcplab.kernel.ops`` objects (``UserRun(ns)`` for user time, ``Sleep(ns)``,
    ``Work(kind, n)`` for priced kernel work, locks, ...) and ``yield from`` design generators.
``sim.at(t_ns, fn, *args)``: call plain ``fn(*args)`` at simulated time ``t_ns`` (timers).
``sim.run(until=None) -> int``: run until no event is left (or ``until`` ns); returns ``now``.
    Raises :class:`SimDeadlock` if programs are left blocked with nothing to wake them.
``sim.stats(task) -> TaskStats``: ``user_ns``, ``system_ns``, ``start_ns``, ``end_ns``,
    ``wait_ns`` (runnable but not running), ``switches``, ``interrupted_ns``.
``sim.cpu_busy_ns[cpu]``, ``sim.events_processed``.
``sim.on_segment(fn)``: ``fn(cpu, t0, t1, task, what)`` for every span of CPU time, ``what`` in
    ``"user" | "kernel" | "spin" | "irq" | "switch"`` (noise accounting: a span of another task on
    a CPU whose program is in user mode is an interruption of it).
``sim.on_op(fn)``: ``fn(task, op, t_ns, cost_ns)`` after every executed op is priced (tracing,
    probes).  ``cost_ns`` is the busy time charged (a sleeping op reports its sleep).
``sim.check_invariants(where)``: run ``pcplab.mm.check_invariants`` now; raises
    :class:`InvariantBroken` naming ``where`` and the first problems (workloads call it at the end
    of each drain).
``yield from sim.checked(gen, where)``: run generator ``gen`` (e.g. ``design.drain_all_pages(ctx,
    None)``) inside a task, then :meth:`check_invariants` (``where``); returns ``gen``'s result.
``sim.cpu_time(cpu)``: what the CPU is doing (``"idle"``, or the running task's name).

Scheduling (per CPU, kernel-pcp.md §9.4)
----------------------------------------
* An IRQ (IPI handler) runs as soon as the running task has IRQs enabled and the IPI has arrived
  (``ipi_ns`` after it was sent); it interrupts a long op (``UserRun``) in the middle.
* A woken task runs at once on an idle CPU.  On a busy CPU a SCHED_OTHER arrival waits until the
  current task blocks, finishes or is preempted at the next tick boundary (``tick_ns``) where it
  is preemptible -- except a woken (not a new) SCHED_OTHER task, which preempts at once, as CFS
  does (``wakeup_preemption``, on by default); a SCHED_FIFO task preempts a
  SCHED_OTHER one at once and is never preempted by SCHED_OTHER tasks (kworkers): they wait
  until it sleeps.  This is how a drainer's
  ``flush_work`` can stall behind a busy RT CPU.
* RT throttling (``rt_runtime_ns`` of every ``rt_period_ns``, the kernel's 950 ms of 1 s by
  default, ``costs.RT_RUNTIME_NS``; ``rt_runtime_ns=None`` = ``sched_rt_runtime_us = -1``): once
  a CPU's SCHED_FIFO tasks have used the runtime of the current period they stop at their next
  preemption point and SCHED_OTHER tasks run (or the CPU idles) until the period ends.  So a FIFO
  task that never sleeps delays a kworker by up to ~950 ms, not forever.  ASSUMPTION: no runtime
  borrowing between CPUs (``RT_RUNTIME_SHARE`` is off by default since Linux 5.10, commit
  2586af1ac187 -- from memory, to be checked); periods are aligned per CPU to multiples of the
  period from when a FIFO task first becomes ready there.
* Spinning on a taken spinlock keeps the CPU busy (system time); sleeping (mutex, grace period,
  ``flush_work``, ``Sleep``) frees it.  Spinlocks and mutexes are handed over in FIFO order.
* ``synchronize_rcu`` returns when the kernel's reader condition holds **and** at least a grace
  period (cost model: ~10 ms normal, ~70 µs expedited, lognormal) has passed; the expedited
  variant interrupts every CPU the kernel reports as not in an extended quiescent state.
* Costs: every executed op is priced by :class:`~pcplab.sim.costs.CostModel` (cacheline transfers
  by distance for lock words and ``Load``/``Store``/``Work.data`` objects, clear_page at the
  core's cache store rate with the node's memory writing the zeroed lines back in turn
  (``_clear_ns``), SMT siblings slowing each other), times a
  seeded lognormal jitter.  Lock, IRQ-flag and local-lock ops cost their architecture's
  uncontended price (``CostModel.spin_lock_ns`` etc., per ``costs.kernel_config``: PREEMPT_RT
  turns on ``Kernel(preempt_rt=True)`` too); ``PcpEnter`` and a pcp lock add the lines of the
  design's ``per_cpu_pages`` layout (``CostModel.pageset_prices``); ``Work`` adds its per-call
  part (``CostModel.work_call_ns``: the buddy path's call overhead and zone lines); with
  CONFIG_DEBUG_PREEMPT a pcp section pays the ``this_cpu_ptr()`` check, and a design that takes
  its own CPU's pcp lock while still preemptible also writes the global ratelimit line
  (``Simulator.preempt_checks_slow`` counts those).

Speed (``benchmarks/bench_sim.py``)
-----------------------------------
* The event queue is a calendar queue: a heap of distinct ``t << 2 | prio`` keys plus a FIFO
  per key, the same total order as a heap of ``(t, prio, seq)``.
* ``_step`` executes the ops that have no kernel state of their own (``Sleep``, ``UserRun``,
  ``Work``, ``EnterKernel``) itself; locks and everything else go through ``kernel.step``, the
  one place their semantics live (a copy of the lock rules here bought nothing measurable on the
  lock ping-pong benchmark, so it was not kept).  An op in an IRQ, on an offline CPU, or whose
  might_sleep() check would fire also goes through ``kernel.step``.  ``Simulator._fast = False``
  sends every op through ``kernel.step``; ``tests/sim/test_engine_fast.py`` checks that both give
  the same op stream, spans and statistics.  If the kernel's semantics of those ops change,
  change ``_sleep_again`` too (that test fails until both agree).
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from pcplab.errors import PcplabError
from pcplab.kernel import ops
from pcplab.kernel.state import BLOCKED, Kernel, Task, WaitForWork
from pcplab.sim import costs as C
from pcplab.sim.costs import CostModel


class SimDeadlock(PcplabError):
    """Programs are blocked and no event can wake them."""


class InvariantBroken(AssertionError):
    """``pcplab.mm.check_invariants`` found a problem during a simulation."""


class TaskStats:
    __slots__ = (
        "user_ns", "system_ns", "start_ns", "end_ns", "wait_ns", "switches", "interrupted_ns",
        "policy", "state", "ready_since", "rest", "rest_kind", "spin_since", "sleep_gen",
    )  # fmt: skip

    def __init__(self, policy: str, start_ns: int) -> None:
        self.user_ns = 0
        self.system_ns = 0
        self.start_ns = start_ns
        self.end_ns: int | None = None
        self.wait_ns = 0
        self.switches = 0
        self.interrupted_ns = 0
        self.policy = policy
        self.state = "new"  # new | ready | running | spinning | sleeping | done
        self.ready_since = start_ns
        self.rest = 0  # remaining ns of an interrupted op
        self.rest_kind = "kernel"
        self.spin_since = 0
        self.sleep_gen = 0


class _Line:
    __slots__ = ("writer", "version", "busy_until")

    def __init__(self) -> None:
        self.writer: int | None = None
        self.version = 0
        self.busy_until = 0  # a line moves to one CPU at a time: transfers serialise


class _CpuSim:
    __slots__ = (
        "id", "core", "node", "gen", "cur", "prev", "op_end", "op_kind", "fifo_q", "other_q",
        "need_resched", "tick_at", "irq_at", "scheduled", "busy", "seg", "carry", "kc",
        "wake_at", "rt_tasks", "rt_throttled", "rt_base", "rt_period_start",
    )  # fmt: skip

    def __init__(self, cpu: int, core: int, node: int) -> None:
        self.id = cpu
        self.core = core
        self.node = node
        self.gen = 0
        self.cur: Task | None = None  # task owning the CPU (program/kworker), None = idle
        self.prev: Task | None = None
        self.op_end = 0
        self.op_kind = ""
        self.fifo_q: deque[Task] = deque()
        self.other_q: deque[Task] = deque()
        self.need_resched = False
        self.tick_at = -1
        self.irq_at = 0
        self.scheduled = False
        self.busy = False
        self.seg: tuple[int, int, Any, str] | None = None  # span in progress (t0, t1, task, what)
        self.carry = 0.0
        self.kc: Any = None  # the kernel's Cpu
        self.wake_at = 0  # an idle CPU woken by a remote IPI runs no earlier than this
        self.rt_tasks: list[Task] = []  # SCHED_FIFO tasks pinned here (RT throttling)
        self.rt_throttled = False
        self.rt_base = 0  # RT time used up to the start of the current RT period
        self.rt_period_start = -1


_WAKING = (
    ops.SpinUnlock, ops.MutexUnlock, ops.LocalUnlock, ops.IrqRestore, ops.PreemptEnable,
    ops.RcuReadUnlock, ops.QueueWorkOn, ops.EnterUser, ops.GoIdle, ops.GoOffline,
)  # fmt: skip
_WAKING_TYPES = frozenset((*_WAKING, ops.SynchronizeRcu, ops.FlushWork, ops.IpiCall))
_LOCK_WAIT_TYPES = frozenset((ops.SpinLock, ops.MutexLock, ops.LocalLock))
_UNLOCK_TYPES = frozenset((ops.SpinUnlock, ops.MutexUnlock, ops.LocalUnlock))


def _lock_key(op: Any, cpu: int) -> Any:
    """The lock an acquire/release op is about (local locks are per CPU)."""
    tp = type(op)
    if tp is ops.MutexLock or tp is ops.MutexUnlock:
        return id(op.mutex)
    if tp is ops.LocalLock or tp is ops.LocalUnlock:
        return (id(op.lock), cpu)
    return id(op.lock)


_Sleep, _UserRun, _Work = ops.Sleep, ops.UserRun, ops.Work
_MutexLock, _MutexUnlock, _SpinLock, _SpinUnlock = (
    ops.MutexLock, ops.MutexUnlock, ops.SpinLock, ops.SpinUnlock
)  # fmt: skip
# op types whose kernel semantics the engine's fast path executes itself (see _step)
_F_SLEEP, _F_USER, _F_MODE = 2, 3, 4
_FAST_OPS: dict[type, int] = {
    ops.Sleep: _F_SLEEP,
    ops.UserRun: _F_USER,
    ops.Work: _F_MODE,
    ops.EnterKernel: _F_MODE,
}

# --- issue 15: ``ops.Access`` (the checker's announcement of a shared-state access) is a
# zero-cost no-op here, run inside the step that reached it: no event, no price, no time.
_Access = ops.Access


def _skip_access(kernel: Any, task: Task) -> None:
    while type(task.op) is _Access:
        try:
            task.op = task.gen.send(None)
        except StopIteration as stop:
            task.op = None
            kernel.finish(task, stop.value)


_FLAG_OPS = (
    ops.IrqSave, ops.IrqRestore, ops.PreemptDisable, ops.PreemptEnable, ops.MigrateDisable,
    ops.MigrateEnable, ops.RcuReadLock, ops.RcuReadUnlock,
)  # fmt: skip
_NOISE_TABLE = 8192
#: event priority of the RT throttling timers: after everything else at the same time, and not
#: counted as activity (``run()`` returns the time of the last other event)
_P_RT = 3


class _RatelimitState:
    """``printk_ratelimit_state`` (5.17 kernel/printk/printk.c): one line for all CPUs."""

    name = "printk_ratelimit_state"


class Simulator:
    """See the module docstring."""

    _fast = True  # False: every op through ``kernel.step`` (tests compare both paths)

    def __init__(
        self,
        machine: Any,
        *,
        costs: CostModel | None = None,
        profile: Any = None,
        design: Any = None,
        seed: int = 0,
        noise: float = C.DEFAULT_NOISE,
        preempt_rt: bool = False,
        nohz_full: Any = (),
        tick_ns: int = C.TICK_NS,
        invariants: bool = False,
        rt_runtime_ns: int | None = C.RT_RUNTIME_NS,
        rt_period_ns: int = C.RT_PERIOD_NS,
        wakeup_preemption: bool = True,
    ) -> None:
        self.machine = machine
        if costs is None:
            costs = (
                CostModel.for_profile(profile)
                if profile is not None
                else CostModel.generic(machine)
            )
        if len(costs.places) < machine.nr_cpus:
            raise PcplabError(
                f"cost model for {costs.name} has {len(costs.places)} CPUs, machine has "
                f"{machine.nr_cpus}; build both from the same profile"
            )
        if preempt_rt and not costs.kernel_config.preempt_rt:
            from dataclasses import replace

            costs = costs.with_config(replace(costs.kernel_config, preempt_rt=True))
        preempt_rt = preempt_rt or costs.kernel_config.preempt_rt
        self.costs = costs
        self.kernel = Kernel(
            machine.nr_cpus, preempt_rt=preempt_rt, nohz_full=nohz_full, machine=machine
        )
        self.kernel.record_events = True
        self.design = design
        if design is not None:
            self.kernel.state = design.setup(machine, self.kernel)
        self.seed = seed
        self.rng = random.Random(seed)
        nrng = np.random.default_rng(seed)
        if noise > 0:
            tab = np.exp(nrng.normal(-noise * noise / 2, noise, _NOISE_TABLE))
        else:
            tab = np.ones(_NOISE_TABLE)
        self._noise = [float(x) for x in tab]
        self._ni = 0
        self._gp_rng = random.Random(seed ^ 0x9E3779B9)
        self.tick_ns = tick_ns
        self.invariants = invariants
        self._last = 0  # see run()
        if rt_runtime_ns is not None and not 0 < rt_runtime_ns <= rt_period_ns:
            raise PcplabError(
                f"RT runtime {rt_runtime_ns} ns must be in (0, period {rt_period_ns} ns]; "
                "use None for no RT throttling"
            )
        self.rt_runtime_ns = rt_runtime_ns
        self.rt_period_ns = rt_period_ns
        self.wakeup_preemption = wakeup_preemption
        self.now = 0
        # The event queue: a heap of keys ``t << 2 | prio`` (distinct keys only) and, per key, a
        # FIFO of ``(fn, args)`` (the bare entry while it is the only one).  Same order as one heap of ``(t, prio, seq)`` -- events at equal
        # (t, prio) run in the order they were pushed -- but simultaneous events cost a deque
        # append/popleft instead of tuple comparisons down a heap (a calendar queue).
        self._keys: list[int] = []
        self._buckets: dict[int, Any] = {}
        self.cpus = [
            _CpuSim(c, costs.places[c].core, costs.places[c].node) for c in range(machine.nr_cpus)
        ]
        for c in self.cpus:
            c.kc = self.kernel.cpus[c.id]
        self._core_busy: dict[int, int] = {}
        self._unit_ns: dict[str, float] = {}
        self._call_ns: dict[str, float] = {}
        # per-operation prices (sim/costs.py ArchOps, KernelConfig), by irqsave flag
        self._lock_ns = (costs.spin_lock_ns(False), costs.spin_lock_ns(True))
        self._unlock_ns = (costs.spin_unlock_ns(False), costs.spin_unlock_ns(True))
        self._local_ns = (costs.local_lock_ns(), costs.local_unlock_ns())
        self._irq_ns = (costs.irq_save_ns(), costs.irq_restore_ns())
        self._line_ns = costs.line_cycles() / costs.clock_ghz
        size = costs.pageset_size
        if size is None and design is not None:
            size = design.size_statement(machine)
        self._pageset = costs.pageset_prices(size)
        self._debug_check_ns = costs.debug_check_ns()
        self._debug_slow_ns = costs.debug_slow_check_ns()
        # pcp locks by id -> owning CPU: a design that takes its own CPU's pcp lock got the
        # pointer from this_cpu_ptr(), which CONFIG_DEBUG_PREEMPT checks (costs.py)
        st = self.kernel.state
        self._pcp_lock_cpu: dict[int, int] = {}
        for locks in getattr(st, "pcp_lock", {}).values():
            for cpu_, lk in enumerate(locks):
                self._pcp_lock_cpu[id(lk)] = cpu_
        for cpu_, lk in enumerate(getattr(st, "pagesets_spin", []) or []):
            self._pcp_lock_cpu[id(lk)] = cpu_
        #: the global ``printk_ratelimit_state`` line (DEBUG_PREEMPT's preemptible-code path)
        self._ratelimit = _RatelimitState()
        #: DEBUG_PREEMPT checks that ran in preemptible code (each wrote the shared line)
        self.preempt_checks_slow = 0
        self._speeds = [1.0] + [costs.smt_speed(k) for k in range(1, 65)]
        self._info: dict[Task, TaskStats] = {}
        self._known = 0
        self._waiters: list[Task] = []  # blocked on anything but a lock or an empty worklist
        # idle kworkers by the CPU whose worklist they serve: only queue_work on that CPU (the
        # kernel's "work_queued" event) can wake them, so wake checks need not look at them
        self._pool_waiters: dict[int, list[Task]] = {}
        self._lock_waiters: dict[Any, deque[Task]] = {}  # lock key -> FIFO of blocked tasks
        self._gp_deadline: dict[Task, int] = {}
        self._lines: dict[int, _Line] = {}
        self._seen: dict[tuple[int, int], int] = {}
        # per node: when its memory has written back every zeroed line queued so far (clear_page)
        self._wb_free: dict[int, float] = {}
        self._segment_fns: list[Callable[..., None]] = []
        self._op_fns: list[Callable[..., None]] = []
        self._track = False  # keep per-CPU spans only when someone listens
        self.cpu_busy_ns = [0] * machine.nr_cpus
        self.events_processed = 0
        self._keep: list[object] = []  # objects whose id() keys a line: keep them alive (ids stay unique)
        self._tw = self._timer_wake  # one bound method for every timer entry (cheaper to push)

    # --- public API ---------------------------------------------------------------------------

    def spawn(
        self,
        cpu: int,
        fn: Callable[..., Any],
        args: tuple[Any, ...] = (),
        name: str | None = None,
        policy: str = "other",
        start_ns: int = 0,
    ) -> Task:
        if policy not in ("other", "fifo"):
            raise PcplabError(f"unknown scheduling policy {policy!r}; use 'other' or 'fifo'")
        if not 0 <= cpu < self.machine.nr_cpus:
            raise PcplabError(f"no CPU {cpu}; CPUs are 0-{self.machine.nr_cpus - 1}")
        task = self.kernel.spawn(cpu, fn, args, name=name)
        self._known = len(self.kernel.tasks)
        st = TaskStats(policy, start_ns)
        self._info[task] = st
        if policy == "fifo":
            self.cpus[cpu].rt_tasks.append(task)
        if start_ns <= self.now:
            self._make_ready(task, self.now, wakeup=False)
        else:
            self._push(start_ns, 1, self._start_task, task)
        return task

    def at(self, t_ns: int, fn: Callable[..., Any], *args: Any) -> None:
        self._push(int(t_ns), 2, fn, *args)

    def on_segment(self, fn: Callable[..., None]) -> None:
        self._segment_fns.append(fn)
        self._track = True

    def on_op(self, fn: Callable[..., None]) -> None:
        self._op_fns.append(fn)

    def stats(self, task: Task) -> TaskStats:
        return self._info[task]

    def cpu_time(self, cpu: int) -> str:
        c = self.cpus[cpu]
        kc = self.kernel.cpus[cpu]
        if kc.irq is not None:
            return kc.irq.name
        return c.cur.name if c.cur is not None else "idle"

    def check_invariants(self, where: str) -> None:
        from pcplab.mm.invariants import check_invariants

        errs = check_invariants(self.machine)
        if errs:
            more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
            raise InvariantBroken(f"at {where}, t={self.now} ns: " + "; ".join(errs[:3]) + more)

    def checked(self, gen: Any, where: str) -> Any:
        """``result = yield from sim.checked(design.drain_all_pages(ctx, None), "drain")``."""
        result = yield from gen
        self.check_invariants(where)
        return result

    def run(self, until: int | None = None) -> int:
        keys = self._keys
        buckets = self._buckets
        pop = heapq.heappop
        n = 0
        last = self._last  # time of the last event that was not an RT throttling timer
        try:
            while keys:
                k = keys[0]
                t = k >> 2
                if until is not None and t > until:
                    self.now = until
                    return until
                self.now = t
                if k & 3 != _P_RT:
                    last = t
                q = buckets[k]
                if type(q) is tuple:  # a single event at this (t, prio)
                    pop(keys)
                    del buckets[k]
                    n += 1
                    fn, args = q
                    fn(*args)
                    continue
                if not q:  # all events at this (t, prio) done
                    pop(keys)
                    del buckets[k]
                    continue
                # Several: run them in order while this (t, prio) stays first.  Events pushed
                # meanwhile for it join this FIFO; one pushed for an earlier key (a CPU event at
                # the same t) makes the loop stop and let the heap order decide.
                popleft = q.popleft
                while True:
                    fn, args = popleft()
                    n += 1
                    fn(*args)
                    if not q or keys[0] != k:
                        break
        finally:
            self.events_processed += n
            self._last = last
        # RT period timers are bookkeeping, not activity: a simulation ends with its last task
        if until is None:
            self.now = last
        stuck = [
            t
            for t in self.kernel.unfinished()
            if self._info.get(t) is None or self._info[t].state != "done"
        ]
        stuck = [t for t in stuck if t.kind == "program"]
        if stuck:
            desc = ", ".join(f"{t.name} waits on {self.kernel.wait_key(t)}" for t in stuck[:4])
            raise SimDeadlock(f"simulation stuck at t={self.now} ns: {desc}")
        return self.now

    # --- events ---------------------------------------------------------------------------------

    def _push(self, t: int, prio: int, fn: Callable[..., Any], *args: Any) -> None:
        k = t << 2 | prio  # ints only: a float time would be a bug (TypeError here)
        q = self._buckets.get(k)
        if q is None:  # the only event at this (t, prio) so far: no deque yet
            self._buckets[k] = (fn, args)
            heapq.heappush(self._keys, k)
        elif type(q) is tuple:
            self._buckets[k] = deque((q, (fn, args)))
        else:
            q.append((fn, args))

    def _start_task(self, task: Task) -> None:
        self._info[task].ready_since = self.now
        self._make_ready(task, self.now, wakeup=False)

    def _sched(self, c: _CpuSim, t: int) -> None:
        """(Re)schedule CPU ``c`` to act at ``t``; invalidates an older pending event."""
        c.gen += 1
        c.scheduled = True
        k = t << 2
        q = self._buckets.get(k)
        if q is None:  # the only event at this (t, prio) so far: no deque yet
            self._buckets[k] = (self._cpu_event, (c, c.gen))
            heapq.heappush(self._keys, k)
        elif type(q) is tuple:
            self._buckets[k] = deque((q, (self._cpu_event, (c, c.gen))))
        else:
            q.append((self._cpu_event, (c, c.gen)))

    def _cpu_event(self, c: _CpuSim, gen: int) -> None:
        if gen != c.gen:
            return
        c.scheduled = False
        t = self.now
        if c.seg is not None:
            self._flush(c, t)
        # the common case of _cpu_run inlined: the running task goes on with its next op
        cur = c.cur
        if cur is not None and not c.need_resched:
            kc = c.kc
            if kc.irq is None and not kc.pending_irqs:
                st = self._info[cur]
                if st.state == "running" and not st.rest and not cur.done:
                    self._step(c, cur, t)
                    return
        self._cpu_run(c, t)

    def _set_busy(self, c: _CpuSim, busy: bool) -> None:
        if c.busy != busy:
            c.busy = busy
            self._core_busy[c.core] = self._core_busy.get(c.core, 0) + (1 if busy else -1)

    def _segment(self, c: _CpuSim, t0: int, t1: int, task: Task | None, what: str) -> None:
        if t1 > t0:
            self.cpu_busy_ns[c.id] += t1 - t0
            for fn in self._segment_fns:
                fn(c.id, t0, t1, task, what)

    def _flush(self, c: _CpuSim, t: int) -> None:
        """Emit the span in progress on ``c`` up to ``t`` (it may have been cut short)."""
        seg = c.seg
        if seg is not None:
            c.seg = None
            self._segment(c, seg[0], min(seg[1], t), seg[2], seg[3])

    # --- the per-CPU scheduler --------------------------------------------------------------------

    def _cpu_run(self, c: _CpuSim, t: int) -> None:
        kc = c.kc
        cur = c.cur
        if cur is not None and kc.irq is None and not kc.pending_irqs and not c.need_resched:
            st = self._info[cur]
            if st.state == "running" and not st.rest and not cur.done:
                self._step(c, cur, t)  # the common case: the running task's next op
                return
        # 1. an active or arriving IRQ
        if kc.irq is not None:
            self._step(c, kc.irq, t, irq=True)
            return
        cur = c.cur
        if (
            kc.pending_irqs
            and kc.online
            and t >= c.irq_at
            and (cur is None or cur.irq_depth == 0 or self._info[cur].state != "running")
        ):
            self._step(c, kc.pending_irqs[0], t, irq=True)
            return
        if cur is not None:
            st = self._info[cur]
            if st.state == "running" and cur.done and not st.rest:
                st.state = "done"
                st.end_ns = t
                c.cur = None
                cur = None
                if self._waiters:
                    self._wake_check(t)
            elif st.state == "running":
                if (
                    c.need_resched
                    and not cur.done
                    and self._preemptible(cur)
                    and self._has_ready(c, cur)
                ):
                    self._preempt(c, cur, t)
                    return
                # a throttled FIFO task in a non-preemptible section stops at the next chance
                c.need_resched = c.rt_throttled and st.policy == "fifo"
                if st.rest:
                    # finish the op an IRQ or a preemption interrupted
                    rest = st.rest
                    st.rest = 0
                    c.op_kind = st.rest_kind
                    self._account(c, cur, t, t + rest, c.op_kind)
                    c.op_end = t + rest
                    self._sched(c, t + rest)
                    return
                self._step(c, cur, t)
                return
            elif st.state == "spinning":
                return  # wait for the wake-up
            else:
                c.cur = None
        # 2. pick the next task
        nxt = self._pick(c)
        if nxt is None:
            c.cur = None
            c.need_resched = False
            self._set_busy(c, False)
            if kc.pending_irqs and kc.online:
                self._sched(c, max(t, c.irq_at))
            return
        st = self._info[nxt]
        st.wait_ns += t - st.ready_since
        st.state = "running"
        c.cur = nxt
        c.need_resched = False
        self._set_busy(c, True)
        if c.prev is not nxt:  # from idle or from another task
            st.switches += 1
            cs = int(self.costs.context_switch_ns)
            if self._track:
                self._flush(c, t)
                c.seg = (t, t + cs, nxt, "switch")
            else:
                self.cpu_busy_ns[c.id] += cs
            st.system_ns += cs
            c.prev = nxt
            c.op_kind = "kernel"
            c.op_end = t + cs
            self._sched(c, t + cs)
            return
        c.prev = nxt
        self._cpu_run(c, t)

    def _pick(self, c: _CpuSim) -> Task | None:
        online = c.kc.online
        for q in (c.other_q,) if c.rt_throttled else (c.fifo_q, c.other_q):
            while q:
                task = q.popleft()
                if self._info[task].state == "ready" and not task.done:
                    if not online and task.kind != "kworker":
                        continue  # programs pinned to an offline CPU stop (kernel/state.py)
                    return task
        return None

    def _has_ready(self, c: _CpuSim, cur: Task) -> bool:
        if self._info[cur].policy == "fifo":
            # same-priority FIFO tasks and SCHED_OTHER never preempt it -- unless its CPU's RT
            # runtime is used up (then it must stop, even if the CPU goes idle)
            return c.rt_throttled
        return (
            not c.rt_throttled and any(self._info[t].state == "ready" for t in c.fifo_q)
        ) or any(self._info[t].state == "ready" for t in c.other_q)

    @staticmethod
    def _preemptible(task: Task) -> bool:
        return task.irq_depth == 0 and task.preempt == 0 and not task.held

    def _preempt(self, c: _CpuSim, cur: Task, t: int) -> None:
        st = self._info[cur]
        st.state = "ready"
        st.ready_since = t
        (c.fifo_q if st.policy == "fifo" else c.other_q).append(cur)
        c.cur = None
        c.need_resched = False
        self._cpu_run(c, t)

    def _make_ready(self, task: Task, t: int, wakeup: bool = True) -> None:
        """``task`` becomes runnable on its CPU at ``t``; ``wakeup`` False for a new task (fork:
        CFS's START_DEBIT places it behind the running one, so it waits for a tick)."""
        st = self._info[task]
        st.state = "ready"
        st.ready_since = t
        c = self.cpus[task.cpu]
        if st.policy == "fifo":
            c.fifo_q.append(task)
            self._rt_arm(c)
        else:
            c.other_q.append(task)
        cur = c.cur
        if cur is None:
            if not c.scheduled and c.kc.irq is None:
                self._sched(c, max(t, c.wake_at))
            return
        cst = self._info[cur]
        if cst.state != "running":
            if not c.scheduled:
                self._sched(c, t)
            return
        if st.policy == "fifo" and cst.policy == "other" and not c.rt_throttled:
            c.need_resched = True
            if self._preemptible(cur):
                self._interrupt(c, t)
            return
        if cst.policy == "other":
            if wakeup and st.policy == "other" and self.wakeup_preemption:
                # CFS wakeup preemption (kernel/sched/fair.c, 5.17: place_entity gives a woken
                # sleeper up to sched_latency/2 of credit below min_vruntime with
                # GENTLE_FAIR_SLEEPERS; check_preempt_wakeup preempts when the running task is
                # more than the wakeup granularity, sched_latency/6, ahead), so it runs at once.
                # ASSUMPTION: the woken task (a kworker, a timer or lock wake-up) has run little
                # lately compared with the running one, so its vruntime is that low.
                c.need_resched = True
                if self._preemptible(cur):
                    self._interrupt(c, t)
                    return
            # tick preemption at the next tick boundary
            nt = (t // self.tick_ns + 1) * self.tick_ns
            if c.tick_at < t or c.tick_at > nt:
                c.tick_at = nt
                self._push(nt, 0, self._tick, c)

    def _tick(self, c: _CpuSim) -> None:
        t = self.now
        c.tick_at = -1
        cur = c.cur
        if cur is None or self._info[cur].state != "running":
            return
        if not self._has_ready(c, cur):
            return
        c.need_resched = True
        if self._preemptible(cur):
            self._interrupt(c, t)

    def _interrupt(self, c: _CpuSim, t: int) -> None:
        """Stop the op in progress at ``t`` (its rest runs later) and re-run the scheduler."""
        cur = c.cur
        if cur is not None and c.op_end > t and self._info[cur].state == "running":
            st = self._info[cur]
            st.rest += c.op_end - t
            st.rest_kind = c.op_kind
            # take back the not-yet-spent part of the op's accounting
            if c.op_kind == "user":
                st.user_ns -= c.op_end - t
            else:
                st.system_ns -= c.op_end - t
            if not self._track:
                self.cpu_busy_ns[c.id] -= c.op_end - t
            c.op_end = t
        self._flush(c, t)
        self._sched(c, t)

    # --- executing one op -------------------------------------------------------------------------

    def _step(self, c: _CpuSim, task: Task, t: int, irq: bool = False) -> None:
        kernel = self.kernel
        # Any: dispatched on its exact type (``tp is ...``, faster than isinstance), which mypy
        # cannot narrow through
        op: Any = task.op
        tp = type(op)
        work_before = task.work
        pcp_lock = -1
        if (tp is _SpinLock or tp is ops.SpinTrylock) and self._pcp_lock_cpu:
            owner = self._pcp_lock_cpu.get(id(op.lock))
            if owner is not None:
                # the design's this_cpu_ptr() ran before this lock: preemptible then?
                preemptible = not (task.irq_depth or task.preempt or task.migrate)
                pcp_lock = 1 if preemptible and owner == task.cpu and task.kind == "program" else 0
        res: Any = None
        # Fast path: ops with no kernel state of their own, executed here without the kernel's
        # per-op dispatch (and without building might_sleep()'s message when it cannot fire).
        # Anything unusual -- an IRQ context, an offline CPU, a check that would raise -- and
        # every lock op goes through ``kernel.step``, the reference.
        f = _FAST_OPS.get(tp, 0) if not irq and self._fast else 0
        if f:
            kcpu = kernel.cpus[task.cpu]
            if task.kill or not kcpu.online or task.kind == "irq":
                f = 0
            elif f == _F_SLEEP:
                if task.irq_depth or task.preempt or task.rcu_nest or task.rt_locks:
                    f = 0  # might_sleep() fires: the kernel raises it
            elif f == _F_MODE:
                task.mode = "kernel"  # implicit kernel entry (Work) or EnterKernel
            if f:
                kcpu.current = task
                task.steps += 1
                try:
                    task.op = task.gen.send(None)
                except StopIteration as stop:
                    task.op = None
                    kernel.finish(task, stop.value)
        if not f:
            if irq:
                self._set_busy(c, True)
            if tp is ops.SynchronizeRcu and task.wait is None:
                self._gp_deadline[task] = t + self.costs.gp_ns(op.expedited, self._gp_rng.random())
            res = kernel.step(task)
        if type(task.op) is _Access and res is not BLOCKED:
            _skip_access(kernel, task)
        st = self._info.get(task)
        if st is None:  # an IRQ task or a kworker the kernel created
            st = self._adopt(task, t)
        if kernel.events:
            self._kernel_events(t)  # first: a wake-up IPI delays what the adoption schedules
        if len(kernel.tasks) != self._known:
            self._adopt_new(t)
        if res is BLOCKED:
            if task.spinning:
                st.state = "spinning"
                st.spin_since = t
                c.op_kind = "spin"
            else:
                st.state = "sleeping"
                if not irq:
                    c.cur = None
                c.gen += 1  # drop any pending event of this CPU; decide now
                self._add_waiter(task)
                if kernel.events:
                    self._kernel_events(t)
                self._cpu_run(c, t)
                return
            self._add_waiter(task)
            if kernel.events:
                self._kernel_events(t)
            return
        if op is None:
            ns, kind = 0, "kernel"
        else:
            # the prices of the hot ops inlined from _price (same arithmetic, same jitter draws)
            fns: float
            if tp is _Sleep:
                fns = int(op.ns)
                if fns < 0:
                    fns = 0
                kind = "sleep"
            elif tp is _UserRun:
                i = self._ni + 1
                if i == _NOISE_TABLE:
                    i = 0
                self._ni = i
                fns = op.ns / self._speeds[self._core_busy.get(c.core, 1)] * self._noise[i]
                kind = "user"
            elif tp is _Work and op.kind != "clear_page":
                per = self._unit_ns.get(op.kind)
                if per is None:
                    per = self._unit_ns[op.kind] = self.costs.work_ns(op.kind, 1)
                call = self._call_ns.get(op.kind)
                if call is None:
                    call = self._call_ns[op.kind] = self.costs.work_call_ns(op.kind)
                base = per * op.n + call
                extra = self._write(c.id, op.data, t) if op.data is not None else 0.0
                i = self._ni + 1
                if i == _NOISE_TABLE:
                    i = 0
                self._ni = i
                fns = (base / self._speeds[self._core_busy.get(c.core, 1)]) * self._noise[i] + extra
                kind = "kernel"
            elif tp is _MutexLock:
                fns = self._write(c.id, op.mutex, t) + C.ATOMIC_CYCLES / self.costs.clock_ghz
                kind = "kernel"
            elif tp is _SpinLock:
                fns = self._write(c.id, op.lock, t) + self._lock_ns[op.irqsave]
                if pcp_lock >= 0:
                    fns += self._pcp_lock_extra(c.id, pcp_lock, t)
                kind = "kernel"
            elif tp is _MutexUnlock:
                fns = C.HIT_CYCLES / self.costs.clock_ghz
                kind = "kernel"
            elif tp is _SpinUnlock:
                fns = self._unlock_ns[op.irqrestore]
                kind = "kernel"
            else:
                fns, kind = self._price(c, task, op, t)
                if pcp_lock >= 0:
                    fns += self._pcp_lock_extra(c.id, pcp_lock, t)
            # integer ns timeline; carry the fractions so sub-ns costs still add up
            if kind == "sleep":
                ns = int(fns)
            else:
                fns += c.carry
                ns = int(fns)
                c.carry = fns - ns
            for fn in self._op_fns:
                fn(task, op, t, ns)
        if kind == "sleep":
            # the task sleeps ``ns``; the CPU is free meanwhile
            if task.done:
                st.state = "done"
                st.end_ns = t + ns
            else:
                st.state = "sleeping"
                st.sleep_gen += 1
                self._push(t + ns, 1, self._tw, task, st.sleep_gen)
            if not irq:
                c.cur = None
            c.gen += 1
            c.scheduled = False
            if kernel.events:
                self._kernel_events(t)
            if not irq:
                kc = c.kc
                if kc.irq is None and not kc.pending_irqs and not c.fifo_q and not c.other_q:
                    # what _cpu_run would do: nothing else to run, the CPU goes idle
                    c.need_resched = False
                    if c.busy:
                        self._set_busy(c, False)
                    return
            self._cpu_run(c, t)
            return
        else:
            if irq:
                kind = "irq"
            if self._track:
                self._account(c, task, t, t + ns, kind)
            else:  # _account inlined: this is the hot path
                if kind == "user":
                    st.user_ns += ns
                else:
                    st.system_ns += ns
                self.cpu_busy_ns[c.id] += ns
            end = t + ns
            c.op_end = end
            c.op_kind = kind
            if task.done and irq:
                st.state = "done"
                st.end_ns = end
            # a finished program keeps its CPU until its last op's time has passed
            c.gen += 1
            c.scheduled = True
            k = end << 2
            q = self._buckets.get(k)
            if q is None:  # the only event at this (t, prio) so far: no deque yet
                self._buckets[k] = (self._cpu_event, (c, c.gen))
                heapq.heappush(self._keys, k)
            elif type(q) is tuple:
                self._buckets[k] = deque((q, (self._cpu_event, (c, c.gen))))
            else:
                q.append((self._cpu_event, (c, c.gen)))
        if kernel.events:
            self._kernel_events(t)
        if (task.done and irq) or task.work is not work_before:
            # the IRQ (or the work item) ends when this op's time has passed
            if self._waiters:
                self._push(t + ns, 1, self._wake_check_now)
        else:
            if tp in _UNLOCK_TYPES and self._lock_waiters:
                key = _lock_key(op, task.cpu)
                if key in self._lock_waiters:
                    self._wake_lock(key, t)
            if self._waiters and tp in _WAKING_TYPES:
                self._wake_check(t)
        if self.invariants:
            self.check_invariants(f"{task.name} after {op.describe() if op else 'start'}")

    def _sleep_again(self, c: _CpuSim, task: Task, st: TaskStats, op: Any) -> None:
        """``_step`` for a task woken by its timer on its idle CPU whose next op is another
        ``Sleep`` (a periodic task; SimPy's timeout loop), when nothing else is going on there:
        the same effects, straight-line.  The CPU stays idle (the task runs for zero time
        between two sleeps), so it is never marked busy; anything unusual (the task ends, the
        kernel reports an event or a new task) takes the general path from that point on."""
        t = self.now
        kernel = self.kernel
        c.kc.current = task  # kernel.step
        task.steps += 1
        try:
            task.op = task.gen.send(None)
        except StopIteration as stop:
            task.op = None
            kernel.finish(task, stop.value)
        if task.done or kernel.events or len(kernel.tasks) != self._known:
            self._sleep_again_slow(c, task, st, op, t)
            return
        ns = op.ns
        if type(ns) is not int or ns < 0:
            ns = max(0, int(ns))
        g = st.sleep_gen = st.sleep_gen + 1
        # _push inlined (the hot path of a timer loop)
        k = (t + ns) << 2 | 1
        buckets = self._buckets
        q = buckets.get(k)
        if q is None:
            buckets[k] = (self._tw, (task, g))
            heapq.heappush(self._keys, k)
        elif type(q) is tuple:
            buckets[k] = deque((q, (self._tw, (task, g))))
        else:
            q.append((self._tw, (task, g)))
        c.gen += 1
        c.need_resched = False

    def _sleep_again_slow(self, c: _CpuSim, task: Task, st: TaskStats, op: Any, t: int) -> None:
        """The rest of :meth:`_sleep_again` once the generator produced something unusual."""
        kernel = self.kernel
        st.state = "running"
        c.cur = task
        self._set_busy(c, True)
        if kernel.events:
            self._kernel_events(t)
        if len(kernel.tasks) != self._known:
            self._adopt_new(t)
        ns = max(0, int(op.ns))
        if task.done:
            st.state = "done"
            st.end_ns = t + ns
        else:
            st.state = "sleeping"
            st.sleep_gen += 1
            self._push(t + ns, 1, self._tw, task, st.sleep_gen)
        c.cur = None
        c.gen += 1
        c.scheduled = False
        if kernel.events:
            self._kernel_events(t)
        kc = c.kc
        if kc.irq is None and not kc.pending_irqs and not c.fifo_q and not c.other_q:
            c.need_resched = False  # what _cpu_run does when nothing else can run
            self._set_busy(c, False)
            return
        self._cpu_run(c, t)

    def _account(self, c: _CpuSim, task: Task, t0: int, t1: int, kind: str) -> None:
        st = self._info[task]
        if kind == "user":
            st.user_ns += t1 - t0
        else:
            st.system_ns += t1 - t0
        if not self._track:
            self.cpu_busy_ns[c.id] += t1 - t0
            return
        if c.seg is not None:
            self._flush(c, t0)
        if t1 > t0:
            c.seg = (t0, t1, task, kind)

    def _adopt(self, task: Task, t: int) -> TaskStats:
        st = TaskStats("other", t)
        st.state = "running" if task.kind == "irq" else "sleeping"
        self._info[task] = st
        return st

    def _adopt_new(self, t: int) -> None:
        for task in self.kernel.tasks[self._known :]:
            if task not in self._info:
                self._adopt(task, t)
                if task.kind == "irq":
                    c = self.cpus[task.cpu]
                    c.irq_at = t + int(self.costs.ipi_ns)
                    self._push(c.irq_at, 0, self._irq_arrive, c)
                elif task.kind == "kworker":
                    self._make_ready(task, t)
        self._known = len(self.kernel.tasks)

    def _irq_arrive(self, c: _CpuSim) -> None:
        kc = self.kernel.cpus[c.id]
        if kc.irq is not None or not kc.pending_irqs:
            return
        cur = c.cur
        if cur is not None and self._info[cur].state == "running" and cur.irq_depth == 0:
            self._interrupt(c, self.now)
        elif cur is None and not c.scheduled:
            self._sched(c, self.now)

    def _timer_wake(self, task: Task, gen: int) -> None:
        st = self._info[task]
        if st.sleep_gen != gen or st.state != "sleeping":
            return
        c = self.cpus[task.cpu]
        kc = c.kc
        if task.kind == "irq":
            st.state = "running"
            self._sched(c, self.now)
            return
        if (
            c.cur is None
            and c.prev is task
            and not c.scheduled
            and not c.rt_throttled
            and kc.irq is None
            and not kc.pending_irqs
            and not c.fifo_q
            and not c.other_q
        ):
            # its idle CPU, which last ran it: continue at once (no switch, no extra event)
            op = task.op
            if (
                type(op) is _Sleep
                and not c.busy
                and self._fast
                and kc.online
                and not task.kill
                and not self._op_fns
                and not (task.irq_depth or task.preempt or task.rcu_nest or task.rt_locks)
            ):
                self._sleep_again(c, task, st, op)
                return
            st.state = "running"
            c.cur = task
            if not c.busy:  # _set_busy(c, True) inlined
                c.busy = True
                self._core_busy[c.core] = self._core_busy.get(c.core, 0) + 1
            self._step(c, task, self.now)
            return
        self._make_ready(task, self.now)
        if c.scheduled and c.cur is None and len(c.fifo_q) + len(c.other_q) <= 1:
            # an idle CPU woken by this timer: run it now rather than via another event
            c.gen += 1
            c.scheduled = False
            self._cpu_run(c, self.now)

    # --- RT throttling (costs.RT_RUNTIME_NS) ---------------------------------------------------

    def _rt_arm(self, c: _CpuSim) -> None:
        """Start the RT period timers of ``c`` unless they run (a SCHED_FIFO task can run there
        again) or there is no throttling.  Periods start at multiples of the period; armed
        mid-period, the period's earlier RT time is not counted (the timers stop while no FIFO
        task can run, see :meth:`_rt_period`)."""
        if c.rt_period_start >= 0 or self.rt_runtime_ns is None:
            return
        t = self.now
        c.rt_period_start = start = t - t % self.rt_period_ns
        c.rt_base = self._rt_used(c, t)
        self._push(
            start + self.rt_runtime_ns if start + self.rt_runtime_ns > t else t,
            _P_RT,
            self._rt_check,
            c,
            start,
        )
        self._push(start + self.rt_period_ns, _P_RT, self._rt_period, c)

    def _rt_used(self, c: _CpuSim, t: int) -> int:
        """CPU time the SCHED_FIFO tasks of ``c`` have used up to ``t`` (an op is accounted when
        it starts: take back the part of the running one that lies after ``t``)."""
        used = 0
        for task in c.rt_tasks:
            st = self._info[task]
            used += st.user_ns + st.system_ns
            if st.state == "spinning":
                used += t - st.spin_since
        cur = c.cur
        if cur is not None and c.op_end > t and self._info[cur].policy == "fifo":
            used -= c.op_end - t
        return used

    def _rt_check(self, c: _CpuSim, period_start: int) -> None:
        """Has this RT period's runtime run out?  Then throttle: the FIFO task stops at its next
        preemption point and SCHED_OTHER tasks (kworkers) run until the period ends."""
        if period_start != c.rt_period_start or c.rt_throttled:
            return
        t = self.now
        runtime = self.rt_runtime_ns
        assert runtime is not None  # the RT timers are started only with throttling on
        left = runtime - (self._rt_used(c, t) - c.rt_base)
        if left > 0:
            if t + left < period_start + self.rt_period_ns:
                self._push(t + left, _P_RT, self._rt_check, c, period_start)
            return
        c.rt_throttled = True
        cur = c.cur
        if cur is not None and self._info[cur].policy == "fifo":
            c.need_resched = True
            if self._preemptible(cur) and self._info[cur].state == "running":
                self._interrupt(c, t)

    def _rt_period(self, c: _CpuSim) -> None:
        """sched_rt_period_timer: a new RT period; unthrottle, and the FIFO task takes its CPU
        back at once (it preempts SCHED_OTHER)."""
        t = self.now
        throttled = c.rt_throttled
        c.rt_throttled = False
        if not c.kc.online or all(
            x.done or (x.wait is not None and self._info[x].state in ("sleeping", "spinning"))
            for x in c.rt_tasks
        ):
            # no FIFO task can run here (finished, blocked or spinning in the kernel, or the CPU
            # is offline): stop the timers, so that they neither keep a finished simulation going nor hide a
            # deadlock; they start again when a FIFO task becomes ready or stops spinning
            c.rt_period_start = -1
        else:
            c.rt_period_start = t
            c.rt_base = self._rt_used(c, t)
            runtime = self.rt_runtime_ns
            assert runtime is not None  # the RT timers are started only with throttling on
            self._push(t + runtime, _P_RT, self._rt_check, c, t)
            self._push(t + self.rt_period_ns, _P_RT, self._rt_period, c)
        if not throttled:
            return
        if not any(self._info[x].state == "ready" for x in c.fifo_q):
            return
        cur = c.cur
        if cur is None:
            if not c.scheduled and c.kc.irq is None:
                self._sched(c, t)
        elif self._info[cur].state == "running" and self._info[cur].policy == "other":
            c.need_resched = True
            if self._preemptible(cur):
                self._interrupt(c, t)
        elif not c.scheduled:
            self._sched(c, t)

    def _wake_check_now(self) -> None:
        self._wake_check(self.now)

    def _add_waiter(self, task: Task) -> None:
        w = task.wait
        tw = type(w)
        if tw in _LOCK_WAIT_TYPES:
            self._lock_waiters.setdefault(_lock_key(w, task.cpu), deque()).append(task)
        elif tw is WaitForWork:
            self._pool_waiters.setdefault(task.pool, []).append(task)
        else:
            self._waiters.append(task)

    def _wake_pool(self, pool: int, t: int) -> None:
        """Work was queued on CPU ``pool``: wake its idle kworker(s)."""
        waiters = self._pool_waiters.pop(pool, None)
        if waiters:
            keep = self._wake_ready(waiters, t)
            if keep:
                self._pool_waiters.setdefault(pool, []).extend(keep)

    def _wake_ready(self, waiters: list[Task], t: int) -> list[Task]:
        """Wake those of ``waiters`` whose condition holds; returns the others, in order."""
        can_run = self.kernel.can_run
        keep: list[Task] = []
        for task in waiters:
            if task.done:
                continue
            if task.wait is not None and not can_run(task):
                keep.append(task)
                continue
            self._wake(task, t)
        return keep

    def _wake_lock(self, key: Any, t: int) -> None:
        """A lock was released: hand it to the first waiter (FIFO, like qspinlock/mutex)."""
        q = self._lock_waiters[key]
        can_run = self.kernel.can_run
        while q:
            task = q[0]
            if task.done:
                q.popleft()
                continue
            if not can_run(task):
                return
            q.popleft()
            self._wake(task, t)
            break
        if not q:
            del self._lock_waiters[key]

    def _wake_check(self, t: int) -> None:
        """Wake the (non-lock) waiters whose condition now holds."""
        if not self._waiters:
            return
        waiters = self._waiters
        self._waiters = []  # (anything that starts waiting meanwhile is kept too)
        self._waiters.extend(self._wake_ready(waiters, t))

    def _wake(self, task: Task, t: int) -> None:
        st = self._info[task]
        c = self.cpus[task.cpu]
        if st.state == "spinning":
            st.state = "running"
            st.system_ns += t - st.spin_since
            self._flush(c, st.spin_since)
            self._segment(c, st.spin_since, t, task, "spin")
            if st.policy == "fifo":
                self._rt_arm(c)
            if task.kind == "irq" or c.cur is task:
                self._sched(c, t)
            return
        deadline = self._gp_deadline.get(task)
        if deadline is not None and deadline > t:
            st.sleep_gen += 1
            self._push(deadline, 1, self._tw, task, st.sleep_gen)
            return
        if task.kind == "irq":
            st.state = "running"
            self._sched(c, t)
        else:
            self._make_ready(task, t)

    def _kernel_events(self, t: int) -> None:
        evs = self.kernel.events
        self.kernel.events = []
        for ev in evs:
            if ev.kind == "rcu_exp_ipi" and ev.dst is not None:
                self._steal(self.cpus[ev.dst], t + int(self.costs.ipi_ns), C.IPI_HANDLER_NS)
            elif ev.kind == "work_queued" and ev.dst is not None:
                c = self.cpus[ev.dst]
                if ev.src != ev.dst:
                    # try_to_wake_up on another CPU sends it an IPI: an idle CPU leaves idle
                    # ipi_ns later; a busy one takes the (reschedule) IPI as an interruption
                    ipi = int(self.costs.ipi_ns)
                    if c.cur is None:
                        c.wake_at = t + ipi
                    else:
                        self._steal(c, t + ipi, C.IPI_HANDLER_NS)
                self._wake_check(t)
                self._wake_pool(ev.dst, t)

    def _steal(self, c: _CpuSim, t: int, ns: int) -> None:
        """An interrupt handler of ``ns`` on ``c`` at ``t`` (noise on whatever runs there)."""
        self._push(t, 0, self._steal_now, c, ns)

    def _steal_now(self, c: _CpuSim, ns: int) -> None:
        t = self.now
        cur = c.cur
        seg = c.seg
        self._flush(c, t)
        self._segment(c, t, t + ns, None, "irq")
        if cur is not None and self._info[cur].state == "running" and c.op_end > t:
            self._info[cur].interrupted_ns += ns
            if seg is not None and seg[1] > t:
                c.seg = (t + ns, seg[1] + ns, seg[2], seg[3])
            c.op_end += ns
            self._sched(c, c.op_end)

    # --- prices -----------------------------------------------------------------------------------

    def _jitter(self) -> float:
        i = self._ni + 1
        if i == _NOISE_TABLE:
            i = 0
        self._ni = i
        return self._noise[i]

    def _speed(self, c: _CpuSim) -> float:
        return self._speeds[self._core_busy.get(c.core, 1)]

    def _line(self, obj: Any) -> _Line:
        key = id(obj)
        ln = self._lines.get(key)
        if ln is None:
            ln = self._lines[key] = _Line()
            self._keep.append(obj)
        return ln

    def _write(self, cpu: int, obj: Any, t: int | None = None) -> float:
        """Take the line of ``obj`` exclusive for a write (RFO): the transfer from its last
        writer, after any transfer in flight (a contended line moves one CPU at a time)."""
        ln = self._line(obj)
        if ln.writer is None or ln.writer == cpu:
            ln.writer = cpu
            return 0.0
        cost = self.costs.transfer_ns(ln.writer, cpu)
        ln.writer = cpu
        ln.version += 1
        if t is None:
            return cost
        start = ln.busy_until if ln.busy_until > t else t
        ln.busy_until = int(start + cost + C.ATOMIC_CYCLES / self.costs.clock_ghz)
        return start - t + cost

    def _read(self, cpu: int, obj: Any) -> float:
        ln = self._line(obj)
        if ln.writer is None or ln.writer == cpu:
            return 0.0
        key = (id(obj), cpu)
        if self._seen.get(key) == ln.version:
            return 0.0
        self._seen[key] = ln.version
        return self.costs.transfer_ns(ln.writer, cpu)

    def _pcp_lock_extra(self, cpu: int, preemptible: int, t: int) -> float:
        """A pcp lock's own line (when the design's layout puts it apart from the lists) and,
        on a DEBUG_PREEMPT kernel, the ``this_cpu_ptr()`` check that found the task
        preemptible: its local work plus a write of the global ratelimit line."""
        extra = self._pageset.lock_line_ns
        if preemptible and self.costs.kernel_config.debug_preempt:
            self.preempt_checks_slow += 1
            extra += self._debug_slow_ns + self._write(cpu, self._ratelimit, t)
        return extra

    def _price(self, c: _CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        costs = self.costs
        cpu = c.id
        ghz = costs.clock_ghz
        tp = type(op)
        if tp is ops.Work:
            kind = op.kind
            if kind == "clear_page":
                ns = self._clear_ns(c, op.n, t)
                return ns * self._jitter(), "kernel"
            per = self._unit_ns.get(kind)
            if per is None:
                per = self._unit_ns[kind] = costs.work_ns(kind, 1)
            call = self._call_ns.get(kind)
            if call is None:
                call = self._call_ns[kind] = costs.work_call_ns(kind)
            base = per * op.n + call
            extra = self._write(cpu, op.data, t) if op.data is not None else 0.0
            return (base / self._speed(c)) * self._jitter() + extra, "kernel"
        if tp is ops.Sleep:
            return max(0, int(op.ns)), "sleep"
        if tp is ops.UserRun:
            return op.ns / self._speed(c) * self._jitter(), "user"
        if tp is ops.IrqSave:
            return self._irq_ns[0], "kernel"
        if tp is ops.IrqRestore:
            return self._irq_ns[1], "kernel"
        if tp in _FLAG_OPS:
            return C.FLAG_CYCLES / ghz, "kernel"
        if tp is ops.SpinLock or tp is ops.SpinTrylock:
            return self._write(cpu, op.lock, t) + self._lock_ns[op.irqsave], "kernel"
        if tp is ops.MutexLock or tp is ops.MutexTrylock:
            return self._write(cpu, op.mutex, t) + C.ATOMIC_CYCLES / ghz, "kernel"
        if tp is ops.SpinUnlock:
            return self._unlock_ns[op.irqrestore], "kernel"
        if tp is ops.MutexUnlock:
            return C.HIT_CYCLES / ghz, "kernel"
        if tp is ops.LocalLock:
            return self._local_ns[0], "kernel"
        if tp is ops.LocalUnlock:
            return self._local_ns[1], "kernel"
        if tp is ops.Load:
            # a dependent load of one line (e.g. the seed's pcp->lp before its lists)
            return self._read(cpu, op.obj) + self._line_ns, "kernel"
        if tp is ops.Store:
            return self._write(cpu, op.obj, t) + C.HIT_CYCLES / ghz, "kernel"
        if tp is ops.PcpEnter:
            ns = self._write(cpu, op.lists) + C.HIT_CYCLES / ghz + self._pageset.enter_ns
            if op.owner == cpu:
                ns += self._debug_check_ns  # this_cpu_ptr(zone->per_cpu_pageset)
            return ns, "kernel"
        if tp is ops.PcpExit:
            return 0, "kernel"
        if tp is ops.SynchronizeRcu:
            deadline = self._gp_deadline.pop(task, t)
            if deadline > t:
                return deadline - t, "sleep"
            return 0, "kernel"
        if tp is ops.QueueWorkOn:
            return C.QUEUE_WORK_NS, "kernel"
        if tp is ops.Sleep:
            return max(0, int(op.ns)), "sleep"
        return 0, "kernel"

    def _clear_ns(self, c: _CpuSim, n: int, t: int) -> float:
        """clear_page of ``n`` pages (first touch: the CPU's node).  The core zeroes them in its
        cache at its store rate (profile fact ``clear_bytes_per_cycle``: ``rep stosb``, ``dcbz``,
        ``dc zva`` claim whole lines without reading memory); the node's memory then takes the
        write-back of all its clearers in turn, a FIFO at ``node_clear_bw``.  The clearing CPU
        waits only for write-back backlog beyond one page.  ASSUMPTION: the caches absorb about
        one page of dirty lines per clearer before its stores stall."""
        costs = self.costs
        nbytes = n * costs.page_size
        cache_ns = nbytes / (costs.core_clear_bw() * self._speeds[self._core_busy.get(c.core, 1)])
        node_bw = costs.node_clear_bw()
        free = self._wb_free.get(c.node, 0.0)
        done = (free if free > t else float(t)) + nbytes / node_bw
        self._wb_free[c.node] = done
        wait = done - t - costs.page_size / node_bw
        return wait if wait > cache_ns else cache_ns
