"""Lock objects that ops refer to.

They carry only a name: ownership lives in :class:`pcplab.kernel.state.Kernel`, so a design may
create its locks once (even at module level) and reuse them across many runs of the checker.
Equality and hashing are by identity.
"""

from __future__ import annotations


class _Lock:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Spinlock(_Lock):
    """``spinlock_t``.  Non-RT: spinning busy-waits with preemption disabled.  PREEMPT_RT: a sleeping
    rt_mutex-based lock that also pins the task (migrate_disable) and is an RCU reader
    (``kernel/locking/spinlock_rt.c``:19, 48-49, see kernel-pcp.md §16).  ``raw=True`` models
    ``raw_spinlock_t``, which spins on RT too."""

    __slots__ = ("raw",)

    def __init__(self, name: str, raw: bool = False) -> None:
        super().__init__(name)
        self.raw = raw


class Mutex(_Lock):
    """``struct mutex``: sleeping lock, legal only where the caller may sleep."""

    __slots__ = ()


class LocalLockVar(_Lock):
    """A per-CPU ``local_lock_t`` (e.g. ``pagesets.lock``).  Non-RT it has no lock word (taking it
    disables IRQs on the local CPU); on PREEMPT_RT every CPU has its own spinlock instance."""

    __slots__ = ()
