"""pcplab.check: the interleaving checker (design-agnostic).

Layout (reading order):

* :mod:`pcplab.check.world` — one execution: a :class:`~pcplab.kernel.state.Kernel` with tasks,
  the step function that turns exceptions and kernel violations into the checker's violation kinds
  (:data:`~pcplab.check.world.KINDS`), and the footprint (dependence) of a step.
* :mod:`pcplab.check.explore` — search strategies: exhaustive DFS with sleep sets, preemption
  bound and state cache; random; PCT; replay; counterexample shrinking.
* :mod:`pcplab.check.scenario` — the :class:`~pcplab.check.scenario.Scenario` dataclass, the
  program builders (``alloc``, ``free``, ``drain``, ...), the standard set and the mm-backed world.
* :mod:`pcplab.check.counterexample` — readable traces, kernel-style reports, replay tokens.
* :mod:`pcplab.check.api` — :func:`~pcplab.check.api.run_check` (used by ``pcplab check`` and
  ``pcplab compare``) and :func:`~pcplab.check.api.replay_token`.
"""
