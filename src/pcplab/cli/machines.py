"""`pcplab machines`: list the machine profiles, show how the model sizes a machine's zones, and
compare the model with a real /proc/zoneinfo."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from pcplab.cli.options import IntRange, PageSize
from pcplab.errors import PcplabError
from pcplab.machines import HOST, get_profile, load_zoneinfo, profile_names
from pcplab.machines.host import host_kernel, host_profile, host_zoneinfo
from pcplab.machines.sizing import (
    ZoneComparison,
    compare_zoneinfo,
    model_zone_dicts,
    model_zones,
    pcp_fields,
)
from pcplab.mm.version import parse_kernel


def _console() -> Console:
    return Console(width=160 if not sys.stdout.isatty() else None, highlight=False)


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


@click.group("machines")
def machines() -> None:
    """Machine profiles and /proc/zoneinfo imports."""


@machines.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_(as_json: bool) -> None:
    """List the built-in machine profiles (and `host`)."""
    rows: list[dict[str, Any]] = []
    broken = []
    for name in profile_names():
        if name == HOST:
            rows.append({"name": HOST, "description": "this machine, read from /proc and /sys"})
            continue
        try:
            p = get_profile(name)
        except PcplabError as exc:
            # one broken file in the profiles folder is reported for itself, not for every command
            broken.append({"name": name, "error": str(exc)})
            click.echo(f"pcplab: warning: {exc}", err=True)
            continue
        rows.append(
            {
                "name": p.name,
                "arch": p.arch,
                "sockets": p.sockets,
                "nodes": len(p.nodes),
                "cpus": p.nr_cpus,
                "smt": p.smt,
                "memory_gib": round(p.memory_bytes / 2**30, 1),
                "page_size": p.page_size,
                "max_clients": p.max_clients,
                "description": p.description,
            }
        )
    if as_json:
        _emit_json({"machines": rows, "broken": broken} if broken else {"machines": rows})
        return
    table = Table(title="machine profiles")
    for col in ("name", "arch", "sockets", "nodes", "cpus", "smt", "GiB", "page", "description"):
        table.add_column(col, justify="left" if col in ("name", "arch", "description") else "right")
    for r in rows:
        if r["name"] == HOST:
            table.add_row(HOST, "", "", "", "", "", "", "", r["description"])
            continue
        table.add_row(
            r["name"],
            r["arch"],
            str(r["sockets"]),
            str(r["nodes"]),
            str(r["cpus"]),
            str(r["smt"]),
            f"{r['memory_gib']:g}",
            f"{r['page_size'] // 1024}K",
            r["description"],
        )
    _console().print(table)


@machines.command("show")
@click.argument("name", required=False)
@click.option(
    "--zoneinfo",
    "zoneinfo_path",
    type=click.Path(dir_okay=False),
    help="Compare the model with this /proc/zoneinfo instead of a named profile.",
)
@click.option(
    "--kernel",
    "kernel",
    help="Kernel rules (5.17, 6.0, 6.7, ...). Default: the "
    "profile's; for a zoneinfo 6.7 if it reports high_min, else 5.17.",
)
@click.option(
    "--page-size",
    type=PageSize(),
    default=None,
    help="Page size of an imported zoneinfo (default 4096; host: the real one).",
)
@click.option(
    "--thp/--no-thp",
    default=None,
    help="Whether khugepaged raises min_free_kbytes (default: on, host: as configured).",
)
@click.option(
    "--min-free-kbytes",
    type=IntRange(1, 2**31 - 1),
    default=None,
    help="Pin vm.min_free_kbytes instead of computing it.",
)
@click.option("--strict", is_flag=True, help="Exit 1 if any zone differs from the zoneinfo.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def show(
    name: str | None,
    zoneinfo_path: str | None,
    kernel: str | None,
    page_size: int | None,
    thp: bool | None,
    min_free_kbytes: int | None,
    strict: bool,
    as_json: bool,
) -> None:
    """Show a machine's zones, watermarks and pcp batch/high as the model computes them.

    NAME is a profile from `pcplab machines list` or `host`. With --zoneinfo FILE (or for host)
    the file's reported values are shown beside the model's and mismatches are flagged.
    """
    if (name is None) == (zoneinfo_path is None):
        raise click.UsageError("give a machine NAME or --zoneinfo FILE (not both)")
    if kernel is not None and not kernel.strip():
        raise click.UsageError("--kernel is empty; give a version such as 5.17, 6.0 or 6.7")
    if zoneinfo_path is not None or name == HOST:
        host_mfk = None
        if zoneinfo_path is not None:
            zi = load_zoneinfo(zoneinfo_path, page_size=page_size or 4096)
            default_kernel = zi.default_kernel
        else:
            if page_size is not None:
                raise click.UsageError("--page-size applies to --zoneinfo only; host knows its own")
            zi = host_zoneinfo()
            host = host_profile(zoneinfo=zi)
            settings = host.topology().extra.get("host", {})
            assert isinstance(settings, dict)
            default_kernel = host_kernel(settings) or zi.default_kernel
            host_mfk = settings.get("min_free_kbytes")
        version = parse_kernel(kernel or default_kernel)
        topo_kwargs: dict[str, Any] = {"min_free_kbytes": min_free_kbytes}
        if thp is not None:
            topo_kwargs["thp"] = thp
        if name == HOST:
            topo = host.topology(**topo_kwargs)
        else:
            topo = zi.topology(**topo_kwargs)
        sizing, rows = compare_zoneinfo(zi, version, topo)
        ok = all(r.match for r in rows)
        if as_json:
            _emit_json(
                {
                    "source": zi.origin,
                    "kernel": version.name,
                    "min_free_kbytes": sizing.min_free_kbytes,
                    "reported_min_free_kbytes": host_mfk,
                    "cpus_inferred": zi.cpus_inferred,
                    "node_cpus": {str(k): list(v) for k, v in sorted(zi.node_cpus.items())},
                    "match": ok,
                    "zones": [r.to_dict() for r in rows],
                }
            )
        else:
            _print_comparison(
                zi.origin,
                version.name,
                sizing.min_free_kbytes,
                host_mfk,
                rows,
                version.autotune,
                zi.cpus_inferred,
            )
        if strict and not ok:
            sys.exit(1)
        return
    assert name is not None
    profile = get_profile(name)
    version = parse_kernel(kernel or profile.default_kernel)
    overrides: dict[str, Any] = {}
    if thp is not None:
        overrides["thp"] = thp
    if min_free_kbytes is not None:
        overrides["min_free_kbytes"] = min_free_kbytes
    if page_size is not None:
        raise click.UsageError(
            "--page-size applies to --zoneinfo only; profiles fix their page size"
        )
    sizing = model_zones(profile.topology(**overrides), version)
    if as_json:
        _emit_json(
            {
                "machine": profile.to_dict(),
                "kernel": version.name,
                "min_free_kbytes": sizing.min_free_kbytes,
                "zones": model_zone_dicts(sizing, version.autotune),
            }
        )
        return
    _print_profile(profile, version.name, sizing, version.autotune)


def _print_profile(profile: Any, kernel: str, sizing: Any, autotune: bool) -> None:
    con = _console()
    con.print(f"[bold]{profile.name}[/bold]: {profile.description}")
    con.print(
        f"{profile.arch}, {profile.sockets} socket(s) x {profile.cores_per_socket} cores x SMT"
        f"{profile.smt} = {profile.nr_cpus} CPUs, {len(profile.nodes)} node(s), "
        f"{profile.memory_bytes / 2**30:g} GiB, {profile.page_size // 1024} KiB pages, "
        f"pageblock order {profile.pageblock_order}, max order {profile.max_order}"
    )
    con.print(f"kernel rules {kernel}; min_free_kbytes {sizing.min_free_kbytes} (model)")
    zones = Table(title="zones (pages)")
    cols = ["node", "zone", "CPUs", "present", "managed", "min", "low", "high", "promo", "batch"]
    cols += ["high_min", "high_max"] if autotune else ["pcp high"]
    for c in cols:
        zones.add_column(c, justify="left" if c == "zone" else "right")
    for z in sizing.zones:
        wm = z.watermarks
        row = [
            z.node,
            z.name,
            z.cpus_on_node,
            z.present,
            z.managed,
            wm.min,
            wm.low,
            wm.high,
            wm.promo,
            z.pcp.batch,
        ]
        row += [z.pcp.high_min, z.pcp.high_max] if autotune else [z.pcp.high]
        zones.add_row(*(str(v) for v in row))
    con.print(zones)
    costs = Table(title="hardware facts")
    for c in ("fact", "value", "unit", "source"):
        costs.add_column(c, overflow="fold")
    for key, fact in sorted(profile.costs.items()):
        costs.add_row(key, f"{fact.value:g}", fact.unit, fact.source)
    con.print(costs)


def _print_comparison(
    origin: str,
    kernel: str,
    mfk: int,
    host_mfk: object,
    rows: list[ZoneComparison],
    autotune: bool,
    cpus_inferred: bool,
) -> None:
    con = _console()
    con.print(f"[bold]{origin}[/bold]: model with kernel {kernel} rules vs reported")
    line = f"min_free_kbytes: model {mfk}"
    if host_mfk is not None:
        line += f", host sysctl {host_mfk}"
    con.print(line)
    if cpus_inferred:
        con.print("[yellow]CPU-to-node split is guessed (zoneinfo does not record it)[/yellow]")
    table = Table(title="zones: model | reported")
    # (column title, kind, key): watermarks live under "watermarks", pcp fields at top level
    columns = [(w, "watermarks", w) for w in ("min", "low", "high", "promo")]
    columns[2] = ("wmark high", "watermarks", "high")
    columns += [("pcp high" if f == "high" else f, "pcp", f) for f in pcp_fields(autotune)]
    table.add_column("node", justify="right")
    table.add_column("zone")
    table.add_column("managed", justify="right")
    for title, _, _ in columns:
        table.add_column(title, justify="right")
    table.add_column("match")
    for r in rows:
        cells = [str(r.node), r.zone, str(r.managed)]
        for _, kind, key in columns:
            if kind == "watermarks":
                m, rep = r.model["watermarks"].get(key), r.reported["watermarks"].get(key)
            else:
                m, rep = r.model.get(key), r.reported.get(key, "varies")
            same = rep is None or m == rep
            cell = f"{m} | {'-' if rep is None else rep}"
            cells.append(cell if same else f"[red]{cell}[/red]")
        cells.append("[green]yes[/green]" if r.match else "[red]NO[/red]")
        table.add_row(*cells)
    con.print(table)
    for r in rows:
        for problem in r.mismatches:
            con.print(f"[red]Node {r.node} {r.zone}: {problem}[/red]")
    if autotune:
        con.print("(6.7+: the reported per-CPU 'high' is tuned at run time and not compared)")
