"""pcplab's Python API, for notebooks and scripts.

::

    import pcplab
    res = pcplab.compare(machine="rpi4", designs=["vanilla", "rcu"], clients=[1, 2],
                         iterations=3, duration=0.005, db="results.sqlite")
    res.summary          # the summary block (also res.text, res.brief, res.data)
    res.to_frame()       # pandas DataFrame (pip install 'pcplab[pandas]')
    res.plot()           # matplotlib Figure: difference to the baseline with its 95 % band
    res                  # in Jupyter: the summary and the tables as HTML

    pcplab.pft("xeon-e5-2640v3", "rcu", clients=[1, 4], iterations=5)
    n = pcplab.noise("rpi4", "workqueue", isolated=[2, 3], duration=0.01)
    n.wakeup_latency     # the isolated tasks' wakeup latency rows, as `pcplab noise --json`
    n.to_frame("wakeup") # the same as a DataFrame (n.to_frame(): rtla osnoise top's columns)
    pcplab.check("rcu-v1")

Each call returns a result object with ``.result`` (the plain dict the command line's ``--json``
prints), ``.to_frame()``, ``.plot()`` and an HTML representation.  Nothing here picks a matplotlib
backend: figures are ``matplotlib.figure.Figure`` objects, which Jupyter shows inline.  Bad
arguments raise :class:`pcplab.errors.PcplabError` with the same one-line message the command line
prints.  The defaults are those of the command line (``tests/api`` checks that they agree).
"""

from __future__ import annotations

import html as html_mod
import importlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcplab.errors import PcplabError

#: the defaults of `pcplab compare` (pcplab.cli.report), repeated here so that the API does not
#: import the command line
COMPARE_DEFAULTS: dict[str, Any] = {
    "machine": "xeon-e5-2640v3", "designs": ("workqueue", "rcu", "spinlock"), "clients": None,
    "iterations": 30, "seed": 1, "isolated": (2, 3), "load": "drain-storm", "drain_rate": 400.0,
    "duration": 0.05, "check_bound": 1,
}


def _pandas() -> Any:
    if importlib.util.find_spec("pandas") is None:
        raise PcplabError("to_frame() needs pandas; install it with: pip install 'pcplab[pandas]'")
    return importlib.import_module("pandas")


def _pre(text: str) -> str:
    return f"<pre>{html_mod.escape(text)}</pre>"


# -- compare -------------------------------------------------------------------------------------
@dataclass
class CompareResult:
    """`pcplab compare` as an object: ``report`` holds everything the command prints."""

    report: Any  # pcplab.report.compare.Report
    ran: int
    reused: int

    @property
    def text(self) -> str:
        return str(self.report.text)

    @property
    def brief(self) -> str:
        return str(self.report.brief)

    @property
    def summary(self) -> Any:
        return self.report.summary

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.report.data)

    @property
    def result(self) -> dict[str, Any]:
        return self.data

    def to_frame(self) -> Any:
        """One row per pft operation and run: op, metric, clients, run, n, mean, spread, pct
        (mmtests' % column, positive = better), significant (mmtests' ``*``)."""
        pd = _pandas()
        rows = []
        for op, entries in self.report.data["pft"].items():
            metric, _, n = op.rpartition("-")
            for e in entries:
                rows.append({"op": op, "metric": metric, "clients": int(n), "run": e["run"],
                             "n": e["n"], "mean": e["mean"], "spread": e["spread"],
                             "pct": e.get("pct"), "significant": bool(e.get("significant"))})
        return pd.DataFrame(rows)

    def plot(self, kind: str = "diff") -> Any:
        """``diff`` (default): % difference to the baseline with its 95 % band; ``times``,
        ``samples``, ``noise`` or ``latency``: the other figures of the HTML page."""
        from pcplab.report import plots

        rep = self.report
        makers = {
            "diff": lambda: plots.pft_diff_figure(rep.pft_runs, rep.meta),
            "times": lambda: plots.pft_figure(rep.pft_runs, rep.meta),
            "samples": lambda: plots.pft_samples_figure(rep.pft_runs, rep.meta),
            "noise": lambda: plots.noise_figure(rep.noise_runs, rep.meta),
            "latency": lambda: plots.latency_figure(rep.noise_runs, rep.meta),
        }
        if kind not in makers:
            raise PcplabError(f"unknown plot {kind!r}; choose one of {', '.join(makers)}")
        return makers[kind]()

    def _repr_html_(self) -> str:
        rep = self.report
        parts = [f"<p>{html_mod.escape(rep.header)}</p>", rep.summary.html()]
        for title, text in rep.sections:
            parts.append(f"<details><summary>{html_mod.escape(title)}</summary>{_pre(text)}"
                         "</details>")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.text


def _design_names(designs: str | Sequence[str]) -> list[str]:
    return designs.split(",") if isinstance(designs, str) else list(designs)


