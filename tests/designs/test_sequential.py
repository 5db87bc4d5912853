"""Every real design, run one task at a time on the real kernel model: the mm invariants hold
after every step, drains empty the lists, zone_pcp_disable/enable and CPU-dead drains work."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcplab import designs
from pcplab.kernel import ops
from pcplab.kernel.state import BLOCKED
from pcplab.mm.constants import MIGRATE_MOVABLE, MIGRATE_UNMOVABLE

from .helpers import (
    design_id,
    drain_then_check,
    every_design,
    invariants,
    pcp_pages,
    run,
    run_all,
    setup,
)

REAL = every_design()  # built-ins and every example design file
# rcu-v1 crashes on drain_all_pages(NULL); everything else in this file works for it
NULL_OK = [n for n in REAL if designs.get(n).expected_violation != "null-deref"]


def checked(k):
    problems = invariants(k.machine)
    assert not problems, problems


def fill(d, m, k, per_cpu=12, orders=(0, 0, 1, 3), seed=1):
    """Allocate and free on every CPU so that each CPU's pcp lists hold pages."""
    rng = random.Random(seed)
    z = m.zones[0]
    held = []
    for cpu in range(m.nr_cpus):
        for _ in range(per_cpu):
            order = rng.choice(orders)
            mt = rng.choice((MIGRATE_UNMOVABLE, MIGRATE_MOVABLE))
            pfn = run(k, cpu, d.alloc_pages, z, order, mt)
            assert pfn is not None
            held.append((cpu, pfn, order))
    # high orders first: in 6.0 a high-order free in a free-only run empties the pcp (free_high)
    for cpu, pfn, order in sorted(held[::2], key=lambda h: -h[2]):
        run(k, cpu, d.free_pages, z, pfn, order)
    checked(k)
    return held[1::2]


@pytest.mark.parametrize("name", REAL, ids=design_id)
def test_alloc_free_keep_invariants_and_use_pcp(name):
    d, m, k = setup(name)
    z = m.zones[0]
    free0 = z.nr_free_pages
    held = fill(d, m, k)
    assert pcp_pages(m) > 0  # the fast paths really cache pages
    for cpu in range(m.nr_cpus):
        assert z.per_cpu_pageset[cpu].lp.count > 0
    for cpu, pfn, order in held:
        run(k, cpu, d.free_pages, z, pfn, order)
    checked(k)
    assert not z.allocated
    assert z.nr_free_pages + pcp_pages(m) == free0


@pytest.mark.parametrize("name", NULL_OK, ids=design_id)
@pytest.mark.parametrize("zone_arg", [None, "zone"])
def test_drain_all_pages_empties_every_cpu(name, zone_arg):
    d, m, k = setup(name, zone_pages=(2048, 2048), zone_names=("DMA32", "Normal"))
    fill(d, m, k)
    z = m.zones[0]
    zone = z if zone_arg else None
    before = {zz.name: [p.lp.count for p in zz.per_cpu_pageset] for zz in m.zones}
    res, msg = run(k, 1, drain_then_check, d, zone)
    assert res is True and msg is None
    checked(k)
    if zone is not None:  # the other zone is untouched
        other = m.zones[1]
        assert [p.lp.count for p in other.per_cpu_pageset] == before[other.name]
    else:
        assert pcp_pages(m) == 0


@pytest.mark.parametrize("name", NULL_OK, ids=design_id)
def test_drain_of_long_lists(name):
    """Lists with many blocks of several orders (the 5.17 round-robin quota takes several turns)."""
    d, m, k = setup(name, batch=8, high=256)
    fill(d, m, k, per_cpu=40, orders=(0, 0, 0, 1, 2))
    z = m.zones[0]
    for pcp in z.per_cpu_pageset:
        assert sum(len(lst) for lst in pcp.lp.lists) > 10
    assert run(k, 0, drain_then_check, d, None) == (True, None)
    checked(k)
    assert pcp_pages(m) == 0


@pytest.mark.parametrize("name", REAL, ids=design_id)
def test_postcondition_notices_full_lists(name):
    d, m, k = setup(name)
    fill(d, m, k)
    msg = d.postcondition(m, k.state, m.zones[0], False, True)
    assert msg is not None and "still hold" in msg
    assert d.postcondition(m, k.state, m.zones[0], False, False) is None  # a bailed drain


@pytest.mark.parametrize("name", REAL, ids=design_id)
def test_drain_local_pages_only_touches_this_cpu(name):
    d, m, k = setup(name)
    fill(d, m, k)
    z = m.zones[0]
    other = z.per_cpu_pageset[1].lp.count
    run(k, 0, d.drain_local_pages, None)
    checked(k)
    assert z.per_cpu_pageset[0].lp.count == 0
    assert z.per_cpu_pageset[1].lp.count == other > 0


