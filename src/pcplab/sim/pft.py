"""mmtests ``pft`` on the simulator: the exact run, set-up, one run and the table.

The mmtests semantics (mapping size, the split between threads, client counts, metrics) are in
:mod:`pcplab.workloads.pft`; this module re-exports them, so ``pcplab.sim.pft`` is the whole pft
API.

Per-fault path (both modes price the same pieces with :mod:`pcplab.sim.costs`): the user store,
fault entry, ``down_read_trylock(mmap_lock)`` — an atomic on a cacheline all threads of the
process share, so it bounces — the fault handling, the allocation through the **design's**
``alloc_pages`` (refills with ``rmqueue_bulk`` under ``zone->lock``), ``clear_page``, the LRU
add in pagevecs of 15 pages under the node's ``lru_lock``, ``up_read`` (the same shared line),
fault exit.

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

Thread placement (:data:`PLACEMENTS`, ``PftSetup.placement``): :mod:`pcplab.sim.placement`.
First-touch allocation serves each thread from its own node's highest zone.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from pcplab.designs import lifecycle
from pcplab.designs.base import Context
from pcplab.errors import PcplabError
from pcplab.kernel import ops
from pcplab.kernel.locks import Spinlock
from pcplab.mm import Machine
from pcplab.mm.constants import MIGRATE_MOVABLE
from pcplab.mm.ops import zone_watermark_ok
from pcplab.sim import costs as C
from pcplab.sim.costs import CostModel
from pcplab.sim.engine import Simulator
from pcplab.sim.fault_prices import DesignProbe, FaultPrices, probe_design
from pcplab.sim.pft_aggregate import CHUNKS_PER_THREAD, run_aggregated
from pcplab.sim.placement import (
    PLACEMENTS,
    RECLAIM_DISTANCE,
    place_threads,
    place_threads_fork_balance,
)
from pcplab.workloads import isolated as iso_mod
from pcplab.workloads.pft import (
    MAX_CLIENTS,
    RUN_JITTER,
    RUN_SHARED_FRACTION,
    THREAD_START_NS,
    RunResult,
    assign_zones,
    client_counts,
    distances,
    gbyte,
    mapping_bytes,
    round_up,
    split_pages,
    zonelist,
)
from pcplab.workloads.slowpath import MemoryEnv

#: exact mode refuses runs above this many faults (it simulates a few thousand per second)
EXACT_MAX_PAGES = 1 << 20


#: ASSUMPTION: data one fault touches besides the page it clears (PTE and PMD lines, the struct
#: page, vma and mm counters, the memcg and LRU pagevec, stack): ~32 lines.  With the page it is
#: the footprint between two pcp sections that decides whether the pageset's lines stay in L1
#: (``CostModel.footprint_bytes``): 6 KiB with 4 KiB pages (L1), 66 KiB with 64 KiB pages (L2).
FAULT_DATA_BYTES = 2048


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

    sim = Simulator(machine, costs=costs, design=design, seed=seed, noise=noise, nohz_full=isolated)
    env = None
    if isolated:
        from pcplab.sim.api_noise import spawn_isolated

        env = MemoryEnv(design, machine)
        env.now = lambda: sim.now
        spawn_isolated(
            sim,
            env,
            list(isolated),
            iso_mod.program_for(isolated_task),
            log if log is not None else iso_mod.LatencyLog(),
        )
    running = [len(cpus)]
    mm = _Mm()
    nodes = sorted({costs.places[c].node for c in range(machine.nr_cpus)})
    lru_lock = {n: Spinlock(f"node{n} lru_lock") for n in nodes}
    lruvec = {n: _Lruvec(n) for n in nodes}
    user_ns = costs.work_ns("user_page")

    user_entry = design.on_user_entry

    def worker(ctx: Context, pages: int, node: int) -> Generator[Any, Any, None]:
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

    if machine is None:
        machine = Machine.build(profile.topology(thp=False), design.kernel_version)
    costs = CostModel.for_profile(profile) if profile is not None else CostModel.generic(machine)
    costs = costs.with_config(kernel_config or C.KernelConfig())
    costs.footprint_bytes = costs.page_size + FAULT_DATA_BYTES
    if profile is not None and profile.thp:
        # pft uses base pages at run time, but the kernel is built with THP: its pcp struct has
        # the THP list (attempt [2]'s lock lands on a fifth line, kernel-pcp.md §11.2)
        costs.pageset_size = design.size_statement(
            Machine.build(profile.topology(), design.kernel_version)
        )
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
        res = _run_exact_on_fresh_machine(s, cpus, per_worker, seed)
        return res, per_worker * nr_threads * 20
    zone_of = assign_zones(
        s.machine, s.distance, [s.costs.places[c].node for c in cpus], per_worker
    )
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

    per_worker, _total = split_pages(s.mapping_bytes, s.page_size, nr_threads)
    cpus = PLACEMENTS[s.placement](s.costs, s.distance, nr_threads, exclude=s.isolated)
    _run_exact_on_fresh_machine(s, cpus, per_worker, seed, until_ns=ISOLATED_WINDOW_NS)


def _run_exact_on_fresh_machine(
    s: PftSetup, cpus: list[int], per_worker: int, seed: int, until_ns: int | None = None
) -> RunResult:
    """:func:`run_exact` of ``s`` on a machine built afresh from its topology (every run starts
    from the same allocator state), with ``s``'s isolated CPUs and their task."""
    machine = (
        Machine.build(s.machine.topology, s.design.kernel_version)
        if s.machine.topology is not None
        else s.machine
    )
    return run_exact(
        machine,
        s.design,
        s.costs,
        cpus,
        per_worker,
        s.distance,
        seed=seed,
        isolated=s.isolated,
        isolated_task=s.isolated_task,
        log=s.isolated_log,
        until_ns=until_ns,
    )

__all__ = [
    "CHUNKS_PER_THREAD", "EXACT_MAX_PAGES", "FAULT_DATA_BYTES", "ISOLATED_WINDOW_NS", "MAX_CLIENTS",
    "PLACEMENTS", "RECLAIM_DISTANCE", "RUN_JITTER", "RUN_SHARED_FRACTION", "THREAD_START_NS",
    "DesignProbe", "FaultPrices", "PftSetup", "RunResult", "assign_zones", "client_counts",
    "distances", "gbyte", "isolate", "isolated_window", "mapping_bytes", "place_threads",
    "place_threads_fork_balance", "probe_design", "round_up", "run_aggregated", "run_exact",
    "run_once", "run_table", "setup", "split_pages", "zonelist",
]  # fmt: skip
