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

from pcplab._version import __version__
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


#: seeds are unsigned 64-bit; SQLite integers are signed 64-bit, so a seed >= 2^63 is stored as
#: its two's-complement value (seed - 2^64) and mapped back on reading
_SEED_SPAN = 2**64
SEED_MAX = _SEED_SPAN - 1


def _seed_to_sql(seed: int | None) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise PcplabError(f"seed {seed!r:.40} is outside 0..2^64-1; give a seed in that range")
    return seed - _SEED_SPAN if seed >= 2**63 else seed


def _seed_from_sql(value: Any) -> int | None:
    if value is None:
        return None
    return value + _SEED_SPAN if value < 0 else value


class DamagedRow(PcplabError):
    """A stored row that cannot be read back (edited or damaged file)."""


def _json_col(row_id: Any, column: str, text: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(text, str):
        raise DamagedRow(f"run {row_id}: column {column} is not text")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise DamagedRow(f"run {row_id}: column {column} is not valid JSON") from None
    if not isinstance(value, kind):
        raise DamagedRow(f"run {row_id}: column {column} holds the wrong kind of JSON value")
    return value


def _row_to_run(row: tuple[Any, ...]) -> Run:
    (id_, key, machine, design, workload, params, seed, ver, kernel, samples, metrics, source,
     created) = row
    if not isinstance(id_, int):
        raise DamagedRow(f"a run has id {id_!r:.40}, not an integer")
    for col, val in (("run_key", key), ("machine", machine), ("design", design),
                     ("workload", workload), ("pcplab_version", ver), ("source", source),
                     ("created", created)):  # fmt: skip
        if not isinstance(val, str):
            raise DamagedRow(f"run {id_}: column {col} is not text")
    if kernel is not None and not isinstance(kernel, str):
        raise DamagedRow(f"run {id_}: column kernel is not text")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise DamagedRow(f"run {id_}: column seed is not an integer")
    return Run(id_, key, machine, design, workload, _json_col(id_, "params", params, dict),
               _seed_from_sql(seed), ver, kernel, _json_col(id_, "samples", samples, (list, dict)),
               _json_col(id_, "metrics", metrics, dict), source, created)


def _damaged(path: Path, exc: BaseException) -> PcplabError:
    if isinstance(exc, DamagedRow):
        return PcplabError(f"results database {path}: {exc}; the file was edited or damaged")
    return PcplabError(
        f"cannot read results database {path}: {exc}; the file is damaged or not a pcplab "
        "database (choose another with --db)"
    )


class Store:
    """A results database.  Use as a context manager or call :meth:`close`."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, create: bool = True, missing: str = ""
    ) -> None:
        """Open (with ``create``, create if absent) the database at ``path``.

        ``create=False`` is for commands that only read: a missing file is a PcplabError
        (prefixed by ``missing``) and no file is created, so ``--db typo.db`` makes nothing."""
        self.path = Path(path) if path is not None else default_db_path()
        self._con: sqlite3.Connection | None = None
        name = os.fspath(self.path)
        if not name or name in (".", "..") or "\0" in name:
            raise PcplabError(f"results database name {name!r} is not a file name; fix --db")
        try:
            if self.path.is_dir():
                raise PcplabError(f"results database {self.path} is a directory; give a file")
            exists = self.path.exists()
            if not exists and not create:
                lead = f"{missing}: " if missing else ""
                raise PcplabError(
                    f"{lead}no results database at {self.path} (nothing stored there yet); "
                    "check --db or $PCPLAB_DB, or store runs with 'pcplab compare'"
                )
            if exists and not self.path.is_file():
                raise PcplabError(f"results database {self.path} is not a regular file")
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are explicit BEGIN IMMEDIATE ... COMMIT
            self._con = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            self._con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA synchronous = NORMAL")
            if create:
                with self._transaction() as cur:
                    for stmt in filter(str.strip, _SCHEMA.split(";")):
                        cur.execute(stmt)
                    cur.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
            got = self._con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except PcplabError:
            self.close()
            raise
        except (sqlite3.Error, OSError, UnicodeError) as exc:
            self.close()
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise PcplabError(
                f"cannot open results database {self.path}: {why}; choose another with --db"
            ) from None
        if got is None or str(got[0]).strip() != str(SCHEMA_VERSION):
            self.close()
            shown = "none" if got is None else repr(str(got[0])[:20])
            raise PcplabError(
                f"results database {self.path} has schema {shown}, expected "
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
        assert self._con is not None
        return Store._Tx(self._con)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read, with a damaged file or row as one PcplabError."""
        assert self._con is not None
        try:
            return self._con.execute(sql, args).fetchall()
        except (sqlite3.Error, OverflowError, UnicodeError) as exc:
            raise _damaged(self.path, exc) from None

    def _runs_of(self, rows: list[tuple[Any, ...]]) -> list[Run]:
        try:
            return [_row_to_run(r) for r in rows]
        except (DamagedRow, ValueError, TypeError) as exc:
            raise _damaged(self.path, exc) from None

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
        sql_seed = _seed_to_sql(seed)
        key = key or run_key(machine, design, workload, params, seed, version)
        samples, metrics = split_result(workload, result)
        created = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            with self._transaction() as cur:
                verb = "REPLACE" if replace else "IGNORE"
                cur.execute(
                    f"INSERT OR {verb} INTO runs ({_COLUMNS.partition(', ')[2]}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, machine, design, workload, canonical_json(dict(params)), sql_seed, version,
                     kernel, canonical_json(samples), canonical_json(metrics), source, created),
                )
                row = cur.execute("SELECT id FROM runs WHERE run_key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise PcplabError(f"cannot write results database {self.path}: {exc}") from None
        return int(row[0])

    def delete_key(self, key: str) -> None:
        """Forget the run stored under ``key`` (used before saving a fresh result)."""
        with self._transaction() as cur:
            cur.execute("DELETE FROM runs WHERE run_key = ?", (key,))

    def find(self, key: str) -> Run | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM runs WHERE run_key = ?", (key,))
        return self._runs_of(rows[:1])[0] if rows else None

    def get(self, run_id: int) -> Run:
        if isinstance(run_id, bool) or not isinstance(run_id, int) or not 0 < run_id < 2**63:
            raise PcplabError(f"run id {run_id!r:.40} is not a stored run id (1..2^63-1)")
        rows = self._query(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise PcplabError(f"no run with id {run_id} in {self.path}; see 'pcplab runs list'")
        return self._runs_of(rows[:1])[0]

    def runs(self, ids: Sequence[int] | None = None, workload: str | None = None) -> list[Run]:
        if ids:
            return [self.get(i) for i in ids]
        sql = f"SELECT {_COLUMNS} FROM runs"
        args: tuple[Any, ...] = ()
        if workload:
            sql += " WHERE workload = ?"
            args = (workload,)
        return self._runs_of(self._query(sql + " ORDER BY id", args))

    def workloads(self) -> list[str]:
        """The distinct workloads stored."""
        return sorted(str(r[0]) for r in self._query("SELECT DISTINCT workload FROM runs"))

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM runs")[0][0])
