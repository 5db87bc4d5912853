"""``pcplab designs`` and ``pcplab check`` through the real entry point (exit codes, output)."""

from __future__ import annotations

import json
import subprocess
import sys


def run(*args):
    return subprocess.run(
        [sys.executable, "-c", "from pcplab.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_designs_list_and_json():
    p = run("designs", "--mutants", "--json")
    assert p.returncode == 0
    rows = json.loads(p.stdout)
    names = [r["name"] for r in rows]
    assert "rcu" in names and "workqueue-no-flush" in names
    assert all("bytes" in r["size"] for r in rows)
    p = run("designs")
    assert (
        p.returncode == 0 and "per_cpu_pages" in p.stdout and "workqueue-no-flush" not in p.stdout
    )


def test_check_finds_seed_oops_exit_1_and_replay():
    p = run("check", "--design", "rcu-v1")
    assert p.returncode == 1
    assert "BUG: kernel NULL pointer dereference" in p.stdout
    token = next(line.split()[-1] for line in p.stdout.splitlines() if "--replay" in line)
    q = run("check", "--replay", token)
    assert q.returncode == 1 and "RIP: __drain_all_pages" in q.stdout


def test_check_clean_exit_0_json():
    p = run("check", "--design", "rcu", "--scenario", "alloc-vs-zone-drain", "--bound", "1",
            "--json")  # fmt: skip
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["violation"] is None and r["exhaustive"] and r["executions"] > 0


def test_check_bad_usage_exit_2():
    for args in (("check", "--design", "nope"), ("check",), ("check", "--design", "rcu",
                 "--scenario", "zzz"), ("check", "--replay", "garbage")):  # fmt: skip
        p = run(*args)
        assert p.returncode == 2, args
        assert p.stderr.startswith("pcplab: error:") and "Traceback" not in p.stderr


def test_list_scenarios():
    p = run("check", "--list-scenarios")
    assert p.returncode == 0 and "free-vs-global-drain" in p.stdout
