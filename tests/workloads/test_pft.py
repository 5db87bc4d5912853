"""pft semantics (mmtests), placement, determinism, aggregated vs exact agreement."""

from __future__ import annotations

import json

import pytest

from pcplab import designs
from pcplab.errors import PcplabError
from pcplab.machines.registry import get_profile
from pcplab.sim import pft
from pcplab.sim.api import run_pft
from pcplab.sim.costs import CostModel


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [
        (2, [1, 2]),
        (4, [1, 3, 4]),
        (8, [1, 3, 5, 7, 8]),
        (12, [1, 3, 5, 7, 12]),
        (16, [1, 3, 5, 7, 12, 16]),
        (32, [1, 3, 5, 7, 12, 18, 24, 30, 32]),
        (40, [1, 4, 7, 12, 21, 30, 40]),
        (64, [1, 4, 7, 12, 21, 30, 48, 64]),
        (80, [1, 4, 7, 12, 21, 30, 48, 79, 80]),
        (96, [1, 4, 7, 12, 21, 30, 48, 79, 96]),
        (128, [1, 4, 7, 12, 21, 30, 48, 79, 110, 128]),
        (256, [1, 4, 7, 12, 21, 30, 48, 79, 110, 128]),
    ],
)
def test_client_counts_match_mmtests(cpus, expected):
    assert pft.client_counts(cpus) == expected


def test_round_up_quirk_of_the_page_split():
    # power-of-two worker counts split exactly
    assert pft.split_pages(1000 * 4096, 4096, 4) == (250, 1000)
    # ROUND_UP is a bit mask: for N=3, (1000 + 2) & ~2 = 1000 -> 333 per worker, 999 in total
    assert pft.round_up(1000, 3) == 1000
    assert pft.split_pages(1000 * 4096, 4096, 3) == (333, 999)
    # ... and it can also end above bytes/pagesize: N=6: (1001 + 5) & ~5 = 1002 -> 167 * 6 =
    # 1002 pages for 1001; N=7: (1003 + 6) & ~6 = 1009 -> 144 * 7 = 1008 pages for 1003
    assert pft.split_pages(1001 * 4096, 4096, 6) == (167, 1002)
    assert pft.split_pages(1003 * 4096, 4096, 7) == (144, 1008)
    # partial pages are page-aligned up
    assert pft.split_pages(4097, 4096, 1) == (2, 2)


def test_gbyte_field():
    assert pft.gbyte(3_271_488, 4096, 4) == 12  # mmtests-pft.md §6 worked example


def _placement(machine: str, n: int):
    prof = get_profile(machine)
    cm = CostModel.for_profile(prof)
    cpus = pft.place_threads(cm, [list(r) for r in prof.numa_distance], n)
    assert len(set(cpus)) == n
    nodes = [cm.places[c].node for c in cpus]
    cores = [cm.places[c].core for c in cpus]
    return nodes, cores


def test_placement_spreads_over_nodes_then_cores_then_siblings():
    nodes, cores = _placement("xeon-e5-2640v3", 12)  # distance 21: one fork domain
    assert nodes.count(0) == nodes.count(1) == 6 and len(set(cores)) == 12
    nodes, cores = _placement("xeon-e5-2640v3", 18)  # 16 cores: two of them doubled
    assert len(set(cores)) == 16
    nodes, cores = _placement("power9", 48)  # distance 40: stays in node 0 (64 CPUs)
    assert set(nodes) == {0} and len(set(cores)) == 16
    nodes, _ = _placement("power9", 79)
    assert nodes.count(0) == 64 and nodes.count(1) == 15


def _fork_balance(machine: str, n: int, reclaim: int | None = None):
    prof = get_profile(machine)
    cm = CostModel.for_profile(prof)
    if reclaim is not None:
        cm.node_reclaim_distance = reclaim
    cpus = pft.place_threads_fork_balance(cm, [list(r) for r in prof.numa_distance], n)
    assert len(set(cpus)) == n and cpus[0] == 0  # the launcher runs worker 0 on CPU 0
    nodes = [cm.places[c].node for c in cpus]
    counts = [nodes.count(k) for k in sorted({p.node for p in cm.places})]
    return counts, len({cm.places[c].core for c in cpus})


