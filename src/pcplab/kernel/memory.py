"""Memory ops: ``Load``/``Store`` of shared fields, ``Access`` announcements, pcp list windows.

A pcp list window (``PcpEnter``..``PcpExit``) is where a task manipulates one CPU's pcp lists; two
tasks inside the same lists at once is a ``list-race`` (the race the drain designs must exclude).
With the checker's rules on, every access is reported to them (data races, lock ownership).
"""

from __future__ import annotations

from typing import Any

from pcplab.kernel import ops
from pcplab.kernel.core import KernelCore
from pcplab.kernel.task import Task


def _name(obj: Any) -> str:
    if obj is None:
        return "NULL"
    return str(getattr(obj, "name", None) or type(obj).__name__)


class MemoryOps(KernelCore):
    """load/store/access of shared state and pcp list windows."""

    def _load(self, task: Task, op: ops.Load) -> Any:
        ck = self.checks
        if ck is not None:
            obj = op.obj
            if obj is not None:
                ck.access(task, obj, op.attr, False, op.owner, op.marked, False, op.func)
                if op.acquire:
                    ck.acquire(task.cpu, ("mem", id(obj), op.attr))
        return getattr(op.obj, op.attr)

    def _store(self, task: Task, op: ops.Store) -> None:
        ck = self.checks
        if ck is not None and op.obj is not None:
            ck.access(task, op.obj, op.attr, True, op.owner, op.marked, True, op.func)
            if op.release:
                ck.release(task.cpu, ("mem", id(op.obj), op.attr))
        setattr(op.obj, op.attr, op.value)

    def _access(self, task: Task, op: ops.Access) -> None:
        ck = self.checks
        if ck is not None:
            f = op.field
            if type(f) is tuple:
                for x in f:
                    ck.access(task, op.obj, x, op.write, op.owner, op.marked, op.word, op.func)
            else:
                ck.access(task, op.obj, f, op.write, op.owner, op.marked, op.word, op.func)

    def _pcp_enter(self, task: Task, op: ops.PcpEnter) -> None:
        key = id(op.lists)
        entry = self.pcp_windows.get(key)
        if entry is not None and entry[0] is not task:
            other, _, other_func = entry
            self._violation(
                "list-race",
                f"cpu{task.cpu} ({task.name}, {op.func or '?'}) manipulates the pcp lists of "
                f"cpu{op.owner} ({_name(op.lists)}) while cpu{other.cpu} ({other.name}, "
                f"{other_func or '?'}) is inside them",
                task,
                op,
            )
        if entry is None:
            self.pcp_windows[key] = (task, op.lists, op.func)
        task.windows[key] = task.windows.get(key, 0) + 1
        ck = self.checks
        if ck is not None:
            # the window changes the lists and pcp->count (a plain word write)
            ck.access(task, op.lists, "count", True, op.owner, False, True, op.func)

    def _pcp_exit(self, task: Task, op: ops.PcpExit) -> None:
        key = id(op.lists)
        n = task.windows.get(key, 0)
        if n <= 0:
            self._violation(
                "imbalance",
                f"{task.name} leaves pcp lists of cpu{op.owner} it never entered",
                task,
                op,
            )
        if n == 1:
            del task.windows[key]
            del self.pcp_windows[key]
        else:
            task.windows[key] = n - 1


#: op type -> MemoryOps method executing it
EXEC: dict[type, Any] = {
    ops.Load: MemoryOps._load,
    ops.Store: MemoryOps._store,
    ops.Access: MemoryOps._access,
    ops.PcpEnter: MemoryOps._pcp_enter,
    ops.PcpExit: MemoryOps._pcp_exit,
}
