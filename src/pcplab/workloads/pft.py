"""mmtests ``pft`` (page fault test) on the simulator, with mmtests' semantics.

What pft does (mmtests-pft.md §1-§2, ``gormanm/pft`` ``pft.c``, mmtests ``pft-bench``):

* one private anonymous mapping of ``MemTotal / 5`` bytes (``PFT_MAPPING_SIZE``; MemTotal = the
  machine's managed memory), split evenly between N worker **threads** of one process with the
  ``ROUND_UP`` bit-mask quirk (:func:`split_pages`);
* every worker writes one byte per base page of its slice: exactly one anonymous zero-fill fault
  per page; THP off (``PFT_PAGESIZES=base``);
* client counts from mmtests' ``threads_large_stride_begin`` sequence for the CPU count, capped
  at 128 (:func:`client_counts`); 30 iterations by default;
* per run: user and system time **summed over workers**, elapsed = latest end − earliest start,
  faults/cpu = pages / (user + system), faults/sec = pages / elapsed.

Per-fault path (both modes price the same pieces with :mod:`pcplab.sim.costs`): the user store,
fault entry, ``down_read_trylock(mmap_lock)`` — an atomic on a cacheline all threads of the
process share, so it bounces — the fault handling, the allocation through the **design's**
``alloc_pages`` (refills with ``rmqueue_bulk`` under ``zone->lock``), ``clear_page``, the LRU
add in pagevecs of 15 pages under the node's ``lru_lock``, ``up_read`` (the same shared line),
fault exit.

``clear_page`` (aggregated mode): the kernel zeroes with an instruction that claims whole lines in
the cache without reading memory (x86 ``rep stosb``, POWER ``dcbz``, arm64 ``dc zva``), so the
core clears at its cache store rate (profile fact ``clear_bytes_per_cycle``); the node's memory
only sees the later write-back of the zeroed lines, and the node's write bandwidth
(:meth:`CostModel.node_clear_bw`) bounds what all its clearers together write back.  A thread is
delayed only when the node's write-back saturates.  ASSUMPTION: the caches buffer a fault's worth
of dirty lines, so below saturation the write-back overlaps the rest of the fault.  The exact mode
(the engine's ``_clear_ns``) does the same per clear: the core's store rate, and a write-back
FIFO per node that makes a clearer wait only for backlog beyond one page.

Two modes:

* **exact** (:func:`run_exact`): every fault is a generator on the engine; the design's
  ``alloc_pages`` runs for every page against the real allocator state; contention emerges from
  the engine (spinning, cacheline transfers serialised per line, shared bandwidth).
* **aggregated** (:func:`run_aggregated`, the default): each thread advances in chunks of many
  faults.  Its private work is one span priced from the same constants (the design's fast path is
  measured once by running its ``alloc_pages`` through the engine, :func:`probe_design`); the
  shared resources (the mmap_lock line, each zone's ``zone->lock``, each node's ``lru_lock``)
  are mean-value queues fed with the rates the other active threads had in their last chunk;
  each node's write-back bandwidth is shared by the same rates.  Tests check both modes agree
  on small cases.

Thread placement, two policies (:data:`PLACEMENTS`, ``PftSetup.placement``):

* ``"fork-domain"`` (default, ASSUMPTION, :func:`place_threads`): pft's launcher forks worker
  threads one after another; ``wake_up_new_task`` places each with fork balancing, which never
  crosses NUMA distances above 30 (5.17 ``sd_init`` clears ``SD_BALANCE_FORK`` beyond
  ``node_reclaim_distance``).  Inside that *fork domain* threads spread over nodes, then LLCs,
  then idle cores, then SMT siblings; only when every logical CPU of the domain is busy do more
  threads land in the next domain (the periodic balancer's job).  It uses 30 on every machine,
  which is *not* what v5.17 does on AMD Zen (``node_reclaim_distance`` = 32 there), and it
  ignores the 25 % NUMA imbalance rule; it is the default because it fits the seed's tables
  better with the global constants (docs/fidelity.md says why and what that implies).
* ``"v5.17"`` (:func:`place_threads_fork_balance`): v5.17's ``find_idlest_cpu`` walk with the
  machine's ``node_reclaim_distance`` and ``allow_numa_imbalance``.

First-touch allocation serves each thread from its own node's highest zone.
"""

from __future__ import annotations

import heapq
import math
import random
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from pcplab.designs import lifecycle
from pcplab.errors import PcplabError
from pcplab.kernel import ops
from pcplab.kernel.locks import Spinlock
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.mm.ops import zone_watermark_ok
from pcplab.sim import costs as C
from pcplab.sim.costs import CostModel

#: pft-bench caps the client count ("benchmark-enforced limit", mmtests ce991ffa)
MAX_CLIENTS = 128
#: node_reclaim_distance (RECLAIM_DISTANCE): fork balancing stops above it (kernel/sched/topology.c)
RECLAIM_DISTANCE = 30
#: ASSUMPTION: pthread_create + first wake-up of each worker, one after another
THREAD_START_NS = 20_000
#: ASSUMPTION: run-to-run spread of a worker's speed (lognormal sigma), plus a machine-wide
#: factor of half that sigma shared by all workers of a run (clock, memory placement); gives the
#: 0.3-1 % CoeffVar typical of pft tables (mmtests-pft.md §6)
RUN_JITTER = 0.01
RUN_SHARED_FRACTION = 0.5
#: exact mode refuses runs above this many faults (it simulates a few thousand per second)
EXACT_MAX_PAGES = 1 << 20
#: aggregated mode: at least this many chunks per thread
CHUNKS_PER_THREAD = 64
#: ASSUMPTION: data one fault touches besides the page it clears (PTE and PMD lines, the struct
#: page, vma and mm counters, the memcg and LRU pagevec, stack): ~32 lines.  With the page it is
#: the footprint between two pcp sections that decides whether the pageset's lines stay in L1
#: (``CostModel.footprint_bytes``): 6 KiB with 4 KiB pages (L1), 66 KiB with 64 KiB pages (L2).
FAULT_DATA_BYTES = 2048


# --- mmtests semantics --------------------------------------------------------------------------


