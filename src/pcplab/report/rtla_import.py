"""Reading captured ``rtla osnoise top`` output, so a real machine's noise sits beside the model's
(``rtla osnoise hist`` output: :mod:`pcplab.report.rtla_hist_import`; :func:`parse_rtla_capture`
reads either).

Format (``torvalds/linux@009a8e68`` ``tools/tracing/rtla/src/osnoise_top.c``:
``osnoise_top_header`` prints a title line, ``duration: <d> | time is in us`` and the column
header ``CPU Period Runtime Noise % CPU Aval Max Noise Max Single HW NMI IRQ Softirq Thread``;
``osnoise_top_print`` prints one line per CPU as ``%3d #%-6d %12llu`` (CPU, periods, runtime),
``%12llu`` noise, ``  %3d.%05d`` the available percentage, then max noise, max single, HW and NMI
and, except in ``hwnoise`` mode, IRQ, Softirq and Thread).  A capture may hold many refreshes
(the tool redraws every second, with terminal escapes when its output is a terminal); the last
complete one is the result, as ``-q`` prints only that.

The result has the shape of a simulated noise run (``cpus`` with ``noise_ns``,
``max_single_noise_ns``, ``available_pct`` and ``interference``) plus each CPU's rtla numbers under
``"rtla"``, so the report prints rtla's own values (IRQ as rtla counted it, IPIs included).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pcplab.errors import PcplabError
from pcplab.report.rtla_hist_import import looks_like_osnoise_hist, parse_osnoise_hist

_ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|c)")
_HEADER = re.compile(r"^\s*CPU\s+Period\s+Runtime\s+Noise\s+%\s*CPU\s+Aval\s+Max\s+Noise\s+"
                     r"Max\s+Single\s+HW\s+NMI(\s+IRQ\s+Softirq\s+Thread)?\s*$")
_ROW = re.compile(r"^\s*(\d+)\s+#(\d+)\s+(\d+)\s+(\d+)\s+(\d+\.\d+)\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)"
                  r"(?:\s+(\d+)\s+(\d+)\s+(\d+))?\s*$")
_DURATION = re.compile(r"duration:\s*(\d+)\s+(\d+):(\d+):(\d+)\s*\|")


def _duration_s(text: str) -> float | None:
    found = _DURATION.findall(text)
    if not found:
        return None
    d, h, m, s = (int(x) for x in found[-1])
    return float(((d * 24 + h) * 60 + m) * 60 + s)


def parse_rtla_capture(text: str, warn: Callable[[str], None]) -> dict[str, Any]:
    """A captured ``rtla osnoise hist`` (told by its title or its ``Index CPU-NNN`` header) or
    ``rtla osnoise top`` / ``rtla hwnoise`` output, as a noise result."""
    if looks_like_osnoise_hist(text):
        return parse_osnoise_hist(text, warn)
    return parse_osnoise_top(text)


def parse_osnoise_top(text: str) -> dict[str, Any]:
    """The last complete table of a captured ``rtla osnoise top`` (or ``rtla hwnoise``) output."""
    clean = _ANSI.sub("", text.replace("\r", "\n"))
    lines = clean.split("\n")
    starts = [i for i, ln in enumerate(lines) if _HEADER.match(ln)]
    if not starts:
        raise PcplabError("no 'CPU Period Runtime Noise % CPU Aval ...' header found: is this "
                          "the output of 'rtla osnoise top' (or of 'rtla osnoise hist', whose "
                          "'Index CPU-NNN' header is missing too)?")
    for start in reversed(starts):
        hw_only = _HEADER.match(lines[start]).group(1) is None  # type: ignore[union-attr]
        cpus = []
        for ln in lines[start + 1:]:
            m = _ROW.match(ln)
            if not m:
                break
            cpus.append(_cpu(m, hw_only))
        if cpus:
            return {"source": "rtla osnoise top", "mode": "hwnoise" if hw_only else "osnoise",
                    "duration_s": _duration_s("\n".join(lines[:start + 1])), "cpus": cpus}
    raise PcplabError("the rtla output has a header but no CPU line under it; capture the "
                      "output after the first period (or use rtla's -q)")


def _cpu(m: re.Match[str], hw_only: bool) -> dict[str, Any]:
    g = m.groups()
    cpu, periods, runtime, noise = int(g[0]), int(g[1]), int(g[2]), int(g[3])
    aval, max_noise, max_single, hw, nmi = float(g[4]), int(g[5]), int(g[6]), int(g[7]), int(g[8])
    irq = softirq = thread = None
    if not hw_only and g[9] is not None:
        irq, softirq, thread = int(g[9]), int(g[10]), int(g[11])
    rtla = {"CPU": cpu, "Period": periods, "Runtime": float(runtime), "Noise": float(noise),
            "% CPU Aval": aval, "Max Noise": float(max_noise), "Max Single": float(max_single),
            "HW": hw, "NMI": nmi, "IRQ": irq, "Softirq": softirq, "Thread": thread, "IPI": None}
    interference: dict[str, int | None] = {"hw": hw, "nmi": nmi}
    if irq is not None:
        interference.update(irq=irq, softirq=softirq, thread=thread)
    return {"cpu": cpu, "isolated": True, "noise_ns": noise * 1000,
            "max_single_noise_ns": max_single * 1000, "available_pct": aval,
            "interference": interference, "rtla": rtla}
