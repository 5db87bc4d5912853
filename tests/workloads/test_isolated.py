"""Isolated (nohz_full) CPUs in every workload, their tasks' own allocation latency, and the
design hooks the workloads reach through ``pcplab.designs.lifecycle``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from pcplab import designs
from pcplab.designs import common, loader
from pcplab.errors import PcplabError
from pcplab.mm import ops as mm
from pcplab.workloads.isolated import P99_MIN_SAMPLES, latency_summary


@pytest.fixture
def register(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``designs.register`` for this test only."""
    monkeypatch.setattr(loader, "_registered", dict(loader._registered))
    return designs.register


def _on_nohz_full(ctx: Any) -> bool:
    k = ctx.kernel
    return k is not None and ctx.cpu in k.nohz_full


def bypass_design() -> Any:
    """``spinlock``, except that nohz_full CPUs allocate and free straight from buddy under
    ``zone->lock`` (nothing to drain there, each allocation pays the lock)."""
    base = designs.get("spinlock")

    def alloc_pages(ctx: Any, zone: Any, order: int, mt: int) -> Any:
        if _on_nohz_full(ctx):
            return (yield from common.rmqueue_buddy(ctx, zone, order, mt))
        return (yield from base.alloc_pages(ctx, zone, order, mt))

    def free_pages(ctx: Any, zone: Any, pfn: int, order: int) -> Any:
        if _on_nohz_full(ctx):
            mt = mm.pageblock_migratetype(zone, pfn)
            yield from common.free_one_page(ctx, zone, pfn, order, mt)
            return
        yield from base.free_pages(ctx, zone, pfn, order)

    return dataclasses.replace(
        base, name="test-bypass", alloc_pages=alloc_pages, free_pages=free_pages
    )


def test_latency_summary_nearest_rank_and_p99_from_100_samples() -> None:
    assert latency_summary(2, []) == {"cpu": 2, "n": 0, "p50": None, "p99": None, "max": None}
    few = latency_summary(1, [30, 10, 20])
    assert few == {"cpu": 1, "n": 3, "p50": 20, "p99": None, "max": 30}
    many = latency_summary(0, list(range(1, P99_MIN_SAMPLES + 1)))
    assert (many["p50"], many["p99"], many["max"]) == (50, 99, 100)


def test_a_design_that_slows_isolated_cpus_shows_it(register: Any) -> None:
    """The bypass spares the isolated CPUs every interruption, as spinlock does, but pays
    zone->lock on each of their allocations: the latency table must say so."""
    from pcplab.sim.api_noise import run_noise

    register(bypass_design())
    res = {
        d: run_noise("rpi4", d, [2, 3], "drain-storm", 100.0, 0.35, seed=1)
        for d in ("spinlock", "test-bypass")
    }
    for d, r in res.items():
        assert r["oops"] is None and r["pages_lost"] == 0, d
        for rec in r["isolated_alloc_latency_ns"] + r["isolated_free_latency_ns"]:
            assert rec["n"] >= P99_MIN_SAMPLES and rec["p99"] is not None, (d, rec)
    byp = res["test-bypass"]
    for cpu_rec in byp["cpus"]:
        if cpu_rec["isolated"]:
            assert cpu_rec["interference"]["ipi"] == 0 and cpu_rec["interference"]["thread"] == 0
            assert cpu_rec["drains_found_pages"] == 0  # nothing on its lists to drain
    spin = {r["cpu"]: r for r in res["spinlock"]["isolated_alloc_latency_ns"]}
    for rec in byp["isolated_alloc_latency_ns"]:
        assert rec["p50"] > spin[rec["cpu"]]["p50"], (rec, spin[rec["cpu"]])


def _counting_hooks(name: str, flush_on_nohz_entry: bool = False) -> tuple[Any, Counter[str]]:
    """``spinlock`` with every hook counting (kind, nohz_full?) calls; optionally the
    ``quiet_vmstat()``-style idea: flush this CPU's lists when a nohz_full CPU enters nohz."""
    base = designs.get("spinlock")
    calls: Counter[str] = Counter()

    def on_user_entry(ctx: Any) -> Any:
        calls["user/nohz" if _on_nohz_full(ctx) else "user"] += 1
        if flush_on_nohz_entry and _on_nohz_full(ctx):
            yield from base.drain_local_pages(ctx, None)

    def on_idle_entry(ctx: Any) -> Any:
        calls["idle/nohz" if _on_nohz_full(ctx) else "idle"] += 1
        yield from ()

    def on_cpu_offline(ctx: Any) -> Any:
        calls[f"offline/cpu{ctx.cpu}"] += 1
        yield from ()

    d = dataclasses.replace(base, name=name, on_user_entry=on_user_entry,
                            on_idle_entry=on_idle_entry, on_cpu_offline=on_cpu_offline)
    return d, calls


