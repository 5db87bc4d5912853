"""Every option is checked before anything runs: one ``pcplab: error:`` line naming the option,
exit 2, and nothing stored (the inputs are those of issue 14's campaign)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli_errors.conftest import Run

NOISE = ("noise", "-m", "rpi4", "-d", "rcu", "--isolated", "2", "--duration", "0.001")
PFT = ("pft", "-m", "rpi4", "-d", "rcu", "--clients", "1", "-n", "1")
CHECK = ("check", "--design", "rcu", "--scenario", "free-vs-global-drain")

REFUSED = [
    # hangs before: an endless loop, a search that never stops, gigabytes of CPU ids
    ((*NOISE, "--drain-rate", "inf"), "--drain-rate"),
    ((*NOISE, "--drain-rate", "1e30"), "--drain-rate"),
    ((*NOISE, "--drain-rate", "5e-324"), "--drain-rate"),
    ((*NOISE, "--drain-rate", "nan"), "--drain-rate"),
    ((*CHECK, "--time-limit", "nan"), "--time-limit"),
    ((*CHECK, "--time-limit", "inf"), "--time-limit"),
    ((*CHECK, "--time-limit", "-1"), "--time-limit"),
    ((*NOISE[:-4], "--isolated", "0-100000000000"), "--isolated"),
    ((*PFT[:-4], "--clients", "1-1000000000000"), "--clients"),
    # silent acceptance before
    ((*PFT[:-4], "--clients", "1 2"), "--clients"),
    ((*PFT, "--mapping-mb", "99999999"), "--mapping-mb"),
    (("oom", "-d", "rcu", "--memory-mib", "0"), "--memory-mib"),
    (("oom", "-d", "rcu", "--memory-mib", "99999"), "--memory-mib"),
    ((*NOISE, "--memory-mib", "9000"), "--memory-mib"),
    (("machines", "show", "--zoneinfo", "z", "--page-size", "0"), "--page-size"),
    (("machines", "show", "rpi4", "--kernel", ""), "--kernel"),
    # seeds: 0..2^64-1 everywhere
    ((*PFT, "--seed", "-1"), "--seed"),
    ((*NOISE, "--seed", "-1"), "--seed"),
    (("oom", "-d", "rcu", "--seed", "-1"), "--seed"),
    ((*CHECK, "--seed", "-1"), "--seed"),
    ((*PFT, "--seed", "99999999999999999999999"), "--seed"),
    ((*PFT, "--seed", str(2**64)), "--seed"),
    (("runs", "show", "99999999999999999999"), "RUN_ID"),
    # CPU lists within the machine (rpi4 has 4 CPUs)
    ((*NOISE[:-4], "--isolated", "4"), "--isolated"),
    ((*NOISE[:-4], "--isolated", "0-3"), "every CPU"),
    ((*PFT[:-4], "--clients", "5"), "--clients"),
    ((*PFT, "-n", "0"), "--iterations"),
    ((*PFT, "-n", "١٢"), "--iterations"),
    ((*NOISE, "--rt-runtime-us", "0"), "--rt-runtime-us"),
    ((*CHECK, "--bound", "-2"), "--bound"),
    ((*CHECK, "--executions", "0"), "--executions"),
    (("runs", "list", "--workload", "bogus"), "--workload"),
]


@pytest.mark.parametrize(("args", "needle"), REFUSED, ids=[" ".join(a[-2:]) for a, _ in REFUSED])
def test_refused_up_front(cli: Run, tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    if args[:2] == ("runs", "list"):
        assert cli("runs", "list").code == 2  # no database yet: refused, and none created
    line = cli(*args).one_error_line()
    assert needle in line, line
    assert not (tmp_path / "default.sqlite").exists()


COMPARE = ("compare", "--machine", "xeon-e5-2640v3", "--quiet", "--no-plots")


@pytest.mark.parametrize(("extra", "needle"), [
    (("--check-mode", "bogus"), "--check-mode"),
    (("--load", "bogus"), "--load"),
    (("--isolated", "40"), "--isolated"),
    (("--check-bound", "-2"), "--check-bound"),
    (("--seed", "-1"), "--seed"),
    (("--drain-rate", "inf"), "--drain-rate"),
    (("--duration", "nan"), "--duration"),
    (("--clients", "1 2"), "--clients"),
    (("--designs", "rcu,bogus"), "bogus"),
    (("--out", "a-file"), "a-file"),
])  # fmt: skip
def test_compare_refuses_before_any_simulation(cli: Run, tmp_path: Path, extra: tuple[str, ...],
                                               needle: str) -> None:
    """On the real backend (minutes of simulation if it started): refused at once, naming the
    right option, with no database (so no row) written."""
    (tmp_path / "a-file").write_text("x")
    args = list(COMPARE) + list(extra) + ["--db", str(tmp_path / "r.db")]
    if "--out" in extra:
        args.remove("--no-plots")
    line = cli(*args).one_error_line()
    assert needle in line, line
    if extra[0] == "--check-bound":
        assert "'--bound'" not in line
    assert not (tmp_path / "r.db").exists()


def test_seed_range_edges_are_accepted(cli: Run) -> None:
    for seed in ("0", str(2**64 - 1)):
        res = cli(*PFT, "--seed", seed, "--json")
        assert res.code == 0, res.err
        assert f'"seed": {seed}' in res.out


def test_compare_stores_the_largest_seed(cli: Run, tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    top = str(2**64 - 1)
    res = cli("compare", "--clients", "1", "--iterations", "2", "--quiet", "--no-plots",
              "--seed", top, "--db", db, env={"PCPLAB_COMPARE_BACKEND": "fake"})
    assert res.code == 0, res.err
    listed = cli("runs", "list", "--db", db)
    assert listed.code == 0 and top in listed.out
    shown = cli("runs", "show", "1", "--db", db)
    assert f'"seed": {top}' in shown.out


def test_scenario_file_problems_are_exit_2_not_verdicts(cli: Run, tmp_path: Path) -> None:
    head = "from pcplab.check.scenario import *\n"
    body = "SCENARIO = Scenario(name={name}, description='x', programs={progs}, {extra})\n"
    good = {"name": "'s'", "progs": "((alloc(0), free()), (drain(None),))", "extra": ""}
    cases = [
        ({"extra": "zone_pages=(0,)"}, "zone 0 has 0 pages"),
        ({"progs": "((alloc(-1),), (drain(None),))"}, "alloc order -1"),
        ({"extra": "batch=0"}, "batch"),
        ({"name": "None"}, "name"),
        ({"progs": "((drain_dead(1),), (free(),))"}, "go_offline"),
        ({"progs": "((pcp_disable(0),), ())"}, "never re-enabled"),
        ({"extra": "prefill=((0, 0, 999),)"}, "prefill"),
    ]
    for change, needle in cases:
        f = tmp_path / "sc.py"
        f.write_text(head + body.format(**{**good, **change}))
        res = cli("check", "--design", "rcu", "--scenario-file", str(f))
        line = res.one_error_line()
        assert needle in line, (change, line)
    f.write_text(head + body.format(**good))
    assert cli("check", "--design", "rcu", "--scenario-file", str(f), "--bound", "0").code == 0
    for text, needle in [("import sys\nsys.exit(3)\n", "failed to load"),
                         ("SCENARIOS = 5\n", "must define"),
                         ("raise RuntimeError('boom')\n", "boom")]:  # fmt: skip
        f.write_text(head + text)
        assert needle in cli("check", "--design", "rcu", "--scenario-file", str(f)).one_error_line()
