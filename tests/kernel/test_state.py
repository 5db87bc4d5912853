"""Unit tests for pcplab.kernel.state: each op's semantics with tiny hand-written tasks."""

from __future__ import annotations

import pytest

from pcplab.kernel import ops
from pcplab.kernel.locks import LocalLockVar, Mutex, Spinlock
from pcplab.kernel.state import BLOCKED, Kernel, KernelViolation


def prog(*oplist):
    """A task that yields the given ops in order and records the results."""

    def fn(ctx):
        results = []
        for op in oplist:
            results.append((yield op))
        return results

    return fn


def run_alone(k, t):
    while not t.done:
        assert k.step(t) is not BLOCKED
    return t.retval


def test_spinlock_blocks_and_spins_non_preemptible():
    k = Kernel(2)
    lock = Spinlock("zone->lock")
    a = k.spawn(0, prog(ops.SpinLock(lock), ops.SpinUnlock(lock)), prime=True)
    b = k.spawn(1, prog(ops.SpinLock(lock, irqsave=True), ops.SpinUnlock(lock, irqrestore=True)),
                prime=True)  # fmt: skip
    k.step(a)  # a holds the lock
    assert k.cpus[0].held_locks == [lock]
    assert k.cpus[0].preempt_count == 1
    assert k.step(b) is BLOCKED
    assert b.spinning and b.irq_depth == 1 and b.preempt == 1
    assert k.wait_key(b) == ("spinlock", lock, a)
    assert b not in k.enabled_tasks()
    k.step(a)  # unlock
    assert b in k.enabled_tasks()
    k.step(b)
    assert k.owner[id(lock)] is b and not b.spinning
    k.step(b)
    assert b.done and b.irq_depth == 0 and b.preempt == 0


def test_trylock_never_blocks():
    k = Kernel(2)
    lock = Spinlock("pcp->lock")
    a = k.spawn(0, prog(ops.SpinLock(lock), ops.SpinUnlock(lock)), prime=True)
    b = k.spawn(1, prog(ops.SpinTrylock(lock, irqsave=True)), prime=True)
    k.step(a)
    k.step(b)
    assert b.done and b.retval == [False] and b.irq_depth == 0


def test_self_deadlock_spinlock_and_mutex():
    k = Kernel(1)
    lock = Spinlock("l")
    t = k.spawn(0, prog(ops.SpinLock(lock), ops.SpinLock(lock, func="f")), prime=True)
    k.step(t)
    with pytest.raises(KernelViolation) as ei:
        k.step(t)
    assert ei.value.kind == "self-deadlock" and ei.value.func == "f"
    k = Kernel(1)
    m = Mutex("m")
    t = k.spawn(0, prog(ops.MutexLock(m), ops.MutexLock(m)), prime=True)
    k.step(t)
    with pytest.raises(KernelViolation, match="already holds"):
        k.step(t)


def test_unlock_not_held():
    k = Kernel(1)
    t = k.spawn(0, prog(ops.SpinUnlock(Spinlock("l"), func="g")), prime=True)
    with pytest.raises(KernelViolation) as ei:
        k.step(t)
    assert ei.value.kind == "unlock-not-held"


@pytest.mark.parametrize(
    "prefix",
    [[ops.IrqSave()], [ops.PreemptDisable()], [ops.SpinLock(Spinlock("s"))], [ops.RcuReadLock()]],
)
@pytest.mark.parametrize(
    "sleeper",
    [
        lambda: ops.MutexLock(Mutex("m")),
        lambda: ops.SynchronizeRcu(),
        lambda: ops.FlushWork(ops.WorkItem("w")),
    ],
)
def test_sleeping_in_atomic(prefix, sleeper):
    k = Kernel(1)
    t = k.spawn(0, prog(*prefix, sleeper()), prime=True)
    k.step(t)
    with pytest.raises(KernelViolation) as ei:
        k.step(t)
    assert ei.value.kind == "sleep-in-atomic"


