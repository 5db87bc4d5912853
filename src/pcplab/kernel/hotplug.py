"""CPU hotplug: ``GoOffline`` and ``WaitCpuDead``.

* ``GoOffline``: legal only in a clean context; waits until this CPU's pending IPIs have run and
  its kworker is between items, marks the CPU offline and ends the task.  ASSUMPTION: other
  programs pinned to that CPU simply stop.
* ``WaitCpuDead(cpu)`` sleeps until that CPU is offline (the hotplug control task).
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel import ops
from pcplab.kernel.task import BLOCKED, Task
from pcplab.kernel.workqueue import Workqueues


class Hotplug(Workqueues):
    """a CPU going offline (its kworker moves: :class:`Workqueues`)."""

    def _go_offline(self, task: Task, op: Any) -> Any:
        if task.wait is None:
            self._need_clean(task, op, "cpu going offline")
        if not self._can_go_offline(task.cpu):
            task.wait = op
            return BLOCKED
        task.wait = None
        if self.checks is not None:
            self.checks.release(task.cpu, ("cpu", task.cpu))
        cpu = self.cpus[task.cpu]
        cpu.online = False
        cpu.current = None
        self._unbind_kworker(cpu)
        task.mode = "offline"
        task.kill = True
        return None

    def _can_go_offline(self, cpu_id: int) -> bool:
        # ASSUMPTION: the CPU goes down only once its pending IPIs ran and its kworker is between
        # work items (the kernel unbinds workers at CPU down; a drain work item runs
        # migrate-disabled, so it finishes on its CPU first).
        c = self.cpus[cpu_id]
        kw = c.kworker
        return not c.pending_irqs and (kw is None or kw.work is None)

    def _wait_cpu_dead(self, task: Task, op: ops.WaitCpuDead) -> Any:
        if task.wait is None:
            self._might_sleep(task, op, op.describe())
        if self.cpus[op.cpu].online:
            task.wait = op
            return BLOCKED
        task.wait = None
        if self.checks is not None:
            self.checks.acquire(task.cpu, ("cpu", op.cpu))
        return None


#: op type -> Hotplug method executing it
EXEC: dict[type, Any] = {
    ops.GoOffline: Hotplug._go_offline,
    ops.WaitCpuDead: Hotplug._wait_cpu_dead,
}
#: blocking op type -> whether the task waiting on it may retry now
READY: dict[type, Any] = {
    ops.WaitCpuDead: lambda k, t, op: not k.cpus[op.cpu].online,
    ops.GoOffline: lambda k, t, op: k._can_go_offline(t.cpu),
}
