"""Tiny hand-written worlds for checker tests (no mm model, no designs)."""

from __future__ import annotations

from pcplab.check.world import Violation, World
from pcplab.kernel import ops
from pcplab.kernel.locks import Mutex, Spinlock
from pcplab.kernel.state import Kernel


class Counter:
    def __init__(self) -> None:
        self.name = "counter"
        self.value = 0
        self.cpu = None


def inc(ctx, c, lock, n):
    for _ in range(n):
        if lock is not None:
            yield ops.SpinLock(lock, func="inc")
        v = yield ops.Load(c, "value", owner=0, func="inc")
        yield ops.Store(c, "value", v + 1, owner=0, func="inc")
        if lock is not None:
            yield ops.SpinUnlock(lock, func="inc")


class CounterWorld(World):
    """N CPUs each increment a shared counter n times; the final value must be N*n."""

    def __init__(self, nr_cpus=2, n=1, locked=False, extra_cpus=0):
        k = Kernel(nr_cpus + extra_cpus)
        super().__init__(k)
        self.c = Counter()
        self.want = nr_cpus * n
        lock = Spinlock("counter_lock") if locked else None
        for cpu in range(nr_cpus):
            k.spawn(cpu, inc, (self.c, lock, n), name=f"inc/{cpu}", prime=True)
        for cpu in range(nr_cpus, nr_cpus + extra_cpus):
            k.spawn(cpu, _busy, (3,), name=f"busy/{cpu}", prime=True)

    def state_key(self):
        return (super().state_key(), self.c.value)

    def at_end(self):
        v = super().at_end()
        if v is None and self.c.value != self.want:
            return Violation("page-lost", f"counter {self.c.value} != {self.want}", "inc")
        return v


def _busy(ctx, n):
    for _ in range(n):
        yield ops.Work("busy", owner=ctx.cpu)


def ab_ba(ctx, first, second):
    yield ops.MutexLock(first, func="lock_ab")
    yield ops.MutexLock(second, func="lock_ab")
    yield ops.MutexUnlock(second)
    yield ops.MutexUnlock(first)


class DeadlockWorld(World):
    def __init__(self):
        k = Kernel(2)
        super().__init__(k)
        a, b = Mutex("A"), Mutex("B")
        k.spawn(0, ab_ba, (a, b), prime=True)
        k.spawn(1, ab_ba, (b, a), prime=True)


class Box:
    name = "box"
    cpu = 0

    def __init__(self) -> None:
        self.ptr = None


def _reader(ctx, box):
    p = yield ops.Load(box, "ptr", owner=0, func="reader")
    yield from __drain_all_pages(p)


def _writer(ctx, box):
    yield ops.Store(box, "ptr", Counter(), owner=0, func="writer")


def __drain_all_pages(zone):
    yield ops.Work("x")
    zone.per_cpu_pageset  # noqa: B018 - the bug


class NullWorld(World):
    """cpu1 publishes a pointer after cpu0 may read it: cpu0 then dereferences NULL."""

    def __init__(self):
        k = Kernel(2)
        super().__init__(k)
        box = Box()
        k.spawn(0, _reader, (box,), prime=True)
        k.spawn(1, _writer, (box,), prime=True)
