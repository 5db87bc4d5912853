"""The checker's rules in the kernel model: happens-before data races, lockdep's lock order and
IRQ usage, owner rules (pcplab.kernel.checks, pcplab.kernel.ownership)."""

from __future__ import annotations

import pytest

from pcplab.kernel import ops
from pcplab.kernel.checks import Checks, forget_lock_memory
from pcplab.kernel.locks import Mutex, Spinlock, lock_class
from pcplab.kernel.oops import KERNEL_KINDS, PREDICTED_KINDS, VIOLATION_KINDS
from pcplab.kernel.state import CheckViolation, Kernel


class Obj:
    """A shared object with no owner rule (only the data-race rule applies)."""

    name = "obj"


def prog(*steps):
    def fn(ctx):
        for s in steps:  # noqa: UP028 - a generator: the kernel send()s results into it
            yield s

    return fn


def run(k, *tasks):
    """Run tasks to completion one after another (no interleaving needed: vector clocks see
    unordered accesses in any order)."""
    for t in tasks:
        while not t.done:
            k.step(t)


def kernel(n=2, key=None):
    k = Kernel(n)
    k.checks = Checks(k, memory_key=key)
    return k


def test_lock_class_drops_zone_and_cpu_words():
    assert lock_class("Node 0 Normal cpu1 pcp->lock") == "pcp->lock"
    assert lock_class("Node 0 DMA32 zone->lock") == "zone->lock"
    assert lock_class("cpu3 pagesets.spin") == "pagesets.spin"
    assert lock_class("pcpu_drain_mutex") == "pcpu_drain_mutex"


def test_plain_writes_on_two_cpus_race_and_a_lock_orders_them():
    o = Obj()
    k = kernel()
    a = k.spawn(0, prog(ops.Access(o, "x", func="writer0")))
    b = k.spawn(1, prog(ops.Access(o, "x", func="writer1")))
    run(k, a, b)
    assert k.checks.soft is not None and k.checks.soft.kind == "data-race"
    assert "writer0" in k.checks.soft.message and "writer1" in k.checks.soft.message
    lock = Spinlock("l")
    k = kernel()
    steps = (ops.SpinLock(lock), ops.Access(o, "x"), ops.SpinUnlock(lock))
    run(k, k.spawn(0, prog(*steps)), k.spawn(1, prog(*steps)))
    assert k.checks.soft is None


def test_marked_accesses_and_kcsan_plain_word_write_exemption():
    o = Obj()
    k = kernel()
    run(k, k.spawn(0, prog(ops.Access(o, "x", marked=True))),
        k.spawn(1, prog(ops.Access(o, "x", marked=True))))  # fmt: skip
    assert k.checks.soft is None
    # a marked read vs a plain aligned word write: not reported (ASSUME_PLAIN_WRITES_ATOMIC)
    k = kernel()
    run(k, k.spawn(0, prog(ops.Access(o, "x", word=True))),
        k.spawn(1, prog(ops.Access(o, "x", write=False, marked=True))))  # fmt: skip
    assert k.checks.soft is None
    # the same read unmarked is a race
    k = kernel()
    run(k, k.spawn(0, prog(ops.Access(o, "x", word=True))),
        k.spawn(1, prog(ops.Access(o, "x", write=False))))  # fmt: skip
    assert k.checks.soft is not None and k.checks.soft.kind == "data-race"


def test_reads_do_not_race_with_reads():
    o = Obj()
    k = kernel()
    run(k, k.spawn(0, prog(ops.Access(o, "x", write=False))),
        k.spawn(1, prog(ops.Access(o, "x", write=False))))  # fmt: skip
    assert k.checks.soft is None


def test_flush_work_orders_the_work_before_the_flusher():
    o = Obj()
    k = kernel()
    work = ops.WorkItem("w", prog(ops.Access(o, "x")))

    def drainer(ctx):
        yield ops.QueueWorkOn(1, work)
        yield ops.FlushWork(work)
        yield ops.Access(o, "x")

    t = k.spawn(0, drainer)
    for _ in range(50):
        en = k.enabled_tasks()
        if t.done or not en:
            break
        k.step(en[-1] if en[-1] is not t or len(en) == 1 else en[0])
    assert t.done and k.checks.soft is None
    # without the flush the two writes are unordered
    k = kernel()
    work = ops.WorkItem("w", prog(ops.Access(o, "x")))

    def racer(ctx):
        yield ops.QueueWorkOn(1, work)
        yield ops.Access(o, "x")

    t = k.spawn(0, racer)
    for _ in range(50):
        en = k.enabled_tasks()
        if not en:
            break
        k.step(en[-1])
    assert k.checks.soft is not None and k.checks.soft.kind == "data-race"


def test_synchronize_rcu_orders_readers_before_the_updater():
    o = Obj()
    for sync, race in ((True, False), (False, True)):
        k = kernel()
        k.checks.barrier = lambda: None  # programs spawned together, not one after another
        reader = k.spawn(0, prog(ops.RcuReadLock(), ops.Access(o, "x"), ops.RcuReadUnlock()))
        steps = (ops.SynchronizeRcu(),) if sync else ()
        updater = k.spawn(1, prog(*steps, ops.Access(o, "x")))
        k.step(reader)
        k.step(reader)  # the access, inside the reader section
        k.step(updater)  # synchronize_rcu starts (waits for the reader) or the access runs
        run(k, reader, updater)
        assert (k.checks.soft is not None) == race, sync


