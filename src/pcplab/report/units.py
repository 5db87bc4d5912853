"""A unit of `pcplab compare` work (one machine x design x workload) and how it is run.

Kept apart from the report-building in :mod:`pcplab.report.compare` so that a worker process
(:mod:`pcplab.report.parallel`) that unpickles a unit and runs it imports only this, the store's
key function and the backend, not matplotlib and the report modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pcplab.report.backends import Backend
from pcplab.report.naming import design_label
from pcplab.store.db import run_key


@dataclass(frozen=True)
class Unit:
    design: str
    workload: str
    machine: str
    params: dict[str, Any]
    seed: int | None

    @property
    def key(self) -> str:
        # the design's identity includes a hash of its source when it is not built in, so an
        # edited design file is run anew, never served the old results
        return run_key(self.machine, design_identity(self.design), self.workload, self.params,
                       self.seed)  # fmt: skip

    def describe(self) -> str:
        return f"{self.workload} {design_label(self.design)}"


def design_identity(spec: str) -> str:
    """What identifies a design's code in a run key: a built-in's name, else ``name@hash``."""
    from pcplab import designs

    return designs.get(spec).key


def execute(unit: Unit, backend: Backend, progress: Callable[..., Any] | None) -> dict[str, Any]:
    pr = unit.params
    if unit.workload == "pft":
        iso = {"isolated": pr["isolated"]} if pr.get("isolated") else {}
        return backend.run_pft(unit.machine, unit.design, pr["clients"], pr["iterations"],
                               unit.seed, progress=progress, **iso)
    if unit.workload == "noise":
        return backend.run_noise(unit.machine, unit.design, pr["isolated"], pr["load"],
                                 pr["drain_rate"], pr["duration_s"], unit.seed)
    if unit.workload == "check":
        extra = {"scenario_file": pr["scenario_file"]} if pr.get("scenario_file") else {}
        return backend.run_check(unit.design, scenario=pr["scenario"], mode=pr["mode"],
                                 bound=pr["bound"], seed=unit.seed or 0, **extra)
    raise AssertionError(unit.workload)
