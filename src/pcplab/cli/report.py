"""`pcplab compare`, `pcplab runs`, `pcplab export` and `pcplab import`."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from pcplab.cli.options import (
    MAX_BOUND,
    MAX_DRAIN_RATE,
    MAX_ITERATIONS,
    MAX_SIM_SECONDS,
    MIN_DRAIN_RATE,
    MIN_SIM_SECONDS,
    RUN_ID,
    SEED,
    FiniteFloat,
    IntRange,
    complete_designs,
    complete_machine,
    isolated_cpus,
    machine_profile,
    parse_int_list,
    strip_timing,
)
from pcplab.errors import PcplabError
from pcplab.safe_write import check_output_dir, check_output_path, write_output

# Defaults of `pcplab compare` with no arguments: the seed's experiment (workqueue "vanilla" vs the
# RCU patch vs the 6.0 spinlock) on the 2-socket Haswell Xeon of the seed's thread (32 CPUs), sized
# for about two minutes on the 2-core development box.  Measured there (load ~3 from other jobs):
# pft with mmtests' own settings (30 iterations, client sequence 1 3 5 7 12 18 24 30 32) takes
# ~3 s per design, so pft keeps them; the noise run simulates every CPU's allocator traffic and
# costs ~8-35 s per design per 0.05 simulated seconds, so it is kept at 0.05 s with 400 drains/s
# (20 drains per design); the checker is pinned to one preemption (~10 s for all three designs,
# while bound 2 took ~3 minutes for the workqueue design alone when measured).  Total: ~70 s.
DEFAULT_MACHINE = "xeon-e5-2640v3"
DEFAULT_DESIGNS = "workqueue,rcu,spinlock"
DEFAULT_CLIENTS = "default"
DEFAULT_ITERATIONS = 30
DEFAULT_SEED = 1
DEFAULT_ISOLATED = "2,3"
DEFAULT_LOAD = "drain-storm"
DEFAULT_DRAIN_RATE = 400.0
DEFAULT_DURATION = 0.05
DEFAULT_CHECK_BOUND = 1
#: --jobs above this is surely a typo (each job is a process with its own simulator)
MAX_JOBS = 1024


def _open_store(db: str | None, create: bool = True, missing: str = "") -> Any:
    """The results database; with ``create`` False (commands that only read) a missing file is
    an error (prefixed by ``missing``) instead of a new empty database."""
    from pcplab.cli import config
    from pcplab.store.db import Store

    if db is None:  # --db, then $PCPLAB_DB, then the config file, then the user data dir
        db = config.database(config.current())
    return Store(db, create=create, missing=missing)


#: the workloads pcplab stores (``runs list --workload``)
KNOWN_WORKLOADS = ("pft", "noise", "check")


db_option = click.option("--db", "db", type=click.Path(dir_okay=False), default=None,
                         help="results database (default: $PCPLAB_DB, the config file's 'database', "
                              "or the user data dir)")


# -- compare --------------------------------------------------------------------------------------
def _scenario_file(path: str | None) -> str | None:
    """The scenario file, validated now (before any run) and made absolute."""
    if not path:
        return None
    from pcplab.check.scenario_file import load_scenario_file

    load_scenario_file(path)
    return str(Path(path).resolve())


@click.command()
@click.option("--machine", default=DEFAULT_MACHINE, show_default=True,
              shell_complete=complete_machine, help="machine profile")
@click.option("--designs", default=DEFAULT_DESIGNS, show_default=True,
              shell_complete=complete_designs,
              help="comma-separated designs; the first is the baseline ('vanilla' = workqueue)")
@click.option("--clients", default=DEFAULT_CLIENTS, show_default=True,
              help="pft client counts, or 'default' for mmtests' sequence for the machine")
@click.option("--iterations", default=DEFAULT_ITERATIONS, show_default=True,
              type=IntRange(1, MAX_ITERATIONS),
              help="pft runs per client count (mmtests uses 30)")
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=SEED,
              help="random seed (0..2^64-1)")
@click.option("--isolated", default=DEFAULT_ISOLATED, show_default=True,
              help="isolated (nohz_full) CPUs for the noise run")
@click.option("--load", default=DEFAULT_LOAD, show_default=True,
              type=click.Choice(["drain-storm", "oom", "cma"]),
              help="load on the other CPUs during the noise run")
@click.option("--drain-rate", default=DEFAULT_DRAIN_RATE, show_default=True,
              type=FiniteFloat(MIN_DRAIN_RATE, MAX_DRAIN_RATE, unit="drains/s"),
              help="drain_all_pages() calls per second during the noise run")
@click.option("--duration", default=DEFAULT_DURATION, show_default=True,
              type=FiniteFloat(MIN_SIM_SECONDS, MAX_SIM_SECONDS, unit="s"),
              help="simulated seconds of the noise run")
@click.option("--check-mode", default="exhaustive", show_default=True,
              type=click.Choice(["exhaustive", "random", "pct"]),
              help="checker mode for the verdicts")
@click.option("--check-bound", default=DEFAULT_CHECK_BOUND, show_default=True,
              type=IntRange(-1, MAX_BOUND),
              help="checker preemption bound (exhaustive mode; -1: none)")
@click.option("--scenario-file", "scenario_file", type=click.Path(dir_okay=False), default=None,
              help="checker scenarios (a Python file defining SCENARIOS) added to the standard "
                   "set for the verdicts")
@click.option("--significance", "rule", type=click.Choice(["ci", "ttest"]), default="ci",
              show_default=True,
              help="'*' rule: 'ci' is what compare-kernels.sh uses for pft tables since 2024-12 "
                   "(mean +/- 1.96 SD bands that do not overlap); 'ttest' the t-test (p<0.10) of "
                   "2018-2024 tables such as the seed's (see pcplab.stats.significance)")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True)
@click.option("--brief", is_flag=True,
              help="print the summary and the Amean/Hmean rows only (text format)")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False), default=None,
              help="write the plots (PNG and SVG) into this directory")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="directory for the HTML page and its plots (--format html; default "
                   "the config file's 'output', else pcplab-out); with text/json, the same as "
                   "--plots")
@click.option("--html", "html_dir", type=click.Path(file_okay=False), default=None,
              help="also write the self-contained HTML page into this directory")
@click.option("--fresh", is_flag=True, help="run everything again instead of reusing stored runs")
@click.option("--jobs", "-j", "jobs", default=None, type=IntRange(1, MAX_JOBS),
              help="units run at once, each in its own process (default: the machine's cores; "
                   "1: one after another in this process); the output is the same")
@click.option("--quiet", "-q", is_flag=True, help="no progress bars")
@click.option("--no-plots", is_flag=True, help="skip plots (text/json only)")
@click.option("--backend", default=None, hidden=True,
              help="result backend: sim (default) or fake (testing; also $PCPLAB_COMPARE_BACKEND)")
@click.option("--timing", is_flag=True,
              help="keep the checker's wall-clock figures (seconds, steps/s) in --format json "
                   "(left out by default: the same seed prints the same bytes)")
@db_option
def compare(machine: str, designs: str, clients: str, iterations: int, seed: int, isolated: str,
            load: str, drain_rate: float, duration: float, check_mode: str,
            check_bound: int | None, scenario_file: str | None, rule: str, fmt: str, brief: bool, plots_dir: str | None,
            out_dir: str | None, html_dir: str | None,
            fresh: bool, jobs: int | None, quiet: bool, no_plots: bool, backend: str | None,
            timing: bool, db: str | None) -> None:
    """Compare drain designs: mmtests pft tables, isolated-CPU noise, drain latency, verdicts.

    With no arguments: the seed's experiment (vanilla = workqueue, rcu, spinlock) on a built-in
    machine, sized for about two minutes.  Results are stored and reused on the next run with the
    same parameters (a killed run resumes where it stopped).
    """
    from pcplab.report import compare as cmp
    from pcplab.report.backends import get_backend
    from pcplab.report.parallel import executor_for

    # everything is checked here, before the first (possibly minutes-long) run is started
    be = get_backend(backend)
    machine, iso, client_list = machine_inputs(machine, isolated, clients)
    # plots only when asked (--plots, or --out with text/json) or for the HTML page
    if fmt == "html":
        from pcplab.cli import config

        out_dir = out_dir or config.output_dir(config.current())
    elif out_dir and not plots_dir:
        plots_dir, out_dir = out_dir, None
    if plots_dir:
        check_output_dir(plots_dir, "--plots directory")
    if out_dir:
        check_output_dir(out_dir, "--out directory")
    if html_dir:
        check_output_dir(html_dir, "--html directory")
    params = cmp.CompareParams(
        machine=machine, designs=cmp.normalise_designs(designs.split(",")),
        clients=client_list, iterations=iterations, seed=seed,
        isolated=iso, load=load, drain_rate=drain_rate,
        duration_s=duration, check_mode=check_mode, check_bound=check_bound, rule=rule,
        backend=be.name, check_scenario_file=_scenario_file(scenario_file))
    be.validate(params.machine, params.designs)

    import time

    from pcplab.report.provenance import command_line

    started = time.perf_counter()
    with _open_store(db) as store:
        outcome = _run_with_progress(params, store, be, fresh, quiet, executor_for(jobs))
        report = cmp.build_report(params, outcome)

    command = command_line()
    written: list[Path] = []
    if plots_dir and not no_plots:
        written += cmp.write_outputs(report, Path(plots_dir), html=False, title="pcplab compare")
    if out_dir and fmt == "html":
        written += cmp.write_outputs(report, Path(out_dir), html=True, title="pcplab compare",
                                     plots=not no_plots, command=command)
    if html_dir:
        written += [p for p in cmp.write_outputs(report, Path(html_dir), html=True,
                                                 title="pcplab compare", plots=False,
                                                 command=command) if p.suffix == ".html"]
    # the wall time goes to stderr only: stdout is the same for the same seed
    click.echo(f"pcplab: {len(outcome.ran)} run(s) new, {len(outcome.reused)} reused from "
               f"{store.path} ({time.perf_counter() - started:.1f} s)", err=True)

    if fmt == "json":
        data = dict(report.data)
        if not timing:
            data["check"] = strip_timing(data.get("check", {}))
        data["files"] = [str(p) for p in written]
        click.echo(cmp.to_json(data))
    elif fmt == "html":
        click.echo(report.text)
        click.echo(f"HTML: {Path(str(out_dir)) / 'index.html'}")
    else:
        click.echo(report.brief if brief else report.text)
        if written:
            click.echo("files: " + " ".join(str(p) for p in written))
    if any(r.result.get("violation") for (_, w), r in outcome.runs.items() if w == "check"):
        sys.exit(1)


def machine_inputs(machine: str, isolated: str, clients: str, option: str = "--machine"
                   ) -> tuple[str, tuple[int, ...], tuple[int, ...] | None]:
    """(stored machine name, isolated CPUs, pft client counts or None for mmtests' default),
    checked against the machine (bad input is a PcplabError naming the option)."""
    from pcplab.machines.registry import pinned_name
    from pcplab.workloads.pft import MAX_CLIENTS

    profile = machine_profile(machine, option)
    name = pinned_name(machine)  # a profile file: stored runs keyed by its content too
    iso = (() if isolated.strip() in ("", "default")
           else tuple(isolated_cpus(isolated, profile)))  # fmt: skip
    # pft's threads never run on the isolated CPUs
    client_list = (None if clients.strip() in ("", "default") else tuple(parse_int_list(
        clients, "--clients", 1, min(profile.nr_cpus - len(iso), MAX_CLIENTS), "client count")))
    return name, iso, client_list


def _run_with_progress(params: Any, store: Any, be: Any, fresh: bool, quiet: bool,
                       executor: Any = None) -> Any:
    from pcplab.cli.progress import Progress
    from pcplab.report import compare as cmp

    # compare prints its own closing line (runs new/reused, elapsed), so no second summary
    with Progress("compare", len(cmp.plan(params)), unit="runs", enabled=not quiet,
                  summary=False) as prog:

        def on_start(unit: Any, i: int, n: int) -> Any:
            prog.describe(f"compare: {unit.describe()}")
            return prog.sub(unit.describe())

        def on_done(unit: Any, reused: bool) -> None:
            prog.end_sub()
            prog.advance()

        return cmp.run_all(params, store, be, fresh=fresh, on_start=on_start, on_done=on_done,
                           executor=executor)


# -- runs -----------------------------------------------------------------------------------------
@click.group()
def runs() -> None:
    """List, show and export stored runs."""


@runs.command("list")
@click.option("--workload", default=None, type=click.Choice(KNOWN_WORKLOADS),
              help="only runs of this workload")
@db_option
def runs_list(workload: str | None, db: str | None) -> None:
    """One line per stored run."""
    with _open_store(db, create=False) as store:
        rows = store.runs(workload=workload)
    header = ("ID", "KEY", "CREATED", "WORKLOAD", "MACHINE", "DESIGN", "KERNEL", "SEED", "SOURCE")
    table = [header] + [
        (str(r.id), r.run_key[:12], r.created[:19], r.workload, r.machine, r.design,
         r.kernel or "-", "-" if r.seed is None else str(r.seed), r.source) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)).rstrip())


@runs.command("show")
@click.argument("run_id", type=RUN_ID)
@db_option
def runs_show(run_id: int, db: str | None) -> None:
    """Everything stored about one run, as JSON."""
    with _open_store(db, create=False, missing=f"no run with id {run_id}") as store:
        run = store.get(run_id)
    click.echo(json.dumps(run.as_dict(), indent=2, sort_keys=True))


@runs.command("table")
@click.argument("run_ids", nargs=-1, type=RUN_ID)
@click.option("--significance", "rule", type=click.Choice(["ci", "ttest"]), default="ci",
              show_default=True)
@db_option
def runs_table(run_ids: tuple[int, ...], rule: str, db: str | None) -> None:
    """mmtests "pft timings" and "pft faults" tables of stored pft runs (first = baseline).

    Without IDs: every stored pft run, oldest first.
    """
    from pcplab.report.naming import run_name, unique_names
    from pcplab.report.pft_log import as_mmtests_sees
    from pcplab.report.pft_tables import pft_report

    with _open_store(db, create=False) as store:
        selected = store.runs(list(run_ids) or None, workload=None if run_ids else "pft")
    bad = [r.id for r in selected if r.workload != "pft"]
    if bad:
        raise PcplabError(f"runs {bad} are not pft runs; tables take pft runs only")
    if not selected:
        raise PcplabError("no pft runs stored; run 'pcplab compare' or 'pcplab import' first")
    _check_pft_runs(selected, "the table")
    names = unique_names([run_name(r.design, r.kernel, r.params) for r in selected])
    try:
        text = pft_report([(n, as_mmtests_sees(r.result))
                           for n, r in zip(names, selected, strict=True)], rule)
    except ValueError as exc:
        raise PcplabError(f"cannot tabulate runs {[r.id for r in selected]}: {exc}") from exc
    click.echo(text, nl=False)


def _check_pft_runs(runs: Sequence[Any], what: str) -> None:
    """Stored pft results have the shape the tables and the mmtests tree need (a database edited
    or damaged by hand may hold valid JSON of another shape): PcplabError naming the run."""
    import math

    from pcplab.report.pft_log import METRICS

    def number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

    for r in runs:
        res = r.result

        def bad(problem: str, r: Any = r) -> PcplabError:
            return PcplabError(f"stored run {r.id} is damaged ({problem}); give {what} "
                               "the ids of the other runs")  # fmt: skip

        gbyte = res.get("gbyte", 0)
        if gbyte is not None and not (number(gbyte) and 0 <= gbyte < 2**40):
            raise bad("its gbyte is not a size")
        entries = res.get("clients")
        if not isinstance(entries, list) or not entries:
            raise bad("no per-client samples")
        for e in entries:
            if not isinstance(e, dict):
                raise bad("a client entry is not an object")
            n = e.get("clients")
            if isinstance(n, bool) or not isinstance(n, int) or not 0 < n < 2**20:
                raise bad("a client count is not a positive integer")
            cols = [e.get(m) for m in METRICS]
            if not all(isinstance(c, list) and all(number(x) for x in c) for c in cols):
                raise bad(f"the samples of {n} clients are not lists of numbers")
            if len({len(c) for c in cols}) != 1:  # type: ignore[arg-type]
                raise bad(f"the sample lists of {n} clients differ in length")


def _long_rows(run: Any) -> list[tuple[Any, ...]]:
    """Samples and scalar metrics of a run as (metric, group, index, value) rows (PcplabError
    naming the run if its stored result has another shape)."""
    try:
        return _long_rows_of(run)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise PcplabError(f"stored run {run.id} is damaged ({type(exc).__name__}: {exc}); "
                          "export the other run ids") from None  # fmt: skip


def _long_rows_of(run: Any) -> list[tuple[Any, ...]]:
    res = run.result
    rows: list[tuple[Any, ...]] = []
    if run.workload == "pft":
        for entry in res.get("clients", []):
            for m in ("user", "system", "elapsed", "faults_per_cpu", "faults_per_sec"):
                for i, v in enumerate(entry.get(m, [])):
                    rows.append((m, entry["clients"], i, v))
    elif run.workload == "noise":
        for c in res.get("cpus", []):
            for m in ("noise_ns", "max_single_noise_ns", "available_pct"):
                rows.append((m, c["cpu"], "", c.get(m)))
            for k, v in sorted(c.get("interference", {}).items()):
                rows.append((f"interference_{k}", c["cpu"], "", v))
            hist = c.get("noise_histogram")  # an imported rtla osnoise hist: bucket -> count
            if hist:
                for bucket, n in sorted(hist.get("buckets", {}).items(),
                                        key=lambda kv: int(kv[0])):  # stored sorted as text
                    rows.append((f"noise_histogram_{hist.get('unit', 'us')}", c["cpu"], bucket, n))
        for i, v in enumerate(res.get("drain_latency_ns", {}).get("samples", [])):
            rows.append(("drain_latency_ns", "", i, v))
    else:
        for m in ("executions", "states", "seconds", "exhaustive"):
            rows.append((m, "", "", res.get(m)))
        rows.append(("violation", "", "", 1 if res.get("violation") else 0))
    return rows


def _export_text(selected: Sequence[Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([r.as_dict() for r in selected], indent=2, sort_keys=True) + "\n"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run_id", "run_key", "workload", "machine", "design", "kernel", "seed", "metric",
                "group", "index", "value"])
    for r in selected:
        for metric, group, index, value in _long_rows(r):
            w.writerow([r.id, r.run_key, r.workload, r.machine, r.design, r.kernel or "", r.seed,
                        metric, group, index, value])
    return buf.getvalue()


@runs.command("export")
@click.argument("run_ids", nargs=-1, type=RUN_ID)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json",
              show_default=True)
@click.option("--output", "-o", default=None,
              help="file to write ('-' or default: stdout; a device or FIFO is written through, "
                   "a symlink or directory refused)")
@db_option
def runs_export(run_ids: tuple[int, ...], fmt: str, output: str | None, db: str | None) -> None:
    """Stored runs (all, or the given IDs) as CSV (one row per sample) or JSON."""
    if output is not None:
        check_output_path(output, "--output file")
    with _open_store(db, create=False) as store:
        selected = store.runs(list(run_ids) or None)
    _emit(_export_text(selected, fmt), output)


def _emit(text: str, output: str | None) -> None:
    """``text`` to stdout or to ``output`` (atomically for a regular file; see
    :mod:`pcplab.safe_write`)."""
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text, "--output file")


# -- export / import ------------------------------------------------------------------------------
@click.command()
@click.argument("run_ids", nargs=-1, type=RUN_ID)
@click.option("--mmtests", "mmtests_dir", type=click.Path(file_okay=False), default=None,
              help="write pft runs as an mmtests results tree (work/log layout) into DIR")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None,
              help="instead, write runs as CSV or JSON (like 'pcplab runs export')")
@click.option("--output", "-o", default=None,
              help="file for --format ('-' or default: stdout)")
@db_option
def export(run_ids: tuple[int, ...], mmtests_dir: str | None, fmt: str | None,
           output: str | None, db: str | None) -> None:
    """Export stored runs: an mmtests tree (--mmtests DIR; pft runs, first = baseline) or CSV/JSON.

    The mmtests tree can be read by mmtests' own compare-mmtests.pl / compare-kernels.sh.
    """
    if (mmtests_dir is None) == (fmt is None):
        raise PcplabError("give exactly one of --mmtests DIR or --format csv|json")
    if output is not None:
        if fmt is None:
            raise PcplabError("--output goes with --format; --mmtests writes into its directory")
        check_output_path(output, "--output file")
    if mmtests_dir is not None:
        check_output_dir(mmtests_dir, "--mmtests directory")
    with _open_store(db, create=False) as store:
        selected = store.runs(list(run_ids) or None, workload=None if run_ids else "pft")
    if fmt is not None:
        _emit(_export_text(selected, fmt), output)
        return
    assert mmtests_dir is not None  # exactly one of --mmtests / --format, checked above
    from pcplab.report.mmtests_dir import TreeRun, export_tree
    from pcplab.report.naming import run_name, unique_names

    bad = [r.id for r in selected if r.workload != "pft"]
    if bad:
        raise PcplabError(f"runs {bad} are not pft runs; mmtests export takes pft runs only")
    if not selected:
        raise PcplabError("no pft runs to export; run 'pcplab compare' or 'pcplab pft' first")
    _check_pft_runs(selected, "the mmtests export")
    names = unique_names([run_name(r.design, r.kernel, r.params) for r in selected])
    tree = [TreeRun(n, r.result, _epoch(r.created)) for n, r in zip(names, selected, strict=True)]
    export_tree(mmtests_dir, tree)
    for n, r in zip(names, selected, strict=True):
        click.echo(f"run {r.id} -> {Path(mmtests_dir) / n}")


def _epoch(created: str) -> int:
    from datetime import datetime

    try:
        return int(datetime.strptime(created[:19], "%Y-%m-%dT%H:%M:%S").timestamp())
    except (ValueError, OverflowError, OSError):
        raise PcplabError(f"a stored run has a damaged creation time {created[:40]!r}") from None


@click.command("import")
@click.option("--mmtests", "mmtests_dir", type=click.Path(file_okay=False, exists=True),
              default=None, help="mmtests work/log directory with pft results")
@click.option("--rtla", "rtla_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="a captured 'rtla osnoise top' or 'rtla osnoise hist' output, stored as a "
                   "noise run")
@click.option("--trace-cmd", "tracecmd_file", type=click.Path(dir_okay=False, exists=True),
              default=None, help="a 'trace-cmd report' text with workqueue and osnoise events, "
                                 "stored as a noise run")
@click.option("--machine", default=None,
              help="machine name to record (default: mmtests-import / rtla-import / "
                   "trace-cmd-import)")
@click.option("--design", "design_name", default="real", show_default=True,
              help="design (kernel) name to record for an rtla capture")
@db_option
def import_(mmtests_dir: str | None, rtla_file: str | None, tracecmd_file: str | None,
            machine: str | None, design_name: str, db: str | None) -> None:
    """Import real results: mmtests pft trees (iter-* pooled, lines parsed as ExtractPft does;
    a cut-off last line or a missing client count is a warning; all runs or none are stored) or
    a captured `rtla osnoise top` or `rtla osnoise hist` output (a cut-off or malformed histogram
    row is a warning), or `trace-cmd report` text with workqueue and osnoise events (a cut-off or
    malformed line is a warning)."""
    if sum(x is not None for x in (mmtests_dir, rtla_file, tracecmd_file)) != 1:
        raise PcplabError("give exactly one of --mmtests DIR, --rtla FILE or --trace-cmd FILE")

    def warn(msg: str) -> None:
        click.echo(f"pcplab: warning: {msg}", err=True)

    if rtla_file is not None:
        _import_noise_capture(rtla_file, machine or "rtla-import", design_name, db, "rtla",
                              warn)
        return
    if tracecmd_file is not None:
        _import_noise_capture(tracecmd_file, machine or "trace-cmd-import", design_name, db,
                              "trace-cmd", warn)
        return
    from pcplab.report.mmtests_dir import import_tree, store_tree

    assert mmtests_dir is not None
    tree = import_tree(mmtests_dir, warn)  # everything is read and checked before storing
    with _open_store(db) as store:
        stored = store_tree(store, tree, machine or "mmtests-import")
    for name, run_id in stored:
        click.echo(f"{name} -> run {run_id}")


def _import_noise_capture(path: str, machine: str, design: str, db: str | None, kind: str,
                          warn: Any) -> None:
    """Parse a real noise capture (``kind`` rtla or trace-cmd) completely, then store it as a
    noise run (nothing is stored if it does not parse)."""
    import hashlib

    raw = Path(path).read_bytes()
    text = raw.decode("utf-8", errors="replace")
    if kind == "rtla":
        from pcplab.report.rtla_import import parse_rtla_capture

        res = parse_rtla_capture(text, warn)
    else:
        from pcplab.report.tracecmd_import import parse_trace_cmd_report

        res = parse_trace_cmd_report(text, warn)
    params = {f"{kind.replace('-', '')}_capture": hashlib.sha256(raw).hexdigest()[:16]}
    result = dict(res, machine=machine, design=design)
    with _open_store(db) as store:
        run_id = store.save(machine=machine, design=design, workload="noise", params=params,
                            seed=None, result=result, source=kind)
    cpus = ",".join(str(c["cpu"]) for c in res["cpus"]) or "none with noise"
    click.echo(f"{path} ({res['source']}, CPUs {cpus}) -> run {run_id}")
