"""The checker's speed-ups change nothing: cloned worlds behave like rebuilt ones, the invariant
fast path agrees with the full check, and searches give the same results either way."""

from __future__ import annotations

import random
from collections import deque
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcplab import designs
from pcplab.check.explore import explore_dfs, explore_random
from pcplab.check.scenario import (
    EXTRA,
    STANDARD,
    ScenarioWorld,
    scenario_factory,
)
from pcplab.check.scenario_world import _TASK_SCALARS
from pcplab.mm import Machine, check_invariants, ops, tiny_topology
from pcplab.mm.buddy import isolate_pageblock, unisolate_pageblock
from pcplab.mm.invariants import machine_consistent
from pcplab.mm.snapshot import (
    LISTS_CONTAINERS,
    PCP_CONTAINERS,
    ZONE_CONTAINERS,
    clone_machine,
)
from pcplab.mm.state import PcpLists, PerCpuPages, Zone

EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parents[2] / "examples" / "designs").glob("*.py"))
REAL = designs.names() + EXAMPLES  # every example design is held to the same rules
SCENARIOS = STANDARD + [s for s in EXTRA if s.name.startswith("rt-")]


def _result(r):
    v = r.violation
    return (
        None if v is None else (v.kind, v.function, v.cpu, v.task, v.message, v.details),
        r.schedule,
        r.executions,
        r.states,
        r.steps,
        r.bound_pruned,
        r.exhaustive,
    )


@pytest.mark.parametrize("name", REAL, ids=lambda s: s.rsplit("/", 1)[-1])
def test_clone_has_the_state_of_a_rebuilt_world(name):
    d = designs.get(name)
    for sc in SCENARIOS:
        fresh = ScenarioWorld(d, sc)
        factory = scenario_factory(d, sc)
        a, b = factory(), factory()
        assert a.state_key() == fresh.state_key() == b.state_key()
        assert a.enabled() == fresh.enabled()
        assert a.machine is not b.machine and a.kernel.state is not b.kernel.state
        for x, y in zip(a.kernel.tasks, fresh.kernel.tasks, strict=True):
            assert (x.name, x.cpu, x.kind, x.index) == (y.name, y.cpu, y.kind, y.index)
            assert [getattr(x, s) for s in _TASK_SCALARS] == [getattr(y, s) for s in _TASK_SCALARS]


def test_every_design_world_is_cloned():
    # the design-declared state is cloneable by construction (designs.state), so every design's
    # worlds take the fast clone path
    for name in designs.names(mutants=True) + EXAMPLES:
        d = designs.get(name)
        for sc in SCENARIOS + list(d.scenarios):
            w = ScenarioWorld(d, sc)
            assert w.cloneable() or w.setup_violation is not None, (name, sc.name)


@pytest.mark.parametrize("name", ["workqueue", "rcu", "spinlock", "rcu-v1", "rcu-no-grace-period"])
def test_random_runs_agree_between_clones_and_rebuilds(name):
    d = designs.get(name)
    for sc in SCENARIOS:
        a = explore_random(lambda d=d, sc=sc: ScenarioWorld(d, sc), seed=3, executions=15)
        b = explore_random(scenario_factory(d, sc), seed=3, executions=15)
        assert _result(a) == _result(b), sc.name


def test_enabled_indices_matches_enabled_tasks():
    # scenario worlds exercise kworkers, IPIs, IRQ tasks, offline CPUs and sleeping locks
    rng = random.Random(7)
    for name in ["workqueue", "rcu", "static-key", "spinlock", "spinlock-irqsave"]:
        d = designs.get(name)
        for sc in SCENARIOS:
            for _ in range(3):
                w = scenario_factory(d, sc)()
                while True:
                    en = w.enabled()
                    assert en == [t.index for t in w.kernel.enabled_tasks()]
                    if not en or w.step(rng.choice(en)) is not None:
                        break


def test_running_a_clone_leaves_the_next_clone_untouched():
    d = designs.get("rcu")
    sc = STANDARD[0]
    factory = scenario_factory(d, sc)
    start = factory().state_key()
    w = factory()
    while w.enabled():
        assert w.step(w.enabled()[-1]) is None
    assert w.state_key() != start
    assert factory().state_key() == start


