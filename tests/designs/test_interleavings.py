"""Hand-scheduled interleavings on the real kernel model: the real designs survive the races their
drains were built for, and each mutant breaks in exactly the way it claims."""

from __future__ import annotations

import random

import pytest

from pcplab.kernel import ops
from pcplab.kernel.state import BLOCKED, KernelViolation
from pcplab.mm.constants import MIGRATE_MOVABLE, MIGRATE_UNMOVABLE
from pcplab.mm.errors import DoubleAlloc

from .helpers import drain_then_check, invariants, pcp_pages, run, run_all, run_random, setup
from .test_sequential import fill


def checked(k):
    problems = invariants(k.machine)
    assert not problems, problems


def step_until(k, t, pred, limit=1000):
    for _ in range(limit):
        if pred(t):
            return
        assert not t.done, f"{t.name} finished before the point of interest"
        assert k.step(t) is not BLOCKED, f"{t.name} blocked on {k.wait_key(t)}"
    raise AssertionError("step limit")


def run_all_one(k, t):
    """Run task ``t`` alone to completion (it must never block)."""
    while not t.done:
        assert k.step(t) is not BLOCKED, k.wait_key(t)
    return t.retval


def inside_lists(t):
    return bool(t.windows)


def pending(kind):
    return lambda t: isinstance(t.op, kind)


def blocked(k, t, limit=1000):
    for _ in range(limit):
        if k.step(t) is BLOCKED:
            return
        assert not t.done
    raise AssertionError("did not block")


# --- real designs --------------------------------------------------------------------------------


def test_workqueue_drain_waits_for_the_cpu_to_leave_its_irq_off_section():
    d, m, k = setup("workqueue")
    fill(d, m, k)
    z = m.zones[0]
    user = k.spawn(0, d.free_pages, (z, next(iter(z.allocated)), z.allocated[next(iter(z.allocated))]))
    step_until(k, user, inside_lists)  # cpu0 has IRQs off, inside its lists
    drainer = k.spawn(1, d.drain_all_pages, (z,))
    blocked(k, drainer)  # queued the work on cpu0 and waits in flush_work
    assert k.wait_key(drainer)[0] == "flush_work"
    assert any(e.kind == "work_queued" and e.dst == 0 for e in k.events)
    assert k.cpus[0].kworker not in k.enabled_tasks()  # cannot preempt an IRQ-off section
    run_all(k, check=checked)
    assert drainer.retval is True and z.per_cpu_pageset[0].lp.count == 0


@pytest.mark.parametrize("name", ["rcu", "rcu-no-grace-period"])
def test_rcu_grace_period_protects_a_reader_of_the_old_lists(name):
    d, m, k = setup(name)
    fill(d, m, k)
    z = m.zones[0]
    pcp = z.per_cpu_pageset[0]
    old = pcp.lp
    pfn = next(iter(z.allocated))
    reader = k.spawn(0, d.free_pages, (z, pfn, z.allocated[pfn]))
    step_until(k, reader, inside_lists)  # loaded lp == old, pushed the page, still inside
    assert id(old) in reader.windows
    drainer = k.spawn(1, d.drain_all_pages, (z, True))
    if name == "rcu":
        blocked(k, drainer)  # swapped, then waits for the grace period
        assert k.wait_key(drainer)[0] == "rcu_gp" and reader in k.wait_key(drainer)[1]
        assert pcp.lp is not old and pcp.drain is old  # new readers see the empty spare set
        run_all(k, first=reader, check=checked)
        assert pcp_pages(m) == sum(p.lp.count for p in z.per_cpu_pageset) == 0
    else:
        with pytest.raises(KernelViolation) as e:
            run_all(k, first=drainer)
        assert e.value.kind == "list-race"
        assert d.expected_violation == "list-race"


