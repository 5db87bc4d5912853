"""`pcplab sweep`: one `compare` per machine x seed, every unit on one executor.

All units of all the comparisons go to one executor (local processes, or a Dask cluster with
``--scheduler``); a unit shared by several comparisons (the checker's exhaustive verdicts depend on
neither machine nor seed) runs once.  Results are stored as in `compare` (plan order, each in its
own transaction) and reused on the next run, so a killed sweep resumes; the printed reports are
those of `pcplab compare` with the same parameters, in machine-then-seed order, whatever the
executor.
"""

from __future__ import annotations

import sys
import time

import click

from pcplab.cli.options import (
    MAX_BOUND,
    MAX_DRAIN_RATE,
    MAX_ITERATIONS,
    MAX_SIM_SECONDS,
    MIN_DRAIN_RATE,
    MIN_SIM_SECONDS,
    SEED_MAX,
    FiniteFloat,
    IntRange,
    complete_designs,
    complete_machines,
    parse_int_list,
    strip_timing,
)
from pcplab.cli.report import (
    DEFAULT_CHECK_BOUND,
    DEFAULT_CLIENTS,
    DEFAULT_DESIGNS,
    DEFAULT_DRAIN_RATE,
    DEFAULT_DURATION,
    DEFAULT_ISOLATED,
    DEFAULT_ITERATIONS,
    DEFAULT_LOAD,
    DEFAULT_MACHINE,
    MAX_JOBS,
    _open_store,
    db_option,
    machine_inputs,
)
from pcplab.errors import PcplabError

#: more comparisons than this in one sweep is surely a typo in --seeds
MAX_COMBINATIONS = 10_000


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise PcplabError(f"--seeds {text!r} has an empty entry; give e.g. --seeds 1,2,3")
        # a range a-b of seeds, or one seed (0..2^64-1)
        lo, sep, hi = part.partition("-")
        if sep and lo and hi:
            a, b = (parse_int_list(x, "--seeds", 0, SEED_MAX, "seed")[0] for x in (lo, hi))
            if b < a or b - a >= MAX_COMBINATIONS:
                raise PcplabError(f"--seeds range {part!r} must go upwards and hold at most "
                                  f"{MAX_COMBINATIONS} seeds")
            out += range(a, b + 1)
        else:
            out += parse_int_list(part, "--seeds", 0, SEED_MAX, "seed")
    if len(set(out)) != len(out):
        raise PcplabError(f"--seeds {text!r} names a seed twice; list each seed once")
    return out


def _machines(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",")]
    if not any(names) or not all(names):
        raise PcplabError(f"--machines {text!r} has an empty entry; give e.g. "
                          "--machines rpi4,xeon-e5-2640v3 (see 'pcplab machines list')")
    if len(set(names)) != len(names):
        raise PcplabError(f"--machines {text!r} names a machine twice; list each once")
    return names


@click.command()
@click.option("--machines", default=DEFAULT_MACHINE, show_default=True,
              shell_complete=complete_machines,
              help="comma-separated machine profiles")
@click.option("--designs", default=DEFAULT_DESIGNS, show_default=True,
              shell_complete=complete_designs,
              help="comma-separated designs; the first is each comparison's baseline")
@click.option("--seeds", default="1", show_default=True,
              help="comma-separated seeds or ranges (1,2 or 1-5); one comparison per seed")
@click.option("--clients", default=DEFAULT_CLIENTS, show_default=True,
              help="pft client counts, or 'default' for mmtests' sequence of each machine")
@click.option("--iterations", default=DEFAULT_ITERATIONS, show_default=True,
              type=IntRange(1, MAX_ITERATIONS), help="pft runs per client count")
@click.option("--isolated", default=DEFAULT_ISOLATED, show_default=True,
              help="isolated (nohz_full) CPUs for the noise runs, on every machine")
@click.option("--load", default=DEFAULT_LOAD, show_default=True,
              type=click.Choice(["drain-storm", "oom", "cma"]))
@click.option("--drain-rate", default=DEFAULT_DRAIN_RATE, show_default=True,
              type=FiniteFloat(MIN_DRAIN_RATE, MAX_DRAIN_RATE, unit="drains/s"))
@click.option("--duration", default=DEFAULT_DURATION, show_default=True,
              type=FiniteFloat(MIN_SIM_SECONDS, MAX_SIM_SECONDS, unit="s"),
              help="simulated seconds of each noise run")
@click.option("--check-mode", default="exhaustive", show_default=True,
              type=click.Choice(["exhaustive", "random", "pct"]))