def client_counts(numcpus: int, max_clients: int = MAX_CLIENTS, start: int = 1) -> list[int]:
    """mmtests ``threads_large_stride_begin`` for ``END = min(numcpus, max_clients)``
    (mmtests-pft.md §2.3)."""
    if numcpus < 1:
        raise PcplabError(f"pft needs at least one CPU, got {numcpus}")
    end = min(numcpus, max_clients)

    def seq(a: int, step: int, b: int) -> list[int]:
        return list(range(a, b + 1, step))

    if end > 32:
        t = seq(start, 3, 8) + seq(12, 9, 32) + seq(48, 31, end)
    elif end > 8:
        t = seq(start, 2, 8) + seq(12, 6, end)
    else:
        t = seq(start, 2, end)
    if not t or t[-1] != end:
        t.append(end)
    return [n for n in t if start <= n <= end]


def round_up(x: int, y: int) -> int:
    """pft's ``ROUND_UP``: a bit-mask macro, exact only for power-of-two ``y`` (pft.c:147)."""
    return (x + y - 1) & ~(y - 1)


def split_pages(mapping_bytes: int, page_size: int, nr_workers: int) -> tuple[int, int]:
    """(pages per worker, total pages) the way pft computes them (pft.c:1580-1583)."""
    if nr_workers < 1:
        raise PcplabError("pft needs at least one worker")
    pages = (mapping_bytes + page_size - 1) // page_size
    per_worker = round_up(pages, nr_workers) // nr_workers
    return per_worker, per_worker * nr_workers


def gbyte(total_pages: int, page_size: int, nr_workers: int) -> int:
    """The log line's integer GiB field (pft.c:1587)."""
    return (total_pages * page_size + page_size * nr_workers) >> 30


def mapping_bytes(machine: Any) -> int:
    """``PFT_MAPPING_SIZE = MEMTOTAL_BYTES / 5``; MemTotal = managed pages (``totalram``)."""
    page_size = machine.topology.page_size if machine.topology is not None else 4096
    return machine.managed_pages * page_size // 5


# --- placement ----------------------------------------------------------------------------------


def _domains(distance: list[list[int]], nodes: list[int]) -> list[list[int]]:
    """Fork-balancing domains: node 0's nodes within ``RECLAIM_DISTANCE``, then the same for the
    nearest remaining node, and so on."""
    left = list(nodes)
    out: list[list[int]] = []
    anchor = left[0]
    while left:
        dom = [n for n in left if distance[anchor][n] <= RECLAIM_DISTANCE]
        out.append(dom)
        left = [n for n in left if n not in dom]
        if left:
            anchor = min(left, key=lambda n: (distance[out[0][0]][n], n))
    return out


def place_threads(
    costs: CostModel, distance: list[list[int]], nr_threads: int, exclude: Any = ()
) -> list[int]:
    """CPU of each worker under the default "fork-domain" rule (module docstring): fork domains
    by :data:`RECLAIM_DISTANCE` = 30 on every machine (ASSUMPTION; not v5.17 on AMD Zen, see
    :func:`place_threads_fork_balance`).  CPUs in ``exclude`` (isolated) are never used."""
    places = costs.places
    nr_cpus = len(places) - len(set(exclude))
    if nr_threads > nr_cpus:
        raise PcplabError(f"pft with {nr_threads} threads needs that many CPUs; have {nr_cpus}")
    nodes = sorted({p.node for p in places})
    cores: dict[int, list[int]] = {}
    for cpu, p in enumerate(places):
        if cpu not in exclude:
            cores.setdefault(p.core, []).append(cpu)
    used: set[int] = set()
    on_core: dict[int, int] = dict.fromkeys(cores, 0)
    on_node: dict[int, int] = dict.fromkeys(nodes, 0)
    on_llc: dict[int, int] = {}
    out: list[int] = []
    for dom in _domains(distance, nodes):
        dom_cores = sorted(c for c in cores if places[cores[c][0]].node in dom)
        for level in range(1, max(len(v) for v in cores.values()) + 1):
            while len(out) < nr_threads:
                cand = [c for c in dom_cores if on_core[c] < level and on_core[c] < len(cores[c])]
                if not cand:
                    break
                best = min(
                    cand,
                    key=lambda c: (
                        on_node[places[cores[c][0]].node],
                        on_llc.get(places[cores[c][0]].llc, 0),
                        on_core[c],
                        c,
                    ),
                )
                cpu = next(x for x in cores[best] if x not in used)
                used.add(cpu)
                on_core[best] += 1
                p = places[cpu]
                on_node[p.node] += 1
                on_llc[p.llc] = on_llc.get(p.llc, 0) + 1
                out.append(cpu)
        if len(out) >= nr_threads:
            break
    return out


@dataclass
class _Level:
    """One sched-domain level as seen from every CPU: the domain's span and the CPU's group."""

    name: str
    numa: bool  # SD_NUMA: the allow_numa_imbalance() rule applies
    fork: bool  # SD_BALANCE_FORK
    span_of: list[int]  # cpu -> span id
    group_of: list[int]  # cpu -> group id (the child domain's span)
    groups_in_span: dict[int, list[int]]  # span id -> group ids
    members: dict[int, list[int]]  # group id -> cpus
    span_size: dict[int, int]  # span id -> CPUs


def _sched_levels(costs: CostModel, distance: list[list[int]], reclaim: int) -> list[_Level]:
    """Sched-domain levels from the top down: NUMA levels (one per distinct distance, as
    ``sched_init_numa`` builds them), NODE, MC (LLC), SMT.  A level whose span equals its
    child's is dropped (``sd_parent_degenerate``).  NUMA levels farther than ``reclaim`` lose
    SD_BALANCE_FORK (5.17 ``sd_init``)."""
    places = costs.places
    ncpu = len(places)
    nodes = sorted({p.node for p in places})
    # bottom-up list of (name, numa, fork, key(cpu)) where key identifies the domain span
    spec: list[tuple[str, bool, bool, Callable[[int], Any]]] = [
        ("SMT", False, True, lambda c: places[c].core),
        ("MC", False, True, lambda c: places[c].llc),
        ("NODE", False, True, lambda c: places[c].node),
    ]
    def within(d: int) -> Callable[[int], frozenset[int]]:
        """The nodes within distance ``d`` of CPU c's node (a NUMA level's span)."""
        return lambda c: frozenset(m for m in nodes if distance[places[c].node][m] <= d)

    for d in sorted({distance[a][b] for a in nodes for b in nodes if a != b}):
        spec.append((f"NUMA{d}", True, d <= reclaim, within(d)))
    child_key: Callable[[int], Any] = lambda c: c  # noqa: E731 - a single CPU
    levels: list[_Level] = []
    for name, numa, fork, key in spec:
        span_ids: dict[Any, int] = {}
        grp_ids: dict[Any, int] = {}
        span_of = [span_ids.setdefault(key(c), len(span_ids)) for c in range(ncpu)]
        group_of = [grp_ids.setdefault(child_key(c), len(grp_ids)) for c in range(ncpu)]
        if all(len({group_of[c] for c in range(ncpu) if span_of[c] == s}) == 1
               for s in set(span_of)):
            continue  # same span as the child: degenerate
        members: dict[int, list[int]] = {}
        groups_in_span: dict[int, list[int]] = {}
        for c in range(ncpu):
            members.setdefault(group_of[c], []).append(c)
            gs = groups_in_span.setdefault(span_of[c], [])
            if group_of[c] not in gs:
                gs.append(group_of[c])
        span_size = {s: sum(1 for c in range(ncpu) if span_of[c] == s) for s in set(span_of)}
        levels.append(_Level(name, numa, fork, span_of, group_of, groups_in_span, members,
                             span_size))
        child_key = key
    levels.reverse()
    return levels