def test_rcu_free_live_lists_mutant_races_with_the_owner():
    d, m, k = setup("rcu-free-live-lists")
    fill(d, m, k)
    z = m.zones[0]
    pfn = next(p for p, o in z.allocated.items() if o == 0)
    drainer = k.spawn(1, d.drain_all_pages, (z, True))
    step_until(k, drainer, pending(ops.IrqSave))  # grace period over, about to free cpu0's lp
    owner = k.spawn(0, d.free_pages, (z, pfn, 0))
    step_until(k, owner, inside_lists)
    with pytest.raises(KernelViolation) as e:
        run_all(k, first=drainer)
    assert e.value.kind == d.expected_violation == "list-race"
    # quiet, it drains like the real design
    d, m, k = setup("rcu-free-live-lists")
    fill(d, m, k)
    res = run(k, 1, d.drain_all_pages, m.zones[0])
    assert d.postcondition(m, k.state, m.zones[0], False, res) is None


def test_rcu_grace_period_is_one_per_drain():
    d, m, k = setup("rcu", cpus=4)
    fill(d, m, k)
    k.events.clear()
    run(k, 0, d.drain_all_pages, None, True)
    assert [e.kind for e in k.events].count("gp_start") == 1
    assert not any(e.kind in ("ipi", "work_queued") for e in k.events)


@pytest.mark.parametrize("name", ["spinlock", "spinlock-trylock-fail-uses-pcp"])
def test_spinlock_trylock_failure_falls_back_to_buddy(name):
    d, m, k = setup(name)
    fill(d, m, k)
    z = m.zones[0]
    pcp0 = z.per_cpu_pageset[0]
    drainer = k.spawn(1, d.drain_all_pages, (z,))
    step_until(k, drainer, inside_lists)  # holds cpu0's pcp->lock, inside its lists
    assert id(pcp0.lp) in drainer.windows
    count = pcp0.lp.count
    pfn = run_all_one(k, k.spawn(0, d.alloc_pages, (z, 0, MIGRATE_MOVABLE)))
    assert pfn is not None and z.allocated[pfn] == 0
    assert pcp0.lp.count == count  # served by buddy: the lists were not touched
    victim = k.spawn(0, d.free_pages, (z, pfn, 0))
    if name == "spinlock":
        run_all_one(k, victim)
        assert pcp0.lp.count == count and pfn in z.buddy_info or any(
            pfn in range(b, b + (1 << (v >> 3))) for b, v in z.buddy_info.items()
        )
        run_all(k, check=checked)
        assert pcp0.lp.count == 0
    else:
        with pytest.raises(KernelViolation) as e:
            run_all_one(k, victim)
        assert e.value.kind == d.expected_violation == "list-race"


def test_spinlock_drainer_waits_for_the_owner_lock():
    d, m, k = setup("spinlock")
    fill(d, m, k)
    z = m.zones[0]
    pfn = next(p for p, o in z.allocated.items() if o == 0)
    user = k.spawn(0, d.free_pages, (z, pfn, 0))
    step_until(k, user, inside_lists)
    drainer = k.spawn(1, d.drain_all_pages, (z,))
    blocked(k, drainer)
    assert k.wait_key(drainer)[0] == "spinlock" and drainer.spinning
    run_all(k, check=checked)
    assert z.per_cpu_pageset[0].lp.count == 0


def test_spinlock_no_remote_lock_mutant():
    d, m, k = setup("spinlock-no-remote-lock")
    fill(d, m, k)
    z = m.zones[0]
    pfn = next(p for p, o in z.allocated.items() if o == 0)
    user = k.spawn(0, d.free_pages, (z, pfn, 0))
    step_until(k, user, inside_lists)
    drainer = k.spawn(1, d.drain_all_pages, (z,))
    with pytest.raises(KernelViolation) as e:
        run_all_one(k, drainer)
    assert e.value.kind == d.expected_violation == "list-race"


def test_spinlock_stale_count_mutant_loses_pages_from_the_count():
    d, m, k = setup("spinlock-stale-count")
    fill(d, m, k)
    z = m.zones[0]
    pfn = next(p for p, o in z.allocated.items() if o == 0)
    user = k.spawn(0, d.free_pages, (z, pfn, 0))
    step_until(k, user, lambda t: t.steps >= 2)  # READ_ONCE(count) done, lock not taken yet
    assert isinstance(user.op, ops.PreemptDisable)
    run_all_one(k, k.spawn(1, d.drain_all_pages, (z,)))  # drains cpu0 meanwhile
    checked(k)
    run_all_one(k, user)
    problems = invariants(m)
    assert problems and any("count" in p for p in problems)
    assert d.expected_violation == "page-lost"
    # without the drain in between the same free is fine
    d2, m2, k2 = setup("spinlock-stale-count")
    fill(d2, m2, k2)
    z2 = m2.zones[0]
    p2 = next(p for p, o in z2.allocated.items() if o == 0)
    run(k2, 0, d2.free_pages, z2, p2, 0)
    assert not invariants(m2)


