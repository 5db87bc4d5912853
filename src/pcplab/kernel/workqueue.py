"""Workqueues: one bound kworker per CPU, ``queue_work_on`` and ``flush_work``.

* One bound kworker per CPU (created on first use), which runs queued items in FIFO order only
  when its CPU schedules it.  ``queue_work_on`` returns False if the item is pending.
  ``flush_work`` sleeps until the item is neither pending nor running.
* When a CPU goes offline its kworker is moved to the lowest online CPU and keeps running the
  items queued for the dead CPU there (the kernel hands them to an unbound pool;
  ``drain_local_pages_wq`` then drains "whatever CPU it lands on", kernel-pcp.md §9.2), so
  ``ctx.cpu`` is the CPU it now runs on.
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel import ops
from pcplab.kernel.core import KernelCore
from pcplab.kernel.task import BLOCKED, Cpu, Task


class WaitForWork(ops.Op):
    """Internal op of a kworker: sleep until its CPU's worklist has an item; returns the item."""

    __slots__ = ()

    def describe(self) -> str:
        return "worker_thread: wait for work"


class Workqueues(KernelCore):
    """kworkers, queue_work_on, flush_work and the kworker's wait for work."""

    def kworker(self, cpu: int) -> Task:
        """The bound kworker of ``cpu`` (created on first use)."""
        c = self.cpus[cpu]
        if c.kworker is None:
            c.kworker = self.spawn(
                cpu, self._kworker_main, name=f"kworker/{cpu}:1", prime=True, kind="kworker"
            )
            if not c.online:
                self._unbind_kworker(c)
        return c.kworker

    def _unbind_kworker(self, c: Cpu) -> None:
        """CPU ``c`` is offline: its kworker keeps serving ``c``'s worklist from the lowest online
        CPU, like the unbound pool the kernel moves the work to (``ctx.cpu`` is where it runs)."""
        kw = c.kworker
        online = [x for x in self.cpus if x.online]
        if kw is None or not online or kw.cpu != c.id:
            return
        target = online[0]
        c.tasks.remove(kw)
        kw.cpu = target.id
        kw.name = f"kworker/u{c.id}:1"
        target.tasks.append(kw)

    def _kworker_main(self, task: Task) -> Any:
        while True:
            work = yield WaitForWork(func="worker_thread")
            task.work = work
            yield from work.fn(task, *work.args)
            if self.checks is not None:
                self.checks.release(task.cpu, ("done", id(work)))
            work.running = False
            task.work = None
            self._check_clean(task, f"work item {work.name}", ops.Op(func="process_one_work"))

    def _queue_work_on(self, task: Task, op: ops.QueueWorkOn) -> bool:
        work = op.work
        if work.pending:
            return False
        if not 0 <= op.cpu < self.nr_cpus:
            raise ValueError(f"queue_work_on: no cpu{op.cpu}")
        work.pending = True
        work.cpu = op.cpu
        if self.checks is not None:
            self.checks.release(task.cpu, ("work", id(work)))
        self.cpus[op.cpu].worklist.append(work)
        self.kworker(op.cpu)
        self._event("work_queued", task.cpu, op.cpu, op.func)
        return True

    def _flush_work(self, task: Task, op: ops.FlushWork) -> Any:
        work = op.work
        if task.wait is None:
            self._might_sleep(task, op, op.describe())
            if task.kind == "kworker" and task.work is work:
                self._violation("self-deadlock", f"{work.name} flushes itself", task, op)
        if work.pending or work.running:
            task.wait = op
            return BLOCKED
        task.wait = None
        if self.checks is not None:
            self.checks.acquire(task.cpu, ("done", id(work)))
        return None

    def _wait_for_work(self, task: Task, op: Any) -> Any:
        wl = self.cpus[task.pool].worklist
        if not wl:
            task.wait = op
            return BLOCKED
        task.wait = None
        work = wl.popleft()
        work.pending = False
        work.running = True
        if self.checks is not None:
            self.checks.acquire(task.cpu, ("work", id(work)))
        return work


#: op type -> Workqueues method executing it
EXEC: dict[type, Any] = {
    ops.QueueWorkOn: Workqueues._queue_work_on,
    ops.FlushWork: Workqueues._flush_work,
    WaitForWork: Workqueues._wait_for_work,
}
#: blocking op type -> whether the task waiting on it may retry now
READY: dict[type, Any] = {
    ops.FlushWork: lambda k, t, op: not (op.work.pending or op.work.running),
    WaitForWork: lambda k, t, op: bool(k.cpus[t.pool].worklist),
}
#: blocking ops whose first attempt changes nothing but the task's ``wait`` (``flush_work``'s
#: might-sleep check reads only the task's own context, which cannot change while it waits): a
#: task about to run one and a task blocked on it behave alike once it may retry
RETRY_ALIKE: frozenset[type] = frozenset({ops.FlushWork, WaitForWork})