def place_threads_fork_balance(
    costs: CostModel, distance: list[list[int]], nr_threads: int, exclude: Any = ()
) -> list[int]:
    """CPU of each worker as v5.17's fork balancing places it (``wake_up_new_task`` ->
    ``select_task_rq_fair(SD_BALANCE_FORK)`` -> ``find_idlest_cpu``, kernel/sched/fair.c).

    * The launcher thread (worker 0) runs on CPU 0 and the workers it creates keep running, so
      each new worker sees the earlier ones (ASSUMPTION: pft's workers start faulting as soon as
      they are created; no start barrier that would leave them blocked).
    * The search starts at the highest domain with SD_BALANCE_FORK: ``sd_init`` clears it on NUMA
      domains whose distance exceeds ``node_reclaim_distance`` (30 = RECLAIM_DISTANCE, but 32 on
      AMD Zen: ``init_amd_zn`` in arch/x86/kernel/cpu/amd.c, commit a55c7454a8c8 "sched/topology:
      Improve load balancing on AMD EPYC systems", v5.4), read from the profile fact
      ``node_reclaim_distance`` (:attr:`CostModel.node_reclaim_distance`).
    * ``find_idlest_group`` at each level: the idlest other group is the one with the most idle
      CPUs; a group with spare capacity keeps the task local when it has at least as many idle
      CPUs, and on SD_NUMA levels also while ``allow_numa_imbalance(local running,
      sd->span_weight)`` holds, i.e. fewer running tasks than a quarter of the domain's CPUs
      (v5.11 7d2b5dd0bcc4 "sched/numa: Allow a floating imbalance between NUMA nodes", until
      v5.18 replaced it with ``imb_numa_nr``; ASSUMPTION: recalled, not checked against the
      v5.17 tree).  Moving to a group continues one level down from its first idle CPU
      (ASSUMPTION for ``find_idlest_group_cpu``: the lowest-numbered idle CPU).
    * When the fork domain has no idle CPU left, the new worker queues behind a busy one and the
      idle balancer pulls it to the nearest node with idle CPUs (ASSUMPTION: at once; a queued,
      not running task needs no active balancing).  The periodic balancer's slow active
      migrations of *running* workers (``need_active_balance`` after ``cache_nice_tries + 2``
      failed balances at ``sd_weight`` ms intervals) are not modelled.
    * CPUs in ``exclude`` (isolated) are left out of every domain, as ``isolcpus=domain`` leaves
      them out (``sched_init_domains`` builds the domains over
      ``housekeeping_cpumask(HK_FLAG_DOMAIN)``, kernel/sched/topology.c; recalled, ASSUMPTION):
      they count in no group's load and no worker lands there; the launcher runs on the first
      other CPU.
    """
    places = costs.places
    ncpu = len(places)
    if nr_threads > ncpu - len(set(exclude)):
        raise PcplabError(
            f"pft with {nr_threads} threads needs that many CPUs; have "
            f"{ncpu - len(set(exclude))}"
        )
    if exclude:
        return _fork_balance_excluding(costs, distance, nr_threads, frozenset(exclude))
    levels = _sched_levels(costs, distance, costs.node_reclaim_distance)
    # the fork chain: contiguous SD_BALANCE_FORK levels from the bottom (select_task_rq_fair)
    chain: list[_Level] = []
    for lv in reversed(levels):
        if not lv.fork:
            break
        chain.append(lv)
    chain.reverse()
    running = [0] * ncpu

    def stats(cpus: list[int]) -> tuple[int, int, int]:
        r = sum(running[c] for c in cpus)
        idle = sum(1 for c in cpus if running[c] == 0)
        gtype = 0 if r < len(cpus) else (1 if r == len(cpus) else 2)  # spare/fully busy/over
        return r, idle, gtype

    def pick(this: int) -> int:
        cpu = this
        for lv in chain:
            local = lv.group_of[cpu]
            lr, lidle, ltype = stats(lv.members[local])
            best: tuple[int, int, int, int] | None = None
            for g in lv.groups_in_span[lv.span_of[cpu]]:
                if g == local:
                    continue
                r, idle, gtype = stats(lv.members[g])
                key = (gtype, -idle, r, g)
                if best is None or key < best:
                    best = key
            if best is None:
                continue
            gtype, nidle, r, g = best
            if ltype != gtype:
                move = ltype > gtype
            elif ltype == 0:
                numa_keep = lv.numa and lr < (lv.span_size[lv.span_of[cpu]] >> 2)
                move = not numa_keep and lidle < -nidle
            else:
                move = lr > r + 1  # both busy: a clearly lighter group (avg_load test)
            if move:
                cands = lv.members[g]
                cpu = next((c for c in cands if running[c] == 0),
                           min(cands, key=lambda c: (running[c], c)))
        return cpu

    out = [0]
    running[0] = 1
    for _ in range(nr_threads - 1):
        cpu = pick(0)
        if running[cpu]:
            idle = [c for c in range(ncpu) if running[c] == 0]
            home = places[0].node
            near = min(idle, key=lambda c: (distance[home][places[c].node], c))
            cpu = pick(near)
            if running[cpu]:
                cpu = near
        running[cpu] += 1
        out.append(cpu)
    return out


