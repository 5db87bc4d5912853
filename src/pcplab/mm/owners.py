"""Owner rules: which protection the kernel uses for each shared field of the allocator.

An :class:`OwnerRule` is pure data, declared as ``OWNER_RULES`` on the class that models the
object (:class:`~pcplab.mm.state.Zone`, :class:`~pcplab.mm.state.PcpLists`,
:class:`~pcplab.mm.state.PerCpuPages`), the way the kernel writes ``lockdep_assert_held()`` or
``__must_hold()`` beside the code; :data:`GLOBAL_RULES` covers the kernel-global objects the
drain uses.  The checker (:mod:`pcplab.kernel.ownership`) evaluates a rule whenever a design
announces an access (:class:`pcplab.kernel.ops.Access`, ``Load``, ``Store``, ``PcpEnter``); an
access without the protection is a ``lock-not-held`` violation.  ``docs/owner-rules.md`` is the
table of all of them with their kernel sources.

Protection names (a rule lists one or more; any one suffices):

* ``"zone->lock"`` — the ``zone->lock`` of the zone the object belongs to, held by the task;
* ``"pcp"`` — the protection the design gives the pcp lists of the owning CPU: its ``pcp->lock``
  (designs with one), its ``pagesets`` spinlock (attempt [1] with the static key on), otherwise
  IRQs off / ``local_lock`` on the owning CPU itself, or the owner is offline
  (``page_alloc_cpu_dead``), or — the RCU design — a list set that is no longer the live one,
  held by the ``pcpu_drain_mutex`` owner;
* ``"pcpu_drain_mutex"``, ``"pcp_batch_high_lock"`` — that mutex held by the task;
* ``"rcu"`` — inside an RCU read-side section (``rcu_read_lock``, IRQs or preemption off).

``read=None``: reads need no protection (the kernel reads the field racily on purpose); such
reads are still subject to the data-race rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OwnerRule:
    """``write``/``read``: protections (any one suffices) an access needs; ``()``/None: none.
    ``source``: where the kernel states or implies it (tree, file, function).

    ``asserted``: the kernel checks the rule itself (``lockdep_assert_held``,
    ``rcu_dereference_check``), so lockdep reports a broken one on the spot and so does the
    checker; otherwise the protection is a convention only KCSAN would catch, and a broken one is a
    prediction reported when nothing concrete is found (:mod:`pcplab.kernel.checks`)."""

    what: str
    write: tuple[str, ...]
    read: tuple[str, ...] | None
    source: str
    asserted: bool = False
    #: every access that follows the rule holds one lock, so two of them cannot race: the checker
    #: does not track them for data races (an access that breaks the rule is reported anyway)
    exclusive: bool = False

    def needs(self, write: bool) -> tuple[str, ...] | None:
        return self.write if write else self.read


ZONE_RULES: dict[str, OwnerRule] = {
    "free_area": OwnerRule(
        "zone->free_area[] (buddy free lists, PageBuddy/order) and the model's allocated map",
        ("zone->lock",),
        ("zone->lock",),
        "v5.17 & v6.0.1 mm/page_alloc.c: __free_one_page, __rmqueue_smallest, expand are called "
        "only under zone->lock (rmqueue_bulk, free_pcppages_bulk, free_one_page, rmqueue); "
        "__putback_isolated_page: lockdep_assert_held(&zone->lock)",
        asserted=True,
        exclusive=True,
    ),
    "nr_free_pages": OwnerRule(
        "zone NR_FREE_PAGES (vm_stat)",
        ("zone->lock",),
        None,
        "v5.17 mm/page_alloc.c: __mod_zone_freepage_state in __free_one_page / rmqueue_bulk's "
        "__mod_zone_page_state, always inside the zone->lock section that changes free_area; "
        "readers use zone_page_state() (atomic_long_read, a marked read).  ASSUMPTION: the "
        "model's one exact counter stands for the zone counter plus the per-CPU vm_stat_diff, so "
        "it is held to the lock of the free-list change it accounts for (asserted with it)",
        asserted=True,
        exclusive=True,
    ),
    "pageblock_mt": OwnerRule(
        "pageblock migratetypes (pageblock_flags)",
        ("zone->lock",),
        None,
        "v5.17 mm/page_alloc.c: set_pageblock_migratetype callers steal_suitable_fallback, "
        "reserve_highatomic_pageblock, set_migratetype_isolate run under zone->lock; "
        "get_pfnblock_migratetype is read racily (free path, free_unref_page; READ_ONCE in "
        "get_pfnblock_flags_mask)",
        asserted=True,
        exclusive=True,
    ),
}

PCP_LISTS_RULES: dict[str, OwnerRule] = {
    "count": OwnerRule(
        "pcp->count and pcp->lists[] of one CPU",
        ("pcp",),
        None,
        "v5.17 mm/page_alloc.c: every list change under local_lock_irqsave(&pagesets.lock) on "
        "the owning CPU (rmqueue_pcplist, free_unref_page, drain_pages_zone), or for a dead CPU "
        "(page_alloc_cpu_dead); v6.0.1: under pcp->lock (pcp_spin_trylock_irqsave, "
        "drain_pages_zone); __drain_all_pages reads the count without a lock ('The pcp.count "
        "check is racy')",
    ),
}

PAGESET_RULES: dict[str, OwnerRule] = {
    "lp": OwnerRule(
        "pcp->lp (the RCU design's live list-set pointer)",
        ("pcpu_drain_mutex",),
        ("rcu", "pcpu_drain_mutex"),
        "seed <20220208100750.1189808-3-nsaenzju@redhat.com>: rcu_replace_pointer under "
        "pcpu_drain_mutex in __drain_all_pages, rcu_dereference inside the local_lock (IRQ-off) "
        "sections (rcu_dereference_check: lockdep's 'suspicious RCU usage')",
        asserted=True,
    ),
    "batch": OwnerRule(
        "pcp->batch / pcp->high (pageset sizes)",
        ("pcp_batch_high_lock",),
        None,
        "v5.17 mm/page_alloc.c: __zone_set_pageset_high_and_batch WRITE_ONCEs them; callers "
        "zone_pcp_update, zone_pcp_disable/enable, percpu_pagelist_high_fraction_sysctl_handler "
        "hold pcp_batch_high_lock; readers use READ_ONCE",
    ),
    "free_factor": OwnerRule(
        "pcp->free_factor",
        ("pcp",),
        ("pcp",),
        "v5.17 mm/page_alloc.c: nr_pcp_free / rmqueue_pcplist change it inside the pcp section "
        "(checked with the list window, same protection)",
    ),
}

GLOBAL_RULES: dict[str, OwnerRule] = {
    "cpus_with_pcps": OwnerRule(
        "the cpus_with_pcps mask of __drain_all_pages",
        ("pcpu_drain_mutex",),
        ("pcpu_drain_mutex",),
        "v5.17 mm/page_alloc.c __drain_all_pages: 'static cpumask_t cpus_with_pcps', only "
        "touched after mutex_trylock/mutex_lock(&pcpu_drain_mutex)",
    ),
    "pcpu_drain": OwnerRule(
        "the per-CPU struct pcpu_drain work items (drain->zone, INIT_WORK)",
        ("pcpu_drain_mutex",),
        ("pcpu_drain_mutex",),
        "v5.17 mm/page_alloc.c __drain_all_pages: drain->zone = zone; INIT_WORK(); "
        "queue_work_on() under pcpu_drain_mutex",
    ),
}

#: lock classes the kernel also takes from hard-IRQ context, so lockdep has seen them
#: IN-HARDIRQ: every acquisition with IRQs enabled is an inconsistent lock state
IRQ_CONTEXT_LOCKS: dict[str, str] = {
    "zone->lock": "pages may be freed from hard-IRQ context (free_unref_page -> "
    "free_pcppages_bulk, free_one_page); v6.0.1 mm/page_alloc.c drain_zone_pages: "
    "'free_pcppages_bulk expects IRQs disabled for zone->lock'",
}

__all__ = [
    "GLOBAL_RULES",
    "IRQ_CONTEXT_LOCKS",
    "OwnerRule",
    "PAGESET_RULES",
    "PCP_LISTS_RULES",
    "ZONE_RULES",
]
