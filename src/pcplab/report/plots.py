"""Plots with matplotlib (Agg): pft times vs clients, per-CPU noise bars, drain-latency CDFs.

Output is deterministic: a fixed ``svg.hashsalt``, no date in SVG/PNG metadata, fixed sizes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

_RC = {"svg.hashsalt": "pcplab", "svg.fonttype": "path", "figure.dpi": 100, "font.size": 9}
_SVG_META = {"Date": None, "Creator": None}
_PNG_META = {"Software": None}
FORMATS = ("png", "svg")


def _mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return m, sd


def pft_figure(runs: Sequence[tuple[str, Mapping[int, Mapping[str, Sequence[float]]]]]) -> Figure:
    """Elapsed and system time vs clients, one line per design, error bars = ±1 SD."""
    with plt.rc_context(_RC):
        fig = Figure(figsize=(9, 3.6))
        axes = fig.subplots(1, 2)
        for ax, metric in zip(axes, ("elapsed", "system"), strict=True):
            for label, samples in runs:
                xs = sorted(samples)
                stats = [_mean_sd(samples[n][metric]) for n in xs]
                ax.errorbar(xs, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o",
                            capsize=3, label=label)
            ax.set_xlabel("clients")
            ax.set_ylabel(f"{metric} time (s)")
            ax.set_title(f"pft {metric}")
            ax.grid(True, alpha=0.3)
        axes[0].legend()
        fig.tight_layout()
    return fig


def noise_figure(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> Figure:
    """Per-CPU noise (us), grouped bars per CPU, one colour per design; isolated CPUs marked."""
    with plt.rc_context(_RC):
        fig = Figure(figsize=(9, 3.6))
        ax = fig.subplots()
        cpus = sorted({int(c["cpu"]) for _, r in runs for c in r.get("cpus", [])})
        iso = {int(c["cpu"]) for _, r in runs for c in r.get("cpus", []) if c.get("isolated")}
        width = 0.8 / max(1, len(runs))
        for k, (label, res) in enumerate(runs):
            by_cpu = {int(c["cpu"]): c["noise_ns"] / 1000 for c in res.get("cpus", [])}
            xs = [i + (k - (len(runs) - 1) / 2) * width for i in range(len(cpus))]
            ax.bar(xs, [by_cpu.get(c, 0.0) for c in cpus], width=width, label=label)
        ax.set_xticks(range(len(cpus)), [f"{c}{'*' if c in iso else ''}" for c in cpus])
        ax.set_xlabel("CPU (* = isolated)")
        ax.set_ylabel("noise (us)")
        ax.set_title("per-CPU noise")
        ax.legend()
        fig.tight_layout()
    return fig


def latency_cdf_figure(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> Figure:
    """Empirical CDF of drain_all_pages() latency per design (log x axis)."""
    with plt.rc_context(_RC):
        fig = Figure(figsize=(6, 3.6))
        ax = fig.subplots()
        any_data = False
        for label, res in runs:
            xs = sorted(s / 1000 for s in res.get("drain_latency_ns", {}).get("samples", []))
            if not xs:
                continue
            any_data = True
            # the ECDF rises from 0 at the fastest drain to 1 at the slowest
            ys = [0.0] + [(i + 1) / len(xs) for i in range(len(xs))]
            ax.step([xs[0], *xs], ys, where="post", label=label)
        if any_data and all(
            s > 0 for _, r in runs for s in r.get("drain_latency_ns", {}).get("samples", [])
        ):
            ax.set_xscale("log")
        ax.set_xlabel("drain latency (us)")
        ax.set_ylabel("fraction of drains")
        ax.set_ylim(0, 1.02)
        ax.set_title("drain_all_pages() latency CDF")
        ax.grid(True, alpha=0.3)
        if any_data:
            ax.legend()
        fig.tight_layout()
    return fig


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"unknown plot format {fmt!r}")
    buf = io.BytesIO()
    with plt.rc_context(_RC):
        fig.savefig(buf, format=fmt, metadata=_SVG_META if fmt == "svg" else _PNG_META)
    return buf.getvalue()


def save_figure(fig: Figure, stem: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(figure_bytes(fig, fmt))
        tmp.replace(path)
        out.append(path)
    return out
