"""`pcplab measure pft`: run a pft with mmtests' semantics on this host (pcplab.measure)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from pcplab.cli.options import MAX_ITERATIONS, IntRange, parse_int_list
from pcplab.errors import PcplabError


@click.group("measure")
def measure() -> None:
    """Measure this host (for `pcplab calibrate`)."""


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


@measure.command("pft")
@click.option("--clients", default=None,
              help="Thread (or process) counts, e.g. 1,2 (default: mmtests' sequence for the "
              "CPUs this process may use).")  # fmt: skip
@click.option("--iterations", "-n", default=5, show_default=True,
              type=IntRange(1, MAX_ITERATIONS), help="Runs per count (mmtests uses 30).")
@click.option("--mapping-mb", default=None, type=IntRange(1, 2**40),
              help="Mapping size in MiB, split between the workers (default: MemTotal/5, "
              "mmtests' PFT_MAPPING_SIZE).")  # fmt: skip
@click.option("--warmup", default=1, show_default=True, type=IntRange(0, 100),
              help="Unrecorded runs before the first measured one (a VM's host backs the "
              "guest's memory on first touch).")  # fmt: skip
@click.option("--processes", is_flag=True, help="Workers are processes (pft -n), not threads.")
@click.option("--output", "-o", default="pcplab-measure", show_default=True,
              help="Results directory (an mmtests work/log); the run goes in OUTPUT/NAME.")
@click.option("--name", default=None,
              help="Run name (default: <kernel major.minor>-host, e.g. 6.18-host).")
@click.option("--cc", default=None, help="C compiler (default: $CC, else cc, gcc or clang).")
@click.option("--cache-dir", default=None,
              help="Where the built program is kept (default: $PCPLAB_CACHE_DIR, else the user "
              "cache directory, $XDG_CACHE_HOME/pcplab).")  # fmt: skip
@click.option("--timeout", default=600, show_default=True, type=IntRange(1, 86400),
              help="Seconds one pft run may take.")
@click.option("--json", "as_json", is_flag=True, help="Print the measurement as JSON.")
def pft(clients: str | None, iterations: int, mapping_mb: int | None, warmup: int,
        processes: bool,
        output: str, name: str | None, cc: str | None, cache_dir: str | None, timeout: int,
        as_json: bool) -> None:
    """Build pcplab's pft (mmtests' pft semantics) with this machine's C compiler on first use,
    run it here for each client count, write an mmtests results tree plus a JSON of the
    full-precision samples, and print the table."""
    import platform

    from pcplab.measure import build as builder
    from pcplab.measure import pft as mp
    from pcplab.safe_write import check_output_dir
    from pcplab.workloads.pft import MAX_CLIENTS, client_counts

    allowed = len(os.sched_getaffinity(0))
    top_clients = min(allowed, MAX_CLIENTS)
    client_list = (client_counts(top_clients) if clients is None
                   else parse_int_list(clients, "--clients", 1, top_clients, "client count"))
    memtotal = mp.meminfo_total_bytes()
    if mapping_mb is not None and mapping_mb << 20 > memtotal // 2:
        raise PcplabError(f"--mapping-mb {mapping_mb} is over half of this host's "
                          f"{memtotal >> 20} MiB; use at most {memtotal >> 21}")
    mapping = mp.default_mapping_bytes() if mapping_mb is None else mapping_mb << 20
    if name is None:
        release = platform.release().split(".")
        name = f"{'.'.join(release[:2])}-host"
    check_output_dir(output, "--output directory")
    top = mp.check_run_dir(Path(output), name)
    binary = builder.build(cc, cache_dir)
    if binary.built:
        click.echo(f"pcplab: built {binary.path} with {binary.compiler}", err=True)
    from pcplab.cli.progress import Progress

    host = mp.host_info()
    with Progress("measure pft", len(client_list) * iterations + warmup, unit="runs") as prog:
        result = mp.run_table(binary, client_list, iterations, mapping, processes,
                              progress=lambda done, total: prog.update(done, total),
                              timeout=float(timeout), warmup=warmup)
    json_path = mp.write_tree(top, result, host, binary)
    if as_json:
        click.echo(json_path.read_text(), nl=False)
        return
    mode = "processes" if processes else "threads"
    click.echo(f"pft measured on this host ({host['cpu_model']}, kernel {host['kernel']}, "
               f"{host['cpus_allowed']} CPUs), {mode}, mapping {mapping >> 20} MiB, "
               f"{iterations} iterations")
    click.echo(f"{'clients':>7} {'pages':>10} {'user(s)':>8} {'system(s)':>10} "
               f"{'elapsed(s)':>10} {'faults/sec':>12}")
    for row in result["clients"]:
        click.echo(f"{row['clients']:>7} {row['pages']:>10} {_mean(row['user']):>8.3f} "
                   f"{_mean(row['system']):>10.3f} {_mean(row['elapsed']):>10.3f} "
                   f"{_mean(row['faults_per_sec']):>12.1f}")
    loads = [x for r in result["clients"] for x in r["loadavg_before"] if x is not None]
    if loads:
        click.echo(f"load average before the runs: {min(loads):.2f}..{max(loads):.2f} "
                   "(other work on this host shares its CPUs with pft)")
    click.echo(f"written: {top} (mmtests tree) and {json_path.name}")
    click.echo(f"next: pcplab calibrate {top}")
