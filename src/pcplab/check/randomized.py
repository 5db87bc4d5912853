"""Randomised search strategies over the interleavings of a :class:`~pcplab.check.world.World`.

* :func:`explore_random` — uniformly random scheduling, ``executions`` runs from ``seed``.
* :func:`explore_pct` — PCT (Burckhardt et al., ASPLOS 2010): random task priorities with ``depth
  - 1`` priority-change points; finds depth-d bugs with probability >= 1/(n k^(d-1)) per run.

Predicted violations are kept as :mod:`pcplab.check.search` says.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Hashable

from pcplab.check.search import SearchResult, WorldFactory
from pcplab.check.world import Violation, World
from pcplab.kernel.checks import forget_lock_memory


def _run_one(
    world: World,
    choose: Callable[[list[int], int], int],
    max_steps: int,
    schedule: list[int],
    soft: list[tuple[Violation, list[int]]],
) -> tuple[Violation | None, bool]:
    for n in range(max_steps):
        en = world.enabled()
        if not en:
            return world.at_end(), False
        c = choose(en, n)
        schedule.append(c)
        v = world.step(c)
        if not soft and world.soft is not None:
            soft.append((world.soft, list(schedule)))
        if v is None:
            v = world.check_state()
        if v is not None:
            return v, False
    return None, True


def explore_random(
    factory: WorldFactory,
    *,
    seed: int = 0,
    executions: int = 1000,
    max_steps: int = 4000,
    time_limit: float | None = None,
) -> SearchResult:
    t0 = time.perf_counter()
    forget_lock_memory()
    rng = random.Random(seed)
    steps = trunc = runs = 0
    states: set[Hashable] = set()
    soft: list[tuple[Violation, list[int]]] = []
    for _ in range(executions):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        schedule: list[int] = []
        world = factory()
        v, cut = _run_one(world, lambda en, n: en[rng.randrange(len(en))], max_steps, schedule,
                          soft)  # fmt: skip
        runs += 1
        steps += len(schedule)
        trunc += cut
        if v is not None:
            return SearchResult(v, schedule, False, runs, len(states), steps,
                                time.perf_counter() - t0, None, 0, trunc, mode="random")  # fmt: skip
    v, schedule = soft[0] if soft else (None, [])
    return SearchResult(v, schedule, False, runs, len(states), steps, time.perf_counter() - t0,
                        None, 0, trunc, mode="random",
                        extra={"predicted": True} if soft else {})  # fmt: skip


def explore_pct(
    factory: WorldFactory,
    *,
    seed: int = 0,
    executions: int = 1000,
    depth: int = 3,
    max_steps: int = 4000,
    time_limit: float | None = None,
) -> SearchResult:
    t0 = time.perf_counter()
    forget_lock_memory()
    rng = random.Random(seed)
    steps = trunc = runs = 0
    soft: list[tuple[Violation, list[int]]] = []
    k_est = 50  # estimated steps per execution; refined as runs finish
    for _ in range(executions):
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        change = sorted(rng.randrange(1, max(2, k_est)) for _ in range(depth - 1))
        choose = _PctChooser(rng, depth, {n: float(depth - 1 - i) for i, n in enumerate(change)})
        schedule: list[int] = []
        world = factory()
        v, cut = _run_one(world, choose, max_steps, schedule, soft)
        runs += 1
        steps += len(schedule)
        trunc += cut
        k_est = max(k_est, len(schedule))
        if v is not None:
            return SearchResult(v, schedule, False, runs, 0, steps, time.perf_counter() - t0, None,
                                0, trunc, mode="pct")  # fmt: skip
    v, schedule = soft[0] if soft else (None, [])
    return SearchResult(v, schedule, False, runs, 0, steps, time.perf_counter() - t0, None, 0,
                        trunc, mode="pct", extra={"predicted": True} if soft else {})  # fmt: skip


class _PctChooser:
    """Highest priority first; at the i-th change point the running task drops to priority
    ``depth - 1 - i`` (below every initial priority)."""

    def __init__(self, rng: random.Random, depth: int, change_prio: dict[int, float]) -> None:
        self.rng = rng
        self.depth = depth
        self.change_prio = change_prio
        self.prio: dict[int, float] = {}
        self.last: int | None = None

    def __call__(self, en: list[int], n: int) -> int:
        prio = self.prio
        for t in en:
            if t not in prio:
                prio[t] = self.depth + self.rng.random() * 1000.0
        if n in self.change_prio and self.last is not None:
            prio[self.last] = self.change_prio[n]
        best = max(en, key=prio.__getitem__)
        self.last = best
        return best


__all__ = ["explore_pct", "explore_random"]
