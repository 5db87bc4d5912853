"""`pcplab sweep`: local processes and a Dask LocalCluster store exactly what a serial sweep
stores and print the same bytes; a killed sweep resumes; bad input is refused before any work."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from tests.cli_compare.helpers import pcplab, popen

FAKE = ("sweep", "--machines", "rpi4,xeon-e5-2640v3", "--designs", "workqueue,spinlock",
        "--seeds", "1,2", "--clients", "1,2", "--iterations", "3", "--quiet")
# the real simulator, as small as it goes: 2 comparisons x (2 pft + 2 noise) + 2 shared verdicts
REAL = ("sweep", "--machines", "rpi4", "--designs", "workqueue,spinlock", "--seeds", "1,2",
        "--clients", "1", "--iterations", "1", "--duration", "0.005", "--check-bound", "0",
        "--quiet")


def stored(db: Path) -> list[tuple[Any, ...]]:
    """Every stored run in id order, without its provenance and the checker's wall-clock
    figures."""
    from pcplab.cli.options import strip_timing
    from pcplab.store.db import Store

    with Store(str(db), create=False) as s:
        return [(r.id, r.run_key, r.workload, r.machine, r.design, r.seed,
                 strip_timing({k: v for k, v in r.result.items() if k != "provenance"})) for r in s.runs()]


def test_processes_equal_serial_and_shared_units_run_once(tmp_path: Path) -> None:
    serial = pcplab(*FAKE, "--jobs", "1", "--db", str(tmp_path / "a.db"), cwd=tmp_path)
    par = pcplab(*FAKE, "--jobs", "2", "--db", str(tmp_path / "b.db"), cwd=tmp_path)
    assert serial.returncode == 0 and par.returncode == 0, serial.stderr + par.stderr
    assert par.stdout == serial.stdout
    assert stored(tmp_path / "b.db") == stored(tmp_path / "a.db")
    # 4 comparisons x (2 pft + 2 noise) + the 2 checker verdicts every comparison shares
    assert "4 comparison(s), 18 run(s) new, 0 reused" in par.stderr
    assert serial.stdout.count("pcplab 0.1.0 compare: machine ") == 4
    again = pcplab(*FAKE, "--db", str(tmp_path / "b.db"), cwd=tmp_path)
    assert "0 run(s) new, 18 reused" in again.stderr and again.stdout == serial.stdout


def _rows(db: Path) -> int:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def test_killed_sweep_resumes(tmp_path: Path) -> None:
    reference = pcplab(*FAKE, "--jobs", "1", "--db", str(tmp_path / "ref.db"), cwd=tmp_path)
    db = tmp_path / "r.db"
    proc = popen(*FAKE, "--jobs", "2", "--db", str(db), cwd=tmp_path, delay=0.2)
    deadline = time.monotonic() + 60
    while (not db.exists() or _rows(db) < 4) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    kept = _rows(db)
    assert 4 <= kept < 18
    resumed = pcplab(*FAKE, "--jobs", "2", "--db", str(db), cwd=tmp_path)
    assert f"{18 - kept} run(s) new, {kept} reused" in resumed.stderr, resumed.stderr
    assert resumed.stdout == reference.stdout


def test_dask_local_cluster_stores_what_the_serial_run_stores(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    serial = pcplab(*REAL, "--jobs", "1", "--db", str(tmp_path / "serial.db"), cwd=tmp_path,
                    fake=False)
    assert serial.returncode == 0, serial.stderr
    # the workers are threads of this process (processes=False): small, quick to start
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", scheduler_port=0,
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        on_dask = pcplab(*REAL, "--scheduler", cluster.scheduler_address,
                         "--db", str(tmp_path / "dask.db"), cwd=tmp_path, fake=False)
    assert on_dask.returncode == 0, on_dask.stderr
    assert "2 comparison(s), 10 run(s) new" in on_dask.stderr
    assert stored(tmp_path / "dask.db") == stored(tmp_path / "serial.db")
    assert on_dask.stdout == serial.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--seeds", "1,1"), "--seeds '1,1' names a seed twice"),
    (("--seeds", "1,x"), "--seeds"),
    (("--machines", "rpi4,"), "--machines 'rpi4,' has an empty entry"),
    (("--machines", "rpi4,nope"), "unknown machine 'nope'"),
    (("--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"), "not both"),
    (("--jobs", "0"), "--jobs"),
    (("--machines", "rpi4", "--clients", "9"), "--clients"),
])
def test_bad_input_is_one_line_before_any_work(tmp_path: Path, args: tuple[str, ...],
                                               message: str) -> None:
    res = pcplab("sweep", *args, "--db", str(tmp_path / "x.db"), cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.startswith("pcplab: error: ") and res.stderr.count("\n") == 1, res.stderr
    assert message in res.stderr
    assert not (tmp_path / "x.db").exists()