def _fork_balance_excluding(
    costs: CostModel, distance: list[list[int]], nr_threads: int, exclude: frozenset[int]
) -> list[int]:
    """:func:`place_threads_fork_balance` on the CPUs outside ``exclude`` only (a separate copy
    so the common case keeps its exact arithmetic)."""
    places = costs.places
    ncpu = len(places)
    allowed = [c for c in range(ncpu) if c not in exclude]
    levels = _sched_levels(costs, distance, costs.node_reclaim_distance)
    chain: list[_Level] = []
    for lv in reversed(levels):
        if not lv.fork:
            break
        chain.append(lv)
    chain.reverse()
    running = [0] * ncpu

    def members(lv: _Level, g: int) -> list[int]:
        return [c for c in lv.members[g] if c not in exclude]

    def stats(cpus: list[int]) -> tuple[int, int, int]:
        r = sum(running[c] for c in cpus)
        idle = sum(1 for c in cpus if running[c] == 0)
        gtype = 0 if r < len(cpus) else (1 if r == len(cpus) else 2)
        return r, idle, gtype

    def span_size(lv: _Level, cpu: int) -> int:
        return sum(1 for c in allowed if lv.span_of[c] == lv.span_of[cpu])

    def pick(this: int) -> int:
        cpu = this
        for lv in chain:
            local = lv.group_of[cpu]
            lr, lidle, ltype = stats(members(lv, local))
            best: tuple[int, int, int, int] | None = None
            for g in lv.groups_in_span[lv.span_of[cpu]]:
                m = members(lv, g)
                if g == local or not m:
                    continue
                r, idle, gtype = stats(m)
                key = (gtype, -idle, r, g)
                if best is None or key < best:
                    best = key
            if best is None:
                continue
            gtype, nidle, r, g = best
            if ltype != gtype:
                move = ltype > gtype
            elif ltype == 0:
                numa_keep = lv.numa and lr < (span_size(lv, cpu) >> 2)
                move = not numa_keep and lidle < -nidle
            else:
                move = lr > r + 1
            if move:
                cands = members(lv, g)
                cpu = next((c for c in cands if running[c] == 0),
                           min(cands, key=lambda c: (running[c], c)))
        return cpu

    first = allowed[0]
    out = [first]
    running[first] = 1
    for _ in range(nr_threads - 1):
        cpu = pick(first)
        if running[cpu]:
            idle = [c for c in allowed if running[c] == 0]
            home = places[first].node
            near = min(idle, key=lambda c: (distance[home][places[c].node], c))
            cpu = pick(near)
            if running[cpu]:
                cpu = near
        running[cpu] += 1
        out.append(cpu)
    return out


#: thread placement policies: the fork-domain rule (default) and v5.17's fork balancing; each
#: takes ``(costs, distance, nr_threads, exclude=())``
PLACEMENTS: dict[str, Callable[..., list[int]]] = {
    "fork-domain": place_threads,
    "v5.17": place_threads_fork_balance,
}


def zonelist(machine: Any, distance: list[list[int]], node: int) -> list[Any]:
    """Zones an allocation on ``node`` tries: local node's zones highest first, then the other
    nodes in the CONFIG_NUMA kernel's order (``find_next_best_node``: by distance, equidistant
    nodes round-robin; :mod:`pcplab.workloads.zonelist`, shared with the slow path)."""
    from pcplab.workloads.zonelist import zonelists

    return zonelists(machine, distance)[node]


def assign_zones(
    machine: Any, distance: list[list[int]], nodes: list[int], per_worker: int
) -> list[str]:
    """Zone each worker's pages come from (aggregated mode): the first zone of its zonelist that
    still has ``per_worker`` pages above its high watermark once the workers before it took
    theirs.  ASSUMPTION: a worker's pages come from one zone (the kernel falls back page by page
    when a zone reaches its low watermark)."""
    room = {z.name: z.managed - z.watermarks.high for z in machine.zones}
    out = []
    for node in nodes:
        zl = zonelist(machine, distance, node)
        pick = next((z for z in zl if room[z.name] >= per_worker), zl[0])
        room[pick.name] -= per_worker
        out.append(pick.name)
    return out


def distances(profile: Any, machine: Any) -> list[list[int]]:
    if profile is not None:
        return [list(r) for r in profile.numa_distance]
    nodes = max(machine.cpu_node(c) for c in range(machine.nr_cpus)) + 1
    return [[10 if a == b else 20 for b in range(nodes)] for a in range(nodes)]


# --- the design's fast path, measured through the engine ------------------------------------------


@dataclass
class DesignProbe:
    """Uncontended prices of a design's order-0 allocation on one CPU (ns)."""

    fast_ns: float  # an allocation served from the pcp list
    refill_hold_ns: float  # zone->lock hold of one refill (lock word local)
    refill_pages: float  # pages per refill
    outside_ns: float = 0.0  # work of the refill outside the lock (per refill)
    #: writes of the global ratelimit line per allocation (CONFIG_DEBUG_PREEMPT's check in
    #: preemptible code, counted by the engine while the design's ops ran) and the local work
    #: of each (the line's hold)
    shared_per_alloc: float = 0.0
    shared_hold_ns: float = 0.0


def probe_design(
    machine: Any, design: Any, costs: CostModel, cpu: int = 0, nohz_full: tuple[int, ...] = ()
) -> DesignProbe:
    """Run ``design.alloc_pages`` on ``cpu`` with no other activity and split the time into
    fast-path, refill lock-hold and outside-lock parts.  Uses (and leaves allocated) a few hundred
    pages of ``machine``."""
    from pcplab.sim.engine import Simulator

    sim = Simulator(machine, costs=costs, design=design, noise=0.0, nohz_full=nohz_full)
    state = sim.kernel.state
    zone_locks = {id(lk) for lk in getattr(state, "zone_lock", {}).values()}
    zone = zonelist(machine, distances(None, machine), machine.cpu_node(cpu))[0]
    batch = zone.per_cpu_pageset[cpu].batch
    n = max(64, 20 * max(1, batch))
    acc = {"in": 0.0, "out": 0.0, "locks": 0, "inlock": False}

    def watch(task: Any, op: Any, t: int, ns: int) -> None:
        if isinstance(op, ops.SpinLock) and id(op.lock) in zone_locks:
            acc["inlock"] = True
            acc["locks"] += 1
        if acc["inlock"]:
            acc["in"] += ns
        else:
            acc["out"] += ns
        if isinstance(op, ops.SpinUnlock) and id(op.lock) in zone_locks:
            acc["inlock"] = False

    sim.on_op(watch)

    def prog(ctx: Any) -> Generator[Any, Any, None]:
        for _ in range(n):
            pfn = yield from design.alloc_pages(ctx, zone, 0, MIGRATE_MOVABLE)
            if pfn is None:
                raise PcplabError(f"probe of design {design.name}: zone {zone.name} is empty")

    sim.spawn(cpu, prog)
    sim.run()
    refills = max(1, acc["locks"])
    shared = sim.preempt_checks_slow / n
    return DesignProbe(
        fast_ns=acc["out"] / n,
        refill_hold_ns=acc["in"] / refills,
        refill_pages=n / refills,
        shared_per_alloc=shared,
        shared_hold_ns=costs.debug_slow_check_ns() if shared else 0.0,
    )


