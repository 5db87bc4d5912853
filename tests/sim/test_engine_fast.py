"""The engine's fast paths (ops executed without ``kernel.step``, the calendar event queue) give
exactly the timeline of the reference path: ``Simulator._fast = False`` sends every op through
``kernel.step``; both must produce the same op stream, spans and statistics."""

from __future__ import annotations

import pytest

from pcplab.kernel import ops
from pcplab.kernel.locks import LocalLockVar, Mutex, Spinlock
from pcplab.kernel.state import KernelViolation
from pcplab.mm import Machine, tiny_topology
from pcplab.sim.engine import Simulator


@pytest.fixture(scope="module")
def machine() -> Machine:
    return Machine.build(tiny_topology(nodes=2, cpus_per_node=2, zone_pages=(4096,)), "5.17")


def _mixed(sim: Simulator, ncpus: int) -> list:
    """Sleeps, user work, priced kernel work, contended spinlocks (spinning), a contended mutex
    (sleeping, FIFO hand-over), local locks, tasks sharing a CPU (tick preemption) and a
    SCHED_FIFO task (immediate preemption)."""
    spin, mutex, local = Spinlock("zone"), Mutex("m"), LocalLockVar("pcp")
    data = object()

    def prog(ctx, k):
        for i in range(30):
            yield ops.UserRun(300 + 50 * k)
            yield ops.SpinLock(spin, irqsave=(i % 2 == 0))
            yield ops.Work("rmqueue_bulk", 4, data=data)
            yield ops.SpinUnlock(spin, irqrestore=(i % 2 == 0))
            yield ops.MutexLock(mutex)
            yield ops.Sleep(200 + 10 * k)
            yield ops.MutexUnlock(mutex)
            yield ops.LocalLock(local)
            yield ops.Work("pcp_alloc", 1)
            yield ops.LocalUnlock(local)
            yield ops.Work("clear_page", 1 + i % 3)  # node bandwidth shared between clears
            yield ops.Sleep(k)

    def periodic(ctx, k):
        # back-to-back sleeps: the engine's timer-loop path (_sleep_again) when its CPU is idle
        for i in range(40):
            yield ops.Sleep(90 + 13 * k)
            if i % 7 == 3:
                yield ops.UserRun(40)
        yield ops.Sleep(5)

    tasks = [sim.spawn(k % ncpus, prog, (k,), start_ns=7 * k) for k in range(ncpus + 2)]
    tasks += [sim.spawn(k % ncpus, periodic, (k,), start_ns=3 * k) for k in range(ncpus)]
    tasks.append(sim.spawn(0, prog, (9,), name="rt", policy="fifo", start_ns=5000))
    return tasks


def _run(machine, fast: bool, seed: int, trace: bool) -> list:
    Simulator._fast = fast
    try:
        sim = Simulator(machine, seed=seed)
        out: list = []
        if trace:
            sim.on_op(lambda task, op, t, ns: out.append((task.name, op.describe(), t, ns)))
            sim.on_segment(lambda cpu, t0, t1, task, what: out.append((cpu, t0, t1, what)))
        tasks = _mixed(sim, machine.nr_cpus)
        sim.at(12_345, lambda: out.append(("timer", sim.now)))
        end = sim.run()
        for t in tasks:
            st = sim.stats(t)
            out.append(
                (
                    t.name,
                    t.steps,
                    st.user_ns,
                    st.system_ns,
                    st.start_ns,
                    st.end_ns,
                    st.wait_ns,
                    st.switches,
                    st.interrupted_ns,
                )
            )
        out.append((end, tuple(sim.cpu_busy_ns), sim.events_processed))
        return out
    finally:
        Simulator._fast = True


@pytest.mark.parametrize("trace", [False, True])
def test_fast_path_matches_reference_path(machine, trace):
    fast = _run(machine, True, 5, trace)
    assert fast == _run(machine, False, 5, trace)
    assert fast == _run(machine, True, 5, trace)  # and it is deterministic
    assert fast != _run(machine, True, 6, trace)  # the seed matters (jitter)


def test_fast_path_still_reports_kernel_violations(machine):
    lock = Spinlock("L")

    def sleeps_under_spinlock(ctx):
        yield ops.SpinLock(lock)
        yield ops.Sleep(10)

    sim = Simulator(machine)
    sim.spawn(0, sleeps_under_spinlock)
    with pytest.raises(KernelViolation) as e:
        sim.run()
    assert e.value.kind == "sleep-in-atomic"

    def unlocks_foreign(ctx):
        yield ops.MutexUnlock(Mutex("never-taken"))

    sim = Simulator(machine)
    sim.spawn(1, unlocks_foreign)
    with pytest.raises(KernelViolation) as e:
        sim.run()
    assert e.value.kind == "unlock-not-held"


def test_event_queue_orders_by_time_then_priority_then_push_order(machine):
    sim = Simulator(machine)
    seen: list = []
    for name, t in (("a", 50), ("b", 10), ("c", 50), ("d", 10)):
        sim.at(t, seen.append, name)
    # a CPU event (priority 0) pushed last at t=50 still runs before the timers (priority 2)
    sim._push(50, 0, seen.append, "cpu")
    sim.at(50, lambda: sim.at(50, seen.append, "same-time, pushed while running"))
    assert sim.run(until=20) == 20 and seen == ["b", "d"]
    sim.run()
    assert seen == ["b", "d", "cpu", "a", "c", "same-time, pushed while running"]
    assert sim.events_processed == 7
