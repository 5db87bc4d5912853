"""A fake ``pcplab compare`` backend for the tests: synthetic, clearly labelled numbers in a few
milliseconds (optionally sleeping ``$PCPLAB_FAKE_DELAY`` seconds per unit), so the
store/resume/report machinery can be tested without the simulator.  Its numbers mean nothing.

Importing this module registers it as backend ``fake`` (:func:`pcplab.report.backends.register_backend`);
``tests/conftest.py`` imports it and sets ``$PCPLAB_BACKEND_MODULE`` so a ``pcplab`` subprocess
started by a test finds it too.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from pcplab.report.backends import Backend, register_backend

ENV_FAKE_DELAY = "PCPLAB_FAKE_DELAY"
Progress = Callable[..., Any] | None

_FAKE_KERNEL = {"spinlock": "6.0"}
_FAKE_FACTOR = {"workqueue": 1.0, "rcu": 1.004, "spinlock": 1.012}


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(parts).encode()))


def _delay() -> None:
    d = float(os.environ.get(ENV_FAKE_DELAY, "0") or 0)
    if d > 0:
        time.sleep(d)


def fake_run_pft(machine: str, design: str, clients: list[int] | None, iterations: int,
                 seed: int, progress: Progress = None, isolated: list[int] | None = None
                 ) -> dict[str, Any]:
    rng = _rng("pft", machine, design, seed)
    clients = clients or [1, 2, 4]
    pages = 1 << 20
    factor = _FAKE_FACTOR.get(design, 1.0)
    out = []
    for k, n in enumerate(clients):
        _delay()
        user = (0.1e-6 * pages * rng.normal(1, 0.02, iterations)).round(6)
        system = 2.5e-6 * pages * (1 + 0.03 * (n - 1)) * factor * rng.normal(1, 0.01, iterations)
        elapsed = (system + user) / n * 1.05
        out.append({
            "clients": n, "pages": pages, "user": user.tolist(), "system": system.tolist(),
            "elapsed": elapsed.tolist(), "faults_per_cpu": (pages / (user + system)).tolist(),
            "faults_per_sec": (pages / elapsed).tolist(),
        })
        if progress is not None:
            progress(k + 1, len(clients))
    return {"machine": machine, "design": design, "kernel": _FAKE_KERNEL.get(design, "5.17"),
            "seed": seed, "page_size": 4096, "pages": {str(n): pages for n in clients},
            "gbyte": 4, "clients": out}


def fake_run_noise(machine: str, design: str, isolated: list[int], load: str, drain_rate: float,
                   duration_s: float, seed: int) -> dict[str, Any]:
    _delay()
    rng = _rng("noise", machine, design, tuple(isolated), load, drain_rate, duration_s, seed)
    ncpu = max([*isolated, 3]) + 1
    drains = max(1, int(drain_rate * duration_s))
    hit = design == "workqueue"  # only the workqueue drain runs work on isolated CPUs
    cpus = []
    for c in range(ncpu):
        iso = c in isolated
        events = drains if (hit or not iso) else 0
        per = rng.uniform(2000, 6000, events) if events else np.zeros(0)
        noise = float(per.sum())
        cpus.append({
            "cpu": c, "isolated": iso,
            "interference": {"irq": events, "ipi": events if hit else 0, "thread": events},
            "sources": {f"kworker/{c}": events, "ipi": events} if events else {},
            "noise_ns": round(noise), "max_single_noise_ns": round(float(per.max(initial=0))),
            "available_pct": 100.0 * (1 - noise / (duration_s * 1e9)),
        })
    scale = {"workqueue": 60e3, "rcu": 4e6, "spinlock": 25e3}.get(design, 50e3)
    samples = sorted(float(x) for x in rng.lognormal(np.log(scale), 0.3, drains).round())
    return {"machine": machine, "design": design, "cpus": cpus, "drain_latency_ns": {
        "min": samples[0], "mean": float(np.mean(samples)),
        "p99": float(np.percentile(samples, 99)), "max": samples[-1], "samples": samples}}


def fake_run_check(design: str, scenario: str = "all", mode: str = "exhaustive",
                   bound: int | None = None, seed: int = 0, scenario_file: str | None = None
                   ) -> dict[str, Any]:
    _delay()
    return {"design": design, "scenario": scenario, "mode": mode, "bound": bound,
            "violation": None, "replay": None, "exhaustive": mode == "exhaustive",
            "executions": 100 + len(design), "states": 1000 + 7 * len(design), "seconds": 0.01}


def fake_backend() -> Backend:
    return Backend("fake", fake_run_pft, fake_run_noise, fake_run_check)


register_backend("fake", fake_backend)
