"""``pcplab measure pft``: run pcplab's own pft on this host the way mmtests runs pft.

mmtests' bench loop (``gormanm/mmtests@09b91ce9`` ``shellpack_src/src/pft/pft-bench``): for each
client count of ``threads_large_stride_begin`` from 1 to ``min(NUMCPUS, 128)``, run
``./pft -m $PFT_MAPPING_SIZE -t N`` (``-n N`` with ``PFT_USE_PROCESSES=yes``) ``PFT_ITERATIONS``
times, appending each run's output to ``logs/pft-N.log``; ``PFT_MAPPING_SIZE`` is
``MEMTOTAL_BYTES / 5`` (``configs/config-workload-pft-threads``; mmtests-pft.md §2).  This module
does the same with ``pcplab-pft`` (``pft.c``, built by :mod:`pcplab.measure.build`) and writes:

* an mmtests results tree, ``<output>/<name>/iter-0/pft/logs/pft-N.log`` with the lines the
  program printed, plus ``commands.log`` and the activity files (the layout
  :mod:`pcplab.report.mmtests_dir` reads, so ``pcplab import --mmtests`` and ``pcplab calibrate``
  take it);
* ``<output>/<name>/pcplab-measure.json``: the same samples at full precision (pft prints
  seconds with two decimals, which is 1 % of a one-second run), the minor faults, the page count,
  ``run_delay`` (seconds the workers were runnable but waited for a CPU, summed over workers,
  from ``/proc/thread-self/schedstat``: the time other work on the host took from pft),
  the host (kernel, CPUs, memory, THP mode, load average before and after each run, steal time)
  and the binary (compiler, flags, source hash).

Two differences from mmtests, on purpose: 5 iterations, not 30 (``--iterations``), and one
warm-up run (``--warmup``, not recorded in the tables) before the first measured one.  The
warm-up is for virtual machines, whose host backs guest memory on first touch: on this
project's 2-vCPU VM (2026-12-04, idle) the first 1-thread runs took 1.8-2.7 s against
0.35-0.39 s once settled.  One warm-up run takes the first of them out of the table (a later
hiccup can still come: ``pcplab calibrate`` fits the median for that); on bare metal it costs
one run.  Its figures are kept in the JSON (``warmup``).
Timings of a measurement are what it measures; nothing here is seeded.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pcplab.errors import PcplabError
from pcplab.measure.build import Binary
from pcplab.report.pft_log import parse_line
from pcplab.safe_write import write_output

MEASURE_JSON = "pcplab-measure.json"
FORMAT = "pcplab-measure-pft/1"
_EXTRA = re.compile(r"^pcplab-pft (.*)$")


def meminfo_total_bytes(proc: Path = Path("/proc")) -> int:
    """MemTotal in bytes (mmtests' MEMTOTAL_BYTES comes from ``free -b``, which reads it)."""
    try:
        text = (proc / "meminfo").read_text()
    except OSError as exc:
        raise PcplabError(f"cannot read {proc / 'meminfo'}: {exc.strerror or exc}") from None
    m = re.search(r"^MemTotal:\s+(\d+)\s+kB", text, re.M)
    if m is None:
        raise PcplabError(f"{proc / 'meminfo'} has no MemTotal line")
    return int(m.group(1)) * 1024


def default_mapping_bytes() -> int:
    """mmtests' ``PFT_MAPPING_SIZE = MEMTOTAL_BYTES / 5`` (config-workload-pft-threads), rounded
    down to whole MiB so that ``pcplab pft --mapping-mb`` can simulate exactly the same size."""
    return (meminfo_total_bytes() // 5) >> 20 << 20


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _steal_ticks() -> int | None:
    text = _read("/proc/stat")
    if not text:
        return None
    fields = text.splitlines()[0].split()
    return int(fields[8]) if len(fields) > 8 and fields[0] == "cpu" else None


def _loadavg() -> float | None:
    text = _read("/proc/loadavg")
    try:
        return float(text.split()[0]) if text else None
    except ValueError:
        return None


def host_info() -> dict[str, Any]:
    """What the measurement ran on (recorded, not used to compute anything)."""
    thp = _read("/sys/kernel/mm/transparent_hugepage/enabled")
    cpuinfo = _read("/proc/cpuinfo") or ""
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    return {
        "kernel": platform.release(),
        "arch": platform.machine(),
        "cpus_online": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)),
        "cpu_model": model.group(1).strip() if model else None,
        "memtotal_bytes": meminfo_total_bytes(),
        "page_size": os.sysconf("SC_PAGE_SIZE"),
        "thp_enabled": thp.strip() if thp else None,
    }


