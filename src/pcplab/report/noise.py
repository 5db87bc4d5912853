"""Noise and drain-latency reports in ``rtla osnoise top``'s vocabulary.

Columns are rtla's, in rtla's order (``torvalds/linux@009a8e68``
``tools/tracing/rtla/src/osnoise_top.c`` ``osnoise_top_header`` / ``osnoise_top_print``; example in
``Documentation/tools/rtla/rtla-osnoise-top.rst``): CPU, Period, Runtime, Noise, % CPU Aval, Max
Noise, Max Single, HW, NMI, IRQ, Softirq, Thread; times in microseconds.

* **IRQ includes IPIs.**  osnoise has no IPI counter: on x86 ``osnoise_arch_register``
  (``arch/x86/kernel/trace.c``) hooks the APIC vectors -- the call-function and reschedule IPIs
  among them -- to ``osnoise_trace_irq_entry``, so an IPI is one IRQ interference.  pcplab's
  simulator tells IPIs apart (``interference["ipi"]``); they are added into IRQ and shown again in
  an ``IPI`` breakdown column beside the rtla columns.
* **HW, NMI, Softirq** are not modelled by the simulator (no SMIs, NMIs or softirqs run on the
  isolated CPUs in the model); they print ``-``, not 0, unless a result carries them (an imported
  real ``rtla`` capture does).
* **Period / Max Noise.**  osnoise samples in periods (``osnoise/period_us``, default 1 s, with
  ``runtime_us`` 1 s).  The simulator's noise meter keeps totals only, so a run of at most one
  period is reported as one period (``#1``; Max Noise = Noise); for a longer run the per-period
  maximum is unknown and prints ``-``.
* Only the isolated CPUs are shown unless asked (rtla shows the CPUs chosen with ``-c``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

NoiseRuns = Sequence[tuple[str, Mapping[str, Any]]]  # (label, noise result)

#: osnoise's default sampling period, ``osnoise/period_us`` (Documentation/trace/osnoise-tracer.rst)
OSNOISE_PERIOD_S = 1.0

RTLA_COLUMNS = ("CPU", "Period", "Runtime", "Noise", "% CPU Aval", "Max Noise", "Max Single",
                "HW", "NMI", "IRQ", "Softirq", "Thread")
COUNTERS = ("hw", "nmi", "irq", "softirq", "thread")
#: pcplab's figures printed beside rtla's columns (us): (result key, column name)
EXTRA_COLUMNS = (("delay_ns", "Task delay"), ("lock_spin_ns", "Lock spin"))


def _us(ns: float | None, decimals: int = 2) -> str:
    if ns is None or (isinstance(ns, float) and math.isnan(ns)):
        return "-"
    return f"{ns / 1000:.{decimals}f}"


def grid(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1,
         align: str | None = None) -> str:
    """Plain-text table, two spaces between columns.  ``align``: one 'l'/'r' per column; by
    default the first ``left`` columns are left-aligned and the rest right-aligned."""
    if align is None:
        align = "l" * left + "r" * (len(header) - left)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for r in [header, *rows]:
        cells = [
            f"{c:<{w}}" if a == "l" else f"{c:>{w}}"
            for c, w, a in zip(r, widths, align, strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out) + "\n"


_grid = grid  # the older private name


def isolated_cpus(result: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in result.get("cpus", []) if c.get("isolated")]


# -- osnoise counters ----------------------------------------------------------------------------
def counter(cpu: Mapping[str, Any], kind: str) -> int | None:
    """One rtla interference counter of a CPU record; IRQ includes IPIs; None = not modelled."""
    i = cpu.get("interference", {})
    if kind == "irq":
        if "irq" not in i and "ipi" not in i:
            return None
        return int(i.get("irq", 0)) + int(i.get("ipi", 0))
    return None if kind not in i else int(i[kind])


def interruptions(cpu: Mapping[str, Any]) -> int:
    """Every interference osnoise would count on this CPU (HW + NMI + IRQ + Softirq + Thread)."""
    return sum(counter(cpu, k) or 0 for k in COUNTERS)


def _count(v: int | None) -> str:
    return "-" if v is None else str(v)


def _runtime_s(result: Mapping[str, Any], runtime_s: float | None) -> float | None:
    if runtime_s is not None:
        return runtime_s
    d = result.get("duration_s")
    return float(d) if d is not None else None


def osnoise_fields(cpu: Mapping[str, Any], runtime_s: float | None) -> dict[str, Any]:
    """rtla's columns for one CPU as numbers (times in us; None where unknown/not modelled)."""
    if "rtla" in cpu:  # an imported capture carries rtla's own numbers
        return dict(cpu["rtla"])
    periods = None
    max_noise = None
    runtime_us = None
    if runtime_s is not None:
        runtime_us = runtime_s * 1e6
        if runtime_s <= OSNOISE_PERIOD_S:
            periods, max_noise = 1, cpu["noise_ns"] / 1000
    return {
        "CPU": int(cpu["cpu"]), "Period": periods, "Runtime": runtime_us,
        "Noise": cpu["noise_ns"] / 1000, "% CPU Aval": cpu["available_pct"],
        "Max Noise": max_noise, "Max Single": cpu["max_single_noise_ns"] / 1000,
        "HW": counter(cpu, "hw"), "NMI": counter(cpu, "nmi"), "IRQ": counter(cpu, "irq"),
        "Softirq": counter(cpu, "softirq"), "Thread": counter(cpu, "thread"),
        "IPI": counter(cpu, "ipi"),
    }


