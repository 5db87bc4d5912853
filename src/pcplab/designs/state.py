"""The state a design keeps for one run, declared by the design, keyed and cloned by its fields.

Every design gets :class:`DesignState`: the kernel objects all pcp code shares (``zone->lock`` per
zone, ``pcpu_drain_mutex``, ``pcp_batch_high_lock``, the ``pagesets`` local lock) and a list of
``WARN_ON()`` lines.  A design with state of its own subclasses it as a dataclass::

    @dataclass
    class State(DesignState):
        pcpu_drain: list[WorkItem] = field(default_factory=list)
        drains_started: int = 0

and the checker derives two things from the fields, so a new field is covered by construction:

* :func:`state_key`: a hashable summary of everything that can differ between two runs (used to
  prune revisited states in unbounded searches);
* :func:`clone_state`: a copy for a cloned world (locks are shared: they carry only a name, their
  ownership lives in the kernel).

Supported field values: ``None``, bools, numbers, strings; lists, tuples, dicts, sets and frozensets
of supported values; locks (:mod:`pcplab.kernel.locks`); :class:`~pcplab.kernel.ops.WorkItem`;
nested dataclasses of supported values; and references to the machine's zones, pagesets and pcp
list sets (keyed by name; a state holding them is rebuilt, not cloned).  Anything else is reported
when the checker first sees the state (:class:`UnsupportedState`), naming the field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from pcplab.errors import PcplabError
from pcplab.kernel.locks import LocalLockVar, Mutex, Spinlock, _Lock
from pcplab.kernel.ops import WorkItem
from pcplab.mm.state import PcpLists, PerCpuPages, Zone

#: fields every state has that the walkers below do not summarise (the machine and kernel are
#: keyed and copied by the checker itself; the design's code is the ``_impl`` attribute)
_OWN = frozenset({"machine", "kernel"})


@dataclass
class DesignState:
    """State with the locks every design has (kernel-pcp.md §3.4, §4.2, §9.3).

    Locks are looked up by zone name (``"Node 0 Normal"``) so the state never depends on object
    ids.  Subclass it (as a dataclass) to add fields; override :meth:`__post_init__` (calling the
    base one) to fill them from the machine.
    """

    machine: Any
    kernel: Any
    #: ``pcpu_drain_mutex``: serialises ``__drain_all_pages`` [kernel-pcp.md §9.3]
    pcpu_drain_mutex: Mutex = field(default_factory=lambda: Mutex("pcpu_drain_mutex"))
    #: ``pcp_batch_high_lock``: held from ``zone_pcp_disable`` to ``zone_pcp_enable`` [§4.2]
    pcp_batch_high_lock: Mutex = field(default_factory=lambda: Mutex("pcp_batch_high_lock"))
    #: the per-CPU ``pagesets.lock`` local lock (one object; the kernel keys it by CPU) [§3.4]
    pagesets: LocalLockVar = field(default_factory=lambda: LocalLockVar("pagesets.lock"))
    #: ``zone->lock`` by zone name
    zone_lock: dict[str, Spinlock] = field(default_factory=dict)
    #: WARN_ON()s that fired, one line each (a warning is not a crash; engines may report them)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.zone_lock and self.machine is not None:
            for z in self.machine.populated_zones():
                self.zone_lock[z.name] = Spinlock(f"{z.name} zone->lock")

    def online_cpus(self) -> list[int]:
        """CPUs that are online (all of them when there is no kernel)."""
        cpus = getattr(self.kernel, "cpus", None)
        if cpus is None:
            return list(range(self.machine.nr_cpus))
        return [c.id for c in cpus if c.online]


@dataclass
class PcpLockState(DesignState):
    """Designs whose ``struct per_cpu_pages`` has a ``spinlock_t lock`` (attempt [2], 6.0)."""

    #: ``pcp->lock`` by zone name, indexed by CPU
    pcp_lock: dict[str, list[Spinlock]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.pcp_lock and self.machine is not None:
            for z in self.machine.populated_zones():
                self.pcp_lock[z.name] = [
                    Spinlock(f"{z.name} cpu{cpu} pcp->lock") for cpu in range(self.machine.nr_cpus)
                ]


class UnsupportedState(PcplabError):
    """A design state field holds a value the checker cannot summarise or copy."""


def _fields(st: Any) -> list[tuple[str, Any]]:
    if not dataclasses.is_dataclass(st):
        raise UnsupportedState(
            f"design state is a {type(st).__name__}, not a dataclass; declare it as a "
            "@dataclass subclass of pcplab.designs.DesignState"
        )
    return [(f.name, getattr(st, f.name)) for f in dataclasses.fields(st) if f.name not in _OWN]


def _key(v: Any, where: str) -> Any:
    # dispatched on the exact type (the checker keys every state it reaches: an isinstance chain
    # per value was a tenth of an unbounded search); a new type is classified once
    tp = type(v)
    kind = _KIND.get(tp)
    if kind is None:
        kind = _KIND[tp] = _classify(v)
    if kind == 0:
        return v
    if kind == 1:
        return None  # a lock: a name only, who holds it is in the kernel's key
    if kind == 2:
        return tuple([_key(x, where) for x in v])
    if kind == 3:
        fn = getattr(v.fn, "__name__", None)
        return ("work", v.pending, v.running, fn, tuple([_key(a, where) for a in v.args]), v.cpu)
    if kind == 4:
        return ("mm", v.name)
    if kind == 5:
        items = [(k, _key(x, where)) for k, x in v.items()]
        try:
            items.sort(key=_first)  # keys are unique: their order alone is canonical
        except TypeError:
            items.sort(key=repr)
        return tuple(items)
    if kind == 6:
        return frozenset([_key(x, where) for x in v])
    if kind == 7:
        return (tp.__name__,) + tuple(
            [_key(getattr(v, f.name), f"{where}.{f.name}") for f in dataclasses.fields(v)]
        )
    raise UnsupportedState(
        f"design state field {where} holds a {tp.__name__}; the checker can key only plain "
        "values, lists/dicts/sets of them, locks, WorkItems, zones/pagesets and dataclasses"
    )


def _first(item: tuple[Any, Any]) -> Any:
    return item[0]


def _classify(v: Any) -> int:
    """The :func:`_key` case of ``v``'s type: 0 plain value, 1 lock, 2 list or tuple, 3 work
    item, 4 mm object, 5 dict, 6 set, 7 dataclass, -1 unsupported."""
    if v is None or isinstance(v, bool | int | float | str | bytes):
        return 0
    if isinstance(v, _Lock):
        return 1
    if isinstance(v, WorkItem):
        return 3
    if isinstance(v, Zone | PerCpuPages | PcpLists):
        return 4
    if isinstance(v, list | tuple):
        return 2
    if isinstance(v, dict):
        return 5
    if isinstance(v, set | frozenset):
        return 6
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return 7
    return -1


_KIND: dict[type, int] = {}


def state_key(st: Any) -> tuple[Any, ...]:
    """Everything in a design state that can differ between runs, as a hashable tuple."""
    if st is None:
        return ()
    return tuple((name, _key(v, name)) for name, v in _fields(st))


def unguarded_key(st: Any) -> tuple[Any, ...]:
    """The part of :func:`state_key` that no op names: the fields a design's plain code reads and
    writes between two yields.  Locks and work items are left out (the kernel's ops on them name
    them, so the checker's dependence relation sees them); the atomic search treats a step that
    changes the rest as dependent with every other step (:func:`pcplab.check.dfs.explore_dfs`).
    """
    if st is None:
        return ()
    tp = type(st)
    names = _unnamed_fields.get(tp)
    if names is None:
        names = _unnamed_fields[tp] = [n for n, _ in _fields(st)]
    out = []
    for name in names:
        v = getattr(st, name)
        tp_v = type(v)
        if tp_v in _PLAIN:
            out.append((name, v))  # what _key returns for it, without the dispatch
        elif not v and (tp_v is list or tp_v is tuple):
            out.append((name, ()))  # likewise (an empty list names no lock)
        elif _named_by_ops(v):
            # kernel objects set up once (zone->lock by zone, the drain work items): a field that
            # held only locks or work items is taken to hold them for the rest of the run
            _unnamed_fields[tp] = [n for n in names if n != name]
            return unguarded_key(st)
        else:
            out.append((name, _key(v, name)))
    return tuple(out)


#: by state type, the fields :func:`unguarded_key` still keys (those not yet seen to hold only
#: locks or work items); checked on every transition of the atomic search, so kept per type
_unnamed_fields: dict[type, list[str]] = {}
_PLAIN = frozenset({type(None), bool, int, float, str, bytes})


def _named_by_ops(v: Any, depth: int = 0) -> bool:
    # (nested: the 6.0 design's pcp->lock is a dict of per-CPU lists of locks)
    if isinstance(v, _Lock | WorkItem):
        return True
    if depth < 2:
        if isinstance(v, list | tuple) and v:
            return all(_named_by_ops(x, depth + 1) for x in v)
        if isinstance(v, dict) and v:
            return all(_named_by_ops(x, depth + 1) for x in v.values())
    return False


def _cloneable(v: Any) -> bool:
    if v is None or isinstance(v, bool | int | float | str | bytes | _Lock):
        return True
    if isinstance(v, WorkItem):
        return not (v.pending or v.running) and all(_cloneable(a) for a in v.args)
    if isinstance(v, Zone | PerCpuPages | PcpLists):
        return False  # would point into the old machine
    if isinstance(v, list | tuple | set | frozenset):
        return all(_cloneable(x) for x in v)
    if isinstance(v, dict):
        return all(_cloneable(x) for x in v.values())
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return all(_cloneable(getattr(v, f.name)) for f in dataclasses.fields(v))
    return False


def cloneable(st: Any) -> bool:
    """Whether :func:`clone_state` can copy ``st`` exactly (idle work items, no machine refs)."""
    try:
        return all(_cloneable(v) for _, v in _fields(st))
    except UnsupportedState:
        return False


def _copy(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str | bytes | _Lock):
        return v
    if isinstance(v, WorkItem):
        return WorkItem(v.name, v.fn, tuple(_copy(a) for a in v.args), False, False, v.cpu,
                        dict(v.extra))  # fmt: skip
    if isinstance(v, list):
        return [_copy(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_copy(x) for x in v)
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, set):
        return {_copy(x) for x in v}
    if isinstance(v, frozenset):
        return v
    # a dataclass (cloneable() said so)
    new = object.__new__(type(v))
    for f in dataclasses.fields(v):
        object.__setattr__(new, f.name, _copy(getattr(v, f.name)))
    return new


def clone_state(st: Any, machine: Any, kernel: Any) -> Any:
    """A copy of ``st`` (which :func:`cloneable` accepted) for a cloned ``machine``/``kernel``."""
    new = object.__new__(type(st))
    new.__dict__.update(st.__dict__)  # extra non-field attributes (e.g. impl) are shared
    for name, v in _fields(st):
        object.__setattr__(new, name, _copy(v))
    object.__setattr__(new, "machine", machine)
    object.__setattr__(new, "kernel", kernel)
    return new


__all__ = [
    "DesignState",
    "PcpLockState",
    "UnsupportedState",
    "clone_state",
    "cloneable",
    "state_key",
]