def parse_output(text: str, stderr: str = "") -> tuple[str, dict[str, Any]]:
    """The pft line and the full-precision figures of one ``pcplab-pft -x`` run."""
    pft_line = None
    extra: dict[str, Any] = {}
    for line in text.splitlines():
        m = _EXTRA.match(line)
        if m:
            for item in m.group(1).split():
                key, _, value = item.partition("=")
                extra[key] = float(value) if "." in value else int(value)
        elif parse_line(line) is not None:
            pft_line = line
    if pft_line is None or not extra:
        raise PcplabError(f"pcplab-pft printed no result line: {(text + stderr).strip()[:200]!r}")
    return pft_line, extra


def run_once(binary: Binary, mapping_bytes: int, workers: int, processes: bool,
             timeout: float) -> tuple[str, list[str], dict[str, Any]]:
    """One pft run: (its pft line, its stderr lines, the precise figures plus host state)."""
    switch = "-n" if processes else "-t"
    cmd = [str(binary.path), "-m", str(mapping_bytes), switch, str(workers), "-x"]
    load_before, steal_before = _loadavg(), _steal_ticks()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PcplabError(f"pft with {workers} workers ran over {timeout:.0f} s; use a smaller "
                          "--mapping-mb") from None
    except OSError as exc:
        raise PcplabError(f"cannot run {binary.path}: {exc.strerror or exc}") from None
    if out.returncode != 0:
        raise PcplabError(f"pft with {workers} workers failed (exit {out.returncode}): "
                          f"{out.stderr.strip()[:200] or out.stdout.strip()[:200]}")
    line, extra = parse_output(out.stdout, out.stderr)
    steal_after = _steal_ticks()
    extra["loadavg_before"] = load_before
    extra["loadavg_after"] = _loadavg()
    if steal_before is not None and steal_after is not None:
        extra["steal_ticks"] = steal_after - steal_before
    return line, [s for s in out.stderr.splitlines() if s.strip()], extra


