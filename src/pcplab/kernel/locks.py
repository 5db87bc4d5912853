"""Lock objects that ops refer to.

They carry only a name and their lockdep *class*: ownership lives in
:class:`pcplab.kernel.state.Kernel`, so a design may create its locks once (even at module level)
and reuse them across many runs of the checker.  Equality and hashing are by identity.

Lock classes: lockdep keys a lock by the place it is initialised, so every ``zone->lock`` is one
class and every CPU's ``pcp->lock`` another (``spin_lock_init(&zone->lock)`` in
``zone_init_internals``, ``spin_lock_init(&pcp->lock)`` in ``per_cpu_pages_init``, v6.0.1
``mm/page_alloc.c``).  :func:`lock_class` derives the class from the instance name by dropping the
zone (``Node 0 Normal``) and CPU (``cpu1``) words the model puts in names; pass ``cls`` to name
it yourself.  Lock-order and IRQ-state rules (:mod:`pcplab.kernel.lockdep`) work on classes, as
lockdep does.
"""

from __future__ import annotations

_ZONE_WORDS = frozenset({"DMA", "DMA32", "Normal", "HighMem", "Movable", "Device"})


def lock_class(name: str) -> str:
    """``"Node 0 Normal cpu1 pcp->lock"`` -> ``"pcp->lock"``; names without those words are
    their own class."""
    words = name.split()
    out = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "Node" and i + 1 < len(words) and words[i + 1].isdigit():
            i += 2
            continue
        if w in _ZONE_WORDS or (w.startswith("cpu") and w[3:].isdigit()):
            i += 1
            continue
        out.append(w)
        i += 1
    return " ".join(out) or name


class _Lock:
    __slots__ = ("name", "cls", "__weakref__")

    def __init__(self, name: str, cls: str | None = None) -> None:
        self.name = name
        self.cls = cls or lock_class(name)

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

    def __init__(self, name: str, raw: bool = False, cls: str | None = None) -> None:
        super().__init__(name, cls)
        self.raw = raw


class Mutex(_Lock):
    """``struct mutex``: sleeping lock, legal only where the caller may sleep."""

    __slots__ = ()


class LocalLockVar(_Lock):
    """A per-CPU ``local_lock_t`` (e.g. ``pagesets.lock``).  Non-RT it has no lock word (taking it
    disables IRQs on the local CPU); on PREEMPT_RT every CPU has its own spinlock instance."""

    __slots__ = ()