# --- shared per-fault prices ----------------------------------------------------------------------


@dataclass
class FaultPrices:
    """Uncontended ns per fault (at SMT speed 1) of the pieces pft's fault path is made of."""

    user_ns: float
    sys_ns: float  # entry/exit, handling, two mmap_lock atomics (line local), alloc fast path
    atomic_ns: float
    lru_hold_ns: float  # one pagevec flush (PAGEVEC_SIZE pages) under lru_lock
    page_size: int

    @classmethod
    def build(cls, costs: CostModel, probe: DesignProbe) -> FaultPrices:
        atomic = costs.work_ns("cycles", C.ATOMIC_CYCLES)
        sys_ns = (
            costs.work_ns("fault_entry")
            + costs.work_ns("fault_exit")
            + costs.work_ns("fault_handle")
            + 2 * atomic
            + probe.fast_ns
        )
        lru_hold = costs.work_ns("lru_add", C.PAGEVEC_SIZE) + 2 * costs.cycles_ns(C.FLAG_CYCLES)
        return cls(costs.work_ns("user_page"), sys_ns, atomic, lru_hold, costs.page_size)


@dataclass
class RunResult:
    pages: int
    user: float
    system: float
    elapsed: float

    @property
    def faults_per_cpu(self) -> float:
        cpu = self.user + self.system
        return self.pages / cpu if cpu > 0 else 0.0

    @property
    def faults_per_sec(self) -> float:
        return self.pages / self.elapsed if self.elapsed > 0 else 0.0


# --- exact mode -------------------------------------------------------------------------------------


class _Mm:
    """The process's ``mm_struct``: its ``mmap_lock`` count shares one cacheline."""

    name = "mm->mmap_lock"


class _Lruvec:
    def __init__(self, node: int) -> None:
        self.name = f"node{node} lruvec"


def run_exact(
    machine: Any,
    design: Any,
    costs: CostModel,
    cpus: list[int],
    per_worker: int,
    distance: list[list[int]],
    seed: int = 0,
    noise: float = C.DEFAULT_NOISE,
    *,
    isolated: tuple[int, ...] = (),
    isolated_task: str = "fifo",
    log: Any = None,
    until_ns: int | None = None,
) -> RunResult:
    """Every fault through the engine and the design's generators (small cases; slow).

    ``isolated``: nohz_full CPUs, each running ``isolated_task`` (``pcplab.workloads.isolated``)
    until the last worker is done, its own allocation/free latency going to ``log`` (a
    ``LatencyLog``).  ``until_ns``: stop the simulation there (the result then covers the
    workers' time up to that point only)."""
    from pcplab.sim.engine import Simulator

    sim = Simulator(
        machine, costs=costs, design=design, seed=seed, noise=noise, nohz_full=isolated
    )
    env = None
    if isolated:
        from pcplab.sim.api_noise import spawn_isolated
        from pcplab.workloads import isolated as iso_mod
        from pcplab.workloads.slowpath import MemoryEnv

        env = MemoryEnv(design, machine)
        env.now = lambda: sim.now
        spawn_isolated(sim, env, list(isolated), iso_mod.program_for(isolated_task),
                       log if log is not None else iso_mod.LatencyLog())
    running = [len(cpus)]
    mm = _Mm()
    nodes = sorted({costs.places[c].node for c in range(machine.nr_cpus)})
    lru_lock = {n: Spinlock(f"node{n} lru_lock") for n in nodes}
    lruvec = {n: _Lruvec(n) for n in nodes}
    user_ns = costs.work_ns("user_page")

    user_entry = design.on_user_entry

    def worker(ctx: Any, pages: int, node: int) -> Generator[Any, Any, None]:
        zones = zonelist(ctx.machine, distance, node)
        pvec = 0
        for _ in range(pages):
            yield ops.UserRun(int(user_ns))
            yield ops.EnterKernel()
            yield ops.Work("fault_entry")
            yield ops.Work("cycles", C.ATOMIC_CYCLES, mm, None, func="down_read_trylock")
            yield ops.Work("fault_handle")
            pfn = None
            for zone in zones:
                # get_page_from_freelist: skip zones below the low watermark (fallback order)
                if not zone_watermark_ok(zone, 0, zone.watermarks.low):
                    continue
                pfn = yield from design.alloc_pages(ctx, zone, 0, MIGRATE_MOVABLE)
                if pfn is not None:
                    break
            if pfn is None:
                raise PcplabError("pft: the machine ran out of memory; use a smaller mapping")
            yield ops.Work("clear_page")
            pvec += 1
            if pvec == C.PAGEVEC_SIZE:
                yield ops.SpinLock(lru_lock[node], irqsave=True, func="__pagevec_lru_add")
                yield ops.Work("lru_add", pvec, lruvec[node], None, func="__pagevec_lru_add")
                yield ops.SpinUnlock(lru_lock[node], irqrestore=True, func="__pagevec_lru_add")
                pvec = 0
            yield ops.Work("cycles", C.ATOMIC_CYCLES, mm, None, func="up_read")
            yield ops.Work("fault_exit")
            if user_entry is None:  # no hook: the op itself, no generator per fault
                yield ops.EnterUser()
            else:
                yield from lifecycle.exit_to_user_mode(design, ctx)
        running[0] -= 1
        if env is not None and not running[0]:
            env.stop = True  # the isolated tasks end with the run

    tasks = []
    for i, cpu in enumerate(cpus):
        tasks.append(
            sim.spawn(
                cpu,
                worker,
                (per_worker, costs.places[cpu].node),
                name=f"pft/{i}",
                start_ns=i * THREAD_START_NS,
            )
        )
    sim.run(until=until_ns)
    user = sum(sim.stats(t).user_ns for t in tasks)
    system = sum(sim.stats(t).system_ns for t in tasks)
    start = min(sim.stats(t).start_ns for t in tasks)
    end = max(sim.stats(t).end_ns or 0 for t in tasks)
    return RunResult(per_worker * len(cpus), user / 1e9, system / 1e9, (end - start) / 1e9)


# --- aggregated mode ----------------------------------------------------------------------------------


