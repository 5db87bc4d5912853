"""The Python API: result objects, no backend switching, `python -m pcplab`, run provenance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import pcplab
from pcplab.api import COMPARE_DEFAULTS
from pcplab.store.db import Store

SMALL = {"machine": "m", "designs": "vanilla,rcu", "clients": [1, 2], "iterations": 3,
         "backend": "fake"}


def test_import_chooses_no_backend_and_no_pyplot() -> None:
    code = ("import sys, matplotlib\n"
            "import pcplab, pcplab.report.plots, pcplab.report.compare\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
            "print(dict.__getitem__(matplotlib.rcParams, 'backend'))\n")
    env = dict(os.environ, MPLBACKEND="svg")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "svg"


def test_python_dash_m() -> None:
    out = subprocess.run([sys.executable, "-m", "pcplab", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "compare" in out.stdout


def test_defaults_are_the_command_lines() -> None:
    from pcplab.cli import report as cli

    assert COMPARE_DEFAULTS["machine"] == cli.DEFAULT_MACHINE
    assert ",".join(COMPARE_DEFAULTS["designs"]) == cli.DEFAULT_DESIGNS
    assert COMPARE_DEFAULTS["iterations"] == cli.DEFAULT_ITERATIONS
    assert COMPARE_DEFAULTS["seed"] == cli.DEFAULT_SEED
    assert ",".join(map(str, COMPARE_DEFAULTS["isolated"])) == cli.DEFAULT_ISOLATED
    assert COMPARE_DEFAULTS["drain_rate"] == cli.DEFAULT_DRAIN_RATE
    assert COMPARE_DEFAULTS["duration"] == cli.DEFAULT_DURATION
    assert COMPARE_DEFAULTS["check_bound"] == cli.DEFAULT_CHECK_BOUND


def test_compare_result_object(tmp_path: Path) -> None:
    res = pcplab.compare(db=tmp_path / "r.db", **SMALL)
    assert (res.ran, res.reused) == (6, 0)
    assert res.text.splitlines()[3].startswith("summary against vanilla")  # after the NOTE
    assert res.summary.designs[1].label == "rcu"
    df = res.to_frame()
    assert set(df.columns) >= {"op", "metric", "clients", "run", "mean", "pct", "significant"}
    assert len(df) == 2 * 4 * 2  # 2 client counts x 4 metrics x 2 runs
    row = df[(df.op == "elapsed-2") & (df.run == "5.17-rcu")].iloc[0]
    assert row["pct"] == pytest.approx(res.data["pft"]["elapsed-2"][1]["pct"])
    fig = res.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert "xeon" not in fig.texts[0].get_text() and "m, vanilla vs rcu" in fig.texts[0].get_text()
    for kind in ("times", "noise", "latency"):
        assert isinstance(res.plot(kind), Figure)
    html = res._repr_html_()
    assert '<table class="summary">' in html and "pft timings" in html
    again = pcplab.compare(db=tmp_path / "r.db", **SMALL)
    assert (again.ran, again.reused) == (0, 6) and again.text == res.text
    with pytest.raises(pcplab.errors.PcplabError, match="unknown significance rule"):
        pcplab.compare(significance="nope", db=tmp_path / "r.db", **SMALL)


def test_runs_record_provenance_but_output_does_not_change(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    first = pcplab.compare(db=db, **SMALL)
    fresh = pcplab.compare(db=db, fresh=True, **SMALL)
    # run ids change with --fresh; nothing else may (the wall time stays out of the report)
    strip = lambda d: {k: v for k, v in d.items() if k != "runs"}  # noqa: E731
    assert fresh.text == first.text and strip(fresh.data) == strip(first.data)
    with Store(db) as store:
        runs = store.runs()
    prov = runs[0].result["provenance"]
    assert set(prov) >= {"python", "numpy", "matplotlib", "pcplab", "host", "command", "wall_s"}
    assert prov["wall_s"] >= 0
    assert all("provenance" not in r for r in first.data["noise"].values())


def test_check_is_a_function_and_the_checker_package() -> None:
    from pcplab.check import api as check_api

    assert callable(pcplab.check) and pcplab.check.api is check_api
    import pcplab.check.api as again  # the subpackage stays importable every way

    assert again is check_api
    assert pcplab.check.__doc__ and "checker" in pcplab.check.__doc__


def test_result_objects_of_the_single_workloads() -> None:
    from tests.fake_backend import fake_run_check, fake_run_noise, fake_run_pft

    from pcplab.api import CheckResult, NoiseResult, PftResult

    pft = PftResult(fake_run_pft("m", "rcu", [1, 4], 3, 1))
    assert len(pft.to_frame()) == 2 * 3 and "Amean" in pft._repr_html_()
    assert isinstance(pft.plot(), Figure)
    noise = NoiseResult(dict(fake_run_noise("m", "workqueue", [2, 3], "drain-storm", 400, 0.05, 1),
                             duration_s=0.05))
    frame = noise.to_frame()
    assert list(frame["CPU"]) == [2, 3] and "IRQ" in frame.columns and "Max Noise" in frame.columns
    assert list(noise.to_frame(all_cpus=True)["CPU"]) == [0, 1, 2, 3]
    assert "% CPU Aval" in noise._repr_html_()
    verdict = CheckResult(fake_run_check("rcu"))
    assert verdict.ok and verdict.to_frame()["design"][0] == "rcu"


def test_noise_wakeup_latency_is_the_json_of_pcplab_noise() -> None:
    import json

    from click.testing import CliRunner

    from pcplab.cli import cli

    res = pcplab.noise("rpi4", "workqueue", isolated=[2, 3], duration=0.05)
    out = CliRunner().invoke(cli, ["noise", "-m", "rpi4", "-d", "workqueue", "--isolated", "2-3",
                                   "--duration", "0.05", "--json"])
    assert out.exit_code == 0, out.output
    printed = json.loads(out.stdout)
    assert res.wakeup_latency == printed["wakeup_latency"]
    assert res.osnoise_top == printed["osnoise_top"]
    assert [r["CPU"] for r in res.wakeup_latency] == [2, 3]
    assert all(r["Cycles"] > 0 and r["Cycles"] == sum(r["Histogram"].values())
               for r in res.wakeup_latency)
    frame = res.to_frame("wakeup")
    assert list(frame.columns) == ["CPU", "Task", "Cycles", "Min", "Avg", "Max", "p99"]
    assert list(frame["Max"]) == [r["Max"] for r in res.wakeup_latency]
    assert "Wakeup latency of the isolated tasks" in str(res)
    with pytest.raises(pcplab.errors.PcplabError, match="unknown table"):
        res.to_frame("nope")
