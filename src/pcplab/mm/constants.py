"""Constants of the page allocator model, named as in the kernel.

Sources: kernel-pcp.md §3.1 ([SRC v5.17 ``include/linux/mmzone.h``:40-67, 346-354]).
``MAX_ORDER`` follows the 6.4+ meaning (the largest order, inclusive): orders 0..10 exist, i.e.
the 5.17 kernel's ``MAX_ORDER = 11`` exclusive bound.
"""

from __future__ import annotations

MIGRATE_UNMOVABLE = 0
MIGRATE_MOVABLE = 1
MIGRATE_RECLAIMABLE = 2
MIGRATE_PCPTYPES = 3  # the types that have pcp lists
MIGRATE_HIGHATOMIC = 3
MIGRATE_CMA = 4
MIGRATE_ISOLATE = 5
MIGRATE_TYPES = 6

MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")

MAX_ORDER = 10  # largest buddy order, inclusive
NR_ORDERS = MAX_ORDER + 1
PAGE_ALLOC_COSTLY_ORDER = 3
PAGEBLOCK_ORDER = 9

ZONE_NAMES = ("DMA", "DMA32", "Normal", "HighMem", "Movable", "Device")

# CONFIG_PCP_BATCH_SCALE_MAX (6.7+), default 5, range 0..6 [SRC✓ v6.8 mm/Kconfig:684-693]
PCP_BATCH_SCALE_MAX = 5

# per_cpu_pages.flags bits (6.7+) [SRC v6.8 include/linux/mmzone.h]
PCPF_PREV_FREE_HIGH_ORDER = 1 << 0
PCPF_FREE_HIGH_BATCH = 1 << 1

# Page-stealing fallback order per start type [SRC v5.17 mm/page_alloc.c ``fallbacks[]``]:
# the kernel tries these types, in this order, when the start type's lists are empty.
FALLBACKS = (
    (MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE),  # UNMOVABLE
    (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE),  # MOVABLE
    (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE),  # RECLAIMABLE
)
