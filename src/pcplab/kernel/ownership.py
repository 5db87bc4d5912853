"""Evaluating owner rules (:mod:`pcplab.mm.owners`) for one access by one task.

:func:`rule_for` finds the rule of ``(obj, field)``: the ``OWNER_RULES`` of the object's class, or
:data:`~pcplab.mm.owners.GLOBAL_RULES` for kernel-global objects (``obj`` None).  :func:`holds`
says whether the task has one of the protections the rule lists; :func:`protection_text` spells a
protection out for a report ("Node 0 Normal zone->lock", "IRQs off on cpu0 or cpu0's pagesets.lock
...").  Protections resolve through the design's state (``kernel.state``): ``zone_lock`` by zone
name, ``pcp_lock``, ``pagesets_spin``/``remote_pcpu_cache_access`` (attempt [1]),
``pcpu_drain_mutex``, ``pcp_batch_high_lock``, ``pagesets`` — the names every design's state uses.
"""

from __future__ import annotations

from typing import Any

from pcplab.mm.owners import GLOBAL_RULES, OwnerRule

_cache: dict[tuple[type, str], OwnerRule | None] = {}


def rule_for(obj: Any, field: str) -> OwnerRule | None:
    key = (type(obj), field)
    try:
        return _cache[key]
    except KeyError:
        pass
    if obj is None:
        r = GLOBAL_RULES.get(field)
    else:
        r = (getattr(type(obj), "OWNER_RULES", None) or {}).get(field)
    _cache[key] = r
    return r


def zone_name_of(obj: Any) -> str:
    """The zone a pcp object belongs to, from its name (``"Node 0 Normal cpu1/lp"``)."""
    zone = getattr(obj, "zone_name", None)
    if zone:
        return zone
    name = getattr(obj, "name", "")
    return name.rsplit(" cpu", 1)[0] if " cpu" in name else name


def _held(kernel: Any, task: Any, lock: Any) -> bool:
    return lock is not None and kernel.owner.get(id(lock)) is task


def holds(kernel: Any, task: Any, prot: str, obj: Any, owner: int | None) -> bool:
    """Whether ``task`` has protection ``prot`` for ``obj`` (owned by CPU ``owner``) now."""
    st = kernel.state
    if prot == "zone->lock":
        locks = getattr(st, "zone_lock", None) or {}
        return _held(kernel, task, locks.get(getattr(obj, "name", "")))
    if prot == "pcp":
        return _pcp_protected(kernel, task, st, obj, owner)
    if prot == "rcu":
        return task.is_reader()
    if prot in ("pcpu_drain_mutex", "pcp_batch_high_lock"):
        return _held(kernel, task, getattr(st, prot, None))
    raise ValueError(f"unknown protection {prot!r} in an owner rule")


def _pcp_protected(kernel: Any, task: Any, st: Any, lists: Any, owner: int | None) -> bool:
    if owner is None:
        owner = getattr(lists, "cpu", None)
        if owner is None:
            return True  # not a per-CPU object: nothing to check
    locks = getattr(st, "pcp_lock", None)
    if locks:
        per_zone = locks.get(zone_name_of(lists))
        return per_zone is not None and _held(kernel, task, per_zone[owner])
    if getattr(st, "remote_pcpu_cache_access", False):
        return _held(kernel, task, st.pagesets_spin[owner])
    if not kernel.cpus[owner].online:
        return True  # page_alloc_cpu_dead: nobody else touches a dead CPU's lists
    if task.cpu == owner:
        if task.irq_depth:
            return True
        pagesets = getattr(st, "pagesets", None)
        if pagesets is not None and kernel.owner.get((id(pagesets), owner)) is task:
            return True  # PREEMPT_RT local lock
    pcp = _pageset_of(kernel, lists, owner)
    if pcp is not None and pcp.drain is not None and pcp.lp is not lists:
        # the RCU design: a set swapped out of pcp->lp belongs to the drain mutex's holder
        return _held(kernel, task, getattr(st, "pcpu_drain_mutex", None))
    return False


def _pageset_of(kernel: Any, lists: Any, owner: int) -> Any:
    machine = kernel.machine
    if machine is None:
        return None
    zname = zone_name_of(lists)
    for z in machine.zones:
        if z.name == zname:
            return z.per_cpu_pageset[owner]
    return None


def protection_text(kernel: Any, prot: str, obj: Any, owner: int | None) -> str:
    """A protection as a report names it."""
    st = kernel.state
    if prot == "zone->lock":
        lock = (getattr(st, "zone_lock", None) or {}).get(getattr(obj, "name", ""))
        return str(lock) if lock is not None else "zone->lock"
    if prot == "pcp":
        locks = getattr(st, "pcp_lock", None)
        if owner is None:
            owner = getattr(obj, "cpu", None)
        if locks:
            per_zone = locks.get(zone_name_of(obj))
            return str(per_zone[owner]) if per_zone else "pcp->lock"
        if getattr(st, "remote_pcpu_cache_access", False):
            return str(st.pagesets_spin[owner])
        extra = " (or pcpu_drain_mutex for a swapped-out set)" if _spare(kernel, obj, owner) else ""
        return f"IRQs off / local_lock(pagesets.lock) on cpu{owner}, or cpu{owner} offline{extra}"
    if prot == "rcu":
        return "an RCU read-side section (rcu_read_lock, IRQs or preemption off)"
    return prot


def _spare(kernel: Any, obj: Any, owner: int | None) -> bool:
    if owner is None:
        return False
    pcp = _pageset_of(kernel, obj, owner)
    return pcp is not None and pcp.drain is not None


__all__ = ["holds", "protection_text", "rule_for", "zone_name_of"]
