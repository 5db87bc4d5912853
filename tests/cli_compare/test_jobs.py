"""`pcplab compare --jobs`: worker processes print the bytes of the serial run (text and JSON,
run ids included) and store the same rows; a design given as a file loads in the workers too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .helpers import pcplab

# the real simulator on the smallest machine, as little work as it takes to exercise every unit
TINY = ("compare", "--machine", "rpi4", "--clients", "1", "--iterations", "1",
        "--duration", "0.005", "--check-bound", "0", "--no-plots", "--quiet")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "designs" / "nohz_bypass.py"


def stored(db: Path) -> list[tuple[Any, ...]]:
    from pcplab.cli.options import strip_timing
    from pcplab.store.db import Store

    with Store(str(db), create=False) as s:
        return [(r.id, r.run_key, r.workload, r.design, r.seed,
                 strip_timing({k: v for k, v in r.result.items() if k != "provenance"})) for r in s.runs()]


def test_jobs_2_prints_and_stores_what_jobs_1_does(tmp_path: Path) -> None:
    designs = ("--designs", f"workqueue,spinlock,{EXAMPLE}")
    out = {}
    for jobs in ("1", "2"):
        for fmt in ("text", "json"):
            db = tmp_path / f"{jobs}-{fmt}.db"
            res = pcplab(*TINY, *designs, "--format", fmt, "--jobs", jobs, "--db", str(db),
                         cwd=tmp_path, fake=False)
            assert res.returncode == 0, res.stderr
            assert "9 run(s) new, 0 reused" in res.stderr
            out[jobs, fmt] = res.stdout
    assert out["2", "text"] == out["1", "text"]
    assert out["2", "json"] == out["1", "json"]
    assert "nohz_bypass" in out["1", "text"]
    assert stored(tmp_path / "2-text.db") == stored(tmp_path / "1-text.db")


def test_bad_jobs_is_refused(tmp_path: Path) -> None:
    res = pcplab("compare", "--jobs", "0", "--db", str(tmp_path / "x.db"), cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("pcplab: error: ") and "--jobs" in res.stderr
    assert not (tmp_path / "x.db").exists()