def test_fork_balance_keeps_a_quarter_of_the_numa_domain_local():
    # Xeon: one NUMA level of 32 CPUs -> up to 8 running stay on node 0, then idle CPUs even out
    assert _fork_balance("xeon-e5-2640v3", 7) == ([7, 0], 7)
    assert _fork_balance("xeon-e5-2640v3", 12) == ([8, 4], 12)
    assert _fork_balance("xeon-e5-2640v3", 18) == ([9, 9], 16)  # two cores get a sibling
    # POWER9: distance 40 > 30, no fork balancing across nodes: node 0 fills up first
    assert _fork_balance("power9", 48)[0] == [48, 0]
    assert _fork_balance("power9", 79)[0] == [64, 15]


def test_fork_balance_on_zen_crosses_sockets_after_a_quarter_of_the_machine():
    # node_reclaim_distance 32 (init_amd_zn): the distance-32 domain keeps SD_BALANCE_FORK
    assert CostModel.for_profile(get_profile("epyc-7742")).node_reclaim_distance == 32
    assert _fork_balance("epyc-7742", 30) == ([30, 0, 0, 0], 30)
    assert _fork_balance("epyc-7742", 48) == ([32, 16, 0, 0], 48)
    assert _fork_balance("epyc-7742", 79) == ([32, 32, 15, 0], 79)
    assert _fork_balance("epyc-7742", 128) == ([32, 32, 32, 32], 128)  # one per core
    # with the generic distance 30 the other socket is only reached when socket 0 is full
    counts, cores = _fork_balance("epyc-7742", 128, reclaim=30)
    assert counts[2:] == [0, 0] and cores == 64


@pytest.mark.parametrize("machine", ["epyc-7601", "thunderx2", "neoverse-n1", "rpi4"])
def test_fork_balance_places_every_client_count_once(machine):
    prof = get_profile(machine)
    cm = CostModel.for_profile(prof)
    dist = [list(r) for r in prof.numa_distance]
    for n in pft.client_counts(prof.nr_cpus):
        cpus = pft.place_threads_fork_balance(cm, dist, n)
        assert len(set(cpus)) == n
        assert cpus == pft.place_threads_fork_balance(cm, dist, n)


def test_unknown_placement_is_a_clear_error():
    s = pft.setup(get_profile("rpi4"), designs.get("workqueue"), mapping=1 << 20)
    s.placement = "nowhere"
    with pytest.raises(PcplabError, match="placement"):
        pft.run_once(s, 2, seed=0)
    s.placement = "v5.17"
    res, _ = pft.run_once(s, 2, seed=0)
    assert res.pages > 0 and res.elapsed > 0


def test_run_pft_is_deterministic_and_complete():
    a = run_pft("xeon-e5-2640v3", "rcu", clients=[1, 5], iterations=2, seed=7)
    b = run_pft("xeon-e5-2640v3", "rcu", clients=[1, 5], iterations=2, seed=7)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    c = run_pft("xeon-e5-2640v3", "rcu", clients=[1, 5], iterations=2, seed=8)
    assert c["clients"][0]["elapsed"] != a["clients"][0]["elapsed"]
    assert a["machine"] == "xeon-e5-2640v3" and a["design"] == "rcu" and a["kernel"] == "5.17"
    for row in a["clients"]:
        for key in ("user", "system", "elapsed", "faults_per_cpu", "faults_per_sec"):
            assert len(row[key]) == 2
        for u, s, e, fc, fs in zip(
            row["user"], row["system"], row["elapsed"], row["faults_per_cpu"],
            row["faults_per_sec"], strict=True,
        ):
            assert fc == pytest.approx(row["pages"] / (u + s), rel=1e-3)
            assert fs == pytest.approx(row["pages"] / e, rel=1e-3)
    one, five = a["clients"]
    assert five["elapsed"][0] < one["elapsed"][0] / 3  # threads share the work
    assert five["system"][0] >= one["system"][0] * 0.95  # system time is summed over workers


