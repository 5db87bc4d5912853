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

from pcplab import __version__
from pcplab.errors import PcplabError
from pcplab.report import html as html_page
from pcplab.report import noise as noise_report
from pcplab.report.backends import Backend
from pcplab.report.naming import design_from_label, design_label, run_name
from pcplab.report.pft_log import as_mmtests_sees
from pcplab.report.pft_tables import fault_ops, pft_tables, timing_ops
from pcplab.stats import significance, summarise
from pcplab.stats.summary import row_pct
from pcplab.store.db import Run, Store, run_key

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


@dataclass(frozen=True)
class Unit:
    design: str
    workload: str
    machine: str
    params: dict[str, Any]
    seed: int | None

    @property
    def key(self) -> str:
        return run_key(self.machine, self.design, self.workload, self.params, self.seed)

    def describe(self) -> str:
        return f"{self.workload} {design_label(self.design)}"


def normalise_designs(names: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for n in names:
        d = design_from_label(n.strip())
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
        units.append(Unit(d, "pft", p.machine, {
            "clients": list(p.clients) if p.clients else None, "iterations": p.iterations,
            "backend": p.backend}, p.seed))
    for d in p.designs:
        units.append(Unit(d, "noise", p.machine, {
            "isolated": list(p.isolated), "load": p.load, "drain_rate": p.drain_rate,
            "duration_s": p.duration_s, "backend": p.backend}, p.seed))
    for d in p.designs:
        # the checker's verdict depends on neither the machine nor, when exhaustive, the seed
        units.append(Unit(d, "check", "-", {
            "scenario": p.check_scenario, "mode": p.check_mode, "bound": p.check_bound,
            "backend": p.backend}, None if p.check_mode == "exhaustive" else p.seed))
    return units


def execute(unit: Unit, backend: Backend, progress: Callable[..., Any] | None) -> dict[str, Any]:
    pr = unit.params
    if unit.workload == "pft":
        return backend.run_pft(unit.machine, unit.design, pr["clients"], pr["iterations"],
                               unit.seed, progress=progress)
    if unit.workload == "noise":
        return backend.run_noise(unit.machine, unit.design, pr["isolated"], pr["load"],
                                 pr["drain_rate"], pr["duration_s"], unit.seed)
    if unit.workload == "check":
        return backend.run_check(unit.design, scenario=pr["scenario"], mode=pr["mode"],
                                 bound=pr["bound"], seed=unit.seed or 0)
    raise AssertionError(unit.workload)


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
) -> Outcome:
    """Run or reuse every unit; each new result is stored before the next unit starts."""
    out = Outcome()
    units = plan(p)
    for i, unit in enumerate(units):
        key = unit.key
        stored = None if fresh else store.find(key)
        if stored is not None:
            out.runs[(unit.design, unit.workload)] = stored
            out.reused.append(stored.id)
            if on_done:
                on_done(unit, True)
            continue
        progress = on_start(unit, i, len(units)) if on_start else None
        result = execute(unit, backend, progress)
        run_id = store.save(machine=unit.machine, design=unit.design, workload=unit.workload,
                            params=unit.params, seed=unit.seed, result=result,
                            kernel=result.get("kernel"), key=key, replace=fresh)
        out.runs[(unit.design, unit.workload)] = store.get(run_id)
        out.ran.append(run_id)
        if on_done:
            on_done(unit, False)
    return out


# -- the report ----------------------------------------------------------------------------------
@dataclass
class Report:
    text: str
    data: dict[str, Any]
    pft_runs: list[tuple[str, dict[int, dict[str, list[float]]]]]
    noise_runs: list[tuple[str, dict[str, Any]]]
    sections: list[tuple[str, str]]


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
    noise_runs = [(lab, outcome.runs[(d, "noise")].result) for d, lab in zip(p.designs, labels,
                                                                             strict=True)]
    verdicts = [(lab, outcome.runs[(d, "check")].result) for d, lab in zip(p.designs, labels,
                                                                          strict=True)]

    tables = pft_tables(pft_runs, p.rule)
    sections = [(title, text) for title, text in tables.items()]
    noise_title = (f"isolated-CPU noise (CPUs {','.join(map(str, p.isolated))}, load {p.load}, "
                   f"{p.drain_rate:g} drains/s for {p.duration_s:g} s)")
    sections.append((noise_title, noise_report.noise_summary(noise_runs, p.duration_s)))
    sections.append(("isolated CPUs per design",
                     noise_report.noise_per_cpu(noise_runs, isolated_only=True)))
    sections.append(("drain_all_pages() latency", noise_report.drain_latency_summary(noise_runs)))
    sections.append((f"checker (scenario {p.check_scenario}, mode {p.check_mode})",
                     noise_report.check_summary(verdicts)))

    shown = [f"{lab} ({d})" if lab != d else d for d, lab in zip(p.designs, labels, strict=True)]
    header = (f"pcplab {__version__} compare: machine {p.machine}, designs {', '.join(shown)}, "
              f"clients {','.join(map(str, p.clients)) if p.clients else 'default'}, "
              f"iterations {p.iterations}, seed {p.seed}, significance rule {p.rule}")
    lines = [header]
    if p.backend != "sim":
        lines.append(f"NOTE: backend {p.backend!r}: synthetic numbers for testing, "
                     "not a simulation")
    lines.append("")
    for title, text in sections:
        lines += [title, text]
    text = "\n".join(lines)

    data = {
        "pcplab_version": __version__,
        "parameters": asdict(p),
        "runs": {f"{d}/{w}": r.id for (d, w), r in sorted(outcome.runs.items())},
        "names": dict(zip(p.designs, names, strict=True)),
        "tables": tables,
        "pft": pft_stats(pft_runs, p.rule),
        "noise": {lab: dict(r) for lab, r in noise_runs},
        "check": {lab: v for lab, v in verdicts},
    }
    # samples stay in the store; the JSON summary keeps the latency statistics only
    for r in data["noise"].values():
        r["drain_latency_ns"] = {k: v for k, v in r.get("drain_latency_ns", {}).items()
                                 if k != "samples"}
    return Report(text, data, pft_runs, noise_runs, sections)


def write_outputs(report: Report, out_dir: Path, html: bool, title: str) -> list[Path]:
    """Plots (PNG and SVG) and, when asked, one self-contained HTML page."""
    from pcplab.report import plots

    out_dir.mkdir(parents=True, exist_ok=True)
    figs = [
        ("pft-times", "pft elapsed and system time vs clients (mean ± SD)",
         plots.pft_figure(report.pft_runs)),
        ("noise-per-cpu", "per-CPU noise", plots.noise_figure(report.noise_runs)),
        ("drain-latency-cdf", "drain latency CDF", plots.latency_cdf_figure(report.noise_runs)),
    ]
    written: list[Path] = []
    svgs = []
    for stem, caption, fig in figs:
        written += plots.save_figure(fig, out_dir / stem)
        svgs.append((caption, plots.figure_bytes(fig, "svg")))
    if html:
        intro = report.text.splitlines()[0]
        page = html_page.page(title, intro, report.sections, svgs)
        path = out_dir / "index.html"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(page)
        tmp.replace(path)
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
