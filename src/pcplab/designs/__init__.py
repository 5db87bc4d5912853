"""Drain designs: each module reads like the kernel code it models and yields kernel ops.

Real designs (kernel-pcp.md §17.1 compares them):

| name | kernel rules | what it is |
|---|---|---|
| ``workqueue`` | 5.17 | mainline until 5.19: a kworker on each CPU drains it; drainer flushes |
| ``rcu`` | 5.17 | the seed, fixed: RCU pointer swap of the list sets, one grace period |
| ``rcu-v1`` | 5.17 | the seed as posted, with its NULL-zone dereference |
| ``static-key`` | 5.17 | attempt [1]: per-CPU spinlocks + remote drain when nohz_full CPUs exist |
| ``spinlock-irqsave`` | 5.17 | attempt [2]: per-pcp spinlock, IRQs off, remote drain |
| ``spinlock`` | 6.0 | what landed: pcp->lock trylock, buddy fallback, remote drain |

Mutants (``pcplab.designs.mutants``) are small deliberate breakages of those, each with the
violation the checker must find.  Look designs up with :func:`get`; list them with :func:`names`.
Modules are imported on first use.
"""

from __future__ import annotations

import importlib

from pcplab.designs.base import Ctx, Design, DrainState
from pcplab.errors import PcplabError

_REAL: dict[str, str] = {
    "workqueue": "pcplab.designs.workqueue",
    "rcu": "pcplab.designs.rcu",
    "rcu-v1": "pcplab.designs.rcu_v1",
    "static-key": "pcplab.designs.static_key",
    "spinlock-irqsave": "pcplab.designs.spinlock_irqsave",
    "spinlock": "pcplab.designs.spinlock",
}

_MUTANTS: dict[str, str] = {
    "rcu-no-grace-period": "pcplab.designs.mutants.rcu_no_grace_period",
    "rcu-free-live-lists": "pcplab.designs.mutants.rcu_free_live_lists",
    "spinlock-no-remote-lock": "pcplab.designs.mutants.spinlock_no_remote_lock",
    "spinlock-trylock-fail-uses-pcp": "pcplab.designs.mutants.spinlock_trylock_fail_uses_pcp",
    "workqueue-no-flush": "pcplab.designs.mutants.workqueue_no_flush",
    "spinlock-stale-count": "pcplab.designs.mutants.spinlock_stale_count",
    "spinlock-lock-inversion": "pcplab.designs.mutants.spinlock_lock_inversion",
    "spinlock-peek-then-take": "pcplab.designs.mutants.spinlock_peek_then_take",
    "rcu-sync-irqs-off": "pcplab.designs.mutants.rcu_sync_irqs_off",
}

_cache: dict[str, Design] = {}


def names(mutants: bool = False) -> list[str]:
    """Real design names, in the order above; with ``mutants=True`` the mutants follow."""
    return list(_REAL) + (list(_MUTANTS) if mutants else [])


def mutant_names() -> list[str]:
    return list(_MUTANTS)


def get(name: str) -> Design:
    """The design called ``name``; unknown names raise :class:`PcplabError` listing the known."""
    d = _cache.get(name)
    if d is not None:
        return d
    path = _REAL.get(name) or _MUTANTS.get(name)
    if path is None:
        raise PcplabError(
            f"unknown design {name!r}; use one of: {', '.join(names())} "
            f"(mutants: {', '.join(_MUTANTS)})"
        )
    d = importlib.import_module(path).DESIGN
    if d.name != name:  # a registry typo would silently run the wrong design
        raise RuntimeError(f"{path} defines design {d.name!r}, registered as {name!r}")
    _cache[name] = d
    return d


def all_designs(mutants: bool = False) -> list[Design]:
    return [get(n) for n in names(mutants)]


__all__ = ["Ctx", "Design", "DrainState", "all_designs", "get", "mutant_names", "names"]
