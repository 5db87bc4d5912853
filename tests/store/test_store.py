"""The results database: keys, reuse, atomic writes, concurrent writers, killed writers."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pcplab.errors import PcplabError
from pcplab.store.db import Store, default_db_path, run_key

PFT = {"machine": "m", "design": "rcu", "kernel": "5.17", "seed": 1, "gbyte": 1,
       "clients": [{"clients": 1, "pages": 10, "user": [0.1], "system": [1.0], "elapsed": [1.1],
                    "faults_per_cpu": [9.0], "faults_per_sec": [9.1]}]}
NOISE = {"machine": "m", "design": "rcu", "cpus": [],
         "drain_latency_ns": {"min": 1, "mean": 2, "p99": 3, "max": 4, "samples": [1, 2, 4]}}


def _save(store: Store, **over: object) -> int:
    kw: dict = dict(machine="m", design="rcu", workload="pft", params={"clients": [1]}, seed=1,
                    result=PFT, kernel="5.17")
    kw.update(over)
    return store.save(**kw)


def test_save_roundtrip_and_columns(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as s:
        i = _save(s)
        run = s.get(i)
        assert run.result == PFT
        assert (run.machine, run.design, run.workload, run.seed, run.kernel) == (
            "m", "rcu", "pft", 1, "5.17")
        assert run.params == {"clients": [1]} and run.pcplab_version
        assert run.samples == PFT["clients"]  # samples stored apart from the metrics
        assert "clients" not in run.metrics and run.created.endswith("Z")
        j = _save(s, workload="noise", result=NOISE)
        assert s.get(j).result == NOISE and s.get(j).samples == [1, 2, 4]


def test_key_identifies_parameters(tmp_path: Path) -> None:
    k = run_key("m", "rcu", "pft", {"a": 1, "b": 2}, 1)
    assert k == run_key("m", "rcu", "pft", {"b": 2, "a": 1}, 1)  # order-independent
    assert k != run_key("m", "rcu", "pft", {"a": 1, "b": 2}, 2)
    assert k != run_key("m", "rcu", "pft", {"a": 1, "b": 2}, 1, version="9.9")
    with Store(tmp_path / "r.db") as s:
        i = _save(s)
        assert _save(s) == i and s.count() == 1  # same key: reused, not duplicated
        assert s.find(run_key("m", "rcu", "pft", {"clients": [1]}, 1)).id == i
        j = _save(s, result={**PFT, "gbyte": 2}, replace=True)
        assert s.count() == 1 and s.get(j).result["gbyte"] == 2


def test_missing_run_and_bad_file(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as s, pytest.raises(PcplabError, match="no run with id 7"):
        s.get(7)
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(PcplabError, match="cannot open results database"):
        Store(bad)


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PCPLAB_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
    monkeypatch.delenv("PCPLAB_DB")
    assert default_db_path().name == "results.sqlite" and "pcplab" in str(default_db_path())


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as s:
        _save(s)
        with pytest.raises(ZeroDivisionError), s._transaction() as cur:
            cur.execute("INSERT INTO runs (run_key, machine, design, workload, params, seed, "
                        "pcplab_version, kernel, samples, metrics, source, created) VALUES "
                        "('x','m','d','w','{}',1,'v',NULL,'[]','{}','t','c')")
            1 / 0  # noqa: B018
        assert s.count() == 1


WRITER = textwrap.dedent("""
    import sys, time
    from pcplab.store.db import Store
    s = Store(sys.argv[1])
    tag, n = sys.argv[2], int(sys.argv[3])
    for i in range(n):
        s.save(machine="m", design=tag, workload="check", params={"i": i}, seed=i,
               result={"design": tag, "violation": None, "executions": i})
        print(i, flush=True)
    if len(sys.argv) > 4:   # then hang inside an open transaction until killed
        with s._transaction() as cur:
            cur.execute("INSERT INTO runs (run_key, machine, design, workload, params, seed, "
                        "pcplab_version, kernel, samples, metrics, source, created) VALUES "
                        "('partial','m','d','w','{}',1,'v',NULL,'[]','{}','t','c')")
            print("inside", flush=True)
            time.sleep(60)
""")


def _writer(db: Path, tag: str, n: int, hang: bool = False) -> subprocess.Popen[str]:
    args = [sys.executable, "-c", WRITER, str(db), tag, str(n)] + (["hang"] if hang else [])
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


def test_two_writer_processes(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    Store(db).close()
    procs = [_writer(db, "a", 40), _writer(db, "b", 40)]
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 80
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_killed_writer_keeps_earlier_rows_and_no_partial_row(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    p = _writer(db, "a", 5, hang=True)
    assert p.stdout is not None
    deadline = time.monotonic() + 60
    for line in p.stdout:
        if line.strip() == "inside" or time.monotonic() > deadline:
            break
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    with Store(db) as s:  # the killed writer's lock is gone; the store opens and writes
        assert s.count() == 5
        assert s.find("partial") is None
        assert all(json.dumps(r.result) for r in s.runs())
        _save(s)
        assert s.count() == 6
