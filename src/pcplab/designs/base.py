"""What every drain design provides, the per-run state it keeps, and struct-size arithmetic.

A design is a module of generator functions that read like the kernel code they model and yield
:mod:`pcplab.kernel.ops` at every point where another CPU could interleave.  The module exposes one
:class:`Design` object (``DESIGN``) that engines use; see ``docs/internals.md``.

Generator functions take ``ctx`` first: ``ctx.cpu`` (the CPU the code runs on), ``ctx.machine``
(:class:`pcplab.mm.machine.Machine`), ``ctx.kernel`` (:class:`pcplab.kernel.state.Kernel` or None)
and ``ctx.state`` (the :class:`~pcplab.designs.state.DesignState` the design's ``setup``
returned): :class:`Context` says so to a type checker.  A kernel task is such a ctx; :class:`Ctx`
is a plain one for engines that have no task object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pcplab.kernel.oops import VIOLATION_KINDS
from pcplab.kernel.ops import WORK_KINDS

if TYPE_CHECKING:
    from pcplab.mm.machine import Machine


class Context(Protocol):
    """What a design's generator functions receive as ``ctx`` (a kernel task, or :class:`Ctx`).

    ``kernel`` and ``state`` stay ``Any`` on purpose: ``kernel`` is None where an engine runs a
    design without the kernel model, and ``state`` is each design's own
    :class:`~pcplab.designs.state.DesignState` subclass, whose fields only the design knows."""

    @property
    def cpu(self) -> int: ...

    @property
    def machine(self) -> Machine: ...

    @property
    def kernel(self) -> Any: ...

    @property
    def state(self) -> Any: ...


@dataclass
class Ctx:
    """The running code's handle, for engines without task objects (duck typing works too)."""

    cpu: int
    machine: Any
    kernel: Any = None
    state: Any = None


@dataclass(frozen=True)
class Design:
    """A drain design as engines see it.

    ``kernel_version``: the mm rules it runs with (build the machine with this version).
    ``is_mutant``/``base``: a deliberately broken variant of the real design ``base``.
    ``expected_violation``: the checker kind it must produce (mutants, and the seed as posted).

    The generator functions (all take ``ctx`` first):

    * ``alloc_pages(ctx, zone, order, mt) -> pfn | None`` (records the hand-out),
    * ``free_pages(ctx, zone, pfn, order)`` (records the take-back),
    * ``drain_all_pages(ctx, zone_or_None, force_all_cpus=False) -> bool`` (False: a global drain
      lost the ``pcpu_drain_mutex`` trylock and returned without draining),
    * ``drain_local_pages(ctx, zone_or_None)``, ``drain_dead_cpu(ctx, cpu)`` (waits until ``cpu``
      is offline, then drains its lists remotely),
    * ``zone_pcp_disable(ctx, zone)`` (returns holding ``pcp_batch_high_lock``) and
      ``zone_pcp_enable(ctx, zone)`` (releases it): call both from the same task.

    Plain functions: ``setup(machine, kernel) -> DesignState``, ``postcondition(machine, state,
    zone_or_None, force_all_cpus, result=None) -> str | None`` and ``size_statement(machine)``.
    """

    name: str
    description: str
    kernel_version: str
    setup: Callable[[Any, Any], Any]
    alloc_pages: Callable[..., Any]
    free_pages: Callable[..., Any]
    drain_all_pages: Callable[..., Any]
    drain_local_pages: Callable[..., Any]
    drain_dead_cpu: Callable[..., Any]
    zone_pcp_disable: Callable[..., Any]
    zone_pcp_enable: Callable[..., Any]
    postcondition: Callable[..., str | None]
    size_statement: Callable[[Any], dict[str, Any]]
    is_mutant: bool = False
    expected_violation: str | None = None
    base: str | None = None
    sources: tuple[str, ...] = ()
    module: str = ""
    #: optional hooks ``(ctx) -> generator`` run in kernel context on this CPU (see
    #: :mod:`pcplab.designs.lifecycle`): before returning to user space, entering idle, going offline
    on_user_entry: Callable[..., Any] | None = None
    on_idle_entry: Callable[..., Any] | None = None
    on_cpu_offline: Callable[..., Any] | None = None
    #: where the design came from: ``built-in``, an absolute file path, ``package.module:attr`` or
    #: ``entry point NAME``; and a hash of its source (and of the user modules it imports)
    origin: str = "built-in"
    source_hash: str = ""
    #: checker scenarios of the design's own (``SCENARIOS`` in its module), run with the standard set
    scenarios: tuple[Any, ...] = ()
    #: the namespace whose kernel functions the standard wrappers call (the design's module)
    impl: Any = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """What identifies this design's code in stored results and replay tokens: the name for
        a built-in design (the package's model hash covers it), else ``name@source_hash``."""
        if self.origin == "built-in" or not self.source_hash:
            return self.name
        return f"{self.name}@{self.source_hash}"

    def __post_init__(self) -> None:
        if self.expected_violation is not None and self.expected_violation not in VIOLATION_KINDS:
            raise ValueError(f"{self.name}: unknown expected_violation {self.expected_violation!r}")
        if self.is_mutant and (self.expected_violation is None or self.base is None):
            raise ValueError(f"{self.name}: a mutant needs base and expected_violation")

    def __str__(self) -> str:
        return self.name


