"""One execution of a checked system: a :class:`~pcplab.kernel.state.Kernel` plus what to check.

The search strategies (:mod:`pcplab.check.dfs`, :mod:`pcplab.check.randomized`) know nothing
of designs or the mm model; they ask their factory for a fresh :class:`World` for every execution
(generators cannot be copied, so the search is stateless and re-executes schedule prefixes,
:meth:`World.replay_steps`) and ask it to step tasks, to check invariants and for a state key
(its kernel part: :func:`pcplab.check.keys.kernel_state_key`).  A factory may build each world
from scratch or clone a prebuilt one (:func:`pcplab.check.scenario_world.scenario_factory`);
worlds must not share mutable state.
:class:`World` classifies what went wrong into the checker's violation kinds; subclasses (the mm
scenario world in :mod:`pcplab.check.scenario_world`, toy worlds in tests) add invariants.
"""

from __future__ import annotations

import traceback
from collections.abc import Hashable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from pcplab.check.keys import kernel_state_key
from pcplab.kernel import ops
from pcplab.kernel.checks import Checks, Finding
from pcplab.kernel.locks import LocalLockVar
from pcplab.kernel.oops import KERNEL_KINDS, VIOLATION_KINDS, fault_address, null_deref_field
from pcplab.kernel.state import (
    BLOCKED,
    RETRY_ALIKE,
    CheckViolation,
    Kernel,
    KernelViolation,
    Task,
)
from pcplab.kernel.workqueue import WaitForWork

#: the checker's violation kinds (``run_check``'s ``violation.kind``)
KINDS = VIOLATION_KINDS

# frames of the engine itself are not part of an oops' call trace
_ENGINE_MODULES = ("pcplab/kernel/state.py", "pcplab/check/world.py", "pcplab/check/explore.py")


@dataclass
class Violation:
    kind: str
    message: str
    function: str = ""
    cpu: int | None = None
    task: str = ""
    call_trace: list[str] = field(default_factory=list)
    address: int | None = None
    details: list[str] = field(default_factory=list)  # the broken state, one line each