class _Queue:
    """A shared resource seen by mean-value analysis of a closed system: every user's access
    rate, service time and residence time (service + wait) from its last chunk.  An access waits
    for the residual service of the one in service and the full service of those queued ahead:
    ``W = s̄ (Q - u/2)`` with ``Q`` the others' mean number of accesses at the resource (Little)
    and ``u`` their utilisation; ``Q`` never exceeds the number of other threads."""

    __slots__ = ("rate", "serv", "resid", "u_total", "q_total", "rate_total", "tr_sum", "active")

    def __init__(self, n: int) -> None:
        self.rate = [0.0] * n
        self.serv = [0.0] * n
        self.resid = [0.0] * n
        self.u_total = 0.0
        self.q_total = 0.0
        self.rate_total = 0.0
        self.tr_sum: dict[int, float] = {}
        self.active: list[int] = []

    def set(self, i: int, rate: float, serv: float, wait: float = 0.0) -> None:
        resid = serv + wait
        self.u_total += rate * serv - self.rate[i] * self.serv[i]
        self.q_total += rate * resid - self.rate[i] * self.resid[i]
        self.rate_total += rate - self.rate[i]
        self.rate[i] = rate
        self.serv[i] = serv
        self.resid[i] = resid

    def wait(self, i: int) -> float:
        """Mean wait of one access by ``i`` behind the others."""
        u = self.u_total - self.rate[i] * self.serv[i]
        r = self.rate_total - self.rate[i]
        if u <= 0 or r <= 0:
            return 0.0
        q = self.q_total - self.rate[i] * self.resid[i]
        return (u / r) * max(0.0, q - u / 2.0)

    def others_rate(self, i: int) -> float:
        return max(0.0, self.rate_total - self.rate[i])

    def mean_transfer(self, i: int) -> float:
        n = len(self.active) - 1
        return self.tr_sum.get(i, 0.0) / n if n > 0 else 0.0


