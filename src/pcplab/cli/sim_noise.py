"""`pcplab noise` and `pcplab oom`: drains seen from isolated CPUs, and the seed's OOM reproducer."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pcplab.cli.options import (
    MAX_DRAIN_RATE,
    MAX_SIM_SECONDS,
    MIN_DRAIN_RATE,
    MIN_SIM_SECONDS,
    SEED,
    FiniteFloat,
    IntRange,
    RtRuntime,
    check_design,
    check_memory_mib,
    complete_design,
    complete_machine,
    isolated_cpus,
    machine_profile,
)
from pcplab.errors import PcplabError
from pcplab.workloads.isolated import ISOLATED_TASK_HELP, ISOLATED_TASKS


def parse_cpu_list(text: str, profile: Any = None) -> list[int]:
    """``2-3,6`` → [2, 3, 6]; bad syntax, or (given the machine's ``profile``) a CPU the machine
    lacks or every CPU, raises PcplabError (one line, exit 2) before the list is expanded."""
    from pcplab.machines.cpulist import parse_cpulist

    if profile is not None:
        return isolated_cpus(text, profile)
    cpus = list(parse_cpulist(text))
    if not cpus:
        raise PcplabError(f"--isolated {text!r} names no CPU; give e.g. --isolated 2-3,6")
    return cpus


def _us(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1000:.2f}"


def format_noise(res: dict[str, Any], all_cpus: bool = False) -> str:
    """rtla osnoise top's table of the isolated CPUs (every CPU with ``all_cpus``), the drain
    latency with its histogram, then what was lost (see ``pcplab.report.noise``)."""
    from pcplab.report.noise import noise_run_text

    lines = [noise_run_text(res, all_cpus=all_cpus).rstrip("\n")]
    lost = res["pages_lost"]
    lines.append(
        f"pages lost: {lost if lost is not None else '-'}; invariant checks: "
        f"{res['invariant_checks']}"
    )
    if res.get("oops"):
        from pcplab.workloads.oops import format_oops

        lines.append(format_oops(res["oops"]).rstrip())
    latency = _isolated_latency_text(res)
    if latency:
        lines.append(latency)
    return "\n".join(lines) + "\n"


def _isolated_latency_text(res: dict[str, Any]) -> str:
    """The isolated tasks' own allocation/free latency table ("" when none ran)."""
    from pcplab.report.isolated_latency import format_isolated_latency, has_latency

    return format_isolated_latency(res) if has_latency(res) else ""


@click.command("noise")
@click.option("--machine", "-m", required=True, shell_complete=complete_machine,
              help="Machine profile (see `pcplab machines`).")
@click.option("--design", "-d", required=True, shell_complete=complete_design,
              help="Drain design (see `pcplab designs`).")
@click.option("--isolated", "isolated", required=True, help="nohz_full CPUs, e.g. 2-3,6.")
@click.option(
    "--load",
    type=click.Choice(["drain-storm", "oom", "cma"]),
    default="drain-storm",
    show_default=True,
    help="What the other CPUs do.",
)
@click.option("--drain-rate", default=100.0, show_default=True,
              type=FiniteFloat(MIN_DRAIN_RATE, MAX_DRAIN_RATE, unit="drains/s"),
              help="Drains per s.")  # fmt: skip
@click.option("--duration", default=1.0, show_default=True,
              type=FiniteFloat(MIN_SIM_SECONDS, MAX_SIM_SECONDS, unit="s"),
              help="Simulated seconds.")  # fmt: skip
@click.option(
    "--isolated-task",
    type=click.Choice(list(ISOLATED_TASKS)),
    default="fifo",
    show_default=True,
    help=ISOLATED_TASK_HELP,
)
@click.option(
    "--rt-runtime-us",
    default=950_000,
    show_default=True,
    type=RtRuntime(),
    help="sched_rt_runtime_us: SCHED_FIFO time per 1 s RT period before RT throttling; -1: none.",
)
@click.option("--memory-mib", default=None, type=IntRange(1, 2**40),
              help="Scale the machine's memory down (4 MiB up to the machine's).")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=SEED, help="Random seed (0..2^64-1).")
@click.option("--all-cpus", is_flag=True,
              help="Show every CPU, not only the isolated ones (rtla shows the CPUs of -c).")
@click.option("--hist", "hist", is_flag=True,
              help="Also print rtla osnoise hist's noise-duration histogram of the isolated CPUs "
                   "(1 us buckets, 256 entries).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as JSON (with 'osnoise_top' and 'wakeup_latency': the tables' rows).")