def test_progress_and_bad_input():
    seen = []
    run_pft("xeon-e5-2640v3", "workqueue", clients=[1, 2], iterations=1,
            progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 2), (2, 2)]
    with pytest.raises(PcplabError, match="out of range"):
        run_pft("xeon-e5-2640v3", "workqueue", clients=[33], iterations=1)
    with pytest.raises(PcplabError, match="unknown machine"):
        run_pft("no-such-box", "workqueue", iterations=1)
    with pytest.raises(PcplabError, match="unknown design"):
        run_pft("xeon-e5-2640v3", "no-such-design", iterations=1)
    with pytest.raises(PcplabError, match="iterations"):
        run_pft("xeon-e5-2640v3", "workqueue", iterations=0)


@pytest.mark.parametrize(
    ("machine", "mapping", "threads", "tol"),
    [
        ("xeon-e5-2640v3", 6 << 20, (1, 2, 4), 0.05),
        ("power9", 48 << 20, (1, 3), 0.05),  # memory-bandwidth bound at 3 threads
        ("epyc-7742", 6 << 20, (2, 6), 0.05),
        ("xeon-e5-2640v3", 16 << 20, (32,), 0.08),  # every core with two busy SMT threads
    ],
)
def test_aggregated_agrees_with_exact(machine, mapping, threads, tol):
    s = pft.setup(get_profile(machine), designs.get("rcu"), mapping=mapping)
    for n in threads:
        ex, _ = pft.run_once(s, n, seed=1, exact=True)
        ag, _ = pft.run_once(s, n, seed=1, run_jitter=0.0)
        assert ag.pages == ex.pages
        assert ag.system == pytest.approx(ex.system, rel=tol), n
        assert ag.elapsed == pytest.approx(ex.elapsed, rel=tol), n
        assert ag.user == pytest.approx(ex.user, rel=tol), n


def test_aggregated_results_do_not_depend_on_chunking():
    s = pft.setup(get_profile("xeon-e5-2640v3"), designs.get("workqueue"), mapping=64 << 20)
    cpus = pft.place_threads(s.costs, s.distance, 8)
    per, _ = pft.split_pages(s.mapping_bytes, s.page_size, 8)
    zone_of = pft.assign_zones(s.machine, s.distance, [s.costs.places[c].node for c in cpus], per)
    coarse, _ = pft.run_aggregated(s.costs, s.prices, s.probe, cpus, zone_of, per, run_jitter=0,
                                   chunks_per_thread=8)
    fine, _ = pft.run_aggregated(s.costs, s.prices, s.probe, cpus, zone_of, per, run_jitter=0,
                                 chunks_per_thread=512)
    assert coarse.system == pytest.approx(fine.system, rel=0.03)
    assert coarse.elapsed == pytest.approx(fine.elapsed, rel=0.03)


def test_first_touch_falls_back_to_the_next_node_when_the_local_zone_is_full():
    from pcplab.mm import Machine, tiny_topology

    m = Machine.build(tiny_topology(nodes=2, cpus_per_node=2, zone_pages=(4096,)), "5.17")
    dist = [[10, 20], [20, 10]]
    assert pft.assign_zones(m, dist, [0, 1], 1000) == ["Node 0 Normal", "Node 1 Normal"]
    # two workers on node 0 wanting 3000 pages each: the second spills to node 1
    assert pft.assign_zones(m, dist, [0, 0], 3000) == ["Node 0 Normal", "Node 1 Normal"]


def test_exact_mode_is_deterministic():
    a = run_pft("xeon-e5-2640v3", "spinlock", clients=[2], iterations=1, seed=3, exact=True,
                mapping_bytes=2 << 20)
    b = run_pft("xeon-e5-2640v3", "spinlock", clients=[2], iterations=1, seed=3, exact=True,
                mapping_bytes=2 << 20)
    assert a["mode"] == "exact" and a["clients"][0]["pages"] == 512
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None

if given is not None:

    @settings(max_examples=60, deadline=None)
    @given(st.integers(1, 10**9), st.integers(1, 128))
    def test_split_pages_properties(nbytes, n):
        per, total = pft.split_pages(nbytes, 4096, n)
        pages = -(-nbytes // 4096)
        assert per * n == total
        if n & (n - 1) == 0:  # power of two: ROUND_UP is an exact round-up
            assert total == -(-pages // n) * n
        else:  # the mask clears at most n-1: pages <= ROUND_UP < pages + n, then rounded down
            assert pages - n < total <= pages + n - 1
