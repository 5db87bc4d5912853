"""``pcplab measure pft``: pcplab's own pft builds with the machine's compiler and measures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.calibrate.conftest import Run

needs_cc = pytest.mark.skipif(
    not any(shutil.which(c) for c in ("cc", "gcc", "clang")),
    reason="no C compiler on this machine (pcplab measure pft needs one)",
)


@needs_cc
def test_pft_builds_once_and_faults_every_page(tmp_path: Path) -> None:
    import subprocess

    from pcplab.measure import build
    from pcplab.measure.pft import parse_output
    from pcplab.report.pft_log import parse_line

    first = build.build(cache=tmp_path / "cache")
    again = build.build(cache=tmp_path / "cache")
    assert first.built and not again.built and first.path == again.path
    assert first.path.is_relative_to(tmp_path / "cache")
    out = subprocess.run([str(first.path), "-m", "4m", "-t", "2", "-x"], capture_output=True,
                         text=True, timeout=60, check=True)
    line, extra = parse_output(out.stdout)
    parsed = parse_line(line)
    assert parsed is not None and parsed.clients == 2 and parsed.cachelines == 1
    pages = extra["pages"]
    assert pages == (4 << 20) // extra["page_size"]
    # one minor fault per page (pft's own check allows 10 %; a few faults are the program's)
    assert pages <= extra["minflt"] <= pages * 1.1
    assert extra["elapsed"] > 0 and abs(parsed.faults_per_sec - pages / extra["elapsed"]) < 1e-2 * parsed.faults_per_sec


@needs_cc
def test_measure_writes_an_mmtests_tree_import_reads(cli: Run, tmp_path: Path) -> None:
    from pcplab.report.mmtests_dir import import_tree

    res = cli("measure", "pft", "--clients", "1", "--iterations", "2", "--mapping-mb", "4",
              "--output", "out", "--name", "t-host", "--cache-dir", str(tmp_path / "cache"))
    assert res.code == 0, res.err
    runs = import_tree(tmp_path / "out")
    assert [r.name for r in runs] == ["t-host"]
    assert len(runs[0].result["clients"][0]["elapsed"]) == 2
    doc = json.loads((tmp_path / "out" / "t-host" / "pcplab-measure.json").read_text())
    # the default warm-up run is kept apart: not in the samples, not in the pft log
    assert [w["clients"] for w in doc["warmup"]] == [1] and doc["warmup"][0]["elapsed"] > 0
    log = (tmp_path / "out/t-host/iter-0/pft/logs/pft-1.log").read_text()
    assert len([ln for ln in log.splitlines() if ln.strip() and not ln.startswith("pcplab")]) == 2
    assert doc["mapping_bytes"] == 4 << 20 and doc["clients"][0]["pages"] == 1024
    assert "./pft -m 4194304 -t 1" in (tmp_path / "out/t-host/iter-0/pft/logs/commands.log").read_text()
    # a second measurement never replaces the first
    again = cli("measure", "pft", "--clients", "1", "--iterations", "1", "--mapping-mb", "4",
                "--output", "out", "--name", "t-host", "--cache-dir", str(tmp_path / "cache"))
    assert "exists already" in again.one_error_line()


@pytest.mark.parametrize("args, words", [
    (("--clients", "0"), "--clients"),
    (("--clients", "999"), "--clients"),
    (("--iterations", "0"), "iterations"),
    (("--mapping-mb", "99999999"), "--mapping-mb"),
    (("--name", "a/b"), "--name"),
    (("--cc", "/nonexistent/cc"), "compiler"),
    (("--bogus",), "bogus"),
])
def test_measure_bad_input_is_one_line(cli: Run, tmp_path: Path, args: tuple[str, ...],
                                       words: str) -> None:
    res = cli("measure", "pft", "--mapping-mb", "4", "--output", "out",
              "--cache-dir", str(tmp_path / "cache"), *args)
    assert words in res.one_error_line()
    assert not (tmp_path / "out").exists()


def test_no_compiler_is_one_line(cli: Run, tmp_path: Path) -> None:
    res = cli("measure", "pft", "--mapping-mb", "4", "--output", "out", "--cache-dir",
              str(tmp_path / "cache"), env={"PATH": str(tmp_path / "empty"), "CC": ""})
    assert "no C compiler" in res.one_error_line()