@pytest.mark.parametrize("name", REAL, ids=design_id)
def test_zone_pcp_disable_and_enable(name):
    d, m, k = setup(name, batch=4, high=16)
    fill(d, m, k)
    z = m.zones[0]

    def prog(ctx):
        yield from d.zone_pcp_disable(ctx, z)
        # while disabled: every pcp empty, high 0, batch 1; frees go straight through
        for pcp in z.per_cpu_pageset:
            assert (pcp.high, pcp.batch, pcp.lp.count) == (0, 1, 0)
            assert pcp.drain is None or pcp.drain.count == 0
        pfn = yield from d.alloc_pages(ctx, z, 0, MIGRATE_MOVABLE)
        yield from d.free_pages(ctx, z, pfn, 0)
        assert z.per_cpu_pageset[ctx.cpu].lp.count == 0
        yield from d.zone_pcp_enable(ctx, z)
        return True

    assert run(k, 0, prog) is True
    checked(k)
    for pcp in z.per_cpu_pageset:
        assert (pcp.high, pcp.batch) == (16, 4)
    assert not k.owner  # pcp_batch_high_lock released


@pytest.mark.parametrize("name", REAL, ids=design_id)
def test_drain_dead_cpu(name):
    d, m, k = setup(name, cpus=3)
    fill(d, m, k)
    z = m.zones[0]
    assert z.per_cpu_pageset[2].lp.count > 0

    def offline(ctx):
        yield ops.GoOffline(func="cpu_down")

    ctl = k.spawn(0, d.drain_dead_cpu, (2,))
    k.spawn(2, offline)
    run_all(k, first=ctl)  # the control task waits until cpu2 is dead
    assert ctl.done and not k.cpus[2].online
    checked(k)
    assert z.per_cpu_pageset[2].lp.count == 0
    assert z.per_cpu_pageset[1].lp.count > 0


@pytest.mark.parametrize("name", NULL_OK, ids=design_id)
def test_global_drain_bails_when_another_holds_the_mutex(name):
    d, m, k = setup(name)
    fill(d, m, k)
    before = pcp_pages(m)

    def holder(ctx):
        yield ops.MutexLock(ctx.state.pcpu_drain_mutex)
        yield ops.MutexUnlock(ctx.state.pcpu_drain_mutex)

    h = k.spawn(0, holder)
    k.step(h)
    k.step(h)  # h holds pcpu_drain_mutex
    t = k.spawn(1, d.drain_all_pages, (None,))
    while not t.done:
        k.step(t)
    assert t.retval is False and pcp_pages(m) == before
    # a zone drain waits for the mutex instead
    t2 = k.spawn(1, d.drain_all_pages, (m.zones[0],))
    while k.step(t2) is not BLOCKED:
        pass
    assert k.wait_key(t2)[0] == "mutex"
    run_all(k)
    assert t2.retval is True and pcp_pages(m) == 0


@pytest.mark.parametrize("name", REAL, ids=design_id)
def test_non_pcp_orders_and_isolated_blocks_use_buddy(name):
    from pcplab.mm.buddy import isolate_pageblock

    d, m, k = setup(name)
    z = m.zones[0]
    pfn = run(k, 0, d.alloc_pages, z, 5, MIGRATE_MOVABLE)  # order 5: no pcp list
    assert pfn is not None and z.allocated[pfn] == 5
    assert pcp_pages(m) == 0
    run(k, 0, d.free_pages, z, pfn, 5)
    assert pcp_pages(m) == 0
    p0 = run(k, 0, d.alloc_pages, z, 0, MIGRATE_MOVABLE)
    isolate_pageblock(z, p0)
    before = z.per_cpu_pageset[0].lp.count
    run(k, 0, d.free_pages, z, p0, 0)  # ISOLATE: straight to buddy
    assert z.per_cpu_pageset[0].lp.count == before
    checked(k)


@settings(max_examples=15, deadline=None)
@given(
    name=st.sampled_from(REAL),
    script=st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from(["alloc", "free", "drain", "local"]),
                  st.sampled_from([0, 0, 1, 2, 3, 9])),
        min_size=1, max_size=30,
    ),
)  # fmt: skip
def test_random_sequential_scripts_conserve_pages(name, script):
    d, m, k = setup(name, zone_pages=(4096,))
    z = m.zones[0]
    held: list[tuple[int, int]] = []
    for cpu, what, order in script:
        if what == "alloc":
            pfn = run(k, cpu, d.alloc_pages, z, order, MIGRATE_MOVABLE)
            if pfn is not None:
                held.append((pfn, order))
        elif what == "free" and held:
            pfn, o = held.pop(order % len(held))
            run(k, cpu, d.free_pages, z, pfn, o)
        elif what == "drain":
            run(k, cpu, d.drain_all_pages, z)
        elif what == "local":
            run(k, cpu, d.drain_local_pages, z)
        checked(k)
    assert sum(1 << o for o in z.allocated.values()) == sum(1 << o for _, o in held)
