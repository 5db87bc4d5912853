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

The simulator side -- the exact and the mean-value runs, the fault prices and thread placement
-- is :mod:`pcplab.sim.pft` (with :mod:`pcplab.sim.pft_aggregate`, :mod:`pcplab.sim.fault_prices`
and :mod:`pcplab.sim.placement`); this module keeps what mmtests defines and the allocator-side
rules both modes share (zonelists, which zone serves each worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pcplab.errors import PcplabError
from pcplab.mm.zonelist import zonelists

#: pft-bench caps the client count ("benchmark-enforced limit", mmtests ce991ffa)
MAX_CLIENTS = 128

#: ASSUMPTION: pthread_create + first wake-up of each worker, one after another
THREAD_START_NS = 20_000


#: ASSUMPTION: run-to-run spread of a worker's speed (lognormal sigma), plus a machine-wide
#: factor of half that sigma shared by all workers of a run (clock, memory placement); gives the
#: 0.3-1 % CoeffVar typical of pft tables (mmtests-pft.md §6)
RUN_JITTER = 0.01


RUN_SHARED_FRACTION = 0.5


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


def zonelist(machine: Any, distance: list[list[int]], node: int) -> list[Any]:
    """Zones an allocation on ``node`` tries: local node's zones highest first, then the other
    nodes in the CONFIG_NUMA kernel's order (``find_next_best_node``: by distance, equidistant
    nodes round-robin; :mod:`pcplab.mm.zonelist`, shared with the slow path)."""
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
