"""``pcplab calibrate``: this host's machine profile, its per-machine cost facts fitted to a
measured pft (:mod:`pcplab.calibrate.fit` says which facts and how; :mod:`.source` what it
reads; :mod:`.profile_toml` how the file is laid out).

The topology is this host's (``/proc/cpuinfo``, ``/sys``, ``/proc/zoneinfo``, through
:mod:`pcplab.machines.host`): ASSUMPTION -- calibrate runs on the machine that was measured (a
measurement from ``pcplab measure pft`` records its host, and a mismatch in CPUs or memory is
refused).  The written file is an ordinary profile: every command takes ``--machine FILE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcplab.calibrate.fit import BOUNDS, LINE_FACTS, FitResult, fit, simulator, summary_rows
from pcplab.calibrate.profile_toml import check_zones, render
from pcplab.calibrate.source import Measurement, read_measurement
from pcplab.errors import PcplabError
from pcplab.machines.profile import Fact, Profile, parse_profile

__all__ = ["Calibration", "calibrate", "default_design"]

DEFAULT_NAME = "host-calibrated"


@dataclass
class Calibration:
    text: str  # the profile TOML
    profile: Profile
    measurement: Measurement
    design: str
    fit_rows: list[int]
    result: FitResult
    rows: list[dict[str, Any]]
    nominal_clock_ghz: float


def default_design(kernel_release: str | None) -> str:
    """The design that models a vanilla kernel of this release: 6.0's per-pcp spinlock from 6.0
    on (mainline since 6.0-rc1, kernel-pcp.md), else v5.17's workqueue drain."""
    import re

    m = re.match(r"(\d+)\.", kernel_release or "")
    return "spinlock" if m and int(m.group(1)) >= 6 else "workqueue"


def _check_host(m: Measurement, host: Profile) -> None:
    if m.host:
        cpus = m.host.get("cpus_online")
        if isinstance(cpus, int) and cpus != host.nr_cpus:
            raise PcplabError(f"the measurement ran on a host with {cpus} CPUs, this one has "
                              f"{host.nr_cpus}; run calibrate on the measured machine")
    top = max(m.rows)
    if top > host.nr_cpus:
        raise PcplabError(f"the measurement has {top} clients but this host has "
                          f"{host.nr_cpus} CPUs; run calibrate on the measured machine")
    if m.mapping_bytes > host.memory_bytes // 2:
        raise PcplabError(f"the measured mapping ({m.mapping_bytes >> 20} MiB) is over half of "
                          f"this host's memory; run calibrate on the measured machine")