def _cells(f: Mapping[str, Any]) -> list[str]:
    def num(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    return [str(f["CPU"]), "-" if f["Period"] is None else f"#{f['Period']}",
            num(f["Runtime"], ".0f"), num(f["Noise"], ".2f"), num(f["% CPU Aval"], ".5f"),
            num(f["Max Noise"], ".2f"), num(f["Max Single"], ".2f"),
            *[_count(f[k]) for k in ("HW", "NMI", "IRQ", "Softirq", "Thread")]]


def _sources(cpu: Mapping[str, Any]) -> str:
    src = cpu.get("sources") or {}
    return " ".join(f"{name}:{src[name]}" for name in sorted(src)) or "-"


def osnoise_top(runs: NoiseRuns, all_cpus: bool = False, runtime_s: float | None = None) -> str:
    """One line per (design, CPU) as ``rtla osnoise top`` prints one per CPU, then the IPI
    breakdown of IRQ and what the noise is attributed to (osnoise's per-source events).  Only
    isolated CPUs unless ``all_cpus``."""
    multi = len(runs) > 1
    shown = [(label, res, c) for label, res in runs for c in res.get("cpus", [])
             if all_cpus or c.get("isolated")]
    # pcplab's own figures beside rtla's, when the simulator reports them: how long the CPU's
    # task was runnable while something else ran, and how long it spun on pcp locks (the per-CPU
    # spinlock design's cost)
    extra = [(key, name) for key, name in EXTRA_COLUMNS if any(key in c for _, _, c in shown)]
    header = [*(["Design"] if multi else []), *RTLA_COLUMNS, "IPI (in IRQ)",
              *[name for _, name in extra], "Sources"]
    rows = []
    for label, res, c in shown:
        f = osnoise_fields(c, _runtime_s(res, runtime_s))
        rows.append([*([label] if multi else []), *_cells(f), _count(f.get("IPI")),
                     *[_us(c.get(key)) for key, _ in extra], _sources(c)])
    align = (("l" if multi else "") + "rl" + "r" * (len(RTLA_COLUMNS) - 2) + "r"
             + "r" * len(extra) + "l")
    return grid(header, rows, align=align) + _legend(runs)


def _legend(runs: NoiseRuns) -> str:
    notes = []
    if any(counter(c, "hw") is None and "rtla" not in c and not r.get("source")
           for _, r in runs for c in r.get("cpus", [])):
        notes.append("HW, NMI, Softirq: not modelled (-)")
    if any(r.get("source") == "trace-cmd report" for _, r in runs):
        notes.append("trace-cmd: HW is not in osnoise's events (-)")
    notes.append("IRQ counts IPIs, as osnoise does")
    if any((r.get("duration_s") or 0) > OSNOISE_PERIOD_S for _, r in runs):
        notes.append("Max Noise: per-period maximum not recorded (-)")
    return "; ".join(notes) + "\n"


def noise_summary(runs: NoiseRuns, runtime_s: float | None = None) -> str:
    """Isolated CPUs, designs side by side, in rtla's column names (summed over the CPUs; % CPU
    Aval is the lowest CPU's, Max Noise and Max Single the largest)."""
    header = ["isolated CPUs", *[label for label, _ in runs]]
    rows: list[list[str]] = []
    per_design = []
    for _, res in runs:
        rt = _runtime_s(res, runtime_s)
        per_design.append([osnoise_fields(c, rt) for c in isolated_cpus(res)])

    def add(name: str, fn: Any) -> None:
        rows.append([name, *[fn(fs) if fs else "-" for fs in per_design]])

    def total(key: str) -> Any:
        def fn(fs: list[dict[str, Any]]) -> str:
            vals = [f[key] for f in fs]
            return "-" if any(v is None for v in vals) else str(sum(vals))
        return fn

    def worst(key: str) -> Any:
        def fn(fs: list[dict[str, Any]]) -> str:
            vals = [f[key] for f in fs]
            return "-" if any(v is None for v in vals) else f"{max(vals):.2f}"
        return fn

    add("CPUs", lambda fs: ",".join(str(f["CPU"]) for f in fs))
    add("Runtime (us)", lambda fs: "-" if fs[0]["Runtime"] is None else f"{fs[0]['Runtime']:.0f}")
    # an imported rtla osnoise hist has no % CPU Aval (nor Noise with --no-summary): '-'
    add("Noise (us)", lambda fs: "-" if any(f["Noise"] is None for f in fs)
        else f"{sum(f['Noise'] for f in fs):.2f}")
    add("% CPU Aval (min)", lambda fs: "-" if any(f["% CPU Aval"] is None for f in fs)
        else f"{min(f['% CPU Aval'] for f in fs):.5f}")
    add("Max Noise (us)", worst("Max Noise"))
    add("Max Single (us)", worst("Max Single"))
    for key in ("HW", "NMI", "IRQ"):
        add(key, total(key))
    add("IPI (in IRQ)", total("IPI"))
    for key in ("Softirq", "Thread"):
        add(key, total(key))
    return grid(header, rows)


def noise_per_cpu(runs: NoiseRuns, isolated_only: bool = True) -> str:
    """The rtla table of every design's (isolated) CPUs; see :func:`osnoise_top`."""
    return osnoise_top(runs, all_cpus=not isolated_only)


# -- drain latency -------------------------------------------------------------------------------
def percentile_supported(n: int, p: float) -> bool:
    """Whether ``n`` samples support a p-th percentile: by nearest rank it must not be the largest
    sample (at least one sample lies above it), i.e. ceil(p/100 * n) < n -- n >= 100 for p99.
    With fewer samples "p99" is just the maximum, and is not printed as a percentile."""
    return n > 0 and math.ceil(p / 100 * n) < n


def latency_percentile(lat: Mapping[str, Any], p: float) -> float | None:
    """Nearest-rank p-th percentile of ``lat["samples"]`` (ns), None where unsupported."""
    samples = sorted(lat.get("samples") or [])
    if not percentile_supported(len(samples), p):
        return None
    return float(samples[max(1, math.ceil(p / 100 * len(samples))) - 1])


def drain_latency_summary(runs: NoiseRuns) -> str:
    """drain_all_pages() latency per design (us): min, mean, p99 (where the sample count
    supports it, see :func:`percentile_supported`), max and sample count."""
    header = ["drain latency (us)", *[label for label, _ in runs]]
    lats = [res.get("drain_latency_ns", {}) for _, res in runs]
    rows = [["Min", *[_us(lat.get("min")) for lat in lats]],
            ["Mean", *[_us(lat.get("mean")) for lat in lats]]]
    rows.append(["p99", *[_us(latency_percentile(lat, 99)) for lat in lats]])
    rows.append(["Max", *[_us(lat.get("max")) for lat in lats]])
    rows.append(["Samples", *[str(len(lat.get("samples", []))) for lat in lats]])
    text = grid(header, rows)
    if any(latency_percentile(lat, 99) is None for lat in lats):
        text += "p99: - where fewer than 100 samples (it would be the maximum)\n"
    return text


def latency_histogram(samples_ns: Sequence[float], buckets: int = 12) -> list[tuple[float, float,
                                                                                      int]]:
    """(low us, high us, count) in log2-spaced buckets covering the samples, as a text histogram
    (rtla hist and cyclictest -h print counts per bucket)."""
    xs = sorted(s / 1000 for s in samples_ns if s > 0)
    if not xs:
        return []
    lo = 2 ** math.floor(math.log2(xs[0]))
    hi = 2 ** math.ceil(math.log2(xs[-1]) + 1e-12)
    n = max(1, min(buckets, int(round(math.log2(hi / lo)))))
    edges = [lo * (hi / lo) ** (k / n) for k in range(n + 1)]
    counts = [0] * n
    for x in xs:
        k = min(n - 1, max(0, int(math.log2(x / lo) / math.log2(hi / lo) * n)))
        counts[k] += 1
    return [(edges[k], edges[k + 1], counts[k]) for k in range(n)]


# -- checker -------------------------------------------------------------------------------------
def check_summary(verdicts: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The checker's verdict per design.

    Wall-clock seconds are left out so the same results always print the same text; they stay in
    the stored verdict.
    """
    header = ["Design", "Verdict", "Mode", "Bound", "Exhaustive", "Executions", "States",
              "Detail"]
    rows = []
    for label, v in verdicts:
        viol = v.get("violation")
        if viol:
            detail = (f"{viol.get('kind', '?')} in {viol.get('function', '?')} on CPU "
                      f"{viol.get('cpu', '?')}")
            verdict = "VIOLATION"
        else:
            detail, verdict = "", "ok"
        bound = v.get("bound")
        rows.append([label, verdict, str(v.get("mode", "-")), "-" if bound is None else str(bound),
                     "yes" if v.get("exhaustive") else "no", str(v.get("executions", "")),
                     str(v.get("states", "")), detail])
    return grid(header, rows, align="lllrrrrl")


# -- wakeup latency (timerlat / cyclictest) -------------------------------------------------------
#: the wakeup-latency table's columns (``pcplab noise --json``'s ``wakeup_latency`` rows carry the
#: same names, plus ``Histogram``)
WAKEUP_COLUMNS = ("CPU", "Task", "Cycles", "Min", "Avg", "Max", "p99")


def wakeup_fields(cpu: Mapping[str, Any]) -> dict[str, Any]:
    """One CPU's wakeup latency as the table's fields, times in us (cyclictest prints us);
    ``p99`` None where the sample count does not support it (:func:`percentile_supported`);
    ``Histogram``: cyclictest's ``--json`` histogram, ``{"<whole us>": count}``."""
    w = cpu["wakeup_latency"]
    n = int(w["cycles"])

    def us(key: str) -> float | None:
        v = w.get(key)
        return None if v is None else round(v / 1000, 3)

    return {
        "CPU": int(cpu["cpu"]), "Task": cpu.get("task"), "Cycles": n,
        "Min": us("min_ns"), "Avg": us("avg_ns"), "Max": us("max_ns"),
        "p99": us("p99_ns") if percentile_supported(n, 99) else None,
        "Histogram": dict(w.get("histogram_us") or {}),
    }


def wakeup_json(res: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of :func:`wakeup_latency_text` as data (``pcplab noise --json``)."""
    return [wakeup_fields(c) for c in isolated_cpus(res) if "wakeup_latency" in c]


def wakeup_histogram_line(hist_us: Mapping[str, int]) -> str:
    """cyclictest's 1 us histogram folded into log2 buckets: ``0-1:n 1-2:n 2-4:n ...`` (us),
    empty buckets left out."""
    buckets: dict[int, int] = {}
    for key, n in hist_us.items():
        us = int(key)
        hi = 1 if us == 0 else 2 ** (us.bit_length())
        buckets[hi] = buckets.get(hi, 0) + int(n)
    return " ".join(f"{hi // 2 if hi > 1 else 0}-{hi}:{buckets[hi]}" for hi in sorted(buckets)) \
        or "-"


def wakeup_latency_text(res: Mapping[str, Any]) -> str:
    """The isolated tasks' wakeup latency, one row per isolated CPU (timerlat's thread latency,
    cyclictest's Min/Avg/Max in us; :mod:`pcplab.workloads.noise`), then each CPU's histogram.
    A result without the measurement (an imported capture, a run without a periodic task) gives
    one line saying why."""
    rows = wakeup_json(res)
    title = ("Wakeup latency of the isolated tasks (timerlat / cyclictest: timer expiry to the "
             "task running); time is in us\n")
    if not rows:
        if not any("wakeup_latency" in c for c in res.get("cpus", [])) and res.get(
                "isolated_task") in (None, "idle"):
            return ""
        return title + "no wakeups measured\n"
    if all(r["Cycles"] == 0 for r in rows):
        return (title + f"no timer wakeups: the isolated task ({res.get('isolated_task')}) never "
                "sleeps on a periodic timer (a periodic task: --isolated-task fifo)\n")

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    table = grid(WAKEUP_COLUMNS, [[str(r["CPU"]), str(r["Task"] or "-"), str(r["Cycles"]),
                                   num(r["Min"]), num(r["Avg"]), num(r["Max"]), num(r["p99"])]
                                  for r in rows], align="rlrrrrr")
    notes = ""
    if any(r["p99"] is None for r in rows):
        notes += f"p99: - where fewer than {min_samples(99)} wakeups (it would be the maximum)\n"
    hist = "".join(f"cpu{r['CPU']} wakeup latency histogram (us: count): "
                   f"{wakeup_histogram_line(r['Histogram'])}\n" for r in rows)
    return title + table + notes + hist


def has_wakeups(res: Mapping[str, Any]) -> bool:
    return any(r["Cycles"] for r in wakeup_json(res))


def wakeup_by_design(runs: NoiseRuns) -> str:
    """``pcplab compare``: the isolated tasks' wakeup latency, a column per design, rows
    ``cpuN max`` / ``avg`` / ``p99`` (us; p99 only from 100 wakeups) / ``wakeups``."""
    per = [{r["CPU"]: r for r in wakeup_json(res)} for _, res in runs]
    cpus = sorted({c for d in per for c in d})
    header = ["wakeup latency (us)", *[label for label, _ in runs]]

    def cell(r: Mapping[str, Any] | None, key: str) -> str:
        if r is None or not r["Cycles"]:
            return "-"
        return str(r[key]) if key == "Cycles" else ("-" if r[key] is None else f"{r[key]:.2f}")

    rows = [[f"cpu{c} {name}", *[cell(d.get(c), key) for d in per]]
            for c in cpus for name, key in (("max", "Max"), ("avg", "Avg"), ("p99", "p99"),
                                            ("wakeups", "Cycles"))]
    note = f"p99: - where fewer than {min_samples(99)} wakeups (it would be the maximum)\n"
    return grid(header, rows) + note


# -- `pcplab noise` ------------------------------------------------------------------------------
def latency_line(lat: Mapping[str, Any]) -> str:
    """One line: min, mean, p99 (where supported), max and the sample count, in us."""
    n = len(lat.get("samples") or [])
    p99 = latency_percentile(lat, 99)
    p99_text = _us(p99) if p99 is not None else f"- (n<{min_samples(99)})"
    return (f"min {_us(lat.get('min'))}  mean {_us(lat.get('mean'))}  p99 {p99_text}  "
            f"max {_us(lat.get('max'))}  samples {n}")


def histogram_line(samples_ns: Sequence[float]) -> str:
    """``lo-hi:count`` per log2 bucket (us), empty buckets left out."""
    return " ".join(f"{lo:g}-{hi:g}:{n}" for lo, hi, n in latency_histogram(samples_ns) if n) \
        or "-"


def min_samples(p: float) -> int:
    """The fewest samples that support a p-th percentile (:func:`percentile_supported`)."""
    n = 1
    while not percentile_supported(n, p):
        n += 1
    return n


def osnoise_json(res: Mapping[str, Any], all_cpus: bool = False) -> list[dict[str, Any]]:
    """The rows of :func:`osnoise_top` as data (``pcplab noise --json``'s ``osnoise_top``)."""
    return [osnoise_fields(c, _runtime_s(res, None)) for c in res.get("cpus", [])
            if all_cpus or c.get("isolated")]


def noise_run_text(res: Mapping[str, Any], all_cpus: bool = False) -> str:
    """What `pcplab noise` prints for one run: rtla's table of the isolated CPUs (every CPU with
    ``all_cpus``), then drain_all_pages() latency with its histogram."""
    dur = res["duration_s"]
    rate = f" at {res['drain_rate']:g}/s" if res.get("load") != "oom" else ""
    iso = ",".join(map(str, res.get("isolated", []))) or "-"
    shown = "every CPU" if all_cpus else f"isolated CPUs {iso} (--all-cpus for the rest)"
    lines = [
        f"pcplab noise: machine {res['machine']}, design {res['design']} (kernel "
        f"{res.get('kernel')}), load {res.get('load')}{rate}, {dur:g} s simulated, isolated CPUs "
        f"{iso} running {res.get('isolated_task')}",
        f"Operating System Noise (rtla osnoise top's columns), {shown}; time is in us",
    ]
    text = "\n".join(lines) + "\n" + osnoise_top([(res.get("design", "?"), res)],
                                                 all_cpus=all_cpus)
    text += wakeup_latency_text(res)
    lat = res.get("drain_latency_ns") or {}
    skipped = res.get("drains_skipped")
    text += (f"drain_all_pages latency (us): {latency_line(lat)}"
             + (f" (skipped on mutex: {skipped})" if skipped is not None else "") + "\n")
    text += f"drain_all_pages latency histogram (us: count): {histogram_line(lat.get('samples') or [])}\n"
    return text
