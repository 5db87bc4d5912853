"""Noise/latency tables, deterministic plots and the self-contained HTML page."""

import re

from tests.fake_backend import fake_run_check, fake_run_noise, fake_run_pft

from pcplab.report import html, plots
from pcplab.report.noise import (
    check_summary,
    drain_latency_summary,
    latency_percentile,
    noise_per_cpu,
    noise_summary,
    osnoise_top,
    percentile_supported,
)
from pcplab.report.pft_log import as_mmtests_sees

NOISE_A = {"cpus": [
    {"cpu": 0, "isolated": False, "interference": {"irq": 5, "ipi": 1, "thread": 2},
     "noise_ns": 12000, "max_single_noise_ns": 4000, "available_pct": 99.9988},
    {"cpu": 2, "isolated": True, "interference": {"irq": 3, "ipi": 3, "thread": 3},
     "noise_ns": 9000, "max_single_noise_ns": 3500, "available_pct": 99.9991},
    {"cpu": 3, "isolated": True, "interference": {"irq": 1, "ipi": 1, "thread": 1},
     "noise_ns": 2500, "max_single_noise_ns": 2500, "available_pct": 99.99975}],
    "drain_latency_ns": {"min": 1000, "mean": 2500.5, "p99": 9000, "max": 9100,
                         "samples": [1000, 1500, 9100]}}
NOISE_B = {"cpus": [dict(c, noise_ns=0, max_single_noise_ns=0, available_pct=100.0,
                         interference={"irq": 0, "ipi": 0, "thread": 0})
                    for c in NOISE_A["cpus"]],
           "drain_latency_ns": {"min": 5e6, "mean": 6e6, "p99": 7e6, "max": 7.5e6,
                                "samples": [5e6, 7.5e6]}}


def test_noise_summary_sums_isolated_cpus_only() -> None:
    text = noise_summary([("vanilla", NOISE_A), ("rcu", NOISE_B)], runtime_s=1.0)
    rows = {line.split("  ")[0].strip(): line.split() for line in text.splitlines()}
    assert rows["isolated CPUs"][-2:] == ["vanilla", "rcu"]
    assert text.splitlines()[2].split()[-2:] == ["1000000", "1000000"]
    assert "11.50" in rows["Noise (us)"] and "0.00" in rows["Noise (us)"]  # 9000 + 2500 ns
    assert rows["Max Single (us)"][-2:] == ["3.50", "0.00"]
    assert rows["% CPU Aval (min)"][-2:] == ["99.99910", "100.00000"]
    # osnoise counts an IPI as an IRQ: 3 + 1 IRQs plus 3 + 1 IPIs, the IPIs shown again apart
    assert rows["IRQ"][-2:] == ["8", "0"]
    assert rows["IPI (in IRQ)"][-2:] == ["4", "0"]
    assert rows["Max Noise (us)"][-2:] == ["9.00", "0.00"]  # one period: the CPU's total
    assert rows["HW"][-2:] == ["-", "-"]  # not modelled, so not printed as 0


def test_per_cpu_and_latency_tables() -> None:
    text = noise_per_cpu([("vanilla", NOISE_A)], isolated_only=True)
    head, *rows = text.splitlines()[:-1]  # the last line is the legend
    assert head.split()[:3] == ["CPU", "Period", "Runtime"] and "% CPU Aval" in head
    assert [ln.split()[0] for ln in rows] == ["2", "3"]
    every = osnoise_top([("vanilla", NOISE_A)], all_cpus=True).splitlines()[1:-1]
    assert [ln.split()[0] for ln in every] == ["0", "2", "3"]
    lat = drain_latency_summary([("vanilla", NOISE_A), ("rcu", NOISE_B)])
    assert lat.splitlines()[2].split() == ["Mean", "2.50", "6000.00"]
    assert lat.splitlines()[3].split() == ["p99", "-", "-"]  # 3 and 2 samples: no p99
    assert lat.splitlines()[5].split() == ["Samples", "3", "2"]
    ver = check_summary([("rcu", fake_run_check("rcu")),
                         ("bad", {"violation": {"kind": "lost page", "function": "drain_pages",
                                                "cpu": 1, "trace": []}, "exhaustive": False,
                                  "executions": 3, "states": 9, "seconds": 0.5})])
    assert "VIOLATION" in ver and "lost page in drain_pages on CPU 1" in ver


def test_p99_only_where_the_samples_support_it() -> None:
    assert not percentile_supported(99, 99) and percentile_supported(100, 99)
    assert latency_percentile({"samples": list(range(20))}, 99) is None
    # nearest rank: the 99th of 100 sorted samples, one sample above it
    assert latency_percentile({"samples": list(range(100, 0, -1))}, 99) == 99.0