def test_mutex_sleeps_and_cpu_may_switch():
    k = Kernel(1)
    m = Mutex("pcpu_drain_mutex")
    a = k.spawn(0, prog(ops.MutexLock(m), ops.Work("x"), ops.MutexUnlock(m)), prime=True)
    b = k.spawn(0, prog(ops.MutexLock(m), ops.MutexUnlock(m)), prime=True)
    k.step(a)  # a holds the mutex, preemptible
    assert k.enabled_tasks() == [a, b]
    assert k.step(b) is BLOCKED  # b sleeps
    assert k.cpus[0].mode == "idle" or k.cpus[0].current is b
    assert k.enabled_tasks() == [a]
    run_alone(k, a)
    assert k.enabled_tasks() == [b]
    run_alone(k, b)
    assert not k.unfinished()


def test_no_switch_while_preempt_disabled_or_irqs_off():
    k = Kernel(1)
    a = k.spawn(0, prog(ops.PreemptDisable(), ops.PreemptEnable()), prime=True)
    b = k.spawn(0, prog(ops.Work("x")), prime=True)
    k.step(a)
    assert k.enabled_tasks() == [a]
    k.step(a)
    assert set(k.enabled_tasks()) == {b}  # a finished
    k = Kernel(1)
    a = k.spawn(0, prog(ops.IrqSave(), ops.IrqRestore()), prime=True)
    b = k.spawn(0, prog(ops.Work("x")), prime=True)
    k.step(a)
    assert k.enabled_tasks() == [a]


def test_local_lock_non_rt_is_irq_off():
    k = Kernel(2)
    ll = LocalLockVar("pagesets.lock")
    a = k.spawn(0, prog(ops.LocalLock(ll), ops.LocalUnlock(ll)), prime=True)
    b = k.spawn(1, prog(ops.LocalLock(ll), ops.LocalUnlock(ll)), prime=True)
    k.step(a)
    k.step(b)  # different CPU: its own "instance", no contention
    assert a.irq_depth == 1 and b.irq_depth == 1 and a.is_reader()
    k.step(a)
    assert a.irq_depth == 0


def test_local_lock_rt_is_per_cpu_sleeping_lock_and_reader():
    k = Kernel(1, preempt_rt=True)
    ll = LocalLockVar("pagesets.lock")
    a = k.spawn(0, prog(ops.LocalLock(ll), ops.Work("x"), ops.LocalUnlock(ll)), prime=True)
    b = k.spawn(0, prog(ops.LocalLock(ll), ops.LocalUnlock(ll)), prime=True)
    k.step(a)
    assert a.irq_depth == 0 and a.migrate == 1 and a.is_reader()
    # preemptible on RT: b may run and then sleeps on the per-CPU lock
    assert b in k.enabled_tasks()
    assert k.step(b) is BLOCKED and not b.spinning
    assert k.wait_key(b)[0] == "local_lock"
    run_alone(k, a)
    run_alone(k, b)


def test_rt_spinlock_sleeps_and_illegal_with_irqs_off():
    k = Kernel(2, preempt_rt=True)
    lock = Spinlock("zone->lock")
    a = k.spawn(0, prog(ops.SpinLock(lock, irqsave=True), ops.SpinUnlock(lock, irqrestore=True)),
                prime=True)  # fmt: skip
    k.step(a)
    assert a.irq_depth == 0 and a.rt_locks == 1 and a.preempt == 0
    k.step(a)
    raw = Spinlock("raw", raw=True)
    t = k.spawn(1, prog(ops.IrqSave(), ops.SpinLock(raw), ops.SpinUnlock(raw), ops.SpinLock(lock)),
                prime=True)  # fmt: skip
    k.step(t)
    k.step(t)
    k.step(t)
    with pytest.raises(KernelViolation) as ei:
        k.step(t)
    assert ei.value.kind == "sleep-in-atomic"


def test_synchronize_rcu_waits_for_preexisting_readers_only():
    k = Kernel(3)
    reader = k.spawn(0, prog(ops.IrqSave(), ops.Work("r"), ops.IrqRestore()), prime=True)
    late = k.spawn(1, prog(ops.RcuReadLock(), ops.Work("r"), ops.RcuReadUnlock()), prime=True)
    gp = k.spawn(2, prog(ops.SynchronizeRcu(func="drain")), prime=True)
    k.step(reader)  # reader section open
    assert k.step(gp) is BLOCKED
    assert k.wait_key(gp) == ("rcu_gp", (reader,))
    k.step(late)  # a reader that started after the GP does not hold it
    k.step(reader)
    assert gp not in k.enabled_tasks()
    k.step(reader)  # IrqRestore: quiescent
    assert gp in k.enabled_tasks()
    k.step(gp)
    assert gp.done


