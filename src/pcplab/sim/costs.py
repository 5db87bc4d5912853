"""The simulator's cost model: what each op and each unit of work costs on a given machine.

Physics, not numbers: CPU work is expressed in **cycles** (global constants below, each with its
source) and converted with the machine's clock; cacheline transfers are priced by where the line
was last written (same core, same LLC domain, same node, same socket, other socket: the machine
profile's facts); ``clear_page`` runs at the core's cache store rate (profile fact
``clear_bytes_per_cycle``) and the node's memory bandwidth bounds the write-back of all its
clearers together; lock hand-offs cost a transfer of the lock word.
The constants are calibrated **once, globally** — no per-machine or per-row factors.

Machine facts come from the profile (``pcplab.machines``): ``clock_ghz``, ``mem_bw_node_gbs``,
``cacheline_local_ns`` (same LLC), ``cacheline_same_socket_ns`` (optional), ``cacheline_remote_socket_ns``,
``ipi_ns``, ``context_switch_ns``, ``smt_per_core``, ``llc_mb`` / ``llc_domain_mb`` (optional),
``clear_bytes_per_cycle`` (optional).

Work kinds (``pcplab.kernel.ops.Work.kind``) priced here: :data:`WORK_KINDS`.

Per-operation prices per architecture (:class:`ArchOps`, :data:`ARCH_OPS`): the uncontended lock
word RMW and release store, ``local_irq_save``/``restore``, an L1 and an L2 hit.  Lines of a
design's ``per_cpu_pages`` touched per fast-path call are counted from the design's struct layout
(:meth:`CostModel.pageset_prices`) and priced by whether they stay in L1 across the workload's
footprint between two calls (:attr:`CostModel.footprint_bytes`).  The buddy path is priced on
its own (:data:`BUDDY_CALL_CYCLES`, :data:`BUDDY_ZONE_LINES`, :data:`RMQUEUE_PAGE_CYCLES`).
The kernel configuration (:class:`KernelConfig`: ``CONFIG_DEBUG_PREEMPT``, ``PREEMPT_RT``) is
part of the cost model and recorded in every result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pcplab.errors import PcplabError
from pcplab.kernel import ops

# --- global constants (cycles unless stated), with provenance --------------------------------

#: order-0 allocation from a non-empty pcp list.  Jesper Brouer measured 194 cycles for an
#: alloc+free pair (Xeon E5-1650 v4, <20210330205154.1fe1e479@carbon>); Mel's pagealloc split at
#: batch 64 is alloc 126 / free 44 (<20170109163518.6001-5-mgorman@techsingularity.net>).
#: kernel-pcp.md §17.  We keep the pair at ~195 cycles: alloc 125, free 70.
PCP_ALLOC_CYCLES = 125
PCP_FREE_CYCLES = 70
#: per page moved between buddy and pcp under ``zone->lock``: 2.0-3.5 µs per 63 pages in
#: rmqueue_bulk and 2.2-3.3 µs per 63 pages in free_pcppages_bulk on 2.x-3.x GHz Intel parts
#: (Huang Ying, <20231016053002.756205-5-ying.huang@intel.com>, kernel-pcp.md §17) -> ~110
#: cycles per page (2.75 µs / 63 pages at 2.5 GHz).
RMQUEUE_BULK_PAGE_CYCLES = 110
FREE_BULK_PAGE_CYCLES = 110
#: 5.17's two-pass bulk free (kernel-pcp.md §7.1; SRC v5.17-rc5 mm/page_alloc.c
#: free_pcppages_bulk): the first pass, without ``zone->lock``, unlinks each page from its pcp
#: list, encodes its order and prefetches its buddy for the first ``pcp->batch`` pages; the
#: second, under the lock, does ``__free_one_page`` per page.  Aaron Lu's analysis of the free
#: path (<https://lkml.indiana.edu/hypermail/linux/kernel/1802.0/02579.html>, Feb 2018) found the
#: time under ``zone->lock`` to be mostly struct-page cache misses, which the first pass's unlink
#: and prefetch take out of the lock.  ASSUMPTION: the two passes together cost what the single
#: pass costs (:data:`FREE_BULK_PAGE_CYCLES`, measured on 6.x), the first being one list operation
#: per page (:data:`PCP_LIST_OP_CYCLES`); so a 5.17 bulk free holds ``zone->lock``
#: 110 - 20 = 90 cycles per page instead of 110.
#: The buddy path on its own (``rmqueue_buddy`` / ``free_one_page``, 5.17 mm/page_alloc.c), priced
#: as the sum of its parts instead of "a refill page plus a pcp allocation":
#:
#: * ``__rmqueue`` per page (the free-list search from the requested order up, ``expand`` of a
#:   larger block, the struct-page lines): :data:`RMQUEUE_PAGE_CYCLES`, the same per-page work
#:   ``rmqueue_bulk`` does under the lock (Huang Ying's hold times above); on the free side
#:   ``__free_one_page``'s merge search, :data:`FREE_ONE_PAGE_CYCLES` (= the bulk free per page).
#: * the per-call work around it that the pcp path also has (``prep_new_page``,
#:   ``zone_statistics``, ``check_new_pages``; ``free_pages_prepare`` on free):
#:   :data:`BUDDY_CALL_CYCLES` / :data:`BUDDY_FREE_CALL_CYCLES` = the measured pcp alloc / free
#:   minus the list pop / push itself (ASSUMPTION: the pop or push is ~20 cycles of the
#:   measured 125 / 70: two pointer updates and the count, with the pageset line hot).
#: * the zone's lines once per call: the ``free_area[order]`` list heads and ``nr_free``, the
#:   zone's counters (``NR_FREE_PAGES`` delta) and the ``zone->lock`` word's line,
#:   :data:`BUDDY_ZONE_LINES` = 3, each priced by :meth:`CostModel.line_cycles` (in L1 or not,
#:   given the workload's footprint).  ``rmqueue_bulk``/``free_pcppages_bulk`` touch the same
#:   lines once per call (per batch), which is where the pcp path saves.
#: * ``spin_lock_irqsave(&zone->lock)`` itself (flags save, ``cli``, the RMW; the release store
#:   and ``sti``) is priced by the engine from :class:`ArchOps`, with the lock word's transfer
#:   when another CPU held it last (contended).
RMQUEUE_PAGE_CYCLES = RMQUEUE_BULK_PAGE_CYCLES
FREE_ONE_PAGE_CYCLES = FREE_BULK_PAGE_CYCLES
PCP_LIST_OP_CYCLES = 20
BUDDY_CALL_CYCLES = PCP_ALLOC_CYCLES - PCP_LIST_OP_CYCLES
BUDDY_FREE_CALL_CYCLES = PCP_FREE_CYCLES - PCP_LIST_OP_CYCLES
BUDDY_ZONE_LINES = 3
#: kept for readers of the old name: the buddy work of one order-0 block besides lock and lines
BUDDY_PAGE_CYCLES = BUDDY_CALL_CYCLES + RMQUEUE_PAGE_CYCLES
#: fallback for machines without the profile fact ``clear_bytes_per_cycle`` (generic test
#: machines): bytes per cycle one core's ``clear_page`` stores.  13.75 GB/s was measured with
#: 4 KiB chunks on AMD Milan (Ankur Arora, <20250902080816.3715913-15-ankur.a.arora@oracle.com>,
#: kernel-pcp.md §17), ~4 bytes per cycle at ~3.4 GHz; that is a memset streaming through memory,
#: not the cache-speed clear of one page inside a fault, which the profiles give per architecture
#: (x86 ``rep stosb``, POWER ``dcbz``, arm64 ``dc zva``: whole lines claimed without a read).
CLEAR_BYTES_PER_CYCLE = 4.0
#: ASSUMPTION: fraction of a node's sustainable memory bandwidth (profile ``mem_bw_node_gbs``) the
#: write-back of zeroed lines gets when many CPUs fault at once (DRAM read/write turnarounds, the
#: page-table, struct-page and LRU traffic of each fault).  One global figure, chosen in a small
#: grid together with FAULT_HANDLE_CYCLES against the seed's elapsed scaling curves of all three
#: machines at once (docs/fidelity.md lists the grid); not per machine.  The fit is set by
#: POWER9's bandwidth-bound plateau relative to its single-thread time, which the model has ~1.8x
#: too slow, so the figure is that much too low too (the seed's plateau is ~107 GB/s on one node,
#: ~0.84 of the profile's figure).
CLEAR_NODE_BW_EFFICIENCY = 0.425
#: anonymous fault path besides the allocation, clear_page, LRU and mmap_lock: exception entry and
#: return, find_vma, page-table walk, memcg charge, rmap, set_pte, counters.
#: Mel's pft at 1 thread did ~1.13 µs per fault including zeroing on a 1-socket machine
#: (<20220613125622.18628-6-mgorman@techsingularity.net>, kernel-pcp.md §17), i.e. ~2650 cycles
#: for this part at ~3.5 GHz.  The seed's x86 machines were much slower per fault: EPYC 7742
#: system-1 58.52 s and Xeon E5-2640 v3 11.10 s (kernel-pcp.md §10.4) over the pages of
#: MemTotal/5 of their profiles are 4.4 µs and 3.4 µs per fault, ~9000 cycles.
#: ASSUMPTION: one global figure for the 5.17 distribution kernels of the seed (memcg accounting,
#: page-table isolation and speculation mitigations on every exception entry/exit): 8700 cycles
#: with the entry/exit, which with clear_page and the rest gives ~9000 cycles per fault on x86
#: (grid in docs/fidelity.md).  With Mel's figure
#: instead, the scaling curves of docs/fidelity.md miss by far more (contention relative to the
#: private fault work is then ~3x too strong).
FAULT_ENTRY_EXIT_CYCLES = 700
FAULT_HANDLE_CYCLES = 8000
#: per page added to the LRU in ``__pagevec_lru_add`` under the node's ``lru_lock``.
#: ASSUMPTION: about one bulk-page move (list insert + flag and counter updates).
LRU_ADD_PAGE_CYCLES = 110
#: PAGEVEC_SIZE in 5.17 (include/linux/pagevec.h): pages batched per ``lru_lock`` hold.
PAGEVEC_SIZE = 15
#: pft's user-space loop per page (one store plus loop overhead, TLB refill after the fault).
#: ASSUMPTION.
USER_PAGE_CYCLES = 150
#: an atomic RMW on a line this CPU owns; a plain load/store hit.  ASSUMPTION (typical x86 figures)
ATOMIC_CYCLES = 20
HIT_CYCLES = 2
#: preempt-count / migrate-disable / RCU-nesting manipulation (a per-CPU or per-task counter
#: increment with a compiler barrier).  ASSUMPTION.  IRQ flags are per architecture
#: (:class:`ArchOps`).
FLAG_CYCLES = 3
#: CONFIG_DEBUG_PREEMPT (5.17 lib/smp_processor_id.c ``check_preemption_disabled``, reached from
#: every ``smp_processor_id()`` and, through ``my_cpu_offset`` (include/asm-generic/percpu.h),
#: every ``this_cpu_ptr()``): an out-of-line call that returns at once when the preempt count is
#: non-zero or IRQs are off.  ASSUMPTION: ~10 cycles (call, two per-CPU loads, tests, return).
#: Charged once per pcp section (the ``this_cpu_ptr(zone->per_cpu_pageset)``); the fault path's
#: other per-CPU accesses are inside FAULT_HANDLE_CYCLES, calibrated on kernels without the
#: option (ASSUMPTION: their extra checks are left out, which makes a debug kernel's baseline a
#: little too fast and a design's relative cost a little too large).
DEBUG_PREEMPT_CHECK_CYCLES = 10
#: The same check in *preemptible* code (preempt count 0, IRQs on, not migrate-disabled, not a
#: per-CPU kthread): it falls through every test, disables preemption and calls
#: ``printk_ratelimit()`` -> ``___ratelimit()`` (5.17 lib/ratelimit.c), which
#: ``raw_spin_trylock_irqsave``\ s the ONE global ``printk_ratelimit_state`` and, once the burst
#: of 10 messages per 5 s is used, increments its ``missed`` count under that lock.  So every such
#: call writes one cache line shared by all CPUs.  Attempt [2] computes ``this_cpu_ptr()`` before
#: its ``spin_lock_irqsave`` (Nicolas Saenz Julienne: it should have been ``raw_cpu_ptr()``,
#: kernel-pcp.md §10.6), so every [2] fast-path call takes this path on a DEBUG_PREEMPT kernel.
#: Local part besides the lock RMW/release and the IRQ flags (priced from :class:`ArchOps`):
#: the five tests, preempt disable/enable, the jiffies read and the ``missed`` increment.
#: ASSUMPTION: ~25 cycles.  The shared line's transfer is priced by the engine like any line.
#: Not modelled: the 10 warnings per 5 s themselves (``printk`` + ``dump_stack``; their console
#: output would cost far more on a serial console and is not in the model).
DEBUG_PREEMPT_SLOW_CYCLES = 25
#: transfer between SMT siblings (shared L1/L2).  ASSUMPTION.
SMT_SIBLING_TRANSFER_NS = 5
#: throughput of one core when k SMT threads are busy, relative to one thread alone.
#: ASSUMPTION: +10 % for two threads (kernel code dominated by memory stalls and serial
#: dependencies), +25 % for four (POWER9 SMT4).  Each thread runs at gain/k of its solo speed.
SMT_CORE_GAIN = {1: 1.0, 2: 1.10, 3: 1.18, 4: 1.25}
#: synchronize_rcu(): mean ~10 ms on an idle 32-CPU HZ=1000 system (8.0-10.2 ms per-run means;
#: Joel Fernandes <20260101163417.1065705-7-joelagnelf@nvidia.com>); median 37 ms under load
#: (Uladzislau Rezki, same thread).  kernel-pcp.md §17.  Lognormal around the idle figure.
GP_NORMAL_NS = 10_000_000
GP_NORMAL_SIGMA = 0.3
#: synchronize_rcu_expedited(): median 70 µs with an RT kthread_worker, 98 µs from a SCHED_OTHER
#: workqueue (Kalesh Singh, <20220419002014.3951121-2-paulmck@kernel.org>).  We use the RT-worker
#: median plus the IPIs the engine charges.
GP_EXPEDITED_NS = 70_000
GP_EXPEDITED_SIGMA = 0.5
#: handler of one expedited-GP IPI on the target (rcu_exp_handler) and of a reschedule IPI.
#: ASSUMPTION: ~1 µs each on the interrupted CPU (entry, handler, exit).
IPI_HANDLER_NS = 1000
#: queue_work_on()/wake_up_process() on the queuing CPU.  ASSUMPTION: ~600 ns (enqueue +
#: try_to_wake_up + sending the IPI).
QUEUE_WORK_NS = 600
#: scheduler tick (CONFIG_HZ=1000, distribution kernels use 250-1000).  Tick preemption of a
#: SCHED_OTHER task happens at tick boundaries.
TICK_NS = 1_000_000
#: RT throttling (Documentation/scheduler/sched-rt-group.rst): SCHED_FIFO/RR tasks of a CPU may
#: use ``sched_rt_runtime_us`` = 950,000 µs of every ``sched_rt_period_us`` = 1,000,000 µs; the
#: rest goes to SCHED_OTHER tasks (a kworker behind a FIFO busy loop waits for it).  The kernel
#: defaults; ``sched_rt_runtime_us = -1`` (no throttling) is ``Simulator(rt_runtime_ns=None)``.
RT_PERIOD_NS = 1_000_000_000
RT_RUNTIME_NS = 950_000_000
#: racy per-CPU ``count`` read while building the drain mask: one remote line read per CPU/zone.
DRAIN_MASK_CHECK_CYCLES = 30
#: the seed design's pointer swap per (cpu, zone): rcu_replace_pointer on a remote line.
PCP_SWAP_CYCLES = 40
#: default per-op multiplicative jitter (lognormal sigma).  ASSUMPTION: ~2 %.
DEFAULT_NOISE = 0.02

WORK_KINDS = (
    *ops.WORK_KINDS,  # what designs announce
    "clear_page",
    "fault_entry",
    "fault_exit",
    "fault_handle",
    "lru_add",
    "user_page",
    "cycles",
    "ns",
)

_PER_UNIT_CYCLES = {
    "pcp_alloc": PCP_ALLOC_CYCLES,
    "pcp_free": PCP_FREE_CYCLES,
    "rmqueue_bulk": RMQUEUE_BULK_PAGE_CYCLES,
    "free_pcppages_bulk": FREE_BULK_PAGE_CYCLES,
    "free_pcppages_detach": PCP_LIST_OP_CYCLES,
    "free_pcppages_merge": FREE_BULK_PAGE_CYCLES - PCP_LIST_OP_CYCLES,
    "buddy_alloc": RMQUEUE_PAGE_CYCLES,
    "buddy_free": FREE_ONE_PAGE_CYCLES,
    "drain_mask_check": DRAIN_MASK_CHECK_CYCLES,
    "pcp_swap": PCP_SWAP_CYCLES,
    "fault_entry": FAULT_ENTRY_EXIT_CYCLES // 2,
    "fault_exit": FAULT_ENTRY_EXIT_CYCLES - FAULT_ENTRY_EXIT_CYCLES // 2,
    "fault_handle": FAULT_HANDLE_CYCLES,
    "lru_add": LRU_ADD_PAGE_CYCLES,
    "user_page": USER_PAGE_CYCLES,
    "cycles": 1,
}

#: work kinds with a fixed part per call besides the per-unit part (cycles)
_PER_CALL_CYCLES = {
    "buddy_alloc": BUDDY_CALL_CYCLES,
    "buddy_free": BUDDY_FREE_CALL_CYCLES,
}
#: work kinds that touch the zone's free-area, counter and lock lines once per call
_ZONE_LINE_KINDS = frozenset(
    {"buddy_alloc", "buddy_free", "rmqueue_bulk", "free_pcppages_bulk", "free_pcppages_merge"}
)


@dataclass(frozen=True)
class KernelConfig:
    """The kernel configuration options that change what an operation costs.

    ``debug_preempt``: CONFIG_DEBUG_PREEMPT (:data:`DEBUG_PREEMPT_CHECK_CYCLES`,
    :data:`DEBUG_PREEMPT_SLOW_CYCLES`).  ``preempt_rt``: CONFIG_PREEMPT_RT -- spinlocks and local
    locks are sleeping ``rt_mutex``-based locks (the engine's kernel semantics, ``Kernel(
    preempt_rt=True)``), IRQs stay on in their irqsave variants, and each acquire/release is an
    atomic on the lock word (``rt_mutex`` fast paths are ``try_cmpxchg_acquire``/``_release``)
    plus migrate_disable/enable and the implied RCU read-side section."""

    debug_preempt: bool = False
    preempt_rt: bool = False

    #: the names :meth:`parse` accepts
    OPTIONS = ("debug-preempt", "preempt-rt")

    @classmethod
    def parse(cls, text: str | None) -> KernelConfig:
        """``"default"``/empty, or a comma list of :data:`OPTIONS` (``"debug-preempt,preempt-rt"``)."""
        if text is None:
            return cls()
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if parts in ([], ["default"]):
            return cls()
        bad = [p for p in parts if p not in cls.OPTIONS]
        if bad:
            raise PcplabError(
                f"unknown kernel config option(s) {', '.join(bad)}; use default or a comma list "
                f"of {', '.join(cls.OPTIONS)}"
            )
        return cls(debug_preempt="debug-preempt" in parts, preempt_rt="preempt-rt" in parts)

    @property
    def label(self) -> str:
        on = [n for n, v in (("debug-preempt", self.debug_preempt),
                             ("preempt-rt", self.preempt_rt)) if v]
        return ",".join(on) or "default"

    def to_dict(self) -> dict[str, Any]:
        return {"debug_preempt": self.debug_preempt, "preempt_rt": self.preempt_rt,
                "label": self.label}


@dataclass(frozen=True)
class ArchOps:
    """Uncontended per-operation prices of one architecture (cycles), and its L1D size.

    ``lock_acquire``: the RMW that takes a free spinlock word in this core's cache (queued
    spinlock fast path: one cmpxchg-acquire); ``lock_release``: the release store
    (``smp_store_release`` of the locked byte).  ``irq_save``/``irq_restore``: ``local_irq_save``
    (read the flags, mask) and ``local_irq_restore`` (test, unmask).  ``l1_hit``/``l2_hit``: load
    to use of a line in L1 / in L2.  A machine profile may override each with a cost fact of the
    same name (``lock_acquire_cycles``, ``lock_release_cycles``, ``irq_save_cycles``,
    ``irq_restore_cycles``, ``l1_hit_cycles``, ``l2_hit_cycles``, ``l1d_kb``)."""

    lock_acquire: float
    lock_release: float
    irq_save: float
    irq_restore: float
    l1_hit: float
    l2_hit: float
    l1d_bytes: int
    source: str


#: Per architecture.  x86_64: Agner Fog, "Instruction tables" (Skylake-X and Zen rows): ``LOCK
#: CMPXCHG m,r`` ~18-20 cycles on Intel server cores (~8-10 on Zen; ASSUMPTION: one figure per
#: architecture, the Intel one, so the seed's calibration with ATOMIC_CYCLES = 20 is unchanged);
#: the x86 release is a plain ``MOV`` store (TSO) ~1 cycle; ``local_irq_save`` = ``PUSHF; POP;
#: CLI`` and restore = ``TEST; JZ; STI`` (5.17 arch/x86/include/asm/irqflags.h), ~6 and ~4
#: cycles (ASSUMPTION from the same tables: PUSHF ~3 uops, CLI/STI a few cycles each).  L1 4-5
#: and L2 14 cycles load-to-use on Skylake-SP/Cascade Lake (Intel 64 and IA-32 Architectures
#: Optimization Reference Manual, Skylake Server microarchitecture), 32 KiB L1D.
#: arm64: ASSUMPTION -- LSE ``CASA`` (or an ``LDAXR``/``STXR`` loop on cores without LSE such as
#: Cortex-A72) ~24 cycles, ``STLR`` release ~4; ``local_irq_save`` = ``MRS DAIF; MSR DAIFSet``
#: ~8, restore ``MSR DAIF`` ~8 (writes to DAIF are self-synchronising on many cores); L1 4, L2
#: ~11 (Neoverse N1 TRM: L2 9-11 cycles), 32 KiB L1D (N1's 64 KiB is a profile fact).
#: ppc64le: ASSUMPTION -- ``lwarx``/``stwcx.`` plus ``isync`` ~40 cycles, release ``lwsync; stw``
#: ~20; IRQ masking is lazy (``irq_soft_mask`` in the paca, 5.17
#: arch/powerpc/include/asm/hw_irq.h): ~3 cycles each way; POWER9 L1 ~4, L2 ~13, 32 KiB L1D.
ARCH_OPS: dict[str, ArchOps] = {
    "x86_64": ArchOps(ATOMIC_CYCLES, 1, 6, 4, 5, 14, 32 << 10,
                      "Agner Fog instruction tables; Intel optimization manual (Skylake-SP)"),
    "arm64": ArchOps(24, 4, 8, 8, 4, 11, 32 << 10, "ASSUMPTION: typical Armv8.1+ server cores"),
    "ppc64le": ArchOps(40, 20, 3, 3, 4, 13, 32 << 10,
                       "ASSUMPTION: POWER9 larx/stcx + isync, lazy IRQ soft-masking"),
}
#: ASSUMPTION: a line stays in L1 between two calls when the data the CPU touches meanwhile
#: (:attr:`CostModel.footprint_bytes`) fills at most half of L1D -- replacement is not true LRU
#: and a streaming clear spreads over every set.
L1_RESIDENT_FRACTION = 0.5
#: Vanilla's order-0 fast path touches one line of ``per_cpu_pages`` (count at offset 0, the
#: order-0 list heads at 16..63; v5.17 layout, kernel-pcp.md §3.2), and Jesper Brouer's measured
#: pair (PCP_ALLOC_CYCLES) already contains that line as an L1 hit.  The model charges each
#: section's lines explicitly and subtracts this one L1 hit, so the vanilla price is unchanged
#: when its line is in L1.
PCP_MEASURED_LINES = 1


@dataclass(frozen=True)
class PagesetPrices:
    """What one pcp section of a design costs for its ``per_cpu_pages`` lines (ns).

    ``enter_ns``: the lines the section's list access touches (count and the order-0 list
    heads), minus the one L1 hit inside the measured fast path; ``lock_line_ns``: a pcp lock
    that lives on a line the list access does not touch (attempt [2]: ``lock`` after
    ``lists[]`` at offset 256, a fifth line); ``pointer_ns``: the dependent load of a pointer to
    the lists (the seed's ``pcp->lp``) is priced by the engine as a :class:`Load` of one line.
    ``lines``: which line indexes the list access and the lock use."""

    enter_ns: float
    lock_line_ns: float
    lines: tuple[int, ...]
    lock_line: int | None


@dataclass
class CpuPlace:
    """Where a logical CPU sits: node, socket, physical core (global id), LLC domain."""

    node: int
    socket: int
    core: int
    llc: int


@dataclass
class CostModel:
    """Per-machine prices.  Build with :meth:`for_profile` (or :meth:`generic` for tiny test
    machines without a profile)."""

    name: str
    clock_ghz: float
    mem_bw_node_gbs: float
    line_llc_ns: float
    line_node_ns: float
    line_socket_ns: float
    line_remote_ns: float
    ipi_ns: float
    context_switch_ns: float
    smt: int
    places: list[CpuPlace]
    page_size: int = 4096
    sources: dict[str, str] = field(default_factory=dict)
    #: bytes one core's ``clear_page`` stores per cycle into its cache (profile fact
    #: ``clear_bytes_per_cycle``: the store path of the instruction the kernel zeroes with);
    #: :data:`CLEAR_BYTES_PER_CYCLE` for machines without the fact.
    clear_bytes_per_cycle: float = CLEAR_BYTES_PER_CYCLE
    #: ``node_reclaim_distance``: NUMA domains farther apart lose SD_BALANCE_FORK (5.17
    #: ``sd_init``).  RECLAIM_DISTANCE = 30 (include/linux/topology.h) unless the profile has the
    #: fact (AMD Zen sets 32 in ``init_amd_zn``, arch/x86/kernel/cpu/amd.c).
    node_reclaim_distance: int = 30
    #: the architecture's per-operation prices (:data:`ARCH_OPS`, profile overrides applied)
    arch_ops: ArchOps = field(default_factory=lambda: ARCH_OPS["x86_64"])
    #: the kernel configuration the prices are for (recorded in every result)
    kernel_config: KernelConfig = field(default_factory=KernelConfig)
    #: bytes the CPU touches between two pcp sections (set by the workload: pft's clear_page and
    #: fault path); decides whether the pageset's and zone's lines are L1 or L2 hits
    footprint_bytes: int = 0
    #: the design's ``size_statement`` for the kernel as configured (CONFIG_TRANSPARENT_HUGEPAGE
    #: sizes ``lists[]``), when the simulated machine's runtime THP setting differs (pft runs
    #: with base pages on a THP kernel); None: the engine asks the design with its machine
    pageset_size: dict[str, Any] | None = None

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def for_profile(cls, profile: Any) -> CostModel:
        """Prices for a :class:`pcplab.machines.profile.Profile`."""
        def fact(key: str, default: float | None = None) -> float:
            f = profile.costs.get(key)
            if f is None:
                if default is None:
                    raise PcplabError(
                        f"machine {profile.name} lacks cost fact {key!r}; add it to the profile"
                    )
                return default
            return float(f.value)

        local = fact("cacheline_local_ns")
        remote = fact("cacheline_remote_socket_ns")
        same_socket = fact("cacheline_same_socket_ns", local)
        smt = max(1, int(profile.smt))
        nr = profile.nr_cpus
        cores_per_socket = profile.cores_per_socket
        # cores per LLC domain: llc_mb per socket / llc_domain_mb (e.g. Zen 2: 256/16 -> 16
        # domains of 4 cores); without llc_domain_mb the LLC spans the socket.
        llc_mb = fact("llc_mb", 0.0)
        dom_mb = fact("llc_domain_mb", 0.0)
        if llc_mb and dom_mb and llc_mb > dom_mb:
            cores_per_llc = max(1, round(cores_per_socket / round(llc_mb / dom_mb)))
        else:
            cores_per_llc = cores_per_socket
        places = []
        for cpu in range(nr):
            socket, core_in_socket, _thread = profile.cpu_position(cpu)
            core = socket * cores_per_socket + core_in_socket
            places.append(
                CpuPlace(profile.cpu_node(cpu), socket, core, core // cores_per_llc)
            )
        # memory of a node with CPUs on several sockets is not expected; same-socket other node:
        # ASSUMPTION it costs the same-socket transfer.
        sources = {k: v.source for k, v in profile.costs.items()}
        base = ARCH_OPS.get(profile.arch, ARCH_OPS["x86_64"])
        arch_ops = ArchOps(
            lock_acquire=fact("lock_acquire_cycles", base.lock_acquire),
            lock_release=fact("lock_release_cycles", base.lock_release),
            irq_save=fact("irq_save_cycles", base.irq_save),
            irq_restore=fact("irq_restore_cycles", base.irq_restore),
            l1_hit=fact("l1_hit_cycles", base.l1_hit),
            l2_hit=fact("l2_hit_cycles", base.l2_hit),
            l1d_bytes=int(fact("l1d_kb", base.l1d_bytes / 1024) * 1024),
            source=base.source,
        )
        return cls(
            name=profile.name,
            clock_ghz=fact("clock_ghz"),
            mem_bw_node_gbs=fact("mem_bw_node_gbs"),
            line_llc_ns=local,
            line_node_ns=same_socket,
            line_socket_ns=same_socket,
            line_remote_ns=remote,
            ipi_ns=fact("ipi_ns"),
            context_switch_ns=fact("context_switch_ns"),
            smt=smt,
            places=places,
            page_size=profile.page_size,
            sources=sources,
            node_reclaim_distance=int(fact("node_reclaim_distance", 30.0)),
            clear_bytes_per_cycle=fact("clear_bytes_per_cycle", CLEAR_BYTES_PER_CYCLE),
            arch_ops=arch_ops,
        )

    @classmethod
    def generic(cls, machine: Any, clock_ghz: float = 2.5) -> CostModel:
        """ASSUMPTION-only prices for a bare :class:`pcplab.mm.Machine` (tests, tiny machines):
        one socket per node, one core per CPU, one LLC per node."""
        places = [CpuPlace(machine.cpu_node(c), machine.cpu_node(c), c, machine.cpu_node(c))
                  for c in range(machine.nr_cpus)]
        topo = getattr(machine, "topology", None)
        return cls(
            name=getattr(machine, "name", "generic"),
            clock_ghz=clock_ghz,
            mem_bw_node_gbs=40.0,
            line_llc_ns=40.0,
            line_node_ns=40.0,
            line_socket_ns=40.0,
            line_remote_ns=150.0,
            ipi_ns=2000.0,
            context_switch_ns=3000.0,
            smt=1,
            places=places,
            page_size=getattr(topo, "page_size", 4096) if topo is not None else 4096,
            sources={"all": "ASSUMPTION: generic figures for test machines"},
        )

    # --- prices ---------------------------------------------------------------------------------

    def cycles_ns(self, cycles: float) -> float:
        return cycles / self.clock_ghz

    def work_ns(self, kind: str, n: int = 1) -> float:
        """CPU time of ``n`` units of work ``kind`` (no transfers, no bandwidth limits)."""
        if kind == "ns":
            return float(n)
        if kind == "clear_page":
            return n * self.page_size / self.core_clear_bw()
        per = _PER_UNIT_CYCLES.get(kind)
        if per is None:
            raise PcplabError(
                f"unknown work kind {kind!r}; use one of: {', '.join(WORK_KINDS)}"
            )
        return n * per / self.clock_ghz

    def with_config(self, config: KernelConfig) -> CostModel:
        """The same machine's prices for another kernel configuration."""
        from dataclasses import replace

        return replace(self, kernel_config=config)

    def work_call_ns(self, kind: str) -> float:
        """The fixed part of one ``Work(kind)`` call besides its ``n`` units: the buddy path's
        per-call work and the zone's lines (:data:`BUDDY_ZONE_LINES`)."""
        cycles: float = _PER_CALL_CYCLES.get(kind, 0)
        if kind in _ZONE_LINE_KINDS:
            cycles += BUDDY_ZONE_LINES * self.line_cycles()
        return cycles / self.clock_ghz

    # --- per-operation prices (ArchOps, KernelConfig) --------------------------------------

    def line_cycles(self) -> float:
        """One access to a line this CPU used at its previous pcp section: an L1 hit if the
        workload's footprint in between leaves it there (:data:`L1_RESIDENT_FRACTION`), else
        an L2 hit."""
        a = self.arch_ops
        if self.footprint_bytes <= a.l1d_bytes * L1_RESIDENT_FRACTION:
            return a.l1_hit
        return a.l2_hit

    def spin_lock_ns(self, irqsave: bool) -> float:
        """Uncontended ``spin_lock[_irqsave]`` on a line this CPU owns (transfers extra).
        PREEMPT_RT: ``rt_spin_lock`` -- migrate_disable, the RCU read lock, one cmpxchg; IRQs
        stay on."""
        a = self.arch_ops
        if self.kernel_config.preempt_rt:
            return (2 * FLAG_CYCLES + a.lock_acquire) / self.clock_ghz
        return (a.lock_acquire + (a.irq_save if irqsave else 0)) / self.clock_ghz

    def spin_unlock_ns(self, irqrestore: bool) -> float:
        """``spin_unlock[_irqrestore]``: the release store (RT: a cmpxchg-release and the
        migrate/RCU counters)."""
        a = self.arch_ops
        if self.kernel_config.preempt_rt:
            return (2 * FLAG_CYCLES + a.lock_acquire) / self.clock_ghz
        return (a.lock_release + (a.irq_restore if irqrestore else 0)) / self.clock_ghz

    def local_lock_ns(self) -> float:
        """``local_lock_irqsave``: on !PREEMPT_RT only the flags save and ``cli`` (no lock word,
        5.17 include/linux/local_lock_internal.h); on RT this CPU's ``spinlock_t`` (an rt lock)
        with migrate_disable."""
        if self.kernel_config.preempt_rt:
            return self.spin_lock_ns(False) + FLAG_CYCLES / self.clock_ghz
        return self.arch_ops.irq_save / self.clock_ghz

    def local_unlock_ns(self) -> float:
        if self.kernel_config.preempt_rt:
            return self.spin_unlock_ns(False) + FLAG_CYCLES / self.clock_ghz
        return self.arch_ops.irq_restore / self.clock_ghz

    def irq_save_ns(self) -> float:
        return self.arch_ops.irq_save / self.clock_ghz

    def irq_restore_ns(self) -> float:
        return self.arch_ops.irq_restore / self.clock_ghz

    def debug_check_ns(self) -> float:
        """CONFIG_DEBUG_PREEMPT's check behind one ``this_cpu_ptr()`` in non-preemptible code
        (0 without the option)."""
        if not self.kernel_config.debug_preempt:
            return 0.0
        return DEBUG_PREEMPT_CHECK_CYCLES / self.clock_ghz

    def debug_slow_check_ns(self) -> float:
        """The same check in preemptible code, without the shared line's transfer: the tests,
        preempt disable/enable and ``___ratelimit``'s trylock/unlock with IRQs saved."""
        a = self.arch_ops
        cycles = (DEBUG_PREEMPT_SLOW_CYCLES + a.irq_save + a.lock_acquire + a.lock_release
                  + a.irq_restore)
        return cycles / self.clock_ghz

    def pageset_prices(self, size_statement: dict[str, Any] | None) -> PagesetPrices:
        """Lines of a design's ``per_cpu_pages`` one order-0 fast-path section touches, from the
        design's ``size_statement`` layout (field offsets): the line of ``count`` and the lines
        of the order-0 MOVABLE list head (pindex 1, 16 bytes at ``lists + 16``; for the seed's
        embedded ``struct pcplists`` the count is its first field and its lists follow at 8),
        and the line of a ``lock`` field if it is not one of those.  Without a layout: the
        measured vanilla section (one line, no lock line)."""
        layout = (size_statement or {}).get("layout") or []
        offs = {str(f["field"]): int(f["offset"]) for f in layout}
        count = offs.get("count")
        lists = next((o for n, o in offs.items() if n.startswith("lists")), None)
        if count is None or lists is None:
            nested = next((o for n, o in offs.items() if n.startswith("__pcplists")), None)
            if nested is not None:
                count, lists = nested, nested + 8
        line = 64
        lines: tuple[int, ...] = (0,)
        if count is not None and lists is not None:
            head = lists + 16  # pindex 1 = order 0, MIGRATE_MOVABLE (5.17 order_to_pindex)
            lines = tuple(sorted({count // line, head // line, (head + 15) // line}))
        lock = offs.get("lock")
        lock_line = None if lock is None or lock // line in lines else lock // line
        per = self.line_cycles() / self.clock_ghz
        l1 = self.arch_ops.l1_hit / self.clock_ghz
        enter = max(0.0, len(lines) * per - PCP_MEASURED_LINES * l1)
        return PagesetPrices(enter, per if lock_line is not None else 0.0, lines, lock_line)

    def transfer_ns(self, src: int | None, dst: int) -> float:
        """Cost of moving a cacheline last written by CPU ``src`` to CPU ``dst``."""
        if src is None or src == dst:
            return 0.0
        a = self.places[src]
        b = self.places[dst]
        if a.core == b.core:
            return SMT_SIBLING_TRANSFER_NS
        if a.llc == b.llc:
            return self.line_llc_ns
        if a.node == b.node:
            return self.line_node_ns
        if a.socket == b.socket:
            return self.line_socket_ns
        return self.line_remote_ns

    def node_clear_bw(self) -> float:
        """Bytes per ns the memory of one node sustains for concurrent clear_page."""
        return self.mem_bw_node_gbs * CLEAR_NODE_BW_EFFICIENCY

    def core_clear_bw(self) -> float:
        """Bytes per ns one core clears at."""
        return self.clear_bytes_per_cycle * self.clock_ghz

    @staticmethod
    def smt_speed(busy_threads_on_core: int) -> float:
        """Speed of each busy thread on a core with ``busy_threads_on_core`` busy threads."""
        k = max(1, busy_threads_on_core)
        gain = SMT_CORE_GAIN.get(k, SMT_CORE_GAIN[4] + 0.05 * (k - 4))
        return gain / k

    @staticmethod
    def gp_ns(expedited: bool, u: float) -> int:
        """A grace period's length for a uniform random ``u`` in (0, 1) (lognormal)."""
        base, sigma = (
            (GP_EXPEDITED_NS, GP_EXPEDITED_SIGMA) if expedited else (GP_NORMAL_NS, GP_NORMAL_SIGMA)
        )
        z = _norm_ppf(min(max(u, 1e-9), 1 - 1e-9))
        return int(base * math.exp(sigma * z - sigma * sigma / 2))

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, value, source) rows for documentation."""
        g = globals()
        rows = [
            ("clock_ghz", f"{self.clock_ghz}", self.sources.get("clock_ghz", "")),
            ("clear_bytes_per_cycle", f"{self.clear_bytes_per_cycle}",
             self.sources.get("clear_bytes_per_cycle", "sim/costs.py CLEAR_BYTES_PER_CYCLE")),
            ("mem_bw_node_gbs", f"{self.mem_bw_node_gbs}", self.sources.get("mem_bw_node_gbs", "")),
        ]
        for key in (
            "PCP_ALLOC_CYCLES", "PCP_FREE_CYCLES", "RMQUEUE_BULK_PAGE_CYCLES",
            "FREE_BULK_PAGE_CYCLES", "CLEAR_BYTES_PER_CYCLE", "CLEAR_NODE_BW_EFFICIENCY",
            "FAULT_ENTRY_EXIT_CYCLES", "FAULT_HANDLE_CYCLES", "LRU_ADD_PAGE_CYCLES",
            "USER_PAGE_CYCLES", "BUDDY_CALL_CYCLES", "BUDDY_FREE_CALL_CYCLES",
            "BUDDY_ZONE_LINES", "DEBUG_PREEMPT_CHECK_CYCLES", "DEBUG_PREEMPT_SLOW_CYCLES",
        ):  # fmt: skip
            rows.append((key, str(g[key]), "sim/costs.py docstring"))
        a = self.arch_ops
        for key in ("lock_acquire", "lock_release", "irq_save", "irq_restore", "l1_hit",
                    "l2_hit"):
            rows.append((f"{key}_cycles", f"{getattr(a, key)}",
                         self.sources.get(f"{key}_cycles", a.source)))
        rows.append(("l1d_kb", f"{a.l1d_bytes // 1024}", self.sources.get("l1d_kb", a.source)))
        rows.append(("kernel_config", self.kernel_config.label, "sim/costs.py KernelConfig"))
        return rows


def _norm_ppf(p: float) -> float:
    """Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    if p > 1 - lo:
        return -_norm_ppf(1 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (
        ((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1
    )
