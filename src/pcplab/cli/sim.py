"""`pcplab pft`: simulate mmtests' pft on a machine profile with a drain design.

(`noise` and `oom` live in :mod:`pcplab.cli.sim_noise`.)
"""

from __future__ import annotations

import json

import click

from pcplab.cli.options import (
    MAX_ITERATIONS,
    SEED,
    IntRange,
    check_design,
    check_memory_mib,
    complete_design,
    complete_machine,
    isolated_cpus,
    machine_profile,
    parse_int_list,
)
from pcplab.errors import PcplabError
from pcplab.workloads.isolated import ISOLATED_TASK_HELP, ISOLATED_TASKS


def _parse_clients(text: str | None, top: int = 128) -> list[int] | None:
    """``1,4,8-12`` within ``1..top`` (the machine's CPUs, at most pft's 128); bounds are checked
    before a range is expanded, and ``1 2`` is refused rather than read as 12."""
    if text is None:
        return None
    return parse_int_list(text, "--clients", 1, top, "client count")


def _max_clients(profile: object, isolated: int = 0) -> int:
    """pft's highest client count: the CPUs it may use (none of the ``isolated``), at most 128."""
    from pcplab.workloads import pft

    return min(int(profile.nr_cpus) - isolated, pft.MAX_CLIENTS)  # type: ignore[attr-defined]


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


@click.command("pft")
@click.option("--machine", "-m", required=True, shell_complete=complete_machine, help="Machine profile (see `pcplab machines list`).")
@click.option("--design", "-d", required=True, shell_complete=complete_design, help="Drain design (see `pcplab designs`).")
@click.option("--clients", default=None, help="Thread counts, e.g. 1,4,8-12 (default: mmtests').")
@click.option("--iterations", "-n", default=30, show_default=True,
              type=IntRange(1, MAX_ITERATIONS), help="Runs per count.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=SEED, help="Random seed (0..2^64-1).")
@click.option("--exact", is_flag=True, help="Every fault through the engine (slow; small cases).")
@click.option("--mapping-mb", default=None, type=IntRange(1, 2**40),
              help="Mapping size in MiB (default MemTotal/5; at most the machine's memory).")  # fmt: skip
@click.option(
    "--placement",
    type=click.Choice(["fork-domain", "v5.17"]),
    default="fork-domain",
    show_default=True,
    help="Worker placement: fork domains within distance 30, or v5.17's fork balancing.",
)
@click.option(
    "--kernel-config",
    default="default",
    show_default=True,
    help="Kernel options that change costs: default, or a comma list of debug-preempt, preempt-rt.",
)
@click.option("--isolated", default=None,
              help="nohz_full CPUs, e.g. 2-3: they run --isolated-task and no pft thread "
              "(as with isolcpus/taskset).")  # fmt: skip
@click.option("--isolated-task", type=click.Choice(list(ISOLATED_TASKS)), default="fifo",
              show_default=True, help=ISOLATED_TASK_HELP)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def pft(
    machine: str,
    design: str,
    clients: str | None,
    iterations: int,
    seed: int,
    exact: bool,
    mapping_mb: int | None,
    placement: str,
    kernel_config: str,
    isolated: str | None,
    isolated_task: str,
    as_json: bool,
) -> None:
    """Simulate mmtests' pft: per thread count, mean system and elapsed time and every sample.

    With --isolated, those CPUs are nohz_full, run the isolated task and get no pft thread (so
    client counts go up to the other CPUs' number); the isolated task's own page allocation and
    free latency is printed after the table."""
    from pcplab.sim.api import run_pft
    from pcplab.sim.costs import KernelConfig

    KernelConfig.parse(kernel_config)  # bad input fails before any work
    profile = machine_profile(machine)
    check_design(design)
    iso = None if isolated is None else isolated_cpus(isolated, profile)
    client_list = _parse_clients(clients, _max_clients(profile, len(iso or ())))
    check_memory_mib(mapping_mb, profile, "--mapping-mb", minimum=1)
    if mapping_mb is not None and mapping_mb << 20 < profile.page_size:
        raise PcplabError(f"--mapping-mb {mapping_mb} is below one page of {profile.name}")
    mapping = None if mapping_mb is None else mapping_mb << 20
    from pcplab.cli.progress import Progress

    with Progress("pft", None, unit="runs") as prog:
        res = run_pft(
            machine,
            design,
            clients=client_list,
            iterations=iterations,
            seed=seed,
            progress=prog.update,
            exact=exact,
            mapping_bytes=mapping,
            placement=placement,
            kernel_config=kernel_config,
            isolated=iso,
            isolated_task=isolated_task,
        )
    if as_json:
        click.echo(json.dumps(res, indent=1))
        return
    click.echo(
        f"pft on {res['machine']} with design {res['design']} (kernel {res['kernel']}), "
        f"{res['mode']} mode, {res['placement']} placement, "
        f"kernel config {res['kernel_config']['label']}, seed {res['seed']}, "
        f"mapping {res['mapping_bytes'] >> 20} MiB, "
        f"page size {res['page_size']}"
    )
    click.echo(f"{'clients':>7} {'pages':>10} {'system(s)':>10} {'elapsed(s)':>10} {'faults/sec':>12}")
    for row in res["clients"]:
        click.echo(
            f"{row['clients']:>7} {row['pages']:>10} {_mean(row['system']):>10.2f} "
            f"{_mean(row['elapsed']):>10.3f} {_mean(row['faults_per_sec']):>12.1f}"
        )
    click.echo("samples (user/system/elapsed seconds):")
    for row in res["clients"]:
        samples = " ".join(
            f"{u:.2f}/{s:.2f}/{e:.3f}"
            for u, s, e in zip(row["user"], row["system"], row["elapsed"], strict=True)
        )
        click.echo(f"  {row['clients']:>4}: {samples}")
    if iso:
        from pcplab.report.isolated_latency import format_isolated_latency

        click.echo(f"isolated CPUs {','.join(map(str, iso))} ({res['isolated_task']}):")
        click.echo(format_isolated_latency(res))

