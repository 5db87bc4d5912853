"""Executing one op of a task: the kernel's semantics, the op's price, and what it wakes.

``_step`` executes the ops that have no kernel state of their own (``Sleep``, ``UserRun``,
``Work``, ``EnterKernel``) itself; locks and everything else go through ``kernel.step``, the one
place their semantics live (a copy of the lock rules here bought nothing measurable on the lock
ping-pong benchmark, so it was not kept).  An op in an IRQ, on an offline CPU, or whose
might_sleep() check would fire also goes through ``kernel.step``.  ``Simulator._fast = False``
sends every op through ``kernel.step``; ``tests/sim/test_engine_fast.py`` checks that both give
the same op stream, spans and statistics.  If the kernel's semantics of those ops change, change
``_timer_wake``'s timer-loop path too (that test fails until both agree).  Every executed op is then priced by the
one table of :mod:`pcplab.sim.pricing` (``PRICES``).

``ops.Access`` (the checker's announcement of a shared-state access) is a zero-cost no-op here,
run inside the step that reached it: no event, no price, no time.
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel import ops
from pcplab.kernel.state import BLOCKED, Task
from pcplab.sim.accounting import TaskStats
from pcplab.sim.cpu import CpuSim
from pcplab.sim.events import P_CPU, P_TIMER
from pcplab.sim.pricing import PRICES as _PRICES
from pcplab.sim.pricing import Pricing
from pcplab.sim.wakeups import Wakeups, _lock_key


class InvariantBroken(AssertionError):
    """``pcplab.mm.check_invariants`` found a problem during a simulation."""


_WAKING = (
    ops.SpinUnlock, ops.MutexUnlock, ops.LocalUnlock, ops.IrqRestore, ops.PreemptEnable,
    ops.RcuReadUnlock, ops.QueueWorkOn, ops.EnterUser, ops.GoIdle, ops.GoOffline,
)  # fmt: skip
_WAKING_TYPES = frozenset((*_WAKING, ops.SynchronizeRcu, ops.FlushWork, ops.IpiCall))
_LOCK_WAIT_TYPES = frozenset((ops.SpinLock, ops.MutexLock, ops.LocalLock))
_UNLOCK_TYPES = frozenset((ops.SpinUnlock, ops.MutexUnlock, ops.LocalUnlock))


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


_Access = ops.Access


def _skip_access(kernel: Any, task: Task) -> None:
    while type(task.op) is _Access:
        try:
            task.op = task.gen.send(None)
        except StopIteration as stop:
            task.op = None
            kernel.finish(task, stop.value)


class Executor(Wakeups, Pricing):
    """One op of a task at a time (``_step``), with the fast paths of timer loops."""

    _fast = True  # False: every op through ``kernel.step`` (tests compare both paths)
    invariants: bool
    machine: Any
    _known: int

    def _step(self, c: CpuSim, task: Task, t: int, irq: bool = False) -> None:
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
            # the one price table (pricing.py), looked up by exact type
            fns: float
            price = _PRICES.get(tp)
            if price is not None:
                fns, kind = price(self, c, task, op, t)
            else:
                fns, kind = 0, "kernel"
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
            self._sleep_for(task, st, t, ns)  # the CPU is free meanwhile
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
            self._push(end, P_CPU, self._cpu_event, c, c.gen)
        if kernel.events:
            self._kernel_events(t)
        if (task.done and irq) or task.work is not work_before:
            # the IRQ (or the work item) ends when this op's time has passed
            if self._waiters:
                self._push(t + ns, P_TIMER, self._wake_check_now)
        else:
            if tp in _UNLOCK_TYPES and self._lock_waiters:
                key = _lock_key(op, task.cpu)
                if key in self._lock_waiters:
                    self._wake_lock(key, t)
            if self._waiters and tp in _WAKING_TYPES:
                self._wake_check(t)
        if self.invariants:
            self.check_invariants(f"{task.name} after {op.describe() if op else 'start'}")

    def _sleep_for(self, task: Task, st: TaskStats, t: int, ns: int) -> None:
        """``task`` sleeps ``ns`` from ``t``: its timer wakes it then (a task whose generator
        ended with this sleep is done when it would have woken)."""
        if task.done:
            st.state = "done"
            st.end_ns = t + ns
        else:
            st.state = "sleeping"
            st.sleep_gen += 1
            self._push(t + ns, P_TIMER, self._tw, task, st.sleep_gen)

    def _sleep_again_slow(self, c: CpuSim, task: Task, st: TaskStats, op: Any, t: int) -> None:
        """The rest of a timer loop's straight-line step (:meth:`_timer_wake`) once the generator
        produced something unusual."""
        kernel = self.kernel
        st.state = "running"
        c.cur = task
        self._set_busy(c, True)
        if kernel.events:
            self._kernel_events(t)
        if len(kernel.tasks) != self._known:
            self._adopt_new(t)
        self._sleep_for(task, st, t, max(0, int(op.ns)))
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

    def _adopt_new(self, t: int) -> None:
        for task in self.kernel.tasks[self._known :]:
            if task not in self._info:
                self._adopt(task, t)
                if task.kind == "irq":
                    c = self.cpus[task.cpu]
                    c.irq_at = t + int(self.costs.ipi_ns)
                    self._push(c.irq_at, P_CPU, self._irq_arrive, c)
                elif task.kind == "kworker":
                    self._make_ready(task, t)
        self._known = len(self.kernel.tasks)

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
                # Its next op is another Sleep (a periodic task; SimPy's timeout loop) and
                # nothing else is going on here: _step's effects, straight-line.  The CPU stays
                # idle (the task runs for zero time between two sleeps), so it is never marked
                # busy; anything unusual (the task ends, the kernel reports an event or a new
                # task) takes the general path from that point on.
                t = self.now
                kernel = self.kernel
                kc.current = task  # kernel.step
                task.steps += 1
                kernel.resume(task, None)
                if task.done or kernel.events or len(kernel.tasks) != self._known:
                    self._sleep_again_slow(c, task, st, op, t)
                    return
                ns = op.ns
                if type(ns) is not int or ns < 0:
                    ns = max(0, int(ns))
                g = st.sleep_gen = st.sleep_gen + 1
                self._push(t + ns, P_TIMER, self._tw, task, g)
                c.gen += 1
                c.need_resched = False
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

    def check_invariants(self, where: str) -> None:
        from pcplab.mm.invariants import check_invariants

        errs = check_invariants(self.machine)
        if errs:
            more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
            raise InvariantBroken(f"at {where}, t={self.now} ns: " + "; ".join(errs[:3]) + more)