def test_lock_order_within_one_execution_and_across_executions():
    forget_lock_memory()
    a, b = Mutex("A"), Mutex("B")
    ab = (ops.MutexLock(a), ops.MutexLock(b), ops.MutexUnlock(b), ops.MutexUnlock(a))
    ba = (ops.MutexLock(b), ops.MutexLock(a, func="second"), ops.MutexUnlock(a),
          ops.MutexUnlock(b))  # fmt: skip
    k = kernel(key="one")
    run(k, k.spawn(0, prog(*ab)), k.spawn(1, prog(*ba)))
    f = k.checks.soft
    assert f is not None and f.kind == "lock-order" and f.func == "second"
    assert any("A -> B" in d for d in f.details)
    # the other order taken in an earlier execution of the same search is remembered
    forget_lock_memory()
    k1 = kernel(key="two")
    run(k1, k1.spawn(0, prog(*ab)))
    assert k1.checks.soft is None
    k2 = kernel(key="two")
    run(k2, k2.spawn(0, prog(*ba)))
    assert k2.checks.soft is not None and k2.checks.soft.kind == "lock-order"
    # ... but not by another search
    k3 = kernel(key="three")
    run(k3, k3.spawn(0, prog(*ba)))
    assert k3.checks.soft is None


def test_trylock_adds_no_dependency():
    forget_lock_memory()
    a, b = Mutex("A"), Mutex("B")
    k = kernel(key="t")
    run(k, k.spawn(0, prog(ops.MutexLock(a), ops.MutexTrylock(b), ops.MutexUnlock(b),
                           ops.MutexUnlock(a))),
        k.spawn(1, prog(ops.MutexLock(b), ops.MutexLock(a), ops.MutexUnlock(a),
                        ops.MutexUnlock(b))))  # fmt: skip
    assert k.checks.soft is None


def test_mutex_under_spinlock_closing_a_cycle_is_lock_order_at_once():
    forget_lock_memory()
    m, s = Mutex("m"), Spinlock("s")
    k = kernel(key="abba")
    run(k, k.spawn(0, prog(ops.MutexLock(m), ops.SpinLock(s), ops.SpinUnlock(s),
                           ops.MutexUnlock(m))))  # fmt: skip
    t = k.spawn(1, prog(ops.SpinLock(s), ops.MutexLock(m)))
    k.step(t)
    k.step(t)
    with pytest.raises(CheckViolation) as ei:
        k.step(t)
    assert ei.value.kind == "lock-order"
    # without the other order it is only sleeping in atomic context
    forget_lock_memory()
    k = kernel(key="abba")
    t = k.spawn(1, prog(ops.SpinLock(s), ops.MutexLock(m)))
    k.step(t)
    k.step(t)
    with pytest.raises(Exception) as ei:
        k.step(t)
    assert ei.value.kind == "sleep-in-atomic"


def test_inconsistent_irq_usage():
    forget_lock_memory()
    lock = Spinlock("L")

    def handler(ctx):
        yield ops.SpinLock(lock, func="irq_handler")
        yield ops.SpinUnlock(lock)

    k = kernel(key="irq")
    sender = k.spawn(0, prog(ops.IpiCall(1, handler)))
    for _ in range(20):
        en = k.enabled_tasks()
        if sender.done or not en:
            break
        k.step(en[-1])
    assert sender.done and k.checks.soft is None
    t = k.spawn(1, prog(ops.SpinLock(lock, func="irqs_on"), ops.SpinUnlock(lock)))
    run(k, t)
    f = k.checks.soft
    assert f is not None and f.kind == "inconsistent-lock-state" and "irqs_on" in f.message
    # with irqsave it is fine
    forget_lock_memory()
    k = kernel(key="irq")
    t = k.spawn(1, prog(ops.SpinLock(lock, irqsave=True), ops.SpinUnlock(lock, irqrestore=True)))
    run(k, t)
    assert k.checks.soft is None


def test_zone_lock_is_declared_irq_safe():
    forget_lock_memory()
    zl = Spinlock("Node 0 Normal zone->lock")
    k = kernel(key="z")
    run(k, k.spawn(0, prog(ops.SpinLock(zl, func="f"), ops.SpinUnlock(zl))))
    assert k.checks.soft is not None and k.checks.soft.kind == "inconsistent-lock-state"


def test_kinds_fold_the_old_lock_kind():
    assert "lock" not in VIOLATION_KINDS
    assert PREDICTED_KINDS <= set(VIOLATION_KINDS)
    assert set(KERNEL_KINDS.values()) <= set(VIOLATION_KINDS)
    assert KERNEL_KINDS["sleep-in-atomic"] == "sleep-in-atomic"


def test_simulator_kernel_has_no_checks():
    k = Kernel(1)
    assert k.checks is None
    t = k.spawn(0, prog(ops.Access(Obj(), "x"), ops.Access(None, "cpus_with_pcps")))
    run(k, t)
    assert t.done
