"""`pcplab noise`: what drains do to isolated CPUs, per design."""

from __future__ import annotations

import functools
import json

import pytest
from click.testing import CliRunner

from pcplab.errors import PcplabError
from pcplab.sim.api_noise import latency_summary, run_noise

ISO = [2, 3]
DURATION = 0.1  # 10 drains at 100/s


@functools.cache
def _noise(design: str, task: str, seed: int = 0) -> dict:
    return run_noise(
        "rpi4", design, ISO, load="drain-storm", duration_s=DURATION, seed=seed, isolated_task=task
    )


def _iso(res: dict) -> list[dict]:
    return [c for c in res["cpus"] if c["isolated"]]


def test_workqueue_shows_thread_interference_for_every_drain_that_found_pages() -> None:
    res = _noise("workqueue", "fifo")
    assert res["drains"] >= 8
    for c in _iso(res):
        assert c["drains_found_pages"] >= 1
        assert c["interference"]["thread"] >= c["drains_found_pages"]
        assert c["sources"].get(f"kworker/{c['cpu']}", 0) >= c["drains_found_pages"]
        assert c["noise_ns"] > 0 and c["available_pct"] < 100.0
        assert c["max_single_noise_ns"] <= c["noise_ns"]


@pytest.mark.parametrize("design", ["rcu", "spinlock"])
def test_remote_drain_designs_leave_isolated_cpus_alone(design: str) -> None:
    res = _noise(design, "fifo")
    assert res["drains"] >= 8
    for c in _iso(res):
        assert c["drains_found_pages"] >= 1  # there was something to drain on them ...
        assert c["interference"] == {"irq": 0, "ipi": 0, "thread": 0}  # ... done from afar
        assert c["noise_ns"] == 0 and c["available_pct"] == 100.0


def test_drain_latency_depends_on_isolated_cpus_only_for_workqueue() -> None:
    def mean(design: str, task: str) -> float:
        return _noise(design, task)["drain_latency_ns"]["mean"]

    wq_busy, wq_idle = mean("workqueue", "fifo"), mean("workqueue", "idle")
    # the kworker waits until the FIFO loop sleeps: up to 90 % of its 1 ms period
    assert wq_busy > 5 * wq_idle and wq_busy - wq_idle > 100_000
    # one grace period either way, drain by drain (the last drain may start just inside the
    # window in one run and just after it in the other, so the counts can differ by one)
    rcu_busy = _noise("rcu", "fifo")["drain_latency_ns"]["samples"]
    rcu_idle = _noise("rcu", "idle")["drain_latency_ns"]["samples"]
    assert abs(len(rcu_busy) - len(rcu_idle)) <= 1 and min(len(rcu_busy), len(rcu_idle)) >= 8
    assert all(abs(b - i) < 0.02 * i for b, i in zip(rcu_busy, rcu_idle, strict=False))
    sl_busy, sl_idle = mean("spinlock", "fifo"), mean("spinlock", "idle")
    # only the extra pages to free differ (µs), no waiting for the isolated CPUs
    assert abs(sl_busy - sl_idle) < 0.1 * (wq_busy - wq_idle)


@pytest.mark.parametrize("design", ["workqueue", "rcu", "spinlock"])
def test_storm_loses_no_page_and_checks_every_drain(design: str) -> None:
    res = _noise(design, "fifo")
    assert res["pages_lost"] == 0
    assert res["invariant_errors"] == []
    assert res["invariant_checks"] == res["drains"] + 1
    assert len(res["drain_latency_ns"]["samples"]) == res["drains"]


def test_same_seed_same_result_other_seed_differs() -> None:
    a = run_noise("rpi4", "workqueue", ISO, duration_s=0.03, seed=3)
    b = run_noise("rpi4", "workqueue", ISO, duration_s=0.03, seed=3)
    c = run_noise("rpi4", "workqueue", ISO, duration_s=0.03, seed=4)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert a["drain_latency_ns"]["samples"] != c["drain_latency_ns"]["samples"]


