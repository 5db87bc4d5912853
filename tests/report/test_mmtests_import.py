"""Importing real mmtests pft trees: a killed run's cut-off line, gzipped logs, missing client
counts, bad names, and all-or-nothing storing."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from pcplab.errors import PcplabError
from pcplab.report.mmtests_dir import import_tree, store_tree
from pcplab.report.pft_log import as_mmtests_sees
from pcplab.report.pft_tables import pft_tables
from pcplab.store.db import Store

from .worked_example import RCU_LOG, VANILLA_LOG


def _logs(root: Path, name: str, it: int = 0) -> Path:
    d = root / name / f"iter-{it}" / "pft" / "logs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _tree(root: Path) -> None:
    """Two runs in pft's real log format; vanilla's pft-4.log cut mid-line (killed), rcu's
    pft-4.log gzipped."""
    v = _logs(root, "6.8-vanilla")
    cut = VANILLA_LOG + VANILLA_LOG.splitlines()[0][:40]  # a sixth line, cut off, no newline
    (v / "pft-4.log").write_text(cut)
    (v / "pft-1.log").write_text(VANILLA_LOG.replace("   4   1", "   1   1"))
    r = _logs(root, "6.8-rcu")
    (r / "pft-4.log.gz").write_bytes(gzip.compress(RCU_LOG.encode(), mtime=0))
    (r / "pft-1.log").write_text(RCU_LOG.replace("   4   1", "   1   1"))
    (root / "6.8-vanilla" / "mmtests-activity").write_text("100 run-mmtests: Start\n")
    (root / "6.8-rcu" / "mmtests-activity").write_text("200 run-mmtests: Start\n")


def test_truncated_and_gzipped_logs_give_every_client_count(tmp_path: Path) -> None:
    _tree(tmp_path)
    warnings: list[str] = []
    runs = import_tree(tmp_path, warnings.append)
    assert [r.name for r in runs] == ["6.8-vanilla", "6.8-rcu"]
    for r in runs:
        assert [(e["clients"], len(e["elapsed"])) for e in r.result["clients"]] == [(1, 5), (4, 5)]
    tables = pft_tables([(r.name, as_mmtests_sees(r.result)) for r in runs])
    assert "elapsed-1" in tables["pft timings"] and "elapsed-4" in tables["pft timings"]
    # the worked example's starred row survives: the cut line was left out, not misread
    assert "Amean     elapsed-4        2.71 (   0.00%)        2.95 *  -8.78%*" in \
        tables["pft timings"]
    assert len(warnings) == 1 and "cut off" in warnings[0] and "pft-4.log" in warnings[0]


def test_missing_client_count_is_named(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "6.8-rcu" / "iter-0" / "pft" / "logs" / "pft-1.log").unlink()
    extra = _logs(tmp_path, "6.8-vanilla", it=1)
    (extra / "pft-4.log").write_text(VANILLA_LOG)
    warnings: list[str] = []
    import_tree(tmp_path, warnings.append)
    assert any("1 clients is missing from 6.8-rcu" in w for w in warnings)
    assert any("6.8-vanilla: 1 clients has no samples in iter-1" in w for w in warnings)


def test_gzip_and_plain_for_one_count_is_an_error(tmp_path: Path) -> None:
    _tree(tmp_path)
    logs = tmp_path / "6.8-rcu" / "iter-0" / "pft" / "logs"
    (logs / "pft-4.log").write_text(RCU_LOG)
    with pytest.raises(PcplabError, match="both pft-4.log and pft-4.log.gz"):
        import_tree(tmp_path)


def test_cut_gzip_stream_reads_what_it_holds(tmp_path: Path) -> None:
    logs = _logs(tmp_path, "6.8-rcu")
    blob = gzip.compress((RCU_LOG * 40).encode(), mtime=0)
    (logs / "pft-4.log.gz").write_bytes(blob[: len(blob) * 2 // 3])
    warnings: list[str] = []
    (run,) = import_tree(tmp_path, warnings.append)
    n = len(run.result["clients"][0]["elapsed"])
    assert 0 < n < 200 and any("ends early" in w for w in warnings)


@pytest.mark.skipif(os.uname().sysname == "Darwin", reason="macOS refuses non-UTF-8 names")
def test_non_utf8_name_fails_before_anything_is_stored(tmp_path: Path) -> None:
    _tree(tmp_path)
    bad = os.fsencode(tmp_path) + b"/6.8-\xff\xfe"
    os.rename(os.fsencode(tmp_path / "6.8-rcu"), bad)
    with pytest.raises(PcplabError, match="not valid UTF-8"):
        import_tree(tmp_path)


def test_store_tree_is_all_or_nothing(tmp_path: Path) -> None:
    _tree(tmp_path)
    runs = import_tree(tmp_path)
    with Store(tmp_path / "r.db") as store:
        first = store_tree(store, runs[:1], "real")
        assert store.count() == 1

        calls = {"n": 0}
        real_save = store.save

        def failing_save(**kw: object) -> int:
            calls["n"] += 1
            if calls["n"] == 3:
                raise PcplabError("disk full (simulated)")
            return real_save(**kw)

        store.save = failing_save  # type: ignore[method-assign]
        more = runs + [runs[1].__class__("6.8-third", runs[1].result, 300)]
        with pytest.raises(PcplabError, match="disk full"):
            store_tree(store, more, "real")
        # the run stored before is kept; the one this import added is gone again
        assert store.count() == 1 and store.runs()[0].id == first[0][1]
        store.save = real_save  # type: ignore[method-assign]
        ids = store_tree(store, runs, "real")
        assert ids[0] == first[0] and store.count() == 2


def test_cli_import_of_a_killed_and_a_gzipped_run(tmp_path: Path) -> None:
    """The real log format: vanilla killed during its last client count (3 of 5 lines, the third
    cut mid-line), rcu's logs gzipped.  Every client count is tabulated; two warnings."""
    import subprocess
    import sys

    v = _logs(tmp_path / "log", "6.8-vanilla")
    (v / "pft-1.log").write_text(VANILLA_LOG.replace("   4   1", "   1   1"))
    lines = VANILLA_LOG.splitlines()
    (v / "pft-4.log").write_text("\n".join(lines[:3]) + "\n" + lines[3][:30])
    r = _logs(tmp_path / "log", "6.8-rcu")
    (r / "pft-1.log.gz").write_bytes(gzip.compress(RCU_LOG.replace("   4   1", "   1   1")
                                                   .encode(), mtime=0))
    (r / "pft-4.log.gz").write_bytes(gzip.compress(RCU_LOG.encode(), mtime=0))
    run = [sys.executable, "-c", "from pcplab.cli import main; main()"]
    db = str(tmp_path / "r.db")
    imp = subprocess.run([*run, "import", "--mmtests", "log", "--db", db], cwd=tmp_path,
                         capture_output=True, text=True)
    assert imp.returncode == 0, imp.stderr
    warnings = imp.stderr.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("pcplab: warning: ") for w in warnings)
    assert "cut off" in warnings[0] and "sample counts differ (4 clients 3 of 5)" in warnings[1]
    table = subprocess.run([*run, "runs", "table", "--db", db], cwd=tmp_path,
                           capture_output=True, text=True).stdout
    for op in ("system-1", "system-4", "elapsed-1", "elapsed-4", "faults/sec-4"):
        assert f" {op} " in table
