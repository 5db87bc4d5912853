"""RT throttling: SCHED_FIFO tasks get ``rt_runtime_ns`` of every ``rt_period_ns`` per CPU.

The kernel's 950 ms of 1 s by default (``costs.RT_RUNTIME_NS``; ``rt_runtime_ns=None`` =
``sched_rt_runtime_us = -1``): once a CPU's SCHED_FIFO tasks have used the runtime of the current
period they stop at their next preemption point and SCHED_OTHER tasks run (or the CPU idles)
until the period ends.  So a FIFO task that never sleeps delays a kworker by up to ~950 ms, not
forever.  ASSUMPTION: no runtime borrowing between CPUs (``RT_RUNTIME_SHARE`` is off by default
since Linux 5.10, commit 2586af1ac187 -- from memory, to be checked); periods are aligned per CPU
to multiples of the period from when a FIFO task first becomes ready there.  The timers run at
priority :data:`~pcplab.sim.events.P_RT` (not counted as activity).
"""

from __future__ import annotations

from pcplab.sim.cpu import CpuSim
from pcplab.sim.events import P_RT
from pcplab.sim.sched import Scheduler


class RtThrottle(Scheduler):
    """The RT period timers of each CPU."""

    rt_runtime_ns: int | None
    rt_period_ns: int

    def _rt_arm(self, c: CpuSim) -> None:
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
            P_RT,
            self._rt_check,
            c,
            start,
        )
        self._push(start + self.rt_period_ns, P_RT, self._rt_period, c)

    def _rt_used(self, c: CpuSim, t: int) -> int:
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

    def _rt_check(self, c: CpuSim, period_start: int) -> None:
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
                self._push(t + left, P_RT, self._rt_check, c, period_start)
            return
        c.rt_throttled = True
        cur = c.cur
        if cur is not None and self._info[cur].policy == "fifo":
            c.need_resched = True
            if self._preemptible(cur) and self._info[cur].state == "running":
                self._interrupt(c, t)

    def _rt_period(self, c: CpuSim) -> None:
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
            self._push(t + runtime, P_RT, self._rt_check, c, t)
            self._push(t + self.rt_period_ns, P_RT, self._rt_period, c)
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
