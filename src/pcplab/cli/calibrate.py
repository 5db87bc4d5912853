"""`pcplab calibrate`: fit this host's profile to a measured pft (pcplab.calibrate)."""

from __future__ import annotations

import json
import os

import click

from pcplab.cli.options import SEED, IntRange, complete_design, parse_int_list
from pcplab.errors import PcplabError

#: first line of every profile calibrate writes: an existing file is replaced only if it has it
MARK = "# Machine profile written by `pcplab calibrate`"


def _check_output(path: str, force: bool) -> None:
    from pcplab.safe_write import STDOUT, check_output_path

    check_output_path(path, "--output profile")
    if path == STDOUT or not os.path.isfile(path) or force:
        return
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
    except OSError as exc:
        raise PcplabError(f"cannot read --output {path}: {exc.strerror or exc}") from None
    if not first.startswith(MARK):
        raise PcplabError(f"--output {path} exists and was not written by pcplab calibrate; "
                          "choose another path or add --force")


@click.command("calibrate")
@click.argument("results", type=click.Path())
@click.option("--output", "-o", default="host.toml", show_default=True,
              help="Profile file to write ('-' for standard output).")
@click.option("--fit-threads", default=None,
              help="Client counts to fit on, e.g. 1 (default: every measured count); the "
              "others are predicted.")  # fmt: skip
@click.option("--run", default=None, help="Run name, when RESULTS holds several.")
@click.option("--design", "-d", default=None, shell_complete=complete_design,
              help="Design that models the measured kernel (default: spinlock from 6.0 on, "
              "else workqueue).")  # fmt: skip
@click.option("--name", default="host-calibrated", show_default=True,
              help="The profile's name (shown in every table).")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Simulation seed.")
@click.option("--sim-iterations", default=5, show_default=True, type=IntRange(1, 100),
              help="Simulated runs per client count in each fit step.")
@click.option("--mapping-mb", default=None, type=IntRange(1, 2**40),
              help="Mapping size in MiB, for an mmtests tree whose commands.log lacks it.")
@click.option("--fit-on", type=click.Choice(["elapsed", "cpu"]), default="elapsed",
              show_default=True,
              help="Measured figure to fit: elapsed, or cpu (user+system: not inflated by other "
              "work sharing the CPUs).")  # fmt: skip
@click.option("--statistic", type=click.Choice(["median", "mean"]), default="median",
              show_default=True,
              help="What of each measured row to fit and predict: the median (robust to the "
              "host's own hiccups) or the mean (mmtests' Amean).")  # fmt: skip
@click.option("--force", is_flag=True, help="Replace an --output file calibrate did not write.")
@click.option("--json", "as_json", is_flag=True, help="Print the fit as JSON.")
def calibrate(results: str, output: str, fit_threads: str | None, run: str | None,
              design: str | None, name: str, seed: int, sim_iterations: int,
              mapping_mb: int | None, fit_on: str, statistic: str, force: bool,
              as_json: bool) -> None:
    """Fit this host's machine profile to a measured pft and write it as a TOML file.

    RESULTS is `pcplab measure pft`'s run directory (or its pcplab-measure.json) or an mmtests
    results tree.  The topology is read from this host (/proc/cpuinfo, /sys, /proc/zoneinfo);
    the per-machine cost facts (the fault path's effective clock, line transfer cost, memory
    bandwidth) are fitted by seeded simulation, and each measured row is printed with its
    simulated value and error.  Use the file with `--machine ./host.toml` on every command."""
    from pcplab.calibrate import calibrate as run_calibrate
    from pcplab.machines.profile import _NAME_CHARS
    from pcplab.safe_write import write_output

    if not name or len(name) > 64 or not set(name) <= _NAME_CHARS:
        raise PcplabError(f"--name {name[:40]!r} must be 1-64 letters, digits, '.', '_' or '-'")
    rows = None if fit_threads is None else parse_int_list(fit_threads, "--fit-threads", 1, 128,
                                                           "client count")
    _check_output(output, force)
    cal = run_calibrate(results, run=run, fit_threads=rows, design=design, seed=seed,
                        sim_iterations=sim_iterations, name=name, mapping_mb=mapping_mb,
                        fit_on=fit_on, statistic=statistic,
                        warn=lambda msg: click.echo(f"pcplab: warning: {msg}", err=True))
    write_output(output, cal.text, "profile")
    res = cal.result
    if as_json:
        click.echo(json.dumps({"output": output, "design": cal.design, "fit_threads": cal.fit_rows,
                               "fitted": {k: res.values[k] for k in res.fitted},
                               "not_identifiable": res.not_identifiable, "rows": cal.rows},
                              indent=1))
        return
    if output == "-":
        return
    m = cal.measurement
    click.echo(f"calibrated {cal.profile.name} from {m.name} ({m.kind}, mapping "
               f"{m.mapping_bytes >> 20} MiB) with design {cal.design}, seed {seed}, "
               f"fit on the {statistic} {'user+system' if fit_on == 'cpu' else 'elapsed'} of "
               f"{','.join(map(str, cal.fit_rows))} thread(s); wrote {output}")
    for key in res.fitted:
        extra = ""
        if key == "clock_ghz":
            extra = (f"  (nominal {cal.nominal_clock_ghz} GHz: the fault path takes "
                     f"{cal.nominal_clock_ghz / res.values[key]:.3f}x the global cycles)")
        click.echo(f"  fitted {key} = {res.values[key]:g}{extra}")
    for key in res.not_identifiable:
        click.echo(f"  not fitted {key} = {res.values.get(key, 0):g} (not identifiable from the "
                   "fit rows; the host default is kept)")
    click.echo(f"{'clients':>7} {'row':>9} {'elapsed meas':>12} {'sim':>8} {'err%':>7} "
               f"{'system meas':>11} {'sim':>8} {'err%':>7} {'waited%':>7}")
    for r in cal.rows:
        waited = m.waited.get(r["clients"])
        click.echo(
            f"{r['clients']:>7} {r['role']:>9} {r['measured_elapsed_s']:>12.4f} "
            f"{r['simulated_elapsed_s']:>8.4f} {r['elapsed_error_pct']:>+7.1f} "
            f"{r['measured_system_s']:>11.4f} {r['simulated_system_s']:>8.4f} "
            f"{r['system_error_pct']:>+7.1f} "
            f"{'-' if waited is None else f'{100 * waited:.1f}':>7}"
        )
    mb = m.mapping_bytes >> 20
    size = f" --mapping-mb {mb}" if mb << 20 == m.mapping_bytes else ""
    where = output if "/" in output else f"./{output}"
    click.echo(f"simulate it: pcplab pft --machine {where} --design {cal.design} --clients "
               f"{','.join(map(str, sorted(m.rows)))}{size}")
    busy = [n for n, w in m.waited.items() if w > 0.05]
    if busy:
        click.echo(f"note: at {','.join(map(str, sorted(busy)))} client(s) the workers waited "
                   "over 5 % of their time for a CPU (other work on this host); the simulation "
                   "has the CPUs to itself")