def calibrate(
    results: str | Path,
    *,
    run: str | None = None,
    fit_threads: Sequence[int] | None = None,
    design: str | None = None,
    seed: int = 0,
    sim_iterations: int = 5,
    name: str = DEFAULT_NAME,
    mapping_mb: int | None = None,
    fit_on: str = "elapsed",
    statistic: str = "median",
    proc_root: str | Path = "/proc",
    sys_root: str | Path = "/sys",
    warn: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit this host's profile to the pft at ``results``; see the module docstring.

    ``statistic``: what of each measured row is fitted and predicted, its ``median`` (default)
    or its ``mean`` (mmtests' Amean).  The median, because a host's own hiccups are in the
    measurement and not in the model: on this project's 2-vCPU VM one run in ten took 2-6x the
    others (2.15 s against 0.35-0.39 s, the VM's host backing or reclaiming guest memory), which
    moves a 10-run mean by 20 % and the median by under 1 %; the simulated runs have no such
    outliers, so their mean and median agree."""
    from pcplab import designs
    from pcplab.machines.host import host_profile, host_zoneinfo

    if fit_on not in ("elapsed", "cpu"):
        raise PcplabError(f"fit target {fit_on!r} unknown; use elapsed or cpu")
    if statistic not in ("median", "mean"):
        raise PcplabError(f"statistic {statistic!r} unknown; use median or mean")
    m = read_measurement(results, run=run, mapping_mb=mapping_mb, warn=warn)
    if m.use_processes:
        raise PcplabError("the measurement ran pft with processes (-n); the simulator models "
                          "mmtests' threads config: measure with threads")
    zi = host_zoneinfo(proc_root, sys_root)
    host = host_profile(proc_root, sys_root, zoneinfo=zi)
    _check_host(m, host)
    fit_rows = sorted(m.rows) if fit_threads is None else sorted(set(fit_threads))
    missing = [n for n in fit_rows if n not in m.rows]
    if missing:
        raise PcplabError(f"--fit-threads {','.join(map(str, missing))} not measured; the "
                          f"measurement has {','.join(map(str, sorted(m.rows)))}")
    kernel = m.host.get("kernel") if m.host else None
    design = design or default_design(str(kernel) if kernel else _this_kernel())
    designs.get(design)  # unknown design: one line, before any work
    nominal = host.cost("clock_ghz")
    prior = {k: host.cost(k) for k in (*BOUNDS, *LINE_FACTS) if k in host.costs}
    measured = {n: {k: m.center(n, k, statistic) for k in ("elapsed", "system", "user")}
                for n in m.rows}
    label = (f"measured pft {m.name!r} ({m.kind}, samples sha256 {m.digest}, mapping "
             f"{m.mapping_bytes} bytes), fit on {','.join(map(str, fit_rows))} thread(s) "
             f"with design {design}, seed {seed}, {sim_iterations} simulated iterations, "
             f"fit on the {statistic} {'user+system' if fit_on == 'cpu' else 'elapsed'}")

    def costs_for(values: Mapping[str, float], fitted: Sequence[str]) -> tuple[
            dict[str, Fact], dict[str, str]]:
        costs = dict(host.costs)
        marks: dict[str, str] = {}
        marked = set(fitted) | (set(LINE_FACTS) if "cacheline_local_ns" in fitted else set())
        for key, value in values.items():
            if key not in costs:
                continue
            f = costs[key]
            if key not in marked:
                costs[key] = Fact(value, f.unit, f.source)
                continue
            if key == "clock_ghz":
                why = (f"FITTED (per machine) by pcplab calibrate: the effective clock at which "
                       f"sim/costs.py's global cycle constants give the measured "
                       f"{'user+system time' if fit_on == 'cpu' else 'elapsed'}; "
                       f"/proc/cpuinfo says {nominal} GHz, so this host's fault path takes "
                       f"{nominal / value:.3f}x the global cycle figures")
            elif key == "cacheline_local_ns":
                why = "FITTED (per machine) by pcplab calibrate: line transfer within the LLC"
            elif key == "mem_bw_node_gbs":
                why = ("FITTED (per machine) by pcplab calibrate: node memory bandwidth for "
                       "the write-back of zeroed pages (global CLEAR_NODE_BW_EFFICIENCY on top)")
            else:
                why = ("FITTED (per machine) by pcplab calibrate: scaled with "
                       "cacheline_local_ns, keeping the prior's ratio")
            costs[key] = Fact(value, f.unit, why)
            marks[key] = label
        return costs, marks

    description = (f"this host as calibrated from {m.name} ({host.description}); cost facts "
                   "marked fitted are per machine")

    def render_values(values: Mapping[str, float], fitted: Sequence[str] = (),
                      calibration: Mapping[str, Any] | None = None,
                      rows: Sequence[Mapping[str, Any]] = ()) -> str:
        costs, marks = costs_for(values, fitted)
        return render(host, zi, name, description, costs, marks, calibration or {}, rows,
                      Path(sys_root))

    render_values(prior)  # layout errors surface before any simulation
    sim = simulator(render_values, design, m.mapping_bytes, sim_iterations, seed)
    target = {n: (v["user"] + v["system"]) if fit_on == "cpu" else v["elapsed"]
              for n, v in measured.items()}
    result = fit(sim, target, fit_rows, prior, fit_on)
    rows = summary_rows(measured, result, fit_rows)
    calibration = {
        "tool": "pcplab calibrate",
        "measurement": m.name,
        "measurement_kind": m.kind,
        "measurement_sha256": m.digest,
        "mapping_bytes": m.mapping_bytes,
        "fit_threads": fit_rows,
        "fit_on": fit_on,
        "statistic": statistic,
        "design": design,
        "seed": seed,
        "sim_iterations": sim_iterations,
        "fitted": result.fitted,
        "not_identifiable": result.not_identifiable,
        "nominal_clock_ghz": nominal,
    }
    text = render_values(result.values, result.fitted, calibration, rows)
    profile = parse_profile(text, origin=f"calibrated {name}")
    check_zones(profile, zi)
    return Calibration(text, profile, m, design, fit_rows, result, rows, nominal)


def _this_kernel() -> str:
    import platform

    return platform.release()
