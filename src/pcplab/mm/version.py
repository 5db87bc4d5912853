"""Kernel versions the model knows, and what changes between them.

| version | pcp lists (THP on) | THP lists | bulk free | sizing | free_high |
|---|---|---|---|---|---|
| 5.17 | 15 = 3 * (4 + 1) | one per pcp migratetype | round-robin, growing quota | fixed high | no |
| 6.0 - 6.6 | 13 = 12 + 1 | one shared | single pass from the freed list | fixed high | yes |
| 6.7 - 6.12 | 13 | one shared | single pass | auto-tuned high | yes (flags) |
| 6.13+ | 14 = 12 + 2 | MOVABLE / the others | single pass | auto-tuned high | yes (flags) |

Sources: kernel-pcp.md §3.1 and §3.3 ([SRC✓ v5.17 page_alloc.c:662-700], [SRC v6.0.1], [SRC v6.13.7];
6.0 shared THP list: commit 5d0a661d808f; 6.13 two THP lists: yangge 2024, lore
``1717492460-19457-1-git-send-email-yangge1116@126.com``), §14 (6.7 auto-tuning, Huang Ying,
``<20231016053002.756205-*>``).

ASSUMPTION: 7.x kernels behave as 6.13+ (the knowledge base has no 7.x tree).
"""

from __future__ import annotations

import re

from pcplab.errors import PcplabError
from pcplab.mm.constants import (
    MIGRATE_MOVABLE,
    MIGRATE_PCPTYPES,
    PAGE_ALLOC_COSTLY_ORDER,
    PAGEBLOCK_ORDER,
)

_VERSION_RE = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][\w.+-]*)?\s*$")


