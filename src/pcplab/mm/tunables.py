"""The kernel's sizing formulas for watermarks and per-CPU page lists, as pure functions.

Everything is in base pages of the machine's page size unless a name says ``kbytes``.
Sources (restated, not copied): ``kernel-pcp.md`` §4 (v5.17 ``zone_batchsize``, ``zone_highsize``,
``__setup_per_zone_wmarks``, ``calculate_min_free_kbytes``; all [SRC✓]) and §14 (6.7 auto-tuning:
``high_min`` from the low watermark, ``high_max`` from ``managed / 8``). Reproduces every populated
zone of a real 6.18 ``/proc/zoneinfo`` (see ``tests/mm/test_tunables.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pcplab.errors import PcplabError
from pcplab.mm.version import parse_kernel

MIGRATE_PCPTYPES = 3  # mirrors pcplab.mm.constants; kept local so this module has no siblings
MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8  # smallest non-zero sysctl value; 6.7+ uses it for high_max
SWAP_CLUSTER_MAX = 32
# Zones below ZONE_HIGHMEM: they count as "lowmem" and take a share of min_free_kbytes.
LOWMEM_ZONES = ("DMA", "DMA32", "Normal")
# Zones whose min watermark is a small clamp instead of a share (HighMem on 32-bit, Movable).
CLAMPED_MIN_ZONES = ("HighMem", "Movable")


@dataclass(frozen=True)
class Watermarks:
    """A zone's watermarks in pages (``promo`` exists from 6.0 on; older kernels just lack it)."""

    min: int
    low: int
    high: int
    promo: int


@dataclass(frozen=True)
class PcpSizing:
    """What ``zone_set_pageset_high_and_batch`` writes to every CPU's pageset of one zone.

    ≤ 6.6: ``high`` is the fixed limit, ``high_min``/``high_max`` are None.
    6.7+: ``high_min``/``high_max`` bound the auto-tuned ``high``; ``high`` is the initial value
    (``high_min``: the first free clamps the boot value 0 into [high_min, high_max]).
    """

    batch: int
    high: int
    high_min: int | None
    high_max: int | None


class _HasAutotune(Protocol):
    @property
    def autotune(self) -> bool: ...


def _page_shift(page_size: int) -> int:
    if page_size < 1024 or page_size & (page_size - 1):
        raise PcplabError(f"page size {page_size} is not a power of two >= 1024; use 4096 or 65536")
    return page_size.bit_length() - 1