def test_latency_summary_nearest_rank() -> None:
    s = latency_summary(list(range(1, 201)))
    assert (s["min"], s["max"], s["p99"], s["mean"]) == (1, 200, 198, 100.5)
    assert latency_summary([])["mean"] is None


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--isolated", "2-x"], "is not N or N-M"),
        (["--isolated", "3-2"], "backwards"),
        (["--isolated", "9"], "outside 0..3"),
        (["--isolated", "0-3"], "every CPU"),
    ],
)
def test_cli_bad_cpu_lists_are_one_line_errors(args: list[str], needle: str) -> None:
    import subprocess
    import sys

    cmd = ["noise", "--machine", "rpi4", "--design", "rcu", "--duration", "0.01", *args]
    proc = subprocess.run(
        [sys.executable, "-c", "from pcplab.cli import main; main()", *cmd],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1 and needle in proc.stderr
    assert proc.stdout == ""


def test_api_rejects_bad_load_and_rate() -> None:
    with pytest.raises(PcplabError, match="unknown load"):
        run_noise("rpi4", "rcu", ISO, load="bogus")
    with pytest.raises(PcplabError, match="positive"):
        run_noise("rpi4", "rcu", ISO, drain_rate=0)


def test_cli_table_and_json() -> None:
    from pcplab.cli import cli

    runner = CliRunner()
    args = ["noise", "-m", "rpi4", "-d", "spinlock", "--isolated", "2-3", "--duration", "0.02"]
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert "% CPU Aval" in out.stdout and "drain_all_pages latency" in out.stdout
    assert [ln.split()[0] for ln in out.stdout.splitlines()[3:5]] == ["2", "3"]  # isolated only
    js = runner.invoke(cli, [*args, "--json"])
    data = json.loads(js.stdout)
    assert [c["cpu"] for c in data["cpus"] if c["isolated"]] == [2, 3]
    assert set(data["drain_latency_ns"]) == {"min", "mean", "p99", "max", "samples"}


@functools.cache
def _fifo_busy(design: str, rt_runtime_us: int) -> dict:
    # RT period scaled down 10x (100 ms) so that two periods fit in a short run
    return run_noise(
        "rpi4",
        design,
        ISO,
        load="drain-storm",
        duration_s=0.2,
        isolated_task="fifo-busy",
        rt_runtime_us=rt_runtime_us,
        rt_period_us=100_000,
    )


def test_rt_busy_loops_stall_workqueue_drains_until_rt_throttling() -> None:
    wq = _fifo_busy("workqueue", 95_000)
    lat = wq["drain_latency_ns"]
    # a drain that finds pages on a CPU whose FIFO poller never sleeps waits for its kworker,
    # which runs only in the throttled 5 ms at the end of each 100 ms RT period
    assert lat["max"] >= 50_000_000
    assert lat["max"] <= 100_000_000 + 5_000_000
    for c in _iso(wq):
        assert c["interference"]["thread"] >= 1
    # the remote designs never wait for the isolated CPUs
    for design in ("spinlock", "rcu"):
        res = _fifo_busy(design, 95_000)
        assert res["drain_latency_ns"]["max"] < 40_000_000  # rcu: grace periods only
        for c in _iso(res):
            assert c["interference"]["thread"] == 0
        assert res["pages_lost"] == 0
    assert wq["pages_lost"] == 0


def test_shorter_rt_runtime_means_shorter_workqueue_stalls() -> None:
    long_rt = _fifo_busy("workqueue", 95_000)["drain_latency_ns"]["max"]
    short_rt = _fifo_busy("workqueue", 20_000)["drain_latency_ns"]["max"]
    assert short_rt < long_rt / 2


def test_bad_rt_runtime_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from pcplab.cli import main

    with pytest.raises(PcplabError, match="RT runtime"):
        run_noise("rpi4", "rcu", ISO, duration_s=0.01, rt_runtime_us=0)
    with pytest.raises(SystemExit) as e:
        main(["noise", "-m", "rpi4", "-d", "rcu", "--isolated", "2-3", "--rt-runtime-us", "-5"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--rt-runtime-us" in err


def test_progress_reports_do_not_change_the_result() -> None:
    seen: list[tuple[int, int]] = []
    plain = run_noise("rpi4", "workqueue", ISO, duration_s=0.03, seed=3)
    watched = run_noise(
        "rpi4", "workqueue", ISO, duration_s=0.03, seed=3, progress=lambda t, e: seen.append((t, e))
    )
    assert json.dumps(plain, sort_keys=True) == json.dumps(watched, sort_keys=True)
    assert len(seen) == 99 and seen == sorted(seen) and seen[-1][1] == 30_000_000


def test_kworker_preempts_a_sched_other_poller_at_once_but_waits_for_fifo() -> None:
    # CFS wakeup preemption: behind a SCHED_OTHER poller the drain's kworker runs within tens of
    # microseconds; behind a SCHED_FIFO loop it waits for the loop to sleep (up to 0.9 ms)
    lat = {t: _noise("workqueue", t)["drain_latency_ns"] for t in ("fifo", "other", "idle")}
    assert lat["other"]["max"] < 100_000
    assert lat["fifo"]["mean"] > 5 * lat["other"]["mean"]
    assert lat["idle"]["mean"] <= lat["other"]["mean"]
