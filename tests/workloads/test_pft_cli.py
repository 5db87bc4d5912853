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
    data = json.loads(r.stdout)
    assert data == json.loads(json.dumps(run_pft("xeon-e5-2640v3", "rcu", [1, 3], 2)))


def test_pft_table_lists_means_and_samples():
    r = CliRunner().invoke(pft, ["-m", "xeon-e5-2640v3", "-d", "workqueue", "--clients", "1-2",
                                 "-n", "2"])
    assert r.exit_code == 0, r.output
    assert "clients" in r.stdout and "samples" in r.stdout
    assert r.stdout.count("/") >= 8  # 2 counts x 2 samples x user/system/elapsed


def test_pft_bad_input_is_one_line_exit_2():
    for args in (["pft", "-m", "nope", "-d", "rcu"], ["pft", "-m", "xeon-e5-2640v3", "-d", "rcu",
                                                      "--clients", "1,x"]):
        p = subprocess.run(
            [sys.executable, "-c", "from pcplab.cli import main; main()", *args],
            capture_output=True, text=True,
        )
        assert p.returncode == 2, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and "error" in p.stderr


def test_pft_placement_option_changes_where_threads_run():
    import pytest

    from pcplab.errors import PcplabError
    from pcplab.sim.api import run_pft

    # EPYC 7742 at 128 threads: the fork-domain rule fills socket 0's 128 logical CPUs (SMT
    # siblings share cores); v5.17's fork balancing uses one core per thread on both sockets
    a = run_pft("epyc-7742", "rcu", [128], 1, placement="fork-domain")
    b = run_pft("epyc-7742", "rcu", [128], 1, placement="v5.17")
    assert (a["placement"], b["placement"]) == ("fork-domain", "v5.17")
    assert a["clients"][0]["pages"] == b["clients"][0]["pages"]
    assert a["clients"][0]["system"] != b["clients"][0]["system"]
    with pytest.raises(PcplabError, match="unknown placement"):
        run_pft("epyc-7742", "rcu", [4], 1, placement="random")
    r = CliRunner().invoke(
        pft, ["-m", "xeon-e5-2640v3", "-d", "rcu", "--clients", "4", "-n", "1",
              "--placement", "v5.17"]
    )
    assert r.exit_code == 0 and "v5.17 placement" in r.output