def noise(
    machine: str,
    design: str,
    isolated: str,
    load: str,
    drain_rate: float,
    duration: float,
    isolated_task: str,
    rt_runtime_us: int,
    memory_mib: int | None,
    seed: int,
    all_cpus: bool,
    hist: bool,
    as_json: bool,
) -> None:
    """Noise on isolated CPUs (osnoise vocabulary) and drain latency while drains run."""
    from pcplab.sim.api_noise import run_noise

    profile = machine_profile(machine)
    check_design(design)
    cpus = parse_cpu_list(isolated, profile)
    check_memory_mib(memory_mib, profile, "--memory-mib")
    from pcplab.cli.progress import Progress

    # simulated seconds done of the run's (the run is sliced only when watched)
    with Progress("noise", duration, unit="s simulated") as prog:
        res = run_noise(
            machine,
            design,
            cpus,
            load=load,
            drain_rate=drain_rate,
            duration_s=duration,
            seed=seed,
            isolated_task=isolated_task,
            memory_mib=memory_mib,
            rt_runtime_us=rt_runtime_us,
            progress=(lambda t_ns, end_ns: prog.update(t_ns / 1e9, end_ns / 1e9))
            if prog.live else None,
        )
        prog.update(duration)
    if as_json:
        from pcplab.report.noise import osnoise_json, wakeup_json

        out = dict(res, osnoise_top=osnoise_json(res, all_cpus=all_cpus),
                   wakeup_latency=wakeup_json(res))
        click.echo(json.dumps(out, indent=1, sort_keys=True))
    else:
        click.echo(format_noise(res, all_cpus=all_cpus), nl=False)
        if hist:
            from pcplab.report.noise_hist import osnoise_hist_text

            click.echo("Noise durations (rtla osnoise hist's table), isolated CPUs; time is in us")
            click.echo(osnoise_hist_text([c for c in res["cpus"] if c.get("isolated")]), nl=False)
    if res.get("oops") or (res.get("pages_lost") or 0) > 0 or res.get("invariant_errors"):
        sys.exit(1)


@click.command("oom")
@click.option("--machine", "-m", default="rpi4", show_default=True,
              shell_complete=complete_machine, help="Machine profile.")
@click.option("--design", "-d", required=True, shell_complete=complete_design,
              help="Drain design (see `pcplab designs`).")
@click.option(
    "--memory-mib", default=None, type=IntRange(1, 2**40),
    help="Machine memory in MiB (default 32: seconds; 4 up to the machine's)."
)
@click.option("--seed", default=0, show_default=True, type=SEED, help="Random seed (0..2^64-1).")
@click.option("--isolated", default=None,
              help="nohz_full CPUs, e.g. 2-3: they run --isolated-task, the load the others.")
@click.option("--isolated-task", type=click.Choice(list(ISOLATED_TASKS)), default="fifo",
              show_default=True, help=ISOLATED_TASK_HELP)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def oom(machine: str, design: str, memory_mib: int | None, seed: int, isolated: str | None,
        isolated_task: str, as_json: bool) -> None:  # fmt: skip
    """The seed's reproducer: a process eats memory until the OOM killer acts.

    Exit 0 when the hog was OOM-killed with every page accounted for, 1 on an oops (printed like a
    kernel oops with the call chain) or a lost page.  With --isolated, those CPUs are nohz_full
    and run the isolated task (its own allocation latency is printed), the rest the OOM load."""
    from pcplab.sim.api_noise import OOM_MEMORY_MIB, run_oom
    from pcplab.workloads.oops import format_oops

    profile = machine_profile(machine)
    check_design(design)
    check_memory_mib(memory_mib, profile, "--memory-mib")
    iso = [] if isolated is None else parse_cpu_list(isolated, profile)
    res = run_oom(
        machine, design, seed, memory_mib=OOM_MEMORY_MIB if memory_mib is None else memory_mib,
        isolated=iso, isolated_task=isolated_task,
    )
    ok = res["outcome"] == "oom-killed" and res["pages_lost"] == 0 and not res["invariant_errors"]
    if as_json:
        click.echo(json.dumps(res, indent=1, sort_keys=True))
    elif res["oops"] is not None:
        click.echo(format_oops(res["oops"]), nl=False)
    else:
        s = res["stats"]
        click.echo(
            f"pcplab oom: machine {res['machine']} ({res['memory_mib']} MiB, "
            f"{res['managed_pages']} pages), design {res['design']} (kernel {res['kernel']})\n"
            f"outcome: {res['outcome']} after {res['sim_ns'] / 1e6:.1f} ms simulated; "
            f"faults {s['faults']}, direct reclaims {s['direct_reclaims']}, "
            f"drain_all_pages(NULL) calls {res['drains']} (skipped on mutex "
            f"{s['drains_skipped']}), OOM kills {s['oom_kills']}\n"
            f"pages lost: {res['pages_lost']}; invariant errors: {len(res['invariant_errors'])}"
        )
        if iso:
            click.echo(_isolated_latency_text(res) or "isolated CPUs: no isolated task ran")
    if not ok:
        sys.exit(1)
