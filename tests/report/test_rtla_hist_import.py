"""`rtla osnoise hist` output read back as a noise run (pcplab.report.rtla_hist_import)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pcplab.errors import PcplabError
from pcplab.report.noise import noise_summary, osnoise_top
from pcplab.report.rtla_hist_import import parse_osnoise_hist
from pcplab.report.rtla_import import parse_rtla_capture

# WRITTEN BY HAND, not captured from a machine: the layout follows rtla's printf formats
# (torvalds/linux@025b2179 tools/tracing/rtla/src/osnoise_hist.c: osnoise_hist_header's title,
# time unit, duration and "   CPU-%03d" columns; osnoise_print_stats' "%-6d" index and "%9d "
# counts; osnoise_print_summary's count/min/avg ("%9.2f ")/max).  The numbers are made up but
# consistent: CPU 2 has 173 samples summing to 939 us, CPU 3 has 165 (one over the 256 entries,
# 300 us) summing to 1229 us.  Each line keeps the trailing blank rtla prints.
HAND_WRITTEN = "".join(line + "\n" for line in [
    "[root@box ~]# rtla osnoise hist -c 2-3 -d 30s",
    "# RTLA osnoise histogram",
    "# Time unit is microseconds (us)",
    "# Duration:   0 00:00:30",
    "Index   CPU-002   CPU-003",
    "5           120        98 ",
    "6            40        51 ",
    "7             9        12 ",
    "8             3         0 ",
    "12            1         2 ",
    "25            0         1 ",
    "over:         0         1 ",
    "count:      173       165 ",
    "min:          5         5 ",
    "avg:       5.43      7.45 ",
    "max:         12       300 ",
])

# The example in the kernel's documentation (torvalds/linux@96b546c2
# Documentation/tools/rtla/rtla-osnoise-hist.rst, "-b 10 -E 25" on 12 CPUs, first 4 columns
# kept): an older rtla that printed avg as an integer.
DOCUMENTED = """\
# RTLA osnoise histogram
# Time unit is microseconds (us)
# Duration:   0 00:01:00
Index   CPU-000   CPU-001   CPU-002   CPU-003
0         42982     46287     51779     53740
10        12224      8356      2912       878
20            8         5        12         2
30            1         1         0         0
over:         0         0         0         0
count:    55215     54649     54703     54620
min:          0         0         0         0
avg:          0         0         0         0
max:         30        30        20        20
"""


def _parse(text: str) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    warnings: list[str] = []
    return parse_osnoise_hist(text, warnings.append), warnings


def test_hand_written_capture() -> None:
    res, warnings = _parse(HAND_WRITTEN)
    assert warnings == []
    assert (res["source"], res["unit"], res["duration_s"], res["bucket_size"]) == \
        ("rtla osnoise hist", "us", 30.0, 1)
    c2, c3 = res["cpus"]
    assert (c2["cpu"], c3["cpu"]) == (2, 3) and c2["isolated"]
    assert c2["noise_histogram"] == {"unit": "us", "buckets": {"5": 120, "6": 40, "7": 9, "8": 3,
                                                               "12": 1},
                                     "over": 0, "count": 173, "min": 5.0, "avg": 5.43,
                                     "max": 12.0}
    assert c3["noise_histogram"]["buckets"]["25"] == 1 and c3["noise_histogram"]["over"] == 1
    # total noise = count x avg (the sum of the samples, to avg's two decimals), Max Single = max
    assert c2["noise_ns"] == round(173 * 5.43 * 1000) and abs(c2["noise_ns"] - 939_000) < 1000
    assert c3["max_single_noise_ns"] == 300_000 and c3["available_pct"] is None
    assert c3["rtla"]["Noise"] == round(165 * 7.45, 2) and c3["rtla"]["Max Single"] == 300.0
    assert parse_rtla_capture(HAND_WRITTEN, warnings.append) == res  # --rtla tells hist from top


def test_documented_capture() -> None:
    res, warnings = _parse(DOCUMENTED)
    assert warnings == []  # every column's buckets add up to its count:
    assert [c["cpu"] for c in res["cpus"]] == [0, 1, 2, 3] and res["bucket_size"] == 10
    assert res["cpus"][0]["noise_histogram"]["buckets"] == {"0": 42982, "10": 12224, "20": 8,
                                                            "30": 1}
    assert [c["max_single_noise_ns"] for c in res["cpus"]] == [30_000, 30_000, 20_000, 20_000]


def test_cut_off_and_damaged_lines_warn_and_go_on() -> None:
    lines = HAND_WRITTEN.splitlines()
    damaged = "\n".join([*lines[:7], "7             9", "garbage here", *lines[8:],
                         "3 (0.12%) events missed, results might not be accurate",
                         "max:         12"])  # the last line is cut: no newline, too few values
    res, warnings = _parse(damaged)
    assert len(warnings) == 6, warnings
    assert warnings[0].startswith("line 8: 1 counts for 2 CPUs")
    assert warnings[1].startswith("line 9: not a histogram row")
    assert warnings[2] == "rtla reported: 3 (0.12%) events missed, results might not be accurate"
    assert warnings[3].startswith("line 19: cut off (no newline")
    # the damaged row's samples are missing from both CPUs' buckets, and the check says so
    assert warnings[4].startswith("CPU 2: the bucket counts add up to 164 but 'count:' says 173")
    assert warnings[5].startswith("CPU 3: the bucket counts add up to 153 but 'count:' says 165")
    c2 = res["cpus"][0]
    assert "7" not in c2["noise_histogram"]["buckets"] and c2["noise_histogram"]["count"] == 173
    assert c2["noise_histogram"]["max"] == 12.0 and res["cpus"][1]["noise_histogram"]["max"] == 300
    assert res["missed_events"].startswith("3 (0.12%)")


def test_cut_last_line_is_left_out() -> None:
    res, warnings = _parse(HAND_WRITTEN.rstrip("\n") + "\n" + "max:  ")
    assert any("no newline at the end" in w for w in warnings)
    assert res["cpus"][1]["noise_histogram"]["max"] == 300.0


def test_no_samples_and_bad_captures() -> None:
    empty, warnings = _parse("# RTLA osnoise histogram\n# Time unit is microseconds (us)\n"
                             "# Duration:   0 00:00:10\nIndex\n"
                             "over: 0\ncount: 0\nmin: 0\navg: 0\nmax: 0\n")
    assert empty["cpus"] == [] and warnings == []
    with pytest.raises(PcplabError, match="timerlat hist"):
        _parse("# RTLA timerlat histogram\n")
    with pytest.raises(PcplabError, match="no-index"):
        _parse("# RTLA osnoise histogram\n   CPU-000   CPU-001\n        1         2 \n")
    with pytest.raises(PcplabError, match="no-header"):
        _parse("5           120        98 \nover:         0         1 \n")
    with pytest.raises(PcplabError, match="no 'Index CPU-NNN"):
        _parse("# RTLA osnoise histogram\nhello\n")
    with pytest.raises(PcplabError, match="no row under it"):
        _parse("# RTLA osnoise histogram\nIndex   CPU-002\n")


def test_beside_the_model_in_rtla_columns() -> None:
    real, _ = _parse(HAND_WRITTEN)
    model = {"duration_s": 0.05, "cpus": [
        {"cpu": 2, "isolated": True, "interference": {"ipi": 15, "thread": 20},
         "noise_ns": 178590, "max_single_noise_ns": 53360, "available_pct": 99.64282}]}
    rows = [ln.split() for ln in osnoise_top([("box", real), ("model", model)]).splitlines()[1:4]]
    # hist knows the total noise and Max Single only; the rest is '-'
    assert rows[0][:13] == ["box", "2", "-", "-", "939.39", "-", "-", "12.00", "-", "-", "-", "-",
                            "-"]
    assert rows[2][:8] == ["model", "2", "#1", "50000", "178.59", "99.64282", "178.59", "53.36"]
    summary = {ln[:17].strip(): ln[17:].split() for ln in
               noise_summary([("box", real), ("model", model)]).splitlines()}
    assert summary["Noise (us)"] == ["2168.64", "178.59"]  # 939.39 + 1229.25
    assert summary["% CPU Aval (min)"] == ["-", "99.64282"]
    assert summary["Max Single (us)"] == ["300.00", "53.36"]


def test_cli_import_rtla_hist(tmp_path: Path) -> None:
    (tmp_path / "hist.txt").write_text(HAND_WRITTEN.replace("7             9        12 ",
                                                            "7             9"))
    run = [sys.executable, "-c", "from pcplab.cli import main; main()"]
    db = str(tmp_path / "r.db")
    imp = subprocess.run([*run, "import", "--rtla", "hist.txt", "--machine", "box", "--db", db],
                         cwd=tmp_path, capture_output=True, text=True)
    assert imp.returncode == 0, imp.stderr
    assert imp.stdout.strip() == "hist.txt (rtla osnoise hist, CPUs 2,3) -> run 1"
    assert imp.stderr.startswith("pcplab: warning: line 8: 1 counts for 2 CPUs")
    shown = json.loads(subprocess.run([*run, "runs", "show", "1", "--db", db], cwd=tmp_path,
                                      capture_output=True, text=True).stdout)
    assert shown["workload"] == "noise" and shown["source"] == "rtla"
    assert shown["result"]["cpus"][1]["noise_histogram"]["over"] == 1
    csv_rows = subprocess.run([*run, "runs", "export", "1", "--format", "csv", "--db", db],
                              cwd=tmp_path, capture_output=True, text=True).stdout.splitlines()
    hist_rows = [r.split(",")[-4:] for r in csv_rows if ",noise_histogram_us," in r]
    assert hist_rows[:2] == [["noise_histogram_us", "2", "5", "120"],
                             ["noise_histogram_us", "2", "6", "40"]]
    assert len(hist_rows) == 4 + 4  # the cut row 7 is left out: CPU 2 5,6,8,12; CPU 3 5,6,12,25
    (tmp_path / "nohdr.txt").write_text("5           120        98 \nover:         0         1 \n")
    nohdr = subprocess.run([*run, "import", "--rtla", "nohdr.txt", "--db", db], cwd=tmp_path,
                           capture_output=True, text=True)
    assert nohdr.returncode == 2 and nohdr.stderr.startswith("pcplab: error: histogram rows")
    assert "Traceback" not in nohdr.stderr
