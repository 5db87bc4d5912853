"""The results database: readers never create one, and a damaged file is one line, exit 2."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.cli_errors.conftest import Run

from pcplab.store.db import Store


def _db(path: Path) -> Path:
    with Store(path) as st:
        for design in ("rcu", "workqueue"):
            st.save(machine="m", design=design, workload="check", params={"d": design}, seed=1,
                    result={"executions": 1, "states": 1, "seconds": 0.0, "exhaustive": True})
    return path


@pytest.mark.parametrize("cmd", [("runs", "list"), ("runs", "show", "1"), ("runs", "table"),
                                 ("runs", "export"), ("export", "--format", "csv")])
def test_readers_do_not_create_a_database(cli: Run, tmp_path: Path, cmd: tuple[str, ...]) -> None:
    line = cli(*cmd, "--db", "typo.db").one_error_line()
    assert "no results database" in line
    assert not (tmp_path / "typo.db").exists()


@pytest.mark.parametrize("damage", ["schema-abc", "bad-json", "deep-json", "wrong-type",
                                    "bad-utf8", "text-file", "no-runs-table", "dir", "parent-file"])
def test_damaged_database_is_one_line(cli: Run, tmp_path: Path, damage: str) -> None:
    db = _db(tmp_path / "r.db")
    con = sqlite3.connect(db)
    if damage == "schema-abc":
        con.execute("UPDATE meta SET value='abc' WHERE key='schema_version'")
    elif damage == "bad-json":
        con.execute("UPDATE runs SET metrics='{' WHERE id=1")
    elif damage == "deep-json":
        con.execute("UPDATE runs SET params=? WHERE id=1", ("[" * 100_000 + "]" * 100_000,))
    elif damage == "wrong-type":
        con.execute("UPDATE runs SET seed=1.5 WHERE id=1")
    elif damage == "bad-utf8":
        con.execute("UPDATE runs SET machine=CAST(X'FFFE41' AS TEXT) WHERE id=1")
    elif damage == "no-runs-table":
        con.execute("DROP TABLE runs")
    con.commit()
    con.close()
    if damage == "text-file":
        db.unlink()
        db.write_text("not a database\n" * 100)
    target = str(db)
    if damage == "dir":
        target = str(tmp_path)
    elif damage == "parent-file":
        target = str(db / "x.db")
    for cmd in (("runs", "list"), ("runs", "export")):
        line = cli(*cmd, "--db", target).one_error_line()
        assert "database" in line, line


def test_flipped_bytes_never_a_traceback(cli: Run, tmp_path: Path) -> None:
    """Every single-bit flip of one byte per page of a small database: exit 0 or one line."""
    good = _db(tmp_path / "good.db")
    with sqlite3.connect(good) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = good.read_bytes()
    for i in range(0, len(data), 97):
        bad = bytearray(data)
        bad[i] ^= 0x40
        p = tmp_path / f"f{i}.db"
        p.write_bytes(bytes(bad))
        res = cli("runs", "export", "--db", str(p))
        assert res.code in (0, 2), (i, res.err)
        if res.code == 2:
            res.one_error_line()


def test_largest_seed_round_trips(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as st:
        for seed in (0, 2**63 - 1, 2**63, 2**64 - 1):
            rid = st.save(machine="m", design="d", workload="check", params={}, seed=seed,
                          result={})
            assert st.get(rid).seed == seed
        with pytest.raises(Exception, match="0..2"):
            st.save(machine="m", design="d", workload="check", params={"x": 1}, seed=2**64,
                    result={})