class KernelVersion:
    """One kernel version's pcp rules.  Build with :func:`parse_kernel`.

    ``thp`` (CONFIG_TRANSPARENT_HUGEPAGE) and ``thp_order`` (= pageblock order) come from the
    machine; :meth:`configured` returns a copy for another machine.  All predicates are plain
    attributes computed once (the fast paths read them on every call).
    """

    __slots__ = (
        "major",
        "minor",
        "thp",
        "thp_order",
        "name",
        "autotune",
        "free_high",
        "bulk_round_robin",
        "bulk_detach_unlocked",
        "pcp_buddy_fallback",
        "pcp_trylock",
        "pcp_irqs_enabled",
        "chunked_drain",
        "nr_thp_lists",
        "nr_pcp_lists",
        "pindex_table",
        "pindex_order",
        "pcp_orders",
    )

    def __init__(
        self, major: int, minor: int, thp: bool = True, thp_order: int = PAGEBLOCK_ORDER
    ) -> None:
        self.major = major
        self.minor = minor
        self.thp = thp
        self.thp_order = thp_order
        self.name = f"{major}.{minor}"
        v = (major, minor)
        #: 6.7+: pcp ``high`` tuned between ``high_min`` and ``high_max`` [§14]
        self.autotune = v >= (6, 7)
        #: 6.0+: a high-order free during a free-only run drains the pcp [§6.2]
        self.free_high = v >= (6, 0)
        #: 5.17: ``free_pcppages_bulk`` round-robin with a growing per-list quota [§7.1]
        self.bulk_round_robin = v < (6, 0)
        #: 5.17: ``free_pcppages_bulk`` takes the pages off the pcp lists and lowers
        #: ``pcp->count`` *before* ``spin_lock(&zone->lock)``; only the buddy frees run under it.
        #: 6.0+ does both in one pass under the lock [§7.1, §7.2; SRC v5.17-rc5
        #: mm/page_alloc.c free_pcppages_bulk; SRC v6.0.1 mm/page_alloc.c free_pcppages_bulk]
        self.bulk_detach_unlocked = v < (6, 0)
        #: 6.0+: a pcp allocation that finds nothing (or fails the trylock) uses buddy [§5.2]
        self.pcp_buddy_fallback = v >= (6, 0)
        #: 6.0+: the fast paths trylock ``pcp->lock`` [§3.4]
        self.pcp_trylock = v >= (6, 0)
        #: 6.2+: the pcp trylock leaves IRQs on [§13]
        self.pcp_irqs_enabled = v >= (6, 2)
        #: 6.10+: ``drain_pages_zone`` frees at most ``batch << 5`` pages per lock hold [§15]
        self.chunked_drain = v >= (6, 10)
        if not thp:
            nr_thp = 0
        elif v < (6, 0):
            nr_thp = MIGRATE_PCPTYPES  # one THP list per migratetype
        elif v >= (6, 13):
            nr_thp = 2  # MOVABLE apart from the others
        else:
            nr_thp = 1  # one shared THP list
        self.nr_thp_lists = nr_thp
        low = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1)
        self.nr_pcp_lists = low + nr_thp
        rows = []
        for order in range(max(thp_order, PAGE_ALLOC_COSTLY_ORDER) + 1):
            rows.append(tuple(self._pindex(mt, order, nr_thp) for mt in range(MIGRATE_PCPTYPES)))
        #: ``pindex_table[order][mt]``: list index, -1 where the order has no pcp list
        self.pindex_table = tuple(rows)
        #: ``pindex_order[pindex]``: the order of the blocks on that list
        self.pindex_order = tuple(
            p // MIGRATE_PCPTYPES if p < low else thp_order for p in range(self.nr_pcp_lists)
        )
        #: ``pcp_orders[order]``: True if the order uses pcp lists (index up to thp_order)
        self.pcp_orders = tuple(
            o <= PAGE_ALLOC_COSTLY_ORDER or (thp and o == thp_order) for o in range(len(rows))
        )

    def _key(self) -> tuple[int, int, bool, int]:
        return (self.major, self.minor, self.thp, self.thp_order)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KernelVersion) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"KernelVersion({self.name!r}, thp={self.thp}, thp_order={self.thp_order})"

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "pcp_orders"):
            raise AttributeError("KernelVersion is immutable; use configured()")
        object.__setattr__(self, name, value)

    def at_least(self, major: int, minor: int) -> bool:
        return (self.major, self.minor) >= (major, minor)

    def _pindex(self, mt: int, order: int, nr_thp: int) -> int:
        if order <= PAGE_ALLOC_COSTLY_ORDER:
            return MIGRATE_PCPTYPES * order + mt
        if not nr_thp or order != self.thp_order:
            return -1
        base = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1)
        if nr_thp == MIGRATE_PCPTYPES:
            return base + mt
        if nr_thp == 2:
            return base + (1 if mt == MIGRATE_MOVABLE else 0)
        return base

    def pcp_allowed_order(self, order: int) -> bool:
        """Orders 0..3, plus the THP order when THP is configured."""
        po = self.pcp_orders
        return order < len(po) and po[order]

    def order_to_pindex(self, mt: int, order: int) -> int:
        """pcp list index for (migratetype, order); ValueError if the order has no pcp list."""
        if not 0 <= mt < MIGRATE_PCPTYPES:
            raise ValueError(f"migratetype {mt} has no pcp list")
        if order < len(self.pindex_table):
            p = self.pindex_table[order][mt]
            if p >= 0:
                return p
        raise ValueError(f"order {order} does not use pcp lists in {self.name}")

    def pindex_to_order(self, pindex: int) -> int:
        return self.pindex_order[pindex]

    def configured(self, *, thp: bool | None = None, thp_order: int | None = None) -> KernelVersion:
        """This version for a machine with another THP setting or pageblock order."""
        return KernelVersion(
            self.major,
            self.minor,
            self.thp if thp is None else thp,
            self.thp_order if thp_order is None else thp_order,
        )


def parse_kernel(text: str | KernelVersion) -> KernelVersion:
    """``"5.17"``, ``"6.0"``, ``"6.7"``, any ``"6.N"`` (also ``"v6.8.1"``, ``"6.18-rc3"``) or ``"7.N"``.

    6.1-6.6 behave as 6.0 for sizing; 6.7+ auto-tunes; 6.13+ has 14 lists.
    """
    if isinstance(text, KernelVersion):
        return text
    m = _VERSION_RE.match(str(text))
    if m is None:
        raise PcplabError(f"unknown kernel version {text!r}; use 5.17, 6.0, 6.7 or another 6.N")
    major, minor = int(m.group(1)), int(m.group(2))
    if (major, minor) != (5, 17) and major not in (6, 7):
        raise PcplabError(
            f"kernel version {text!r} is not modelled; use 5.17, 6.0, 6.7 or another 6.N"
        )
    return KernelVersion(major=major, minor=minor)
