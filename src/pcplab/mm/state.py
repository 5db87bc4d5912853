"""The allocator's state: zones with buddy free areas, and per-CPU page lists.

Compact representation (kernel-pcp.md §3; DESIGN.md "compact arrays"):

* A page is its pfn (int); a block of order k is its head pfn.  No per-page Python objects.
* Buddy free lists are dicts used as ordered sets, ``zone.free_area[order][mt]``.  The **end** of
  the dict is the list **head**: ``d[pfn] = None`` adds at the head, ``d.popitem()`` takes the
  head, ``del d[pfn]`` unlinks.  Simplification: the kernel sometimes adds at the tail
  (``FPI_TO_TAIL``, and ``__free_one_page`` when the next-higher buddy is free); the model always
  adds at the head, except at boot (see ``pcplab.mm.buddy.free_all_managed``).
* ``zone.buddy_info[pfn] = (order << 3) | mt`` for every free buddy block: the model's
  ``PageBuddy`` + ``buddy_order`` + "which list", needed to merge in O(1).
* pcp lists are deques: **head = left end**, tail = right end (kernel-pcp.md §3.3).
"""

from __future__ import annotations

from collections import deque

from pcplab.mm.constants import MIGRATE_MOVABLE, MIGRATE_TYPES, ZONE_NAMES
from pcplab.mm.owners import PAGESET_RULES, PCP_LISTS_RULES, ZONE_RULES
from pcplab.mm.version import KernelVersion


class Watermarks:
    """A zone's watermarks in pages; ``boost`` is added to each as the kernel does."""

    __slots__ = ("min", "low", "high", "promo", "boost")

    def __init__(self, min: int, low: int, high: int, promo: int = 0, boost: int = 0) -> None:  # noqa: A002
        self.min = min
        self.low = low
        self.high = high
        self.promo = promo
        self.boost = boost

    def __repr__(self) -> str:
        return f"Watermarks(min={self.min}, low={self.low}, high={self.high})"


class PcpLists:
    """One set of pcp lists: ``count`` base pages on ``lists[pindex]`` (head = left end)."""

    __slots__ = ("count", "lists", "name")

    #: who may touch ``count``/``lists`` (pcplab.mm.owners; checked at each ``PcpEnter``)
    OWNER_RULES = PCP_LISTS_RULES

    def __init__(self, nr_lists: int, name: str = "") -> None:
        self.count = 0
        self.lists: list[deque[int]] = [deque() for _ in range(nr_lists)]
        self.name = name

    def total(self, pindex_order: tuple[int, ...]) -> int:
        """Recount base pages from the lists (``pindex_order``: ``version.pindex_order``)."""
        return sum(len(lst) << pindex_order[p] for p, lst in enumerate(self.lists))

    def __repr__(self) -> str:
        return f"PcpLists({self.name!r}, count={self.count})"


class PerCpuPages:
    """``struct per_cpu_pages`` of one (zone, cpu) (kernel-pcp.md §3.2).

    ``count`` is ``lp.count`` (the live set).  ``free_factor`` is used by ≤ 6.6,
    ``free_count``/``alloc_factor``/``flags``/``high_min``/``high_max`` by 6.7+; the unused ones
    stay 0 (≤ 6.6 sets ``high_min = high_max = high``).
    """

    __slots__ = (
        "cpu",
        "high",
        "batch",
        "free_factor",
        "high_min",
        "high_max",
        "free_count",
        "alloc_factor",
        "flags",
        "expire",
        "lp",
        "drain",
        "name",
        "nr_lists",
        "autotune",
    )

    #: who may write ``lp``, ``batch``/``high``, ``free_factor`` (pcplab.mm.owners)
    OWNER_RULES = PAGESET_RULES

    def __init__(
        self,
        cpu: int,
        nr_lists: int,
        high: int = 0,
        batch: int = 1,
        high_min: int | None = None,
        high_max: int | None = None,
        name: str = "",
        autotune: bool = False,
    ) -> None:
        self.cpu = cpu
        self.autotune = autotune
        self.high = high
        self.batch = batch
        self.free_factor = 0
        self.high_min = high if high_min is None else high_min
        self.high_max = high if high_max is None else high_max
        self.free_count = 0
        self.alloc_factor = 0
        self.flags = 0
        self.expire = 0
        self.name = name or f"cpu{cpu}"
        self.nr_lists = nr_lists
        self.lp = PcpLists(nr_lists, f"{self.name}/lp")
        self.drain: PcpLists | None = None

    @property
    def count(self) -> int:
        return self.lp.count

    def add_spare_lists(self) -> PcpLists:
        """Create the second list set (``drain``) for designs that swap sets (seed RCU)."""
        if self.drain is None:
            self.drain = PcpLists(self.nr_lists, f"{self.name}/spare")
        return self.drain

    def __repr__(self) -> str:
        return f"PerCpuPages({self.name!r}, count={self.lp.count}, high={self.high}, batch={self.batch})"


