"""Per-CPU scheduling (kernel-pcp.md §9.4): who runs on each CPU, and when it is preempted.

* An IRQ (IPI handler) runs as soon as the running task has IRQs enabled and the IPI has arrived
  (``ipi_ns`` after it was sent); it interrupts a long op (``UserRun``) in the middle.
* A woken task runs at once on an idle CPU.  On a busy CPU a SCHED_OTHER arrival waits until the
  current task blocks, finishes or is preempted at the next tick boundary (``tick_ns``) where it
  is preemptible -- except a woken (not a new) SCHED_OTHER task, which preempts at once, as CFS
  does (``wakeup_preemption``); a SCHED_FIFO task preempts a SCHED_OTHER one at once and is never
  preempted by SCHED_OTHER tasks (kworkers): they wait until it sleeps (or RT throttling,
  :mod:`pcplab.sim.rt_throttle`, stops it).
* A context switch costs ``context_switch_ns`` of system time for the task switched to.

:class:`Scheduler` runs each CPU as an event (``_cpu_event``, re-armed by :meth:`_sched`); what a
task's next op does is :meth:`_step` (:mod:`pcplab.sim.execute`), who wakes whom is
:mod:`pcplab.sim.wakeups`.
"""

from __future__ import annotations

from pcplab.kernel.state import Kernel, Task
from pcplab.sim.accounting import Accounting
from pcplab.sim.costs import CostModel
from pcplab.sim.cpu import CpuSim
from pcplab.sim.events import P_CPU


class Scheduler(Accounting):
    """The per-CPU run queues, picking, preemption (wake-up and tick) and switches."""

    kernel: Kernel
    costs: CostModel
    cpus: list[CpuSim]
    tick_ns: int
    wakeup_preemption: bool
    _core_busy: dict[int, int]
    _waiters: list[Task]

    # defined by the layers above (execute.py, wakeups.py, rt_throttle.py)
    def _step(self, c: CpuSim, task: Task, t: int, irq: bool = False) -> None:
        raise NotImplementedError

    def _wake_check(self, t: int) -> None:
        raise NotImplementedError

    def _rt_arm(self, c: CpuSim) -> None:
        raise NotImplementedError

    def _start_task(self, task: Task) -> None:
        self._info[task].ready_since = self.now
        self._make_ready(task, self.now, wakeup=False)

    def _sched(self, c: CpuSim, t: int) -> None:
        """(Re)schedule CPU ``c`` to act at ``t``; invalidates an older pending event."""
        c.gen += 1
        c.scheduled = True
        self._push(t, P_CPU, self._cpu_event, c, c.gen)

    def _cpu_event(self, c: CpuSim, gen: int) -> None:
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

    def _set_busy(self, c: CpuSim, busy: bool) -> None:
        if c.busy != busy:
            c.busy = busy
            self._core_busy[c.core] = self._core_busy.get(c.core, 0) + (1 if busy else -1)

    def _cpu_run(self, c: CpuSim, t: int) -> None:
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

    def _pick(self, c: CpuSim) -> Task | None:
        online = c.kc.online
        for q in (c.other_q,) if c.rt_throttled else (c.fifo_q, c.other_q):
            while q:
                task = q.popleft()
                if self._info[task].state == "ready" and not task.done:
                    if not online and task.kind != "kworker":
                        continue  # programs pinned to an offline CPU stop (kernel/state.py)
                    return task
        return None

    def _has_ready(self, c: CpuSim, cur: Task) -> bool:
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

    def _preempt(self, c: CpuSim, cur: Task, t: int) -> None:
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
                self._push(nt, P_CPU, self._tick, c)

    def _tick(self, c: CpuSim) -> None:
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

    def _interrupt(self, c: CpuSim, t: int) -> None:
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

    def _irq_arrive(self, c: CpuSim) -> None:
        kc = self.kernel.cpus[c.id]
        if kc.irq is not None or not kc.pending_irqs:
            return
        cur = c.cur
        if cur is not None and self._info[cur].state == "running" and cur.irq_depth == 0:
            self._interrupt(c, self.now)
        elif cur is None and not c.scheduled:
            self._sched(c, self.now)
