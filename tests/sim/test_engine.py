"""The timed engine: scheduling rules, blocking, grace periods, IPIs, determinism."""

from __future__ import annotations

import pytest

from pcplab.kernel import ops
from pcplab.kernel.locks import Spinlock
from pcplab.mm import Machine, tiny_topology
from pcplab.sim import costs as C
from pcplab.sim.engine import InvariantBroken, SimDeadlock, Simulator


@pytest.fixture(scope="module")
def machine() -> Machine:
    return Machine.build(tiny_topology(nodes=2, cpus_per_node=2, zone_pages=(4096,)), "5.17")


def _lock_workload(sim: Simulator, nthreads: int, iters: int = 50) -> list:
    lock = Spinlock("L")

    def prog(ctx):
        for _ in range(iters):
            yield ops.UserRun(1000)
            yield ops.SpinLock(lock)
            yield ops.Work("rmqueue_bulk", 10)
            yield ops.SpinUnlock(lock)

    return [sim.spawn(c, prog) for c in range(nthreads)]


def test_same_seed_same_timeline(machine):
    def run(seed):
        sim = Simulator(machine, seed=seed)
        tasks = _lock_workload(sim, 4)
        sim.run()
        return [(sim.stats(t).user_ns, sim.stats(t).system_ns, sim.stats(t).end_ns) for t in tasks]

    assert run(3) == run(3)
    assert run(3) != run(4)  # the jitter is seeded, not constant


def test_spinning_costs_system_time(machine):
    sim1 = Simulator(machine, noise=0)
    (t1,) = _lock_workload(sim1, 1)
    sim1.run()
    sim4 = Simulator(machine, noise=0)
    ts = _lock_workload(sim4, 4)
    sim4.run()
    # one thread never waits; four contend for the lock and spin (kept CPU, system time)
    assert max(sim4.stats(t).system_ns for t in ts) > 1.5 * sim1.stats(t1).system_ns
    assert all(sim4.stats(t).user_ns == sim1.stats(t1).user_ns for t in ts)


def _drain_pair(sim: Simulator, hog_policy: str):
    item = ops.WorkItem("w", fn=lambda ctx: (yield ops.Work("free_pcppages_bulk", 100)))

    def drainer(ctx):
        yield ops.QueueWorkOn(1, item)
        yield ops.FlushWork(item)

    def hog(ctx):
        for _ in range(20):
            yield ops.UserRun(1_000_000)
        yield ops.Sleep(1000)

    d = sim.spawn(0, drainer)
    h = sim.spawn(1, hog, policy=hog_policy)
    sim.run()
    return sim.stats(d), sim.stats(h)


def test_without_wakeup_preemption_kworker_waits_for_tick_behind_sched_other(machine):
    sim = Simulator(machine, noise=0, wakeup_preemption=False)  # the older model
    d, _ = _drain_pair(sim, "other")
    # queued at ~0, runs at the first tick boundary (1 ms) after a context switch
    assert C.TICK_NS <= d.end_ns < C.TICK_NS + 20_000


def test_kworker_preempts_sched_other_at_wakeup(machine):
    sim = Simulator(machine, noise=0)  # CFS wakeup preemption is the default
    d, h = _drain_pair(sim, "other")
    # queued at ~0: the wake-up IPI, a context switch, the work, a switch back -- no tick wait
    assert d.end_ns < 50_000
    assert h.switches >= 2  # the hog was preempted and resumed


def test_a_new_task_still_waits_for_the_tick(machine):
    sim = Simulator(machine, noise=0)

    def hog(ctx):
        yield ops.UserRun(3_000_000)
        yield ops.UserRun(10)  # (a task's last op is never preempted: it is already done)

    def late(ctx):
        yield ops.UserRun(1000)

    sim.spawn(1, hog)
    new = sim.spawn(1, late, start_ns=100_000)  # a fork while the hog runs: START_DEBIT
    sim.run()
    assert C.TICK_NS <= sim.stats(new).end_ns < C.TICK_NS + 20_000