# --- postcondition shared by every design ------------------------------------------------------


def pcp_lists_empty(
    machine: Any, state: Any, zone: Any, force_all_cpus: bool = False, result: Any = None
) -> str | None:
    """After ``__drain_all_pages(zone)`` returns, with no other task using the pcp lists meanwhile,
    every online CPU's lists of ``zone`` (all zones for None) are empty, both list sets.

    ``result`` is the drain's return value: False means a global drain lost the mutex trylock and
    returned at once (kernel-pcp.md §9.3), which promises nothing.  The racy count reads cannot
    miss a CPU here because nothing frees concurrently; ``force_all_cpus`` only widens the mask.
    """
    del force_all_cpus
    if result is False:
        return None
    zones = machine.populated_zones() if zone is None else [zone]
    online = state.online_cpus() if hasattr(state, "online_cpus") else range(machine.nr_cpus)
    for z in zones:
        for cpu in online:
            pcp = z.per_cpu_pageset[cpu]
            for lists in (pcp.lp, pcp.drain):
                if lists is None:
                    continue
                held = sum(len(lst) for lst in lists.lists)
                if held or lists.count:
                    return (
                        f"drain of {z.name if zone is not None else 'all zones'} returned but "
                        f"cpu{cpu}'s pcp lists {lists.name} still hold {held} blocks "
                        f"(count {lists.count})"
                    )
    return None


# --- struct sizes (kernel-pcp.md §3.2) -----------------------------------------------------------

CACHE_LINE = 64
LIST_HEAD = 16  # struct list_head: two pointers on a 64-bit kernel
SPINLOCK = 4  # spinlock_t without lock debugging (arch_spinlock_t is a 32-bit word)


def struct_layout(
    fields: list[tuple[str, int, int]], cacheline_aligned: bool = False
) -> tuple[list[dict[str, int | str]], int]:
    """C layout of ``fields`` = ``(name, size, alignment)``: offsets with natural alignment, the
    size rounded up to the largest alignment (to 64 with ``____cacheline_aligned``)."""
    off = 0
    biggest = 1
    layout: list[dict[str, int | str]] = []
    for name, size, align in fields:
        if off % align:
            off += align - off % align
        layout.append({"field": name, "offset": off, "size": size})
        off += size
        biggest = max(biggest, align)
    if cacheline_aligned:
        biggest = max(biggest, CACHE_LINE)
    if off % biggest:
        off += biggest - off % biggest
    return layout, off


def size_record(
    design: str,
    machine: Any,
    fields: list[tuple[str, int, int]],
    *,
    cacheline_aligned: bool = False,
    source: str,
    note: str = "",
    extra_per_cpu: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The ``size_statement`` dict: struct bytes, cache lines, layout and the machine-wide total."""
    layout, size = struct_layout(fields, cacheline_aligned)
    nr = len(machine.populated_zones()) * machine.nr_cpus
    extra = dict(extra_per_cpu or {})
    return {
        "design": design,
        "struct": "per_cpu_pages",
        "bytes": size,
        "cache_lines": -(-size // CACHE_LINE),
        "cacheline_aligned": cacheline_aligned,
        "layout": layout,
        "instances": nr,
        "machine_bytes": size * nr + sum(extra.values()) * machine.nr_cpus,
        "extra_per_cpu": extra,
        "source": source,
        "note": note,
    }


def v517_fields(nr_lists: int) -> list[tuple[str, int, int]]:
    """``struct per_cpu_pages`` of v5.17 with CONFIG_NUMA [SRC v5.17 include/linux/mmzone.h]."""
    return [
        ("count", 4, 4),
        ("high", 4, 4),
        ("batch", 4, 4),
        ("free_factor", 2, 2),
        ("expire", 2, 2),
        (f"lists[{nr_lists}]", LIST_HEAD * nr_lists, 8),
    ]


__all__ = [
    "CACHE_LINE",
    "Ctx",
    "Design",
    "VIOLATION_KINDS",
    "WORK_KINDS",
    "pcp_lists_empty",
    "size_record",
    "struct_layout",
    "v517_fields",
]
