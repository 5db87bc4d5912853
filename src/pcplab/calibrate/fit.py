"""Fit a machine profile's per-machine cost facts to a measured pft.

What is per machine (``sim/costs.py`` ``CostModel.for_profile`` reads these from the profile;
everything else there is a global constant and is left alone):

* ``clock_ghz`` -- every CPU cost of the fault path is a global cycle count
  (``FAULT_HANDLE_CYCLES``, ``FAULT_ENTRY_EXIT_CYCLES``, ``PCP_ALLOC_CYCLES``, ``USER_PAGE_CYCLES``
  ...) divided by the clock, and ``clear_page`` runs at ``clear_bytes_per_cycle`` times the
  clock.  A profile cannot change the cycle constants, so the fault path's speed on this machine
  is fitted as an **effective clock**: the clock at which the global cycle counts give the
  measured time.  Its ratio to the nominal clock is the machine's fault-path cycles relative to
  the global figures (reported, e.g. "the fault path takes 1.8x the global cycles here").
  Identifiable from a 1-thread row: at one thread nothing else is on the critical path.
* ``cacheline_local_ns`` -- line transfers between CPUs of one LLC (the lock words and shared
  counters pft's threads bounce: mmap_lock, the zone and LRU locks); the other transfer facts
  (``cacheline_same_socket_ns``, ``cacheline_remote_socket_ns``) are scaled with it, keeping the
  profile's ratios.  Identifiable only from rows with two or more threads.
* ``mem_bw_node_gbs`` -- the memory write-back of zeroed pages (the global
  ``CLEAR_NODE_BW_EFFICIENCY`` applies on top).  Identifiable only where the simulated run is
  bandwidth-bound; otherwise it is reported as not identifiable and left at its prior.

Method (deterministic: same measurement, same options -> the same figures): each evaluation is
one seeded simulation (``pcplab.sim.api.run_pft``, fixed seed and iteration count) of the fit
rows; the objective is the sum over fit rows of ``log(simulated / measured elapsed)^2``
(``--fit-on cpu``: of user + system instead, for a host whose CPUs other work shares).
``clock_ghz`` is found by golden-section search on its logarithm around the one-step estimate
``nominal * simulated / measured``; with multi-thread fit rows, each other fact is first
probed at its bounds (a change under 0.5 % in every fit row's simulated elapsed means it is not
identifiable from these rows) and, if it matters, golden-section searched on its logarithm;
then the clock is refitted.  Two such rounds.  Fitted figures are rounded to 4 significant
digits before the final simulation, which is what the file holds.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pcplab.errors import PcplabError

#: search bounds per fitted fact (physical ranges, generous)
BOUNDS: dict[str, tuple[float, float]] = {
    "clock_ghz": (0.05, 50.0),
    "cacheline_local_ns": (1.0, 2000.0),
    "mem_bw_node_gbs": (0.1, 5000.0),
}
#: transfer facts scaled together with cacheline_local_ns
LINE_FACTS = ("cacheline_local_ns", "cacheline_same_socket_ns", "cacheline_remote_socket_ns")
#: a fact whose full range moves no fit row's simulated elapsed by this much is not identifiable
IDENTIFIABLE = 0.005
GOLDEN_STEPS = 22  # a log-interval of width ln 4 shrinks to ~3e-5: finer than the 4 digits kept
ROUNDS = 2


def round4(x: float) -> float:
    return float(f"{x:.4g}")


@dataclass
class Simulated:
    elapsed: float
    system: float
    user: float

    def metric(self, name: str) -> float:
        """``elapsed``, or ``cpu`` = user + system (the workers' own CPU time)."""
        return self.user + self.system if name == "cpu" else self.elapsed


@dataclass
class FitResult:
    values: dict[str, float]  # fitted facts (rounded) and the scaled line facts
    fitted: list[str]
    not_identifiable: list[str]
    simulated: dict[int, Simulated]  # every measured row, with the final values
    evaluations: int
    notes: list[str] = field(default_factory=list)


Simulate = Callable[[Mapping[str, float], Sequence[int]], dict[int, Simulated]]


def simulator(render: Callable[[Mapping[str, float]], str], design: str, mapping_bytes: int,
              iterations: int, seed: int) -> Simulate:
    """A function (values, clients) -> simulated means, each call one seeded ``run_pft`` on
    the profile ``render(values)`` writes (a temporary file; results cached by value)."""
    from pcplab.sim.api import run_pft

    cache: dict[tuple[tuple[tuple[str, float], ...], tuple[int, ...]], dict[int, Simulated]] = {}

    def run(values: Mapping[str, float], clients: Sequence[int]) -> dict[int, Simulated]:
        key = (tuple(sorted(values.items())), tuple(clients))
        if key in cache:
            return cache[key]
        text = render(values)
        with tempfile.TemporaryDirectory(prefix="pcplab-calibrate-") as tmp:
            path = os.path.join(tmp, "candidate.toml")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            res = run_pft(path, design, clients=list(clients), iterations=iterations, seed=seed,
                          mapping_bytes=mapping_bytes)
        out = {}
        for row in res["clients"]:
            n = int(row["clients"])
            out[n] = Simulated(*(sum(row[m]) / len(row[m]) for m in ("elapsed", "system", "user")))
        cache[key] = out
        return out

    return run


def _golden(f: Callable[[float], float], lo: float, hi: float, steps: int) -> float:
    """Minimiser of a unimodal ``f`` on [lo, hi] (golden-section, fixed step count)."""
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return (a + b) / 2


def fit(
    simulate: Simulate,
    measured: Mapping[int, float],
    fit_rows: Sequence[int],
    prior: Mapping[str, float],
    target: str = "elapsed",
) -> FitResult:
    """Fit the facts of :data:`BOUNDS` to the measured elapsed (median or mean) of ``fit_rows``.

    ``measured``: clients -> the measured median or mean of ``target`` (s) of every measured row:
    ``elapsed`` (the default), or ``cpu`` (user + system, which other work sharing the CPUs
    does not inflate, while it does inflate elapsed); ``prior``: the host
    profile's values of the facts in :data:`BOUNDS` and :data:`LINE_FACTS` (the start point and
    what unfitted facts keep)."""
    if not fit_rows:
        raise PcplabError("no rows to fit; --fit-threads must name measured client counts")
    values = dict(prior)
    evals = 0
    rows = sorted(fit_rows)

    def objective(v: Mapping[str, float]) -> float:
        nonlocal evals
        evals += 1
        sim = simulate(v, rows)
        return sum(math.log(sim[n].metric(target) / measured[n]) ** 2 for n in rows)

    def with_fact(key: str, x: float) -> dict[str, float]:
        v = dict(values)
        if key == "cacheline_local_ns":
            scale = x / prior["cacheline_local_ns"]
            for k in LINE_FACTS:
                if k in prior:
                    v[k] = prior[k] * scale
        else:
            v[key] = x
        return v

    def fit_one(key: str) -> None:
        lo, hi = BOUNDS[key]
        if key == "clock_ghz":
            # one Newton-like step first: at one thread elapsed ~ 1/clock
            sim = simulate(values, rows)
            evals_ratio = math.exp(sum(math.log(sim[n].metric(target) / measured[n]) for n in rows)
                                   / len(rows))
            guess = min(max(values[key] * evals_ratio, lo), hi)
            lo, hi = max(lo, guess / 2), min(hi, guess * 2)
        best = _golden(lambda t: objective(with_fact(key, math.exp(t))), math.log(lo),
                       math.log(hi), GOLDEN_STEPS)
        values.update(with_fact(key, round4(math.exp(best))))

    def identifiable(key: str) -> bool:
        lo, hi = BOUNDS[key]
        a = simulate(with_fact(key, lo), rows)
        b = simulate(with_fact(key, hi), rows)
        return any(abs(a[n].metric(target) / b[n].metric(target) - 1) > IDENTIFIABLE
                   for n in rows)

    fitted = ["clock_ghz"]
    not_identifiable: list[str] = []
    multi = any(n > 1 for n in rows)
    fit_one("clock_ghz")
    if multi:
        others = [k for k in ("cacheline_local_ns", "mem_bw_node_gbs") if identifiable(k)]
        not_identifiable = [k for k in ("cacheline_local_ns", "mem_bw_node_gbs")
                            if k not in others]
        fitted += others
        for _ in range(ROUNDS):
            for key in others:
                fit_one(key)
            fit_one("clock_ghz")
    else:
        not_identifiable = ["cacheline_local_ns", "mem_bw_node_gbs"]
    for k in LINE_FACTS:
        if k in values:
            values[k] = round4(values[k])
    final = simulate(values, sorted(measured))
    return FitResult(values, fitted, not_identifiable, final, evals)


def percent_error(sim: float, meas: float) -> float:
    return (sim / meas - 1) * 100 if meas > 0 else float("nan")


def summary_rows(measured: Mapping[int, Mapping[str, float]], result: FitResult,
                 fit_rows: Sequence[int]) -> list[dict[str, Any]]:
    """Per measured row: measured and simulated means, % error, fitted or predicted."""
    rows = []
    for n in sorted(measured):
        s = result.simulated[n]
        m = measured[n]
        rows.append({
            "clients": n,
            "role": "fitted" if n in fit_rows else "predicted",
            "measured_elapsed_s": m["elapsed"],
            "simulated_elapsed_s": s.elapsed,
            "elapsed_error_pct": percent_error(s.elapsed, m["elapsed"]),
            "measured_system_s": m["system"],
            "simulated_system_s": s.system,
            "system_error_pct": percent_error(s.system, m["system"]),
        })
    return rows
