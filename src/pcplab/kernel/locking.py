"""Spinlocks, mutexes and local locks (kernel/locking/): who owns what, and who waits.

* Spinlock, non-RT: ``preempt_disable`` (and IRQs off for ``irqsave``) then spin; spinning keeps
  the CPU busy and non-preemptible.  PREEMPT_RT (``Kernel(preempt_rt=True)``, non-raw lock): a
  sleeping lock; once taken the task is migrate-disabled and an RCU reader; ``irqsave`` leaves IRQs
  on; taking it with IRQs or preemption disabled is "sleeping in atomic context".
* Mutex: sleeping; illegal with IRQs off, preemption off or inside an RCU reader.
* local_lock: non-RT disables IRQs (no lock word); RT: migrate_disable + this CPU's lock instance +
  RCU reader (``local_lock_internal.h``; kernel-pcp.md §3.4).
* Owners are keyed ``id(lock)`` (a local lock: ``(id(lock), cpu)``) in ``Kernel.owner``; a
  blocked acquirer retries once :data:`READY` says the lock is free.
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel import ops
from pcplab.kernel.core import CheckViolation, KernelCore
from pcplab.kernel.locks import Spinlock
from pcplab.kernel.task import BLOCKED, Task


class Locking(KernelCore):
    """spin_lock/trylock/unlock, mutex_lock/trylock/unlock, local_lock/unlock."""

    def _rt_sleeping(self, lock: Spinlock) -> bool:
        return self.preempt_rt and not lock.raw

    def _irq_deadlock(self, task: Task, owner: Task, lock: Any, op: Any) -> None:
        if owner is task:
            self._violation(
                "self-deadlock", f"{task.name} takes {lock} which it already holds", task, op
            )
        if task.kind == "irq" and owner.cpu == task.cpu and owner.kind != "irq":
            self._violation(
                "self-deadlock",
                f"IRQ handler on cpu{task.cpu} takes {lock}, held by the task it interrupted "
                f"({owner.name})",
                task,
                op,
            )

    def _spin_lock(self, task: Task, op: ops.SpinLock) -> Any:
        lock = op.lock
        key = id(lock)
        owner = self.owner.get(key)
        rt = self._rt_sleeping(lock)
        ck = self.checks
        if task.wait is None:
            # (the condition is on_lock's own first test, inlined: most acquisitions hold nothing)
            if ck is not None and (task.held or not (rt or task.irq_depth or op.irqsave)
                                   or task.kind == "irq"):  # fmt: skip
                ck.on_lock(task, lock, op, False, bool(task.irq_depth or op.irqsave), not rt)
            if owner is not None:
                self._irq_deadlock(task, owner, lock, op)
            if rt:
                self._might_sleep(task, op, f"spin_lock({lock}) on PREEMPT_RT", rt_lock=True)
            else:
                task.preempt += 1
                if op.irqsave:
                    task.irq_depth += 1
        if owner is not None:
            task.wait = op
            task.spinning = not rt
            return BLOCKED
        task.wait = None
        task.spinning = False
        self.owner[key] = task
        task.held.append(lock)
        if ck is not None:
            ck.acquire(task.cpu, key)
        if rt:
            task.migrate += 1
            task.rt_locks += 1
        return None

    def _spin_trylock(self, task: Task, op: ops.SpinTrylock) -> bool:
        lock = op.lock
        key = id(lock)
        if key in self.owner:
            return False
        ck = self.checks
        if ck is not None:
            rt = self._rt_sleeping(lock)
            if task.held or not (rt or task.irq_depth or op.irqsave) or task.kind == "irq":
                ck.on_lock(task, lock, op, True, bool(task.irq_depth or op.irqsave), not rt)
            ck.acquire(task.cpu, key)
        self.owner[key] = task
        task.held.append(lock)
        if self._rt_sleeping(lock):
            task.migrate += 1
            task.rt_locks += 1
        else:
            task.preempt += 1
            if op.irqsave:
                task.irq_depth += 1
        return True

    def _release(self, task: Task, key: Any, lock: Any, op: Any) -> None:
        if self.owner.get(key) is not task:
            other = self.owner.get(key)
            who = f"held by {other.name}" if other else "not held"
            self._violation("unlock-not-held", f"{task.name} unlocks {lock}, {who}", task, op)
        del self.owner[key]
        task.held.remove(lock)
        if self.checks is not None:
            self.checks.release(task.cpu, key)

    def _spin_unlock(self, task: Task, op: ops.SpinUnlock) -> None:
        lock = op.lock
        self._release(task, id(lock), lock, op)
        if self._rt_sleeping(lock):
            task.migrate -= 1
            task.rt_locks -= 1
        else:
            task.preempt -= 1
            if op.irqrestore:
                if task.irq_depth <= task.irq_base:
                    self._violation(
                        "imbalance", f"spin_unlock_irqrestore({lock}) with IRQs on", task, op
                    )
                task.irq_depth -= 1
        self._qs(task)

    def _take(self, task: Task, op: Any, key: Any, lock: Any, owner: Task | None) -> bool:
        """Give ``lock`` (owner key ``key``) to ``task`` unless ``owner`` holds it; then the task
        waits on ``op`` (it retries once the lock is free) and the answer is False."""
        if owner is not None:
            task.wait = op
            return False
        task.wait = None
        self.owner[key] = task
        task.held.append(lock)
        return True

    def _mutex_lock(self, task: Task, op: ops.MutexLock) -> Any:
        m = op.mutex
        key = id(m)
        owner = self.owner.get(key)
        ck = self.checks
        if task.wait is None:
            if ck is not None and task.held:
                found = ck.on_lock(task, m, op, False, True, False, keep=False)
                if found is not None and (task.irq_depth or task.preempt or task.rcu_nest
                                          or task.rt_locks):  # fmt: skip
                    # the AB-BA's second half sleeps in atomic context too: report the cycle,
                    # the root cause (on PREEMPT_RT the same code is a plain deadlock)
                    raise CheckViolation(found)
                ck.keep(found)
            self._might_sleep(task, op, f"mutex_lock({m})")
            if owner is task:
                self._violation(
                    "self-deadlock", f"{task.name} takes {m} which it already holds", task, op
                )
        if not self._take(task, op, key, m, owner):
            return BLOCKED
        if ck is not None:
            ck.acquire(task.cpu, key)
        return None

    def _mutex_trylock(self, task: Task, op: ops.MutexTrylock) -> bool:
        key = id(op.mutex)
        if key in self.owner:
            return False
        ck = self.checks
        if ck is not None:
            if task.held:
                ck.on_lock(task, op.mutex, op, True, True, False)
            ck.acquire(task.cpu, key)
        self.owner[key] = task
        task.held.append(op.mutex)
        return True

    def _mutex_unlock(self, task: Task, op: ops.MutexUnlock) -> None:
        self._release(task, id(op.mutex), op.mutex, op)

    def _local_lock(self, task: Task, op: ops.LocalLock) -> Any:
        lock = op.lock
        key = (id(lock), task.cpu)
        owner = self.owner.get(key)
        ck = self.checks
        if ck is not None and task.wait is None and task.held:
            ck.on_lock(task, lock, op, False, True, False)
        if not self.preempt_rt:
            if owner is not None:
                # non-RT a local lock is "IRQs off": the only possible owner is this CPU's
                # interrupted or current context -> recursion
                self._violation(
                    "self-deadlock",
                    f"{task.name} takes {lock} on cpu{task.cpu}, already held by {owner.name}",
                    task,
                    op,
                )
            task.irq_depth += 1
            self.owner[key] = task
            task.held.append(lock)
            return None
        if task.wait is None:
            if owner is not None:
                self._irq_deadlock(task, owner, lock, op)
            self._might_sleep(task, op, f"local_lock_irqsave({lock}) on PREEMPT_RT", rt_lock=True)
        if not self._take(task, op, key, lock, owner):
            return BLOCKED
        task.migrate += 1
        task.rt_locks += 1
        return None

    def _local_unlock(self, task: Task, op: ops.LocalUnlock) -> None:
        lock = op.lock
        self._release(task, (id(lock), task.cpu), lock, op)
        if self.preempt_rt:
            task.migrate -= 1
            task.rt_locks -= 1
        else:
            task.irq_depth -= 1
        self._qs(task)


#: op type -> Locking method executing it
EXEC: dict[type, Any] = {
    ops.SpinLock: Locking._spin_lock,
    ops.SpinTrylock: Locking._spin_trylock,
    ops.SpinUnlock: Locking._spin_unlock,
    ops.MutexLock: Locking._mutex_lock,
    ops.MutexTrylock: Locking._mutex_trylock,
    ops.MutexUnlock: Locking._mutex_unlock,
    ops.LocalLock: Locking._local_lock,
    ops.LocalUnlock: Locking._local_unlock,
}
#: blocking op type -> whether the task waiting on it may retry now
READY: dict[type, Any] = {
    ops.SpinLock: lambda k, t, op: id(op.lock) not in k.owner,
    ops.MutexLock: lambda k, t, op: id(op.mutex) not in k.owner,
    ops.LocalLock: lambda k, t, op: (id(op.lock), t.cpu) not in k.owner,
}
