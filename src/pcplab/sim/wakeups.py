"""Who wakes whom: blocked tasks, lock hand-over, kworker wake-ups, IPIs and interrupt noise.

* Spinning on a taken spinlock keeps the CPU busy (system time); sleeping (mutex, grace period,
  ``flush_work``, ``Sleep``) frees it.  Spinlocks and mutexes are handed over in FIFO order:
  waiters on a lock queue per lock (:meth:`Wakeups._wake_lock`), idle kworkers per worklist
  (only ``queue_work`` there can wake them), everything else in one list re-checked after an op
  that can wake (:meth:`Wakeups._wake_check`).
* ``synchronize_rcu`` returns when the kernel's reader condition holds **and** at least a grace
  period (cost model: ~10 ms normal, ~70 µs expedited, lognormal) has passed; the expedited
  variant interrupts every CPU the kernel reports as not in an extended quiescent state.
* Kernel events become interrupts: an expedited grace period's IPIs and a remote
  ``try_to_wake_up`` (an idle CPU leaves idle ``ipi_ns`` later; a busy one takes the reschedule
  IPI as an interruption of ``IPI_HANDLER_NS``).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pcplab.kernel import ops
from pcplab.kernel.state import Task, WaitForWork
from pcplab.sim import costs as C
from pcplab.sim.cpu import CpuSim
from pcplab.sim.events import P_CPU, P_TIMER
from pcplab.sim.rt_throttle import RtThrottle

_LOCK_WAIT_TYPES = frozenset((ops.SpinLock, ops.MutexLock, ops.LocalLock))


def _lock_key(op: Any, cpu: int) -> Any:
    """The lock an acquire/release op is about (local locks are per CPU)."""
    tp = type(op)
    if tp is ops.MutexLock or tp is ops.MutexUnlock:
        return id(op.mutex)
    if tp is ops.LocalLock or tp is ops.LocalUnlock:
        return (id(op.lock), cpu)
    return id(op.lock)


class Wakeups(RtThrottle):
    """Waiter queues and the interrupts kernel events cause."""

    _gp_deadline: dict[Task, int]

    def _init_wakeups(self) -> None:
        self._waiters: list[Task] = []  # blocked on anything but a lock or an empty worklist
        # idle kworkers by the CPU whose worklist they serve: only queue_work on that CPU (the
        # kernel's "work_queued" event) can wake them, so wake checks need not look at them
        self._pool_waiters: dict[int, list[Task]] = {}
        self._lock_waiters: dict[Any, deque[Task]] = {}  # lock key -> FIFO of blocked tasks
        self._tw = self._timer_wake  # one bound method for every timer entry (cheaper to push)

    # the timer entry, defined by execute.py (its fast path executes the task's next op)
    def _timer_wake(self, task: Task, gen: int) -> None:
        raise NotImplementedError

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
            self._push(deadline, P_TIMER, self._tw, task, st.sleep_gen)
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

    def _steal(self, c: CpuSim, t: int, ns: int) -> None:
        """An interrupt handler of ``ns`` on ``c`` at ``t`` (noise on whatever runs there)."""
        self._push(t, P_CPU, self._steal_now, c, ns)

    def _steal_now(self, c: CpuSim, ns: int) -> None:
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