def footprint(kernel: Kernel, t: Task) -> frozenset[Hashable] | None:
    """What ``t``'s next step may touch; ``None`` = global (dependent with every step).

    Conservative by construction: besides the op's own object, a step touches everything the task
    currently holds (locks, pcp windows) because the design's plain code between two yields runs
    under that protection, and its CPU (scheduling, IRQ and preemption state).  Racy loads/stores,
    work and pcp windows on another CPU's data also touch that CPU.  A load or store of an object
    with no known owner CPU, grace periods, IPIs and CPU hotplug are global.

    A lock has two tokens: its state (``("lock", key)``: who owns it, touched by every lock and
    unlock op on it) and what it protects (the key itself: touched by every step of a holder, and by
    an acquisition that succeeds).  An attempt that fails — a spin or mutex lock that finds the
    lock taken and waits, a trylock that returns 0 — reads only the state, so it commutes with the
    holder's steps inside its critical section (the reduction that lets a waiting CPU not multiply
    the holder's states).  A local lock is per CPU: its key is (lock, cpu), so two CPUs inside their
    own ``local_lock_irqsave(&pagesets.lock)`` do not depend on each other.

    Objects are named by :func:`ident` (type and name), not by ``id()``: the explorer compares
    footprints recorded in different executions, whose worlds are different copies.
    """
    toks: set[Hashable] = {("cpu", t.cpu)}
    if t.held:
        for lk in t.held:
            toks.add((ident(lk), t.cpu) if type(lk) is LocalLockVar else ident(lk))
    if t.windows:
        wins = kernel.pcp_windows
        for k in t.windows:
            w = wins.get(k)
            toks.add(ident(w[1]) if w is not None else ("PcpLists", None))
    if t.work is not None:
        toks.add(("work", ident(t.work)))
    # Any: dispatched on its exact type (``tp is ...``), which mypy cannot narrow through
    op: Any = t.op
    if op is None:
        return frozenset(toks)
    tp = type(op)
    if tp in _LOCK_OPS or tp in _MUTEX_OPS:
        lk = op.mutex if tp in _MUTEX_OPS else op.lock
        local = tp is ops.LocalLock or tp is ops.LocalUnlock
        key: Hashable = (ident(lk), t.cpu) if local else ident(lk)
        toks.add(("lock", key))
        if tp not in _ACQUIRE_OPS or ((id(lk), t.cpu) if local else id(lk)) not in kernel.owner:
            toks.add(key)  # an acquisition that succeeds (or a release) works under the lock
    elif tp is ops.Load or tp is ops.Store:
        owner = op.owner if op.owner is not None else getattr(op.obj, "cpu", None)
        if not isinstance(owner, int):
            return None
        toks.add(("cpu", owner))
        toks.add((ident(op.obj), op.attr))
    elif tp is ops.PcpEnter or tp is ops.PcpExit:
        toks.add(ident(op.lists))
        toks.add(("cpu", op.owner))
    elif tp is ops.Access:
        fields = op.field if type(op.field) is tuple else (op.field,)
        if op.obj is None:
            toks.update(("global", f) for f in fields)
        else:
            o = ident(op.obj)
            toks.add(o)
            toks.update((o, f) for f in fields)
        if op.owner is not None:
            toks.add(("cpu", op.owner))
    elif tp is ops.Work:
        if op.owner is not None:
            toks.add(("cpu", op.owner))
        if op.data is not None:
            toks.add(ident(op.data))
    elif tp is ops.QueueWorkOn:
        toks.add(("work", ident(op.work)))
        toks.add(("wq", op.cpu))
    elif tp is ops.FlushWork:
        toks.add(("work", ident(op.work)))
    elif tp is WaitForWork:
        toks.add(("wq", t.cpu))
    elif tp in _GLOBAL_OPS:
        return None
    return frozenset(toks)


def ident(obj: Any) -> Hashable:
    """A name for ``obj`` that is the same in every copy of a world: its type and its ``name``
    (zones, pcp list sets, locks, work items carry one).  Two objects of one name, or unnamed
    objects of one type, share the name: that can only make steps look dependent, never hide a
    dependence."""
    name = getattr(obj, "name", None)
    return (type(obj).__name__, name if type(name) is str else None)


_LOCK_OPS = frozenset(
    {ops.SpinLock, ops.SpinTrylock, ops.SpinUnlock, ops.LocalLock, ops.LocalUnlock}
)
_MUTEX_OPS = frozenset({ops.MutexLock, ops.MutexTrylock, ops.MutexUnlock})
_ACQUIRE_OPS = frozenset(
    {ops.SpinLock, ops.SpinTrylock, ops.MutexLock, ops.MutexTrylock, ops.LocalLock}
)
_GLOBAL_OPS = frozenset(
    {ops.SynchronizeRcu, ops.IpiCall, ops.GoOffline, ops.WaitCpuDead, ops.Checkpoint}
)


