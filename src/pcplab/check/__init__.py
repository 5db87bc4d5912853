"""pcplab.check: the interleaving checker (design-agnostic).

Layout (reading order):

* :mod:`pcplab.check.world` — one execution: a :class:`~pcplab.kernel.state.Kernel` with tasks,
  the step function that turns exceptions and kernel violations into the checker's violation kinds
  (:data:`~pcplab.check.world.KINDS`), and the footprint (dependence) of a step;
  :mod:`pcplab.check.keys` — the kernel part of a world's state key.
* Search strategies, one module each: :mod:`pcplab.check.dfs` (exhaustive DFS with sleep sets,
  preemption bound, state cache and the atomic mode), :mod:`pcplab.check.randomized` (random and
  PCT); :mod:`pcplab.check.search` — what they share: the result, replay, counterexample
  shrinking.  :mod:`pcplab.check.explore` gathers their public names.
* Scenarios: :mod:`pcplab.check.scenario_language` (the :class:`~pcplab.check.scenario.Scenario`
  dataclass and the program steps ``alloc``, ``free``, ``drain``, ...),
  :mod:`pcplab.check.scenario_world` (the mm-backed world and its clone fast path),
  :mod:`pcplab.check.catalogue` (the standard set), :mod:`pcplab.check.scenario_file` (user
  files); :mod:`pcplab.check.scenario` gathers their public names (what user files import).
* :mod:`pcplab.check.counterexample` — readable traces, kernel-style reports, replay tokens.
* :mod:`pcplab.check.api` — :func:`~pcplab.check.api.run_check` (used by ``pcplab check`` and
  ``pcplab compare``) and :func:`~pcplab.check.api.replay_token`.
"""
