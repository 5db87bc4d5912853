"""Option types and up-front checks shared by the commands: every value is checked before any
work starts, and a bad one is a click usage error naming the option (one line, exit 2).

Ranges are physical, not just "positive": seeds are unsigned 64-bit (the simulator's RNGs take
any such seed), durations and rates finite and bounded so a run ends, CPU and client lists within
the machine, expanded only after their bounds were checked (``0-100000000000`` is refused from
its two ends, never materialised), memory sizes within the machine's.
"""

from __future__ import annotations

import math
import re
from typing import Any

import click

from pcplab.errors import PcplabError

_ASCII_INT = re.compile(r"[+-]?[0-9]{1,40}")
_ASCII_FLOAT = re.compile(r"[+-]?([0-9]{1,40}\.?[0-9]{0,40}|\.[0-9]{1,40})([eE][+-]?[0-9]{1,4})?")


class IntRange(click.IntRange):
    """click's IntRange, but only plain ASCII decimal integers: Python's ``int()`` also takes
    ``1_000``, Arabic-Indic digits and 5000-digit strings, none of which a user means."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not _ASCII_INT.fullmatch(value.strip()):
            self.fail(f"{value[:40]!r} is not an integer", param, ctx)
        return super().convert(value, param, ctx)


SEED_MAX = 2**64 - 1
#: the seed option of every command
SEED = IntRange(0, SEED_MAX)
#: stored run ids are SQLite rowids
RUN_ID = IntRange(1, 2**63 - 1)
#: longest simulated time a run may ask for: one year (run_noise's own limit)
MAX_SIM_SECONDS = 366 * 86400.0
#: shortest: one simulated microsecond (the simulator counts in whole nanoseconds)
MIN_SIM_SECONDS = 1e-6
#: ASSUMPTION: no real drain_all_pages() completes in under a microsecond (it queues work or
#: sends IPIs to every CPU), so more than a million drains per second is not physical
MAX_DRAIN_RATE = 1e6
#: a drain every ~11.6 days at the slowest; below that a run sees no drain at all
MIN_DRAIN_RATE = 1e-6
MAX_ITERATIONS = 100_000
MAX_EXECUTIONS = 10**9
#: the checker's per-scenario wall-clock limit: at most a day
MAX_TIME_LIMIT = 86400.0
MAX_BOUND = 1000


class FiniteFloat(click.ParamType):
    """A finite float within ``[lo, hi]`` (``lo_open``: strictly above ``lo``)."""

    name = "number"

    def __init__(self, lo: float, hi: float, lo_open: bool = False, unit: str = "") -> None:
        self.lo, self.hi, self.lo_open, self.unit = lo, hi, lo_open, unit

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            x = value
        else:
            text = str(value).strip()
            if not _ASCII_FLOAT.fullmatch(text):
                self.fail(f"{str(value)[:40]!r} is not a finite number", param, ctx)
            x = float(text)
        if not math.isfinite(x):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        low_ok = x > self.lo if self.lo_open else x >= self.lo
        if not low_ok or x > self.hi:
            op = "<" if self.lo_open else "<="
            unit = f" {self.unit}" if self.unit else ""
            self.fail(f"{value!r} is not in the range {self.lo:g}{op}x<={self.hi:g}{unit}", param, ctx)
        return x


def _plain_int(t: click.ParamType, value: Any, param: click.Parameter | None,
               ctx: click.Context | None) -> int:
    """``value`` as a plain ASCII decimal integer, or a click failure naming it."""
    text = str(value).strip()
    if not _ASCII_INT.fullmatch(text):
        t.fail(f"{value!r} is not an integer", param, ctx)
    return int(text)


class RtRuntime(click.ParamType):
    """``sched_rt_runtime_us``: -1 (no RT throttling) or 1..1000000 (the default RT period)."""

    name = "us"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        v = _plain_int(self, value, param, ctx)
        if v != -1 and not 1 <= v <= 1_000_000:
            self.fail(f"{value!r} must be -1 (no throttling) or 1..1000000 µs", param, ctx)
        return v


class PageSize(click.ParamType):
    """A page size: a power of two from 4 KiB to 1 MiB (x86 4K, arm64 4K/16K/64K, POWER 64K)."""

    name = "bytes"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        v = _plain_int(self, value, param, ctx)
        if not 4096 <= v <= 1 << 20 or v & (v - 1):
            self.fail(f"{value!r} must be a power of two from 4096 to 1048576", param, ctx)
        return v


_RANGE = re.compile(r"^(\d{1,9})(?:-(\d{1,9}))?$")


def parse_int_list(text: str, option: str, lo: int, hi: int, what: str = "value") -> list[int]:
    """``1,4,8-12`` → [1, 4, 8, 9, 10, 11, 12], each within ``lo..hi``; any other text (spaces
    inside a number, signs, ``1 2``) is refused naming ``option``.  Bounds are checked before a
    range is expanded, so the result is at most ``hi - lo + 1`` entries."""
    if text is None or not text.strip():
        raise PcplabError(f"{option} is empty; give e.g. {option} {lo},{min(lo + 2, hi)}")
    seen: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = _RANGE.match(part)
        if m is None:
            raise PcplabError(
                f"{option}: {part[:40]!r} is not N or N-M; give e.g. {option} {lo},{min(lo + 2, hi)}"
                f"-{hi} (comma-separated, no spaces inside)"
            )
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) is not None else a
        if a > b:
            raise PcplabError(f"{option}: range {part!r} is backwards; write it low-high")
        if a < lo or b > hi:
            raise PcplabError(f"{option}: {what} {part!r} is outside {lo}..{hi}")
        seen.update(range(a, b + 1))
    if not seen:
        raise PcplabError(f"{option} is empty; give e.g. {option} {lo},{min(lo + 2, hi)}")
    return sorted(seen)


def machine_profile(name: str, option: str = "--machine") -> Any:
    """The profile for ``name`` (built-in, ``host`` or a TOML path); errors name the option."""
    from pcplab.machines.registry import get_profile

    if not name or not name.strip():
        raise PcplabError(f"{option} is empty; see 'pcplab machines list'")
    return get_profile(name)


def machine_memory_mib(profile: Any) -> int:
    return int(profile.memory_bytes >> 20)


def check_memory_mib(value: int | None, profile: Any, option: str, minimum: int = 4) -> None:
    """``value`` MiB must lie between ``minimum`` and the machine's memory."""
    if value is None:
        return
    top = machine_memory_mib(profile)
    if not minimum <= value <= top:
        raise PcplabError(
            f"{option} {value} is outside {minimum}..{top} MiB ({profile.name} has {top} MiB)"
        )


