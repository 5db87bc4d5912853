"""Checker scenarios: a tiny machine, one short program per CPU, and the world that runs them.

Write your own scenario in a Python file and pass it with ``pcplab check --scenario-file F``; the
file defines ``SCENARIOS`` (a list of :class:`Scenario`) or a single ``SCENARIO``::

    from pcplab.check.scenario import Scenario, alloc, free, drain, go_idle

    SCENARIO = Scenario(
        name="my-race",
        description="cpu0 frees while cpu1 drains every zone",
        programs=(
            (alloc(0), alloc(1), free(), free()),   # cpu0
            (drain(None),),                          # cpu1
        ),
        prefill=((0, 0, 2),),                        # cpu0 starts with 2 pages on its pcp list
    )

Program steps (all run through the design under test, on the program's CPU):
:func:`alloc` (``alloc_pages``), :func:`free` (``free_pages`` of the program's most recent block
still held), :func:`drain` (``drain_all_pages(zone or NULL, force)``), :func:`pcp_disable` /
:func:`pcp_enable` (``zone_pcp_disable``/``enable``; the pair must be in one program),
:func:`drain_dead` (``drain_dead_cpu``: waits until that CPU is offline), :func:`enter_user`,
:func:`enter_kernel`, :func:`go_idle`, :func:`go_offline` (must be the program's last step).

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

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

from pcplab.check.keys import kernel_state_key
from pcplab.check.world import Violation, World
from pcplab.designs import lifecycle
from pcplab.designs import state as design_state
from pcplab.errors import PcplabError
from pcplab.kernel import ops
from pcplab.kernel.state import Kernel, Task
from pcplab.mm.invariants import check_invariants, machine_consistent

MIGRATE_UNMOVABLE = 0
MIGRATE_MOVABLE = 1


@dataclass(frozen=True)
class Action:
    """One step of a scenario program (use the builder functions below)."""

    kind: str
    order: int = 0
    zone: int | None = 0
    mt: int = MIGRATE_MOVABLE
    force: bool = False
    cpu: int | None = None

    def describe(self) -> str:
        z = "NULL" if self.zone is None else f"zone{self.zone}"
        return {
            "alloc": f"alloc_pages(order={self.order}, {z}, mt={self.mt})",
            "free": "free_pages(last block)",
            "drain": f"drain_all_pages({z}{', force_all_cpus' if self.force else ''})",
            "pcp_disable": f"zone_pcp_disable({z})",
            "pcp_enable": f"zone_pcp_enable({z})",
            "drain_dead": f"drain_dead_cpu(cpu{self.cpu})",
        }.get(self.kind, self.kind)


def alloc(order: int = 0, zone: int = 0, mt: int = MIGRATE_MOVABLE) -> Action:
    return Action("alloc", order=order, zone=zone, mt=mt)


def free() -> Action:
    return Action("free")


def drain(zone: int | None = None, force: bool = False) -> Action:
    return Action("drain", zone=zone, force=force)


def pcp_disable(zone: int = 0) -> Action:
    return Action("pcp_disable", zone=zone)


def pcp_enable(zone: int = 0) -> Action:
    return Action("pcp_enable", zone=zone)


def drain_dead(cpu: int) -> Action:
    return Action("drain_dead", cpu=cpu)


def enter_user() -> Action:
    return Action("user")


def enter_kernel() -> Action:
    return Action("kernel")


def go_idle() -> Action:
    return Action("idle")


def go_offline() -> Action:
    return Action("offline")


_ZONE_NAMES = {1: ("Normal",), 2: ("DMA32", "Normal"), 3: ("DMA", "DMA32", "Normal")}


@dataclass(frozen=True)
class Scenario:
    """A tiny machine and one program per CPU (``programs[cpu]``).

    ``zone_pages``: managed pages of each zone (one node).  ``batch``/``high`` override the kernel's
    pcp sizing on every zone.  ``prefill``: ``(cpu, zone, n)`` — before the search, that CPU
    allocates ``n`` order-0 pages and frees them again, alone, so its pcp list starts non-empty.
    ``version``: kernel rules (None: the design's own).  ``max_order``/``pageblock_order`` are
    shrunk so that a zone of a few dozen pages still has a normal buddy structure.
    """

    name: str
    description: str
    programs: tuple[tuple[Action, ...], ...]
    zone_pages: tuple[int, ...] = (32,)
    batch: int = 2
    high: int = 4
    prefill: tuple[tuple[int, int, int], ...] = ()
    version: str | None = None
    preempt_rt: bool = False
    nohz_full: tuple[int, ...] = ()
    max_order: int = 3
    pageblock_order: int = 3
    standard: bool = True
    notes: str = ""

    @property
    def nr_cpus(self) -> int:
        return len(self.programs)

    def validate(self) -> None:
        """Refuse a scenario that cannot run as meant (PcplabError naming the field), so a broken
        scenario is exit 2 and never a verdict about the design: no zone of zero pages, orders
        within the zone's buddy, pcp ``batch``/``high`` as the kernel keeps them (``high >=
        batch >= 1``: mm/page_alloc.c ``zone_highsize`` never sizes high below the batch), a
        ``drain_dead(cpu)`` only for a CPU whose program ends with ``go_offline()`` (otherwise
        it waits forever), each ``pcp_disable`` closed by a ``pcp_enable`` in the same program."""
        what = f"scenario {self.name!r}"

        def fail(problem: str) -> PcplabError:
            return PcplabError(f"{what}: {problem}")

        def is_int(x: Any) -> TypeGuard[int]:
            return isinstance(x, int) and not isinstance(x, bool)

        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > 80:
            raise PcplabError(f"a scenario needs a name of 1-80 characters, got {self.name!r:.60}")
        if any(c.isspace() or not c.isprintable() for c in self.name):
            raise fail("the name must not contain spaces or control characters")
        if not isinstance(self.description, str):
            raise fail("description must be a string")
        if not isinstance(self.programs, tuple | list) or not self.programs:
            raise fail("needs at least one program (a tuple of steps per CPU)")
        if len(self.programs) > MAX_SCENARIO_CPUS:
            raise fail(f"{len(self.programs)} CPUs; the checker takes at most {MAX_SCENARIO_CPUS}")
        if not is_int(self.max_order) or not 0 <= self.max_order <= 10:
            raise fail(f"max_order must be an integer within 0..10, got {self.max_order!r:.40}")
        if not is_int(self.pageblock_order) or not 0 <= self.pageblock_order <= self.max_order:
            raise fail(f"pageblock_order must be within 0..max_order, got {self.pageblock_order!r:.40}")
        if not isinstance(self.zone_pages, tuple | list) or len(self.zone_pages) not in _ZONE_NAMES:
            raise fail(f"zone_pages needs 1 to 3 zones, got {self.zone_pages!r:.60}")
        nz = len(self.zone_pages)
        for z, pages in enumerate(self.zone_pages):
            if not is_int(pages) or not 1 << self.max_order <= pages <= MAX_SCENARIO_PAGES:
                raise fail(
                    f"zone {z} has {pages!r:.40} pages; give {1 << self.max_order}.."
                    f"{MAX_SCENARIO_PAGES} (at least one max_order block)"
                )
        if not is_int(self.batch) or not 1 <= self.batch <= MAX_SCENARIO_PAGES:
            raise fail(f"batch must be an integer >= 1, got {self.batch!r:.40}")
        if not is_int(self.high) or not self.batch <= self.high <= MAX_SCENARIO_PAGES:
            raise fail(f"high must be an integer >= batch ({self.batch}), got {self.high!r:.40}")
        if self.version is not None:
            from pcplab.mm.version import parse_kernel

            if not isinstance(self.version, str):
                raise fail(f"version must be a kernel version string or None, got {self.version!r:.40}")
            parse_kernel(self.version)
        for flag in ("preempt_rt", "standard"):
            if not isinstance(getattr(self, flag), bool):
                raise fail(f"{flag} must be True or False")
        n = len(self.programs)
        if not isinstance(self.nohz_full, tuple | list) or not all(
            is_int(c) and 0 <= c < n for c in self.nohz_full
        ):
            raise fail(f"nohz_full must list CPUs within 0..{n - 1}")
        offline_at_end = {
            cpu for cpu, prog in enumerate(self.programs)
            if isinstance(prog, tuple | list) and prog and getattr(prog[-1], "kind", None) == "offline"
        }  # fmt: skip
        for cpu, prog in enumerate(self.programs):
            if not isinstance(prog, tuple | list):
                raise fail(f"cpu{cpu}'s program must be a tuple of steps, got {type(prog).__name__}")
            if len(prog) > MAX_PROGRAM_STEPS:
                raise fail(f"cpu{cpu} has {len(prog)} steps; at most {MAX_PROGRAM_STEPS}")
            disabled: set[int] = set()
            for i, a in enumerate(prog):
                where = f"cpu{cpu} step {i}"
                if not isinstance(a, Action):
                    raise fail(
                        f"{where} is {a!r:.40}, not an Action (use alloc(), free(), drain(), ...)"
                    )
                if a.kind not in ACTION_KINDS:
                    raise fail(f"{where}: unknown step kind {a.kind!r:.40}")
                if a.zone is not None and (not is_int(a.zone) or not 0 <= a.zone < nz):
                    raise fail(f"{where} uses zone {a.zone!r:.20}, the machine has {nz}")
                if a.kind in ("alloc", "pcp_disable", "pcp_enable") and a.zone is None:
                    raise fail(f"{where}: {a.kind} needs a zone number")
                if a.kind == "alloc":
                    if not is_int(a.order) or not 0 <= a.order <= self.max_order:
                        raise fail(f"{where}: alloc order {a.order!r:.20} is outside "
                                   f"0..{self.max_order} (max_order)")  # fmt: skip
                    if not is_int(a.mt) or not 0 <= a.mt < MIGRATE_PCPTYPES:
                        raise fail(f"{where}: migratetype {a.mt!r:.20} is not 0, 1 or 2 "
                                   "(unmovable, movable, reclaimable)")  # fmt: skip
                if not isinstance(a.force, bool):
                    raise fail(f"{where}: force must be True or False")
                if a.kind == "offline" and i != len(prog) - 1:
                    raise fail(f"cpu{cpu}: go_offline() must be the last step")
                if a.kind == "drain_dead":
                    if not is_int(a.cpu) or not 0 <= a.cpu < n:
                        raise fail(f"drain_dead(cpu{a.cpu!r:.20}): no such CPU")
                    if a.cpu == cpu or a.cpu not in offline_at_end:
                        raise fail(
                            f"{where}: drain_dead(cpu{a.cpu}) waits for cpu{a.cpu} to go offline; "
                            "that CPU's program must end with go_offline() (and be another CPU)"
                        )
                if a.kind == "pcp_disable":
                    if a.zone in disabled:
                        raise fail(f"{where}: zone {a.zone} is disabled twice without enable")
                    disabled.add(a.zone)  # type: ignore[arg-type]
                if a.kind == "pcp_enable":
                    if a.zone not in disabled:
                        raise fail(f"{where}: pcp_enable({a.zone}) without an earlier pcp_disable")
                    disabled.discard(a.zone)
            if disabled:
                raise fail(f"cpu{cpu}: pcp_disable of zone(s) {sorted(disabled)} never re-enabled")
        if not isinstance(self.prefill, tuple | list):
            raise fail("prefill must be a tuple of (cpu, zone, pages)")
        filled = [0] * nz
        for entry in self.prefill:
            if not (isinstance(entry, tuple | list) and len(entry) == 3
                    and all(is_int(x) for x in entry)):  # fmt: skip
                raise fail(f"bad prefill {entry!r:.40}; use (cpu, zone, pages)")
            cpu, z, count = entry
            if not (0 <= cpu < n and 0 <= z < nz and 0 <= count):
                raise fail(f"bad prefill {(cpu, z, count)}: cpu, zone or pages out of range")
            filled[z] += count
            if filled[z] > self.zone_pages[z]:
                raise fail(f"prefill asks for {filled[z]} pages of zone {z}, which has "
                           f"{self.zone_pages[z]}")  # fmt: skip


#: checker scenario limits: the search is exponential in CPUs and steps, so larger is a typo
MAX_SCENARIO_CPUS = 16
MAX_PROGRAM_STEPS = 256
MAX_SCENARIO_PAGES = 1 << 16
MIGRATE_PCPTYPES = 3  # unmovable, movable, reclaimable: the types with pcp lists
ACTION_KINDS = frozenset(
    {"alloc", "free", "drain", "pcp_disable", "pcp_enable", "drain_dead", "user", "kernel",
     "idle", "offline"}
)  # fmt: skip


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
            zone_names=_ZONE_NAMES[len(sc.zone_pages)],
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
                quiet = self._start(ctx, a)
                res = yield from d.drain_all_pages(ctx, zone, a.force)
                self._end(ctx)
                yield ops.Checkpoint("drain postcondition", func="drain_all_pages")
                self._post(ctx, a, quiet, zone, a.force, res)
            elif k == "pcp_disable":
                assert a.zone is not None  # validate(): pcp_disable always names a zone
                quiet = self._start(ctx, a)
                yield from d.zone_pcp_disable(ctx, zones[a.zone])
                self._end(ctx)
                yield ops.Checkpoint("drain postcondition", func="zone_pcp_disable")
                self._post(ctx, a, quiet, zones[a.zone], True, True)
            elif k == "pcp_enable":
                assert a.zone is not None  # validate(): pcp_enable always names a zone
                self._start(ctx, a)
                yield from d.zone_pcp_enable(ctx, zones[a.zone])
                self._end(ctx)
            elif k == "drain_dead":
                quiet = self._start(ctx, a)
                yield from d.drain_dead_cpu(ctx, a.cpu)
                self._end(ctx)
                yield ops.Checkpoint("drain postcondition", func="page_alloc_cpu_dead")
                self._post_dead(ctx, a, quiet)
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

    def _start(self, ctx: Task, a: Action) -> int:
        quiet = not self.active
        self.active[ctx.index] = a  # (described only when reported)
        self.activity += 1
        return self.activity if quiet else -1

    def _end(self, ctx: Task) -> bool:
        self.active.pop(ctx.index, None)
        return not self.active

    def _quiet_since(self, quiet: int) -> bool:
        """Nothing else ran a program action since the one that returned ``quiet`` started (it
        must have ended already)."""
        return not self.active and quiet == self.activity

    def _post(self, ctx: Task, a: Action, quiet: int, zone: Any, force: bool, res: Any) -> None:
        still_quiet = self._quiet_since(quiet)
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

    def _post_dead(self, ctx: Task, a: Action, quiet: int) -> None:
        still_quiet = self._quiet_since(quiet)
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


#: Task slots a finished prefill task's copy takes over (containers stay fresh and empty)
_TASK_SCALARS = (
    "op", "done", "retval", "irq_depth", "irq_base", "preempt", "migrate", "rcu_nest", "rt_locks",
    "mode", "qs_seq", "daemon", "steps", "kill", "spinning", "pool",
)  # fmt: skip


# --- the standard set ----------------------------------------------------------------------------


def _std() -> list[Scenario]:
    return [
        Scenario(
            "free-vs-global-drain",
            "cpu0 allocates an order-0 and an order-1 block and frees them while cpu1 runs "
            "drain_all_pages(NULL) (direct reclaim's drain, the path of the seed's NULL oops)",
            programs=((alloc(0), alloc(1), free(), free()), (drain(None),)),
            prefill=((0, 0, 1),),
        ),
        Scenario(
            "alloc-vs-zone-drain",
            "cpu0 refills and allocates while cpu1 drains zone0 (CMA / compaction drain); cpu0's "
            "list starts with pages",
            programs=((alloc(0), free(), alloc(0)), (drain(0),)),
            prefill=((0, 0, 2),),
        ),
        Scenario(
            "two-cpus-free-forced-drain",
            "cpu0 and cpu1 free pages while cpu2 runs a forced drain_all_pages(zone0)",
            programs=((alloc(0), free()), (alloc(0), free()), (drain(0, force=True),)),
            prefill=((0, 0, 1),),
        ),
        Scenario(
            "pcp-disable",
            "cpu1 runs zone_pcp_disable (high=0, batch=1, forced drain) and zone_pcp_enable while "
            "cpu0 allocates and frees",
            programs=((alloc(0), free()), (pcp_disable(0), pcp_enable(0))),
            prefill=((0, 0, 1),),
        ),
        Scenario(
            "concurrent-drainers",
            "a global and a zone drain race for pcpu_drain_mutex while cpu2 frees",
            programs=((drain(None),), (drain(0),), (alloc(0), free())),
            prefill=((2, 0, 1),),
        ),
        Scenario(
            "idle-and-user",
            "nohz_full cpu0 frees then returns to user space, cpu1 goes idle, cpu2 drains all "
            "zones (grace periods must not wait for EQS CPUs)",
            programs=((alloc(0), free(), enter_user()), (go_idle(),), (drain(None),)),
            prefill=((0, 0, 1), (1, 0, 1)),
            nohz_full=(0,),
        ),
        Scenario(
            "cpu-offline",
            "cpu1 frees and goes offline; cpu0 waits for it and runs drain_dead_cpu(1) while "
            "cpu2 runs a global drain",
            programs=((drain_dead(1),), (alloc(0), free(), go_offline()), (drain(None),)),
            prefill=((1, 0, 1),),
        ),
        Scenario(
            "two-zones",
            "two zones: cpu0 frees into zone1 while cpu1 drains all zones",
            programs=((alloc(0, zone=1), free()), (drain(None),)),
            zone_pages=(16, 32),
            prefill=((0, 0, 1), (1, 1, 1)),
        ),
        Scenario(
            "high-orders",
            "cpu0 allocates and frees order-3 and order-2 blocks (the highest pcp orders) while "
            "cpu1 drains zone0",
            programs=((alloc(3), alloc(2), free(), free()), (drain(0),)),
            zone_pages=(64,),
            prefill=((0, 0, 1),),
        ),
    ]


def _extra() -> list[Scenario]:
    return [
        Scenario(
            "stress-forced-global-drain",
            "cpu0 allocates and frees while cpu1 runs the seed's stress-test drain, "
            "__drain_all_pages(NULL, force_all_cpus=true): forced, so the NULL-zone branch that "
            "oopses in rcu-v1 is never taken (why a day of it did not find the bug)",
            programs=((alloc(0), alloc(1), free(), free()), (drain(None, force=True),)),
            prefill=((0, 0, 1),),
            standard=False,
        ),
        Scenario(
            "rt-free-vs-global-drain",
            "free-vs-global-drain on a PREEMPT_RT kernel (local locks and zone->lock sleep; "
            "sleeping with IRQs disabled is reported)",
            programs=((alloc(0), alloc(1), free(), free()), (drain(None),)),
            prefill=((0, 0, 1),),
            preempt_rt=True,
            standard=False,
        ),
        Scenario(
            "big-mix",
            "4 CPUs, 2 zones: two CPUs allocate and free in both zones while one drains all and "
            "then one zone, and one runs zone_pcp_disable/enable (for --mode random or pct)",
            programs=(
                (alloc(0), alloc(1), free(), free(), alloc(0, zone=1), free()),
                (alloc(0, zone=1), alloc(0), free(), free(), alloc(1, zone=1), free()),
                (drain(None), drain(1)),
                (pcp_disable(0), pcp_enable(0)),
            ),
            zone_pages=(32, 32),
            prefill=((0, 0, 2), (1, 1, 2)),
            standard=False,
        ),
    ]


STANDARD: list[Scenario] = _std()
#: named scenarios outside the standard set ('all' does not run them)
EXTRA: list[Scenario] = _extra()


def scenario_names() -> list[str]:
    return [s.name for s in STANDARD]


def get_scenario(name: str, extra: Iterable[Scenario] = ()) -> Scenario:
    for s in list(extra) + STANDARD + EXTRA:
        if s.name == name:
            return s
    known = [s.name for s in list(extra) + STANDARD + EXTRA]
    raise PcplabError(f"unknown scenario {name!r}; use one of: {', '.join(known)} or 'all'")


def load_scenario_file(path: str) -> list[Scenario]:
    """Scenarios defined by a user's Python file (``SCENARIOS`` list or ``SCENARIO``), each
    validated (:meth:`Scenario.validate`); any problem is one PcplabError naming the file."""
    import os
    import runpy

    if not isinstance(path, str) or not path:
        raise PcplabError("scenario file name is empty")
    if os.path.isdir(path):
        raise PcplabError(f"scenario file {path} is a directory; give a .py file")
    if not os.path.exists(path):
        raise PcplabError(f"scenario file {path} not found")
    try:
        ns = runpy.run_path(path, run_name="pcplab_scenarios")
    except FileNotFoundError:
        raise PcplabError(f"scenario file {path} not found") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a user file can fail in any way
        raise PcplabError(
            f"scenario file {path} failed to load: {type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    found = ns.get("SCENARIOS")
    if found is None and "SCENARIO" in ns:
        found = [ns["SCENARIO"]]
    if (
        not isinstance(found, list | tuple)
        or not found
        or not all(isinstance(s, Scenario) for s in found)
    ):
        raise PcplabError(
            f"scenario file {path} must define SCENARIOS (a non-empty list of "
            "pcplab.check.scenario.Scenario) or SCENARIO"
        )
    names: set[str] = set()
    for s in found:
        try:
            s.validate()
        except PcplabError as exc:
            raise PcplabError(f"scenario file {path}: {exc}") from None
        if s.name in names:
            raise PcplabError(f"scenario file {path}: two scenarios are named {s.name!r}")
        names.add(s.name)
    return list(found)


__all__ = [
    "Action",
    "EXTRA",
    "STANDARD",
    "Scenario",
    "ScenarioWorld",
    "alloc",
    "drain",
    "drain_dead",
    "enter_kernel",
    "enter_user",
    "free",
    "get_scenario",
    "go_idle",
    "go_offline",
    "load_scenario_file",
    "pcp_disable",
    "pcp_enable",
    "scenario_factory",
    "scenario_names",
]
