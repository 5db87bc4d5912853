"""pft's mean-value model (the default, aggregated mode): each thread advances in chunks of many
faults.

Its private work is one span priced from the same constants as the exact mode (the design's fast
path is measured once by running its ``alloc_pages`` through the engine,
:func:`pcplab.sim.fault_prices.probe_design`); the shared resources (the mmap_lock line, each
zone's ``zone->lock``, each node's ``lru_lock``) are mean-value queues fed with the rates the other
active threads had in their last chunk; each node's write-back bandwidth is shared by the same
rates.  Tests check both modes agree on small cases.

``clear_page``: the kernel zeroes with an instruction that claims whole lines in the cache without
reading memory (x86 ``rep stosb``, POWER ``dcbz``, arm64 ``dc zva``), so the core clears at its
cache store rate (profile fact ``clear_bytes_per_cycle``); the node's memory only sees the later
write-back of the zeroed lines, and the node's write bandwidth (:meth:`CostModel.node_clear_bw`)
bounds what all its clearers together write back.  A thread is delayed only when the node's
write-back saturates.  ASSUMPTION: the caches buffer a fault's worth of dirty lines, so below
saturation the write-back overlaps the rest of the fault.
"""

from __future__ import annotations

import heapq
import math
import random

from pcplab.sim import costs as C
from pcplab.sim.costs import CostModel
from pcplab.sim.fault_prices import DesignProbe, FaultPrices
from pcplab.workloads.pft import RUN_JITTER, RUN_SHARED_FRACTION, THREAD_START_NS, RunResult

#: aggregated mode: at least this many chunks per thread
CHUNKS_PER_THREAD = 64


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
        common * math.exp(rng.gauss(-run_jitter * run_jitter / 2, run_jitter))
        if run_jitter
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
