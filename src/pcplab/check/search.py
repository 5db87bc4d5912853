"""What every search strategy shares: :class:`SearchResult`, the world factory type,
:func:`replay` of a schedule and :func:`shrink` of a counterexample.

Each strategy (:mod:`pcplab.check.dfs`, :mod:`pcplab.check.randomized`) returns a
:class:`SearchResult`; a violation carries the schedule (task indices in spawn order) that
reproduces it with :func:`replay`.

Predicted violations (``lock-not-held``, ``data-race``, ``lock-order``, ``inconsistent-lock-state``:
a rule broken, nothing gone wrong yet; :attr:`pcplab.check.world.World.soft`) do not end a
search: the first one is kept with its schedule and reported only if the search finds no other
violation — a concrete failure the broken rule leads to wins.  The lock graph those rules keep
lives for one search (:func:`pcplab.kernel.checks.forget_lock_memory` at the start of each).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pcplab.check.world import Violation, World
from pcplab.errors import PcplabError

WorldFactory = Callable[[], World]


@dataclass
class SearchResult:
    violation: Violation | None
    schedule: list[int]
    exhaustive: bool  # the search space (within the bound) was covered completely
    executions: int
    states: int  # distinct states (state cache) or search-tree nodes (no cache)
    steps: int  # steps executed, including prefix replays
    seconds: float
    bound: int | None = None
    bound_pruned: int = 0  # choices skipped because they would exceed the preemption bound
    truncated: int = 0  # executions cut at max_steps
    cached_hits: int = 0
    mode: str = "exhaustive"
    extra: dict[str, Any] = field(default_factory=dict)  # per-strategy extras, differing types


def replay(factory: WorldFactory, schedule: list[int]) -> tuple[World, Violation | None, int]:
    """Re-run ``schedule`` with every check on; returns the world, the violation (if any) and the
    number of steps taken before it."""
    world = factory()
    for n, idx in enumerate(schedule):
        if idx not in world.enabled():
            raise PcplabError(
                f"replay diverged at step {n + 1}: task {idx} cannot run there; the token does not "
                "match this version of the design or scenario"
            )
        v = world.step(idx)
        if v is None:
            v = world.check_state()
        if v is not None:
            return world, v, n + 1
    if not world.enabled():
        v = world.at_end()
        if v is not None:
            return world, v, len(schedule)
    # a predicted violation counts only when nothing concrete happened (as in the search)
    return world, world.soft, len(schedule)


def _loose_replay(factory: WorldFactory, schedule: list[int]) -> tuple[Violation | None, list[int]]:
    """Follow ``schedule``, skipping entries whose task cannot run; stop at the first violation."""
    world = factory()
    done: list[int] = []
    v = world.check_state()
    if v is not None:
        return v, done
    for idx in schedule:
        if idx not in world.enabled():
            continue
        done.append(idx)
        v = world.step(idx)
        if v is None:
            v = world.check_state()
        if v is not None:
            return v, done
    if not world.enabled():
        v = world.at_end()
        if v is not None:
            return v, done
    return world.soft, done


def shrink(
    factory: WorldFactory,
    schedule: list[int],
    violation: Violation,
    *,
    max_replays: int = 400,
    time_limit: float = 5.0,
) -> list[int]:
    """A shorter schedule that still produces a violation of the same kind in the same function
    (delta debugging over schedule entries: drop a whole task's steps, then ever smaller chunks).
    Returns ``schedule`` itself when nothing shorter is found."""
    t0 = time.perf_counter()
    best = list(schedule)
    replays = 0

    def ok(cand: list[int]) -> list[int] | None:
        nonlocal replays
        replays += 1
        v, done = _loose_replay(factory, cand)
        if v is not None and v.kind == violation.kind and v.function == violation.function:
            return done
        return None

    def budget() -> bool:
        return replays < max_replays and time.perf_counter() - t0 < time_limit

    for t in sorted(set(best)):
        if not budget():
            break
        got = ok([i for i in best if i != t])
        if got is not None and len(got) < len(best):
            best = got
    chunk = max(1, len(best) // 2)
    while chunk >= 1 and budget():
        i = 0
        changed = False
        while i < len(best) and budget():
            got = ok(best[:i] + best[i + chunk :])
            if got is not None and len(got) < len(best):
                best = got
                changed = True
            else:
                i += chunk
        if not changed:
            chunk //= 2
    return best


__all__ = ["SearchResult", "WorldFactory", "replay", "shrink"]
