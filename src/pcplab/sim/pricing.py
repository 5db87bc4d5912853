"""What each executed op costs: one price per op type, from the cost model and the engine's state.

:data:`PRICES` maps an op type to its price function ``(sim, cpu, task, op, t) -> (ns, kind)``
(``kind``: ``"user"``, ``"kernel"`` or ``"sleep"``; ops not listed cost nothing, in the kernel).
The per-architecture figures come from :class:`~pcplab.sim.costs.CostModel` (lock pair vs
local_lock, IRQ flags, pageset lines of the design's layout, the buddy path's call overhead,
CONFIG_DEBUG_PREEMPT checks); the engine adds what depends on the run:

* cacheline transfers by distance for lock words and ``Load``/``Store``/``Work.data`` objects
  (:mod:`pcplab.sim.cache`);
* SMT siblings slowing each other (a core's number of busy CPUs, ``_core_busy``);
* clear_page at the core's cache store rate with the node's memory writing the zeroed lines back
  in turn (:meth:`Pricing._clear_ns`);
* a seeded lognormal jitter on user time and priced work (a table of ``_NOISE_TABLE`` draws);
* a grace period's remaining time for ``synchronize_rcu`` (a sleep).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from pcplab.kernel import ops
from pcplab.kernel.state import Task
from pcplab.sim import costs as C
from pcplab.sim.cache import CacheLines
from pcplab.sim.cpu import CpuSim

_NOISE_TABLE = 8192
_FLAG_OPS = (
    ops.IrqSave, ops.IrqRestore, ops.PreemptDisable, ops.PreemptEnable, ops.MigrateDisable,
    ops.MigrateEnable, ops.RcuReadLock, ops.RcuReadUnlock,
)  # fmt: skip


class _RatelimitState:
    """``printk_ratelimit_state`` (5.17 kernel/printk/printk.c): one line for all CPUs."""

    name = "printk_ratelimit_state"


class Pricing(CacheLines):
    """Prices ops (:data:`PRICES`) and keeps the state prices depend on."""

    def _init_pricing(
        self, machine: Any, design: Any, kernel_state: Any, seed: int, noise: float
    ) -> None:
        costs = self.costs
        nrng = np.random.default_rng(seed)
        if noise > 0:
            tab = np.exp(nrng.normal(-noise * noise / 2, noise, _NOISE_TABLE))
        else:
            tab = np.ones(_NOISE_TABLE)
        self._noise = [float(x) for x in tab]
        self._ni = 0
        self._gp_rng = random.Random(seed ^ 0x9E3779B9)
        self._gp_deadline: dict[Task, int] = {}
        self._core_busy: dict[int, int] = {}
        self._unit_ns: dict[str, float] = {}
        self._call_ns: dict[str, float] = {}
        # per-operation prices (sim/costs.py ArchOps, KernelConfig), by irqsave flag
        self._lock_ns = (costs.spin_lock_ns(False), costs.spin_lock_ns(True))
        self._unlock_ns = (costs.spin_unlock_ns(False), costs.spin_unlock_ns(True))
        self._local_ns = (costs.local_lock_ns(), costs.local_unlock_ns())
        self._irq_ns = (costs.irq_save_ns(), costs.irq_restore_ns())
        self._line_ns = costs.line_cycles() / costs.clock_ghz
        size = costs.pageset_size
        if size is None and design is not None:
            size = design.size_statement(machine)
        self._pageset = costs.pageset_prices(size)
        self._debug_check_ns = costs.debug_check_ns()
        self._debug_slow_ns = costs.debug_slow_check_ns()
        # pcp locks by id -> owning CPU: a design that takes its own CPU's pcp lock got the
        # pointer from this_cpu_ptr(), which CONFIG_DEBUG_PREEMPT checks (costs.py)
        st = kernel_state
        self._pcp_lock_cpu: dict[int, int] = {}
        for locks in getattr(st, "pcp_lock", {}).values():
            for cpu_, lk in enumerate(locks):
                self._pcp_lock_cpu[id(lk)] = cpu_
        for cpu_, lk in enumerate(getattr(st, "pagesets_spin", []) or []):
            self._pcp_lock_cpu[id(lk)] = cpu_
        #: the global ``printk_ratelimit_state`` line (DEBUG_PREEMPT's preemptible-code path)
        self._ratelimit = _RatelimitState()
        #: DEBUG_PREEMPT checks that ran in preemptible code (each wrote the shared line)
        self.preempt_checks_slow = 0
        self._speeds = [1.0] + [costs.smt_speed(k) for k in range(1, 65)]
        # per node: when its memory has written back every zeroed line queued so far (clear_page)
        self._wb_free: dict[int, float] = {}

    def _jitter(self) -> float:
        i = self._ni + 1
        if i == _NOISE_TABLE:
            i = 0
        self._ni = i
        return self._noise[i]

    def _speed(self, c: CpuSim) -> float:
        return self._speeds[self._core_busy.get(c.core, 1)]

    def _pcp_lock_extra(self, cpu: int, preemptible: int, t: int) -> float:
        """A pcp lock's own line (when the design's layout puts it apart from the lists) and,
        on a DEBUG_PREEMPT kernel, the ``this_cpu_ptr()`` check that found the task
        preemptible: its local work plus a write of the global ratelimit line."""
        extra = self._pageset.lock_line_ns
        if preemptible and self.costs.kernel_config.debug_preempt:
            self.preempt_checks_slow += 1
            extra += self._debug_slow_ns + self._write(cpu, self._ratelimit, t)
        return extra

    def _price(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        """The price of ``op`` (see :data:`PRICES`)."""
        price = PRICES.get(type(op))
        return price(self, c, task, op, t) if price is not None else (0, "kernel")

    # --- one price function per op type (PRICES) ---------------------------------------------

    def _p_work(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        kind = op.kind
        if kind == "clear_page":
            return self._clear_ns(c, op.n, t) * self._jitter(), "kernel"
        per = self._unit_ns.get(kind)
        if per is None:
            per = self._unit_ns[kind] = self.costs.work_ns(kind, 1)
        call = self._call_ns.get(kind)
        if call is None:
            call = self._call_ns[kind] = self.costs.work_call_ns(kind)
        base = per * op.n + call
        extra = self._write(c.id, op.data, t) if op.data is not None else 0.0
        return (base / self._speed(c)) * self._jitter() + extra, "kernel"

    def _p_sleep(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return max(0, int(op.ns)), "sleep"

    def _p_user(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return op.ns / self._speed(c) * self._jitter(), "user"

    def _p_irq_save(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return self._irq_ns[0], "kernel"

    def _p_irq_restore(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return self._irq_ns[1], "kernel"

    def _p_flag(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return C.FLAG_CYCLES / self.costs.clock_ghz, "kernel"

    def _p_spin_lock(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return self._write(c.id, op.lock, t) + self._lock_ns[op.irqsave], "kernel"

    def _p_mutex_lock(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return self._write(c.id, op.mutex, t) + C.ATOMIC_CYCLES / self.costs.clock_ghz, "kernel"

    def _p_spin_unlock(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return self._unlock_ns[op.irqrestore], "kernel"

    def _p_mutex_unlock(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return C.HIT_CYCLES / self.costs.clock_ghz, "kernel"

    def _p_local_lock(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return self._local_ns[0], "kernel"

    def _p_local_unlock(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return self._local_ns[1], "kernel"

    def _p_load(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        # a dependent load of one line (e.g. the seed's pcp->lp before its lists)
        return self._read(c.id, op.obj) + self._line_ns, "kernel"

    def _p_store(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return self._write(c.id, op.obj, t) + C.HIT_CYCLES / self.costs.clock_ghz, "kernel"

    def _p_pcp_enter(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        cpu = c.id
        ns = self._write(cpu, op.lists) + C.HIT_CYCLES / self.costs.clock_ghz
        ns += self._pageset.enter_ns
        if op.owner == cpu:
            ns += self._debug_check_ns  # this_cpu_ptr(zone->per_cpu_pageset)
        return ns, "kernel"

    def _p_synchronize_rcu(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        deadline = self._gp_deadline.pop(task, t)
        if deadline > t:
            return deadline - t, "sleep"
        return 0, "kernel"

    def _p_queue_work(self, c: CpuSim, task: Task, op: Any, t: int) -> tuple[float, str]:
        return C.QUEUE_WORK_NS, "kernel"

    def _clear_ns(self, c: CpuSim, n: int, t: int) -> float:
        """clear_page of ``n`` pages (first touch: the CPU's node).  The core zeroes them in its
        cache at its store rate (profile fact ``clear_bytes_per_cycle``: ``rep stosb``, ``dcbz``,
        ``dc zva`` claim whole lines without reading memory); the node's memory then takes the
        write-back of all its clearers in turn, a FIFO at ``node_clear_bw``.  The clearing CPU
        waits only for write-back backlog beyond one page.  ASSUMPTION: the caches absorb about
        one page of dirty lines per clearer before its stores stall."""
        costs = self.costs
        nbytes = n * costs.page_size
        cache_ns = nbytes / (costs.core_clear_bw() * self._speeds[self._core_busy.get(c.core, 1)])
        node_bw = costs.node_clear_bw()
        free = self._wb_free.get(c.node, 0.0)
        done = (free if free > t else float(t)) + nbytes / node_bw
        self._wb_free[c.node] = done
        wait = done - t - costs.page_size / node_bw
        return wait if wait > cache_ns else cache_ns


#: op type -> its price function; an op type not listed costs nothing (``PcpExit``, ``Access``,
#: ``EnterUser`` ...)
PRICES: dict[type, Callable[[Pricing, CpuSim, Task, Any, int], tuple[float, str]]] = {
    ops.Work: Pricing._p_work,
    ops.Sleep: Pricing._p_sleep,
    ops.UserRun: Pricing._p_user,
    ops.IrqSave: Pricing._p_irq_save,
    ops.IrqRestore: Pricing._p_irq_restore,
    **{tp: Pricing._p_flag for tp in _FLAG_OPS[2:]},
    ops.SpinLock: Pricing._p_spin_lock,
    ops.SpinTrylock: Pricing._p_spin_lock,
    ops.MutexLock: Pricing._p_mutex_lock,
    ops.MutexTrylock: Pricing._p_mutex_lock,
    ops.SpinUnlock: Pricing._p_spin_unlock,
    ops.MutexUnlock: Pricing._p_mutex_unlock,
    ops.LocalLock: Pricing._p_local_lock,
    ops.LocalUnlock: Pricing._p_local_unlock,
    ops.Load: Pricing._p_load,
    ops.Store: Pricing._p_store,
    ops.PcpEnter: Pricing._p_pcp_enter,
    ops.SynchronizeRcu: Pricing._p_synchronize_rcu,
    ops.QueueWorkOn: Pricing._p_queue_work,
}