@pytest.mark.parametrize("cache", [False, True])
def test_exhaustive_counts_equal_with_and_without_clones(cache):
    for name, sc in [("spinlock", STANDARD[1]), ("workqueue", STANDARD[3]), ("rcu", STANDARD[6])]:
        d = designs.get(name)
        a = explore_dfs(lambda d=d, sc=sc: ScenarioWorld(d, sc), bound=1, cache=cache)
        b = explore_dfs(scenario_factory(d, sc), bound=1, cache=cache)
        assert _result(a) == _result(b)


def test_mutants_found_identically_with_clones():
    for name in designs.mutant_names():
        d = designs.get(name)
        for sc in STANDARD[:2]:
            a = explore_dfs(lambda d=d, sc=sc: ScenarioWorld(d, sc), bound=1, cache=False)
            b = explore_dfs(scenario_factory(d, sc), bound=1, cache=False)
            assert _result(a) == _result(b), (name, sc.name)


# --- the machine copy ----------------------------------------------------------------------------

_IMMUTABLE = (int, str, float, bool, tuple, frozenset, type(None))


def _machine(version: str = "6.7") -> Machine:
    topo = tiny_topology(cpus_per_node=2, zone_pages=(64, 32), zone_names=("DMA32", "Normal"),
                         pageblock_order=3, max_order=4, thp=False, min_free_kbytes=0)  # fmt: skip
    return Machine.build(topo, version, batch=2, high=6)


@pytest.mark.parametrize("version", ["5.17", "6.7"])
def test_every_mm_slot_is_copied_or_immutable(version):
    m = _machine(version)
    for z in m.zones:
        z.per_cpu_pageset[0].add_spare_lists()
    c = clone_machine(m)
    for z, cz in zip(m.zones, c.zones, strict=True):
        for cls, obj, new, containers in [(Zone, z, cz, ZONE_CONTAINERS)] + [
            (PerCpuPages, p, q, PCP_CONTAINERS)
            for p, q in zip(z.per_cpu_pageset, cz.per_cpu_pageset, strict=True)
        ]:
            for slot in cls.__slots__:
                a, b = getattr(obj, slot), getattr(new, slot)
                if slot in containers:
                    assert a is None or a is not b, slot
                else:
                    # version / topology objects are shared on purpose: they never change
                    assert a is b or a == b, slot
                    assert isinstance(a, _IMMUTABLE) or slot == "version", slot
        for p, q in zip(z.per_cpu_pageset, cz.per_cpu_pageset, strict=True):
            for lists, new in ((p.lp, q.lp), (p.drain, q.drain)):
                if lists is None:
                    assert new is None
                    continue
                assert set(PcpLists.__slots__) - LISTS_CONTAINERS == {"count", "name"}
                assert new.lists == lists.lists and new.lists is not lists.lists
                assert all(x is not y for x, y in zip(new.lists, lists.lists, strict=True))


def test_clone_machine_is_independent():
    from pcplab.mm.invariants import state_key

    m = _machine()
    rng = random.Random(1)
    held: list[tuple[int, int, int]] = []
    _random_ops(m, rng, held, 30)
    key = state_key(m)
    c = clone_machine(m)
    assert state_key(c) == key
    _random_ops(c, rng, list(held), 60)
    assert state_key(m) == key and state_key(c) != key


# --- the invariant fast path ---------------------------------------------------------------------


def _random_ops(m: Machine, rng: random.Random, held: list, n: int) -> None:
    for _ in range(n):
        zi = rng.randrange(len(m.zones))
        zone = m.zones[zi]
        pcp = zone.per_cpu_pageset[rng.randrange(m.nr_cpus)]
        k = rng.randrange(7)
        if k <= 2:
            order = rng.choice((0, 0, 1, 2, 3, 4))
            pfn = ops.rmqueue(zone, pcp, order, rng.randrange(3))
            if pfn is not None:
                ops.hand_out(zone, pfn, order)
                held.append((zi, pfn, order))
        elif k <= 4 and held:
            zj, pfn, order = held.pop(rng.randrange(len(held)))
            z = m.zones[zj]
            ops.take_back(z, pfn, order)
            ops.free_unref_page(z, z.per_cpu_pageset[rng.randrange(m.nr_cpus)], pfn, order)
        elif k == 5:
            ops.drain_pages_zone(zone, pcp)
        else:
            pbo = zone.pageblock_order
            first = zone.managed_start >> pbo
            last = (zone.managed_end - 1) >> pbo
            pb = rng.randint(first, last) << pbo
            if rng.random() < 0.5:
                isolate_pageblock(zone, pb)
            else:
                unisolate_pageblock(zone, pb)