def run_aggregated(
    costs: CostModel,
    prices: FaultPrices,
    probe: DesignProbe,
    cpus: list[int],
    zone_of: list[str],
    per_worker: int,
    seed: int = 0,
    run_jitter: float = RUN_JITTER,
    chunks_per_thread: int = CHUNKS_PER_THREAD,
) -> tuple[RunResult, int]:
    """Chunked mean-value simulation of one pft run; returns (result, events)."""
    n = len(cpus)
    rng = random.Random(seed)
    places = costs.places
    shared = run_jitter * RUN_SHARED_FRACTION
    common = math.exp(rng.gauss(-shared * shared / 2, shared)) if run_jitter else 1.0
    speed_of = [
        common * math.exp(rng.gauss(-run_jitter * run_jitter / 2, run_jitter)) if run_jitter
        else 1.0
        for _ in range(n)
    ]
    node = [places[c].node for c in cpus]
    core = [places[c].core for c in cpus]
    core_active: dict[int, int] = dict.fromkeys(core, 0)  # started, unfinished threads
    refill = max(1, int(round(probe.refill_pages)))
    chunk = max(refill, (per_worker // chunks_per_thread) // refill * refill)
    # queues: the mmap_lock line (global), zone->lock per zone, lru_lock per node
    q_mm = _Queue(n)
    q_zone = {z: _Queue(n) for z in sorted(set(zone_of))}
    q_lru = {nd: _Queue(n) for nd in sorted(set(node))}
    # a global line the design's fast path writes (DEBUG_PREEMPT's ratelimit state), if any
    shared_rate = probe.shared_per_alloc
    q_rl = _Queue(n)
    qs_of = [(q_mm, q_zone[zone_of[i]], q_lru[node[i]], q_rl) for i in range(n)]
    for i in range(n):
        for q in qs_of[i]:
            q.active.append(i)
    tr = costs.transfer_ns
    for q in [q_mm, *q_zone.values(), *q_lru.values(), q_rl]:
        for i in q.active:
            q.tr_sum[i] = sum(tr(cpus[j], cpus[i]) for j in q.active if j != i)
    node_bw = costs.node_clear_bw()
    core_bw = costs.core_clear_bw()
    page = prices.page_size
    # uncontended per-fault time, to seed the rates as if everybody were running
    t0_fault = prices.user_ns + prices.sys_ns + page / core_bw + prices.lru_hold_ns / 15
    # clear_page zeroes the page in the core's cache (core_bw: the profile's clear rate); the
    # node's memory only sees the later write-back of those lines, at most node_bw for all the
    # node's clearers together.  wb_rate: bytes/ns each thread's clears sent there last chunk.
    wb_rate = [0.0] * n
    wb_sum: dict[int, float] = dict.fromkeys(set(node), 0.0)
    node_active: dict[int, int] = dict.fromkeys(set(node), 0)
    started = [False] * n
    nstarted = 0
    t_fault = [t0_fault] * n
    left = [per_worker] * n
    pcp_left = [0] * n
    pvec = [0] * n
    user = [0.0] * n
    system = [0.0] * n
    start = [i * THREAD_START_NS for i in range(n)]
    end = [0.0] * n
    heap: list[tuple[float, int]] = [(start[i], i) for i in range(n)]
    heapq.heapify(heap)
    events = 0
    lru_size = C.PAGEVEC_SIZE
    while heap:
        t, i = heapq.heappop(heap)
        events += 1
        if not started[i]:
            # a worker starts: its siblings slow down, the queues see it with uncontended rates
            started[i] = True
            core_active[core[i]] += 1
            node_active[node[i]] += 1
            wb_rate[i] = page / t0_fault
            wb_sum[node[i]] += wb_rate[i]
            q_mm.set(i, 2.0 / t0_fault, prices.atomic_ns)
            qs_of[i][1].set(i, 1.0 / (refill * t0_fault), probe.refill_hold_ns)
            qs_of[i][2].set(i, 1.0 / (C.PAGEVEC_SIZE * t0_fault), prices.lru_hold_ns)
            q_rl.set(i, shared_rate / t0_fault, probe.shared_hold_ns)
            nstarted += 1
        # fine steps while workers are still starting (the contention changes quickly then)
        if nstarted == n:
            k = min(left[i], chunk)
        else:
            k = min(left[i], max(1, int(THREAD_START_NS / t_fault[i])))
        # refills in this chunk and pagevec flushes
        if pcp_left[i] >= k:
            r = 0
            pcp_left[i] -= k
        else:
            need = k - pcp_left[i]
            r = -(-need // refill)
            pcp_left[i] = r * refill - need
        f = (pvec[i] + k) // lru_size
        pvec[i] = (pvec[i] + k) % lru_size
        sp = costs.smt_speed(core_active[core[i]]) * speed_of[i]
        priv_sys = k * prices.sys_ns / sp
        usr = k * prices.user_ns / sp
        nd = node[i]
        clear_ns = k * page / (core_bw * sp)
        qm, qz, ql, qr = qs_of[i]
        # mmap_lock line: a transfer when another CPU wrote it since our last access
        d = t_fault[i] / 2.0
        px = 1.0 - math.exp(-qm.others_rate(i) * d)
        s_mm = px * qm.mean_transfer(i) + prices.atomic_ns
        w_mm = qm.wait(i)
        mm_ns = 2 * k * (s_mm - prices.atomic_ns + w_mm)
        # zone->lock: lock word + zone data come from the previous holder
        gap = refill * t_fault[i]
        pz = 1.0 - math.exp(-qz.others_rate(i) * gap)
        s_z = probe.refill_hold_ns / sp + 2 * pz * qz.mean_transfer(i)
        w_z = qz.wait(i)
        zone_ns = r * (s_z + w_z)
        gap = lru_size * t_fault[i]
        pl = 1.0 - math.exp(-ql.others_rate(i) * gap)
        s_l = prices.lru_hold_ns / sp + 2 * pl * ql.mean_transfer(i)
        w_l = ql.wait(i)
        lru_ns = f * (s_l + w_l)
        # the shared ratelimit line, like the mmap_lock line: a transfer when another CPU wrote
        # it since our last write, and the wait behind the writes in flight (its local work is
        # in the probe's fast path already)
        rl_ns = 0.0
        s_r = w_r = 0.0
        if shared_rate:
            d = t_fault[i] / shared_rate
            pr = 1.0 - math.exp(-qr.others_rate(i) * d)
            s_r = pr * qr.mean_transfer(i) + probe.shared_hold_ns
            w_r = qr.wait(i)
            rl_ns = shared_rate * k * (s_r - probe.shared_hold_ns + w_r)
        # lru_add work is priced inside the hold; the fast path's is in sys_ns
        sys_ns = priv_sys + clear_ns + mm_ns + zone_ns + lru_ns + rl_ns
        dur = usr + sys_ns
        # write-back: the chunk cannot take less than its bytes need of what the others leave
        # of the node's bandwidth (at least a fair share); the core stalls in its stores
        # (system time) for the difference.  Below saturation the write-back overlaps the rest
        # of the fault and costs nothing.
        avail = max(node_bw - (wb_sum[nd] - wb_rate[i]), node_bw / node_active[nd])
        stall = k * page / avail - dur
        if stall > 0:
            sys_ns += stall
            dur += stall
        wb = k * page / dur
        wb_sum[nd] += wb - wb_rate[i]
        wb_rate[i] = wb
        user[i] += usr
        system[i] += sys_ns
        left[i] -= k
        t_fault[i] = dur / k
        # feed the queues with this chunk's rates
        qm.set(i, 2 * k / dur, s_mm, w_mm)
        qz.set(i, r / dur, s_z, w_z)
        ql.set(i, f / dur, s_l, w_l)
        if shared_rate:
            qr.set(i, shared_rate * k / dur, s_r, w_r)
        tn = t + dur
        if left[i] > 0:
            heapq.heappush(heap, (tn, i))
            continue
        end[i] = tn
        # leave: others stop seeing this thread
        for q in qs_of[i]:
            q.set(i, 0.0, 0.0)
            q.active.remove(i)
            for j in q.active:
                q.tr_sum[j] -= tr(cpus[i], cpus[j])
        wb_sum[nd] -= wb_rate[i]
        wb_rate[i] = 0.0
        node_active[nd] -= 1
        core_active[core[i]] -= 1
    elapsed = max(end) - min(start)
    return (
        RunResult(per_worker * n, sum(user) / 1e9, sum(system) / 1e9, elapsed / 1e9),
        events,
    )


# --- a whole pft table -----------------------------------------------------------------------------


@dataclass
class PftSetup:
    """Everything a pft run needs that does not change between iterations."""

    machine: Any
    design: Any
    costs: CostModel
    distance: list[list[int]]
    probe: DesignProbe
    prices: FaultPrices
    mapping_bytes: int
    page_size: int
    extra: dict[str, Any] = field(default_factory=dict)
    #: thread placement policy, a key of :data:`PLACEMENTS`
    placement: str = "fork-domain"
    #: isolated (nohz_full) CPUs (:func:`isolate`), what they run, and its latency log
    isolated: tuple[int, ...] = ()
    isolated_task: str = "fifo"
    isolated_log: Any = None


def isolate(s: PftSetup, cpus: list[int], task: str = "fifo") -> None:
    """Make ``cpus`` nohz_full CPUs running the isolated ``task`` (``--isolated``).

    Like ``isolcpus``/``taskset`` on a real machine (mmtests pins nothing to isolated CPUs), pft's
    threads are placed on the other CPUs only, so client counts go up to their number.  The
    design's fast path is probed again on a machine whose ``cpus`` are nohz_full (designs that
    change with nohz_full CPUs, e.g. static-key, take that regime), on the first other CPU.
    The isolated tasks themselves run on the engine: in exact mode next to every run's workers;
    in aggregated mode (no engine per fault) in one exact window of :data:`ISOLATED_WINDOW_NS`
    per client count, next to that many exact workers placed as in the runs.  Their own page
    allocation/free latencies are collected in ``s.isolated_log``."""
    from pcplab.mm import Machine
    from pcplab.workloads import isolated as iso_mod

    iso = tuple(sorted(set(cpus)))
    nr = s.machine.nr_cpus
    bad = [c for c in iso if not 0 <= c < nr]
    if bad:
        raise PcplabError(f"isolated CPUs {bad} do not exist; the machine has CPUs 0-{nr - 1}")
    housekeeping = [c for c in range(nr) if c not in iso]
    if not housekeeping:
        raise PcplabError(f"every CPU is isolated; leave at least one for pft (CPUs 0-{nr - 1})")
    iso_mod.program_for(task)  # an unknown task is an error before anything runs
    s.isolated = iso
    s.isolated_task = task
    s.isolated_log = iso_mod.LatencyLog()
    if not iso:
        return
    probe_machine = (
        Machine.build(s.machine.topology, s.design.kernel_version)
        if s.machine.topology is not None
        else s.machine
    )
    s.probe = probe_design(probe_machine, s.design, s.costs, cpu=housekeeping[0], nohz_full=iso)
    s.prices = FaultPrices.build(s.costs, s.probe)


#: aggregated mode with isolated CPUs: simulated length of the exact window per client count in
#: which the isolated tasks run next to the workers.  ASSUMPTION: 30 ms (about 10 syscalls per
#: isolated CPU, ~1 s of wall time per 30 workers); the first 30 ms of a run, when every worker
#: has started and faults, stand for the rest of it.
ISOLATED_WINDOW_NS = 30_000_000


def setup(
    profile: Any,
    design: Any,
    machine: Any = None,
    mapping: int | None = None,
    kernel_config: C.KernelConfig | None = None,
) -> PftSetup:
    """Build the machine for the design's kernel version, its cost model (for
    ``kernel_config``, default: no debug options, !PREEMPT_RT) and the design probe."""
    from pcplab.mm import Machine

    if machine is None:
        machine = Machine.build(profile.topology(thp=False), design.kernel_version)
    costs = CostModel.for_profile(profile) if profile is not None else CostModel.generic(machine)
    costs = costs.with_config(kernel_config or C.KernelConfig())
    costs.footprint_bytes = costs.page_size + FAULT_DATA_BYTES
    if profile is not None and profile.thp:
        # pft uses base pages at run time, but the kernel is built with THP: its pcp struct has
        # the THP list (attempt [2]'s lock lands on a fifth line, kernel-pcp.md §11.2)
        costs.pageset_size = design.size_statement(Machine.build(profile.topology(),
                                                                 design.kernel_version))
    dist = distances(profile, machine)
    probe_machine = (
        Machine.build(machine.topology, design.kernel_version)
        if (machine.topology is not None)
        else machine
    )
    probe = probe_design(probe_machine, design, costs)
    prices = FaultPrices.build(costs, probe)
    return PftSetup(
        machine=machine,
        design=design,
        costs=costs,
        distance=dist,
        probe=probe,
        prices=prices,
        mapping_bytes=mapping_bytes(machine) if mapping is None else mapping,
        page_size=costs.page_size,
    )


def run_once(
    s: PftSetup, nr_threads: int, seed: int, exact: bool = False, run_jitter: float = RUN_JITTER
) -> tuple[RunResult, int]:
    """One pft run with ``nr_threads`` workers; returns (result, simulator events)."""
    per_worker, total = split_pages(s.mapping_bytes, s.page_size, nr_threads)
    if s.placement not in PLACEMENTS:
        raise PcplabError(f"placement {s.placement!r} unknown; use one of {', '.join(PLACEMENTS)}")
    if s.isolated:
        cpus = PLACEMENTS[s.placement](s.costs, s.distance, nr_threads, exclude=s.isolated)
    else:
        cpus = PLACEMENTS[s.placement](s.costs, s.distance, nr_threads)
    if exact and total > EXACT_MAX_PAGES:
        raise PcplabError(
            f"exact mode would simulate {total:,} faults per run (~{total // 4000 // 60} min "
            f"each); use a smaller mapping (e.g. --mapping-mb 64) or drop --exact"
        )
    if exact:
        from pcplab.mm import Machine

        machine = (
            Machine.build(s.machine.topology, s.design.kernel_version)
            if (s.machine.topology is not None)
            else s.machine
        )
        res = run_exact(machine, s.design, s.costs, cpus, per_worker, s.distance, seed=seed,
                        isolated=s.isolated, isolated_task=s.isolated_task, log=s.isolated_log)
        return res, per_worker * nr_threads * 20
    zone_of = assign_zones(s.machine, s.distance, [s.costs.places[c].node for c in cpus],
                           per_worker)
    return run_aggregated(
        s.costs, s.prices, s.probe, cpus, zone_of, per_worker, seed=seed, run_jitter=run_jitter
    )


def run_table(
    s: PftSetup,
    clients: list[int],
    iterations: int,
    seed: int,
    exact: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """mmtests' loop: for each client count, ``iterations`` runs.

    Each run's seed is derived from ``seed``, the client count, the iteration, the machine's and
    the design's names, so two designs compared with the same ``seed`` get independent noise, as
    two kernels booted on a real machine would, and no machine repeats another's draws."""
    out = []
    topo = s.machine.topology
    machine_name = topo.name if topo is not None else "machine"
    salt = zlib.crc32(f"{machine_name}/{s.design.name}".encode())
    total = len(clients) * iterations
    done = 0
    for n in clients:
        _per, pages = split_pages(s.mapping_bytes, s.page_size, n)
        row: dict[str, Any] = {
            "clients": n,
            "pages": pages,
            "gbyte": gbyte(pages, s.page_size, n),
            "user": [],
            "system": [],
            "elapsed": [],
            "faults_per_cpu": [],
            "faults_per_sec": [],
        }
        for it in range(iterations):
            run_seed = (seed * 1_000_003 + n * 1009 + it + salt * 7919) & 0x7FFFFFFF
            res, _ev = run_once(s, n, run_seed, exact=exact)
            row["user"].append(round(res.user, 6))
            row["system"].append(round(res.system, 6))
            row["elapsed"].append(round(res.elapsed, 6))
            row["faults_per_cpu"].append(round(res.faults_per_cpu, 3))
            row["faults_per_sec"].append(round(res.faults_per_sec, 3))
            done += 1
            if progress is not None:
                progress(done, total)
        if s.isolated and not exact and s.isolated_task != "idle":
            window_seed = (seed * 1_000_003 + n * 1009 + iterations + salt * 7919) & 0x7FFFFFFF
            isolated_window(s, n, window_seed)
        out.append(row)
    return out


def isolated_window(s: PftSetup, nr_threads: int, seed: int) -> None:
    """Aggregated mode with isolated CPUs: :data:`ISOLATED_WINDOW_NS` of exact simulation with
    ``nr_threads`` workers placed as in the runs and the isolated tasks, whose latencies go to
    ``s.isolated_log`` (the workers' times are not used)."""
    from pcplab.mm import Machine

    per_worker, _total = split_pages(s.mapping_bytes, s.page_size, nr_threads)
    cpus = PLACEMENTS[s.placement](s.costs, s.distance, nr_threads, exclude=s.isolated)
    machine = (
        Machine.build(s.machine.topology, s.design.kernel_version)
        if s.machine.topology is not None
        else s.machine
    )
    run_exact(machine, s.design, s.costs, cpus, per_worker, s.distance, seed=seed,
              isolated=s.isolated, isolated_task=s.isolated_task, log=s.isolated_log,
              until_ns=ISOLATED_WINDOW_NS)
