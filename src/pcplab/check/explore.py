"""Search strategies over the interleavings of a :class:`~pcplab.check.world.World`: the public
names, gathered from one module per strategy.

* :mod:`pcplab.check.dfs` — :func:`explore_dfs`: exhaustive depth-first search (sleep sets,
  preemption bound, state cache, the atomic mode of ``--bound -1``);
* :mod:`pcplab.check.randomized` — :func:`explore_random` (uniform) and :func:`explore_pct` (PCT);
* :mod:`pcplab.check.search` — :class:`SearchResult`, :func:`replay`, :func:`shrink`.

Tests, benchmarks and user code import from here; code inside ``src/pcplab`` imports from those
modules directly.
"""

from __future__ import annotations

from pcplab.check.dfs import explore_dfs, invisible
from pcplab.check.randomized import explore_pct, explore_random
from pcplab.check.search import SearchResult, WorldFactory, replay, shrink

__all__ = [
    "SearchResult",
    "WorldFactory",
    "explore_dfs",
    "explore_pct",
    "explore_random",
    "invisible",
    "replay",
    "shrink",
]