def test_synchronize_rcu_no_readers_returns_at_once_and_eqs_not_disturbed():
    k = Kernel(3, nohz_full={1})
    user = k.spawn(1, prog(ops.EnterUser(), ops.UserRun(100)), prime=True)
    idle = k.spawn(2, prog(ops.GoIdle()), prime=True)
    k.step(user)
    k.step(idle)
    assert k.cpus[1].in_eqs and k.cpus[2].in_eqs
    gp = k.spawn(0, prog(ops.SynchronizeRcu(expedited=True)), prime=True)
    assert k.step(gp) is not BLOCKED and gp.done
    assert not [e for e in k.events if e.kind == "rcu_exp_ipi"]


def test_expedited_gp_ipis_cpus_in_kernel_and_user_on_non_nohz():
    k = Kernel(3, nohz_full={2})
    kern = k.spawn(1, prog(ops.Work("x"), ops.Work("y")), prime=True)
    user = k.spawn(2, prog(ops.EnterKernel(), ops.Work("y")), prime=True)
    k.step(kern)
    k.step(user)  # nohz_full CPU 2 now executes kernel code: not an EQS
    gp = k.spawn(0, prog(ops.SynchronizeRcu(expedited=True, func="x")), prime=True)
    k.step(gp)
    assert sorted(e.dst for e in k.events if e.kind == "rcu_exp_ipi") == [1, 2]


def test_rt_rcu_reader_preempted_still_holds_gp():
    k = Kernel(2, preempt_rt=True)
    r = k.spawn(0, prog(ops.RcuReadLock(), ops.Work("x"), ops.RcuReadUnlock()), prime=True)
    other = k.spawn(0, prog(ops.Work("y")), prime=True)
    gp = k.spawn(1, prog(ops.SynchronizeRcu()), prime=True)
    k.step(r)
    k.step(other)  # context switch away from a preemptible reader
    assert k.step(gp) is BLOCKED
    run_alone(k, r)
    assert gp in k.enabled_tasks()


def _work_fn(ctx, log):
    log.append(("start", ctx.cpu, ctx.kind))
    yield ops.Work("drain")
    log.append(("end", ctx.cpu))


def test_workqueue_queue_flush_and_pending():
    k = Kernel(2)
    log = []
    w = ops.WorkItem("pcpu_drain", fn=_work_fn, args=(log,))
    drainer = k.spawn(
        0, prog(ops.QueueWorkOn(1, w), ops.QueueWorkOn(1, w), ops.FlushWork(w)), prime=True
    )
    k.step(drainer)
    k.step(drainer)
    assert drainer.retval is None and w.pending
    assert k.step(drainer) is BLOCKED  # flush waits for the kworker
    assert k.wait_key(drainer) == ("flush_work", w)
    kw = k.cpus[1].kworker
    assert kw in k.enabled_tasks()
    k.step(kw)  # dequeues, starts running
    assert w.running and not w.pending and log == [("start", 1, "kworker")]
    assert drainer not in k.enabled_tasks()
    k.step(kw)
    assert not w.running
    k.step(drainer)
    assert drainer.done and drainer.retval == [True, False, None]
    assert k.unfinished() == []  # the idle kworker is a daemon
    assert [e.kind for e in k.events].count("work_queued") == 1


def test_kworker_runs_only_when_its_cpu_schedules_it():
    k = Kernel(2)
    w = ops.WorkItem("w", fn=_work_fn, args=([],))
    busy = k.spawn(1, prog(ops.IrqSave(), ops.Work("x"), ops.IrqRestore()), prime=True)
    k.step(busy)
    q = k.spawn(0, prog(ops.QueueWorkOn(1, w)), prime=True)
    k.step(q)
    assert k.cpus[1].kworker not in k.enabled_tasks()
    run_alone(k, busy)
    assert k.cpus[1].kworker in k.enabled_tasks()


def _ipi_fn(ctx, log):
    log.append((ctx.cpu, ctx.kind, ctx.irq_depth))
    yield ops.Work("ipi")


