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

Importing real trees (what a killed or archived run leaves behind):

* a log whose last line has no newline was cut off (pft ends every line with one): that line is
  left out with a warning, even if it happens to parse (a line cut inside its last number
  would otherwise give a wrong sample).  mmtests' ExtractPft would read it as it is.  A bad line
  anywhere else is an error.
* ``pft-<N>.log.gz`` is read like ``pft-<N>.log`` (a truncated gzip stream: what decompresses,
  with a warning); both for the same N in one ``iter-*`` is an error.
* a client count that some runs (or some ``iter-*`` of a run) have and others lack, or a log with
  no pft line, is named in a warning: the tables compare only the counts every run has.  So are
  client counts of one run with fewer samples than its largest (a run killed part-way).
* :func:`store_tree` stores all runs or none: names and results are checked before the first
  save, and runs saved by a failing import are removed again.
ASSUMPTION: the exact wording of the activity lines beyond "<ts> run-mmtests: Start" and
"test start :: pft" is modelled on the knowledge file's examples, not checked against
``shellpacks/common.sh``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcplab.errors import PcplabError
from pcplab.report.pft_log import PftLine, format_line, lines_from_client, parse_log
from pcplab.safe_write import write_output

_LOG_NAME = re.compile(r"^pft-(\d+)\.log(\.gz)?$")
Warn = Callable[[str], None]
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
    """Atomically (a killed export leaves no half file), never over a symlink or directory
    (:mod:`pcplab.safe_write`)."""
    write_output(path, text, "mmtests log")


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


def _read_text(path: Path, warn: Warn) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except EOFError:
            # a gzip cut off mid-stream: keep what decompresses (its last line is cut too)
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
            warn(f"{path}: compressed stream ends early; reading what it holds")
        except (OSError, zlib.error) as exc:
            raise PcplabError(f"{path} is not a readable gzip file ({exc}); remove or "
                              "re-compress it") from exc
    return data.decode("utf-8", errors="replace")


def _log_lines(path: Path, warn: Warn) -> list[PftLine]:
    text = _read_text(path, warn)
    lines = text.split("\n")
    if lines and lines[-1].strip():
        # no newline after the last line: pft was killed while writing it
        warn(f"{path}: last line is cut off (no newline), left out: {lines[-1].strip()!r}")
    body = lines[:-1]  # everything before the last newline (the tail after it is "" or cut off)
    try:
        return parse_log(body)
    except PcplabError as exc:
        raise PcplabError(f"{path}: {exc}") from exc


def read_run(top: Path, warn: Warn | None = None) -> TreeRun | None:
    """A run directory's pft samples, pooled over every ``iter-*``; None if it has no pft logs.

    ``warn`` receives one line per problem the import goes on past (module docstring)."""
    say: Warn = warn or (lambda _msg: None)
    by_clients: dict[int, list[PftLine]] = {}
    seen_in: dict[int, list[str]] = {}
    iters = []
    for it in sorted(top.glob("iter-*")):
        logs = it / "pft" / "logs"
        if not logs.is_dir():
            continue
        iters.append(it.name)
        found: dict[int, Path] = {}
        for path in sorted(logs.iterdir()):
            m = _LOG_NAME.match(path.name)
            if not m:
                continue
            n = int(m.group(1))
            if n in found:
                raise PcplabError(f"{logs} has both {found[n].name} and {path.name}; keep one")
            found[n] = path
        for n, path in sorted(found.items()):
            lines = _log_lines(path, say)
            if not lines:
                say(f"{path}: no pft result line; {n} clients has no sample from {it.name}")
                continue
            by_clients.setdefault(n, []).extend(lines)
            seen_in.setdefault(n, []).append(it.name)
    by_clients = {n: v for n, v in by_clients.items() if v}
    if not by_clients:
        return None
    for n in sorted(by_clients):
        lacking = [i for i in iters if i not in seen_in[n]]
        if lacking:
            say(f"{top.name}: {n} clients has no samples in {', '.join(lacking)} "
                f"(only {', '.join(seen_in[n])})")
    sizes = {n: len(v) for n, v in by_clients.items()}
    most = max(sizes.values())
    short = [f"{n} clients {k}" for n, k in sorted(sizes.items()) if k < most]
    if short:
        # a killed run: its last client count stopped early
        say(f"{top.name}: sample counts differ ({', '.join(short)} of {most})")
    clients = []
    gbyte = 0
    for n in sorted(by_clients):
        lines = by_clients[n]
        gbyte = lines[0].gbyte
        entry: dict[str, Any] = {"clients": n, "pages": None}
        for metric in ("user", "system", "elapsed", "faults_per_cpu", "faults_per_sec"):
            entry[metric] = [getattr(p, metric) for p in lines]
        clients.append(entry)
    return TreeRun(top.name, {"gbyte": gbyte, "clients": clients}, _start_time(top))


