"""`pcplab oom`: the seed's NULL-zone oops under rcu-v1; the hog OOM-killed elsewhere."""

from __future__ import annotations

import functools

import pytest
from click.testing import CliRunner

from pcplab.sim.api_noise import run_oom


@functools.cache
def _oom(design: str, seed: int = 0) -> dict:
    return run_oom("rpi4", design, seed)


def test_rcu_v1_oopses_like_the_seed() -> None:
    res = _oom("rcu-v1")
    assert res["outcome"] == "oops"
    oops = res["oops"]
    assert oops["bug"] == "BUG: kernel NULL pointer dereference, address: 0000000000000058"
    assert oops["pc"] == "__drain_all_pages"
    # the real generator frames, innermost first, from the page fault down
    trace = oops["call_trace"]
    assert trace[:5] == [
        "__drain_all_pages",
        "drain_all_pages",
        "__alloc_pages_direct_reclaim",
        "__alloc_pages_slowpath",
        "__alloc_pages",
    ]
    assert trace[-1] == "do_page_fault"
    assert "handle_mm_fault" in trace
    assert "do_anonymous_page" in trace or "__pte_alloc" in trace
    assert oops["mem_info"]["free"] > 0
    assert res["drains"] == 1  # the very first drain_all_pages(NULL) crashes


@pytest.mark.parametrize("design", ["rcu", "workqueue"])
def test_hog_killed_and_no_page_lost(design: str) -> None:
    res = _oom(design)
    assert res["outcome"] == "oom-killed"
    assert res["oops"] is None
    assert res["pages_lost"] == 0
    assert res["invariant_errors"] == []
    assert res["stats"]["oom_kills"] == 1
    # the slow path did drain: the same call that crashes rcu-v1 ran here
    assert res["drains"] >= 1


def test_oom_cli_exit_codes_and_oops_text() -> None:
    from pcplab.cli import cli

    runner = CliRunner()
    bad = runner.invoke(cli, ["oom", "--design", "rcu-v1"])
    assert bad.exit_code == 1, bad.output
    assert "BUG: kernel NULL pointer dereference, address: 0000000000000058" in bad.output
    assert "pc : __drain_all_pages" in bad.output
    lines = bad.output.splitlines()
    trace = lines[lines.index("Call trace:") + 1 :]
    assert trace[0].split()[0] == "__drain_all_pages"
    assert any(line.split()[0] == "__alloc_pages_direct_reclaim" for line in trace if line)
    assert "free_pcp:" in bad.output


def test_oom_cli_unknown_design_is_usage_error() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "from pcplab.cli import main; main()", "oom", "--design", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "unknown design" in proc.stderr
