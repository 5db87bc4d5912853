"""RT throttling: a SCHED_FIFO busy loop leaves SCHED_OTHER tasks (kworkers) the last 50 ms of
every second (sched_rt_runtime_us = 950000 of sched_rt_period_us = 1000000); without throttling
they starve."""

from __future__ import annotations

import pytest

from pcplab.errors import PcplabError
from pcplab.kernel import ops
from pcplab.mm import Machine, tiny_topology
from pcplab.sim.engine import Simulator

MS = 1_000_000


@pytest.fixture(scope="module")
def machine() -> Machine:
    return Machine.build(tiny_topology(nodes=1, cpus_per_node=2, zone_pages=(1024,)), "5.17")


def _hog_and_other(sim: Simulator, seconds: int):
    def hog(ctx):
        yield ops.EnterUser()
        for _ in range(seconds * 1000):
            yield ops.UserRun(MS)  # never sleeps

    def other(ctx):
        yield ops.EnterUser()
        for _ in range(seconds * 1000):
            yield ops.UserRun(MS // 10)

    h = sim.spawn(0, hog, name="hog", policy="fifo")
    o = sim.spawn(0, other, name="other", start_ns=MS)
    return h, o


def test_fifo_hog_is_throttled_each_period(machine):
    sim = Simulator(machine, noise=0)
    h, o = _hog_and_other(sim, 3)
    sim.run(until=3000 * MS)
    other_ns = sim.stats(o).user_ns
    # 3 periods x 50 ms for SCHED_OTHER (± one op at each edge)
    assert 3 * 50 * MS - 2 * MS <= other_ns <= 3 * 50 * MS + 2 * MS, other_ns
    hog_ns = sim.stats(h).user_ns
    assert 3 * 950 * MS - 3 * MS <= hog_ns <= 3 * 950 * MS + 2 * MS, hog_ns


def test_without_throttling_other_starves(machine):
    sim = Simulator(machine, noise=0, rt_runtime_ns=None)
    _, o = _hog_and_other(sim, 2)
    sim.run(until=2000 * MS)
    assert sim.stats(o).user_ns == 0


def test_throttled_cpu_idles_when_nothing_else_runs_and_timers_stop(machine):
    sim = Simulator(machine, noise=0)

    def hog(ctx):
        yield ops.EnterUser()
        for _ in range(1200):
            yield ops.UserRun(MS)

    h = sim.spawn(1, hog, policy="fifo")
    end = sim.run()  # the RT timers stop once the task is done: run() returns
    assert sim.stats(h).end_ns == end
    # 950 ms run, 50 ms throttled (idle), then the remaining 250 ms
    assert 1250 * MS - 2 * MS <= end <= 1250 * MS + 2 * MS, end


def test_bad_rt_runtime_is_refused(machine):
    with pytest.raises(PcplabError, match="RT runtime"):
        Simulator(machine, rt_runtime_ns=2_000_000_000)


def test_fifo_spin_deadlock_is_still_reported(machine):
    # the RT timers must not keep a deadlocked simulation running forever
    from pcplab.kernel.locks import Spinlock
    from pcplab.sim.engine import SimDeadlock

    a, b = Spinlock("A"), Spinlock("B")

    def ab(ctx):
        yield ops.SpinLock(a)
        yield ops.UserRun(1000)
        yield ops.SpinLock(b)

    def ba(ctx):
        yield ops.SpinLock(b)
        yield ops.UserRun(1000)
        yield ops.SpinLock(a)

    sim = Simulator(machine, noise=0)
    sim.spawn(0, ab, policy="fifo")
    sim.spawn(1, ba, policy="fifo")
    with pytest.raises(SimDeadlock):
        sim.run(until=10 * 1000 * MS)  # (a bound, so that a regression fails instead of hanging)