def test_spinlock_lock_inversion_mutant_deadlocks():
    d, m, k = setup("spinlock-lock-inversion")
    z = m.zones[0]
    run(k, 0, d.alloc_pages, z, 0, MIGRATE_UNMOVABLE)  # cpu0 caches UNMOVABLE pages only
    assert z.per_cpu_pageset[0].lp.count > 0
    user = k.spawn(0, d.alloc_pages, (z, 0, MIGRATE_MOVABLE))  # empty list: refill
    step_until(k, user, lambda t: isinstance(t.op, ops.SpinLock) and "zone" in str(t.op.lock))
    drainer = k.spawn(1, d.drain_all_pages, (z,))
    blocked(k, drainer)  # holds zone->lock, waits for cpu0's pcp->lock
    assert k.step(user) is BLOCKED
    assert k.enabled_tasks() == [] and set(k.unfinished()) == {user, drainer}
    assert d.expected_violation == "deadlock"


def test_spinlock_peek_then_take_mutant_hands_out_a_free_page():
    d, m, k = setup("spinlock-peek-then-take")
    fill(d, m, k)
    z = m.zones[0]
    user = k.spawn(0, d.alloc_pages, (z, 0, MIGRATE_MOVABLE))
    seen = []

    def second_section(t):
        if isinstance(t.op, ops.PreemptDisable):
            seen.append(t.steps)
        return len(seen) == 2

    step_until(k, user, second_section)  # between the two lock holds
    run_all_one(k, k.spawn(1, d.drain_all_pages, (z,)))
    with pytest.raises(DoubleAlloc):
        run_all_one(k, user)
    assert d.expected_violation == "double-alloc"


def test_workqueue_no_flush_mutant_returns_before_the_drain():
    d, m, k = setup("workqueue-no-flush")
    fill(d, m, k)
    z = m.zones[0]
    drainer = k.spawn(1, d.drain_all_pages, (z,))
    res = run_all_one(k, drainer)
    msg = d.postcondition(m, k.state, z, False, res)
    assert msg is not None and "still hold" in msg and d.expected_violation == "postcondition"
    run_all(k)  # the kworkers run later
    assert d.postcondition(m, k.state, z, False, res) is None
    # the real design meets the postcondition with the same schedule
    for name in ("workqueue", "workqueue-no-flush"):
        d2, m2, k2 = setup(name)
        fill(d2, m2, k2)
        t = k2.spawn(1, drain_then_check, (d2, m2.zones[0]))
        run_all(k2, first=t)
        assert (t.retval[1] is None) == (name == "workqueue")


def test_rcu_sync_irqs_off_mutant_sleeps_in_atomic():
    d, m, k = setup("rcu-sync-irqs-off")
    fill(d, m, k)
    with pytest.raises(KernelViolation) as e:
        run(k, 1, d.drain_all_pages, m.zones[0])
    assert e.value.kind == "sleep-in-atomic" and d.expected_violation == "sleep-in-atomic"


@pytest.mark.parametrize("nohz", [(), (1,)])
def test_static_key_drains_remotely_only_with_nohz_full(nohz):
    d, m, k = setup("static-key", nohz_full=nohz)
    fill(d, m, k)
    k.events.clear()
    run(k, 0, d.drain_all_pages, m.zones[0])
    queued = [e for e in k.events if e.kind == "work_queued"]
    if nohz:
        assert k.state.remote_pcpu_cache_access and not queued
    else:
        assert not k.state.remote_pcpu_cache_access and {e.dst for e in queued} == {0, 1}
    assert pcp_pages(m) == 0


