"""The allocation slow path's drain rule, and the osnoise-style noise meter."""

from __future__ import annotations

from types import SimpleNamespace

from pcplab import designs
from pcplab.mm import Machine, check_invariants, tiny_topology
from pcplab.mm import ops as mm
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.sim.engine import Simulator
from pcplab.workloads.noise import NoiseMeter
from pcplab.workloads.slowpath import MemoryEnv, Process, alloc_pages


def _pressure(design: str, page_cache: int) -> tuple[MemoryEnv, Process, list]:
    """A 2-CPU machine whose only zone is at its min watermark, with ``page_cache`` clean
    pages to reclaim; CPU 0 asks for one page."""
    des = designs.get(design)
    m = Machine.build(tiny_topology(zone_pages=(2048,)), des.kernel_version, batch=8, high=200)
    sim = Simulator(m, design=des, seed=0)
    env = MemoryEnv(des, m)
    env.now = lambda: sim.now
    zone = m.zones[0]
    for _ in range(page_cache):
        pfn = mm.rmqueue_buddy(zone, 0, MIGRATE_MOVABLE)
        mm.hand_out(zone, pfn, 0)
        env.page_cache.lru.append((zone, pfn))
    hog = Process("hog")
    env.processes.append(hog)
    while zone.nr_free_pages > zone.watermarks.min:
        pfn = mm.rmqueue_buddy(zone, 0, MIGRATE_MOVABLE)
        mm.hand_out(zone, pfn, 0)
        hog.pages.append((zone, pfn))
    got: list = []

    def program(ctx):  # noqa: ANN001, ANN202
        got.append((yield from alloc_pages(ctx, env, 0, MIGRATE_MOVABLE, hog)))

    sim.spawn(0, program, name="fault")
    sim.run()
    return env, hog, got


def test_reclaim_progress_then_failed_retry_drains_once_and_succeeds() -> None:
    env, hog, got = _pressure("workqueue", page_cache=64)
    assert got[0] is not None
    s = env.stats
    assert s["direct_reclaims"] == 1 and s["direct_reclaimed"] == 32
    # the 32 reclaimed pages sat on CPU 0's pcp list: not free for the watermark -> one drain
    assert s["drains"] == 1
    assert s["oom_kills"] == 0
    assert check_invariants(env.machine) == []


def test_no_reclaim_progress_goes_to_the_oom_killer_without_draining() -> None:
    env, hog, got = _pressure("rcu", page_cache=0)
    assert got == [None]  # the allocating task was the biggest: killed, its allocation fails
    assert hog.killed
    assert env.stats["oom_kills"] == 1 and env.stats["drains"] == 0


def _task(name: str, kind: str = "program") -> SimpleNamespace:
    return SimpleNamespace(name=name, kind=kind)


def test_noise_meter_classifies_like_osnoise() -> None:
    owner, kw, irq = _task("rt/2"), _task("kworker/2:1", "kworker"), _task("irq/2:f", "irq")
    m = NoiseMeter(4, {2})
    m.set_owner(2, owner)
    seg = m.segment
    seg(2, 0, 100, owner, "switch")  # first start: not noise
    seg(2, 100, 1000, owner, "user")
    seg(2, 1000, 1010, None, "irq")  # wake-up IPI
    seg(2, 1010, 1060, kw, "switch")
    seg(2, 1060, 1200, kw, "kernel")
    seg(2, 1200, 1250, owner, "switch")  # back to the owner: same episode
    seg(2, 1250, 5000, owner, "user")
    seg(2, 5000, 5020, irq, "irq")
    seg(2, 5020, 5100, owner, "spin")  # owner spins on a lock: not noise, reported apart
    sim = SimpleNamespace(stats=lambda t: SimpleNamespace(wait_ns=7, interrupted_ns=3))
    rec = {r["cpu"]: r for r in m.result(sim, 10_000)}[2]
    assert rec["interference"] == {"irq": 0, "ipi": 2, "thread": 1}
    assert rec["noise_ns"] == 10 + 50 + 140 + 50 + 20
    assert rec["max_single_noise_ns"] == 250
    assert rec["lock_spin_ns"] == 80
    assert rec["available_pct"] == 100.0 * (10_000 - 270) / 10_000
    assert rec["delay_ns"] == 10