def _rounddown_pow_of_two(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def calculate_min_free_kbytes(lowmem_kbytes: int) -> int:
    """Boot-time ``min_free_kbytes``: ``clamp(isqrt(16 * lowmem_kbytes), 128, 262144)``.

    [SRC✓ v5.17 ``calculate_min_free_kbytes``, kernel-pcp.md §4.3]. ``lowmem_kbytes`` is what the
    kernel gets from ``nr_free_buffer_pages()`` at that point.
    ASSUMPTION: at boot no watermark is set yet, so that equals the managed pages of the zones up to
    ZONE_NORMAL, which is what :func:`machine_min_free_kbytes` passes.
    """
    return min(max(math.isqrt(16 * max(lowmem_kbytes, 0)), 128), 262144)


def khugepaged_min_free_kbytes(
    nr_zones: int, totalram_pages: int, page_size: int, pageblock_order: int = 9
) -> int:
    """khugepaged's recommended ``min_free_kbytes`` (``set_recommended_min_free_kbytes``).

    The kernel raises ``min_free_kbytes`` to this when THP is enabled and the figure is larger
    (kernel-pcp.md §4.3 caveat: it reaches 132 MB regardless of memory size on some machines).
    ASSUMPTION (formula from my reading of ``mm/khugepaged.c``, not in the knowledge file): keep two
    free pageblocks per counted zone, plus ``MIGRATE_PCPTYPES**2`` pageblocks per zone so each pcp
    migratetype has a fallback block; cap the sum at 5 % of ``totalram_pages``; convert to KiB.
    ``nr_zones`` counts populated zones up to ZONE_NORMAL (Movable is skipped). The kernel's cap
    uses ``nr_free_buffer_pages()`` (lowmem managed minus high watermarks), which
    :func:`machine_min_free_kbytes` passes as ``totalram_pages``.
    Check: 3 zones, 512-page pageblocks, 4 KiB pages -> 16896 pages = 67584 KiB (a real 6.18 box).
    """
    pageblock_pages = 1 << pageblock_order
    recommended = pageblock_pages * nr_zones * 2
    recommended += pageblock_pages * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    recommended = min(recommended, max(totalram_pages, 0) // 20)
    return recommended << (_page_shift(page_size) - 10)


def zone_watermarks(
    managed: int,
    lowmem_pages: int,
    min_free_kbytes: int,
    page_size: int = 4096,
    watermark_scale_factor: int = 10,
    *,
    clamped_min: bool = False,
) -> Watermarks:
    """One zone's watermarks as ``__setup_per_zone_wmarks`` sets them (boost 0).

    [SRC✓ v5.17, kernel-pcp.md §4.3]: the zone's share of ``min_free_kbytes`` (in pages) in
    proportion to its managed pages over all lowmem pages is ``min``; the gap ``max(share / 4,
    managed * factor / 10000)`` is added once for ``low``, twice for ``high`` and (6.0+,
    ``promo``) three times.
    ``clamped_min`` (HighMem, Movable): ASSUMPTION from kernel source memory: ``min`` is
    ``clamp(managed / 1024, SWAP_CLUSTER_MAX, 128)`` while the gap still uses the proportional
    share (so an empty Movable zone reads 32/32/32/32, as in real zoneinfo files).
    """
    pages_min = min_free_kbytes >> (_page_shift(page_size) - 10)
    share = pages_min * managed // lowmem_pages if lowmem_pages > 0 else 0
    wmin = min(max(managed // 1024, SWAP_CLUSTER_MAX), 128) if clamped_min else share
    gap = max(share >> 2, managed * watermark_scale_factor // 10000)
    return Watermarks(min=wmin, low=wmin + gap, high=wmin + 2 * gap, promo=wmin + 3 * gap)


def zone_batchsize(managed: int, page_size: int = 4096) -> int:
    """The kernel's ``zone_batchsize`` (MMU case) [SRC✓ v5.17, kernel-pcp.md §4.1].

    About a quarter of 0.1 % of the zone, at most 1 MiB worth of pages before the x1.5, rounded
    down to ``2**n - 1``. This can return 0 for tiny zones: the kernel then uses
    ``max(1, zone_batchsize)``, as :func:`pcp_sizing` does.
    """
    b = min(managed >> 10, (1 << 20) // page_size)
    b = max(b // 4, 1)
    return _rounddown_pow_of_two(b + b // 2) - 1


def zone_highsize(
    managed: int,
    low_wmark: int,
    batch: int,
    cpus_on_node: int,
    online_cpus: int,
    fraction: int,
    cpu_online: int = 0,
) -> int:
    """The kernel's ``zone_highsize`` [SRC✓ v5.17, kernel-pcp.md §4.2].

    The pool (the low watermark, or ``managed / fraction`` when the sysctl is set) is split over
    the node's CPUs (plus ``cpu_online`` = 1 while a CPU comes up); a memory-only node splits over
    all online CPUs. Never below ``4 * batch``.
    """
    total = managed // fraction if fraction else low_wmark
    split = cpus_on_node + cpu_online
    if split == 0:
        split = online_cpus
    if split <= 0:
        raise PcplabError("zone_highsize: no online CPUs to split the pcp pool over; add a CPU")
    return max(total // split, batch * 4)


def _autotunes(version: _HasAutotune | str) -> bool:
    """True if ``version`` (a KernelVersion or a string like "6.7") uses 6.7+ auto-tuning."""
    if not isinstance(version, str):
        return bool(version.autotune)
    return bool(parse_kernel(version).autotune)  # one parser validates names for all callers


def pcp_sizing(
    version: _HasAutotune | str,
    managed: int,
    low_wmark: int,
    cpus_on_node: int,
    online_cpus: int,
    fraction: int = 0,
    *,
    page_size: int = 4096,
    cpu_online: int = 0,
) -> PcpSizing:
    """batch and high (or high_min/high_max) that ``zone_set_pageset_high_and_batch`` writes.

    ≤ 6.6: ``high = zone_highsize(fraction)`` [SRC✓ v5.17]. 6.7+ (kernel-pcp.md §14):
    ``high_min = zone_highsize(0)`` (low watermark) and ``high_max = zone_highsize(8)``; a
    non-zero sysctl ``fraction`` pins both to ``zone_highsize(fraction)`` (tuning off).
    """
    if fraction and fraction < MIN_PERCPU_PAGELIST_HIGH_FRACTION:
        raise PcplabError(
            f"percpu_pagelist_high_fraction {fraction} is below the kernel's minimum 8; use 0 or >= 8"
        )
    batch = max(1, zone_batchsize(managed, page_size))

    def highsize(frac: int) -> int:
        return zone_highsize(managed, low_wmark, batch, cpus_on_node, online_cpus, frac, cpu_online)

    if not _autotunes(version):
        return PcpSizing(batch=batch, high=highsize(fraction), high_min=None, high_max=None)
    if fraction:
        high_min = high_max = highsize(fraction)
    else:
        high_min = highsize(0)
        high_max = highsize(MIN_PERCPU_PAGELIST_HIGH_FRACTION)
    return PcpSizing(batch=batch, high=high_min, high_min=high_min, high_max=high_max)


@dataclass(frozen=True)
class ZoneSize:
    """Input to :func:`setup_per_zone_wmarks`: one zone of the machine (any node)."""

    name: str
    present: int
    managed: int


def lowmem_pages(zones: Iterable[ZoneSize]) -> int:
    """Managed pages of all zones that are neither HighMem nor Movable (nor Device)."""
    return sum(z.managed for z in zones if z.name in LOWMEM_ZONES)


def setup_per_zone_wmarks(
    zones: Sequence[ZoneSize],
    min_free_kbytes: int,
    page_size: int = 4096,
    watermark_scale_factor: int = 10,
) -> list[Watermarks]:
    """Watermarks of every zone of a machine (all nodes), in the order given."""
    lowmem = lowmem_pages(zones)
    return [
        zone_watermarks(
            z.managed,
            lowmem,
            min_free_kbytes,
            page_size,
            watermark_scale_factor,
            clamped_min=z.name in CLAMPED_MIN_ZONES,
        )
        for z in zones
    ]


def machine_min_free_kbytes(
    zones: Sequence[ZoneSize],
    page_size: int = 4096,
    pageblock_order: int = 9,
    thp: bool = True,
    watermark_scale_factor: int = 10,
) -> int:
    """``min_free_kbytes`` after boot: the sqrt rule, raised by khugepaged when THP is on.

    ASSUMPTION (boot order as I know it): ``init_per_zone_wmark_min`` runs first with no
    watermarks set; khugepaged starts later, counts populated zones up to ZONE_NORMAL, and caps its
    figure at 5 % of ``nr_free_buffer_pages()`` = lowmem managed minus the high watermarks from the
    first pass.
    """
    lowmem = lowmem_pages(zones)
    base = calculate_min_free_kbytes(lowmem * page_size // 1024)
    if not thp:
        return base
    first = setup_per_zone_wmarks(zones, base, page_size, watermark_scale_factor)
    free_buffer = sum(
        z.managed - w.high for z, w in zip(zones, first, strict=True) if z.name in LOWMEM_ZONES
    )
    nr_zones = sum(1 for z in zones if z.name in LOWMEM_ZONES and z.present > 0)
    raised = khugepaged_min_free_kbytes(nr_zones, free_buffer, page_size, pageblock_order)
    return max(base, raised)
