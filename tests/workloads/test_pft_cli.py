"""`pcplab pft`: table output, JSON output, bad input -> one line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from pcplab.cli.sim import pft


def test_pft_json_matches_api():
    from pcplab.sim.api import run_pft

    r = CliRunner().invoke(
        pft, ["-m", "xeon-e5-2640v3", "-d", "rcu", "--clients", "1,3", "-n", "2", "--json"]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data == json.loads(json.dumps(run_pft("xeon-e5-2640v3", "rcu", [1, 3], 2)))


def test_pft_table_lists_means_and_samples():
    r = CliRunner().invoke(pft, ["-m", "xeon-e5-2640v3", "-d", "workqueue", "--clients", "1-2",
                                 "-n", "2"])
    assert r.exit_code == 0, r.output
    assert "clients" in r.output and "samples" in r.output
    assert r.output.count("/") >= 8  # 2 counts x 2 samples x user/system/elapsed


def test_pft_bad_input_is_one_line_exit_2():
    for args in (["pft", "-m", "nope", "-d", "rcu"], ["pft", "-m", "xeon-e5-2640v3", "-d", "rcu",
                                                      "--clients", "1,x"]):
        p = subprocess.run(
            [sys.executable, "-c", "from pcplab.cli import main; main()", *args],
            capture_output=True, text=True,
        )
        assert p.returncode == 2, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and "error" in p.stderr
