"""Figures with matplotlib's object-oriented API (``Figure``; pyplot is never imported).

Importing this module does not choose a matplotlib backend, so a Jupyter kernel keeps its inline
backend; files are written by ``Figure.savefig``, which picks the right canvas per format.

Figures: the difference of each design to the baseline per client count with a 95 % confidence
band (:mod:`pcplab.stats.diff`), the pft times themselves (mean +/- 1 SD, as mmtests'
``client-errorlines`` graphs draw them: ``mmtests-pft.md`` §5.9), per-CPU noise of the isolated
CPUs, and the drain latency ECDF beside its histogram.  Every title names the machine, the
designs, the iterations and the seed; what bars and bands mean is written on the figure.

Output is deterministic: a fixed ``svg.hashsalt``, no date in SVG/PNG metadata, fixed sizes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pcplab.stats.diff import mean_diff
from pcplab.stats.summary import amean, stddev

if TYPE_CHECKING:  # matplotlib.typing is 3.8+ and only needed for the annotation
    from matplotlib.typing import RcKeyType

_RC: dict[RcKeyType, Any] = {"svg.hashsalt": "pcplab", "svg.fonttype": "path", "figure.dpi": 100,
                             "font.size": 9}
_SVG_META = {"Date": None, "Creator": None}
_PNG_META = {"Software": None}
FORMATS = ("png", "svg")
#: a client range at least this wide (max / min) gets a log2 axis
LOG2_SPAN = 64

PftRuns = Sequence[tuple[str, Mapping[int, Mapping[str, Sequence[float]]]]]
NoiseRuns = Sequence[tuple[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class PlotMeta:
    """What every title names."""

    machine: str = ""
    designs: tuple[str, ...] = ()
    iterations: int | None = None
    seed: int | None = None

    def line(self) -> str:
        parts = []
        if self.machine:
            parts.append(self.machine)
        if self.designs:
            parts.append(" vs ".join(self.designs))
        if self.iterations is not None:
            parts.append(f"{self.iterations} iterations")
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        return ", ".join(parts)


def _title(fig: Figure, what: str, meta: PlotMeta | None) -> None:
    line = meta.line() if meta else ""
    fig.suptitle(f"{what}\n{line}" if line else what, fontsize=10)


def _note(fig: Figure, text: str) -> None:
    fig.text(0.01, 0.01, text, fontsize=8, ha="left", va="bottom", color="0.3")


def client_axis(ax: Axes, clients: Sequence[int]) -> None:
    """Ticks at the client counts, labelled as integers; log2 spacing on wide ranges."""
    xs = sorted(set(clients))
    log = bool(xs) and xs[0] > 0 and xs[-1] / xs[0] >= LOG2_SPAN
    if log:
        ax.set_xscale("log", base=2)
    # a tick for every client count, a label only where it does not run into its neighbour
    # (30 and 32 of a 32-CPU sequence); the largest count is always labelled
    pos = [math.log2(n) if log else float(n) for n in xs]
    span = (pos[-1] - pos[0]) or 1.0
    labels = [""] * len(xs)
    last = None
    for i in range(len(xs) - 1, -1, -1):
        if last is None or (pos[last] - pos[i]) / span >= 0.045:
            labels[i] = str(xs[i])
            last = i
    ax.set_xticks(xs, labels)
    ax.minorticks_off()
    ax.set_xlabel("clients (pft threads)")


def pft_diff_figure(runs: PftRuns, meta: PlotMeta | None = None) -> Figure:
    """% difference of each design's mean to the baseline's (runs[0]) per client count, elapsed
    and system time, with the 95 % confidence band of the difference; positive = better."""
    with rc_context(_RC):
        fig = Figure(figsize=(10, 4.2))
        axes = fig.subplots(1, 2)
        base_name, base = runs[0]
        for ax, metric in zip(axes, ("elapsed", "system"), strict=True):
            ax.axhline(0.0, color="0.4", linewidth=0.8)
            for name, samples in runs[1:]:
                xs = sorted(set(samples) & set(base))
                diffs = [mean_diff(base[n][metric], samples[n][metric]) for n in xs]
                (line,) = ax.plot(xs, [d.pct for d in diffs], marker="o", label=name)
                band = [(n, d) for n, d in zip(xs, diffs, strict=True) if not math.isnan(d.low)]
                if band:
                    ax.fill_between([n for n, _ in band], [d.low for _, d in band],
                                    [d.high for _, d in band], color=line.get_color(), alpha=0.2,
                                    linewidth=0)
            client_axis(ax, sorted(base))
            ax.set_ylabel(f"{metric} time: % vs {base_name}")
            ax.set_title(f"pft {metric}")
            ax.grid(True, alpha=0.3)
        if len(runs) > 1:
            axes[0].legend(fontsize=8)
        _title(fig, f"pft: difference to {base_name} (positive = less time = better)", meta)
        _note(fig, "line: mmtests' % of the means; band: 95 % confidence interval of the "
                   "difference of means (Welch t)")
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def pft_figure(runs: PftRuns, meta: PlotMeta | None = None) -> Figure:
    """Elapsed and system time vs clients, one line per design, error bars = +/-1 SD."""
    with rc_context(_RC):
        fig = Figure(figsize=(10, 4.2))
        axes = fig.subplots(1, 2)
        for ax, metric in zip(axes, ("elapsed", "system"), strict=True):
            clients: set[int] = set()
            for label, samples in runs:
                xs = sorted(samples)
                clients |= set(xs)
                means = [amean(samples[n][metric]) for n in xs]
                sds = [stddev(samples[n][metric]) for n in xs]
                ax.errorbar(xs, means, yerr=[0.0 if math.isnan(s) else s for s in sds],
                            marker="o", capsize=3, label=label)
            client_axis(ax, sorted(clients))
            ax.set_ylabel(f"{metric} time (s)")
            ax.set_title(f"pft {metric}")
            ax.grid(True, alpha=0.3)
        axes[0].legend(fontsize=8)
        _title(fig, "pft times", meta)
        _note(fig, "points: mean of the iterations; error bars: +/-1 sample standard deviation")
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def pft_samples_figure(runs: PftRuns, meta: PlotMeta | None = None,
                       metric: str = "elapsed") -> Figure:
    """Every sample, sorted, per client count and design (as mmtests' graphs of sorted samples
    show a distribution): overlapping curves mean the designs cannot be told apart."""
    clients = sorted(set.intersection(*(set(s) for _, s in runs))) if runs else []
    cols = min(5, max(1, len(clients)))
    rows = max(1, math.ceil(len(clients) / cols))
    with rc_context(_RC):
        fig = Figure(figsize=(2.2 * cols + 0.8, 2.0 * rows + 1.0))
        axes = fig.subplots(rows, cols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= len(clients):
                ax.set_visible(False)
                continue
            n = clients[k]
            for label, samples in runs:
                xs = sorted(samples[n][metric])
                ax.plot(range(1, len(xs) + 1), xs, marker=".", markersize=3, linewidth=1,
                        label=label)
            ax.set_title(f"{n} clients", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, alpha=0.3)
        axes[0][0].legend(fontsize=7)
        _title(fig, f"pft {metric} time (s): every iteration, sorted", meta)
        _note(fig, "x: rank of the sample (fastest first); y: seconds")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def noise_figure(runs: NoiseRuns, meta: PlotMeta | None = None, all_cpus: bool = False) -> Figure:
    """Noise (us) per CPU, grouped bars, one colour per design that has noise to draw.

    Only the isolated CPUs unless ``all_cpus`` (or unless no CPU is isolated)."""
    with rc_context(_RC):
        fig = Figure(figsize=(8, 3.8))
        ax = fig.subplots()
        every = sorted({int(c["cpu"]) for _, r in runs for c in r.get("cpus", [])})
        iso = {int(c["cpu"]) for _, r in runs for c in r.get("cpus", []) if c.get("isolated")}
        cpus = every if all_cpus or not iso else sorted(iso)
        drawn = []
        silent = []
        for label, res in runs:
            by_cpu = {int(c["cpu"]): c["noise_ns"] / 1000 for c in res.get("cpus", [])}
            if any(by_cpu.get(c, 0.0) > 0 for c in cpus):
                drawn.append((label, by_cpu))
            else:
                silent.append(label)
        width = 0.8 / max(1, len(drawn))
        for k, (label, by_cpu) in enumerate(drawn):
            xs = [i + (k - (len(drawn) - 1) / 2) * width for i in range(len(cpus))]
            ax.bar(xs, [by_cpu.get(c, 0.0) for c in cpus], width=width, label=label)
        ax.set_xticks(range(len(cpus)), [f"{c}{'*' if c in iso else ''}" for c in cpus])
        ax.set_xlabel("CPU (* = isolated)")
        ax.set_ylabel("noise (us)")
        ax.set_title("osnoise Noise per CPU")
        if drawn:
            ax.legend(fontsize=8)
        _title(fig, "isolated-CPU noise" if cpus == sorted(iso) else "per-CPU noise", meta)
        note = "bars: total noise in the run (osnoise's Noise column)"
        if silent:
            note += f"; no noise on these CPUs: {', '.join(silent)}"
        _note(fig, note)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def latency_figure(runs: NoiseRuns, meta: PlotMeta | None = None) -> Figure:
    """drain_all_pages() latency: empirical CDF (log x) and a log-binned histogram beside it."""
    with rc_context(_RC):
        fig = Figure(figsize=(10, 3.8))
        cdf_ax, hist_ax = fig.subplots(1, 2)
        data = [(label, sorted(s / 1000 for s in res.get("drain_latency_ns", {})
                               .get("samples", []))) for label, res in runs]
        data = [(label, xs) for label, xs in data if xs]
        positive = bool(data) and all(x > 0 for _, xs in data for x in xs)
        for label, xs in data:
            # the ECDF rises from 0 at the fastest drain to 1 at the slowest
            ys = [0.0] + [(i + 1) / len(xs) for i in range(len(xs))]
            cdf_ax.step([xs[0], *xs], ys, where="post", label=f"{label} (n={len(xs)})")
        if positive:
            lo = min(xs[0] for _, xs in data)
            hi = max(xs[-1] for _, xs in data)
            cdf_ax.set_xscale("log")
            hist_ax.set_xscale("log")
            edges = [lo * (hi / lo) ** (k / 24) for k in range(25)] if hi > lo else [lo, lo * 2]
            for label, xs in data:
                hist_ax.hist(xs, bins=edges, histtype="step", label=label)
        cdf_ax.set_xlabel("drain latency (us)")
        cdf_ax.set_ylabel("fraction of drains")
        cdf_ax.set_ylim(0, 1.02)
        cdf_ax.set_title("CDF")
        cdf_ax.grid(True, alpha=0.3)
        hist_ax.set_xlabel("drain latency (us)")
        hist_ax.set_ylabel("drains per bin")
        hist_ax.set_title("histogram (log bins)")
        if data:
            cdf_ax.legend(fontsize=8)
        _title(fig, "drain_all_pages() latency", meta)
        fig.tight_layout()
    return fig


def latency_cdf_figure(runs: NoiseRuns, meta: PlotMeta | None = None) -> Figure:
    """Older name of :func:`latency_figure`."""
    return latency_figure(runs, meta)


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"unknown plot format {fmt!r}")
    buf = io.BytesIO()
    with rc_context(_RC):
        fig.savefig(buf, format=fmt, metadata=_SVG_META if fmt == "svg" else _PNG_META)
    return buf.getvalue()


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    from pcplab.report.files import write_file

    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        write_file(path, figure_bytes(fig, fmt))
        out.append(path)
    return out
