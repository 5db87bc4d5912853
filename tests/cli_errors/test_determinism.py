"""Same seed, same bytes: every command twice, text and JSON, on tiny inputs (rpi4, few
iterations, milliseconds simulated).  Wall-clock figures go to stderr, which is not compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli_errors.conftest import Run

ZONEINFO = str(Path(__file__).resolve().parent.parent / "machines" / "data" /
               "x86_64-6.18-2cpu-firecracker.txt")  # fmt: skip
SIMPLE = [
    ("machines", "list"),
    ("machines", "show", "rpi4"),
    ("machines", "show", "--zoneinfo", ZONEINFO),
    ("designs",),
    ("check", "--design", "rcu", "--scenario", "free-vs-global-drain", "--bound", "0"),
    ("check", "--design", "rcu-v1", "--scenario", "free-vs-global-drain", "--mode", "random",
     "--executions", "30", "--seed", "7"),
    ("check", "--design", "spinlock", "--scenario", "pcp-disable", "--mode", "pct",
     "--executions", "20", "--seed", str(2**64 - 1)),
    ("pft", "-m", "rpi4", "-d", "rcu", "--clients", "1,2", "-n", "2", "--seed", "5"),
    ("noise", "-m", "rpi4", "-d", "workqueue", "--isolated", "2", "--duration", "0.002",
     "--seed", "3"),
    ("oom", "-d", "rcu", "--memory-mib", "8", "--seed", "2"),
]  # fmt: skip


@pytest.mark.parametrize("args", SIMPLE, ids=[" ".join(a[:2]) + str(i) for i, a in
                                               enumerate(SIMPLE)])  # fmt: skip
def test_twice_same_bytes(cli: Run, args: tuple[str, ...]) -> None:
    for extra in ((), ("--json",)):
        first, second = cli(*args, *extra), cli(*args, *extra)
        assert first.code in (0, 1), first.err
        assert (second.code, second.out) == (first.code, first.out), args + extra
        assert first.out.strip()
        if extra:
            data = json.loads(first.out)
            assert "seconds" not in json.dumps(data) or args[0] != "check"


def test_check_timing_is_opt_in(cli: Run) -> None:
    args = ("check", "--design", "rcu", "--scenario", "free-vs-global-drain", "--bound", "0")
    plain = cli(*args, "--json")
    assert '"seconds"' not in plain.out and "steps/s" in plain.err
    timed = cli(*args, "--json", "--timing")
    assert '"seconds"' in timed.out and '"steps_per_second"' in timed.out
    assert " s; " not in cli(*args).out and " s; " in cli(*args, "--timing").out


def _compare(cli: Run, tmp_path: Path, tag: str, fmt: str, fake: bool) -> str:
    db = tmp_path / f"{tag}.db"
    args = ["compare", "--machine", "rpi4", "--designs", "vanilla,rcu", "--clients", "1",
            "--iterations", "2", "--duration", "0.002", "--drain-rate", "1000",
            "--check-bound", "0", "--quiet", "--no-plots", "--format", fmt, "--db", str(db)]
    res = cli(*args, env={"PCPLAB_COMPARE_BACKEND": "fake"} if fake else None)
    assert res.code in (0, 1), res.err
    return res.out


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_compare_twice_same_bytes(cli: Run, tmp_path: Path, fmt: str) -> None:
    assert _compare(cli, tmp_path, "a", fmt, True) == _compare(cli, tmp_path, "b", fmt, True)
    real = _compare(cli, tmp_path, "c", fmt, False)
    assert real == _compare(cli, tmp_path, "d", fmt, False)
    if fmt == "json":
        assert '"seconds"' not in real and '"steps_per_second"' not in real


def test_stored_runs_twice_same_bytes(cli: Run, tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    _ = cli("compare", "--clients", "1,2", "--iterations", "3", "--quiet", "--no-plots", "--db",
            db, env={"PCPLAB_COMPARE_BACKEND": "fake"})
    for args in (("runs", "list"), ("runs", "show", "1"), ("runs", "table"), ("runs", "export"),
                 ("runs", "export", "--format", "csv"), ("export", "--format", "json")):
        first, second = cli(*args, "--db", db), cli(*args, "--db", db)
        assert first.code == 0, (args, first.err)
        assert first.out == second.out and first.out.strip()
    trees = []
    for tag in ("t1", "t2"):
        assert cli("export", "--mmtests", str(tmp_path / tag), "--db", db).code == 0
        trees.append({p.relative_to(tmp_path / tag): p.read_bytes()
                      for p in sorted((tmp_path / tag).rglob("*")) if p.is_file()})
    assert trees[0] == trees[1] and trees[0]
    imported = [cli("import", "--mmtests", str(tmp_path / "t1"), "--db",
                    str(tmp_path / f"i{k}.db")) for k in (1, 2)]  # fmt: skip
    assert imported[0].code == 0, imported[0].err
    assert imported[0].out == imported[1].out