class World:
    """A kernel with tasks; subclasses build it and add checks (override :meth:`check`).

    The world switches the kernel's rule checks on (:class:`pcplab.kernel.checks.Checks`: owner
    rules, data races, lockdep).  Their findings are predictions: the first one is kept in
    :attr:`soft` and the execution goes on (the explorer reports it only when its search finds
    nothing concrete); everything else a step exposes is returned by :meth:`step` at once.
    """

    kernel: Kernel

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        # the lock graph is shared by the executions of one search: keyed by the design, which
        # a scenario world sets after building its kernel (hence the lazy key)
        kernel.checks = Checks(kernel, resolve_key=self._lock_memory_key,
                               learn_from=self._lock_learning_from)  # fmt: skip
        self.soft: Violation | None = None
        self.soft_noted = False  # the explorer has seen self.soft
        self.tasks = kernel.tasks
        self._key_cache: dict[int, tuple[int, Hashable]] = {}
        self._fp_cache: dict[int, tuple[int, int, frozenset[Hashable] | None]] = {}
        self.last_result: Any = None

    # --- for the explorer ----------------------------------------------------------------------
    def enabled(self) -> list[int]:
        return self.kernel.enabled_indices()

    def footprint(self, index: int) -> frozenset[Hashable] | None:
        # A footprint depends on the task's pending op, held locks, windows and work item (all
        # changed only by its own steps) and its CPU; it is reused until one of those moves.  A
        # racy access without an owner reads ``obj.cpu``, which others may change, and a lock
        # acquisition reads the lock's owner: those are not cached.
        t = self.tasks[index]
        hit = self._fp_cache.get(index)
        if hit is not None and hit[0] == t.steps and hit[1] == t.cpu:
            return hit[2]
        fp = footprint(self.kernel, t)
        op: Any = t.op  # Any: dispatched on its exact type, as in footprint()
        tp = type(op)
        # an acquisition's footprint depends on whether the lock is free: not cached
        if not ((tp is ops.Load or tp is ops.Store) and op.owner is None) and tp not in _ACQUIRE_OPS:
            self._fp_cache[index] = (t.steps, t.cpu, fp)
        return fp

    def _lock_learning_from(self) -> int | None:
        """The first task lockdep learns from: a scenario world's first program (its prefill is
        setup, and a clone does not re-run it), None while a scenario world is still being built;
        0 for other worlds."""
        if getattr(self, "scenario", None) is None:
            return 0
        return getattr(self, "first_task", None)

    def _lock_memory_key(self) -> Any:
        d = getattr(self, "design", None)
        return getattr(d, "name", None) if d is not None else None

    def state_key(self) -> Hashable:
        return (kernel_state_key(self.kernel), self.task_keys())

    def unguarded_key(self) -> Hashable:
        """State that steps share without an op naming it (override; the scenario world returns
        the design state's own fields): a step that changes it depends on every other step."""
        return None

    def serial_key(self) -> Hashable:
        """State that every step reading it also changes, or reads only at a global op (override;
        the scenario world's record of running actions): steps that change it are ordered among
        themselves (they share the token ``("serial",)``)."""
        return None

    def task_keys(self, first: int = 0) -> tuple[Hashable, ...]:
        """Every task's :func:`task_key`, recomputed only for tasks that stepped since."""
        cache = self._key_cache
        out = []
        for t in self.tasks[first:]:
            hit = cache.get(t.index)
            if hit is None or hit[0] != t.steps:
                hit = (t.steps, task_key(t))
                cache[t.index] = hit
            out.append(hit[1])
        return tuple(out)

    def sleeps_at_once(self, index: int) -> bool:
        """Task ``index`` is about to try a :data:`~pcplab.kernel.state.RETRY_ALIKE` op that would
        put it to sleep: the attempt changes nothing but the task's wait, so the atomic search
        runs it at the end of the transition that reached it (see :func:`~pcplab.check.dfs.
        explore_dfs`)."""
        t = self.tasks[index]
        return type(t.op) in RETRY_ALIKE and self.kernel.would_block(t)

    def memo(self) -> tuple[dict[int, Any], dict[int, Any]]:
        """Copies of the per-task key and footprint caches, for :meth:`adopt_memo`."""
        return dict(self._key_cache), dict(self._fp_cache)

    def adopt_memo(self, memo: tuple[dict[int, Any], dict[int, Any]]) -> None:
        """Take over the caches :meth:`memo` returned in a world that reached this same state by
        the same schedule (an explorer's prefix replay is deterministic): every entry is still
        checked against the task's step count, so only the tasks that stepped since are
        summarised again."""
        self._key_cache = dict(memo[0])
        self._fp_cache = dict(memo[1])

    def step(self, index: int, check: bool = True) -> Violation | None:
        """Run one step of task ``index``; return the violation it exposed, if any.  ``check=False``
        skips the invariants (prefix replay of a schedule already checked)."""
        task = self.tasks[index]
        op = task.op
        try:
            self.last_result = self.kernel.step(task)
        except CheckViolation as exc:
            return finding_violation(exc.finding)
        except KernelViolation as exc:
            kind = KERNEL_KINDS.get(exc.kind, "sleep-in-atomic")
            if exc.kind == "self-deadlock" and "IRQ handler" in exc.message:
                kind = "inconsistent-lock-state"  # lockdep: {HARDIRQ-ON-W} -> {IN-HARDIRQ-W}
            return Violation(kind, f"{exc.kind}: {exc.message}", exc.func or _func(op), task.cpu,
                             task.name)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - design code may raise anything: that is a bug found
            return self.classify(exc, task, op)
        if self.soft is None:
            f = self.kernel.checks.soft
            if f is not None:
                self.soft = finding_violation(f)
        return self.check(task, op) if check else None

    def replay_steps(self, choices: list[int]) -> None:
        """``step(i, check=False)`` for each ``i``: re-running a schedule prefix that was checked
        in an earlier execution (its result is ignored, so neither is any exception)."""
        if type(self).step is not World.step:
            for i in choices:
                self.step(i, check=False)
            return
        tasks = self.tasks
        kstep = self.kernel.step
        for i in choices:
            try:
                self.last_result = kstep(tasks[i])
            except Exception:  # noqa: BLE001, S112 - as step(check=False): reported, then ignored
                continue
        if self.soft is None and self.kernel.checks.soft is not None:
            self.soft = finding_violation(self.kernel.checks.soft)

    def check(self, task: Task, op: Any) -> Violation | None:
        """Checks of the step itself (e.g. a postcondition when a drain returns); override."""
        return None

    def check_state(self) -> Violation | None:
        """Invariants of the current state (override).  The explorer calls it once per distinct
        state, random modes after every step."""
        return None

    def at_end(self) -> Violation | None:
        """Checks once no task can run: deadlock (override to add final-state checks)."""
        left = self.kernel.unfinished()
        if left:
            lines = [f"{t.name} on cpu{t.cpu} waits for {describe_wait(self.kernel, t)}"
                     for t in left]  # fmt: skip
            return Violation("deadlock", "no task can run but some have not finished",
                             _func(left[0].wait or left[0].op), left[0].cpu, left[0].name, [],
                             None, lines)  # fmt: skip
        return None

    def classify(self, exc: BaseException, task: Task, op: Any) -> Violation:
        frames = _design_frames(exc.__traceback__)
        func = frames[-1] if frames else _func(op)
        msg = str(exc)
        attr = null_deref_field(exc)
        if attr is not None:
            if frames == [] and op is not None:
                func = _func(op)  # e.g. a Load through NULL, done by the kernel for the design
            return Violation(
                "null-deref",
                f"NULL pointer dereference ({msg})",
                func,
                task.cpu,
                task.name,
                list(reversed(frames)) or [func],
                fault_address(attr),
            )
        return Violation("oops", f"{type(exc).__name__}: {msg}", func, task.cpu, task.name,
                         list(reversed(frames)))  # fmt: skip