def test_kworker_starves_behind_sched_fifo_until_it_sleeps(machine):
    d, h = _drain_pair(Simulator(machine, noise=0), "fifo")
    assert d.end_ns >= 20 * 1_000_000  # flush_work waited for the RT task to sleep
    assert h.end_ns is not None


def test_grace_period_waits_for_reader_and_minimum_latency(machine):
    def reader(ctx):
        yield ops.IrqSave()
        yield ops.Work("ns", 30_000_000)
        yield ops.IrqRestore()

    def gp(ctx):
        yield ops.UserRun(10_000)  # let the reader enter its section first
        yield ops.SynchronizeRcu()

    sim = Simulator(machine, noise=0, seed=1)
    r = sim.spawn(1, reader)
    g = sim.spawn(0, gp)
    sim.run()
    assert sim.stats(g).end_ns >= 30_000_000  # waited for the IRQs-off section to end
    assert sim.stats(r).end_ns >= 30_000_000
    sim2 = Simulator(machine, noise=0, seed=1)
    g2 = sim2.spawn(0, gp)
    sim2.run()
    assert sim2.stats(g2).end_ns > 1_000_000  # normal GP: milliseconds even with no reader


def test_ipi_interrupts_user_work(machine):
    def handler(ctx):
        yield ops.Work("ns", 500)

    def caller(ctx):
        yield ops.IpiCall(2, handler)

    def user(ctx):
        yield ops.UserRun(5_000_000)

    sim = Simulator(machine, noise=0)
    spans = []
    sim.on_segment(lambda cpu, t0, t1, task, what: spans.append((cpu, t0, t1, what)))
    a = sim.spawn(0, caller)
    b = sim.spawn(2, user)
    sim.run()
    ipi = int(sim.costs.ipi_ns)
    assert ipi + 500 <= sim.stats(a).end_ns < ipi + 5_000
    assert sim.stats(b).user_ns == 5_000_000  # interrupted, not shortened
    assert sim.stats(b).end_ns >= 5_000_000 + 500
    irq = [s for s in spans if s[0] == 2 and s[3] == "irq"]
    assert irq and irq[0][1] >= ipi
    # spans on a CPU never overlap
    cpu2 = sorted(s for s in spans if s[0] == 2)
    assert all(x[2] <= y[1] for x, y in zip(cpu2, cpu2[1:], strict=False))


def test_deadlock_is_reported(machine):
    from pcplab.kernel.locks import Mutex

    m = Mutex("m")

    def holder(ctx):
        yield ops.MutexLock(m)
        yield ops.WaitCpuDead(3)  # cpu3 never goes offline: sleeps forever holding m

    def waiter(ctx):
        yield ops.UserRun(100)
        yield ops.MutexLock(m)
        yield ops.MutexUnlock(m)

    sim = Simulator(machine)
    sim.spawn(0, holder)
    sim.spawn(1, waiter)
    with pytest.raises(SimDeadlock, match="waiter/1 waits on .*mutex"):
        sim.run()


def test_checked_runs_the_invariant_check_after_a_generator(machine):
    m = Machine.build(tiny_topology(nodes=1, cpus_per_node=1, zone_pages=(1024,)), "5.17")
    sim = Simulator(m)

    def work(ctx):
        yield ops.Work("ns", 10)
        m.zones[0].nr_free_pages += 1  # a "drain" that corrupts the counters
        return 7

    def prog(ctx):
        res = yield from sim.checked(work(ctx), "end of drain")
        assert res == 7

    sim.spawn(0, prog)
    with pytest.raises(InvariantBroken, match="end of drain"):
        sim.run()


def test_invariant_hook_fails_loudly(machine):
    m = Machine.build(tiny_topology(nodes=1, cpus_per_node=1, zone_pages=(1024,)), "5.17")
    sim = Simulator(m)
    sim.check_invariants("start")  # a fresh machine is consistent
    m.zones[0].nr_free_pages += 1
    with pytest.raises(InvariantBroken, match="here"):
        sim.check_invariants("here")