def compare(
    machine: str = COMPARE_DEFAULTS["machine"],
    designs: str | Sequence[str] = COMPARE_DEFAULTS["designs"],
    clients: Sequence[int] | None = COMPARE_DEFAULTS["clients"],
    iterations: int = COMPARE_DEFAULTS["iterations"],
    seed: int = COMPARE_DEFAULTS["seed"],
    isolated: Sequence[int] = COMPARE_DEFAULTS["isolated"],
    load: str = COMPARE_DEFAULTS["load"],
    drain_rate: float = COMPARE_DEFAULTS["drain_rate"],
    duration: float = COMPARE_DEFAULTS["duration"],
    check_mode: str = "exhaustive",
    check_bound: int | None = COMPARE_DEFAULTS["check_bound"],
    significance: str = "ci",
    db: str | Path | None = None,
    fresh: bool = False,
    backend: str | None = None,
) -> CompareResult:
    """Run (or reuse from the results database ``db``) what `pcplab compare` runs and report it.

    ``db``: the SQLite file (default: ``$PCPLAB_DB`` or the user data directory, as the command
    line).  ``backend``: ``"fake"`` gives synthetic numbers in milliseconds (for trying the API).
    """
    from pcplab.report import compare as cmp
    from pcplab.report.backends import get_backend
    from pcplab.stats import RULES
    from pcplab.store.db import Store

    if significance not in RULES:
        raise PcplabError(f"unknown significance rule {significance!r}; use one of "
                          f"{', '.join(RULES)}")
    if iterations < 1:
        raise PcplabError(f"iterations must be at least 1, got {iterations}")
    if not (drain_rate > 0 and duration > 0):
        raise PcplabError("drain_rate and duration must be positive")
    if clients is not None and (not clients or any(int(c) < 1 for c in clients)):
        raise PcplabError(f"clients must be positive integers, got {clients!r}")
    be = get_backend(backend)
    params = cmp.CompareParams(
        machine=machine, designs=cmp.normalise_designs(_design_names(designs)),
        clients=None if clients is None else tuple(int(c) for c in clients),
        iterations=int(iterations), seed=int(seed), isolated=tuple(int(c) for c in isolated),
        load=load, drain_rate=float(drain_rate), duration_s=float(duration),
        check_mode=check_mode, check_bound=check_bound, rule=significance, backend=be.name)
    be.validate(params.machine, params.designs)
    with Store(db) as store:
        outcome = cmp.run_all(params, store, be, fresh=fresh)
        report = cmp.build_report(params, outcome)
    return CompareResult(report, len(outcome.ran), len(outcome.reused))


# -- pft -----------------------------------------------------------------------------------------
@dataclass
class PftResult:
    """One simulated mmtests pft run: ``result`` as ``pcplab pft --json`` prints it."""

    result: dict[str, Any]

    @property
    def name(self) -> str:
        from pcplab.report.naming import run_name

        return run_name(self.result["design"], self.result.get("kernel"))

    def to_frame(self) -> Any:
        """One row per sample: clients, iteration, user, system, elapsed, faults_per_cpu,
        faults_per_sec (seconds and faults as pft prints them)."""
        pd = _pandas()
        rows = []
        for entry in self.result["clients"]:
            for i in range(len(entry["elapsed"])):
                rows.append({"clients": entry["clients"], "iteration": i,
                             **{m: entry[m][i] for m in ("user", "system", "elapsed",
                                                         "faults_per_cpu", "faults_per_sec")}})
        return pd.DataFrame(rows)

    def tables(self) -> str:
        from pcplab.report.pft_log import as_mmtests_sees
        from pcplab.report.pft_tables import pft_report

        return pft_report([(self.name, as_mmtests_sees(self.result))])

    def plot(self) -> Any:
        from pcplab.report.pft_log import as_mmtests_sees
        from pcplab.report.plots import PlotMeta, pft_figure

        n = len(self.result["clients"][0]["elapsed"]) if self.result["clients"] else None
        meta = PlotMeta(self.result["machine"], (self.name,), n, self.result.get("seed"))
        return pft_figure([(self.name, as_mmtests_sees(self.result))], meta)

    def _repr_html_(self) -> str:
        return _pre(self.tables())

    def __str__(self) -> str:
        return self.tables()


def pft(machine: str, design: str, clients: Sequence[int] | None = None, iterations: int = 30,
        seed: int = 0, exact: bool = False, placement: str = "fork-domain") -> PftResult:
    """Simulate mmtests' pft (``pcplab pft``)."""
    from pcplab.sim.api import run_pft

    return PftResult(run_pft(machine, design, None if clients is None else list(clients),
                             iterations, seed, exact=exact, placement=placement))


