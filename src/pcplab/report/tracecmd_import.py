"""Reading ``trace-cmd report`` text with workqueue and osnoise events, so a real machine's noise
sits in the same table as the model's (the same result shape as :mod:`pcplab.report.rtla_import`).

Line format: ``trace-cmd report`` (trace-cmd-report(1)) prints one event per line as the ftrace
``trace`` file does -- ``COMM-PID [CPU] TIMESTAMP: EVENT: FIELDS`` -- with, under ``-l`` (or in a
``cat trace`` copy), the latency columns (``d.h1.``) between the CPU and the timestamp; the event
name may carry its system (``osnoise:irq_noise``).  The fields are the events' ``TP_printk``
formats (torvalds/linux@36ec807b ``include/trace/events/osnoise.h``; ``include/trace/events/
workqueue.h``):

* ``thread_noise: COMM:PID start SEC.NSEC duration N ns``, ``softirq_noise: NAME:VEC start ...``,
  ``irq_noise: DESC:VEC start ...``, ``nmi_noise: start SEC.NSEC duration N ns``: one noise
  interference each, on the CPU of the line, with its start and its *net* duration (the
  durations of nested interferences are not included; ``Documentation/trace/timerlat-tracer.rst``
  "duration values reported by the osnoise: events are net values");
* ``workqueue_execute_start: work struct PTR: function FN`` and ``workqueue_execute_end: work
  struct PTR[: function FN]`` (older kernels print no function at the end): one work item run by
  a kworker, matched by the work pointer on that CPU.

Per CPU this gives the noise record of a simulated run: ``noise_ns`` (the sum of the net noise
durations), ``max_single_noise_ns`` (the longest run of noise events that follow one another
without a gap: osnoise's "Max Single"), ``available_pct``, ``interference`` counts (IRQ, Softirq,
Thread, NMI; HW is not in these events and prints ``-``), ``sources`` (what the noise was:
IRQ descriptions, thread names, work functions), and ``workqueue``: per work function its runs,
total and longest time.  A CPU with workqueue events but no osnoise events (``trace-cmd record -e
workqueue`` alone) gets its kworker time as thread noise, one interference per work item.

ASSUMPTIONs: the trace's first and last timestamps bound the measured window (the runtime of
every CPU, the base of % CPU Aval); every CPU that appears in the trace is one of the measured
(isolated) CPUs, as with rtla's ``-c``.

Bad input: a line that is cut off or does not parse is a warning naming its line number (the
import goes on); lost events (``CPU:N [LOST M EVENTS]``) and work items still running at the end
are warnings too.  A file with no event this module reads is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pcplab.errors import PcplabError

_LINE = re.compile(
    r"^\s*(?P<comm>.+?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>[A-Za-z.]{3,}[\w.]*)\s+)?(?P<ts>\d+\.\d+):\s+(?P<event>[\w:]+):\s?(?P<rest>.*)$")
_NOISE = re.compile(r"^\s*(?:(?P<src>\S.*?):(?P<num>-?\d+)\s+)?start\s+(?P<s>\d+)\.(?P<ns>\d{9})"
                    r"\s+duration\s+(?P<dur>\d+)\s+ns\s*$")
_WORK = re.compile(r"^\s*work struct\s+(?P<ptr>(?:0x)?[0-9a-fA-F]+)(?::\s+function\s+(?P<fn>\S+))?\s*$")
_LOST = re.compile(r"CPU:?\s*(\d+)\s*\[LOST\s+(\d+)\s+EVENTS\]")
#: lines trace-cmd prints that are not events
_PREAMBLE = re.compile(r"^\s*(cpus=\d+|version\s*=.*|CPU \d+ is empty|#.*|\s*)$")

NOISE_EVENTS = {"irq_noise": "irq", "softirq_noise": "softirq", "thread_noise": "thread",
                "nmi_noise": "nmi"}
WORK_EVENTS = ("workqueue_execute_start", "workqueue_execute_end")


@dataclass
class _Cpu:
    noise: list[tuple[int, int, str, str]] = field(default_factory=list)  # start, dur, kind, src
    work: dict[str, list[int]] = field(default_factory=dict)  # fn -> durations (ns)
    running: dict[str, tuple[int, str]] = field(default_factory=dict)  # ptr -> (start ns, fn)


def _ns(ts: str) -> int:
    sec, _, frac = ts.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def parse_trace_cmd_report(text: str, warn: Callable[[str], None]) -> dict[str, Any]:
    """The noise result of a ``trace-cmd report`` text (see the module docstring)."""
    cpus: dict[int, _Cpu] = {}
    first = last = None
    bad = 0
    for n, line in enumerate(text.splitlines(), 1):
        if _PREAMBLE.match(line):
            continue
        lost = _LOST.search(line)
        if lost:
            warn(f"line {n}: CPU {lost.group(1)} lost {lost.group(2)} events; its figures are "
                 "lower bounds")
            continue
        m = _LINE.match(line)
        if m is None:
            bad += 1
            warn(f"line {n}: not a trace-cmd event line (cut off?); skipped: {line[:60]!r}")
            continue
        event = m["event"].rpartition(":")[2]
        ts = _ns(m["ts"])
        first = ts if first is None else min(first, ts)
        last = ts if last is None else max(last, ts)
        if event not in NOISE_EVENTS and event not in WORK_EVENTS:
            continue  # another event (sched_switch, ...): only bounds the window
        rec = cpus.setdefault(int(m["cpu"]), _Cpu())
        if event in NOISE_EVENTS:
            f = _NOISE.match(m["rest"])
            if f is None or (event != "nmi_noise") != (f["src"] is not None):
                bad += 1
                warn(f"line {n}: malformed {event} fields; skipped: {m['rest'][:60]!r}")
                continue
            start = int(f["s"]) * 1_000_000_000 + int(f["ns"])
            src = "nmi" if event == "nmi_noise" else f["src"].strip()  # without :PID/:VECTOR
            rec.noise.append((start, int(f["dur"]), NOISE_EVENTS[event], src))
            continue
        w = _WORK.match(m["rest"])
        if w is None:
            bad += 1
            warn(f"line {n}: malformed {event} fields; skipped: {m['rest'][:60]!r}")
            continue
        if event == "workqueue_execute_start":
            rec.running[w["ptr"]] = (ts, w["fn"] or "?")
        else:
            began = rec.running.pop(w["ptr"], None)
            if began is not None:
                rec.work.setdefault(w["fn"] or began[1], []).append(ts - began[0])
    if not cpus:
        raise PcplabError("no workqueue_execute_start/end or osnoise:*_noise event found: record "
                          "with 'trace-cmd record -e workqueue -e osnoise' and pass 'trace-cmd "
                          "report' output")
    for cpu, rec in sorted(cpus.items()):
        for ptr, (_, fn) in sorted(rec.running.items()):
            warn(f"CPU {cpu}: work {fn} ({ptr}) still running at the end of the trace; not "
                 "counted")
    span = max(1, (last or 0) - (first or 0))
    out = [_record(cpu, rec, span) for cpu, rec in sorted(cpus.items())]
    return {"source": "trace-cmd report", "duration_s": span / 1e9, "cpus": out,
            "skipped_lines": bad}


def _record(cpu: int, rec: _Cpu, span: int) -> dict[str, Any]:
    sources: dict[str, int] = {}
    work = {fn: {"runs": len(d), "total_ns": sum(d), "max_ns": max(d)}
            for fn, d in sorted(rec.work.items())}
    if rec.noise:
        counts: dict[str, int | None] = {"irq": 0, "softirq": 0, "thread": 0, "nmi": 0}
        noise_ns = longest = run = 0
        end = -1
        for start, dur, kind, src in sorted(rec.noise):
            counts[kind] = (counts[kind] or 0) + 1
            sources[src] = sources.get(src, 0) + 1
            noise_ns += dur
            # one noise episode while each event starts before the episode so far has ended;
            # the durations are net, so a nested event adds its own to the episode's length
            if start <= end:
                run += dur
                end += dur
            else:
                run, end = dur, start + dur
            longest = max(longest, run)
    else:  # workqueue events only: the kworkers' time is the thread noise
        counts = {"thread": sum(w["runs"] for w in work.values())}
        noise_ns = sum(w["total_ns"] for w in work.values())
        longest = max((w["max_ns"] for w in work.values()), default=0)
    for fn, w in work.items():
        sources[fn] = sources.get(fn, 0) + w["runs"]
    return {"cpu": cpu, "isolated": True, "noise_ns": noise_ns, "max_single_noise_ns": longest,
            "available_pct": round(100.0 * max(0, span - noise_ns) / span, 5),
            "interference": counts, "sources": dict(sorted(sources.items())), "workqueue": work}


__all__ = ["parse_trace_cmd_report"]
