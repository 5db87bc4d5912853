"""Built-in machine profiles: loading, validation, layout, and agreement with the seed table."""

from __future__ import annotations

import csv
from collections import defaultdict
from importlib import resources
from pathlib import Path

import pytest

from pcplab.errors import PcplabError
from pcplab.machines import REQUIRED_COSTS, builtin_names, get_profile, load_profile, parse_profile
from pcplab.machines.cpulist import format_cpulist, parse_cpulist
from pcplab.machines.sizing import model_zones
from pcplab.mm.machine import Machine

DATA = Path(__file__).parent / "data"

# name -> (logical CPUs, NUMA nodes, SMT) as the project brief describes the seed's machines
EXPECTED = {
    "epyc-7742": (256, 4, 2),
    "epyc-7601": (128, 8, 2),
    "power9": (128, 2, 4),
    "neoverse-n1": (80, 1, 1),
    "xeon-e5-2640v3": (32, 2, 2),
    "thunderx2": (256, 2, 4),
    "rpi4": (4, 1, 1),
    # not a seed machine: Mel Gorman's 2-socket Cascade Lake (issue 11's fidelity checks)
    "cascadelake-2s": (80, 2, 2),
}


def test_the_seven_machines_are_built_in() -> None:
    assert sorted(builtin_names()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_profile_shape_and_sources(name: str) -> None:
    p = get_profile(name)
    cpus, nodes, smt = EXPECTED[name]
    assert (p.nr_cpus, len(p.nodes), p.smt) == (cpus, nodes, smt)
    assert p.cost("smt_per_core") == smt
    for key in REQUIRED_COSTS:
        fact = p.costs[key]
        assert fact.value > 0 and fact.unit and fact.source.strip()
    # mmtests runs pft up to min(NUMCPUS, 128) clients (mmtests-pft.md 2.2)
    assert p.max_clients == min(p.nr_cpus, 128)
    # every CPU's (socket, core, thread) is distinct and within the declared shape
    positions = {p.cpu_position(c) for c in range(p.nr_cpus)}
    assert len(positions) == p.nr_cpus
    assert all(s < p.sockets and c < p.cores_per_socket and t < p.smt for s, c, t in positions)
    # SMT siblings sit on the same NUMA node
    by_core = defaultdict(set)
    for cpu in range(p.nr_cpus):
        s, c, _ = p.cpu_position(cpu)
        by_core[(s, c)].add(p.cpu_node(cpu))
    assert all(len(nodes_) == 1 for nodes_ in by_core.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_topology_is_accepted_by_the_allocator_model(name: str) -> None:
    p = get_profile(name)
    topo = p.topology()
    m = Machine.build(topo, "6.7", populate=False)
    assert m.nr_cpus == p.nr_cpus
    total_present = sum(z.present for n in topo.nodes for z in n.zones)
    assert total_present == sum(n.memory_pages for n in p.nodes)
    for node in topo.nodes:
        for z in node.zones:
            assert 0 < z.managed <= z.present <= z.spanned
    # the simulator reads the costs from the topology too
    assert set(REQUIRED_COSTS) <= set(topo.extra["costs"])
    # sizing through the Machine and through pcplab.machines.sizing is the same computation
    sizing = model_zones(topo, "6.7")
    assert m.min_free_kbytes == sizing.min_free_kbytes
    for zone, mz in zip(m.zones, sizing.zones, strict=True):
        assert (zone.watermarks.min, zone.watermarks.low) == (mz.watermarks.min, mz.watermarks.low)
        pcp = zone.per_cpu_pageset[0]
        assert (pcp.batch, pcp.high_min, pcp.high_max) == (
            mz.pcp.batch,
            mz.pcp.high_min,
            mz.pcp.high_max,
        )


def test_x86_low_zones_follow_the_real_layout() -> None:
    # DMA: page 0 and 640 KiB-1 MiB are holes, the first MiB is reserved (5.13+): the real 6.18
    # zoneinfo has start_pfn 1, spanned 4095, managed 3840 (present 3998 there, 3999 here).
    topo = get_profile("xeon-e5-2640v3").topology()
    dma, dma32, normal = topo.nodes[0].zones
    assert (dma.name, dma.start_pfn, dma.spanned, dma.present, dma.managed) == (
        "DMA",
        1,
        4095,
        3999,
        3840,
    )
    # DMA32 spans up to 4 GiB like the real file (spanned 1044480); RAM ends at 3 GiB
    assert (dma32.start_pfn, dma32.spanned, dma32.present) == (4096, 1044480, 786432 - 4096)
    assert normal.start_pfn == 1 << 20
    assert [z.name for z in topo.nodes[1].zones] == ["Normal"]


def test_arch_specific_zones() -> None:
    p9 = get_profile("power9").topology()
    assert p9.page_size == 65536 and p9.pageblock_order == 5 and p9.max_order == 8
    assert all([z.name for z in n.zones] == ["Normal"] for n in p9.nodes)
    pi = get_profile("rpi4").topology()
    assert [z.name for z in pi.nodes[0].zones] == ["DMA", "DMA32", "Normal"]
    dma = pi.nodes[0].zones[0]
    assert dma.present == 948 * 256  # RAM below the 948 MiB GPU carve-out
    n1 = get_profile("neoverse-n1").topology()
    assert [z.name for z in n1.nodes[0].zones] == ["DMA", "Normal"]


def test_power9_64k_pages_give_small_batches() -> None:
    # 64 KiB pages: batch = 2**n - 1 from min(managed >> 10, 16) -> 4 -> 6 -> 3
    sizing = model_zones(get_profile("power9").topology(), "5.17")
    assert {z.pcp.batch for z in sizing.zones} == {3}


def _mmtests_client_counts(end: int) -> list[int]:
    # mmtests-pft.md 2.3 (threads_large_stride_begin), start = 1
    def seq(a: int, step: int, b: int) -> list[int]:
        return list(range(a, b + 1, step))

    if end > 32:
        t = seq(1, 3, 8) + seq(12, 9, 32) + seq(48, 31, end)
    elif end > 8:
        t = seq(1, 2, 8) + seq(12, 6, end)
    else:
        t = seq(1, 2, end)
    if t[-1] != end:
        t.append(end)
    return t


def test_client_counts_match_the_seed_table() -> None:
    seen: dict[str, set[int]] = defaultdict(set)
    with open(DATA / "pft-vanilla-vs-rcu.csv", newline="") as f:
        for row in csv.DictReader(f):
            seen[row["machine"]].add(int(row["threads"]))
    assert set(seen) == {"epyc-7742", "power9", "xeon-e5-2640v3"}
    for machine, threads in seen.items():
        p = get_profile(machine)
        assert sorted(threads) == _mmtests_client_counts(p.max_clients), machine


def test_cpulist_round_trip() -> None:
    assert parse_cpulist("0-3,8,10-11") == (0, 1, 2, 3, 8, 10, 11)
    assert format_cpulist([11, 10, 8, 3, 2, 1, 0]) == "0-3,8,10-11"
    assert parse_cpulist("") == ()
    with pytest.raises(PcplabError):
        parse_cpulist("3-1")
    with pytest.raises(PcplabError):
        parse_cpulist("a")


def _builtin_text(name: str) -> str:
    res = resources.files("pcplab.machines").joinpath("profiles", f"{name}.toml")
    return res.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('cpus = "0-7,16-23"', 'cpus = "0-7,16-22"', "CPUs but sockets"),
        ('cpus = "0-7,16-23"', 'cpus = "0-7,x"', "nodes\\[0\\].cpus"),
        ('cpus = "8-15,24-31"', 'cpus = "7-14,24-31"', "cover CPUs 0-31 exactly once"),
        ("numa_distance = [[10, 21], [21, 10]]", "numa_distance = [[10, 21]]", "2x2 integer"),
        (
            "numa_distance = [[10, 21], [21, 10]]",
            "numa_distance = [[11, 21], [21, 10]]",
            "diagonal",
        ),
        (
            "[costs.ipi_ns]\nvalue = 2000",
            "[costs.ipi_nz]\nvalue = 2000",
            "missing cost facts: ipi_ns",
        ),
        ('arch = "x86_64"', 'arch = "sparc"', "arch 'sparc' unknown"),
        ("page_size = 4096", "page_size = 3000", "page_size 3000"),
        ("max_clients = 32", "max_clients = 33", "exceeds the 32 CPUs"),
        ('default_kernel = "5.17"', 'default_kernel = "4.4"', "default_kernel"),
        ("thp = true", "thp = 1", "'thp' must be true/false"),
        ('cpu_numbering = "thread-major"', 'cpu_numbering = "random"', "cpu_numbering"),
        ('sockets = "seed', 'sockets_ = "seed', "needs a non-empty string for 'sockets'"),
        ("name = ", "name = = ", "bad TOML"),
        ("zone_limits_kib = { DMA = 16384,", "zone_limits_kib = { DMB = 16384,", "unknown zone"),
    ],
)
def test_malformed_profile(old: str, new: str, message: str) -> None:
    text = _builtin_text("xeon-e5-2640v3")
    assert old in text
    with pytest.raises(PcplabError, match=message) as info:
        parse_profile(text.replace(old, new, 1), origin="bad.toml")
    assert "\n" not in str(info.value) and str(info.value).startswith("machine profile bad.toml")


def test_user_profile_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(_builtin_text("rpi4").replace('name = "rpi4"', 'name = "my-pi"'))
    p = load_profile(path)
    assert p.name == "my-pi" and p.origin == str(path)
    with pytest.raises(PcplabError, match="cannot read machine profile"):
        load_profile(tmp_path / "missing.toml")


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(PcplabError, match="unknown machine 'epyc'; known: cascadelake-2s, epyc-7601, epyc-7742"):
        get_profile("epyc")


def test_unknown_cost_key() -> None:
    with pytest.raises(PcplabError, match="no cost fact 'warp_ns'"):
        get_profile("rpi4").cost("warp_ns")


def test_topology_overrides() -> None:
    p = get_profile("rpi4")
    assert p.topology(thp=False).thp is False
    assert p.topology(min_free_kbytes=8192).min_free_kbytes == 8192
    with pytest.raises(PcplabError, match="bad topology override"):
        p.topology(colour="red")
