"""Read and write mmtests results trees for pft.

Layout (``mmtests-pft.md`` §3, from ``gormanm/mmtests@09b91ce9`` ``bin/run-single-test.sh:43,74``,
``run-mmtests.sh:364-366``)::

    <root>/<name>/mmtests-activity
    <root>/<name>/iter-0/tests-activity
    <root>/<name>/iter-0/tests-timestamp
    <root>/<name>/iter-0/pft/logs/pft-<N>.log      one pft line per iteration
    <root>/<name>/iter-0/pft/logs/commands.log

``compare-mmtests.pl`` needs only the logs; ``compare-kernels.sh`` also reads the activity files
to discover runs and orders them by their "run-mmtests: Start" timestamp.
ASSUMPTION: the exact wording of the activity lines beyond "<ts> run-mmtests: Start" and
"test start :: pft" is modelled on the knowledge file's examples, not checked against
``shellpacks/common.sh``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcplab.errors import PcplabError
from pcplab.report.pft_log import PftLine, format_line, lines_from_client, parse_log

_LOG_NAME = re.compile(r"^pft-(\d+)\.log$")
_START = re.compile(r"^(\d+)\s+run-mmtests:\s+Start\b")


@dataclass(frozen=True)
class TreeRun:
    """One run of a results tree."""

    name: str
    result: dict[str, Any]  # pft result: {"gbyte": .., "clients": [..]} plus what is known
    start: int | None = None  # "run-mmtests: Start" epoch seconds


def _mapping_bytes(result: Mapping[str, Any], entry: Mapping[str, Any]) -> int:
    if result.get("mapping_bytes"):
        return int(result["mapping_bytes"])
    pages = entry.get("pages")
    if pages:
        return int(pages) * int(result.get("page_size") or 4096)
    return int(result.get("gbyte") or 0) << 30


def _write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a killed export leaves no half file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def export_tree(root: str | os.PathLike[str], runs: Sequence[TreeRun]) -> list[Path]:
    """Write ``runs`` (in order; the first is the baseline) as mmtests pft results under root."""
    root = Path(root)
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise PcplabError(f"duplicate run names {names}; export each name once")
    written = []
    prev = None
    for run in runs:
        start = run.start if run.start is not None else 1_700_000_000
        if prev is not None and start <= prev:
            start = prev + 1  # compare-kernels.sh orders runs by this timestamp
        prev = start
        top = root / run.name
        logs = top / "iter-0" / "pft" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        gbyte = int(run.result.get("gbyte") or 0)
        commands = []
        tot = {"user": 0.0, "system": 0.0, "elapsed": 0.0}
        for entry in sorted(run.result["clients"], key=lambda e: int(e["clients"])):
            n = int(entry["clients"])
            switch = "-n" if run.result.get("use_processes") else "-t"
            commands.append(f"./pft -m {_mapping_bytes(run.result, entry)} {switch} {n}\n")
            lines = lines_from_client(gbyte, entry)
            for ln in lines:
                tot["user"] += ln.user
                tot["system"] += ln.system
                tot["elapsed"] += ln.elapsed
            path = logs / f"pft-{n}.log"
            _write(path, "".join(format_line(ln) + "\n" for ln in lines))
            written.append(path)
        _write(logs / "commands.log", "".join(commands))
        end = start + max(1, int(tot["elapsed"]))
        _write(
            top / "mmtests-activity",
            f"{start} run-mmtests: Start\n"
            f"{start} run-mmtests: test start :: pft {start}\n"
            f"{end} run-mmtests: test end :: pft {end}\n"
            f"{end} run-mmtests: End\n",
        )
        _write(
            top / "iter-0" / "tests-activity",
            f"{start} run-mmtests: test start :: pft {start}\n"
            f"{end} run-mmtests: test end :: pft {end}\n",
        )
        _write(
            top / "iter-0" / "tests-timestamp",
            f"time :: pft {tot['user']:.2f} user {tot['system']:.2f} system "
            f"{tot['elapsed']:.2f} elapsed\n",
        )
        written += [logs / "commands.log", top / "mmtests-activity"]
    return written


def _start_time(top: Path) -> int | None:
    act = top / "mmtests-activity"
    if not act.is_file():
        return None
    for line in act.read_text(errors="replace").splitlines():
        m = _START.match(line.strip())
        if m:
            return int(m.group(1))
    return None


def read_run(top: Path) -> TreeRun | None:
    """A run directory's pft samples, pooled over every ``iter-*``; None if it has no pft logs."""
    by_clients: dict[int, list[PftLine]] = {}
    for it in sorted(top.glob("iter-*")):
        logs = it / "pft" / "logs"
        if not logs.is_dir():
            continue
        for path in sorted(logs.iterdir()):
            m = _LOG_NAME.match(path.name)
            if not m:
                continue
            try:
                lines = parse_log(path.read_text(errors="replace").splitlines())
            except PcplabError as exc:
                raise PcplabError(f"{path}: {exc}") from exc
            by_clients.setdefault(int(m.group(1)), []).extend(lines)
    by_clients = {n: v for n, v in by_clients.items() if v}
    if not by_clients:
        return None
    clients = []
    gbyte = 0
    for n in sorted(by_clients):
        lines = by_clients[n]
        gbyte = lines[0].gbyte
        entry: dict[str, Any] = {"clients": n, "pages": None}
        for m in ("user", "system", "elapsed", "faults_per_cpu", "faults_per_sec"):
            entry[m] = [getattr(p, m) for p in lines]
        clients.append(entry)
    return TreeRun(top.name, {"gbyte": gbyte, "clients": clients}, _start_time(top))


def import_tree(root: str | os.PathLike[str]) -> list[TreeRun]:
    """Every pft run under ``root`` (a ``work/log`` directory), in compare-kernels.sh order:
    by "run-mmtests: Start" time, runs without one last, ties by name."""
    root = Path(root)
    if not root.is_dir():
        raise PcplabError(f"{root} is not a directory; point --mmtests at mmtests' work/log")
    runs = [r for r in (read_run(d) for d in sorted(root.iterdir()) if d.is_dir()) if r]
    if not runs:
        # maybe root is a single run directory
        single = read_run(root)
        if single is None:
            raise PcplabError(
                f"no pft results under {root} (expected {root}/<name>/iter-*/pft/logs/pft-<N>.log)"
            )
        runs = [single]
    runs.sort(key=lambda r: (r.start is None, r.start or 0, r.name))
    return runs


def content_hash(result: Mapping[str, Any]) -> str:
    """A short digest of a run's printed samples (identifies an import)."""
    h = hashlib.sha256()
    for entry in result["clients"]:
        for ln in lines_from_client(int(result.get("gbyte") or 0), entry):
            h.update(format_line(ln).encode())
    return h.hexdigest()[:16]
