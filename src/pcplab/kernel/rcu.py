"""RCU: read-side sections and ``synchronize_rcu`` (normal and expedited).

* Readers: any task with IRQs off, preemption off, ``rcu_read_lock`` or an RT spinlock held.
  ``synchronize_rcu`` waits for every reader section that had begun when it was called (other
  tasks; it returns at once if there is none).  Idle, offline and nohz_full user mode are extended
  quiescent states: no task there can be a reader, so they never hold a grace period and are never
  interrupted by a normal GP.  The expedited variant records an IPI for every other online CPU not
  in an EQS (kernel-pcp.md §16: ``sync_rcu_exp_select_node_cpus`` skips EQS CPUs).
* A context switch is an RCU quiescent state: readers are tracked per task (``qs_seq``), so a
  preempted ``rcu_read_lock()`` section on RT still holds a grace period.
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel import ops
from pcplab.kernel.core import KernelCore
from pcplab.kernel.task import BLOCKED, Task


class Rcu(KernelCore):
    """rcu_read_lock/unlock and synchronize_rcu."""

    def _rcu_read_lock(self, task: Task, op: Any) -> None:
        task.rcu_nest += 1

    def _rcu_read_unlock(self, task: Task, op: Any) -> None:
        self._unnest(task, op, "rcu_nest", 0, "rcu_read_unlock() without rcu_read_lock()")

    def _gp_done(self, task: Task) -> bool:
        gp = task.gp
        if gp is None:
            return True
        return all(t.done or t.qs_seq != seq for t, seq in gp)

    def _synchronize_rcu(self, task: Task, op: ops.SynchronizeRcu) -> Any:
        if task.wait is None:
            self._might_sleep(task, op, op.describe())
            if op.expedited:
                for cpu in self.cpus:
                    if cpu.id != task.cpu and cpu.online and not cpu.in_eqs:
                        self._event("rcu_exp_ipi", task.cpu, cpu.id, op.func)
            readers = [
                (t, t.qs_seq)
                for t in self.tasks
                if t is not task and not t.done and t.op is not None and t.is_reader()
            ]
            self._event("gp_start", task.cpu, None, op.func)
            ck = self.checks
            if ck is not None:
                ck.gp_begin(task)
            if not readers:
                if ck is not None:
                    ck.gp_end(task, ())
                self._event("gp_end", task.cpu, None, op.func)
                return None
            task.gp = readers
            task.wait = op
            return BLOCKED
        if not self._gp_done(task):
            return BLOCKED
        if self.checks is not None:
            self.checks.gp_end(task, task.gp)
        task.gp = None
        task.wait = None
        self._event("gp_end", task.cpu, None, op.func)
        return None


#: op type -> Rcu method executing it
EXEC: dict[type, Any] = {
    ops.RcuReadLock: Rcu._rcu_read_lock,
    ops.RcuReadUnlock: Rcu._rcu_read_unlock,
    ops.SynchronizeRcu: Rcu._synchronize_rcu,
}
#: blocking op type -> whether the task waiting on it may retry now
READY: dict[type, Any] = {
    ops.SynchronizeRcu: lambda k, t, op: k._gp_done(t),
}
