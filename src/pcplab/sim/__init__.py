"""pcplab.sim: the timed discrete-event engine, its cost model and the pft entry point.

* :mod:`pcplab.sim.engine` — :class:`Simulator` (API in that module's docstring);
* :mod:`pcplab.sim.costs` — :class:`CostModel` and the global constants with their sources;
* :mod:`pcplab.sim.api` — :func:`run_pft` (mmtests' pft on a machine profile with a design).
"""

from pcplab.sim.costs import WORK_KINDS, CostModel
from pcplab.sim.engine import InvariantBroken, SimDeadlock, Simulator, TaskStats

__all__ = ["WORK_KINDS", "CostModel", "InvariantBroken", "SimDeadlock", "Simulator", "TaskStats"]
