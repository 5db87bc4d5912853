"""Checker scenarios: the public names of the scenario language, world, catalogue and files.

What user scenario files, designs and tests import (``from pcplab.check.scenario import Scenario,
alloc, free, drain``; see :mod:`pcplab.check.scenario_language` for how to write one).  The names
live in:

* :mod:`pcplab.check.scenario_language` — :class:`Scenario`, :class:`Action` and the program
  steps (``alloc``, ``free``, ``drain``, ``pcp_disable``, ...);
* :mod:`pcplab.check.scenario_world` — :class:`ScenarioWorld` (the mm-aware world, its clone fast
  path) and :func:`scenario_factory`;
* :mod:`pcplab.check.catalogue` — :data:`STANDARD`, :data:`EXTRA`, :func:`get_scenario`;
* :mod:`pcplab.check.scenario_file` — :func:`load_scenario_file`.

Code inside ``src/pcplab`` imports from those modules directly.
"""

from __future__ import annotations

from pcplab.check.catalogue import EXTRA, STANDARD, get_scenario, scenario_names
from pcplab.check.scenario_file import load_scenario_file
from pcplab.check.scenario_language import (
    Action,
    Scenario,
    alloc,
    drain,
    drain_dead,
    enter_kernel,
    enter_user,
    free,
    go_idle,
    go_offline,
    pcp_disable,
    pcp_enable,
)
from pcplab.check.scenario_world import ScenarioWorld, scenario_factory

__all__ = [
    "Action",
    "EXTRA",
    "STANDARD",
    "Scenario",
    "ScenarioWorld",
    "alloc",
    "drain",
    "drain_dead",
    "enter_kernel",
    "enter_user",
    "free",
    "get_scenario",
    "go_idle",
    "go_offline",
    "load_scenario_file",
    "pcp_disable",
    "pcp_enable",
    "scenario_factory",
    "scenario_names",
]