def finding_violation(f: Finding) -> Violation:
    """A rule finding of :mod:`pcplab.kernel.checks` as a checker violation."""
    return Violation(f.kind, f.message, f.func, f.cpu, f.task, [], None, list(f.details))


def task_key(t: Task) -> Hashable:
    """A task's local state: the chain of generator frames (function, position, locals).

    Locals are taken by name in the code object's own order.  ``frame.f_locals`` is one dict per
    frame that CPython keeps and updates in place: a variable bound after the first look at it is
    added at the end, so its order depends on *when* the frame was summarised before, not only on
    the frame.  Taken in that order and without names, one state could get two keys (a state
    explored twice) or two states one key (if their values happened to line up: a state the cache
    would wrongly prune)."""
    parts: list[Any] = []
    g: Any = t.gen
    while g is not None:
        f = getattr(g, "gi_frame", None)
        if f is None:
            break
        code = f.f_code
        names = _LOCAL_NAMES.get(code)
        if names is None:
            names = _LOCAL_NAMES[code] = code.co_varnames + code.co_cellvars + code.co_freevars
        loc = f.f_locals
        parts.append((code.co_name, f.f_lasti,
                      tuple([(n, _summ(loc[n])) for n in names if n in loc])))  # fmt: skip
        g = g.gi_yieldfrom
    return (t.done, tuple(parts))


