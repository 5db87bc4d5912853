"""`pcplab compare`: run (or reuse) pft, noise and checker results per design and report them.

Every unit of work (one design x one workload) is stored as soon as it finishes, in its own
transaction, under a key derived from all its parameters; a later invocation with the same
parameters reuses stored units unless asked to run afresh.  Killing the command therefore loses at
most the unit in flight.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pcplab._version import __version__
from pcplab.errors import PcplabError
from pcplab.report import html as html_page
from pcplab.report import isolated_latency
from pcplab.report import noise as noise_report
from pcplab.report.backends import Backend
from pcplab.report.naming import design_from_label, design_label, run_name
from pcplab.report.pft_log import as_mmtests_sees
from pcplab.report.pft_tables import common_clients, fault_ops, pft_tables, timing_ops
from pcplab.report.plots import PlotMeta
from pcplab.report.provenance import environment, provenance
from pcplab.report.summary import Summary, build_summary
from pcplab.report.units import Unit, design_identity, execute  # noqa: F401 - re-exported
from pcplab.stats import significance, summarise
from pcplab.stats.summary import row_pct
from pcplab.store.db import Run, Store

WORKLOADS = ("pft", "noise", "check")


@dataclass(frozen=True)
class CompareParams:
    """Everything that determines the results of a comparison."""

    machine: str
    designs: tuple[str, ...]
    clients: tuple[int, ...] | None
    iterations: int
    seed: int
    isolated: tuple[int, ...]
    load: str
    drain_rate: float
    duration_s: float
    check_scenario: str = "all"
    check_mode: str = "exhaustive"
    check_bound: int | None = None
    rule: str = "ci"
    backend: str = "sim"
    #: a checker scenario file (absolute path) whose scenarios are added to the standard set
    check_scenario_file: str | None = None


def scenario_file_hash(path: str | None) -> str | None:
    if not path:
        return None
    from pcplab.designs.loader import hash_files, source_files

    return hash_files(source_files(path, [str(Path(path).parent)]))


def normalise_designs(names: Sequence[str]) -> tuple[str, ...]:
    """Design specs as given, with files made absolute (stored runs then name them exactly)."""
    out: list[str] = []
    for n in names:
        d = design_from_label(n.strip())
        if d.partition(":")[0].endswith(".py") and Path(d.partition(":")[0]).is_file():
            path, sep, attr = d.partition(":")
            d = str(Path(path).resolve()) + sep + attr
        if not d:
            continue
        if d in out:
            raise PcplabError(f"design {n!r} given twice in --designs; list each design once")
        out.append(d)
    if not out:
        raise PcplabError("--designs is empty; give e.g. --designs workqueue,rcu,spinlock")
    return tuple(out)


def plan(p: CompareParams) -> list[Unit]:
    """Units in execution order: all pft runs first (the tables), then noise, then the checker."""
    units = []
    for d in p.designs:
        pft_params: dict[str, Any] = {
            "clients": list(p.clients) if p.clients else None, "iterations": p.iterations,
            "backend": p.backend}
        if p.isolated:  # nohz_full there, running the isolated task, no pft thread
            pft_params["isolated"] = list(p.isolated)
        units.append(Unit(d, "pft", p.machine, pft_params, p.seed))
    for d in p.designs:
        units.append(Unit(d, "noise", p.machine, {
            "isolated": list(p.isolated), "load": p.load, "drain_rate": p.drain_rate,
            "duration_s": p.duration_s, "backend": p.backend}, p.seed))
    for d in p.designs:
        # the checker's verdict depends on neither the machine nor, when exhaustive, the seed
        check_params: dict[str, Any] = {
            "scenario": p.check_scenario, "mode": p.check_mode, "bound": p.check_bound,
            "backend": p.backend}
        if p.check_scenario_file:
            check_params["scenario_file"] = p.check_scenario_file
            check_params["scenario_file_hash"] = scenario_file_hash(p.check_scenario_file)
        units.append(Unit(d, "check", "-", check_params,
                          None if p.check_mode == "exhaustive" else p.seed))
    return units


@dataclass
class Outcome:
    runs: dict[tuple[str, str], Run] = field(default_factory=dict)
    reused: list[int] = field(default_factory=list)
    ran: list[int] = field(default_factory=list)


def run_all(
    p: CompareParams,
    store: Store,
    backend: Backend,
    fresh: bool = False,
    on_start: Callable[[Unit, int, int], Callable[..., Any] | None] | None = None,
    on_done: Callable[[Unit, bool], None] | None = None,
    executor: Any = None,
) -> Outcome:
    """Run or reuse every unit; each new result is stored as soon as it can be (see run_units).

    ``executor`` (:mod:`pcplab.report.parallel`; default: serial, in plan order) decides where
    the units run.  The results do not depend on it: each unit is seeded by its own parameters,
    and the report is built from the stored runs in plan order; rows are written in plan order too
    (:func:`run_units`), so even the run ids equal a serial run's.  Only the provenance (wall
    time) differs.
    """
    out = Outcome()
    units = plan(p)
    got = run_units(units, store, backend, fresh, on_start, on_done, executor)
    for unit in units:
        run, reused = got[unit.key]
        out.runs[(unit.design, unit.workload)] = run
        (out.reused if reused else out.ran).append(run.id)
    return out


def run_units(
    units: Sequence[Unit],
    store: Store,
    backend: Backend,
    fresh: bool = False,
    on_start: Callable[[Unit, int, int], Callable[..., Any] | None] | None = None,
    on_done: Callable[[Unit, bool], None] | None = None,
    executor: Any = None,
) -> dict[str, tuple[Run, bool]]:
    """Every unit's stored run by key, with whether it was reused; units sharing a key run once.

    Stored units are reused (unless ``fresh``); the others go to ``executor`` and each result is
    saved in its own transaction (in plan order, see below), so a run killed with SIGINT loses
    only the units in flight.
    """
    from pcplab.report.parallel import SerialExecutor

    executor = executor or SerialExecutor()
    got: dict[str, tuple[Run, bool]] = {}
    todo: list[Unit] = []
    queued: set[str] = set()
    for unit in units:
        key = unit.key
        if key in got or key in queued:
            continue
        stored = None if fresh else store.find(key)
        if stored is not None:
            got[key] = (stored, True)
            if on_done:
                on_done(unit, True)
        else:
            todo.append(unit)
            queued.add(key)

    def start(i: int) -> Callable[..., Any] | None:
        return on_start(todo[i], i, len(todo)) if on_start else None

    def store_one(i: int, result: dict[str, Any], wall: float) -> None:
        unit = todo[i]
        # versions, host, command line and wall time go with the stored run (never into the
        # report, which must be the same for the same seed)
        result = dict(result, provenance=provenance(wall))
        run_id = store.save(machine=unit.machine, design=unit.design, workload=unit.workload,
                            params=unit.params, seed=unit.seed, result=result,
                            kernel=result.get("kernel"), key=unit.key, replace=fresh)
        got[unit.key] = (store.get(run_id), False)
        if on_done:
            on_done(unit, False)

    # Rows are written in plan order, each as soon as every unit before it is stored: the run ids
    # (in --format json, `runs table`'s default baseline, exports) are then those of a serial run.
    # A unit that finishes before an earlier one waits here; if the command is interrupted or
    # fails, the waiting results are stored at once (finally), so only a SIGKILL can lose them.
    waiting: dict[int, tuple[dict[str, Any], float]] = {}
    next_i = 0
    try:
        for i, result, wall in executor.run(todo, backend, start):
            waiting[i] = (result, wall)
            while next_i in waiting:
                store_one(next_i, *waiting.pop(next_i))
                next_i += 1
    finally:
        for i in sorted(waiting):
            store_one(i, *waiting.pop(i))
    return got


# -- the report ----------------------------------------------------------------------------------
@dataclass
class Report:
    text: str
    data: dict[str, Any]
    pft_runs: list[tuple[str, dict[int, dict[str, list[float]]]]]
    noise_runs: list[tuple[str, dict[str, Any]]]
    sections: list[tuple[str, str]]
    summary: Summary | None = None
    brief: str = ""
    header: str = ""
    meta: PlotMeta | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _clean(x: float) -> float | None:
    return None if isinstance(x, float) and (math.isnan(x) or math.isinf(x)) else x


def pft_stats(runs: Sequence[tuple[str, dict[int, dict[str, list[float]]]]], rule: str
              ) -> dict[str, Any]:
    """Machine-readable means, spreads, % and markers per operation and run."""
    clients = sorted(set.intersection(*(set(s) for _, s in runs)))
    metric_of = {"system": "system", "elapsed": "elapsed", "faults/cpu": "faults_per_cpu",
                 "faults/sec": "faults_per_sec"}
    out: dict[str, Any] = {}
    for op in timing_ops(clients) + fault_ops(clients):
        prefix, _, n = op.rpartition("-")
        higher = prefix.startswith("faults")
        per = []
        base = None
        for name, s in runs:
            summ = summarise(op, s[int(n)][metric_of[prefix]], higher, legacy_sd=rule == "ttest")
            entry: dict[str, Any] = {"run": name, "n": summ.n, "mean": _clean(summ.mean),
                                     "spread": _clean(summ.spread)}
            if base is None:
                base = summ
                entry.update(pct=0.0, significant=False)
            else:
                sig = significance(base, summ, rule)
                entry.update(pct=_clean(row_pct("mean", summ.mean, base.mean, higher)),
                             significant=sig.significant, statistic=_clean(sig.statistic))
            per.append(entry)
        out[op] = per
    return out


def mean_rows_only(table: str) -> str:
    """The two header lines and the Amean/Hmean rows of an mmtests table (``--brief``)."""
    lines = table.splitlines()
    keep = lines[:2] + [ln for ln in lines[2:] if ln.startswith(("Amean ", "Hmean "))]
    return "\n".join(keep) + "\n"


def _without(result: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in keys}


def build_report(p: CompareParams, outcome: Outcome) -> Report:
    pft_runs = []
    names = []
    for d in p.designs:
        run = outcome.runs[(d, "pft")]
        name = run_name(d, run.kernel, run.params)
        names.append(name)
        pft_runs.append((name, as_mmtests_sees(run.result)))
    if len(set(names)) != len(names):
        raise PcplabError(f"two designs map to the same run name {names}")
    labels = [design_label(d) for d in p.designs]
    noise_runs = [(lab, _without(outcome.runs[(d, "noise")].result, "provenance"))
                  for d, lab in zip(p.designs, labels, strict=True)]
    verdicts = [(lab, _without(outcome.runs[(d, "check")].result, "provenance"))
                for d, lab in zip(p.designs, labels, strict=True)]

    tables = pft_tables(pft_runs, p.rule)
    stats = pft_stats(pft_runs, p.rule)
    iso = ",".join(map(str, p.isolated))
    summary = build_summary(
        f"summary against {labels[0]}: pft % as mmtests prints it (positive = better), "
        f"* by mmtests' {p.rule} rule; isolated CPUs {iso or '-'}",
        labels, stats, common_clients(pft_runs), noise_runs, verdicts, p.rule)

    sections = [(title, text) for title, text in tables.items()]
    noise_title = (f"isolated-CPU noise, rtla osnoise top's columns (CPUs {iso}, load {p.load}, "
                   f"{p.drain_rate:g} drains/s for {p.duration_s:g} s)")
    sections.append((noise_title, noise_report.noise_summary(noise_runs, p.duration_s)))
    sections.append(("isolated CPUs per design (rtla osnoise top)",
                     noise_report.osnoise_top(noise_runs, runtime_s=p.duration_s)))
    if any(isolated_latency.has_latency(r) for _, r in noise_runs):
        sections.append(("isolated-CPU allocation latency (us)",
                         isolated_latency.latency_by_design(noise_runs)))
    if any(noise_report.has_wakeups(r) for _, r in noise_runs):
        sections.append(("isolated tasks' wakeup latency (timerlat / cyclictest)",
                         noise_report.wakeup_by_design(noise_runs)))
    sections.append(("drain_all_pages() latency", noise_report.drain_latency_summary(noise_runs)))
    sections.append((f"checker (scenario {p.check_scenario}, mode {p.check_mode})",
                     noise_report.check_summary(verdicts)))

    shown = [f"{lab} ({d})" if lab != d else d for d, lab in zip(p.designs, labels, strict=True)]
    header = (f"pcplab {__version__} compare: machine {p.machine}, designs {', '.join(shown)}, "
              f"clients {','.join(map(str, p.clients)) if p.clients else 'default'}, "
              f"iterations {p.iterations}, seed {p.seed}, significance rule {p.rule}")
    head = [header]
    if p.backend != "sim":
        head.append(f"NOTE: backend {p.backend!r}: synthetic numbers for testing, "
                    "not a simulation")
    head += ["", summary.text()]
    lines = list(head)
    for title, text in sections:
        lines += [title, text]
    text = "\n".join(lines)
    brief_lines = list(head)
    for title, table in tables.items():
        brief_lines += [title, mean_rows_only(table)]
    brief = "\n".join(brief_lines)

    env = environment()
    metadata = {
        **{f"{k} version" if k in ("pcplab", "python", "numpy", "matplotlib") else k: v
           for k, v in env.items()},
        "machine": p.machine, "designs": ", ".join(shown), "iterations": p.iterations,
        "seed": p.seed, "significance rule": p.rule, "backend": p.backend,
        "runs": ", ".join(f"{d}/{w}={r.id}" for (d, w), r in sorted(outcome.runs.items())),
    }
    data: dict[str, Any] = {
        "pcplab_version": __version__,
        "parameters": asdict(p),
        "runs": {f"{d}/{w}": r.id for (d, w), r in sorted(outcome.runs.items())},
        "names": dict(zip(p.designs, names, strict=True)),
        "summary": summary.as_dict(),
        "tables": tables,
        "pft": stats,
        "noise": {lab: dict(r) for lab, r in noise_runs},
        "check": {lab: v for lab, v in verdicts},
        "environment": env,
    }
    # samples stay in the store; the JSON summary keeps the latency statistics only
    for r in data["noise"].values():
        r["drain_latency_ns"] = {k: v for k, v in r.get("drain_latency_ns", {}).items()
                                 if k != "samples"}
    meta = PlotMeta(p.machine, tuple(labels), p.iterations, p.seed)
    return Report(text, data, pft_runs, noise_runs, sections, summary, brief, header, meta,
                  metadata)


def figures(report: Report) -> list[tuple[str, str, Any]]:
    """(file stem, caption, Figure), the difference plot first."""
    from pcplab.report import plots

    return [
        ("pft-diff", "pft: % difference to the baseline per client count, 95 % confidence band",
         plots.pft_diff_figure(report.pft_runs, report.meta)),
        ("pft-times", "pft elapsed and system time vs clients (mean, error bars +/-1 SD)",
         plots.pft_figure(report.pft_runs, report.meta)),
        ("pft-samples", "pft elapsed time: every iteration, sorted, per client count",
         plots.pft_samples_figure(report.pft_runs, report.meta)),
        ("noise-per-cpu", "noise per isolated CPU", plots.noise_figure(report.noise_runs,
                                                                        report.meta)),
        ("drain-latency", "drain_all_pages() latency: CDF and histogram",
         plots.latency_figure(report.noise_runs, report.meta)),
    ]


def write_outputs(report: Report, out_dir: Path, html: bool, title: str, plots: bool = True,
                  command: str | None = None) -> list[Path]:
    """Plots (PNG and SVG) when ``plots``; with ``html`` also one self-contained page."""
    from pcplab.report import plots as plot_mod
    from pcplab.report.files import ensure_dir, write_file

    ensure_dir(out_dir)
    written: list[Path] = []
    svgs = []
    if plots or html:
        for stem, caption, fig in figures(report):
            if plots:
                written += plot_mod.save_figure(fig, out_dir / stem)
            svgs.append((caption, plot_mod.figure_bytes(fig, "svg")))
    if html:
        meta = {"command": command or "pcplab compare", **report.metadata}
        summary_html = report.summary.html() if report.summary else ""
        page = html_page.page(title, report.header, report.sections, svgs, summary_html, meta)
        path = out_dir / "index.html"
        write_file(path, page)
        written.append(path)
    return written


def _finite(obj: Any) -> Any:
    """JSON has no NaN/Infinity: undefined statistics become null."""
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(_finite(data), indent=2, sort_keys=True, allow_nan=False)
