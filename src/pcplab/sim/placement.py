"""Where pft's worker threads run: two models of the scheduler's placement of new threads.

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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pcplab.errors import PcplabError
from pcplab.sim.costs import CostModel

#: node_reclaim_distance (RECLAIM_DISTANCE): fork balancing stops above it (kernel/sched/topology.c)
RECLAIM_DISTANCE = 30


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
        if all(
            len({group_of[c] for c in range(ncpu) if span_of[c] == s}) == 1 for s in set(span_of)
        ):
            continue  # same span as the child: degenerate
        members: dict[int, list[int]] = {}
        groups_in_span: dict[int, list[int]] = {}
        for c in range(ncpu):
            members.setdefault(group_of[c], []).append(c)
            gs = groups_in_span.setdefault(span_of[c], [])
            if group_of[c] not in gs:
                gs.append(group_of[c])
        span_size = {s: sum(1 for c in range(ncpu) if span_of[c] == s) for s in set(span_of)}
        levels.append(
            _Level(name, numa, fork, span_of, group_of, groups_in_span, members, span_size)
        )
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
            f"pft with {nr_threads} threads needs that many CPUs; have {ncpu - len(set(exclude))}"
        )
    excluded = frozenset(exclude)
    allowed = [c for c in range(ncpu) if c not in excluded]
    levels = _sched_levels(costs, distance, costs.node_reclaim_distance)
    # the fork chain: contiguous SD_BALANCE_FORK levels from the bottom (select_task_rq_fair)
    chain: list[_Level] = []
    for lv in reversed(levels):
        if not lv.fork:
            break
        chain.append(lv)
    chain.reverse()
    running = [0] * ncpu

    def members(lv: _Level, g: int) -> list[int]:
        if not excluded:
            return lv.members[g]
        return [c for c in lv.members[g] if c not in excluded]

    def span_size(lv: _Level, cpu: int) -> int:
        span = lv.span_of[cpu]
        if not excluded:
            return lv.span_size[span]
        return sum(1 for c in allowed if lv.span_of[c] == span)

    def stats(cpus: list[int]) -> tuple[int, int, int]:
        r = sum(running[c] for c in cpus)
        idle = sum(1 for c in cpus if running[c] == 0)
        gtype = 0 if r < len(cpus) else (1 if r == len(cpus) else 2)  # spare/fully busy/over
        return r, idle, gtype

    def pick(this: int) -> int:
        cpu = this
        for lv in chain:
            local = lv.group_of[cpu]
            lr, lidle, ltype = stats(members(lv, local))
            best: tuple[int, int, int, int] | None = None
            for g in lv.groups_in_span[lv.span_of[cpu]]:
                m = members(lv, g)
                if g == local or not m:  # (a group can be all excluded CPUs)
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
                move = lr > r + 1  # both busy: a clearly lighter group (avg_load test)
            if move:
                cands = members(lv, g)
                cpu = next(
                    (c for c in cands if running[c] == 0), min(cands, key=lambda c: (running[c], c))
                )
        return cpu

    first = allowed[0]  # the launcher: CPU 0 unless excluded
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
