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

Mutants (``pcplab.designs.mutants``, every module there) are small deliberate breakages of those,
each with the violation the checker must find.

Your own design is one module (see ``docs/writing-a-design.md``): :func:`get`/:func:`load` take a
built-in name, a file path (``./my_design.py[:NAME]``), ``package.module[:attr]`` or a name an
installed package registers in the ``pcplab.designs`` entry-point group; :func:`register` makes a
:class:`Design` built in Python available by name.
"""

from __future__ import annotations

from pcplab.designs.base import Context, Ctx, Design
from pcplab.designs.loader import (
    builtin_names,
    design_from_module,
    entry_point_names,
    get_design,
    mutant_modules,
    register,
    registered,
)
from pcplab.designs.state import DesignState, PcpLockState


def names(mutants: bool = False) -> list[str]:
    """Built-in design names, in table order; with ``mutants=True`` the mutants follow."""
    return builtin_names(mutants)


def mutant_names() -> list[str]:
    return list(mutant_modules())


def get(spec: str) -> Design:
    """The design ``spec`` names: a built-in or registered name, a ``.py`` file (``path[:NAME]``),
    ``package.module[:attr]`` or an entry point; :class:`~pcplab.errors.PcplabError` otherwise."""
    return get_design(spec)


load = get


def all_designs(mutants: bool = False) -> list[Design]:
    return [get(n) for n in names(mutants)]


def available() -> list[tuple[str, str]]:
    """Every design a command can name without a path: ``(name, where it comes from)``."""
    out = [(n, "built-in") for n in names()]
    out += [(n, "built-in mutant") for n in mutant_names()]
    out += [(n, d.origin) for n, d in registered().items()]
    out += [(n, f"entry point ({_ep_dist(n)})") for n in entry_point_names()]
    return out


def _ep_dist(name: str) -> str:
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group="pcplab.designs"):
        if ep.name == name:
            return ep.value
    return "?"


__all__ = [
    "Context",
    "Ctx",
    "Design",
    "DesignState",
    "PcpLockState",
    "all_designs",
    "available",
    "design_from_module",
    "get",
    "load",
    "mutant_names",
    "names",
    "register",
]