def test_queue_work_on_remote_cpu_costs_an_ipi(machine):
    item = ops.WorkItem("w", fn=lambda ctx: (yield ops.Work("ns", 100)))

    def drainer(ctx):
        yield ops.QueueWorkOn(1, item)
        yield ops.FlushWork(item)

    sim = Simulator(machine, noise=0)
    spans = []
    sim.on_segment(lambda cpu, t0, t1, task, what: spans.append((cpu, t0, t1, what)))
    d = sim.spawn(0, drainer)
    sim.run()
    ipi = int(sim.costs.ipi_ns)
    # idle target: woken by the IPI, then the kworker's switch-in and its work
    assert sim.stats(d).end_ns >= ipi + int(sim.costs.context_switch_ns) + 100
    assert min(t0 for cpu, t0, _t1, _w in spans if cpu == 1) >= ipi

    # busy target: the reschedule IPI interrupts the running task (noise on that CPU)
    def user(ctx):
        yield ops.UserRun(3_000_000)

    sim = Simulator(machine, noise=0)
    spans = []
    sim.on_segment(lambda cpu, t0, t1, task, what: spans.append((cpu, t0, t1, what)))
    item2 = ops.WorkItem("w2", fn=lambda ctx: (yield ops.Work("ns", 100)))

    def drainer2(ctx):
        yield ops.QueueWorkOn(1, item2)
        yield ops.FlushWork(item2)

    sim.spawn(1, user)
    sim.spawn(0, drainer2)
    sim.run()
    assert any(cpu == 1 and what == "irq" and t0 >= ipi for cpu, t0, _t1, what in spans)


def test_cpu_offline_and_wait_cpu_dead(machine):
    def goes_down(ctx):
        yield ops.UserRun(50_000)
        yield ops.GoOffline()

    def controller(ctx):
        yield ops.WaitCpuDead(1)
        yield ops.Work("ns", 1000)

    sim = Simulator(machine, noise=0)
    sim.spawn(1, goes_down)
    ctl = sim.spawn(0, controller)
    sim.run()
    assert not sim.kernel.cpus[1].online
    assert sim.stats(ctl).end_ns >= 50_000 + 1000


def test_clear_page_runs_at_cache_speed_alone_and_at_node_bandwidth_together():
    # 8 CPUs on one node, each clearing 64 pages in one op: alone, a clear takes what the core's
    # store rate allows; all together, the node's memory writes the lines back one after another,
    # so the last one ends when the node has written back all 8 x 64 pages (less one page of
    # slack per clearer)
    m = Machine.build(tiny_topology(nodes=1, cpus_per_node=8, zone_pages=(4096,)), "5.17")
    pages = 64

    def clearer(ctx):
        yield ops.Work("clear_page", pages)

    alone = Simulator(m, noise=0)
    t1 = alone.spawn(0, clearer)
    alone.run()
    nbytes = pages * alone.costs.page_size
    cache_ns = nbytes / alone.costs.core_clear_bw()
    assert _clear_time(alone, t1) == pytest.approx(cache_ns, abs=2)
    # the generic machine's node bandwidth (40 GB/s x efficiency) is below 8 cores' store rate
    node_bw = alone.costs.node_clear_bw()
    assert 8 * alone.costs.core_clear_bw() > node_bw

    together = Simulator(m, noise=0)
    tasks = [together.spawn(c, clearer) for c in range(8)]
    together.run()
    last = max(_clear_time(together, t) for t in tasks)
    expect = 8 * nbytes / node_bw - alone.costs.page_size / node_bw
    assert last == pytest.approx(expect, rel=0.01)
    assert min(_clear_time(together, t) for t in tasks) == pytest.approx(cache_ns, abs=2)


def _clear_time(sim: Simulator, task) -> int:
    st = sim.stats(task)
    return st.system_ns - sim.stats(task).switches * int(sim.costs.context_switch_ns)
