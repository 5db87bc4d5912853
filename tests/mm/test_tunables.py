"""Sizing formulas against worked examples, a real 6.18 zoneinfo, and hand arithmetic."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcplab.errors import PcplabError
from pcplab.mm.tunables import (
    PcpSizing,
    Watermarks,
    ZoneSize,
    calculate_min_free_kbytes,
    khugepaged_min_free_kbytes,
    machine_min_free_kbytes,
    pcp_sizing,
    setup_per_zone_wmarks,
    zone_batchsize,
    zone_highsize,
    zone_watermarks,
)

GIB_PAGES = 1 << 18  # 4 KiB pages per GiB

# kernel-pcp.md §4.4: one zone holds all memory, 4 KiB pages, no khugepaged raise, v5.17.
# (GiB, CPUs on node, min_free_kbytes, min, low, high, batch, high default, high fraction=8)
TABLE_4_4 = [
    (1, 4, 4096, 1024, 1286, 1548, 63, 321, 8192),
    (16, 8, 16384, 4096, 8290, 12484, 63, 1036, 65536),
    (64, 32, 32768, 8192, 24969, 41746, 63, 780, 65536),
    (256, 64, 65536, 16384, 83492, 150600, 63, 1304, 131072),
    (1024, 128, 131072, 32768, 301203, 569638, 63, 2353, 262144),
]


@pytest.mark.parametrize("row", TABLE_4_4, ids=lambda r: f"{r[0]}GiB-{r[1]}cpu")
def test_worked_examples_of_kernel_pcp_4_4(row: tuple[int, ...]) -> None:
    gib, cpus, mfk, wmin, wlow, whigh, batch, high, high_frac8 = row
    managed = gib * GIB_PAGES
    assert calculate_min_free_kbytes(managed * 4) == mfk
    wm = zone_watermarks(managed, managed, mfk)
    assert (wm.min, wm.low, wm.high) == (wmin, wlow, whigh)
    assert pcp_sizing("5.17", managed, wm.low, cpus, cpus) == PcpSizing(batch, high, None, None)
    assert pcp_sizing("6.0", managed, wm.low, cpus, cpus, fraction=8).high == high_frac8
    # 6.7+: the default column is high_min, the fraction=8 column is high_max (§4.4 note, §14)
    assert pcp_sizing("6.7", managed, wm.low, cpus, cpus) == PcpSizing(
        batch, high, high, high_frac8
    )


# Real /proc/zoneinfo of a 2-CPU 6.18 Firecracker VM (tests/machines/data/); values copied from
# the file: (zone, present, managed, min, low, high, promo, batch, high_min, high_max).
FIRECRACKER_618 = [
    ("DMA", 3998, 3840, 29, 36, 43, 50, 1, 18, 240),
    ("DMA32", 782336, 772915, 5974, 7467, 8960, 10453, 63, 3733, 48307),
    ("Normal", 5505024, 1409024, 10891, 13613, 16335, 19057, 63, 6806, 88064),
]


def test_reproduces_real_618_zoneinfo() -> None:
    zones = [ZoneSize(z[0], z[1], z[2]) for z in FIRECRACKER_618]
    zones += [ZoneSize("Movable", 0, 0), ZoneSize("Device", 0, 0)]
    mfk = machine_min_free_kbytes(zones, thp=True)
    # khugepaged's raise wins: 3 zones * 512 pages * (2 + 9) = 16896 pages = 67584 KiB,
    # far above the sqrt rule (isqrt(16 * 8743116 KiB) = 11827).
    assert mfk == 67584
    assert machine_min_free_kbytes(zones, thp=False) == 11827
    wms = setup_per_zone_wmarks(zones, mfk)
    for spec, wm in zip(FIRECRACKER_618, wms, strict=False):
        _, _, managed, wmin, wlow, whigh, promo, batch, high_min, high_max = spec
        assert wm == Watermarks(wmin, wlow, whigh, promo)
        got = pcp_sizing("6.18", managed, wm.low, 2, 2)
        assert (got.batch, got.high_min, got.high_max) == (batch, high_min, high_max)
    # the file's empty Movable zone reads 32/32/32/32, Device 0/0/0/0
    assert wms[3] == Watermarks(32, 32, 32, 32)
    assert wms[4] == Watermarks(0, 0, 0, 0)


@pytest.mark.parametrize(
    ("managed", "page_size", "expected"),
    [
        # 512 MiB: 131072 >> 10 = 128; /4 = 32; 32 + 16 = 48 -> 32 - 1 = 31 (§4.1 says 31)
        (131072, 4096, 31),
        # 256 MiB: 64 -> 16 -> 24 -> 16 - 1 = 15
        (65536, 4096, 15),
        # 2 GiB and up: capped at 1 MiB / 4 KiB = 256 -> 64 -> 96 -> 63
        (2 * GIB_PAGES, 4096, 63),
        (4096 * GIB_PAGES, 4096, 63),
        # 64 KiB pages: cap 1 MiB / 64 KiB = 16 -> 4 -> 6 -> 4 - 1 = 3
        (1 << 20, 65536, 3),
        # 15 MiB DMA zone: 3840 >> 10 = 3 -> 0 -> 1 -> 1 - 1 = 0 (kernel then uses max(1, 0))
        (3840, 4096, 0),
    ],
)
def test_zone_batchsize(managed: int, page_size: int, expected: int) -> None:
    assert zone_batchsize(managed, page_size) == expected


def test_tiny_zone_gets_batch_one() -> None:
    assert pcp_sizing("5.17", 3840, 36, 2, 2).batch == 1


def test_zone_highsize_splits_and_floors() -> None:
    # low 13613 over 2 CPUs = 6806; one CPU coming up -> 3 ways = 4537
    assert zone_highsize(1409024, 13613, 63, 2, 2, 0) == 6806
    assert zone_highsize(1409024, 13613, 63, 2, 2, 0, cpu_online=1) == 4537
    # memory-only node: split over all online CPUs (32) -> 425
    assert zone_highsize(1409024, 13613, 63, 0, 32, 0) == 425
    # 256 CPUs on the node: 13613 // 256 = 53 < 4 * 63 -> floor 252
    assert zone_highsize(1409024, 13613, 63, 256, 256, 0) == 252
    # fraction 10 of 1 GiB over 4 CPUs: 262144 // 10 // 4 = 6553
    assert zone_highsize(GIB_PAGES, 1286, 63, 4, 4, 10) == 6553


def test_many_cpus_hit_the_batch_floor_in_both_generations() -> None:
    # 16 GiB node shared by 256 CPUs (ThunderX2-like): low 8290 // 256 = 32 -> 4 * 63 = 252
    managed = 16 * GIB_PAGES
    low = zone_watermarks(managed, managed, 16384).low
    assert pcp_sizing("5.17", managed, low, 256, 256).high == 252
    s = pcp_sizing("6.7", managed, low, 256, 256)
    # high_max = 4194304 // 8 // 256 = 2048
    assert (s.high_min, s.high_max, s.high) == (252, 2048, 252)


def test_sysctl_fraction_pins_high_min_and_max_on_67() -> None:
    s = pcp_sizing("6.7", GIB_PAGES, 1286, 4, 4, fraction=16)
    # 262144 // 16 // 4 = 4096 for both: tuning is off
    assert (s.high, s.high_min, s.high_max) == (4096, 4096, 4096)


def test_khugepaged_raise() -> None:
    assert khugepaged_min_free_kbytes(3, 2_000_000, 4096) == 67584
    # capped at 5 %: 2 zones want 512 * 2 * 11 = 11264 pages, 100000 // 20 = 5000 pages
    assert khugepaged_min_free_kbytes(2, 100_000, 4096) == 5000 * 4
    # 64 KiB pages, 2 MiB pageblocks (order 5): 32 * 1 * 11 = 352 pages * 64 KiB = 22528 KiB
    assert khugepaged_min_free_kbytes(1, 10_000_000, 65536, pageblock_order=5) == 22528


def test_min_free_kbytes_clamps() -> None:
    assert calculate_min_free_kbytes(0) == 128
    assert calculate_min_free_kbytes(1024) == 128  # isqrt(16384) = 128
    assert calculate_min_free_kbytes(16 << 30) == 262144  # 16 TiB would want 524288


def test_64k_pages_convert_kbytes_to_pages() -> None:
    # 16384 KiB at 64 KiB pages = 256 pages; one zone holds all of them
    wm = zone_watermarks(1 << 20, 1 << 20, 16384, page_size=65536)
    # gap = max(256 >> 2 = 64, 1048576 * 10 // 10000 = 1048) = 1048
    assert wm == Watermarks(256, 1304, 2352, 3400)


def test_version_object_or_string() -> None:
    old = SimpleNamespace(autotune=False, name="5.17")
    new = SimpleNamespace(autotune=True, name="6.8")
    assert pcp_sizing(old, GIB_PAGES, 1286, 4, 4).high_min is None
    assert pcp_sizing(new, GIB_PAGES, 1286, 4, 4).high_max == 8192


def test_bad_fraction_is_an_error() -> None:
    with pytest.raises(PcplabError, match="minimum 8"):
        pcp_sizing("5.17", GIB_PAGES, 1286, 4, 4, fraction=3)


def test_no_cpus_anywhere_is_an_error() -> None:
    with pytest.raises(PcplabError):
        zone_highsize(GIB_PAGES, 1286, 63, 0, 0, 0)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=1 << 28), min_size=1, max_size=4),
    mfk=st.integers(min_value=128, max_value=262144),
    wsf=st.integers(min_value=1, max_value=3000),
)
def test_watermark_properties(sizes: list[int], mfk: int, wsf: int) -> None:
    names = ["DMA", "DMA32", "Normal", "Normal"]
    zones = [ZoneSize(names[i], s, s) for i, s in enumerate(sizes)]
    wms = setup_per_zone_wmarks(zones, mfk, watermark_scale_factor=wsf)
    for wm in wms:
        assert 0 <= wm.min <= wm.low <= wm.high <= wm.promo
        assert wm.high - wm.low == wm.low - wm.min == wm.promo - wm.high
    # the zones' min shares never add up to more than min_free_kbytes in pages
    assert sum(w.min for w in wms) <= mfk // 4


@settings(max_examples=60, deadline=None)
@given(
    managed=st.integers(min_value=1, max_value=1 << 30),
    cpus=st.integers(min_value=1, max_value=512),
    autotune=st.booleans(),
)
def test_pcp_sizing_properties(managed: int, cpus: int, autotune: bool) -> None:
    low = zone_watermarks(managed, managed, calculate_min_free_kbytes(managed * 4)).low
    s = pcp_sizing(SimpleNamespace(autotune=autotune), managed, low, cpus, cpus)
    assert s.batch >= 1 and (s.batch + 1) & s.batch == 0  # 2**n - 1
    assert s.batch <= 63
    assert s.high >= 4 * s.batch
    if autotune:
        assert s.high_min == s.high and s.high_max is not None and s.high_max >= 4 * s.batch
    else:
        assert s.high_min is None and s.high_max is None