def check_design(name: str, option: str = "--design") -> Any:
    from pcplab import designs

    if not name or not name.strip():
        raise PcplabError(f"{option} is empty; see 'pcplab designs'")
    return designs.get(name)


def isolated_cpus(text: str, profile: Any, option: str = "--isolated") -> list[int]:
    """nohz_full CPUs on ``profile``: within the machine and leaving at least one CPU for the
    load.  The kernel never isolates every CPU either: kernel/sched/isolation.c
    ``housekeeping_setup`` warns "Housekeeping: must include one present CPU, using boot CPU"
    and takes the boot CPU back as a housekeeping CPU; here the run is refused instead, so the
    result describes the CPUs asked for."""
    n = profile.nr_cpus
    cpus = parse_int_list(text, option, 0, n - 1, "CPU")
    if len(cpus) >= n:
        raise PcplabError(f"{option} {text!r} isolates every CPU of {profile.name}; leave at least "
                          "one for the load")  # fmt: skip
    return cpus


def strip_timing(obj: Any) -> Any:
    """``obj`` without wall-clock fields (``seconds``, ``steps_per_second``), recursively: the
    same seed must print the same bytes."""
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


TIMING_KEYS = frozenset({"seconds", "steps_per_second"})


# -- shell completion (click's ``shell_complete=``; see docs/cli.md) ------------------------------
def _complete(names: list[str], incomplete: str, comma_list: bool) -> list[Any]:
    """``names`` starting with ``incomplete``; for a comma list only its last item is
    completed (``rcu,spi`` -> ``rcu,spinlock``).  Something that looks like a path (``./``,
    ``/``, ``~``, ``.toml``/``.py``) is left to the shell's file completion."""
    from click.shell_completion import CompletionItem

    head, _, last = incomplete.rpartition(",") if comma_list else ("", "", incomplete)
    if last.startswith((".", "/", "~")) or last.endswith((".toml", ".py")):
        return [CompletionItem(last, type="file")]
    prefix = f"{head}," if head else ""
    done = set(head.split(",")) if head else set()
    return [CompletionItem(prefix + n) for n in names if n.startswith(last) and n not in done]


def machine_names() -> list[str]:
    from pcplab.machines.registry import profile_names

    return profile_names()


def design_names(mutants: bool = False) -> list[str]:
    """Built-in designs; with ``mutants`` the checker's mutants too (``pcplab designs
    --mutants``)."""
    from pcplab import designs

    return [*designs.names(), *(designs.mutant_names() if mutants else [])]


def complete_machine(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _complete(machine_names(), incomplete, comma_list=False)


def complete_machines(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _complete(machine_names(), incomplete, comma_list=True)


def complete_design(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _complete(design_names(), incomplete, comma_list=False)


def complete_designs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    return _complete(design_names(), incomplete, comma_list=True)


def complete_check_design(ctx: click.Context, param: click.Parameter,
                          incomplete: str) -> list[Any]:
    return _complete(design_names(mutants=True), incomplete, comma_list=False)
