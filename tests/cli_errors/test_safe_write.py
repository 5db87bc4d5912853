"""Output files: atomic for regular files, written through for devices and FIFOs, refused for
symlinks and directories (``runs export -o`` once replaced /dev/null with a regular file)."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from tests.cli_errors.conftest import Run

from pcplab.errors import PcplabError
from pcplab.safe_write import check_output_dir, write_output


@pytest.fixture
def db(tmp_path: Path) -> str:
    from pcplab.store.db import Store

    path = tmp_path / "r.db"
    with Store(path) as st:
        st.save(machine="m", design="rcu", workload="check", params={}, seed=3,
                result={"executions": 1, "states": 1, "seconds": 0.0, "exhaustive": True})
    return str(path)


def test_dev_null_stays_a_character_device(cli: Run, db: str) -> None:
    res = cli("runs", "export", "-o", os.devnull, "--db", db)
    assert res.code == 0, res.err
    assert stat.S_ISCHR(os.lstat(os.devnull).st_mode)


def test_fifo_is_written_through(cli: Run, db: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    res = cli("runs", "export", "--format", "csv", "-o", str(fifo), "--db", db)
    reader.join(timeout=30)
    assert res.code == 0, res.err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not a file renamed over it
    assert got and got[0].startswith(b"run_id,run_key")


def test_symlink_is_refused_and_left_alone(cli: Run, db: str, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    line = cli("runs", "export", "-o", str(link), "--db", db).one_error_line()
    assert "symbolic link" in line
    assert link.is_symlink() and target.read_text() == "keep me\n"


def test_directory_and_missing_parent_are_refused(cli: Run, db: str, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    assert "directory" in cli("runs", "export", "-o", str(tmp_path / "d"), "--db", db
                              ).one_error_line()  # fmt: skip
    line = cli("runs", "export", "-o", str(tmp_path / "no" / "x.json"), "--db", db).one_error_line()
    assert "does not exist" in line
    assert "empty" in cli("runs", "export", "-o", "", "--db", db).one_error_line()
    assert "too long" in cli("runs", "export", "-o", "x" * 300, "--db", db).one_error_line()


def test_regular_file_replaced_atomically_keeping_its_mode(cli: Run, db: str,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    out.write_text("old\n")
    out.chmod(0o640)
    ino = out.stat().st_ino
    assert cli("runs", "export", "-o", str(out), "--db", db).code == 0
    assert out.read_text().startswith("[") and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert out.stat().st_ino != ino  # a new file renamed over the old one
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_dash_is_stdout(cli: Run, db: str) -> None:
    res = cli("export", "--format", "json", "-o", "-", "--db", db)
    assert res.code == 0 and res.out.startswith("[")


def test_full_device_is_one_line(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with pytest.raises(PcplabError, match="No space left"):
        write_output("/dev/full", "x" * 100_000)
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)


def test_output_dirs(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(PcplabError, match="not a directory"):
        check_output_dir(tmp_path / "f")
    with pytest.raises(PcplabError, match="not a directory"):
        check_output_dir(tmp_path / "f" / "sub")
    check_output_dir(tmp_path / "new" / "deeper")  # creatable: fine
    assert not (tmp_path / "new").exists()  # and checking created nothing
