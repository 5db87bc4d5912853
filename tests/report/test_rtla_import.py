"""Captured `rtla osnoise top` output read back, and printed beside a simulated run."""

from __future__ import annotations

import pytest

from pcplab.errors import PcplabError
from pcplab.report.noise import noise_summary, osnoise_top
from pcplab.report.rtla_import import parse_osnoise_top

# The capture in the kernel's documentation, Documentation/tools/rtla/rtla-osnoise-top.rst
# (torvalds/linux@5181afcd, "rtla osnoise top -P F:1 -c 0-3 -r 900000 -d 1M -q" on a f34 box).
CAPTURE = """\
[root@f34 ~]# rtla osnoise top -P F:1 -c 0-3 -r 900000 -d 1M -q
                                          Operating System Noise
duration:   0 00:01:00 | time is in us
CPU Period       Runtime        Noise  % CPU Aval   Max Noise   Max Single          HW          NMI          IRQ      Softirq       Thread
  0 #59         53100000       304896    99.42580        6978           56         549            0        53111         1590           13
  1 #59         53100000       338339    99.36282        8092           24         399            0        53130         1448           31
  2 #59         53100000       290842    99.45227        6582           39         855            0        53110         1406           12
  3 #59         53100000       204935    99.61405        6251           33         290            0        53156         1460           12
"""


def test_documented_capture() -> None:
    res = parse_osnoise_top(CAPTURE)
    assert res["duration_s"] == 60.0 and res["mode"] == "osnoise"
    assert [c["cpu"] for c in res["cpus"]] == [0, 1, 2, 3]
    c0 = res["cpus"][0]
    assert c0["noise_ns"] == 304896_000 and c0["max_single_noise_ns"] == 56_000
    assert c0["available_pct"] == 99.42580
    assert c0["interference"] == {"hw": 549, "nmi": 0, "irq": 53111, "softirq": 1590,
                                  "thread": 13}
    assert c0["rtla"]["Period"] == 59 and c0["rtla"]["Max Noise"] == 6978


def test_printed_in_rtla_columns_beside_the_model() -> None:
    real = parse_osnoise_top(CAPTURE)
    model = {"duration_s": 0.05, "cpus": [
        {"cpu": 2, "isolated": True, "interference": {"irq": 0, "ipi": 15, "thread": 20},
         "noise_ns": 178590, "max_single_noise_ns": 53360, "available_pct": 99.64282}]}
    text = osnoise_top([("f34", real), ("model", model)])
    rows = [ln.split() for ln in text.splitlines()[1:-1]]
    # rtla's own numbers come back unchanged (times in us)
    assert rows[0][:13] == ["f34", "0", "#59", "53100000", "304896.00", "99.42580", "6978.00",
                            "56.00", "549", "0", "53111", "1590", "13"]
    # the model's IPIs are counted as IRQs, as osnoise counts them
    assert rows[4][:13] == ["model", "2", "#1", "50000", "178.59", "99.64282", "178.59", "53.36",
                            "-", "-", "15", "-", "20"]
    summary = {ln[:17].strip(): ln[17:].split() for ln in
               noise_summary([("f34", real), ("model", model)]).splitlines()}
    assert summary["HW"] == ["2093", "-"] and summary["Thread"] == ["68", "20"]


def test_last_refresh_of_a_terminal_capture() -> None:
    first = CAPTURE.replace("304896", "1000").replace("#59", "#1 ")
    screen = "\x1bc\x1b[2;37;40m" + first + "\x1b[0;0;0m" + "\x1bc" + CAPTURE
    res = parse_osnoise_top(screen)
    assert res["cpus"][0]["noise_ns"] == 304896_000


def test_hwnoise_and_bad_input() -> None:
    hw = ("duration:   0 00:00:10 | time is in us\n"
          "CPU Period       Runtime        Noise  % CPU Aval   Max Noise   Max Single"
          "          HW          NMI\n"
          "  0 #9          7500000          417    99.99444          40           15"
          "           30            0\n")
    res = parse_osnoise_top(hw)
    assert res["mode"] == "hwnoise" and res["cpus"][0]["interference"] == {"hw": 30, "nmi": 0}
    with pytest.raises(PcplabError, match="no 'CPU Period"):
        parse_osnoise_top("hello\n")
    with pytest.raises(PcplabError, match="no CPU line"):
        parse_osnoise_top(CAPTURE.split("  0 #59")[0])


def test_cli_import_rtla(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import subprocess
    import sys

    (tmp_path / "top.txt").write_text(CAPTURE)
    run = [sys.executable, "-c", "from pcplab.cli import main; main()"]
    db = str(tmp_path / "r.db")
    imp = subprocess.run([*run, "import", "--rtla", "top.txt", "--machine", "f34", "--db", db],
                         cwd=tmp_path, capture_output=True, text=True)
    assert imp.returncode == 0, imp.stderr
    assert imp.stdout.strip() == "top.txt (rtla osnoise top, CPUs 0,1,2,3) -> run 1"
    shown = json.loads(subprocess.run([*run, "runs", "show", "1", "--db", db], cwd=tmp_path,
                                      capture_output=True, text=True).stdout)
    assert shown["workload"] == "noise" and shown["source"] == "rtla"
    assert shown["result"]["cpus"][3]["rtla"]["Noise"] == 204935.0
    both = subprocess.run([*run, "import", "--rtla", "top.txt", "--mmtests", ".", "--db", db],
                          cwd=tmp_path, capture_output=True, text=True)
    assert both.returncode == 2 and "exactly one of" in both.stderr