def _check_name(path: Path) -> None:
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path.name).decode("ascii", errors="backslashreplace")
        raise PcplabError(f"run directory name {shown!r} in {path.parent} is not valid UTF-8; "
                          "rename it (nothing was imported)") from None


def import_tree(root: str | os.PathLike[str], warn: Warn | None = None) -> list[TreeRun]:
    """Every pft run under ``root`` (a ``work/log`` directory), in compare-kernels.sh order:
    by "run-mmtests: Start" time, runs without one last, ties by name.  Everything is read (and
    every name checked) before anything is returned; ``warn`` gets the problems gone on past."""
    say: Warn = warn or (lambda _msg: None)
    root = Path(root)
    if not root.is_dir():
        raise PcplabError(f"{root} is not a directory; point --mmtests at mmtests' work/log")
    dirs = [d for d in sorted(root.iterdir()) if d.is_dir()]
    runs = []
    for d in dirs:
        r = read_run(d, say)
        if r is not None:
            _check_name(d)
            runs.append(r)
    if not runs:
        # maybe root is a single run directory
        single = read_run(root, say)
        if single is None:
            raise PcplabError(
                f"no pft results under {root} (expected {root}/<name>/iter-*/pft/logs/pft-<N>.log)"
            )
        _check_name(root.resolve())
        runs = [single]
    runs.sort(key=lambda r: (r.start is None, r.start or 0, r.name))
    counts = {r.name: {int(e["clients"]) for e in r.result["clients"]} for r in runs}
    every = set.union(*counts.values())
    for n in sorted(every):
        lacking = [name for name, have in counts.items() if n not in have]
        if lacking:
            say(f"{n} clients is missing from {', '.join(lacking)}; the tables compare only the "
                "client counts every run has")
    return runs


def store_tree(store: Any, runs: Sequence[TreeRun], machine: str) -> list[tuple[str, int]]:
    """Store every run of an imported tree, or none: ``[(name, run id)]`` in order.

    Runs already stored (same name and samples) keep their id.  If a save fails, the runs this
    call added are deleted again before the error propagates.
    ASSUMPTION: a crash (not an exception) between two saves can still leave the first ones; a
    single transaction for all of them needs a multi-run save in ``pcplab.store``."""
    from pcplab.report.mmtests_table import split_name
    from pcplab.report.naming import design_from_label
    from pcplab.store.db import canonical_json, run_key

    planned = []
    for tr in runs:
        # the kernel is what mmtests shows on the first header line (so "6.8-rc3-vanilla" is
        # kernel 6.8-rc3, variant vanilla); a name without '-' is all variant
        dash = "-" in tr.name
        kernel, variant = split_name(tr.name) if dash else ("", tr.name)
        design = design_from_label(variant) if variant else tr.name
        params = {"mmtests_name": tr.name, "content": content_hash(tr.result)}
        result = dict(tr.result, kernel=kernel or None, machine=machine, design=design)
        canonical_json(result)  # fails here, before any save, if it cannot be stored
        key = run_key(machine, design, "pft", params, None)
        planned.append((tr.name, design, params, result, kernel or None, key))
    added: list[str] = []
    out = []
    try:
        for name, design, params, result, run_kernel, key in planned:
            existed = store.find(key) is not None
            run_id = store.save(machine=machine, design=design, workload="pft", params=params,
                                seed=None, result=result, kernel=run_kernel, source="mmtests",
                                key=key)
            if not existed:
                added.append(key)
            out.append((name, run_id))
    except BaseException:
        for key in added:
            store.delete_key(key)
        raise
    return out


def content_hash(result: Mapping[str, Any]) -> str:
    """A short digest of a run's printed samples (identifies an import)."""
    h = hashlib.sha256()
    for entry in result["clients"]:
        for ln in lines_from_client(int(result.get("gbyte") or 0), entry):
            h.update(format_line(ln).encode())
    return h.hexdigest()[:16]