def _figs() -> list:
    pft = [(d, as_mmtests_sees(fake_run_pft("m", d, [1, 2], 3, 1))) for d in ("a", "b")]
    noise = [("a", NOISE_A), ("b", NOISE_B), ("c", fake_run_noise("m", "rcu", [2], "x", 10, 1, 1))]
    return [plots.pft_figure(pft), plots.noise_figure(noise), plots.latency_figure(noise)]


def test_plots_are_deterministic_and_carry_data() -> None:
    first = [(plots.figure_bytes(f, "svg"), plots.figure_bytes(f, "png")) for f in _figs()]
    second = [(plots.figure_bytes(f, "svg"), plots.figure_bytes(f, "png")) for f in _figs()]
    assert first == second
    for svg, png in first:
        assert svg.startswith(b"<?xml") and png.startswith(b"\x89PNG")
        assert b"<dc:date>" not in svg
    pft_fig, noise_fig, cdf_fig = _figs()
    assert [len(ax.lines) > 0 for ax in pft_fig.axes[:2]] == [True, True]
    assert len(cdf_fig.axes[0].lines) == 3  # one CDF per design with samples
    assert len(cdf_fig.axes[1].patches) == 3  # and one step histogram each
    # isolated CPUs 2, 3 only; "b" has no noise there, so it gets neither bars nor a legend entry
    assert len(noise_fig.axes[0].patches) == 2 * 2
    assert [t.get_text() for t in noise_fig.axes[0].get_legend().get_texts()] == ["a", "c"]
    assert [t.get_text() for t in noise_fig.axes[0].get_xticklabels()] == ["2*", "3*"]


def test_html_is_self_contained_and_colours_stars() -> None:
    svg = plots.figure_bytes(_figs()[2], "svg")
    text = "Amean     x-1  1.00 (   0.00%)  2.00 * -100.00%*\nHmean  y  3 *   5.00%*\n<tag>"
    page = html.page("t", "intro", [("pft timings", text)], [("cdf", svg)])
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    assert "<?xml" not in page and not re.search(r"(src|href)=\"(http|file|/)", page)
    assert '<span style="background:#FFA0A0">* -100.00%*</span>' in page
    assert '<span style="background:#A0FFA0">*   5.00%*</span>' in page
    assert "&lt;tag&gt;" in page


def test_client_axis_integer_ticks_log2_on_wide_ranges() -> None:
    from matplotlib.figure import Figure

    wide = [1, 4, 7, 12, 21, 30, 48, 79, 110, 128]
    ax = Figure().subplots()
    plots.client_axis(ax, wide)
    assert ax.get_xscale() == "log"
    assert list(ax.get_xticks()) == wide
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[-1] == "128" and all(lab == "" or lab.isdigit() for lab in labels)
    assert labels[-2] == ""  # 110 would run into 128 on a log2 axis
    narrow = Figure().subplots()
    plots.client_axis(narrow, [1, 3, 5, 7, 12, 18, 24, 30, 32])
    assert narrow.get_xscale() == "linear"
    shown = [t.get_text() for t in narrow.get_xticklabels()]
    assert shown == ["1", "3", "5", "7", "12", "18", "24", "30", "32"]


def test_diff_figure_titles_and_band() -> None:
    pft = [(d, as_mmtests_sees(fake_run_pft("m", d, [1, 2], 4, 1))) for d in ("workqueue", "rcu")]
    meta = plots.PlotMeta("xeon", ("vanilla", "rcu"), 4, 7)
    fig = plots.pft_diff_figure(pft, meta)
    title = fig.texts[0].get_text()
    assert "xeon" in title and "4 iterations" in title and "seed 7" in title
    assert any("95 % confidence" in t.get_text() for t in fig.texts)  # what the band means
    ax = fig.axes[0]
    assert len(ax.collections) == 1 and len(ax.lines) == 2  # one band, one line + the zero line


def test_noise_run_text_shows_the_isolated_cpus_of_a_big_machine() -> None:
    from pcplab.report.noise import noise_run_text, osnoise_json

    res = dict(fake_run_noise("epyc-7742", "workqueue", [2, 3], "drain-storm", 400, 0.05, 1),
               duration_s=0.05, drain_rate=400.0, load="drain-storm", isolated=[2, 3],
               isolated_task="fifo", kernel="5.17")
    res["cpus"] += [dict(res["cpus"][0], cpu=c) for c in range(4, 256)]
    text = noise_run_text(res)
    table = text.splitlines()[2:5]
    assert table[0].split()[:4] == ["CPU", "Period", "Runtime", "Noise"]
    assert "% CPU Aval" in table[0] and "Max Noise" in table[0] and "Softirq" in table[0]
    assert [ln.split()[0] for ln in table[1:]] == ["2", "3"]
    assert "CPU" not in text.splitlines()[5]  # nothing else follows but the legend
    assert len(noise_run_text(res, all_cpus=True).splitlines()) > 256
    rows = osnoise_json(res)
    assert [r["CPU"] for r in rows] == [2, 3] and rows[0]["IRQ"] == rows[0]["IPI"] * 2
    assert "drain_all_pages latency histogram" in text
