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
#: one block straight from/to buddy (rmqueue_buddy / free_one_page) besides the lock:
#: ASSUMPTION: one bulk page plus the per-call overhead of a pcp operation.
BUDDY_PAGE_CYCLES = RMQUEUE_BULK_PAGE_CYCLES + PCP_ALLOC_CYCLES
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
#: IRQ-flag / preempt-count / RCU-nesting manipulation.  ASSUMPTION.
FLAG_CYCLES = 3
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
    "buddy_alloc": BUDDY_PAGE_CYCLES,
    "buddy_free": BUDDY_PAGE_CYCLES,
    "drain_mask_check": DRAIN_MASK_CHECK_CYCLES,
    "pcp_swap": PCP_SWAP_CYCLES,
    "fault_entry": FAULT_ENTRY_EXIT_CYCLES // 2,
    "fault_exit": FAULT_ENTRY_EXIT_CYCLES - FAULT_ENTRY_EXIT_CYCLES // 2,
    "fault_handle": FAULT_HANDLE_CYCLES,
    "lru_add": LRU_ADD_PAGE_CYCLES,
    "user_page": USER_PAGE_CYCLES,
    "cycles": 1,
}


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
            "USER_PAGE_CYCLES",
        ):  # fmt: skip
            rows.append((key, str(g[key]), "sim/costs.py docstring"))
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
