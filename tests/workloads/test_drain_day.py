"""The aggregated drain storm (``benchmarks/bench_drain_day.py``'s engine) on small spans."""

from __future__ import annotations

import pytest

from pcplab.workloads.drain_day import run_day


@pytest.mark.parametrize("design", ["workqueue", "rcu", "spinlock"])
def test_real_designs_lose_nothing(design: str) -> None:
    r = run_day("rpi4", design, hours=60 / 3600 / 100, full_every=20)  # 60 drains
    assert r["drains"] == 60
    assert r["errors"] == []
    assert r["steps"] > 60 * 10  # drains and traffic really ran through the design code


@pytest.mark.parametrize(
    ("mutant", "needle"),
    [
        ("spinlock-stale-count", "count"),  # a counter that drifts from its lists
        ("spinlock-peek-then-take", "DoubleAlloc"),
        ("spinlock-no-remote-lock", "manipulates the pcp lists"),
    ],
)
def test_broken_designs_are_caught(mutant: str, needle: str) -> None:
    r = run_day("rpi4", mutant, hours=400 / 3600 / 100, full_every=20)
    assert r["errors"], f"{mutant} survived {r['drains']} drains"
    assert any(needle in e for e in r["errors"])
