"""/proc/zoneinfo import: both layouts, the model comparison, and malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcplab.errors import PcplabError
from pcplab.machines import load_zoneinfo, parse_zoneinfo
from pcplab.machines.host import host_profile, host_zoneinfo
from pcplab.machines.sizing import compare_zoneinfo

DATA = Path(__file__).parent / "data"
FC618 = DATA / "x86_64-6.18-2cpu-firecracker.txt"
OLD515 = DATA / "x86_64-5.15-4cpu-handmade.txt"


def test_parse_618_file() -> None:
    zi = load_zoneinfo(FC618)
    assert [(z.node, z.name) for z in zi.zones] == [
        (0, "DMA"),
        (0, "DMA32"),
        (0, "Normal"),
        (0, "Movable"),
        (0, "Device"),
    ]
    assert [z.name for z in zi.populated_zones()] == ["DMA", "DMA32", "Normal"]
    normal = zi.zones[2]
    assert (normal.min, normal.low, normal.high, normal.promo) == (10891, 13613, 16335, 19057)
    assert (normal.spanned, normal.present, normal.managed) == (5505024, 5505024, 1409024)
    assert normal.start_pfn == 1048576 and normal.free == 1321008 and normal.boost == 0
    cpu1 = normal.pagesets[1]
    assert (cpu1.cpu, cpu1.count, cpu1.high, cpu1.batch, cpu1.high_min, cpu1.high_max) == (
        1,
        5262,
        6869,
        63,
        6806,
        88064,
    )
    assert zi.has_high_min and zi.default_kernel == "6.7"
    assert zi.node_cpus == {0: (0, 1)} and not zi.cpus_inferred
    topo = zi.topology()
    assert topo.nr_cpus == 2
    assert [z.name for z in topo.nodes[0].zones] == ["DMA", "DMA32", "Normal"]


def test_618_file_matches_the_model_in_every_populated_zone() -> None:
    zi = load_zoneinfo(FC618)
    sizing, rows = compare_zoneinfo(zi, zi.default_kernel)
    assert sizing.min_free_kbytes == 67584
    assert [r.zone for r in rows] == ["DMA", "DMA32", "Normal"]
    assert all(r.match for r in rows), [r.mismatches for r in rows]
    assert rows[1].model["high_min"] == 3733 and rows[1].model["high_max"] == 48307


def test_618_file_under_old_rules_flags_the_runtime_high() -> None:
    # With 5.17 rules the model's high is the low-watermark split (= high_min here); the file's
    # run-time tuned high differs on Normal/cpu1 (6869) and on the untouched DMA zone (0).
    zi = load_zoneinfo(FC618)
    _, rows = compare_zoneinfo(zi, "5.17")
    by_zone = {r.zone: r for r in rows}
    assert by_zone["DMA32"].match
    assert not by_zone["Normal"].match
    assert any(
        "high: model 6806, reported 6869 on cpu 1" in m for m in by_zone["Normal"].mismatches
    )
    assert not by_zone["DMA"].match


def test_old_format_hand_example() -> None:
    # 4 CPUs, managed DMA 3977 + DMA32 700000 + Normal 1300000 = 2003977 pages.
    # sqrt rule: isqrt(16 * 8015908 KiB) = 11324 KiB; khugepaged: 3 zones * 512 * 11 = 16896
    # pages = 67584 KiB wins. DMA32: min = 16896 * 700000 // 2003977 = 5901,
    # gap = max(5901 >> 2, 700) = 1475 -> low 7376, high 8851; pcp high = 7376 // 4 = 1844.
    # Normal: min 10960, low 13700, high 16440, pcp high 3425. DMA: 33/41/49, batch 1, high 10.
    zi = load_zoneinfo(OLD515)
    assert not zi.has_high_min and zi.default_kernel == "5.17"
    assert all(z.promo is None and z.boost is None for z in zi.zones)
    sizing, rows = compare_zoneinfo(zi, zi.default_kernel)
    assert sizing.min_free_kbytes == 67584
    assert all(r.match for r in rows), [r.mismatches for r in rows]
    assert [r.model["high"] for r in rows] == [10, 1844, 3425]
    assert "high_min" not in rows[0].model


def test_a_changed_value_is_flagged() -> None:
    text = OLD515.read_text().replace("high:  1844", "high:  1900", 1)
    _, rows = compare_zoneinfo(parse_zoneinfo(text), "5.17")
    dma32 = rows[1]
    assert not dma32.match
    assert dma32.mismatches == ("high: model 1844, reported 1900 on cpu 0",)


def test_several_nodes_without_cpu_map_split_evenly() -> None:
    text = FC618.read_text().replace("Node 0, zone   Normal", "Node 1, zone   Normal")
    zi = parse_zoneinfo(text)
    assert zi.cpus_inferred and zi.node_cpus == {0: (0,), 1: (1,)}
    zi2 = parse_zoneinfo(text, node_cpus={0: (0, 1), 1: ()})
    assert not zi2.cpus_inferred
    with pytest.raises(PcplabError, match="no node"):
        parse_zoneinfo(text, node_cpus={0: (0,)})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: "garbage first line\n" + t, "line 1: expected 'Node N, zone NAME'"),
        (lambda t: "  pages free 3\n" + t, "line 1: data before the first"),
        (
            lambda t: t.replace("min      5974", "min      59x4"),
            "'min' needs a non-negative integer",
        ),
        (lambda t: t.replace("zone    DMA32", "zone    DMA33"), "unknown zone 'DMA33'"),
        (lambda t: t.replace("managed  772915\n", ""), "lacks managed"),
        (lambda t: t.replace("    cpu: 0\n", "", 1), "before any 'cpu: N' line"),
        (
            lambda t: t.replace("high_max: 48307", "high_mux: 48307"),
            "only one of high_min/high_max",
        ),
        (lambda t: t + "Node 0, zone      DMA\n", "appears twice"),
        (lambda t: t.replace("spanned  4095", "spanned  4095 7"), "expected 'spanned N'"),
        (lambda t: t.replace("  per-node stats", "  per-node stats \x00\x01"), "unrecognised line"),
        (lambda t: "", "no 'Node N, zone NAME' sections"),
    ],
)
def test_malformed_zoneinfo(edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PcplabError, match=message) as info:
        parse_zoneinfo(edit(FC618.read_text()), origin="zi.txt")
    text = str(info.value)
    assert "\n" not in text and text.startswith("zi.txt")


def test_line_numbers_point_at_the_bad_line() -> None:
    lines = FC618.read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if "min      5974" in line)
    lines[idx] = "        min      oops"
    with pytest.raises(PcplabError, match=f"line {idx + 1}: 'min'"):
        parse_zoneinfo("\n".join(lines))


def test_buddyinfo_is_recognised_as_the_wrong_file() -> None:
    with pytest.raises(PcplabError, match="buddyinfo"):
        parse_zoneinfo("Node 0, zone      DMA      0      0      1 \n")


def test_missing_file() -> None:
    with pytest.raises(PcplabError, match="cannot read zoneinfo"):
        load_zoneinfo("/nonexistent/zoneinfo")


def _fake_host(tmp_path: Path) -> tuple[Path, Path]:
    proc, sys_ = tmp_path / "proc", tmp_path / "sys"
    (proc / "sys" / "vm").mkdir(parents=True)
    (proc / "zoneinfo").write_text(FC618.read_text())
    (proc / "sys" / "vm" / "min_free_kbytes").write_text("67584\n")
    (proc / "sys" / "vm" / "watermark_scale_factor").write_text("10\n")
    (proc / "cpuinfo").write_text(
        "processor\t: 0\nmodel name\t: Test CPU\nphysical id\t: 0\nsiblings\t: 2\n"
        "cpu cores\t: 2\ncpu MHz\t\t: 2445.406\n\n"
        "processor\t: 1\nmodel name\t: Test CPU\nphysical id\t: 0\nsiblings\t: 2\n"
        "cpu cores\t: 2\ncpu MHz\t\t: 2445.406\n\n"
    )
    node = sys_ / "devices" / "system" / "node" / "node0"
    node.mkdir(parents=True)
    (node / "cpulist").write_text("0-1\n")
    thp = sys_ / "kernel" / "mm" / "transparent_hugepage"
    thp.mkdir(parents=True)
    (thp / "enabled").write_text("always [madvise] never\n")
    (thp / "hpage_pmd_size").write_text("2097152\n")
    return proc, sys_


def test_host_profile_from_a_fake_tree(tmp_path: Path) -> None:
    proc, sys_ = _fake_host(tmp_path)
    zi = host_zoneinfo(proc, sys_)
    assert zi.node_cpus == {0: (0, 1)} and zi.pageblock_order == 9
    p = host_profile(proc, sys_)
    assert (
        p.name == "host" and p.nr_cpus == 2 and (p.sockets, p.cores_per_socket, p.smt) == (1, 2, 1)
    )
    assert p.cost("clock_ghz") == pytest.approx(2.445, abs=1e-3)
    topo = p.topology()
    assert topo.thp and topo.extra["host"]["min_free_kbytes"] == 67584
    _, rows = compare_zoneinfo(zi, "6.18", topo)
    assert all(r.match for r in rows)


def test_host_profile_thp_never(tmp_path: Path) -> None:
    proc, sys_ = _fake_host(tmp_path)
    (sys_ / "kernel" / "mm" / "transparent_hugepage" / "enabled").write_text(
        "always madvise [never]\n"
    )
    topo = host_profile(proc, sys_).topology()
    assert topo.thp is False
    # without khugepaged's raise the sqrt rule gives isqrt(16 * 8743116) = 11827 KiB, so the
    # file's watermarks (made with 67584) no longer match
    zi = host_zoneinfo(proc, sys_)
    sizing, rows = compare_zoneinfo(zi, "6.18", topo)
    assert sizing.min_free_kbytes == 11827
    assert not any(r.match for r in rows)


@pytest.mark.skipif(not Path("/proc/zoneinfo").exists(), reason="needs Linux /proc")
def test_real_host_loads() -> None:
    p = host_profile()
    assert p.nr_cpus >= 1 and p.topology().nodes
