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

How it is built
---------------
:class:`Simulator` is the public face over one class per job, each in its own module (bottom up):
:mod:`~pcplab.sim.events` (the calendar queue and its loop), :mod:`~pcplab.sim.accounting`
(task statistics, spans), :mod:`~pcplab.sim.sched` (per-CPU run queues, preemption, ticks,
switches), :mod:`~pcplab.sim.rt_throttle` (RT throttling), :mod:`~pcplab.sim.wakeups` (waiters,
lock hand-over, IPIs), :mod:`~pcplab.sim.cache` (cacheline ownership),
:mod:`~pcplab.sim.pricing` (one price per op type, from :mod:`~pcplab.sim.costs`) and
:mod:`~pcplab.sim.execute` (one op of a task: kernel semantics, price, wake-ups).  They are
layers of one object rather than separate objects because the hot loop reads their state
directly (``benchmarks/bench_sim.py``); each module's docstring states its rules.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from pcplab.errors import PcplabError
from pcplab.kernel.state import Kernel, Task
from pcplab.sim import costs as C
from pcplab.sim.accounting import TaskStats
from pcplab.sim.costs import CostModel
from pcplab.sim.cpu import CpuSim
from pcplab.sim.events import P_AT, P_TIMER
from pcplab.sim.execute import Executor, InvariantBroken


class SimDeadlock(PcplabError):
    """Programs are blocked and no event can wake them."""


class Simulator(Executor):
    """See the module docstring."""

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
        self.tick_ns = tick_ns
        self.invariants = invariants
        if rt_runtime_ns is not None and not 0 < rt_runtime_ns <= rt_period_ns:
            raise PcplabError(
                f"RT runtime {rt_runtime_ns} ns must be in (0, period {rt_period_ns} ns]; "
                "use None for no RT throttling"
            )
        self.rt_runtime_ns = rt_runtime_ns
        self.rt_period_ns = rt_period_ns
        self.wakeup_preemption = wakeup_preemption
        self._init_events()
        self._init_cache()
        self._init_pricing(machine, design, self.kernel.state, seed, noise)
        self._init_accounting(machine.nr_cpus)
        self._init_wakeups()
        self.cpus = [
            CpuSim(c, costs.places[c].core, costs.places[c].node) for c in range(machine.nr_cpus)
        ]
        for c in self.cpus:
            c.kc = self.kernel.cpus[c.id]
        self._known = 0

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
            self._push(start_ns, P_TIMER, self._start_task, task)
        return task

    def at(self, t_ns: int, fn: Callable[..., Any], *args: Any) -> None:
        self._push(int(t_ns), P_AT, fn, *args)

    def cpu_time(self, cpu: int) -> str:
        c = self.cpus[cpu]
        kc = self.kernel.cpus[cpu]
        if kc.irq is not None:
            return kc.irq.name
        return c.cur.name if c.cur is not None else "idle"

    def checked(self, gen: Any, where: str) -> Any:
        """``result = yield from sim.checked(design.drain_all_pages(ctx, None), "drain")``."""
        result = yield from gen
        self.check_invariants(where)
        return result

    def run(self, until: int | None = None) -> int:
        if self._run_events(until):
            assert until is not None
            return until
        # RT period timers are bookkeeping, not activity: a simulation ends with its last task
        if until is None:
            self.now = self._last
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


__all__ = ["InvariantBroken", "SimDeadlock", "Simulator", "TaskStats"]
