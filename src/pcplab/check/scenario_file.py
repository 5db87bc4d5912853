"""Loading a user's scenario file (``pcplab check --scenario-file F``): a Python file defining
``SCENARIOS`` (a list of :class:`~pcplab.check.scenario_language.Scenario`) or ``SCENARIO``."""

from __future__ import annotations

import os
import runpy

from pcplab.check.scenario_language import Scenario
from pcplab.errors import PcplabError


def load_scenario_file(path: str) -> list[Scenario]:
    """Scenarios defined by a user's Python file (``SCENARIOS`` list or ``SCENARIO``), each
    validated (:meth:`Scenario.validate`); any problem is one PcplabError naming the file."""
    if not isinstance(path, str) or not path:
        raise PcplabError("scenario file name is empty")
    if os.path.isdir(path):
        raise PcplabError(f"scenario file {path} is a directory; give a .py file")
    if not os.path.exists(path):
        raise PcplabError(f"scenario file {path} not found")
    try:
        ns = runpy.run_path(path, run_name="pcplab_scenarios")
    except FileNotFoundError:
        raise PcplabError(f"scenario file {path} not found") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a user file can fail in any way
        raise PcplabError(
            f"scenario file {path} failed to load: {type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    found = ns.get("SCENARIOS")
    if found is None and "SCENARIO" in ns:
        found = [ns["SCENARIO"]]
    if (
        not isinstance(found, list | tuple)
        or not found
        or not all(isinstance(s, Scenario) for s in found)
    ):
        raise PcplabError(
            f"scenario file {path} must define SCENARIOS (a non-empty list of "
            "pcplab.check.scenario.Scenario) or SCENARIO"
        )
    names: set[str] = set()
    for s in found:
        try:
            s.validate()
        except PcplabError as exc:
            raise PcplabError(f"scenario file {path}: {exc}") from None
        if s.name in names:
            raise PcplabError(f"scenario file {path}: two scenarios are named {s.name!r}")
        names.add(s.name)
    return list(found)


__all__ = ["load_scenario_file"]