def test_ipi_runs_on_target_when_irqs_enabled():
    k = Kernel(2)
    log = []
    target = k.spawn(1, prog(ops.IrqSave(), ops.Work("x"), ops.IrqRestore(), ops.Work("y")),
                     prime=True)  # fmt: skip
    k.step(target)
    sender = k.spawn(0, prog(ops.IpiCall(1, _ipi_fn, (log,))), prime=True)
    assert k.step(sender) is BLOCKED and sender.spinning
    irq = k.cpus[1].pending_irqs[0]
    assert irq not in k.enabled_tasks()  # target has IRQs off
    k.step(target)
    k.step(target)  # IRQs back on
    assert irq in k.enabled_tasks()
    k.step(irq)
    assert k.cpus[1].irq is irq and k.enabled_tasks() == [irq]  # handler runs alone on cpu1
    k.step(irq)
    assert irq.done and log == [(1, "irq", 1)]
    k.step(sender)
    assert sender.done and sender.retval == [True] and sender.preempt == 0
    assert [e.kind for e in k.events] == ["ipi"]


def test_ipi_with_irqs_off_and_irq_deadlock():
    k = Kernel(2)
    t = k.spawn(0, prog(ops.IrqSave(), ops.IpiCall(1, _ipi_fn, ([],))), prime=True)
    k.step(t)
    with pytest.raises(KernelViolation):
        k.step(t)
    # an IRQ taking a spinlock held by the task it interrupted
    k = Kernel(2)
    lock = Spinlock("pcp->lock")

    def handler(ctx):
        yield ops.SpinLock(lock, func="irq_handler")

    holder = k.spawn(1, prog(ops.SpinLock(lock), ops.Work("x"), ops.SpinUnlock(lock)), prime=True)
    k.step(holder)
    sender = k.spawn(0, prog(ops.IpiCall(1, handler)), prime=True)
    k.step(sender)
    irq = k.cpus[1].pending_irqs[0]
    k.step(irq)
    with pytest.raises(KernelViolation) as ei:
        k.step(irq)
    assert ei.value.kind == "self-deadlock"


def test_pcp_window_overlap_is_list_race():
    k = Kernel(2)
    lists = object()
    a = k.spawn(0, prog(ops.PcpEnter(lists, 0, func="rmqueue_pcplist"), ops.PcpExit(lists, 0)),
                prime=True)  # fmt: skip
    b = k.spawn(1, prog(ops.PcpEnter(lists, 0, func="drain_pages_zone")), prime=True)
    k.step(a)
    with pytest.raises(KernelViolation) as ei:
        k.step(b)
    assert ei.value.kind == "list-race" and "drain_pages_zone" in str(ei.value)
    k.step(a)


def test_load_store_and_null_deref_propagates():
    class P:
        lp = 1

    p = P()
    k = Kernel(1)
    t = k.spawn(0, prog(ops.Store(p, "lp", 7), ops.Load(p, "lp")), prime=True)
    assert run_alone(k, t) == [None, 7]
    t = k.spawn(0, prog(ops.Load(None, "lp")), prime=True)
    with pytest.raises(AttributeError):
        k.step(t)


def test_cpu_offline_and_wait_cpu_dead():
    k = Kernel(2)
    dying = k.spawn(1, prog(ops.GoOffline(), ops.Work("never")), prime=True)
    ctl = k.spawn(0, prog(ops.WaitCpuDead(1)), prime=True)
    assert k.step(ctl) is BLOCKED
    k.step(dying)
    assert dying.done and not k.cpus[1].online and k.cpus[1].mode == "offline"
    assert k.cpus[1].in_eqs
    k.step(ctl)
    assert ctl.done and k.unfinished() == []


def test_offline_and_user_need_clean_context():
    k = Kernel(1)
    t = k.spawn(0, prog(ops.PreemptDisable(), ops.EnterUser()), prime=True)
    k.step(t)
    with pytest.raises(KernelViolation) as ei:
        k.step(t)
    assert ei.value.kind == "bad-context"


def test_task_exit_with_lock_held():
    k = Kernel(1)
    t = k.spawn(0, prog(ops.SpinLock(Spinlock("l"))), prime=True)
    with pytest.raises(KernelViolation) as ei:
        k.step(t)
    assert ei.value.kind == "held-at-exit"


def test_imbalance():
    k = Kernel(1)
    for op in (ops.IrqRestore(), ops.PreemptEnable(), ops.RcuReadUnlock(), ops.MigrateEnable()):
        t = k.spawn(0, prog(op), prime=True)
        with pytest.raises(KernelViolation) as ei:
            k.step(t)
        assert ei.value.kind == "imbalance"


