"""IPIs: ``smp_call_function_single(wait=True)`` (``IpiCall``).

The caller is pinned (``get_cpu``) and busy-waits; the handler runs as an IRQ task on the target
once its running task has IRQs enabled.  Calling it with IRQs disabled is a lock violation; an
offline target returns False.
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel import ops
from pcplab.kernel.core import KernelCore
from pcplab.kernel.task import BLOCKED, Task


class Ipis(KernelCore):
    """smp_call_function_single with wait."""

    def _ipi_call(self, task: Task, op: ops.IpiCall) -> Any:
        if task.wait is None:
            if task.irq_depth:
                self._violation(
                    "sleep-in-atomic",
                    "smp_call_function_single(wait=1) with IRQs disabled can deadlock",
                    task,
                    op,
                )
            if not 0 <= op.cpu < self.nr_cpus:
                raise ValueError(f"smp_call_function_single: no cpu{op.cpu}")
            if not self.cpus[op.cpu].online:
                return False
            task.preempt += 1  # get_cpu()
            fname = getattr(op.fn, "__name__", "ipi")
            task.irq_task = self.spawn(
                op.cpu, op.fn, op.args, name=f"irq/{op.cpu}:{fname}", kind="irq"
            )
            self._event("ipi", task.cpu, op.cpu, op.func)
            if self.checks is not None:
                self.checks.join_cpu(op.cpu, task.cpu)
            task.wait = op
            task.spinning = True
            return BLOCKED
        irq = task.irq_task
        assert irq is not None  # set when the IPI was sent, above
        if not irq.done:
            return BLOCKED
        if self.checks is not None:
            self.checks.join_cpu(task.cpu, irq.cpu)
        task.wait = None
        task.spinning = False
        task.irq_task = None
        task.preempt -= 1  # put_cpu()
        self._qs(task)
        return True


#: op type -> Ipis method executing it
EXEC: dict[type, Any] = {ops.IpiCall: Ipis._ipi_call}
#: blocking op type -> whether the task waiting on it may retry now
READY: dict[type, Any] = {
    ops.IpiCall: lambda k, t, op: t.irq_task is None or t.irq_task.done,
}
