"""The results database: one SQLite file, one row per run.

Writes are single transactions (``BEGIN IMMEDIATE`` ... ``COMMIT``) in WAL mode with a busy
timeout, so a killed writer leaves earlier rows intact and no partial row, and two writer processes
queue instead of corrupting the file.  A run's *key* hashes everything that determines its result
(machine, design, workload, parameters, seed, and :func:`model_version`: pcplab's version plus a
hash of the model's source) so callers reuse a stored result only with the code that produced it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pcplab import __version__
from pcplab.errors import PcplabError

ENV_DB = "PCPLAB_DB"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_key TEXT NOT NULL UNIQUE,
    machine TEXT NOT NULL,
    design TEXT NOT NULL,
    workload TEXT NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER,
    pcplab_version TEXT NOT NULL,
    kernel TEXT,
    samples TEXT NOT NULL,
    metrics TEXT NOT NULL,
    source TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_what ON runs (workload, machine, design);
"""


def default_db_path() -> Path:
    """``$PCPLAB_DB`` if set, else ``results.sqlite`` in the user data directory."""
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("pcplab", appauthor=False)) / "results.sqlite"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


#: the packages whose code decides a simulated or checked result
_MODEL_PACKAGES = ("mm", "kernel", "designs", "sim", "workloads", "machines", "check")


@functools.cache
def model_version() -> str:
    """``<pcplab version>+<12 hex digits>``: the digits hash the model's source files, so a change
    to the model without a version bump does not reuse results the old code produced."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for pkg in _MODEL_PACKAGES:
        for path in sorted((root / pkg).rglob("*")):
            if path.suffix in (".py", ".toml") and path.is_file():
                h.update(path.relative_to(root).as_posix().encode())
                h.update(path.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


def run_key(
    machine: str,
    design: str,
    workload: str,
    params: Mapping[str, Any],
    seed: int | None,
    version: str | None = None,
) -> str:
    """sha256 over the canonical JSON of what determines a run's result."""
    version = version or model_version()
    blob = canonical_json([machine, design, workload, dict(params), seed, version])
    return hashlib.sha256(blob.encode()).hexdigest()


def split_result(workload: str, result: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(samples, metrics) of a result; :func:`join_result` undoes it."""
    res = dict(result)
    if workload == "pft":
        return res.pop("clients", []), res
    if workload == "noise":
        lat = dict(res.get("drain_latency_ns") or {})
        samples = lat.pop("samples", [])
        res["drain_latency_ns"] = lat
        return samples, res
    return [], res


def join_result(workload: str, samples: Any, metrics: Mapping[str, Any]) -> dict[str, Any]:
    res = dict(metrics)
    if workload == "pft":
        res["clients"] = samples
    elif workload == "noise":
        lat = dict(res.get("drain_latency_ns") or {})
        lat["samples"] = samples
        res["drain_latency_ns"] = lat
    return res


@dataclass(frozen=True)
class Run:
    id: int
    run_key: str
    machine: str
    design: str
    workload: str
    params: dict[str, Any]
    seed: int | None
    pcplab_version: str
    kernel: str | None
    samples: Any
    metrics: dict[str, Any]
    source: str
    created: str

    @property
    def result(self) -> dict[str, Any]:
        return join_result(self.workload, self.samples, self.metrics)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_key": self.run_key,
            "machine": self.machine,
            "design": self.design,
            "workload": self.workload,
            "params": self.params,
            "seed": self.seed,
            "pcplab_version": self.pcplab_version,
            "kernel": self.kernel,
            "source": self.source,
            "created": self.created,
            "result": self.result,
        }


_COLUMNS = (
    "id, run_key, machine, design, workload, params, seed, pcplab_version, kernel, samples, "
    "metrics, source, created"
)


def _row_to_run(row: tuple[Any, ...]) -> Run:
    (id_, key, machine, design, workload, params, seed, ver, kernel, samples, metrics, source,
     created) = row
    return Run(id_, key, machine, design, workload, json.loads(params), seed, ver, kernel,
               json.loads(samples), json.loads(metrics), source, created)


class Store:
    """A results database.  Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are explicit BEGIN IMMEDIATE ... COMMIT
            self._con = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            self._con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA synchronous = NORMAL")
            with self._transaction() as cur:
                for stmt in filter(str.strip, _SCHEMA.split(";")):
                    cur.execute(stmt)
                cur.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except sqlite3.DatabaseError as exc:
            raise PcplabError(
                f"cannot open results database {self.path}: {exc}; choose another with --db"
            ) from exc
        got = self._con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if got is None or int(got[0]) != SCHEMA_VERSION:
            raise PcplabError(
                f"results database {self.path} has schema {got and got[0]}, expected "
                f"{SCHEMA_VERSION}; use a new file with --db"
            )

    # -- plumbing ---------------------------------------------------------------------------
    class _Tx:
        def __init__(self, con: sqlite3.Connection) -> None:
            self.con = con

        def __enter__(self) -> sqlite3.Cursor:
            self.cur = self.con.cursor()
            self.cur.execute("BEGIN IMMEDIATE")
            return self.cur

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            if exc_type is None:
                self.cur.execute("COMMIT")
            else:
                self.cur.execute("ROLLBACK")

    def _transaction(self) -> Store._Tx:
        return Store._Tx(self._con)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- API --------------------------------------------------------------------------------
    def save(
        self,
        *,
        machine: str,
        design: str,
        workload: str,
        params: Mapping[str, Any],
        seed: int | None,
        result: Mapping[str, Any],
        kernel: str | None = None,
        source: str = "pcplab",
        version: str | None = None,
        key: str | None = None,
        replace: bool = False,
    ) -> int:
        """Store one run (one transaction) and return its id.

        An existing row with the same key is kept (and its id returned) unless ``replace``, which
        swaps it for the new result in the same transaction.
        """
        version = version or model_version()
        key = key or run_key(machine, design, workload, params, seed, version)
        samples, metrics = split_result(workload, result)
        created = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            with self._transaction() as cur:
                verb = "REPLACE" if replace else "IGNORE"
                cur.execute(
                    f"INSERT OR {verb} INTO runs ({_COLUMNS.partition(', ')[2]}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, machine, design, workload, canonical_json(dict(params)), seed, version,
                     kernel, canonical_json(samples), canonical_json(metrics), source, created),
                )
                row = cur.execute("SELECT id FROM runs WHERE run_key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise PcplabError(f"cannot write results database {self.path}: {exc}") from exc
        return int(row[0])

    def delete_key(self, key: str) -> None:
        """Forget the run stored under ``key`` (used before saving a fresh result)."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM runs WHERE run_key = ?", (key,))

    def find(self, key: str) -> Run | None:
        row = self._con.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_key = ?", (key,)).fetchone()
        return _row_to_run(row) if row else None

    def get(self, run_id: int) -> Run:
        row = self._con.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise PcplabError(f"no run with id {run_id} in {self.path}; see 'pcplab runs list'")
        return _row_to_run(row)

    def runs(self, ids: Sequence[int] | None = None, workload: str | None = None) -> list[Run]:
        if ids:
            return [self.get(i) for i in ids]
        sql = f"SELECT {_COLUMNS} FROM runs"
        args: tuple[Any, ...] = ()
        if workload:
            sql += " WHERE workload = ?"
            args = (workload,)
        return [_row_to_run(r) for r in self._con.execute(sql + " ORDER BY id", args)]

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def count(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
