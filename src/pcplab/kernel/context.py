"""CPU context ops: IRQ, preemption and migration nesting; user, kernel and idle mode.

* ``EnterUser``/``GoIdle`` need a clean context (no locks, IRQs on, preemption on, no RCU reader,
  no pcp window).  Any other op issued in user/idle mode first enters the kernel (a syscall/fault;
  :data:`CONTEXT_OPS` are the ops that do not).
* ``Sleep`` may sleep (might_sleep()); ``Work``, ``UserRun`` and ``Checkpoint`` have no kernel
  state (an engine prices them; ``Checkpoint`` is where it observes global state).
* Leaving the last IRQ-off or preempt-off section is an RCU quiescent state for the task.
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel import ops
from pcplab.kernel.core import KernelCore
from pcplab.kernel.task import Task


class ContextOps(KernelCore):
    """local_irq_save/restore, preempt_disable/enable, migrate_disable/enable, mode changes."""

    def _nop(self, task: Task, op: Any) -> None:
        return None

    def _nop_user(self, task: Task, op: Any) -> None:
        return None

    def _irq_save(self, task: Task, op: Any) -> None:
        task.irq_depth += 1

    def _irq_restore(self, task: Task, op: Any) -> None:
        self._unnest(
            task, op, "irq_depth", task.irq_base, "local_irq_restore() without local_irq_save()"
        )

    def _preempt_disable(self, task: Task, op: Any) -> None:
        task.preempt += 1

    def _preempt_enable(self, task: Task, op: Any) -> None:
        # the common one (every pcp section of several designs): without _unnest's indirection
        if task.preempt <= 0:
            self._violation("imbalance", "preempt_enable() underflow", task, op)
        task.preempt -= 1
        self._qs(task)

    def _migrate_disable(self, task: Task, op: Any) -> None:
        task.migrate += 1

    def _migrate_enable(self, task: Task, op: Any) -> None:
        self._unnest(task, op, "migrate", 0, "migrate_enable() underflow", quiescent=False)

    def _enter_user(self, task: Task, op: Any) -> None:
        self._need_clean(task, op, "return to user space")
        task.mode = "user"

    def _enter_kernel(self, task: Task, op: Any) -> None:
        task.mode = "kernel"

    def _go_idle(self, task: Task, op: Any) -> None:
        self._need_clean(task, op, "entering idle")
        task.mode = "idle"

    def _sleep(self, task: Task, op: Any) -> None:
        self._might_sleep(task, op, op.describe())


#: op type -> ContextOps method executing it
EXEC: dict[type, Any] = {
    ops.IrqSave: ContextOps._irq_save,
    ops.IrqRestore: ContextOps._irq_restore,
    ops.PreemptDisable: ContextOps._preempt_disable,
    ops.PreemptEnable: ContextOps._preempt_enable,
    ops.MigrateDisable: ContextOps._migrate_disable,
    ops.MigrateEnable: ContextOps._migrate_enable,
    ops.Work: ContextOps._nop,
    ops.EnterUser: ContextOps._enter_user,
    ops.EnterKernel: ContextOps._enter_kernel,
    ops.GoIdle: ContextOps._go_idle,
    ops.UserRun: ContextOps._nop_user,
    ops.Sleep: ContextOps._sleep,
    ops.Checkpoint: ContextOps._nop,
}

#: ops that do not enter the kernel from user or idle mode
CONTEXT_OPS = frozenset(
    {
        ops.EnterUser,
        ops.EnterKernel,
        ops.GoIdle,
        ops.GoOffline,
        ops.UserRun,
        ops.Sleep,
        ops.Checkpoint,
    }
)
