"""Exhaustive depth-first search over the interleavings of a :class:`~pcplab.check.world.World`.

:func:`explore_dfs`: exhaustive depth-first search.  Stateless: generators cannot be copied, so
every new branch takes a fresh world from the factory (scenarios: a clone of the prebuilt
initial world) and replays the schedule prefix (CHESS / loom style).
Reductions: **sleep sets** (Godefroid) over the footprint-based dependence relation of
:func:`pcplab.check.world.footprint`; an optional **preemption bound** (switching away from a
task that could have continued costs one preemption; Musuvathi & Qadeer, PLDI'07); and an
optional **state cache** keyed by kernel state + mm state + every task's generator frames, which
prunes a state already explored with a subset of the current sleep set and at least the current
remaining preemption budget.
CAVEAT: sleep sets combined with a preemption bound can skip an interleaving that is only
reachable within the bound through a pruned branch (Musuvathi & Qadeer's "context-bounded POR"
fixes this with extra work we do not do), so "exhaustive within bound N" means: every schedule
of the reduced search with at most N preemptions.  With ``bound=None`` the search is exhaustive
(up to the soundness of the dependence relation and of the state key).
**Atomic mode** (``atomic=True``; what ``pcplab check --bound -1`` runs): the optimistic
synchronisation-based reduction of Stoller & Cohen ("Optimistic synchronization-based
state-space reduction", TACAS 2003 / Formal Methods in System Design 29(3), 2006).  Only
synchronisation ops are scheduling points; after one, the task runs on through its
:func:`invisible` ops (work, unmarked accesses, pcp list windows) in the same transition.  The
reduction is sound for every safety property of the full search *if* the design obeys its
locking discipline in every explored execution: each data access is ordered with every
conflicting access of another CPU by synchronisation, so moving it next to the synchronisation
op before it changes no outcome (Lipton's movers).  The checker verifies exactly that
discipline on every access (:mod:`pcplab.kernel.checks`: owner rules, KCSAN-style races), so a
design that breaks it gets a ``lock-not-held`` or ``data-race`` report instead of a verdict the
reduction could have falsified; marked racy accesses (``Load``/``Store``, ``Access(marked=True)``)
stay scheduling points, as Stoller's reduction keeps volatile accesses visible.  The sleep sets
then use the footprint of each whole transition as it ran (a block's footprint is known only
after it ran; a task the state cache marked done without running it here stays awake), and a
transition that changed state no op names (a design's own fields written by plain code,
:meth:`World.unguarded_key`) counts as dependent with every other; one that started or ended a
scenario action (:meth:`World.serial_key`) is ordered with the others that did.
Measured on the standard scenarios (``benchmarks/bench_check.py --atomic``): the same verdicts
on every mutant, unbounded, and fewer states.
**Early sleep** (atomic mode): a transition that leaves its task at a wait that would block now
(:data:`~pcplab.kernel.state.RETRY_ALIKE`: ``flush_work``, a kworker's wait for work) ends with
that attempt.  A failed attempt changes nothing but the task's wait, and the task retries once
its waker made it ready, so the reachable states are the same up to which sleeper had tried;
without it every "about to sleep" was a state of its own, and a v5.17 drain's state space grew
by the product of its kworkers' and flusher's (``two-cpus-free-forced-drain``: 325,423 states and
208 s before, 22,159 states and 9 s with it and the keys of :mod:`pcplab.check.keys`).
``tests/check/test_state_cache.py`` compares the scheduling-point states with and without it.

Predicted violations are kept as :mod:`pcplab.check.search` says.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

from pcplab.check.search import SearchResult, WorldFactory
from pcplab.check.world import Violation, World
from pcplab.kernel import ops
from pcplab.kernel.checks import forget_lock_memory


class _Frame:
    """One node of the DFS stack (slotted: the explorer makes one per search-tree node)."""

    __slots__ = (
        "enabled", "sleep", "last", "preempts", "done", "choice", "cost", "auto", "bfp",
        "sleep_fps", "memo",
    )  # fmt: skip

    def __init__(
        self,
        enabled: list[int],
        sleep: frozenset[int],
        last: int | None,
        preempts: int,
    ) -> None:
        self.enabled = enabled
        self.sleep = sleep
        self.last = last
        self.preempts = preempts
        self.done: list[int] = []
        self.choice = -1
        self.cost = 0
        self.auto = 0  # steps of the chosen task run on after the choice (atomic mode)
        # the footprint of each transition explored from here as it ran, and the sleeping tasks'
        self.bfp: dict[int, frozenset[Hashable] | None] = {}
        self.sleep_fps: dict[int, frozenset[Hashable] | None] = {}
        self.memo: Any = None  # the world's summary caches at this node (World.memo)


def _child_sleep(fr: _Frame, t: int) -> frozenset[int]:
    """The sleep set of the child reached by ``t``: a task stays asleep (Godefroid) if its
    transition, as it ran when it was explored, is independent of ``t``'s as it just ran.  A
    transition's footprint is taken after it ran (:func:`explore_dfs`'s ``take``), so what its
    plain code did is in it; a task the state cache marked done without running it here has no
    known transition and stays awake."""
    ft = fr.bfp[t]
    if ft is None:
        return frozenset()
    out = []
    for u in fr.sleep:
        fu = fr.sleep_fps.get(u)
        if fu is not None and ft.isdisjoint(fu):
            out.append(u)
    for u in fr.done:
        if u == t or u not in fr.bfp:
            continue
        fu = fr.bfp[u]
        if fu is not None and ft.isdisjoint(fu):
            out.append(u)
    return frozenset(out)


def _sleep_fps(fr: _Frame, sleep: frozenset[int]) -> dict[int, frozenset[Hashable] | None]:
    return {u: fr.bfp[u] if u in fr.bfp else fr.sleep_fps[u] for u in sleep}


def invisible(op: Any) -> bool:
    """An op the atomic mode runs on without a scheduling point: pure work, an unmarked access
    checked by the owner and data-race rules, a pcp list window (its accesses are checked the
    same way), ``migrate_disable``/``migrate_enable``.  Everything that synchronises or races on purpose (locks, IRQ and preemption
    state, RCU, work items, IPIs, context changes, ``Load``/``Store`` and marked accesses) stays a
    scheduling point."""
    tp = type(op)
    if tp is ops.Access:
        return not op.marked
    return tp in _INVISIBLE_OPS


#: ``migrate_disable()`` changes only its own task (tasks of a checked world never migrate)
_INVISIBLE_OPS = frozenset({ops.Work, ops.PcpEnter, ops.PcpExit, ops.MigrateDisable,
                            ops.MigrateEnable})  # fmt: skip


def explore_dfs(
    factory: WorldFactory,
    *,
    bound: int | None = 2,
    cache: bool = True,
    max_steps: int = 4000,
    time_limit: float | None = None,
    max_executions: int | None = None,
    want: frozenset[str] | None = None,
    por: bool = True,
    atomic: bool = False,
) -> SearchResult:
    """``por=False`` turns the sleep sets off (for differential tests of the reduction).
    ``want``: report only violations of these kinds; others are recorded in
    ``result.extra["other"]`` (first of each kind) and the search goes on past them.
    ``atomic``: the optimistic synchronisation-based reduction (module doc): a task runs on
    through :func:`invisible` ops without a scheduling point."""
    t0 = time.perf_counter()
    forget_lock_memory()
    others: dict[str, tuple[Violation, list[int]]] = {}
    soft: list[tuple[Violation, list[int]]] = []  # the first predicted violation, if any
    stack: list[_Frame] = []
    visited: dict[Hashable, tuple[frozenset[int], int]] = {}
    stats = {"executions": 0, "steps": 0, "nodes": 0, "pruned": 0, "trunc": 0, "hits": 0}
    stopped = False

    def sched(frames: list[_Frame]) -> list[int]:
        if not atomic:
            return [f.choice for f in frames]
        out: list[int] = []
        for f in frames:
            out.extend([f.choice] * (1 + f.auto))
        return out

    memo: list[Any] = [None, None]  # (world, its unguarded and serial keys now)

    def take(world: World, fr: _Frame) -> Violation | None:
        """Run the chosen step (atomic mode: and the task's invisible ops after it) and record
        its footprint as it ran: the footprints of its steps, plus ``("serial",)`` if it changed
        the world's serial state, or global if it changed state no op names."""
        c = fr.choice
        fr.auto = 0
        stats["steps"] += 1
        # the keys after the last transition are the keys before this one if it ran in this world
        before = memo[1] if memo[0] is world else (world.unguarded_key(), world.serial_key())
        memo[0] = None
        fp = world.footprint(c)  # (the world is in fr's state: first visit or replayed to it)
        v = world.step(c)
        if world.soft is not None and not world.soft_noted:
            note(world)
        t = world.tasks[c]
        acc: set[Hashable] | None = set(fp) if fp is not None else None
        # (in user mode an op enters the kernel first: a change of the CPU's mode, visible).  Early
        # sleep: a wait that would block now is tried here too, so "about to sleep" is never a
        # state of its own (the attempt changes only the task's wait; the waker finds it asleep)
        while (atomic and v is None and not t.done and t.wait is None and t.mode == "kernel"
               and fr.auto < max_steps
               and ((invisible(t.op) and c in world.enabled()) or world.sleeps_at_once(c))):  # fmt: skip
            v = world.check_state()
            if v is not None:
                break
            f2 = world.footprint(c)
            if f2 is None:
                acc = None
            elif acc is not None:
                acc.update(f2)
            fr.auto += 1
            stats["steps"] += 1
            v = world.step(c)
            if world.soft is not None and not world.soft_noted:
                note(world)
        after = (world.unguarded_key(), world.serial_key())
        memo[0], memo[1] = world, after
        if acc is not None:
            if after[0] != before[0]:
                acc = None  # it changed state no op names: dependent with everything
            elif after[1] != before[1]:
                acc.add(("serial",))
        fr.bfp[c] = frozenset(acc) if acc is not None else None
        return v

    def pick(fr: _Frame) -> tuple[int, int] | None:
        # continuing the last task first, then the others in order
        last = fr.last
        cands = fr.enabled
        sleep = fr.sleep
        done = fr.done
        last_enabled = last is not None and last in cands
        if last_enabled and last is not None and cands[0] != last:
            cands = [last] + [c for c in cands if c != last]
        for c in cands:
            if c in sleep or c in done:
                continue
            cost = 1 if (last_enabled and c != last) else 0
            if bound is not None and fr.preempts + cost > bound:
                stats["pruned"] += 1
                done.append(c)  # never explore it from this frame
                continue
            return c, cost
        return None

    def keep(v: Violation | None) -> Violation | None:
        if v is None or want is None or v.kind in want:
            return v
        if v.kind not in others:
            others[v.kind] = (v, sched(stack))
        return None

    def note(world: World) -> None:
        # a predicted violation: keep the first wanted one, go on searching
        world.soft_noted = True
        v = world.soft
        if soft or v is None:
            return
        if want is None or v.kind in want:
            soft.append((v, sched(stack)))
        elif v.kind not in others:
            others[v.kind] = (v, sched(stack))

    def descend(world: World, sleep: frozenset[int],
                sleep_fps: dict[int, frozenset[Hashable] | None]) -> Violation | None:  # fmt: skip
        while True:
            last = stack[-1].choice if stack else None
            preempts = (stack[-1].preempts + stack[-1].cost) if stack else 0
            if cache:
                key = (world.state_key(), last if bound is not None else None)
                remaining = (bound - preempts) if bound is not None else 0
                old = visited.get(key)
                pre_done: frozenset[int] = frozenset()
                if old is not None and old[1] >= remaining:
                    if old[0] <= sleep:
                        stats["hits"] += 1
                        stats["executions"] += 1
                        return None
                    # Godefroid: what was explored from here before (everything enabled outside
                    # the old sleep set) need not be explored again
                    pre_done = old[0]
                    visited[key] = (old[0] & sleep, remaining)
                else:
                    visited[key] = (sleep, remaining)
                v = world.check_state() if old is None else None
            else:
                pre_done = frozenset()
                v = world.check_state()
            if v is not None:
                stats["executions"] += 1
                return keep(v)
            en = world.enabled()
            if not en:
                stats["executions"] += 1
                return keep(world.at_end())
            if len(stack) >= max_steps:
                stats["executions"] += 1
                stats["trunc"] += 1
                return None
            stats["nodes"] += 1
            fr = _Frame(en, sleep, last, preempts)
            fr.sleep_fps = sleep_fps
            fr.memo = world.memo()
            if pre_done:
                fr.done = [i for i in en if i not in pre_done and i not in sleep]
            got = pick(fr)
            if got is None:
                stats["executions"] += 1
                return None
            fr.choice, fr.cost = got
            stack.append(fr)
            v = take(world, fr)
            if v is not None:
                stats["executions"] += 1
                return keep(v)
            sleep = _child_sleep(fr, fr.choice) if por else frozenset()
            sleep_fps = _sleep_fps(fr, sleep)

    violation = descend(factory(), frozenset(), {})
    while violation is None and stack:
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            stopped = True
            break
        if max_executions is not None and stats["executions"] >= max_executions:
            stopped = True
            break
        fr = stack[-1]
        fr.done.append(fr.choice)
        got = pick(fr)
        if got is None:
            stack.pop()
            continue
        fr.choice, fr.cost = got
        world = factory()
        prefix = sched(stack[:-1])
        world.replay_steps(prefix)
        world.soft_noted = world.soft is not None  # noted when that prefix first ran
        world.adopt_memo(fr.memo)  # the same state as when fr was made: reuse its summaries
        stats["steps"] += len(prefix)
        v = take(world, fr)
        if v is not None:
            stats["executions"] += 1
            violation = keep(v)
            continue  # a violation ends the branch (wanted: the loop stops)
        sleep = _child_sleep(fr, fr.choice) if por else frozenset()
        violation = descend(world, sleep, _sleep_fps(fr, sleep))
    schedule = sched(stack) if violation is not None else []
    extra: dict[str, Any] = {"other": others} if others else {}
    if violation is None and soft:
        violation, schedule = soft[0]
        extra["predicted"] = True
    return SearchResult(
        violation=violation,
        schedule=schedule,
        exhaustive=violation is None and not stopped and stats["trunc"] == 0,
        executions=stats["executions"],
        states=len(visited) if cache else stats["nodes"],
        steps=stats["steps"],
        seconds=time.perf_counter() - t0,
        bound=bound,
        bound_pruned=stats["pruned"],
        truncated=stats["trunc"],
        cached_hits=stats["hits"],
        mode="exhaustive",
        extra=extra,
    )


__all__ = ["explore_dfs", "invisible"]