def test_deadlock_visible_as_no_enabled_task():
    k = Kernel(2)
    a_lock, b_lock = Mutex("a"), Mutex("b")
    t1 = k.spawn(0, prog(ops.MutexLock(a_lock), ops.MutexLock(b_lock)), prime=True)
    t2 = k.spawn(1, prog(ops.MutexLock(b_lock), ops.MutexLock(a_lock)), prime=True)
    k.step(t1)
    k.step(t2)
    k.step(t1)
    k.step(t2)
    assert k.enabled_tasks() == [] and set(k.unfinished()) == {t1, t2}


def test_user_mode_implicit_kernel_entry_and_ctx():
    k = Kernel(1, machine="M")
    k.state = "S"
    seen = []

    def fn(ctx):
        seen.append((ctx.cpu, ctx.machine, ctx.state, ctx.kernel is k))
        yield ops.EnterUser()
        yield ops.Work("fault")

    t = k.spawn(0, fn)
    k.step(t)
    assert seen == [(0, "M", "S", True)]
    k.step(t)
    assert k.cpus[0].mode == "user"
    k.step(t)
    assert t.mode == "kernel" and t.done


def test_kworker_of_offline_cpu_runs_elsewhere():
    k = Kernel(2)
    log = []
    w = ops.WorkItem("pcpu_drain/1", fn=_work_fn, args=(log,))
    dying = k.spawn(1, prog(ops.GoOffline()), prime=True)
    q = k.spawn(0, prog(ops.WaitCpuDead(1), ops.QueueWorkOn(1, w), ops.FlushWork(w)), prime=True)
    k.step(dying)
    k.step(q)
    k.step(q)  # queued on the dead CPU's pool
    kw = k.cpus[1].kworker
    assert kw.cpu == 0 and kw in k.enabled_tasks()  # served from cpu0, like an unbound worker
    k.step(kw)
    assert log == [("start", 0, "kworker")]


def test_offline_waits_for_running_work_item():
    k = Kernel(2)
    w = ops.WorkItem("w", fn=_work_fn, args=([],))
    q = k.spawn(0, prog(ops.QueueWorkOn(1, w)), prime=True)
    k.step(q)
    kw = k.cpus[1].kworker
    k.step(kw)  # the item is running on cpu1 (preemptible)
    dying = k.spawn(1, prog(ops.GoOffline()), prime=True)
    assert k.step(dying) is BLOCKED
    assert k.wait_key(dying) == ("cpu_down", 1)
    k.step(kw)
    assert dying in k.enabled_tasks()


def test_checkpoint_is_a_noop_step():
    k = Kernel(1)
    t = k.spawn(0, prog(ops.EnterUser(), ops.Checkpoint("x")), prime=True)
    assert run_alone(k, t) == [None, None]
    assert t.mode == "user"  # a checkpoint is not a kernel entry


def test_runnable_per_cpu_matches_enabled():
    k = Kernel(2)
    a = k.spawn(0, prog(ops.Work("x")), prime=True)
    b = k.spawn(1, prog(ops.Work("y")), prime=True)
    assert k.runnable(0) == [a] and k.runnable(1) == [b]
    assert k.enabled_tasks() == [a, b] and k.can_run(a)


def test_mutex_trylock_and_migrate_counters():
    k = Kernel(2)
    m = Mutex("m")
    a = k.spawn(0, prog(ops.MutexTrylock(m), ops.MigrateDisable(), ops.MigrateEnable(),
                        ops.MutexUnlock(m)), prime=True)  # fmt: skip
    b = k.spawn(1, prog(ops.MutexTrylock(m)), prime=True)
    k.step(a)
    k.step(a)
    assert k.cpus[0].migrate_disable == 1
    k.step(b)
    assert b.retval == [False]
    run_alone(k, a)
    assert a.retval == [True, None, None, None] and a.migrate == 0


def test_expedited_gp_event_log_can_be_switched_off():
    k = Kernel(2)
    k.record_events = False
    busy = k.spawn(1, prog(ops.Work("x"), ops.Work("y")), prime=True)
    k.step(busy)
    gp = k.spawn(0, prog(ops.SynchronizeRcu(expedited=True)), prime=True)
    k.step(gp)
    assert k.events == []
