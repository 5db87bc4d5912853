"""`trace-cmd report` text with workqueue and osnoise events read into the noise table.

The sample below was WRITTEN BY HAND for this test from the documented formats -- the events'
TP_printk strings (include/trace/events/osnoise.h, include/trace/events/workqueue.h), the
``COMM-PID [CPU] TIMESTAMP: EVENT: FIELDS`` line of trace-cmd-report(1), and the osnoise lines in
Documentation/trace/timerlat-tracer.rst -- it was not captured from a machine.  Its numbers are
chosen so every figure can be checked by hand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pcplab.errors import PcplabError
from pcplab.report.noise import osnoise_top
from pcplab.report.tracecmd_import import parse_trace_cmd_report

SAMPLE = """\
cpus=4
       <idle>-0       [002]  100.000000: sched_switch:         swapper/2:0 [120] R ==> rt:1000 [19]
     kworker/2:1-173   [002]  100.000100: workqueue_execute_start: work struct 0xffff888100a1c2a0: function drain_local_pages_wq
     kworker/2:1-173   [002]  100.000118: workqueue_execute_end: work struct 0xffff888100a1c2a0: function drain_local_pages_wq
     kworker/2:1-173   [002]  100.000120: thread_noise: kworker/2:1:173 start 100.000099000 duration 20000 ns
              rt-1000  [002] d.h1.  100.000205: irq_noise: local_timer:236 start 100.000200000 duration 5000 ns
              rt-1000  [002] d.h1.  100.000214: irq_noise: call_function_single:251 start 100.000205000 duration 3000 ns
              rt-1000  [002] ..s1.  100.000400: osnoise:softirq_noise:    TIMER:1 start 100.000390000 duration 4000 ns
              rt-1001  [003]  100.000300: nmi_noise: start 100.000300000 duration 1000 ns
     kworker/3:0-180   [003]  100.000500: workqueue_execute_start: work struct 0xffff888100a1d2a0: function vmstat_update
     kworker/3:0-180   [003]  100.000510: workqueue_execute_end: work struct 0xffff888100a1d2a0
     kworker/3:0-180   [003]  100.000520: thread_noise:  kworker/3:0:180 start 100.000499000 duration 11000 ns
     kworker/1:2-90    [001]  100.000600: workqueue_execute_start: work struct 0xffff888100a0b2a0: function drain_local_pages_wq
     kworker/1:2-90    [001]  100.000630: workqueue_execute_end: work struct 0xffff888100a0b2a0: function drain_local_pages_wq
CPU:3 [LOST 12 EVENTS]
              rt-1000  [002] d.h1.  100.000700: irq_noise: local_timer:236 start 100.000695000 durat
     kworker/1:2-90    [001]  100.000900: workqueue_execute_start: work struct 0xffff888100a0b2a0: function drain_local_pages_wq
       <idle>-0       [000]  101.000000: sched_switch:         swapper/0:0 [120] R ==> x:1 [120]
     kworker/0:1-
"""


def _parse(text: str = SAMPLE) -> tuple[dict, list[str]]:
    warnings: list[str] = []
    return parse_trace_cmd_report(text, warnings.append), warnings


def test_noise_per_cpu_from_osnoise_events() -> None:
    res, _ = _parse()
    assert res["source"] == "trace-cmd report"
    assert res["duration_s"] == pytest.approx(1.0)  # 100.000000 .. 101.000000
    cpus = {c["cpu"]: c for c in res["cpus"]}
    assert sorted(cpus) == [1, 2, 3]  # CPU 0 had no noise or work event
    c2 = cpus[2]
    assert c2["interference"] == {"irq": 2, "softirq": 1, "thread": 1, "nmi": 0}
    assert c2["noise_ns"] == 20_000 + 5_000 + 3_000 + 4_000
    # the two IRQs follow one another (200..205, 205..208): one 8 us episode; the softirq alone
    assert c2["max_single_noise_ns"] == 20_000
    assert c2["available_pct"] == pytest.approx(100 * (1e9 - 32_000) / 1e9)
    assert c2["sources"] == {"TIMER": 1, "call_function_single": 1, "drain_local_pages_wq": 1,
                             "kworker/2:1": 1, "local_timer": 1}
    assert c2["workqueue"] == {"drain_local_pages_wq": {"runs": 1, "total_ns": 18_000,
                                                        "max_ns": 18_000}}
    c3 = cpus[3]
    assert c3["interference"] == {"irq": 0, "softirq": 0, "thread": 1, "nmi": 1}
    # an old kernel's workqueue_execute_end without the function: matched by the work pointer
    assert c3["workqueue"]["vmstat_update"]["total_ns"] == 10_000


def test_workqueue_only_cpu_counts_kworker_time_as_thread_noise() -> None:
    res, _ = _parse()
    c1 = {c["cpu"]: c for c in res["cpus"]}[1]
    assert c1["interference"] == {"thread": 1}
    assert c1["noise_ns"] == c1["max_single_noise_ns"] == 30_000


def test_bad_lines_warn_and_the_import_goes_on() -> None:
    res, warnings = _parse()
    assert res["skipped_lines"] == 2
    assert any("line 15" in w and "lost 12 events" in w for w in warnings)
    assert any("line 16" in w and "malformed irq_noise" in w for w in warnings)
    assert any("still running at the end" in w and "drain_local_pages_wq" in w for w in warnings)
    assert any("line 19" in w and "cut off" in w for w in warnings)
    assert len(warnings) == 4


def test_printed_in_the_rtla_table() -> None:
    res, _ = _parse()
    rows = [ln.split() for ln in osnoise_top([("real", res)]).splitlines()[1:-1]]
    cpu2 = next(r for r in rows if r[0] == "2")
    # CPU Period Runtime Noise %Aval MaxNoise MaxSingle HW NMI IRQ Softirq Thread
    assert cpu2[:12] == ["2", "#1", "1000000", "32.00", "99.99680", "32.00", "20.00", "-", "0",
                         "2", "1", "1"]


def test_no_event_is_an_error() -> None:
    with pytest.raises(PcplabError, match="no workqueue_execute_start"):
        _parse("cpus=2\n   <idle>-0  [000]  1.000000: sched_switch: a ==> b\n")


def test_cli_import(tmp_path: Path) -> None:
    (tmp_path / "report.txt").write_text(SAMPLE)
    run = [sys.executable, "-c", "from pcplab.cli import main; main()"]
    db = str(tmp_path / "r.db")
    imp = subprocess.run([*run, "import", "--trace-cmd", "report.txt", "--machine", "box",
                          "--db", db], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert imp.returncode == 0, imp.stderr
    assert imp.stdout.strip() == "report.txt (trace-cmd report, CPUs 1,2,3) -> run 1"
    assert imp.stderr.count("pcplab: warning:") == 4
    shown = json.loads(subprocess.run([*run, "runs", "show", "1", "--db", db], cwd=tmp_path,
                                      capture_output=True, text=True, timeout=120).stdout)
    assert shown["workload"] == "noise" and shown["source"] == "trace-cmd"
    assert shown["result"]["cpus"][1]["noise_ns"] == 32_000
