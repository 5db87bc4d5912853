"""Wakeup latency of the isolated periodic task (timerlat's thread latency, cyclictest's Min/Avg/
Max): measured by the noise meter from the timer's expiry to the task's next op, on the real
engine with a known disturbance, and shown by `pcplab noise` and its --json."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from pcplab.cli import cli
from pcplab.kernel import ops
from pcplab.mm import Machine, tiny_topology
from pcplab.report.noise import wakeup_histogram_line, wakeup_latency_text
from pcplab.sim.engine import Simulator
from pcplab.workloads.noise import NoiseMeter, wakeup_summary

US = 1000
PERIOD = 100 * US


@pytest.fixture(scope="module")
def machine() -> Machine:
    return Machine.build(tiny_topology(nodes=1, cpus_per_node=2, zone_pages=(1024,)), "5.17")


def _periodic(ctx, periods: int):
    """A cyclictest-like loop: sleep one period on the timer, run 10 us, again."""
    yield ops.EnterUser()
    for _ in range(periods):
        yield ops.Sleep(PERIOD, func="clock_nanosleep")
        yield ops.UserRun(10 * US)


def _disturber(ctx, start: int, section: int, preempt_off: bool):
    """A SCHED_OTHER task that runs ``section`` ns of kernel work across the first expiry
    (at PERIOD), with preemption off if asked."""
    yield ops.Sleep(start, func="nap")
    if preempt_off:
        yield ops.PreemptDisable()
    yield ops.Work("ns", section)
    if preempt_off:
        yield ops.PreemptEnable()
    # not its last op: a finished task keeps the CPU until its last op's time has passed
    yield ops.Sleep(10 * PERIOD, func="nap")


def _run(machine: Machine, disturb: tuple[int, int, bool] | None) -> tuple[dict, Simulator]:
    sim = Simulator(machine, noise=0)
    meter = NoiseMeter(machine.nr_cpus, {0})
    meter.attach(sim)
    sim.log = []  # type: ignore[attr-defined]
    sim.on_op(lambda task, op, t, ns: sim.log.append((task.name, type(op).__name__, t, ns)))
    rt = sim.spawn(0, _periodic, (3,), name="rt/0", policy="fifo")
    meter.set_owner(0, rt)
    if disturb is not None:
        sim.spawn(0, _disturber, disturb, name="kworker/0:1")
    end = sim.run()
    meter.end_ns = end
    rec = {r["cpu"]: r for r in meter.result(sim, end)}[0]
    return rec["wakeup_latency"], sim


def test_undisturbed_wakeups_cost_nothing(machine: Machine) -> None:
    w, _ = _run(machine, None)
    assert w["cycles"] == 3
    assert w["min_ns"] == w["max_ns"] == 0


def test_a_preemptible_thread_costs_the_switch_back(machine: Machine) -> None:
    # the disturber runs from 80 us to 120 us, preemptible: the FIFO task takes the CPU at its
    # expiry (100 us) and pays one context switch
    w, sim = _run(machine, (80 * US, 40 * US, False))
    cs = int(sim.costs.context_switch_ns)
    assert w["cycles"] == 3
    assert w["max_ns"] == cs > 0
    assert w["min_ns"] == 0  # the later periods are undisturbed


def test_a_preempt_off_section_delays_the_task_until_it_ends(machine: Machine) -> None:
    # the same thread with preemption off: the task waits for the rest of the section, then the
    # switch; expected from the op stream: the section's end + one switch - the first expiry
    w, sim = _run(machine, (80 * US, 40 * US, True))
    cs = int(sim.costs.context_switch_ns)
    log = sim.log  # type: ignore[attr-defined]
    expiry = next(t + ns for name, op, t, ns in log if name == "rt/0" and op == "Sleep")
    section_end = next(t + ns for name, op, t, ns in log if op == "PreemptEnable")
    assert section_end - expiry > 15 * US  # the expiry fell inside the 40 us section
    assert w["max_ns"] == section_end + cs - expiry
    assert w["histogram_us"][str(w["max_ns"] // US)] == 1


def test_meter_counts_only_timer_sleeps_inside_the_window() -> None:
    owner = SimpleNamespace(name="rt/2", kind="program")
    m = NoiseMeter(4, {2}, start_ns=1_000)
    m.end_ns = 10_000
    m.set_owner(2, owner)
    m.op(owner, ops.Sleep(500, func="start_phase"), 0, 500)  # the start phase: no sample
    m.op(owner, ops.EnterUser(), 600, 0)
    m.op(owner, ops.Sleep(1_000, func="clock_nanosleep"), 1_000, 1_000)  # expires at 2_000
    m.op(SimpleNamespace(name="kworker/2:1"), ops.Work("ns", 5), 2_000, 5)  # not the owner
    m.op(owner, ops.EnterUser(), 2_300, 0)  # runs 300 ns late
    m.op(owner, ops.Sleep(9_000, func="clock_nanosleep"), 2_400, 9_000)  # expires after the end
    m.op(owner, ops.EnterUser(), 11_400, 0)
    sim = SimpleNamespace(stats=lambda t: SimpleNamespace(wait_ns=0, interrupted_ns=0))
    rec = {r["cpu"]: r for r in m.result(sim, 10_000)}
    assert rec[2]["wakeup_latency"]["cycles"] == 1
    assert rec[2]["wakeup_latency"]["max_ns"] == 300
    assert "wakeup_latency" not in rec[1]  # not isolated: no timerlat thread there


def test_summary_gives_p99_only_from_100_samples() -> None:
    few = wakeup_summary([1_500] * 98 + [7_000])
    assert few["p99_ns"] is None and few["max_ns"] == 7_000
    assert few["histogram_us"] == {"1": 98, "7": 1}
    many = wakeup_summary(list(range(0, 200_000, 1_000)))  # 200 samples, 0..199 us
    assert many["p99_ns"] == 197_000  # nearest rank: ceil(0.99 * 200) = 198th
    assert wakeup_histogram_line({"0": 3, "1": 1, "3": 2, "6": 1, "40": 1}) == \
        "0-1:3 1-2:1 2-4:2 4-8:1 32-64:1"


def test_table_says_why_when_the_task_never_sleeps() -> None:
    cpu = {"cpu": 2, "isolated": True, "task": "rt/2", "wakeup_latency": wakeup_summary([])}
    text = wakeup_latency_text({"isolated_task": "other", "cpus": [cpu]})
    assert "never sleeps on a periodic timer" in text
    assert wakeup_latency_text({"isolated_task": "idle", "cpus": []}) == ""


def test_pcplab_noise_prints_the_table_and_json_has_the_same_fields() -> None:
    args = ["noise", "-m", "rpi4", "-d", "workqueue", "--isolated", "2-3", "--duration", "0.05"]
    text = CliRunner().invoke(cli, args).stdout
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("Wakeup latency"))
    assert lines[i + 1].split() == ["CPU", "Task", "Cycles", "Min", "Avg", "Max", "p99"]
    table = {int(r.split()[0]): r.split() for r in lines[i + 2:i + 4]}
    rows = json.loads(CliRunner().invoke(cli, [*args, "--json"]).stdout)["wakeup_latency"]
    assert [r["CPU"] for r in rows] == [2, 3]
    for r in rows:
        cells = table[r["CPU"]]
        assert cells[1] == r["Task"] and int(cells[2]) == r["Cycles"] == sum(r["Histogram"].values())
        assert [float(x) for x in cells[3:6]] == [round(r[k], 2) for k in ("Min", "Avg", "Max")]
        assert cells[6] == "-" and r["p99"] is None  # 49 wakeups: no p99
        assert r["Cycles"] >= 45  # a 1 ms period over 50 ms, after a start phase below 1 ms


def test_compare_table_puts_designs_side_by_side() -> None:
    from pcplab.report.noise import has_wakeups, wakeup_by_design

    def run(samples: list[int]) -> dict:
        return {"cpus": [{"cpu": 2, "isolated": True, "task": "rt/2",
                          "wakeup_latency": wakeup_summary(samples)}]}

    wq, rcu, poller = run([0, 0, 6_000]), run([0, 0, 0]), run([])
    assert has_wakeups(wq) and not has_wakeups(poller) and not has_wakeups({"cpus": []})
    rows = {ln[:20].strip(): ln[20:].split()
            for ln in wakeup_by_design([("vanilla", wq), ("rcu", rcu), ("other", poller)])
            .splitlines()}
    assert rows["cpu2 max"] == ["6.00", "0.00", "-"]
    assert rows["cpu2 avg"] == ["2.00", "0.00", "-"]
    assert rows["cpu2 wakeups"] == ["3", "3", "-"]