def _corrupt(m: Machine, rng: random.Random) -> None:
    """One small, possibly harmless, damage of the kind a broken design could do."""
    zone = m.zones[rng.randrange(len(m.zones))]
    pcp = zone.per_cpu_pageset[rng.randrange(m.nr_cpus)]
    lists = pcp.lp
    info = zone.buddy_info
    k = rng.randrange(10)
    if k == 0:
        lists.count += rng.choice((-1, 1))
    elif k == 1 and info:  # a buddy block also put on a pcp list
        lists.lists[0].append(rng.choice(sorted(info)))
    elif k == 2 and info:  # forget a buddy block
        pfn = rng.choice(sorted(info))
        v = info.pop(pfn)
        zone.free_area[v >> 3][v & 7].pop(pfn, None)
    elif k == 3:
        zone.nr_free_pages += 1
    elif k == 4 and zone.allocated:
        pfn = rng.choice(sorted(zone.allocated))
        zone.allocated[pfn + 1] = 0  # overlapping hand-out
    elif k == 5 and info:  # a buddy entry under the wrong type
        pfn = rng.choice(sorted(info))
        info[pfn] ^= 1
    elif k == 6:
        lists.lists[0].append(zone.managed_end)  # outside the zone
        lists.count += 1
    elif k == 7 and info:  # split a free block without merging (unmerged buddies)
        pfn = rng.choice(sorted(info))
        v = info[pfn]
        order, mt = v >> 3, v & 7
        if order:
            zone.free_area[order][mt].pop(pfn, None)
            half = 1 << (order - 1)
            for p in (pfn, pfn + half):
                zone.free_area[order - 1][mt][p] = None
                info[p] = ((order - 1) << 3) | mt
    elif k == 8:
        pcp.high = -1
    else:
        lists.lists[-1] = deque([zone.managed_start + 1])  # unaligned for a high order
        lists.count += 1 << zone.version.pindex_order[-1]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**9), st.integers(0, 40), st.integers(0, 3))
def test_fast_path_never_passes_a_broken_state(seed, n, damage):
    rng = random.Random(seed)
    m = _machine(rng.choice(["5.17", "6.0", "6.7"]))
    _random_ops(m, rng, [], n)
    assert machine_consistent(m) and check_invariants(m) == []
    for _ in range(damage):
        _corrupt(m, rng)
    try:
        errs = check_invariants(m)
    except Exception:  # noqa: BLE001 - the full check may itself trip over the damage
        errs = ["raised"]
    assert machine_consistent(m) == (errs == [])


def test_reused_buddy_verdict_sees_an_in_place_change():
    """The fast path reuses its last buddy-side result while the free lists and buddy_info
    compare equal: a change made in place afterwards (a stray block on a free list, an entry
    whose order changed, a block gone from its list) must still be seen, in a clone too."""
    for damage in range(3):
        m = _machine()
        assert machine_consistent(m)
        c = clone_machine(m)
        for machine in (m, c):
            zone = machine.zones[1]
            info = zone.buddy_info
            pfn = max(info)
            v = info[pfn]
            order, mt = v >> 3, v & 7
            if damage == 0:
                zone.free_area[0][mt][zone.managed_end - 1] = None  # listed, no buddy_info entry
            elif damage == 1:
                info[pfn] = ((order - 1) << 3) | mt  # entry names another list
            else:
                del zone.free_area[order][mt][pfn]  # entry whose block is on no list
            assert not machine_consistent(machine)
            assert check_invariants(machine) != []