@click.option("--check-bound", default=DEFAULT_CHECK_BOUND, show_default=True,
              type=IntRange(-1, MAX_BOUND), help="checker preemption bound (-1: none)")
@click.option("--significance", "rule", type=click.Choice(["ci", "ttest"]), default="ci",
              show_default=True)
@click.option("--jobs", "-j", "jobs", default=None, type=IntRange(1, MAX_JOBS),
              help="local worker processes (default: the machine's cores; 1: in this process)")
@click.option("--scheduler", default=None,
              help="run on a Dask cluster instead, e.g. tcp://host:8786 (pip install "
                   "'pcplab[dask]'; the workers need the same pcplab)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--full", is_flag=True, help="print each comparison in full (default: --brief's "
                                           "summary and Amean/Hmean rows)")
@click.option("--fresh", is_flag=True, help="run everything again instead of reusing stored runs")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@click.option("--backend", default=None, hidden=True, help="result backend (testing)")
@db_option
def sweep(machines: str, designs: str, seeds: str, clients: str, iterations: int, isolated: str,
          load: str, drain_rate: float, duration: float, check_mode: str,
          check_bound: int | None, rule: str, jobs: int | None, scheduler: str | None, fmt: str,
          full: bool, fresh: bool, quiet: bool, backend: str | None, db: str | None) -> None:
    """Several machines and seeds, each a `compare` of the same designs, on one executor.

    Example: pcplab sweep --machines rpi4,xeon-e5-2640v3 --designs workqueue,spinlock
    --seeds 1,2 --clients 1,2 --iterations 3
    """
    from pcplab.cli.progress import Progress
    from pcplab.report import compare as cmp
    from pcplab.report.backends import get_backend
    from pcplab.report.parallel import executor_for

    if jobs is not None and scheduler:
        raise PcplabError("give --jobs (local processes) or --scheduler (Dask), not both")
    if scheduler is not None and not scheduler.strip():
        raise PcplabError("--scheduler is empty; give the scheduler's address, e.g. "
                          "tcp://127.0.0.1:8786")
    be = get_backend(backend)
    machine_list, seed_list = _machines(machines), _seeds(seeds)
    if len(machine_list) * len(seed_list) > MAX_COMBINATIONS:
        raise PcplabError(f"{len(machine_list)} machines x {len(seed_list)} seeds is more than "
                          f"{MAX_COMBINATIONS} comparisons; sweep fewer")
    design_specs = cmp.normalise_designs(designs.split(","))
    inputs = [machine_inputs(m, isolated, clients, "--machines") for m in machine_list]
    params = [cmp.CompareParams(
        machine=name, designs=design_specs, clients=client_list, iterations=iterations,
        seed=seed, isolated=iso, load=load, drain_rate=drain_rate, duration_s=duration,
        check_mode=check_mode, check_bound=check_bound, rule=rule, backend=be.name)
        for name, iso, client_list in inputs for seed in seed_list]
    for name, _, _ in inputs:
        be.validate(name, design_specs)
    executor = executor_for(jobs, scheduler)
    connect = getattr(executor, "connect", None)
    if connect is not None:
        connect()  # an unreachable cluster is refused before the database is opened

    units = [u for p in params for u in cmp.plan(p)]
    total = len({u.key for u in units})
    started = time.perf_counter()
    with _open_store(db) as store:
        # the closing line below says how long it took, so no second summary
        with Progress("sweep", total, unit="runs", enabled=not quiet, summary=False) as prog:
            got = cmp.run_units(units, store, be, fresh=fresh,
                                on_done=lambda unit, reused: prog.advance(),
                                executor=executor)
        reports = []
        new = sum(1 for _, reused in got.values() if not reused)
        for p in params:
            outcome = cmp.Outcome()
            for unit in cmp.plan(p):
                run, reused = got[unit.key]
                outcome.runs[(unit.design, unit.workload)] = run
                (outcome.reused if reused else outcome.ran).append(run.id)
            reports.append((p, outcome, cmp.build_report(p, outcome)))
        path = store.path
    click.echo(f"pcplab: {len(params)} comparison(s), {new} run(s) new, {len(got) - new} reused "
               f"from {path} ({time.perf_counter() - started:.1f} s)", err=True)
    if fmt == "json":
        data = []
        for _, _, r in reports:
            d = dict(r.data)
            d["check"] = strip_timing(d.get("check", {}))
            data.append(d)
        click.echo(cmp.to_json({"comparisons": data}))
    else:
        click.echo("\n".join(r.text if full else r.brief for _, _, r in reports))
    if any(r.result.get("violation") for _, o, _ in reports
           for (_, w), r in o.runs.items() if w == "check"):
        sys.exit(1)
