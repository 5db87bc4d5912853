"""Reading captured ``rtla osnoise hist`` output: a real machine's per-CPU noise distribution,
stored in the shape of a noise run so it can sit beside the model's.

What the tool measures (torvalds/linux@025b2179 ``kernel/trace/trace_osnoise.c``
``run_osnoise``): the osnoise thread reads the time in a loop; every gap of at least the
threshold (``tracing_thresh``, 5 us when unset; rtla's ``-T``) is one noise *sample*, added to
the period's total noise (top's ``Noise``), compared with its maximum (top's ``Max Single``) and
emitted as an ``osnoise:sample_threshold`` event.  ``rtla osnoise hist`` histograms those events
per CPU (``Documentation/tools/rtla/rtla-osnoise-hist.rst``, torvalds/linux@96b546c2).  So the
sum of a CPU's samples is its total noise and the largest is its Max Single.

Output format (torvalds/linux@025b2179 ``tools/tracing/rtla/src/osnoise_hist.c``):

* ``osnoise_hist_header``: ``# RTLA osnoise histogram``, ``# Time unit is microseconds (us)``
  (or nanoseconds (ns)), ``# Duration: D HH:MM:SS``, then a column header: ``Index`` and one
  ``CPU-NNN`` (three digits, zero-padded) per CPU -- only CPUs with at least one sample (and, with
  ``-c``, only the chosen ones);
* ``osnoise_print_stats``: one row per bucket, the bucket's lower bound (``bucket * -b``, in the
  time unit) and one count per CPU; rows whose counts are all zero are left out unless
  ``--with-zeros``; then ``over:`` (samples past the last of ``-E`` entries);
* ``osnoise_print_summary``: ``count:``, ``min:``, ``avg:`` (two decimals; older rtla printed an
  integer), ``max:`` per CPU (left out with ``--no-summary``).  With no sample at all the tool
  prints ``over: 0`` ... ``max: 0`` with one value each and no CPU column;
* ``osnoise_report_missed_events`` (``osnoise.c``) may add ``N (P%) events missed, results might
  not be accurate`` or ``unknown number of events missed, ...``; ``osnoise_hist_main`` adds
  ``rtla osnoise hit stop tracing`` when a ``-s``/``-S`` stop fired.

The samples come from the kernel's hist trigger with ``duration.buckets=<bucket in ns>``, and
``osnoise_read_trace_hist`` reads each entry's lower bound, so min/avg/max are bucket lower
bounds too (``osnoise_hist_update_multiple``).

Result: ``{"source": "rtla osnoise hist", "unit", "duration_s", "bucket_size", "cpus": [...]}``;
per CPU the noise-run fields (``noise_ns``: count x avg, the total of the samples;
``max_single_noise_ns``: max; ``available_pct``: None, the runtime is not printed; no
interference counts), rtla top's columns under ``"rtla"`` (None where hist does not print them)
and the histogram itself under ``"noise_histogram"``: ``buckets`` (``{"<lower bound>": count}``,
the time unit), ``over``, ``count``, ``min``, ``avg``, ``max`` (the time unit; None with
``--no-summary``).

Inferred, not printed (ASSUMPTIONs): ``bucket_size`` is the greatest common divisor of the
printed nonzero indexes (``-b``'s value, or a multiple of it when empty rows are left out; None
with only the 0 row); a capture without the ``# Time unit`` line (``--no-header``) is in
microseconds, rtla's default; every CPU in the table is a measured (isolated) CPU, as with rtla's
``-c``.

Bad input: a row that is cut off or does not parse (wrong number of columns, a last line with no
newline) is a warning naming its line number and is left out; a CPU whose bucket counts do not
add up to its ``count:`` is a warning; missed events are a warning.  Output with no column header
(``--no-header``), with ``--no-index`` (the buckets cannot be told), or from ``rtla timerlat
hist`` is an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from pcplab.errors import PcplabError

TITLE = "# RTLA osnoise histogram"
_ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|c)")
_UNIT = re.compile(r"^#\s*Time unit is \w+ \((us|ns)\)\s*$")
_DURATION = re.compile(r"^#\s*Duration:\s*(\d+)\s+(\d+):(\d+):(\d+)\s*$")
_COLUMNS = re.compile(r"^\s*(Index)?((?:\s*CPU-\d+)+)\s*$")
_ROW = re.compile(r"^\s*(\d+)((?:\s+\d+)+)\s*$")
_SUMMARY = re.compile(r"^\s*(over|count|min|avg|max):\s*(.*?)\s*$")
_MISSED = re.compile(r"^\s*(\d+ \([\d.]+%\) events missed|unknown number of events missed)")
_STOPPED = re.compile(r"^\s*rtla osnoise hit stop tracing\s*$")
_SAVING = re.compile(r"^\s*Saving trace to ")
SUMMARY_ROWS = ("over", "count", "min", "avg", "max")


def looks_like_osnoise_hist(text: str) -> bool:
    """Whether a capture is ``rtla osnoise hist`` output (its title, its column header or a
    summary row)."""
    clean = _ANSI.sub("", text)
    # rtla osnoise top prints neither the title, an Index column nor a 'count:' row
    return TITLE in clean or any((_COLUMNS.match(ln) and "Index" in ln) or _SUMMARY.match(ln)
                                 for ln in clean.splitlines())


def _number(cell: str) -> float | None:
    return None if cell == "-" else float(cell)


def parse_osnoise_hist(text: str, warn: Callable[[str], None]) -> dict[str, Any]:
    """The noise result of a captured ``rtla osnoise hist`` output (see the module docstring)."""
    if "# RTLA timerlat histogram" in text:
        raise PcplabError("this is 'rtla timerlat hist' output; --rtla reads 'rtla osnoise hist' "
                          "and 'rtla osnoise top' captures")
    clean = _ANSI.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = clean.split("\n")
    cut_last = lines[-1] != ""  # rtla ends every line with a newline: a last line without is cut
    if not cut_last:
        lines.pop()
    titles = [i for i, ln in enumerate(lines) if ln.strip() == TITLE]
    if len(titles) > 1:
        warn(f"{len(titles)} histograms in the capture; the last one (line {titles[-1] + 1}) is "
             "read")
    start = titles[-1] if titles else 0
    unit = "us"
    duration_s: float | None = None
    cpus: list[int] | None = None
    buckets: dict[int, list[int]] = {}
    summary: dict[str, list[float | None]] = {}
    empty = False
    missed: str | None = None
    stopped = False
    for n in range(start, len(lines)):
        line, lineno = lines[n], n + 1
        if not line.strip() or line.strip() == TITLE or _SAVING.match(line):
            continue
        if n == len(lines) - 1 and cut_last:
            warn(f"line {lineno}: cut off (no newline at the end of the capture); left out")
            continue
        if m := _UNIT.match(line):
            unit = m.group(1)
            continue
        if m := _DURATION.match(line):
            d, h, mi, s = (int(x) for x in m.groups())
            duration_s = float(((d * 24 + h) * 60 + mi) * 60 + s)
            continue
        if cpus is None:
            if line.strip() == "Index":  # no CPU had a sample: rtla prints no CPU column
                cpus = []
                continue
            if m := _COLUMNS.match(line):
                if not m.group(1):
                    raise PcplabError("the histogram has no Index column (rtla's --no-index): "
                                      "its rows cannot be told apart; capture without --no-index")
                cpus = [int(c) for c in re.findall(r"CPU-(\d+)", m.group(2))]
                continue
            if _ROW.match(line) or _SUMMARY.match(line):
                raise PcplabError("histogram rows with no 'Index CPU-NNN ...' header (rtla's "
                                  "--no-header?): the CPUs are not named; capture without "
                                  "--no-header")
            if titles:
                warn(f"line {lineno}: not part of an rtla osnoise hist table; left out")
            continue  # before the table: a shell prompt, the command line
        if _MISSED.match(line):
            missed = line.strip()
            warn(f"rtla reported: {missed}")
            continue
        if _STOPPED.match(line):
            stopped = True
            continue
        if m := _SUMMARY.match(line):
            key, cells = m.group(1), m.group(2).split()
            if not cpus and cells == ["0"]:
                empty = True
                continue
            try:
                values = [_number(c) for c in cells]
            except ValueError:
                warn(f"line {lineno}: '{key}:' has a value that is not a number; left out")
                continue
            if len(values) != len(cpus):
                warn(f"line {lineno}: '{key}:' has {len(values)} values for {len(cpus)} CPUs "
                     "(cut off?); left out")
                continue
            if key in summary:
                warn(f"line {lineno}: a second '{key}:' row; the first is kept")
                continue
            summary[key] = values
            continue
        if (m := _ROW.match(line)) and not summary:
            counts = [int(c) for c in m.group(2).split()]
            if len(counts) != len(cpus):
                warn(f"line {lineno}: {len(counts)} counts for {len(cpus)} CPUs (cut off?); "
                     "left out")
                continue
            index = int(m.group(1))
            if index in buckets:
                warn(f"line {lineno}: bucket {index} a second time; the first is kept")
                continue
            buckets[index] = counts
            continue
        warn(f"line {lineno}: not a histogram row (cut off or damaged?); left out")
    if cpus is None:
        raise PcplabError("no 'Index CPU-NNN ...' header found: is this the output of "
                          "'rtla osnoise hist'?")
    if cpus and not buckets and not summary:
        raise PcplabError("the rtla histogram has a header but no row under it; capture the "
                          "whole output of 'rtla osnoise hist'")
    if not cpus and not empty:
        raise PcplabError("the rtla histogram names no CPU and has no summary; capture the whole "
                          "output of 'rtla osnoise hist'")
    unit_ns = 1000 if unit == "us" else 1
    records = [_cpu(k, cpu, buckets, summary, unit, unit_ns, warn) for k, cpu in enumerate(cpus)]
    nonzero = [i for i in buckets if i]
    return {"source": "rtla osnoise hist", "mode": "osnoise", "unit": unit,
            "duration_s": duration_s, "bucket_size": math.gcd(*nonzero) if nonzero else None,
            "missed_events": missed, "stopped_tracing": stopped, "cpus": records}


def _cpu(k: int, cpu: int, buckets: dict[int, list[int]], summary: dict[str, list[float | None]],
         unit: str, unit_ns: int, warn: Callable[[str], None]) -> dict[str, Any]:
    def value(key: str) -> float | None:
        row = summary.get(key)
        return None if row is None else row[k]

    hist = {str(i): buckets[i][k] for i in sorted(buckets) if buckets[i][k]}
    over, count = value("over"), value("count")
    counted = sum(hist.values()) + int(over or 0)
    if count is not None and buckets and int(count) != counted:
        warn(f"CPU {cpu}: the bucket counts add up to {counted} but 'count:' says {int(count)} "
             "(a row missing?)")
    avg, max_ = value("avg"), value("max")
    noise = None if avg is None or count is None else avg * count  # the sum of the samples
    rtla = {"CPU": cpu, "Period": None, "Runtime": None,
            "Noise": None if noise is None else round(noise * unit_ns / 1000, 2),
            "% CPU Aval": None, "Max Noise": None,
            "Max Single": None if max_ is None else max_ * unit_ns / 1000,
            "HW": None, "NMI": None, "IRQ": None, "Softirq": None, "Thread": None, "IPI": None}
    return {
        "cpu": cpu, "isolated": True,
        "noise_ns": None if noise is None else round(noise * unit_ns),
        "max_single_noise_ns": None if max_ is None else round(max_ * unit_ns),
        "available_pct": None, "interference": {},
        "noise_histogram": {
            "unit": unit, "buckets": hist, "over": None if over is None else int(over),
            "count": None if count is None else int(count), "min": value("min"), "avg": avg,
            "max": max_,
        },
        "rtla": rtla,
    }
