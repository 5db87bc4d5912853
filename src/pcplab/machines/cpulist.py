"""Linux cpulist strings ("0-31,128-159"), as in /sys/devices/system/node/nodeN/cpulist."""

from __future__ import annotations

from pcplab.errors import PcplabError


def parse_cpulist(text: str) -> tuple[int, ...]:
    """Sorted CPU ids of a cpulist; "" is the empty list. Bad syntax raises PcplabError."""
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
            raise PcplabError(f"bad cpulist {text!r}: {part!r} is not N or N-M") from None
        if first < 0 or last < first:
            raise PcplabError(f"bad cpulist {text!r}: range {part!r} is empty or negative")
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