def run_table(
    binary: Binary,
    clients: Sequence[int],
    iterations: int,
    mapping_bytes: int,
    processes: bool = False,
    progress: Callable[[int, int], None] | None = None,
    timeout: float = 600.0,
    warmup: int = 1,
) -> dict[str, Any]:
    """Every client count ``iterations`` times, after ``warmup`` unrecorded runs of the first
    count; the result as a pcplab pft result dict (the keys ``pcplab pft --json`` has) with the
    log text per count under ``"logs"`` and the warm-up runs' figures under ``"warmup"``."""
    rows = []
    logs: dict[int, str] = {}
    done, total = 0, len(clients) * iterations + (warmup if clients else 0)
    started = time.time()
    warm: list[dict[str, Any]] = []
    for _ in range(warmup if clients else 0):
        _line, _errs, extra = run_once(binary, mapping_bytes, clients[0], processes, timeout)
        warm.append({"clients": clients[0], **{k: float(extra[k])
                                               for k in ("user", "system", "elapsed")}})
        done += 1
        if progress is not None:
            progress(done, total)
    for n in clients:
        row: dict[str, Any] = {"clients": n, "pages": None, "user": [], "system": [],
                               "elapsed": [], "faults_per_cpu": [], "faults_per_sec": [],
                               "minflt": [], "run_delay": [], "loadavg_before": [], "steal_ticks": []}
        text = []
        for _ in range(iterations):
            line, errs, extra = run_once(binary, mapping_bytes, n, processes, timeout)
            text.extend(errs)  # mmtests merges stderr into the log (2>&1 | tee -a)
            text.append(line)
            pages, workers = int(extra["pages"]), int(extra["workers"])
            if workers != n:
                raise PcplabError(f"pft ran {workers} workers instead of {n}: this process may "
                                  f"use only {len(os.sched_getaffinity(0))} CPUs")
            row["pages"] = pages
            user, system, elapsed = (float(extra[k]) for k in ("user", "system", "elapsed"))
            row["user"].append(user)
            row["system"].append(system)
            row["elapsed"].append(elapsed)
            row["faults_per_cpu"].append(pages / (user + system) if user + system > 0 else 0.0)
            row["faults_per_sec"].append(pages / elapsed)
            row["minflt"].append(int(extra["minflt"]))
            delay = float(extra.get("run_delay", -1))
            row["run_delay"].append(None if delay < 0 else delay)
            row["loadavg_before"].append(extra.get("loadavg_before"))
            row["steal_ticks"].append(extra.get("steal_ticks"))
            done += 1
            if progress is not None:
                progress(done, total)
        parsed = parse_line(text[-1])
        row["gbyte"] = parsed.gbyte if parsed is not None else 0
        logs[n] = "".join(t + "\n" for t in text)
        rows.append(row)
    return {
        "format": FORMAT,
        "workload": "pft",
        "mapping_bytes": mapping_bytes,
        "use_processes": processes,
        "iterations": iterations,
        "warmup": warm,
        "gbyte": rows[0]["gbyte"] if rows else 0,
        "page_size": os.sysconf("SC_PAGE_SIZE"),
        "started": int(started),
        "finished": int(time.time()),
        "clients": rows,
        "logs": logs,
    }


def check_run_dir(output: Path, name: str) -> Path:
    """The run directory to create; refused (before any work) if it exists, so a measurement
    never replaces an earlier one."""
    if not name or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", name) or name in (".", ".."):
        raise PcplabError(f"--name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
    top = output / name
    if top.exists() or top.is_symlink():
        raise PcplabError(f"{top} exists already; choose another --name or --output "
                          "(a measurement never replaces an earlier one)")
    return top


def write_tree(top: Path, result: dict[str, Any], host: dict[str, Any], binary: Binary) -> Path:
    """The mmtests tree and the JSON of one measurement under ``top``; returns the JSON path."""
    logs = top / "iter-0" / "pft" / "logs"
    logs.mkdir(parents=True, exist_ok=False)
    switch = "-n" if result["use_processes"] else "-t"
    commands = []
    for row in result["clients"]:
        n = row["clients"]
        commands.append(f"./pft -m {result['mapping_bytes']} {switch} {n}\n")
        write_output(logs / f"pft-{n}.log", result["logs"][n], "pft log")
    write_output(logs / "commands.log", "".join(commands), "pft commands log")
    start, end = result["started"], max(result["finished"], result["started"] + 1)
    write_output(top / "mmtests-activity",
                 f"{start} run-mmtests: Start\n{start} run-mmtests: test start :: pft {start}\n"
                 f"{end} run-mmtests: test end :: pft {end}\n{end} run-mmtests: End\n",
                 "mmtests activity file")
    write_output(top / "iter-0" / "tests-activity",
                 f"{start} run-mmtests: test start :: pft {start}\n"
                 f"{end} run-mmtests: test end :: pft {end}\n", "mmtests activity file")
    tot = {k: sum(sum(r[k]) for r in result["clients"]) for k in ("user", "system", "elapsed")}
    write_output(top / "iter-0" / "tests-timestamp",
                 f"time :: pft {tot['user']:.2f} user {tot['system']:.2f} system "
                 f"{tot['elapsed']:.2f} elapsed\n", "mmtests timestamp file")
    doc = {k: v for k, v in result.items() if k != "logs"}
    doc["name"] = top.name
    doc["host"] = host
    doc["binary"] = binary.to_dict()
    path = top / MEASURE_JSON
    write_output(path, json.dumps(doc, indent=1) + "\n", "measurement JSON")
    return path
