"""Workloads: programs CPUs run on the simulator (and, some, on the checker).

* :mod:`pcplab.workloads.pft` — mmtests' page fault test (``pcplab pft``), exact and aggregated
  modes;
* the others (``oom``, drain storms, isolated CPUs, CMA, hotplug) are built on
  :class:`pcplab.sim.engine.Simulator` by their own modules.

Submodules are imported on use, so one broken workload never breaks the others.
"""
