"""``pcplab designs`` and ``pcplab check``: list the drain designs; model-check one.

Exit codes: 0 no violation, 1 a violation was found (the report is printed), 2 bad usage.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pcplab.cli.options import (
    MAX_BOUND,
    MAX_EXECUTIONS,
    MAX_TIME_LIMIT,
    SEED,
    FiniteFloat,
    IntRange,
    check_design,
    complete_check_design,
    strip_timing,
)
from pcplab.errors import PcplabError
from pcplab.kernel.oops import VIOLATION_KINDS


def _size_line(d: Any) -> dict[str, Any]:
    from pcplab.mm.machine import Machine, tiny_topology

    machine = Machine.build(tiny_topology(cpus_per_node=1, zone_pages=(1024,)), d.kernel_version)
    try:
        s = d.size_statement(machine)
    except Exception as exc:  # noqa: BLE001 - one design's bad size code must not hide the list
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {k: s.get(k) for k in ("struct", "bytes", "cache_lines", "source", "note")}


@click.command("designs")
@click.option("--mutants", is_flag=True, help="Also list the deliberately broken mutants.")
@click.option("--design", "extra", multiple=True, shell_complete=complete_check_design,
              help="Also show this design (a .py file, package.module[:attr]); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def designs(mutants: bool, extra: tuple[str, ...], as_json: bool) -> None:
    """List the drain designs (built-in, registered, installed entry points, and any named with
    --design) with where each comes from and the size of its per-CPU pageset record."""
    from pcplab import designs as registry

    specs = [n for n, origin in registry.available() if mutants or "mutant" not in origin]
    loaded = [registry.get(n) for n in specs] + [check_design(x) for x in extra]
    rows = []
    for d in loaded:
        rows.append(
            {
                "name": d.name,
                "origin": d.origin,
                "source_hash": d.source_hash,
                "hooks": [h for h in ("on_user_entry", "on_idle_entry", "on_cpu_offline")
                          if getattr(d, h) is not None],
                "own_scenarios": [getattr(s, "name", "?") for s in d.scenarios],
                "kernel_version": d.kernel_version,
                "description": d.description,
                "mutant": d.is_mutant,
                "base": d.base,
                "expected_violation": d.expected_violation,
                "size": _size_line(d),
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        s = r["size"]
        if "error" in s:
            size = f"size: {s['error']}"
        else:
            size = f"{s['struct']}: {s['bytes']} B, {s['cache_lines']} cache lines ({s['source']})"
        tag = f" [mutant of {r['base']}, expect {r['expected_violation']}]" if r["mutant"] else ""
        if not r["mutant"] and r["expected_violation"]:
            tag = f" [known bug: {r['expected_violation']}]"
        click.echo(f"{r['name']:<32} {r['kernel_version']:<5} {r['description']}{tag}")
        click.echo(f"{'':<32} {'':<5} {size}")
        if r["origin"] != "built-in":
            extras = [f"from {r['origin']}"]
            if r["hooks"]:
                extras.append("hooks: " + ", ".join(r["hooks"]))
            if r["own_scenarios"]:
                extras.append("scenarios: " + ", ".join(r["own_scenarios"]))
            click.echo(f"{'':<32} {'':<5} " + "; ".join(extras))


@click.command("check")
@click.option("--design", "design", shell_complete=complete_check_design, help="Design to check (see 'pcplab designs --mutants').")
@click.option("--scenario", default="all", show_default=True,
              help="A scenario name (see --list-scenarios) or 'all'.")  # fmt: skip
@click.option("--scenario-file", type=click.Path(dir_okay=False),
              help="Python file defining SCENARIOS or SCENARIO (pcplab.check.scenario.Scenario); "
                   "with --scenario all they run after the standard set and the design's own.")  # fmt: skip
@click.option("--only-scenario-file", is_flag=True,
              help="With --scenario all: run only the scenario file's scenarios.")
@click.option("--mode", type=click.Choice(["exhaustive", "random", "pct"]), default="exhaustive",
              show_default=True)  # fmt: skip
@click.option("--bound", type=IntRange(-1, MAX_BOUND), default=None,
              help="Preemption bound for exhaustive mode (default: pcplab.check.api.DEFAULT_BOUND; "
              "-1: no bound).")  # fmt: skip
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed for random/pct modes (0..2^64-1).")  # fmt: skip
@click.option("--executions", type=IntRange(1, MAX_EXECUTIONS), default=2000,
              show_default=True,
              help="Runs per scenario in random/pct mode.")  # fmt: skip
@click.option("--time-limit", type=FiniteFloat(0, MAX_TIME_LIMIT, lo_open=True, unit="s"),
              default=None,
              help="Seconds per scenario before giving up (result is then not exhaustive).")  # fmt: skip
@click.option("--kind", "kinds", multiple=True,
              type=click.Choice(list(VIOLATION_KINDS)),
              help="Only stop at violations of this kind (repeatable); others are noted and "
                   "the search goes on (exhaustive mode).")  # fmt: skip
@click.option("--every-step", is_flag=True,
              help="With --bound -1: make every op a scheduling point, not only synchronisation "
                   "ops (the full search without the reduction; much slower).")  # fmt: skip
@click.option("--replay", "token", help="Reproduce a counterexample from its replay token.")
@click.option("--list-scenarios", is_flag=True, help="List the built-in scenarios and exit.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--timing", is_flag=True,
              help="Include wall-clock figures (seconds, steps/s) in the output; by default they "
                   "go to stderr so the same seed prints the same bytes.")  # fmt: skip
def check(
    design: str | None,
    scenario: str,
    scenario_file: str | None,
    only_scenario_file: bool,
    mode: str,
    bound: int | None,
    seed: int,
    executions: int,
    time_limit: float | None,
    kinds: tuple[str, ...],
    every_step: bool,
    token: str | None,
    list_scenarios: bool,
    as_json: bool,
    timing: bool,
) -> None:
    """Explore the interleavings of a design's fast paths and drains on small scenarios and report
    the first invariant violation with a replayable counterexample."""
    from pcplab.check import api

    if list_scenarios:
        from pcplab.check.catalogue import EXTRA

        d = check_design(design) if design else None
        scs = api.scenarios_for("all", scenario_file, d, only_file=only_scenario_file) + (
            [] if scenario_file else EXTRA
        )
        if as_json:
            click.echo(json.dumps([{"name": s.name, "description": s.description,
                                    "cpus": s.nr_cpus, "in_all": s.standard}
                                   for s in scs], indent=2))  # fmt: skip
        else:
            for s in scs:
                extra = "" if s.standard or scenario_file else "  [not in 'all']"
                click.echo(f"{s.name:<28} {s.nr_cpus} CPUs  {s.description}{extra}")
        return
    if token:
        result = api.replay_token(token, scenario_file)
        for note in result.get("notes", ()):
            click.echo(f"pcplab: {note}", err=True)
    else:
        if not design:
            raise PcplabError("pcplab check needs --design NAME (or --replay TOKEN)")
        check_design(design)

        result = api.run_check(
            design,
            scenario,
            mode,
            bound,
            seed,
            scenario_file=scenario_file,
            only_scenario_file=only_scenario_file,
            executions=executions,
            time_limit=time_limit,
            want=frozenset(kinds) if kinds else None,
            atomic=False if every_step else None,
        )
    if as_json:
        click.echo(json.dumps(result if timing else strip_timing(result), indent=2))
    else:
        _print(result, timing)
    if not timing and "seconds" in result:
        rate = result.get("steps_per_second")
        click.echo(f"pcplab: check took {result['seconds']:.2f} s"
                   + (f", {rate} steps/s" if rate is not None else ""), err=True)  # fmt: skip
    if result["violation"] is not None:
        sys.exit(1)


def _print(r: dict[str, Any], timing: bool = False) -> None:
    v = r["violation"]
    if v is not None:
        for line in v["report"]:
            click.echo(line)
        click.echo("")
    if r["mode"] == "replay":
        if v is None:
            click.echo(
                f"replay of {r['design']} / {r['scenario']}: {r['steps']} steps, no violation"
            )
        return
    for s in r["scenarios"]:
        status = s["violation"] or ("exhaustive" if s["exhaustive"] else "not exhaustive")
        secs = f" {s['seconds']:>8.2f} s" if timing else ""
        click.echo(
            f"  {s['scenario']:<28} {s['executions']:>7} executions {s['states']:>8} nodes "
            f"{s['steps']:>9} steps{secs}  {status}"
        )
    bound = f", preemption bound {r['bound']}" if r["bound"] is not None else ""
    if r["mode"] != "exhaustive":
        how = f"{r['mode']} search (seed {r['seed']}), not exhaustive"
    elif r["complete"]:
        how = "exhaustive (no choice cut by the bound)"
        if r.get("atomic"):
            how = ("exhaustive (no bound; scheduling points at synchronisation ops, every data "
                   "access checked by the owner and race rules)")  # fmt: skip
    elif r["exhaustive"]:
        how = f"exhaustive within the bound{bound}"
    else:
        how = "not exhaustive"
    verdict = f"{v['kind']} in {v['function']}" if v else "no violation"
    click.echo(
        f"{r['design']}: {verdict}; {r['executions']} executions, {r['states']} "
        f"{'distinct states' if r.get('states_distinct') else 'search-tree nodes'}, "
        f"{r['steps']} steps"
        + (f", {r['steps_per_second']} steps/s, {r['seconds']:.2f} s" if timing else "")
        + f"; {how}"
    )
    for kind, o in r.get("other_violations", {}).items():
        click.echo(f"  also seen: {kind} in {o['function']} ({o['scenario']})")
    exp = r.get("expected_violation")
    if exp and r.get("expected_found") is False:
        # issue 15: a mutant (or known bug) whose declared kind did not show up is a regression
        got = f"found {v['kind']} instead" if v else "found nothing"
        click.echo(f"  expected {exp} (declared by the design) was NOT found: {got}")
