"""The checker on the real designs: the seed's oops, clean designs, every mutant, replay."""

from __future__ import annotations

import pytest

from pcplab import designs
from pcplab.check.api import replay_token, run_check
from pcplab.check.counterexample import ReplayToken
from pcplab.check.scenario import (
    STANDARD,
    Scenario,
    ScenarioWorld,
    alloc,
    drain,
    free,
    load_scenario_file,
)
from pcplab.errors import PcplabError


def test_rcu_v1_null_deref_on_global_drain_and_replay():
    r = run_check("rcu-v1")
    v = r["violation"]
    assert v["kind"] == "null-deref"
    assert v["function"] == "__drain_all_pages"
    report = "\n".join(v["report"])
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000058" in report
    assert "RIP: __drain_all_pages" in report and "Call Trace:" in report
    last = v["trace"][-1]  # the step that faults: in the drain, on the faulting CPU, said so
    assert last["function"] == "__drain_all_pages"
    assert last["cpu"] == v["cpu"]
    assert "__drain_all_pages faults" in last["note"]
    again = replay_token(r["replay"])
    assert again["violation"]["report"] == v["report"]


def test_rcu_v1_zone_drains_are_fine():
    # only drain_all_pages(NULL) reaches the broken branch (kernel-pcp.md §10.5)
    r = run_check("rcu-v1", "alloc-vs-zone-drain", bound=1)
    assert r["violation"] is None and r["exhaustive"]


MUTANTS = designs.mutant_names()


@pytest.mark.parametrize("name", MUTANTS)
def test_every_mutant_found_with_its_kind(name):
    d = designs.get(name)
    r = run_check(name, want=frozenset({d.expected_violation}), time_limit=10)
    assert r["violation"] is not None, f"{name}: nothing found"
    assert r["violation"]["kind"] == d.expected_violation
    assert r["seconds"] < 30  # 10 s on an idle machine; CI machines are shared


def test_clean_design_small_scenario_exhaustive():
    r = run_check("spinlock", "free-vs-global-drain", bound=1)
    assert r["violation"] is None and r["exhaustive"]
    assert r["executions"] > 1 and r["states"] > 10


def test_deterministic_counts():
    a = run_check("rcu", "alloc-vs-zone-drain", bound=1)
    b = run_check("rcu", "alloc-vs-zone-drain", bound=1)
    assert (a["executions"], a["states"], a["steps"]) == (b["executions"], b["states"], b["steps"])


def test_random_and_pct_modes_find_the_seed_bug():
    for mode in ("random", "pct"):
        r = run_check("rcu-v1", "free-vs-global-drain", mode=mode, seed=1, executions=50)
        assert r["violation"]["kind"] == "null-deref" and not r["exhaustive"]
        assert replay_token(r["replay"])["violation"]["kind"] == "null-deref"


def test_token_roundtrip_and_damage():
    t = ReplayToken("rcu", "two-zones", (0, 1, 1, 2), None)
    assert ReplayToken.decode(t.encode()) == t
    with pytest.raises(PcplabError):
        ReplayToken.decode("pcp1.!!!")
    with pytest.raises(PcplabError):
        ReplayToken.decode("nope")


def test_standard_scenarios_validate_and_build():
    d = designs.get("workqueue")
    for sc in STANDARD:
        sc.validate()
        w = ScenarioWorld(d, sc)
        assert w.check_state() is None
        assert w.enabled()


def test_bad_scenarios_rejected(tmp_path):
    bad = Scenario("x", "x", programs=((alloc(0, zone=3),),))
    with pytest.raises(PcplabError):
        bad.validate()
    with pytest.raises(PcplabError):
        run_check("rcu", "no-such-scenario")
    with pytest.raises(PcplabError):
        run_check("rcu", mode="bfs")
    f = tmp_path / "s.py"
    f.write_text("X = 1\n")
    with pytest.raises(PcplabError):
        load_scenario_file(str(f))


def test_user_scenario_file(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    f = tmp_path / "a" / "mine.py"
    f.write_text(
        "from pcplab.check.scenario import Scenario, alloc, free, drain\n"
        "SCENARIO = Scenario('mine', 'free vs global drain', "
        "programs=((alloc(0), free()), (drain(None),)))\n"
    )
    monkeypatch.chdir(tmp_path / "a")
    r = run_check("rcu-v1", "mine", scenario_file="mine.py")  # a relative path
    assert r["violation"]["kind"] == "null-deref"
    # the token carries the file's absolute path: it replays from any directory
    monkeypatch.chdir(tmp_path / "b")
    again = replay_token(r["replay"])
    assert again["violation"]["kind"] == "null-deref"
    assert again["notes"] == [f"note: running scenario file {f.resolve()}"]
    f.write_text(f.read_text() + "# edited\n")
    assert "changed" in replay_token(r["replay"])["notes"][-1]
    # the file's scenarios are added to the standard set; --only-scenario-file runs them alone
    ok = run_check("rcu", "all", scenario_file=str(f), bound=1)
    assert ok["violation"] is None
    assert [s["scenario"] for s in ok["scenarios"]] == [s.name for s in STANDARD] + ["mine"]
    only = run_check("rcu", "all", scenario_file=str(f), bound=1, only_scenario_file=True)
    assert [s["scenario"] for s in only["scenarios"]] == ["mine"]


def test_scenario_programs_use_builders():
    sc = Scenario("y", "y", programs=((alloc(1), free()), (drain(0, force=True),)))
    sc.validate()
    assert sc.nr_cpus == 2


@pytest.mark.parametrize("name", MUTANTS)
def test_every_mutant_fails_plain_check(name):
    # without any hint the default check finds some violation in every mutant, fast
    r = run_check(name, time_limit=10)
    assert r["violation"] is not None


CLEAN = ["workqueue", "rcu", "static-key", "spinlock-irqsave", "spinlock"]


@pytest.mark.slow
@pytest.mark.parametrize("name", CLEAN)
def test_clean_designs_full_standard_set_exhaustive(name):
    r = run_check(name, "all")
    assert r["violation"] is None, r["violation"] and "\n".join(r["violation"]["report"])
    assert r["exhaustive"]
    assert r["seconds"] < 120  # < 60 s on the 2-core development machine, see bench_check.py


def test_design_broken_without_concurrency_reported_at_start():
    from dataclasses import replace

    from pcplab.check.api import counterexample
    from pcplab.check.explore import explore_dfs
    from pcplab.kernel import ops

    def alloc_pages(ctx, zone, order, mt):
        yield ops.Work("pcp_alloc", func="rmqueue")
        return None.lp  # a NULL dereference on every allocation

    broken = replace(designs.get("spinlock"), name="broken", alloc_pages=alloc_pages)
    sc = STANDARD[0]
    r = explore_dfs(lambda: ScenarioWorld(broken, sc), bound=1)
    assert r.violation.kind == "null-deref" and r.schedule == []
    assert "prefill" in r.violation.message
    ce = counterexample(broken, sc, [], "tok", "broken")
    assert ce["kind"] == "null-deref" and ce["trace"] == []


def test_rcu_v1_survives_the_seed_stress_tests_forced_global_drains():
    # the seed's day-long stress test forced drains (force_all_cpus): the NULL-zone branch is
    # never taken, so it could not find the bug that the OOM path (not forced) hits at once
    r = run_check("rcu-v1", "stress-forced-global-drain", bound=1)
    assert r["violation"] is None and r["exhaustive"]
    r = run_check("rcu-v1", "free-vs-global-drain", bound=1)
    assert r["violation"]["kind"] == "null-deref"