class Zone:
    """``struct zone`` as the model needs it.

    Managed pages are the pfns ``[managed_start, managed_end)``.  ASSUMPTION: the pages a zone
    spans but does not manage (holes, memmap, reserved) sit at the end of its span; they are never
    free, so the position only matters for buddy alignment.
    """

    __slots__ = (
        "node",
        "idx",
        "name",
        "start_pfn",
        "spanned",
        "present",
        "managed",
        "managed_start",
        "managed_end",
        "watermarks",
        "version",
        "per_cpu_pageset",
        "free_area",
        "buddy_info",
        "pageblock_mt",
        "pageblock_order",
        "max_order",
        "pageblock_base",
        "reclaim_active",
        "below_high",
        "nr_free_pages",
        "nr_isolate_pageblock",
        "allocated",
        "pageset_batch",
        "pageset_high_min",
        "pageset_high_max",
    )

    #: who may touch the buddy free areas, NR_FREE_PAGES and pageblock types (pcplab.mm.owners)
    OWNER_RULES = ZONE_RULES

    def __init__(
        self,
        node: int,
        zone_name: str,
        start_pfn: int,
        spanned: int,
        present: int,
        managed: int,
        version: KernelVersion,
        nr_cpus: int,
        watermarks: Watermarks | None = None,
        batch: int = 1,
        high: int = 0,
        high_min: int | None = None,
        high_max: int | None = None,
        pageblock_order: int | None = None,
        max_order: int = 10,
    ) -> None:
        self.node = node
        self.idx = ZONE_NAMES.index(zone_name) if zone_name in ZONE_NAMES else len(ZONE_NAMES)
        self.name = f"Node {node} {zone_name}"
        self.start_pfn = start_pfn
        self.spanned = spanned
        self.present = present
        self.managed = managed
        self.managed_start = start_pfn
        self.managed_end = start_pfn + managed
        self.watermarks = watermarks if watermarks is not None else Watermarks(0, 0, 0)
        self.version = version
        self.pageblock_order = version.thp_order if pageblock_order is None else pageblock_order
        self.max_order = max_order
        self.free_area: list[list[dict[int, None]]] = [
            [{} for _ in range(MIGRATE_TYPES)] for _ in range(max_order + 1)
        ]
        self.buddy_info: dict[int, int] = {}
        pbo = self.pageblock_order
        self.pageblock_base = start_pfn >> pbo
        last = (start_pfn + max(spanned, 1) - 1) >> pbo
        self.pageblock_mt = bytearray([MIGRATE_MOVABLE]) * (last - self.pageblock_base + 1)
        self.reclaim_active = False
        self.below_high = False
        self.nr_free_pages = 0
        self.nr_isolate_pageblock = 0
        self.allocated: dict[int, int] = {}
        self.pageset_batch = batch
        self.pageset_high_min = high if high_min is None else high_min
        self.pageset_high_max = high if high_max is None else high_max
        nr_lists = version.nr_pcp_lists
        self.per_cpu_pageset = [
            PerCpuPages(
                cpu,
                nr_lists,
                high,
                batch,
                high_min,
                high_max,
                f"{self.name} cpu{cpu}",
                version.autotune,
            )
            for cpu in range(nr_cpus)
        ]

    def pcp(self, cpu: int) -> PerCpuPages:
        return self.per_cpu_pageset[cpu]

    def __repr__(self) -> str:
        return f"Zone({self.name!r}, managed={self.managed}, free={self.nr_free_pages})"
