"""The measured pft a calibration fits: ``pcplab measure pft``'s output or an mmtests tree.

Accepted: a ``pcplab-measure.json`` file, a run directory holding one (full-precision samples),
or an mmtests ``work/log`` tree / run directory (the two-decimal seconds pft printed, read by
:mod:`pcplab.report.mmtests_dir`; ``--run NAME`` picks one run of several).  The mapping size is
the JSON's, else the ``-m`` of ``logs/commands.log`` (mmtests' ``log_cmd`` of the pft command
line), else the caller's ``--mapping-mb``; a tree without any of them is refused rather than
guessed from the rounded rates.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcplab.errors import PcplabError
from pcplab.measure.pft import FORMAT, MEASURE_JSON

_COMMAND = re.compile(r"-m\s+(\d+)\s+(-t|-n)\s+(\d+)")
METRICS = ("user", "system", "elapsed")


@dataclass(frozen=True)
class Measurement:
    name: str
    kind: str  # "pcplab measure pft" or "mmtests tree"
    mapping_bytes: int
    use_processes: bool
    rows: dict[int, dict[str, list[float]]]  # clients -> metric -> samples (seconds)
    host: dict[str, Any] = field(default_factory=dict)
    #: clients -> share of the workers' wall time spent runnable but waiting for a CPU (other
    #: work on the host), from ``pcplab measure pft``'s schedstat figures; absent: unknown
    waited: dict[int, float] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """sha256 (first 16 hex digits) of the samples and the mapping size."""
        text = json.dumps({"mapping": self.mapping_bytes, "processes": self.use_processes,
                           "rows": {str(k): v for k, v in sorted(self.rows.items())}},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def mean(self, clients: int, metric: str) -> float:
        xs = self.rows[clients][metric]
        return sum(xs) / len(xs)

    def center(self, clients: int, metric: str, statistic: str = "median") -> float:
        """The row's ``median`` (default) or ``mean`` of ``metric``."""
        if statistic == "mean":
            return self.mean(clients, metric)
        return statistics.median(self.rows[clients][metric])


def _from_json(path: Path) -> Measurement:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PcplabError(f"cannot read {path}: {exc}") from None
    except ValueError as exc:
        raise PcplabError(f"{path} is not JSON ({exc}); give pcplab measure pft's output") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PcplabError(f"{path} is not a pcplab measure pft result (format {FORMAT})")
    rows: dict[int, dict[str, list[float]]] = {}
    waited: dict[int, float] = {}
    try:
        for r in doc["clients"]:
            n = int(r["clients"])
            rows[n] = {m: [float(x) for x in r[m]] for m in METRICS}
            delays = r.get("run_delay") or []
            if delays and all(isinstance(d, (int, float)) for d in delays):
                wall = sum(rows[n]["elapsed"]) * n
                waited[n] = sum(float(d) for d in delays) / wall if wall > 0 else 0.0
        mapping = int(doc["mapping_bytes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PcplabError(f"{path}: damaged measurement ({type(exc).__name__}: {exc})") from None
    return Measurement(str(doc.get("name") or path.parent.name), "pcplab measure pft", mapping,
                       bool(doc.get("use_processes")), rows, dict(doc.get("host") or {}),
                       waited)


def _commands_mapping(top: Path) -> tuple[int | None, bool]:
    sizes, processes = set(), False
    for log in sorted(top.glob("iter-*/pft/logs/commands.log")):
        for line in log.read_text(errors="replace").splitlines():
            m = _COMMAND.search(line)
            if m:
                sizes.add(int(m.group(1)))
                processes = processes or m.group(2) == "-n"
    if len(sizes) > 1:
        raise PcplabError(f"{top}: commands.log has several mapping sizes {sorted(sizes)}; "
                          "calibrate needs one")
    return (sizes.pop() if sizes else None), processes


def read_measurement(path: str | Path, run: str | None = None, mapping_mb: int | None = None,
                     warn: Callable[[str], None] | None = None) -> Measurement:
    """The measurement at ``path`` (see the module docstring)."""
    p = Path(path)
    if not p.exists():
        raise PcplabError(f"{p} does not exist; give pcplab measure pft's run directory or an "
                          "mmtests work/log tree")
    if p.is_file():
        return _from_json(p)
    if (p / MEASURE_JSON).is_file() and run is None:
        return _from_json(p / MEASURE_JSON)
    from pcplab.report.mmtests_dir import import_tree

    runs = import_tree(p, warn)
    if run is not None:
        runs = [r for r in runs if r.name == run]
        if not runs:
            raise PcplabError(f"no run named {run!r} under {p}")
    if len(runs) > 1:
        names = ", ".join(r.name for r in runs)
        raise PcplabError(f"{p} holds {len(runs)} runs ({names}); pick one with --run NAME")
    tr = runs[0]
    top = p if (p / "iter-0").exists() or p.name == tr.name else p / tr.name
    if (top / MEASURE_JSON).is_file():
        return _from_json(top / MEASURE_JSON)
    mapping, processes = _commands_mapping(top)
    if mapping is None and mapping_mb is not None:
        mapping = mapping_mb << 20
    if mapping is None:
        raise PcplabError(f"{top} does not say the mapping size (no '-m BYTES' in "
                          "logs/commands.log); give --mapping-mb")
    rows = {int(e["clients"]): {m: [float(x) for x in e[m]] for m in METRICS}
            for e in tr.result["clients"]}
    return Measurement(tr.name, "mmtests tree", mapping, processes, rows, {})
