"""``pcplab calibrate``: deterministic fit, profile that every command loads, one-line errors."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from tests.calibrate.conftest import Run, write_tree


def test_same_tree_same_profile_byte_for_byte(cli: Run, tree: Path, tmp_path: Path) -> None:
    a = cli("calibrate", str(tree), "--fit-threads", "1", "-o", "a.toml", "--sim-iterations", "1")
    b = cli("calibrate", str(tree), "--fit-threads", "1", "-o", "b.toml", "--sim-iterations", "1")
    assert a.code == 0 and b.code == 0, a.err + b.err
    assert (tmp_path / "a.toml").read_bytes() == (tmp_path / "b.toml").read_bytes()
    assert a.out.replace("a.toml", "X") == b.out.replace("b.toml", "X")


def test_fit_matches_the_fitted_row_and_marks_what_it_fitted(cli: Run, tree: Path,
                                                            tmp_path: Path) -> None:
    res = cli("calibrate", str(tree), "-o", "box.toml", "--sim-iterations", "1")
    assert res.code == 0, res.err
    doc = tomllib.loads((tmp_path / "box.toml").read_text())
    clock = doc["costs"]["clock_ghz"]
    assert clock["fitted"] is True and "FITTED" in clock["source"]
    assert "6.1-vanilla" in clock["fitted_from"]
    # a global constant is never in the file; an unfitted fact is not marked
    assert "fitted" not in doc["costs"]["ipi_ns"]
    cal = doc["calibration"]
    assert cal["fitted"] == ["clock_ghz"] and cal["fit_threads"] == [1]
    (row,) = doc["calibration"]["rows"]
    # the median of the tree's elapsed samples (0.02, 0.03, 0.03), as pft printed them
    assert row["measured_elapsed_s"] == pytest.approx(0.03, rel=1e-3)
    assert cal["statistic"] == "median"
    assert abs(row["elapsed_error_pct"]) < 1.0  # golden-section to 4 significant digits
    mean = cli("calibrate", str(tree), "-o", "mean.toml", "--sim-iterations", "1",
               "--statistic", "mean")
    assert mean.code == 0, mean.err
    (row,) = tomllib.loads((tmp_path / "mean.toml").read_text())["calibration"]["rows"]
    assert row["measured_elapsed_s"] == pytest.approx((0.02 + 0.03 + 0.03) / 3, rel=1e-3)


def test_one_host_hiccup_moves_the_median_fit_far_less_than_the_mean() -> None:
    from pcplab.calibrate.source import Measurement

    runs = [0.36, 0.35, 2.15, 0.36, 0.37, 0.35, 0.36, 0.36, 0.35, 0.36]  # measured here
    m = Measurement("vm", "pcplab measure pft", 1 << 30, False,
                    {1: {"elapsed": runs, "user": runs, "system": runs}})
    steady = 0.36
    assert abs(m.center(1, "elapsed") / steady - 1) < 0.01
    assert m.center(1, "elapsed", "mean") / steady - 1 > 0.45


def test_written_profile_loads_with_machine_path(cli: Run, tree: Path, tmp_path: Path) -> None:
    assert cli("calibrate", str(tree), "-o", "box.toml", "--sim-iterations", "1").code == 0
    res = cli("pft", "--machine", "./box.toml", "--design", "spinlock", "--clients", "1",
              "--iterations", "1", "--mapping-mb", "16")
    assert res.code == 0, res.err
    assert "pft on host-calibrated" in res.out
    shown = cli("machines", "show", "./box.toml")
    assert shown.code == 0, shown.err


def test_profile_reproduces_host_zones(tmp_path: Path) -> None:
    """Two nodes with a gap between them, holes and reserved pages in every zone: the written
    memory map lays out exactly the zones zoneinfo reported."""
    from pcplab.calibrate.profile_toml import check_zones, render
    from pcplab.machines.host import host_profile, host_zoneinfo
    from pcplab.machines.profile import parse_profile

    data = Path(__file__).parent.parent / "machines" / "data" / "x86_64-5.15-4cpu-handmade.txt"
    text = data.read_text()
    normal = text[text.index("Node 0, zone   Normal"):text.index("Node 0, zone  Movable")]
    node1 = (normal.replace("Node 0, zone   Normal", "Node 1, zone   Normal")
             .replace("start_pfn:           1048576", "start_pfn:           2500000")
             .replace("present  1331200", "present  1300000"))
    proc, sys_root = tmp_path / "proc", tmp_path / "sys"
    proc.mkdir()
    (proc / "zoneinfo").write_text(text + node1)
    for n, cpus in ((0, "0-1"), (1, "2-3")):
        d = sys_root / "devices" / "system" / "node" / f"node{n}"
        d.mkdir(parents=True)
        (d / "cpulist").write_text(cpus + "\n")
        (d / "distance").write_text("10 21\n" if n == 0 else "21 10\n")
    zi = host_zoneinfo(proc, sys_root)
    host = host_profile(proc, sys_root, zoneinfo=zi)
    toml = render(host, zi, "two-nodes", "test", host.costs, {}, {}, [], sys_root)
    profile = parse_profile(toml)
    check_zones(profile, zi)  # raises on any difference
    assert profile.numa_distance == ((10, 21), (21, 10))
    assert [n.cpus for n in profile.nodes] == [(0, 1), (2, 3)]


@pytest.mark.parametrize("args, words", [
    (("/nonexistent/results",), "does not exist"),
    (("TREE", "--fit-threads", "3"), "not measured"),
    (("TREE", "--fit-threads", "0"), "--fit-threads"),
    (("TREE", "--design", "nope"), "nope"),
    (("TREE", "--name", "bad name"), "--name"),
    (("TREE", "--run", "other"), "other"),
    (("TREE", "--sim-iterations", "0"), "sim-iterations"),
    (("EMPTY",), "no pft results"),
    (("NOSIZE",), "--mapping-mb"),
    (("TREE", "-o", "notmine.toml"), "--force"),
])
def test_bad_input_is_one_line(cli: Run, tree: Path, tmp_path: Path, args: tuple[str, ...],
                               words: str) -> None:
    (tmp_path / "empty").mkdir()
    write_tree(tmp_path / "nosize", "6.1-x", {1: [(0.0, 0.02, 0.02)]}, mapping=None)
    (tmp_path / "notmine.toml").write_text("keep me\n")
    subst = {"TREE": str(tree), "EMPTY": str(tmp_path / "empty"),
             "NOSIZE": str(tmp_path / "nosize")}
    before = sorted(os.listdir(tmp_path))
    res = cli("calibrate", *(subst.get(a, a) for a in args))
    assert words in res.one_error_line()
    assert sorted(os.listdir(tmp_path)) == before  # nothing half-written
    assert (tmp_path / "notmine.toml").read_text() == "keep me\n"


def test_nosize_tree_takes_mapping_mb(cli: Run, tmp_path: Path) -> None:
    top = write_tree(tmp_path / "log", "6.1-x", {1: [(0.0, 0.02, 0.02)]}, mapping=None)
    res = cli("calibrate", str(top), "--mapping-mb", "16", "-o", "x.toml", "--sim-iterations", "1")
    assert res.code == 0, res.err
