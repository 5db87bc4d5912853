"""The mm-aware checker world: one execution of a :class:`~pcplab.check.scenario_language.Scenario`
under a design, on a tiny machine.

Checks (besides the kernel's lock discipline and the explorer's deadlock check): page conservation
with ``pcplab.mm.invariants.check_invariants`` after every step (through its exact fast path
``machine_consistent``; the full check runs only to describe a broken state); a block handed to two programs at
once; the design's drain postcondition after a drain, ``zone_pcp_disable`` or ``drain_dead_cpu``
that ran *quietly* (no other program step started or was under way during it; kworkers and IPIs
are part of the drain and do not count).  The postcondition is evaluated in a
:class:`~pcplab.kernel.ops.Checkpoint` step right after the call returns, which the partial-order
reduction treats as dependent with everything (it reads every CPU's lists).

Speed: :func:`scenario_factory` builds the world once (machine, design ``setup``, prefill) and
hands the explorer a :meth:`ScenarioWorld.clone` per execution — the machine copied container by
container (:mod:`pcplab.mm.snapshot`), a fresh kernel, new program generators — instead of
rebuilding it; ``tests/check/test_fast_reset.py`` checks that clones and rebuilds search alike.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from pcplab.check.keys import kernel_state_key
from pcplab.check.scenario_language import (
    MIGRATE_MOVABLE,
    ZONE_NAMES,
    Action,
    Scenario,
)
from pcplab.check.world import Violation, World
from pcplab.designs import lifecycle
from pcplab.designs import state as design_state
from pcplab.errors import PcplabError
from pcplab.kernel import ops
from pcplab.kernel.state import Kernel, Task
from pcplab.mm.invariants import check_invariants, machine_consistent


class ScenarioWorld(World):
    """One execution of ``scenario`` under ``design`` (a :class:`pcplab.designs.Design`)."""

    def __init__(self, design: Any, scenario: Scenario) -> None:
        from pcplab.mm.machine import Machine, tiny_topology

        sc = scenario
        version = sc.version or design.kernel_version
        topo = tiny_topology(
            nodes=1,
            cpus_per_node=sc.nr_cpus,
            zone_pages=sc.zone_pages,
            zone_names=ZONE_NAMES[len(sc.zone_pages)],
            pageblock_order=sc.pageblock_order,
            max_order=sc.max_order,
            thp=False,
            min_free_kbytes=0,
            name=f"check:{sc.name}",
        )
        # the explorer builds this once per scenario and clones it per execution (clone())
        machine = Machine.build(topo, version, batch=sc.batch, high=sc.high)
        kernel = Kernel(sc.nr_cpus, preempt_rt=sc.preempt_rt, nohz_full=sc.nohz_full,
                        machine=machine)  # fmt: skip
        kernel.record_events = False
        super().__init__(kernel)
        self.design = design
        self.scenario = sc
        self.machine = machine
        self.active: dict[int, Action] = {}  # task index -> action in progress
        self.activity = 0  # program actions started so far
        # tasks whose action started with nothing else running and saw no other start since
        self.quiet: set[int] = set()
        self.held: dict[tuple[int, int], tuple[int, int]] = {}  # (zone, pfn) -> (cpu, order)
        self.pending: Violation | None = None
        self.last: tuple[Task, Any] | None = None
        self.setup_violation: Violation | None = None
        kernel.state = design.setup(machine, kernel)
        design_state.state_key(kernel.state)  # an unsupported field: one clear error, now
        for cpu, z, n in sc.prefill:
            t = kernel.spawn(cpu, self._prefill, (z, n), name=f"prefill/{cpu}", prime=True)
            self._run_alone(t)
            if self.setup_violation is not None:
                break
        self.first_task = len(kernel.tasks)
        for cpu, prog in enumerate(sc.programs):
            # not primed: an action starts (and is judged quiet or not) when its CPU first runs
            kernel.spawn(cpu, self._program, (prog,), name=f"cpu{cpu}")

    # --- fast reset ---------------------------------------------------------------------------
    def cloneable(self) -> bool:
        """Whether :meth:`clone` can copy this world: it has not stepped since it was built, the
        prefill left every CPU at rest (no lock, window, IRQ, work or kworker) and the design
        design's state is one :func:`pcplab.designs.state.clone_state` copies exactly."""

        k = self.kernel
        if self.setup_violation is not None or k.owner or k.pcp_windows or self.pending:
            return False
        if self.active or self.held or self.activity:
            return False
        for c in k.cpus:
            if not c.online or c.current is not None or c.irq is not None:
                return False
            if c.pending_irqs or c.worklist or c.kworker is not None:
                return False
        for t in k.tasks[: self.first_task]:
            if not t.done or t.kind != "program" or t.held or t.windows or t.wait is not None:
                return False
            if t.gp or t.irq_task is not None or t.work is not None or t.op is not None:
                return False
            if t.spinning or t.daemon or t.irq_base or t.pool != t.cpu:
                return False
        for t in k.tasks[self.first_task :]:
            if t.op is not None or t.steps or t.done:
                return False
        st = k.state
        # the design declares its state; its fields say how to copy it (designs.state)
        if st is None or st.machine is not self.machine or st.kernel is not k:
            return False
        return design_state.cloneable(st)

    def clone(self) -> ScenarioWorld:
        """A new world in this (unstepped, :meth:`cloneable`) world's state: the machine copied
        with :func:`pcplab.mm.snapshot.clone_machine`, a fresh kernel holding copies of the
        finished prefill tasks, the design state copied (lock objects are shared: they carry only
        a name, ownership lives in the kernel), and new program generators.  Equivalent to
        ``ScenarioWorld(design, scenario)`` (same state key, same behaviour), several times
        cheaper."""
        from pcplab.mm.snapshot import clone_machine

        sc = self.scenario
        machine = clone_machine(self.machine)
        kernel = Kernel(sc.nr_cpus, preempt_rt=sc.preempt_rt, nohz_full=sc.nohz_full,
                        machine=machine)  # fmt: skip
        kernel.record_events = False
        w = ScenarioWorld.__new__(ScenarioWorld)
        World.__init__(w, kernel)
        w.design = self.design
        w.scenario = sc
        w.machine = machine
        w.active = {}
        w.activity = 0
        w.quiet = set()
        w.held = {}
        w.pending = None
        w.setup_violation = None
        new_st = design_state.clone_state(self.kernel.state, machine, kernel)
        kernel.state = new_st
        for t in self.kernel.tasks[: self.first_task]:
            c = Task(kernel, t.cpu, t.name, t.kind, t.index)
            # the _TASK_SCALARS a finished task may differ in from a new one (cloneable() made
            # sure it holds nothing)
            c.done = t.done
            c.retval = t.retval
            c.irq_depth = t.irq_depth
            c.preempt = t.preempt
            c.migrate = t.migrate
            c.rcu_nest = t.rcu_nest
            c.rt_locks = t.rt_locks
            c.mode = t.mode
            c.qs_seq = t.qs_seq
            c.steps = t.steps
            c.kill = t.kill
            c.gen = t.gen  # finished: no frame left
            kernel.tasks.append(c)
            kernel.cpus[t.cpu].tasks.append(c)
        last = self.last
        w.last = None if last is None else (kernel.tasks[last[0].index], last[1])
        w.first_task = self.first_task
        for cpu, prog in enumerate(sc.programs):
            kernel.spawn(cpu, w._program, (prog,), name=f"cpu{cpu}")
        return w

    # --- programs -------------------------------------------------------------------------------
    def _run_alone(self, t: Task) -> None:
        if t.done:
            return
        for _ in range(100000):
            v = self.step(t.index)
            # the invariants once, at the end: the same sequential paths are checked step by
            # step during the search anyway
            if v is None and t.done:
                v = self.check_state()
            if v is not None:
                # the design fails without any concurrency: report it as found at the start
                v.message = f"during the sequential prefill on cpu{t.cpu}: {v.message}"
                self.setup_violation = v
                return
            if t.done:
                return
            if t.op is not None and t.wait is not None and not self.kernel.can_run(t):
                raise PcplabError(f"scenario {self.scenario.name}: prefill blocked on cpu{t.cpu}")
        raise PcplabError(f"scenario {self.scenario.name}: prefill on cpu{t.cpu} does not end")

    def _prefill(self, ctx: Task, z: int, n: int) -> Any:
        zone = self.machine.zones[z]
        got = []
        for _ in range(n):
            pfn = yield from self.design.alloc_pages(ctx, zone, 0, MIGRATE_MOVABLE)
            if pfn is not None:
                got.append(pfn)
        for pfn in reversed(got):
            yield from self.design.free_pages(ctx, zone, pfn, 0)

    def _program(self, ctx: Task, prog: tuple[Action, ...]) -> Any:
        d = self.design
        zones = self.machine.zones
        mine: list[tuple[Any, int, int]] = []
        for a in prog:
            k = a.kind
            if k == "alloc":
                assert a.zone is not None  # validate(): alloc always names a zone
                self._start(ctx, a)
                pfn = yield from d.alloc_pages(ctx, zones[a.zone], a.order, a.mt)
                self._end(ctx)
                if pfn is not None:
                    self._got(ctx, a.zone, pfn, a.order)
                    mine.append((a.zone, pfn, a.order))
            elif k == "free":
                if not mine:
                    continue
                z, pfn, order = mine.pop()
                self._start(ctx, a)
                self._gone(z, pfn, order)
                yield from d.free_pages(ctx, zones[z], pfn, order)
                self._end(ctx)
            elif k == "drain":
                zone = None if a.zone is None else zones[a.zone]
                self._start(ctx, a)
                res = yield from d.drain_all_pages(ctx, zone, a.force)
                self._end(ctx)
                yield ops.Checkpoint("drain postcondition", func="drain_all_pages")
                self._post(ctx, a, zone, a.force, res)
            elif k == "pcp_disable":
                assert a.zone is not None  # validate(): pcp_disable always names a zone
                self._start(ctx, a)
                yield from d.zone_pcp_disable(ctx, zones[a.zone])
                self._end(ctx)
                yield ops.Checkpoint("drain postcondition", func="zone_pcp_disable")
                self._post(ctx, a, zones[a.zone], True, True)
            elif k == "pcp_enable":
                assert a.zone is not None  # validate(): pcp_enable always names a zone
                self._start(ctx, a)
                yield from d.zone_pcp_enable(ctx, zones[a.zone])
                self._end(ctx)
            elif k == "drain_dead":
                self._start(ctx, a)
                yield from d.drain_dead_cpu(ctx, a.cpu)
                self._end(ctx)
                yield ops.Checkpoint("drain postcondition", func="page_alloc_cpu_dead")
                self._post_dead(ctx, a)
            elif k == "user":
                yield from lifecycle.exit_to_user_mode(d, ctx)
            elif k == "kernel":
                yield ops.EnterKernel(func="syscall")
            elif k == "idle":
                yield from lifecycle.enter_idle(d, ctx)
            elif k == "offline":
                yield from lifecycle.takedown_cpu(d, ctx)
        while mine:
            # blocks still held at the end stay allocated; that is fine for conservation
            mine.pop()

    def _start(self, ctx: Task, a: Action) -> None:
        # a start disturbs every action judged quiet so far; this one is quiet if it runs alone.
        # (A set of task indices, not the start counter: the state key holds it, and two states
        # that differ only in how many actions have started so far behave alike.)
        self.quiet.clear()
        if not self.active and a.kind in _JUDGED:
            self.quiet.add(ctx.index)
        self.active[ctx.index] = a  # (described only when reported)
        self.activity += 1

    def _end(self, ctx: Task) -> bool:
        self.active.pop(ctx.index, None)
        return not self.active

    def _quiet_since(self, ctx: Task) -> bool:
        """Nothing else ran a program action since ``ctx``'s (which has ended) started."""
        return not self.active and ctx.index in self.quiet

    def _post(self, ctx: Task, a: Action, zone: Any, force: bool, res: Any) -> None:
        still_quiet = self._quiet_since(ctx)
        if not still_quiet or self.pending is not None:
            return
        msg = self.design.postcondition(self.machine, self.kernel.state, zone, force, res)
        if msg:
            self.pending = Violation(
                "postcondition",
                f"after {a.describe()} on cpu{ctx.cpu} with nothing running concurrently: {msg}",
                "__drain_all_pages" if a.kind == "drain" else "zone_pcp_disable",
                ctx.cpu,
                ctx.name,
            )

    def _post_dead(self, ctx: Task, a: Action) -> None:
        still_quiet = self._quiet_since(ctx)
        if not still_quiet or self.pending is not None:
            return
        cpu = a.cpu
        assert cpu is not None  # validate(): drain_dead always names a CPU
        for z in self.machine.zones:
            pcp = z.per_cpu_pageset[cpu]
            for lists in (pcp.lp, pcp.drain):
                if lists is not None and (lists.count or any(lists.lists)):
                    self.pending = Violation(
                        "postcondition",
                        f"drain_dead_cpu({cpu}) returned but {lists.name} still holds "
                        f"{sum(len(x) for x in lists.lists)} blocks (count {lists.count})",
                        "page_alloc_cpu_dead",
                        ctx.cpu,
                        ctx.name,
                    )
                    return

    def _got(self, ctx: Task, z: int, pfn: int, order: int) -> None:
        for p in range(pfn, pfn + (1 << order)):
            other = self.held.get((z, p))
            if other is not None and self.pending is None:
                self.pending = Violation(
                    "double-alloc",
                    f"page {p} of {self.machine.zones[z].name} handed to cpu{ctx.cpu} (order "
                    f"{order} block {pfn}) while cpu{other[0]} still holds it",
                    "alloc_pages",
                    ctx.cpu,
                    ctx.name,
                )
            self.held[(z, p)] = (ctx.cpu, order)

    def _gone(self, z: int, pfn: int, order: int) -> None:
        for p in range(pfn, pfn + (1 << order)):
            self.held.pop((z, p), None)

    def enabled(self) -> list[int]:
        if self.setup_violation is not None:
            return []
        return self.kernel.enabled_indices()

    # --- checks ---------------------------------------------------------------------------------
    def check(self, task: Task, op: Any) -> Violation | None:
        self.last = (task, op)
        if self.pending is not None:
            v, self.pending = self.pending, None
            return v
        return None

    def check_state(self) -> Violation | None:
        if self.setup_violation is not None:
            return self.setup_violation
        if machine_consistent(self.machine):
            return None  # the fast path: check_invariants would find nothing
        errs = check_invariants(self.machine)
        if errs:
            task, op = self.last if self.last is not None else (None, None)
            return Violation("page-lost", errs[0], _func(op), task.cpu if task else None,
                             task.name if task else "", [], None, list(errs[:8]))  # fmt: skip
        return None

    def classify(self, exc: BaseException, task: Task, op: Any) -> Violation:
        from pcplab.mm.errors import BadFree, DoubleAlloc

        v = super().classify(exc, task, op)
        if isinstance(exc, DoubleAlloc | BadFree):
            v.kind = "double-alloc"
            v.message = f"{type(exc).__name__}: {exc}"
        return v

    def state_key(self) -> Hashable:
        from pcplab.mm.invariants import state_key

        return (
            state_key(self.machine),
            kernel_state_key(self.kernel),
            design_state.state_key(self.kernel.state),
            self.task_keys(self.first_task),
            tuple(sorted(self.active)),
            tuple(sorted(self.quiet)),
        )

    def unguarded_key(self) -> Hashable:
        return design_state.unguarded_key(self.kernel.state)

    def serial_key(self) -> Hashable:
        # which actions run: a drain's postcondition is checked only when nothing ran beside it,
        # so the order of every action's start and end against the others' must be explored
        # (read only by the starts and ends themselves and after a global Checkpoint)
        return self.activity, len(self.active)

    def describe_state(self) -> list[str]:
        """The allocator state in a few lines, for counterexamples."""
        out = []
        for z in self.machine.zones:
            out.append(f"{z.name}: nr_free_pages={z.nr_free_pages} allocated={len(z.allocated)}")
            for pcp in z.per_cpu_pageset:
                sets = [pcp.lp] + ([pcp.drain] if pcp.drain is not None else [])
                desc = ", ".join(
                    f"{s.name.rsplit('/', 1)[-1]}: count={s.count} "
                    f"blocks={sum(len(x) for x in s.lists)}"
                    for s in sets
                )
                out.append(f"  cpu{pcp.cpu} high={pcp.high} batch={pcp.batch} {desc}")
        for c in self.kernel.cpus:
            r = c.running
            out.append(
                f"cpu{c.id}: {c.mode}{'' if c.online else ''} irqs "
                f"{'off' if c.irq_depth else 'on'} preempt={c.preempt_count} "
                f"locks=[{', '.join(str(x) for x in c.held_locks)}]"
                + (f" running {r.name}" if r is not None else "")
            )
        return out


def _func(op: Any) -> str:
    return (getattr(op, "func", "") or type(op).__name__) if op is not None else ""


def scenario_factory(design: Any, scenario: Scenario) -> Callable[[], ScenarioWorld]:
    """A world factory for the explorer: builds ``ScenarioWorld(design, scenario)`` once and
    returns :meth:`ScenarioWorld.clone` copies of it (a full rebuild when the world is not
    :meth:`~ScenarioWorld.cloneable`)."""
    template = ScenarioWorld(design, scenario)
    if not template.cloneable():
        return lambda: ScenarioWorld(design, scenario)
    return template.clone


#: actions whose postcondition is checked when they ran quietly (only they need the quiet record)
_JUDGED = frozenset({"drain", "pcp_disable", "drain_dead"})

#: Task slots a finished prefill task's copy takes over (containers stay fresh and empty)
_TASK_SCALARS = (
    "op", "done", "retval", "irq_depth", "irq_base", "preempt", "migrate", "rcu_nest", "rt_locks",
    "mode", "qs_seq", "daemon", "steps", "kill", "spinning", "pool",
)  # fmt: skip


__all__ = ["ScenarioWorld", "scenario_factory"]
