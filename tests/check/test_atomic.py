"""The unbounded search's synchronisation-point reduction (``explore_dfs(atomic=True)``) and the
dependence relation it rests on: it must find every mutant with its declared kind, agree with the
full search on correct designs, keep racy data accesses visible, and replay its counterexamples."""

from __future__ import annotations

import pytest
from toys import Box

from pcplab import designs
from pcplab.check.api import replay_token, run_check, scenarios_for
from pcplab.check.explore import explore_dfs
from pcplab.check.scenario import STANDARD, scenario_factory
from pcplab.check.world import World, footprint
from pcplab.kernel import ops
from pcplab.kernel.locks import LocalLockVar, Spinlock
from pcplab.kernel.state import Kernel


@pytest.mark.parametrize("name", designs.mutant_names())
def test_every_mutant_is_found_unbounded_with_its_kind(name):
    # scenario by scenario, stopping at the first finding (run_check goes on past a predicted
    # one looking for the concrete failure it leads to, which costs minutes unbounded)
    d = designs.get(name)
    for sc in scenarios_for("all", None, d):
        r = explore_dfs(scenario_factory(d, sc), bound=None, cache=True, atomic=True,
                        time_limit=60)  # fmt: skip
        if r.violation is not None:
            assert r.violation.kind == d.expected_violation, (name, sc.name, r.violation.message)
            return
    pytest.fail(f"{name}: the reduced unbounded search found nothing")


@pytest.mark.parametrize("scenario", ["free-vs-global-drain", "alloc-vs-zone-drain", "pcp-disable"])
def test_reduced_and_full_unbounded_searches_agree(scenario):
    d = designs.get("spinlock")
    sc = next(s for s in STANDARD if s.name == scenario)
    full = explore_dfs(scenario_factory(d, sc), bound=None, cache=True, atomic=False)
    red = explore_dfs(scenario_factory(d, sc), bound=None, cache=True, atomic=True)
    assert full.violation is None and red.violation is None
    assert full.exhaustive and red.exhaustive
    assert red.states < full.states  # the reduction visits fewer states, not more


def _unlocked_writer(ctx, box):
    yield ops.Work("x")
    # an unmarked write with no lock: invisible to the reduced search's scheduling, so only the
    # race rule can see that the other CPU writes the same field
    yield ops.Access(box, "ptr", write=True, func="writer")
    box.ptr = ctx.cpu


class RacyWorld(World):
    def __init__(self) -> None:
        k = Kernel(2)
        super().__init__(k)
        box = Box()
        for cpu in (0, 1):
            k.spawn(cpu, _unlocked_writer, (box,), prime=True)


def test_an_unlocked_write_that_the_reduction_folds_away_is_still_a_data_race():
    r = explore_dfs(RacyWorld, bound=None, cache=True, atomic=True)
    assert r.violation is not None and r.violation.kind == "data-race"
    assert r.extra.get("predicted")


def test_a_counterexample_of_the_reduced_search_replays():
    r = run_check("spinlock-stale-count", bound=-1, shorten=False)
    assert r["atomic"] and r["violation"]["kind"] == "page-lost"
    again = replay_token(r["replay"])
    assert again["violation"] is not None and again["violation"]["kind"] == "page-lost"


def _critical(ctx, lock, local):
    yield (ops.LocalLock if local else ops.SpinLock)(lock, func="critical")
    yield ops.Work("x")
    yield (ops.LocalUnlock if local else ops.SpinUnlock)(lock, func="critical")


def _two_cpus(lock, local):
    k = Kernel(2)
    return k, [k.spawn(cpu, _critical, (lock, local), prime=True) for cpu in (0, 1)]


def test_a_failed_acquisition_touches_the_lock_state_not_what_it_protects():
    k, (a, b) = _two_cpus(Spinlock("L"), False)
    free = footprint(k, b)
    k.step(a)  # a takes L
    taken = footprint(k, b)
    inside = footprint(k, a)
    assert free is not None and taken is not None and inside is not None
    assert free - taken  # the protected token is gone while L is taken ...
    assert not (taken & inside)  # ... so b's waiting attempt commutes with a's critical section
    k.step(a)
    unlock = footprint(k, a)
    assert unlock is not None and taken & unlock  # but not with the release


def test_two_cpus_inside_their_own_local_lock_are_independent():
    k, (a, b) = _two_cpus(LocalLockVar("pagesets.lock"), True)
    k.step(a)
    k.step(b)
    fa, fb = footprint(k, a), footprint(k, b)
    assert fa is not None and fb is not None and not (fa & fb)
