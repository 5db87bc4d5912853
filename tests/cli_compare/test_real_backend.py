"""`pcplab compare` on the real simulator and checker, at a tiny size (rpi4, 2 iterations)."""

import json
from pathlib import Path

import pytest

from .helpers import pcplab

ARGS = ("compare", "--machine", "rpi4", "--designs", "vanilla,rcu", "--clients", "1,2",
        "--iterations", "2", "--duration", "0.005", "--drain-rate", "1000", "--check-bound", "0",
        "--quiet", "--no-plots")


@pytest.mark.slow
def test_real_backend_small(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    res = pcplab(*ARGS, "--format", "json", "--db", db, cwd=tmp_path, fake=False, timeout=300)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["parameters"]["backend"] == "sim"
    assert data["names"] == {"workqueue": "5.17-vanilla", "rcu": "5.17-rcu"}
    timings = data["tables"]["pft timings"].splitlines()
    assert timings[0].split() == ["5.17", "5.17"] and timings[1].split() == ["vanilla", "rcu"]
    assert len(timings) == 2 + 8 * 4  # 8 rows x (system, elapsed) x 2 client counts
    for label in ("vanilla", "rcu"):
        noise = data["noise"][label]
        assert [c["cpu"] for c in noise["cpus"] if c["isolated"]] == [2, 3]
        assert data["check"][label]["bound"] == 0
    again = pcplab(*ARGS, "--db", db, cwd=tmp_path, fake=False, timeout=300)
    assert "0 run(s) new, 6 reused" in again.stderr
    assert again.stdout.startswith("pcplab ") and "NOTE: backend" not in again.stdout


def test_unknown_design_fails_before_running(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    res = pcplab("compare", "--designs", "vanilla,nope", "--quiet", "--db", str(db),
                 cwd=tmp_path, fake=False)
    assert res.returncode == 2 and "unknown design 'nope'" in res.stderr
    # nothing ran, so no database was even created (and `runs list` does not create one)
    listed = pcplab("runs", "list", "--db", str(db), cwd=tmp_path)
    assert listed.returncode == 2 and "no results database" in listed.stderr
    assert not db.exists()


@pytest.mark.slow
def test_violation_exits_1(tmp_path: Path) -> None:
    res = pcplab("compare", "--machine", "rpi4", "--designs", "rcu,rcu-no-grace-period",
                 "--clients", "1", "--iterations", "2", "--duration", "0.005", "--drain-rate",
                 "1000", "--quiet", "--no-plots", "--db", str(tmp_path / "r.db"), cwd=tmp_path,
                 fake=False, timeout=300)
    assert res.returncode == 1, res.stderr
    verdicts = res.stdout.split("checker (")[1].splitlines()
    assert verdicts[2].split()[:2] == ["rcu", "ok"]
    assert verdicts[3].split()[:2] == ["rcu-no-grace-period", "VIOLATION"]
