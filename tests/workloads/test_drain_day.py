"""The aggregated drain storm (``benchmarks/bench_drain_day.py``'s engine) on small spans."""

from __future__ import annotations

import pytest

from pcplab.errors import PcplabError
from pcplab.workloads.drain_day import DayMachine, run_day

DRAINS = 1 / 3600 / 100  # hours per drain at 100 drains/s


@pytest.mark.parametrize(
    "design", ["workqueue", "rcu", "static-key", "spinlock-irqsave", "spinlock"]
)
def test_real_designs_lose_nothing(design: str) -> None:
    r = run_day("day", design, hours=300 * DRAINS, full_every=50, quiet=0.2)
    assert r["drains"] == 300
    assert r["errors"] == []
    assert r["steps"] > 300 * 20  # drains and traffic really ran through the design code
    assert r["allocs"] > 300  # the traffic refilled the lists
    assert r["quiet_drains"] > 20  # postconditions were checked
    assert r["full_checks"] == 300 // 50 + 1


@pytest.mark.parametrize(
    ("mutant", "needle"),
    [
        ("spinlock-stale-count", "count"),  # a counter that drifts from its lists
        ("spinlock-peek-then-take", "DoubleAlloc"),
        ("spinlock-no-remote-lock", "manipulates the pcp lists"),
        ("spinlock-lock-inversion", "deadlock"),
        ("rcu-no-grace-period", "manipulates the pcp lists"),
        ("rcu-free-live-lists", "manipulates the pcp lists"),
        ("workqueue-no-flush", "postcondition"),  # loses nothing, but returns too early
        ("rcu-sync-irqs-off", "sleeping function"),
        ("spinlock-trylock-fail-uses-pcp", "manipulates the pcp lists"),
    ],
)
def test_broken_designs_are_caught(mutant: str, needle: str) -> None:
    r = run_day("day", mutant, hours=2000 * DRAINS, full_every=20)
    assert r["errors"], f"{mutant} survived {r['drains']} drains"
    assert any(needle in e for e in r["errors"]), r["errors"]


def test_same_seed_same_run_and_seed_matters() -> None:
    a = run_day("day", "rcu", hours=200 * DRAINS, seed=3)
    b = run_day("day", "rcu", hours=200 * DRAINS, seed=3)
    c = run_day("day", "rcu", hours=200 * DRAINS, seed=4)
    key = ("steps", "allocs", "quiet_drains")
    assert [a[x] for x in key] == [b[x] for x in key]
    assert [a[x] for x in key] != [c[x] for x in key]


def test_wider_machine_and_drainer_cpu_traffic() -> None:
    for design in ("workqueue", "spinlock"):
        m = DayMachine(cpus=3, zones=2).build("5.17" if design == "workqueue" else "6.0")
        r = run_day("", design, hours=100 * DRAINS, machine=m, traffic_on_drainer_cpu=True)
        assert r["errors"] == [] and r["drains"] == 100


def test_a_lost_page_is_reported() -> None:
    """Conservation really recounts: steal a page from a pcp list behind the design's back."""
    from pcplab.workloads import drain_day

    seen = {}

    def steal(drains: int, wall: float) -> None:
        del wall
        if drains == 20:
            for z in seen["m"].populated_zones():
                for lst in z.per_cpu_pageset[1].lp.lists:
                    if lst:
                        lst.pop()
                        return
                # empty lists: take one from buddy instead (nr_free_pages then disagrees)
                z.nr_free_pages -= 1
                return

    m = DayMachine().build("6.0")
    seen["m"] = m
    r = drain_day.run_day("", "spinlock", hours=60 * DRAINS, machine=m, full_every=20,
                          progress=steal)  # fmt: skip
    assert r["errors"] and r["drains"] < 60


def test_bad_parameters() -> None:
    with pytest.raises(PcplabError):
        run_day("day", "rcu", hours=0.001, burst=0.5)
    with pytest.raises(PcplabError):
        DayMachine(zones=3).build("6.0")
