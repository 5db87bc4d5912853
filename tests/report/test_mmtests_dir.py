"""mmtests results trees: pft's line format, export, import (pooling, ExtractPft parsing)."""

import re
from pathlib import Path

import pytest
from tests.fake_backend import fake_run_pft

from pcplab.errors import PcplabError
from pcplab.report.mmtests_dir import TreeRun, export_tree, import_tree
from pcplab.report.pft_log import PftLine, as_mmtests_sees, format_line, parse_line
from pcplab.report.pft_tables import pft_report, pft_tables

from .worked_example import FAULTS, RCU_LOG, TIMINGS, VANILLA_LOG

# §1.1: leading space, %3ld, %4ld, %3ld, three %8.2f+'s', two spaces, %10.3f, %10.3f
LINE = re.compile(r"^ [ \d]{3} [ \d]{4} [ \d]{3}( [ \d]{5}\.\d\ds){3}  [ \d]{6,}\.\d{3} [ \d]{6,}\.\d{3}$")


def test_format_line_matches_pft() -> None:
    # the researcher's real line from a 2-vCPU VM (mmtests-pft.md §1.1)
    line = PftLine(0, 2, 1, 0.03, 0.20, 0.12, 581629.710, 1123661.729)
    assert format_line(line) == "   0    2   1     0.03s     0.20s     0.12s  581629.710 1123661.729"
    for text in VANILLA_LOG.splitlines():
        p = parse_line(text)
        assert p is not None and format_line(p) == text and LINE.match(text)


def test_parse_skips_lines_with_letters() -> None:
    assert parse_line("clipping nr_tests to nr_cpus_allowed") is None
    assert parse_line("  Gb  Thr CLine   User     System     Wall    flt/cpu/s fault/wsec") is None
    assert parse_line("") is None
    with pytest.raises(PcplabError, match="fields"):
        parse_line("  12 4 1 0.1s")


def _write_run(root: Path, name: str, logs: dict[int, list[str]], start: int | None,
               iteration: int = 0) -> None:
    d = root / name / f"iter-{iteration}" / "pft" / "logs"
    d.mkdir(parents=True, exist_ok=True)
    for n, lines in logs.items():
        (d / f"pft-{n}.log").write_text("".join(x + "\n" for x in lines))
    if start is not None:
        (root / name / "mmtests-activity").write_text(f"{start} run-mmtests: Start\n")


def test_import_worked_example_reproduces_tables(tmp_path: Path) -> None:
    # rcu started first on disk order but later in time: compare-kernels.sh orders by Start
    _write_run(tmp_path, "6.8-rcu", {4: RCU_LOG.splitlines()}, start=200)
    _write_run(tmp_path, "6.8-vanilla", {4: VANILLA_LOG.splitlines()}, start=100)
    runs = import_tree(tmp_path)
    assert [r.name for r in runs] == ["6.8-vanilla", "6.8-rcu"]
    tables = pft_tables([(r.name, as_mmtests_sees(r.result)) for r in runs])
    assert tables == {"pft timings": TIMINGS, "pft faults": FAULTS}


def test_import_pools_iterations_and_skips_noise(tmp_path: Path) -> None:
    v = VANILLA_LOG.splitlines()
    _write_run(tmp_path, "6.8-vanilla", {4: ["clipping nr_tests to nr_cpus_allowed", *v[:3]],
                                         1: v[:1]}, start=1)
    _write_run(tmp_path, "6.8-vanilla", {4: v[3:]}, start=None, iteration=1)
    (tmp_path / "6.8-vanilla" / "iter-0" / "pft" / "logs" / "commands.log").write_text("x\n")
    (tmp_path / "not-a-run").mkdir()
    [run] = import_tree(tmp_path)
    by_n = {e["clients"]: e for e in run.result["clients"]}
    assert sorted(by_n) == [1, 4]
    assert by_n[4]["system"] == [10.20, 10.35, 10.10, 10.25, 10.40]  # pooled, in order
    assert run.result["gbyte"] == 12


def test_import_errors(tmp_path: Path) -> None:
    with pytest.raises(PcplabError, match="no pft results"):
        import_tree(tmp_path)
    with pytest.raises(PcplabError, match="not a directory"):
        import_tree(tmp_path / "missing")
    _write_run(tmp_path, "6.8-x", {1: ["  12 4 1 0.1 0.2"]}, start=1)
    with pytest.raises(PcplabError, match="pft-1.log"):
        import_tree(tmp_path)


def test_export_layout_and_round_trip(tmp_path: Path) -> None:
    results = [fake_run_pft("m", d, [1, 3], 4, seed=5) for d in ("workqueue", "rcu")]
    names = ["5.17-vanilla", "5.17-rcu"]
    export_tree(tmp_path, [TreeRun(n, r, 1000) for n, r in zip(names, results, strict=True)])
    top = tmp_path / "5.17-vanilla"
    logs = top / "iter-0" / "pft" / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["commands.log", "pft-1.log", "pft-3.log"]
    lines = (logs / "pft-3.log").read_text().splitlines()
    assert len(lines) == 4 and all(LINE.match(x) for x in lines)
    assert (logs / "commands.log").read_text() == (
        f"./pft -m {(1 << 20) * 4096} -t 1\n./pft -m {(1 << 20) * 4096} -t 3\n")
    assert (top / "mmtests-activity").read_text().startswith("1000 run-mmtests: Start\n")
    assert (tmp_path / "5.17-rcu" / "mmtests-activity").read_text().startswith("1001 ")
    assert re.fullmatch(r"time :: pft [\d.]+ user [\d.]+ system [\d.]+ elapsed\n",
                        (top / "iter-0" / "tests-timestamp").read_text())
    assert "test start :: pft" in (top / "iter-0" / "tests-activity").read_text()
    assert not list(tmp_path.rglob("*.tmp"))
    back = import_tree(tmp_path)
    assert [r.name for r in back] == names
    before = pft_report([(n, as_mmtests_sees(r)) for n, r in zip(names, results, strict=True)])
    after = pft_report([(r.name, as_mmtests_sees(r.result)) for r in back])
    assert before == after


def test_export_rejects_duplicate_names(tmp_path: Path) -> None:
    r = fake_run_pft("m", "rcu", [1], 2, seed=1)
    with pytest.raises(PcplabError, match="duplicate"):
        export_tree(tmp_path, [TreeRun("a-b", r), TreeRun("a-b", r)])