def test_hooks_are_reached_from_every_workload(register: Any) -> None:
    from pcplab.sim.api import run_pft
    from pcplab.sim.api_noise import run_hotplug, run_noise, run_oom
    from pcplab.workloads.drain_day import DayMachine, run_day

    d, calls = _counting_hooks("test-hooks")
    register(d)
    run_noise("rpi4", "test-hooks", [3], "drain-storm", 100.0, 0.02, seed=0)
    assert calls["user/nohz"] > 10 and calls["idle/nohz"] > 10  # the fifo loop's periods
    assert calls["user"] > 0 and calls["idle"] > 0  # the traffic's rounds
    calls.clear()
    r = run_oom("rpi4", "test-hooks", isolated=[3])
    assert r["outcome"] == "oom-killed" and r["pages_lost"] == 0
    assert calls["user"] > r["stats"]["faults"] // 2  # the hog returns to user after each fault
    assert calls["user/nohz"] > 0
    calls.clear()
    run_pft("rpi4", "test-hooks", clients=[2], iterations=1, exact=True, mapping_bytes=1 << 20)
    assert calls["user"] >= 256  # every fault of the exact mode
    calls.clear()
    r = run_hotplug("rpi4", "test-hooks", duration_s=0.02)
    assert calls["offline/cpu1"] == 1 and r["cpu_online"][1] is False
    calls.clear()
    m = DayMachine(cpus=3).build(d.kernel_version)
    r = run_day("", "test-hooks", hours=20 / 3600 / 100, machine=m, isolated=[2])
    assert r["errors"] == [] and calls["user/nohz"] == r["isolated_syscalls"] > 0


def test_flush_on_nohz_entry_hook_leaves_nothing_to_drain(register: Any) -> None:
    """A hook that empties a nohz_full CPU's lists on its way to user space: the storm's drains
    find pages there only when one lands inside a syscall, where plain spinlock leaves the
    syscalls' refill on the lists."""
    from pcplab.sim.api_noise import run_noise

    d, _calls = _counting_hooks("test-flush", flush_on_nohz_entry=True)
    register(d)
    found = {}
    for name in ("spinlock", "test-flush"):
        r = run_noise("rpi4", name, [3], "drain-storm", 200.0, 0.1, seed=2)
        assert r["pages_lost"] == 0 and not r["invariant_errors"]
        found[name] = next(c["drains_found_pages"] for c in r["cpus"] if c["cpu"] == 3)
    assert found["spinlock"] >= 10 and found["test-flush"] * 4 < found["spinlock"], found


def test_pft_isolated_cpus_get_no_thread_and_report_latency() -> None:
    from pcplab.sim import pft
    from pcplab.sim.api import run_pft

    s = pft.setup(None, designs.get("workqueue"), machine=_tiny_machine(6))
    for place in pft.PLACEMENTS.values():
        cpus = place(s.costs, s.distance, 4, exclude=(0, 3))
        assert sorted(cpus) == [1, 2, 4, 5]
        with pytest.raises(PcplabError):
            place(s.costs, s.distance, 5, exclude=(0, 3))
    r = run_pft("rpi4", "spinlock", clients=[1, 3], iterations=1, isolated=[2])
    assert r["isolated"] == [2]
    (alloc,) = r["isolated_alloc_latency_ns"]
    assert alloc["cpu"] == 2 and alloc["n"] > 0 and alloc["p50"] > 0
    with pytest.raises(PcplabError, match="out of range"):
        run_pft("rpi4", "spinlock", clients=[4], iterations=1, isolated=[2])
    with pytest.raises(PcplabError, match="do not exist"):
        run_pft("rpi4", "spinlock", clients=[1], iterations=1, isolated=[9])
    plain = run_pft("rpi4", "spinlock", clients=[1], iterations=1)
    assert "isolated_alloc_latency_ns" not in plain


def _tiny_machine(cpus: int) -> Any:
    from pcplab.mm import Machine
    from pcplab.mm.machine import tiny_topology

    return Machine.build(tiny_topology(cpus_per_node=cpus, zone_pages=(4096,)), "5.17")


@pytest.mark.parametrize("cmd", ["pft", "oom"])
def test_cli_isolated_cpu_that_does_not_exist_is_one_line(cmd: str) -> None:
    args = [sys.executable, "-c", "from pcplab.cli import main; main()", cmd, "-m", "rpi4",
            "-d", "spinlock", "--isolated", "4"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("pcplab: error: --isolated")


def test_drain_day_isolated_cpus_are_checked() -> None:
    from pcplab.workloads.drain_day import DayMachine, run_day

    m = DayMachine(cpus=3).build("5.17")
    for design in ("static-key", "rcu"):
        r = run_day("", design, hours=100 / 3600 / 100, machine=m, isolated=[2], quiet=0.2)
        assert r["errors"] == [] and r["isolated_syscalls"] == 300
    with pytest.raises(PcplabError, match="drainer"):
        run_day("", "rcu", hours=0.0001, machine=m, isolated=[0])


def test_compare_passes_isolated_to_pft_units() -> None:
    from pcplab.report import compare as cmp

    p = cmp.CompareParams(machine="rpi4", designs=("workqueue",), clients=(1,), iterations=1,
                          seed=0, isolated=(3,), load="drain-storm", drain_rate=100.0,
                          duration_s=0.01)
    units = {u.workload: u for u in cmp.plan(p)}
    assert units["pft"].params["isolated"] == [3]
    bare = dataclasses.replace(p, isolated=())
    assert "isolated" not in {u.workload: u for u in cmp.plan(bare)}["pft"].params
