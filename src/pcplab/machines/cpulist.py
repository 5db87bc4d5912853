"""Linux cpulist strings ("0-31,128-159"), as in /sys/devices/system/node/nodeN/cpulist."""

from __future__ import annotations

from pcplab.errors import PcplabError

#: ASSUMPTION: the largest CPU id worth expanding: Linux's NR_CPUS is at most 8192 (x86 MAXSMP);
#: larger ids are refused before a range is expanded (``0-100000000000`` must not fill memory)
CPU_ID_LIMIT = 8192


def parse_cpulist(text: str, limit: int = CPU_ID_LIMIT) -> tuple[int, ...]:
    """Sorted CPU ids of a cpulist; "" is the empty list. Bad syntax, or an id at or above
    ``limit``, raises PcplabError (checked before the range is expanded)."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            first = int(lo)
            last = int(hi) if sep else first
        except ValueError:
            raise PcplabError(f"bad cpulist {text[:60]!r}: {part[:40]!r} is not N or N-M") from None
        if first < 0 or last < first:
            raise PcplabError(f"bad cpulist {text[:60]!r}: range {part[:40]!r} is empty or negative")
        if last >= limit:
            raise PcplabError(f"bad cpulist {text[:60]!r}: CPU {last} is above the limit {limit - 1}")
        cpus.update(range(first, last + 1))
    return tuple(sorted(cpus))


def format_cpulist(cpus: tuple[int, ...] | list[int]) -> str:
    """Compact cpulist of CPU ids (inverse of :func:`parse_cpulist`)."""
    out: list[str] = []
    ordered = sorted(set(cpus))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)
