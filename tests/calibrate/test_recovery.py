"""The fit recovers a known machine: a measurement made by simulating a profile with a known
effective clock is calibrated on its 1-thread row, and the 2-thread row is predicted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.calibrate.conftest import Run


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2 or (os.cpu_count() or 1) < 2,
                    reason="needs a host with 2 CPUs (the profile is this host's)")
def test_fit_on_one_thread_recovers_clock_and_predicts_two(cli: Run, tree: Path,
                                                          tmp_path: Path) -> None:
    from pcplab.measure.pft import FORMAT
    from pcplab.sim.api import run_pft

    assert cli("calibrate", str(tree), "-o", "base.toml", "--sim-iterations", "1").code == 0
    text = (tmp_path / "base.toml").read_text()
    head, _, rest = text.partition("[costs.clock_ghz]\nvalue = ")
    known = 3.1
    (tmp_path / "known.toml").write_text(head + f"[costs.clock_ghz]\nvalue = {known}"
                                         + rest[rest.index("\n"):])
    mapping = 16 << 20
    sim = run_pft(str(tmp_path / "known.toml"), "spinlock", clients=[1, 2], iterations=3,
                  seed=7, mapping_bytes=mapping)
    doc = {"format": FORMAT, "name": "synthetic", "mapping_bytes": mapping,
           "use_processes": False, "clients": sim["clients"]}
    (tmp_path / "synthetic.json").write_text(json.dumps(doc))
    res = cli("calibrate", "synthetic.json", "--fit-threads", "1", "--design", "spinlock",
              "-o", "fit.toml", "--json")
    assert res.code == 0, res.err
    out = json.loads(res.out)
    assert out["fitted"]["clock_ghz"] == pytest.approx(known, rel=0.02)
    two = next(r for r in out["rows"] if r["clients"] == 2)
    assert two["role"] == "predicted"
    assert abs(two["elapsed_error_pct"]) < 3.0
