"""The explorer on tiny hand-written worlds (no mm model, no designs)."""

from __future__ import annotations

import pytest
from toys import CounterWorld, DeadlockWorld, NullWorld

from pcplab.check.explore import explore_dfs, explore_pct, explore_random, replay


def test_lost_update_found_and_replayed():
    r = explore_dfs(lambda: CounterWorld(2, 1), bound=None)
    assert r.violation is not None and r.violation.kind == "page-lost"
    assert not r.exhaustive
    _, v, n = replay(lambda: CounterWorld(2, 1), r.schedule)
    assert v is not None and v.kind == "page-lost" and n == len(r.schedule)


def test_locked_counter_exhaustive_and_counts():
    r = explore_dfs(lambda: CounterWorld(2, 2, locked=True), bound=None)
    assert r.violation is None and r.exhaustive
    assert r.executions > 1 and r.states > 10 and r.steps >= r.states


@pytest.mark.parametrize("cache", [True, False])
def test_cache_and_no_cache_agree(cache):
    r = explore_dfs(lambda: CounterWorld(2, 2, locked=True), bound=None, cache=cache)
    assert r.violation is None and r.exhaustive
    bad = explore_dfs(lambda: CounterWorld(2, 2), bound=None, cache=cache)
    assert bad.violation is not None


def test_state_cache_prunes():
    a = explore_dfs(lambda: CounterWorld(2, 2, locked=True), bound=None, cache=True)
    b = explore_dfs(lambda: CounterWorld(2, 2, locked=True), bound=None, cache=False)
    assert a.steps < b.steps


def test_preemption_bound_zero_misses_lost_update_bound_one_finds_it():
    # the lost update needs one task to be switched away between its load and its store
    r0 = explore_dfs(lambda: CounterWorld(2, 1), bound=0)
    assert r0.violation is None and r0.exhaustive and r0.bound_pruned > 0
    r1 = explore_dfs(lambda: CounterWorld(2, 1), bound=1)
    assert r1.violation is not None


def test_deadlock_found_with_waits():
    r = explore_dfs(DeadlockWorld, bound=None)
    v = r.violation
    assert v is not None and v.kind == "deadlock"
    assert any("waits for mutex" in d for d in v.details)


def test_null_deref_names_function_and_offset():
    r = explore_dfs(NullWorld, bound=None)
    v = r.violation
    assert v.kind == "null-deref"
    assert v.function == "__drain_all_pages"
    assert v.call_trace[0] == "__drain_all_pages"
    assert v.address == 0x58


def test_random_and_pct_are_seeded_and_find_bugs():
    a = explore_random(lambda: CounterWorld(2, 2), seed=3, executions=300)
    b = explore_random(lambda: CounterWorld(2, 2), seed=3, executions=300)
    assert a.violation is not None and a.schedule == b.schedule
    p = explore_pct(lambda: CounterWorld(2, 2), seed=1, executions=300)
    q = explore_pct(lambda: CounterWorld(2, 2), seed=1, executions=300)
    assert p.violation is not None and p.schedule == q.schedule
    ok = explore_random(lambda: CounterWorld(2, 2, locked=True), seed=0, executions=50)
    assert ok.violation is None and not ok.exhaustive and ok.executions == 50


def test_want_skips_other_kinds():
    r = explore_dfs(lambda: CounterWorld(2, 1), bound=None, want=frozenset({"deadlock"}))
    assert r.violation is None
    assert "page-lost" in r.extra["other"]


def test_independent_cpu_reduced_by_sleep_sets():
    # 2 locked increments (4 steps each) plus a CPU doing 3 purely local steps: 11!/(4!4!3!) =
    # 11550 interleavings without reduction
    r = explore_dfs(lambda: CounterWorld(2, 1, locked=True, extra_cpus=1), bound=None,
                    cache=False)  # fmt: skip
    assert r.violation is None and r.exhaustive
    assert r.executions < 1000