#: by code object, the names its frames' locals can have, in a fixed order (see task_key)
_LOCAL_NAMES: dict[Any, tuple[str, ...]] = {}


def _summ(v: Any, depth: int = 0) -> Hashable:
    """A local's value as far as it can differ between two states: containers by their whole
    content (a list cut short, or a dict taken by its size, would give two states that differ
    there one key), other objects by their name (mm and kernel objects, whose state is keyed on
    its own) or type."""
    if v is None or isinstance(v, int | str | float):
        return v
    if depth < _SUMM_DEPTH:
        if isinstance(v, tuple | list):
            return tuple([_summ(x, depth + 1) for x in v])
        if isinstance(v, dict):
            return ("dict", frozenset([(_summ(k, depth + 1), _summ(x, depth + 1))
                                       for k, x in v.items()]))  # fmt: skip
        if isinstance(v, set | frozenset):
            return ("set", frozenset([_summ(x, depth + 1) for x in v]))
    if isinstance(v, Task):
        return ("task", v.index)
    name = getattr(v, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(v, dict | set | frozenset | tuple | list):
        return (type(v).__name__, len(v))  # nested deeper than _SUMM_DEPTH
    return getattr(v, "__qualname__", None) or type(v).__name__


#: how deep :func:`_summ` follows nested containers (deeper ones count by their size)
_SUMM_DEPTH = 4


def describe_wait(kernel: Kernel, t: Task) -> str:
    w = kernel.wait_key(t)
    if w is None:
        return "nothing (not scheduled: its CPU is busy)"
    kind = w[0]
    if kind in ("spinlock", "mutex"):
        return f"{kind} {w[1]} held by {w[2].name if w[2] else 'nobody'}"
    if kind == "local_lock":
        return f"local lock {w[1]} of cpu{w[2]} held by {w[3].name if w[3] else 'nobody'}"
    if kind == "rcu_gp":
        return "a grace period; readers still inside: " + ", ".join(x.name for x in w[1])
    if kind == "flush_work":
        return f"work {w[1].name} to finish"
    if kind == "ipi":
        return f"IPI handler {w[1].name if w[1] else '?'}"
    if kind == "work":
        return "work"
    if kind == "cpu_dead":
        return f"cpu{w[1]} to go offline"
    if kind == "cpu_down":
        return f"cpu{w[1]}'s pending IPIs and running work item before it can go offline"
    return str(w)


def generator_chain(t: Task) -> list[str]:
    """Function names of a live task's generator chain, innermost first (its call trace)."""
    names = []
    g: Any = t.gen
    while g is not None and getattr(g, "gi_frame", None) is not None:
        names.append(g.gi_frame.f_code.co_name)
        g = g.gi_yieldfrom
    return list(reversed(names))


def _func(op: Any) -> str:
    return (getattr(op, "func", "") or type(op).__name__) if op is not None else ""


def _design_frames(tb: TracebackType | None) -> list[str]:
    """Function names of the traceback frames in design code (outermost first)."""
    out = []
    for fs in traceback.extract_tb(tb):
        path = fs.filename.replace("\\", "/")
        if any(path.endswith(m) for m in _ENGINE_MODULES):
            continue
        out.append(fs.name)
    return out


__all__ = ["BLOCKED", "KINDS", "Violation", "World", "finding_violation", "footprint", "task_key"]
