"""CMA-style zone drains and hotplug drains through the designs' code."""

from __future__ import annotations

import pytest

from pcplab.sim.api_noise import run_hotplug, run_noise


@pytest.mark.parametrize("design", ["workqueue", "rcu", "spinlock"])
def test_cpu_and_memory_hotplug_drain_everything_and_lose_nothing(design: str) -> None:
    res = run_hotplug("rpi4", design, traffic=False, duration_s=0.05, offline_rate=100)
    assert res["cpu_online"] == [True, False, True, True]
    assert res["dead_cpu_left"] == 0  # page_alloc_cpu_dead emptied the dead CPU's lists
    assert res["offlines"] >= 3
    # nothing else allocates: after zone_pcp_disable no CPU keeps pages of the zone
    assert res["left_after_disable"] == [0] * res["offlines"]
    assert res["pages_lost"] == 0 and res["invariant_errors"] == []


def test_hotplug_with_concurrent_traffic_loses_nothing() -> None:
    res = run_hotplug("rpi4", "spinlock", traffic=True, duration_s=0.05, offline_rate=100)
    assert res["dead_cpu_left"] == 0
    assert res["pages_lost"] == 0 and res["invariant_errors"] == []


@pytest.mark.parametrize("design", ["workqueue", "spinlock"])
def test_cma_load_drains_the_zone(design: str) -> None:
    res = run_noise("rpi4", design, [3], load="cma", drain_rate=200, duration_s=0.04, memory_mib=64)
    assert res["cma"]["attempts"] == res["drains"] >= 5
    assert res["cma"]["success"] + res["cma"]["busy"] == res["cma"]["attempts"]
    assert res["pages_lost"] == 0 and res["invariant_errors"] == []
    iso = [c for c in res["cpus"] if c["isolated"]][0]
    if design == "workqueue":
        assert iso["interference"]["thread"] >= 1  # a zone drain still visits it with a kworker
    else:
        assert iso["interference"]["thread"] == 0