# -- noise ---------------------------------------------------------------------------------------
@dataclass
class NoiseResult:
    """One noise run: ``result`` as ``pcplab noise --json`` prints it."""

    result: dict[str, Any]

    def _runs(self) -> list[tuple[str, dict[str, Any]]]:
        from pcplab.report.naming import design_label

        return [(design_label(self.result["design"]), self.result)]

    def table(self, all_cpus: bool = False) -> str:
        from pcplab.report.noise import drain_latency_summary, osnoise_top, wakeup_latency_text

        return (osnoise_top(self._runs(), all_cpus=all_cpus) + wakeup_latency_text(self.result)
                + "\n" + drain_latency_summary(self._runs()))

    @property
    def osnoise_top(self) -> list[dict[str, Any]]:
        """rtla osnoise top's rows of the isolated CPUs, as ``pcplab noise --json``'s
        ``osnoise_top`` (times in us)."""
        from pcplab.report.noise import osnoise_json

        return osnoise_json(self.result)

    @property
    def wakeup_latency(self) -> list[dict[str, Any]]:
        """The isolated tasks' wakeup latency (timerlat / cyclictest), one row per isolated CPU
        with a timer-driven task, as ``pcplab noise --json``'s ``wakeup_latency``: CPU, Task,
        Cycles, Min, Avg, Max, p99 (us; None below 100 wakeups) and Histogram
        (``{"<whole us>": count}``)."""
        from pcplab.report.noise import wakeup_json

        return wakeup_json(self.result)

    def to_frame(self, table: str = "osnoise", *, all_cpus: bool = False) -> Any:
        """``table="osnoise"`` (default): one row per CPU in rtla osnoise top's columns (IRQ
        includes IPIs; IPI apart).  ``table="wakeup"``: :attr:`wakeup_latency` without the
        histogram, one row per isolated CPU."""
        from pcplab.report.noise import osnoise_fields

        pd = _pandas()
        if table == "wakeup":
            from pcplab.report.noise import WAKEUP_COLUMNS

            return pd.DataFrame([{k: r[k] for k in WAKEUP_COLUMNS} for r in self.wakeup_latency],
                                columns=list(WAKEUP_COLUMNS))
        if table != "osnoise":
            raise PcplabError(f"unknown table {table!r}; choose osnoise or wakeup")
        rows = [osnoise_fields(c, self.result.get("duration_s")) for c in self.result["cpus"]
                if all_cpus or c.get("isolated")]
        return pd.DataFrame(rows)

    def plot(self, kind: str = "noise") -> Any:
        from pcplab.report.plots import PlotMeta, latency_figure, noise_figure

        meta = PlotMeta(self.result["machine"], (self._runs()[0][0],), None,
                        self.result.get("seed"))
        if kind == "latency":
            return latency_figure(self._runs(), meta)
        if kind != "noise":
            raise PcplabError(f"unknown plot {kind!r}; choose noise or latency")
        return noise_figure(self._runs(), meta)

    def _repr_html_(self) -> str:
        return _pre(self.table())

    def __str__(self) -> str:
        return self.table()


def noise(machine: str, design: str, isolated: Sequence[int], load: str = "drain-storm",
          drain_rate: float = 100.0, duration: float = 1.0, seed: int = 0,
          isolated_task: str = "fifo") -> NoiseResult:
    """Noise on isolated CPUs while drains run (``pcplab noise``)."""
    from pcplab.sim.api_noise import run_noise

    return NoiseResult(run_noise(machine, design, list(isolated), load=load,
                                 drain_rate=drain_rate, duration_s=duration, seed=seed,
                                 isolated_task=isolated_task))


# -- check ---------------------------------------------------------------------------------------
@dataclass
class CheckResult:
    """The interleaving checker's verdict: ``result`` as ``pcplab check --json`` prints it."""

    result: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.result.get("violation")

    def table(self) -> str:
        from pcplab.report.noise import check_summary

        return check_summary([(self.result.get("design", "?"), self.result)])

    def to_frame(self) -> Any:
        pd = _pandas()
        r = self.result
        viol = r.get("violation") or {}
        return pd.DataFrame([{"design": r.get("design"), "scenario": r.get("scenario"),
                              "mode": r.get("mode"), "bound": r.get("bound"),
                              "exhaustive": r.get("exhaustive"), "executions": r.get("executions"),
                              "states": r.get("states"), "violation": viol.get("kind"),
                              "function": viol.get("function")}])

    def plot(self) -> Any:
        """A verdict has nothing to plot; the figure says so (for uniformity in notebooks)."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 1.2))
        fig.text(0.02, 0.5, self.table().splitlines()[-1], family="monospace", va="center")
        return fig

    def _repr_html_(self) -> str:
        return _pre(self.table())

    def __str__(self) -> str:
        return self.table()


def check(design: str, scenario: str = "all", mode: str = "exhaustive", bound: int | None = 1,
          seed: int = 0) -> CheckResult:
    """Run the interleaving checker (``pcplab check``)."""
    from pcplab.check.api import run_check

    return CheckResult(run_check(design, scenario=scenario, mode=mode, bound=bound, seed=seed))
