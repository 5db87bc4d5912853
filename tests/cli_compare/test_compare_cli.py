"""`pcplab compare` end to end with the fake backend (the store/report path, not the simulator)."""

import json
from pathlib import Path

from .helpers import pcplab

SMALL = ("--clients", "1,2", "--iterations", "3", "--quiet")


def test_compare_text_reuse_and_fresh(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    first = pcplab("compare", *SMALL, "--db", db, "--out", "out", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    for needle in ("pft timings", "pft faults", "Amean     system-1", "Hmean     faults/sec-2",
                   "isolated-CPU noise", "drain_all_pages() latency", "checker", "NOTE: backend"):
        assert needle in out
    assert " 5.17                   5.17                    6.0" in out  # headers from kernels
    assert "vanilla                    rcu               spinlock" in out
    assert "9 run(s) new, 0 reused" in first.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "drain-latency.png", "drain-latency.svg", "noise-per-cpu.png", "noise-per-cpu.svg",
        "pft-diff.png", "pft-diff.svg", "pft-samples.png", "pft-samples.svg", "pft-times.png",
        "pft-times.svg"]
    again = pcplab("compare", *SMALL, "--db", db, cwd=tmp_path)
    assert "0 run(s) new, 9 reused" in again.stderr
    assert again.stdout.split("files:")[0] == out.split("files:")[0]
    assert "files:" not in again.stdout and not (tmp_path / "pcplab-out").exists()  # not asked
    plots = pcplab("compare", *SMALL, "--db", db, "--plots", "p", cwd=tmp_path)
    assert plots.returncode == 0 and len(list((tmp_path / "p").iterdir())) == 10
    brief = pcplab("compare", *SMALL, "--db", db, "--brief", cwd=tmp_path).stdout
    assert brief.startswith(out.split("pft timings")[0]) and "Stddev" not in brief
    assert "Amean     elapsed-2" in brief and "Hmean     faults/sec-2" in brief
    other = pcplab("compare", *SMALL, "--seed", "2", "--db", db, "--no-plots", cwd=tmp_path)
    # exhaustive checker verdicts do not depend on the seed: reused
    assert "6 run(s) new, 3 reused" in other.stderr and other.stdout != again.stdout
    fresh = pcplab("compare", *SMALL, "--db", db, "--no-plots", "--fresh", cwd=tmp_path)
    assert "9 run(s) new, 0 reused" in fresh.stderr and fresh.stdout == again.stdout
    listed = pcplab("runs", "list", "--db", db, cwd=tmp_path).stdout.splitlines()
    assert len(listed) == 1 + 15  # fresh replaced rows instead of adding


def test_compare_json_and_html(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    res = pcplab("compare", *SMALL, "--format", "json", "--no-plots", "--db", db, cwd=tmp_path)
    data = json.loads(res.stdout)
    assert data["names"] == {"workqueue": "5.17-vanilla", "rcu": "5.17-rcu",
                             "spinlock": "6.0-spinlock"}
    assert set(data["tables"]) == {"pft timings", "pft faults"}
    amean = data["pft"]["system-1"]
    assert [e["run"] for e in amean] == ["5.17-vanilla", "5.17-rcu", "6.0-spinlock"]
    assert amean[0]["pct"] == 0.0 and isinstance(amean[1]["significant"], bool)
    assert data["check"]["rcu"]["violation"] is None
    assert "samples" not in data["noise"]["rcu"]["drain_latency_ns"]
    assert [d["label"] for d in data["summary"]["designs"]] == ["vanilla", "rcu", "spinlock"]
    assert data["summary"]["designs"][1]["rows"] == 2 * 4  # Amean/Hmean rows of 2 counts
    html = pcplab("compare", *SMALL, "--format", "html", "--out", "h", "--db", db, cwd=tmp_path)
    page = (tmp_path / "h" / "index.html").read_text()
    assert html.returncode == 0 and page.count("<svg") == 5 and "pft faults" in page
    # summary and plots first, then the tables, then the run metadata
    order = [page.index(x) for x in ('class="summary"', "<svg", "<h2>pft timings",
                                      "<h2>run metadata", "numpy version")]
    assert order == sorted(order)
    assert "compare --clients 1,2" in page  # the command line


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    for args, needle in [
        (("compare", "--designs", "rcu,rcu"), "given twice"),
        (("compare", "--iterations", "0"), "--iterations"),
        (("compare", "--clients", "1,x"), "--clients"),
        (("compare", "--backend", "nope"), "unknown backend"),
        (("runs", "show", "42"), "no run with id 42"),
        (("export", "--db", db), "exactly one of"),
        (("import", "--mmtests", str(tmp_path)), "no pft results"),
    ]:
        res = pcplab(*args, "--db", db, "--quiet", cwd=tmp_path) if args[0] == "compare" else \
            pcplab(*args, *(() if "--db" in args else ("--db", db)), cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr)
        assert needle in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_runs_export_and_mmtests_round_trip(tmp_path: Path) -> None:
    db, db2 = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    res = pcplab("compare", *SMALL, "--no-plots", "--format", "json", "--db", db, cwd=tmp_path)
    tables = json.loads(res.stdout)["tables"]
    show = json.loads(pcplab("runs", "show", "1", "--db", db, cwd=tmp_path).stdout)
    assert show["workload"] == "pft" and show["result"]["clients"][0]["clients"] == 1
    csv_lines = pcplab("runs", "export", "--format", "csv", "--db", db, cwd=tmp_path).stdout
    header, *rows = csv_lines.splitlines()
    assert header.startswith("run_id,run_key,workload")
    # pft: 3 designs x 2 client counts x 5 metrics x 3 iterations
    assert sum(1 for r in rows if ",pft," in r) == 3 * 2 * 5 * 3
    js = json.loads(pcplab("runs", "export", "1", "2", "--db", db, cwd=tmp_path).stdout)
    assert [r["id"] for r in js] == [1, 2]

    exp = pcplab("export", "--mmtests", "log", "--db", db, cwd=tmp_path)
    assert exp.returncode == 0, exp.stderr
    assert (tmp_path / "log" / "5.17-vanilla" / "iter-0" / "pft" / "logs" / "pft-2.log").is_file()
    imp = pcplab("import", "--mmtests", "log", "--db", db2, cwd=tmp_path)
    assert imp.stdout.splitlines() == ["5.17-vanilla -> run 1", "5.17-rcu -> run 2",
                                       "6.0-spinlock -> run 3"]
    table = pcplab("runs", "table", "--db", db2, cwd=tmp_path).stdout
    assert table == (f"pft timings\n{tables['pft timings']}\n"
                     f"pft faults\n{tables['pft faults']}")
    # importing the same results again stores nothing new
    pcplab("import", "--mmtests", "log", "--db", db2, cwd=tmp_path)
    assert len(pcplab("runs", "list", "--db", db2, cwd=tmp_path).stdout.splitlines()) == 4


def test_import_names_kernel_and_variant(tmp_path: Path) -> None:
    line = "  12    4   1     0.45s    10.20s     2.71s  307181.972 1207191.144\n"
    for name in ("6.8-rc3-vanilla", "6.8-rcu", "plain"):
        logs = tmp_path / "log" / name / "iter-0" / "pft" / "logs"
        logs.mkdir(parents=True)
        (logs / "pft-4.log").write_text(line * 2)
    db = str(tmp_path / "r.db")
    assert pcplab("import", "--mmtests", "log", "--db", db, cwd=tmp_path).returncode == 0
    runs = {r["params"]["mmtests_name"]: r for r in json.loads(
        pcplab("runs", "export", "--db", db, cwd=tmp_path).stdout)}
    assert (runs["6.8-rc3-vanilla"]["kernel"], runs["6.8-rc3-vanilla"]["design"]) == (
        "6.8-rc3", "workqueue")
    assert (runs["6.8-rcu"]["kernel"], runs["6.8-rcu"]["design"]) == ("6.8", "rcu")
    assert (runs["plain"]["kernel"], runs["plain"]["design"]) == (None, "plain")
    assert all(r["source"] == "mmtests" and r["seed"] is None for r in runs.values())
