"""The summary that opens `pcplab compare` says what the tables below it say.

The test reads the printed text only: it parses the summary block, then the mmtests tables, the
noise, latency and checker tables, and compares the numbers.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from tests.fake_backend import fake_backend

from pcplab.report import compare as cmp
from pcplab.report.backends import get_backend
from pcplab.report.summary import gmean_ratio, rdiff
from pcplab.store.db import Store

PCT = re.compile(r"([ (*])\s*(-?\d+\.\d+|NaN)%([)*])")


def _report(tmp_path: Path, rule: str, iterations: int = 8, real: bool = False) -> cmp.Report:
    if real:  # the simulator and the checker at a tiny size (about two seconds)
        p = cmp.CompareParams(machine="rpi4", designs=("workqueue", "rcu", "spinlock"),
                              clients=(1, 2), iterations=3, seed=1, isolated=(2, 3),
                              load="drain-storm", drain_rate=1000.0, duration_s=0.005,
                              check_bound=0, rule=rule)
        backend = get_backend("sim")
    else:
        p = cmp.CompareParams(machine="m", designs=("workqueue", "rcu", "spinlock"),
                              clients=(1, 2, 4, 8), iterations=iterations, seed=3,
                              isolated=(2, 3), load="drain-storm", drain_rate=400.0,
                              duration_s=0.05, rule=rule, backend="fake")
        backend = fake_backend()
    with Store(tmp_path / f"{rule}.db") as store:
        outcome = cmp.run_all(p, store, backend)
    return cmp.build_report(p, outcome)


def _summary_rows(text: str) -> tuple[dict[str, list[str]], int]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("summary against"))
    rows = {}
    end = start + 2
    for end in range(start + 2, len(lines)):
        ln = lines[end]
        if not ln.strip():
            break
        name, cells = re.split(r"\s{2,}", ln.strip(), maxsplit=1)
        rows[name] = re.split(r"\s{2,}", cells)
    return rows, end  # end: index of the blank line after the block


def _section(text: str, title_prefix: str) -> list[str]:
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith(title_prefix))
    out = []
    for ln in lines[i + 1:]:
        if not ln.strip():
            break
        out.append(ln)
    return out


def _mean_rows(table: list[str]) -> list[tuple[str, list[float], list[float], list[bool]]]:
    """(op, values, pcts, stars) of every Amean/Hmean row of an mmtests table."""
    out = []
    for ln in table[2:]:
        if not ln.startswith(("Amean ", "Hmean ")):
            continue
        op = ln.split()[1]
        cells = PCT.findall(ln)
        values = [float(v) for v in re.findall(r"(-?\d+\.\d+)\s*[(*]", ln)]
        out.append((op, values, [float(c[1]) for c in cells], [c[0] == "*" for c in cells]))
    return out


@pytest.mark.parametrize(("rule", "real"), [("ci", False), ("ttest", False), ("ci", True)])
def test_summary_numbers_are_the_tables_numbers(tmp_path: Path, rule: str, real: bool) -> None:
    rep = _report(tmp_path, rule, real=real)
    text = rep.text
    rows, end = _summary_rows(text)
    assert end <= (15 if real else 15 + 1)  # the fake backend's NOTE line comes on top
    designs = text.splitlines()[text.splitlines().index(
        next(ln for ln in text.splitlines() if ln.startswith("summary against"))) + 1].split()
    assert designs == ["vanilla", "rcu", "spinlock"]

    tables = [_mean_rows(_section(text, "pft timings")), _mean_rows(_section(text, "pft faults"))]
    marked_total = 0
    for j, label in enumerate(designs):
        pcts = [r[2][j] for t in tables for r in t]
        stars = [r[3][j] for t in tables for r in t]
        if j == 0:
            assert rows["pft Amean/Hmean %"][j] == "baseline"
            assert not any(stars)
            continue
        lo, hi = rows["pft Amean/Hmean %"][j].split("..")
        assert (float(lo), float(hi)) == (min(pcts), max(pcts)), label
        assert rows["pft rows marked *"][j] == f"{sum(stars)} of {len(stars)}"
        marked_total += sum(stars)
        # Gmean from the printed means (rounded to the table's precision, hence the tolerance)
        for name, t, half in (("Gmean Lower", tables[0], 0.005), ("Gmean Higher", tables[1],
                                                                      0.00005)):
            base, new = [r[1][0] for r in t], [r[1][j] for r in t]
            expect = gmean_ratio(base, new)
            # each printed mean is off by up to half a unit in its last decimal
            tol = max(half / b + half / n for b, n in zip(base, new, strict=True)) * expect
            assert float(rows[name][j]) == pytest.approx(expect, abs=tol + 5e-5)
    if rule == "ttest" and not real:
        assert marked_total > 0  # the fake data differ by 0.4 % and 1.2 %: the t-test sees it

    noise = {ln[:17].strip(): ln[17:].split() for ln in _section(text, "isolated-CPU noise")[1:]}
    assert rows["iso Noise (us)"] == noise["Noise (us)"]
    for j in range(3):
        counts = [noise[k][j] for k in ("HW", "NMI", "IRQ", "Softirq", "Thread")]
        assert int(rows["iso interruptions"][j]) == sum(int(c) for c in counts if c != "-")
    lat = {ln.split()[0]: ln.split()[1:] for ln in _section(text, "drain_all_pages() latency")[1:]
           if not ln.startswith("p99:")}
    assert [c.split()[0] for c in rows["drain max (us) [n]"]] == lat["Max"]
    assert [c.split()[1].strip("[]") for c in rows["drain max (us) [n]"]] == lat["Samples"]
    assert [c.split()[0] for c in rows["drain p99 (us)"]] == lat["p99"]
    verdicts = [ln.split()[1] for ln in _section(text, "checker (")[1:]]
    assert rows["checker"] == verdicts


def test_p99_appears_once_the_samples_support_it(tmp_path: Path) -> None:
    p = cmp.CompareParams(machine="m", designs=("workqueue", "rcu"), clients=(1,), iterations=2,
                          seed=1, isolated=(2,), load="drain-storm", drain_rate=2000.0,
                          duration_s=0.05, backend="fake")  # 100 drains
    with Store(tmp_path / "r.db") as store:
        rep = cmp.build_report(p, cmp.run_all(p, store, fake_backend()))
    rows, _ = _summary_rows(rep.text)
    lat = {ln.split()[0]: ln.split()[1:] for ln in
           _section(rep.text, "drain_all_pages() latency")[1:]}
    assert [c.split()[1] for c in rows["drain max (us) [n]"]] == ["[100]", "[100]"]
    assert rows["drain p99 (us)"] == lat["p99"] and "-" not in lat["p99"]
    assert float(lat["p99"][0]) < float(lat["Max"][0])


def test_brief_is_the_summary_and_the_mean_rows(tmp_path: Path) -> None:
    rep = _report(tmp_path, "ci", iterations=3)
    assert rep.brief.startswith(rep.text.split("pft timings")[0])
    body = rep.brief.split("pft timings\n", 1)[1]
    kinds = {ln.split()[0] for ln in body.splitlines()[2:] if ln.strip() and
             not ln.startswith(("pft faults", " "))}
    assert kinds == {"Amean", "Hmean"}
    for ln in body.splitlines():
        if ln.startswith(("Amean", "Hmean")):
            assert ln in rep.text  # the same rows, byte for byte


def test_rdiff_and_gmean_follow_compare_pm() -> None:
    assert rdiff(2.0, 0.0) == 0.0 and rdiff(0.0, 2.0) == 1.0 and rdiff(3.0, 2.0) == 1.5
    assert gmean_ratio([1.0, 1.0], [2.0, 0.5]) == pytest.approx(1.0)
    assert gmean_ratio([2.0], [0.0]) == 1.0  # a zero mean counts as ratio 1, as rdiff returns
    assert math.isnan(gmean_ratio([], []))
