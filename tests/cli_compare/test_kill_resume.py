"""Kill `pcplab compare` halfway (SIGKILL and SIGINT) and re-run: stored units are reused and the
finished table equals that of an uninterrupted run."""

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from .helpers import pcplab, popen

ARGS = ("compare", "--clients", "1,2", "--iterations", "3", "--quiet", "--no-plots")


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0  # schema not created yet


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupt_then_resume(tmp_path: Path, sig: signal.Signals, jobs: str) -> None:
    reference = pcplab(*ARGS, "--jobs", "1", "--db", str(tmp_path / "ref.db"), cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr

    db = tmp_path / "r.db"
    # 0.25 s per unit (per client count for pft): 9 units take over 3 s
    proc = popen(*ARGS, "--jobs", jobs, "--db", str(db), cwd=tmp_path, delay=0.25)
    deadline = time.monotonic() + 60
    while _rows(db) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "aborted" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    kept = _rows(db)
    assert 3 <= kept < 9
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()

    resumed = pcplab(*ARGS, "--jobs", jobs, "--db", str(db), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{9 - kept} run(s) new, {kept} reused" in resumed.stderr
    assert resumed.stdout == reference.stdout
    assert _rows(db) == 9
