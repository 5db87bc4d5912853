"""The scenario language: a tiny machine and one short program per CPU.

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

What is checked while a scenario runs: :mod:`pcplab.check.scenario_world`.

The world that runs a scenario is :mod:`~pcplab.check.scenario_world`, the standard catalogue
:mod:`pcplab.check.catalogue`, and scenario files are loaded by :mod:`pcplab.check.scenario_file`;
:mod:`pcplab.check.scenario` gathers the public names of all four (what user files import).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from pcplab.errors import PcplabError

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


#: the zone names of a scenario machine with 1, 2 or 3 zones
ZONE_NAMES = {1: ("Normal",), 2: ("DMA32", "Normal"), 3: ("DMA", "DMA32", "Normal")}


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
        if not isinstance(self.zone_pages, tuple | list) or len(self.zone_pages) not in ZONE_NAMES:
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


__all__ = [
    "ACTION_KINDS",
    "Action",
    "MAX_PROGRAM_STEPS",
    "MAX_SCENARIO_CPUS",
    "MAX_SCENARIO_PAGES",
    "MIGRATE_MOVABLE",
    "MIGRATE_PCPTYPES",
    "MIGRATE_UNMOVABLE",
    "Scenario",
    "ZONE_NAMES",
    "alloc",
    "drain",
    "drain_dead",
    "enter_kernel",
    "enter_user",
    "free",
    "go_idle",
    "go_offline",
    "pcp_disable",
    "pcp_enable",
]