# --- random interleavings of the real designs ----------------------------------------------------


def churn(ctx, d, zone, seed, n):
    rng = random.Random(seed)
    held = []
    for _ in range(n):
        if held and rng.random() < 0.45:
            pfn, order = held.pop(rng.randrange(len(held)))
            yield from d.free_pages(ctx, zone, pfn, order)
        else:
            order = rng.choice((0, 0, 0, 1, 3))
            pfn = yield from d.alloc_pages(ctx, zone, order, rng.choice((0, 1)))
            if pfn is not None:
                held.append((pfn, order))
    for pfn, order in held:
        yield from d.free_pages(ctx, zone, pfn, order)


def drainer(ctx, d, zone, null_ok):
    yield from d.drain_all_pages(ctx, zone)
    if null_ok:
        yield from d.drain_all_pages(ctx, None)
    yield from d.zone_pcp_disable(ctx, zone)
    yield from d.zone_pcp_enable(ctx, zone)
    yield from d.drain_local_pages(ctx, None)


@pytest.mark.parametrize(
    "name", ["workqueue", "rcu", "rcu-v1", "static-key", "spinlock-irqsave", "spinlock"]
)
@pytest.mark.parametrize("rt", [False, True])
def test_random_interleavings_keep_invariants(name, rt):
    if rt and name.startswith("rcu"):
        pytest.skip("the seed's drainer frees with IRQs off: see test_rcu_drainer_on_preempt_rt")
    for seed in range(4):
        d, m, k = setup(name, cpus=3, nohz_full=(2,) if seed == 1 else (), preempt_rt=rt)
        z = m.zones[0]
        for cpu in range(3):
            k.spawn(cpu, churn, (d, z, 100 * seed + cpu, 20))
        k.spawn(seed % 3, drainer, (d, z, name != "rcu-v1"))
        run_random(k, random.Random(seed), check=checked)
        assert not z.allocated
        assert all(t.done for t in k.unfinished()) and not k.state.warnings


def test_rcu_drainer_on_preempt_rt():
    """The seed frees the detached lists with local_irq_save() around free_pcppages_bulk
    (kernel-pcp.md §10.2).  On PREEMPT_RT zone->lock is a sleeping lock, so that is "sleeping
    function called from invalid context" — a consequence of modelling the drainer that way
    (UNCONFIRMED whether the patch used local_irq_save or the RT-safe local lock there)."""
    d, m, k = setup("rcu", preempt_rt=True)
    fill(d, m, k)
    with pytest.raises(KernelViolation) as e:
        run(k, 1, d.drain_all_pages, m.zones[0])
    assert e.value.kind == "sleep-in-atomic" and "zone->lock" in e.value.message
    d, m, k = setup("rcu", preempt_rt=False)
    fill(d, m, k)
    run(k, 1, d.drain_all_pages, m.zones[0])
    assert pcp_pages(m) == 0


@pytest.mark.parametrize("name", ["workqueue", "static-key"])
def test_drain_work_of_a_cpu_that_went_offline(name):
    """Work queued on cpu2, cpu2 goes down before the kworker ran, page_alloc_cpu_dead drains it
    from cpu1 while the work item runs unbound on another CPU (the kernel model moves the kworker;
    smp_processor_id() is then that CPU, §9.2): no race on cpu2's lists."""
    d, m, k = setup(name, cpus=3)
    fill(d, m, k)
    z = m.zones[0]

    def offline(ctx):
        yield ops.GoOffline(func="cpu_down")

    drainer = k.spawn(0, d.drain_all_pages, (z,))
    down = k.spawn(2, offline)
    blocked(k, drainer)  # cpu2's work is queued; flush_work waits (cpu0 first)
    assert k.cpus[2].worklist
    run_all_one(k, down)
    assert not k.cpus[2].online
    ctl = k.spawn(1, d.drain_dead_cpu, (2,))
    step_until(k, ctl, inside_lists)  # page_alloc_cpu_dead is inside cpu2's lists
    run_all(k, first=k.cpus[2].kworker, check=checked)
    assert drainer.retval is True and ctl.done
    assert z.per_cpu_pageset[2].lp.count == 0
