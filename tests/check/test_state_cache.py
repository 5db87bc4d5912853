"""The unbounded search's state space reductions lose no state.

Sleep sets prune transitions, never states (Godefroid), so an exhaustive search with the state
cache must reach exactly the states the search without it reaches.  A key that merged two states
that behave differently would show up here as a state only the cache-free search reaches.  The
atomic search's early sleep (a wait that would block is tried at the end of the transition that
reached it) must likewise reach every scheduling-point state the search without it reaches, up to
the kernel's record of which task is about to sleep and which already sleeps.
"""

from __future__ import annotations

import pytest

from pcplab import designs
from pcplab.check import world as world_mod
from pcplab.check.dfs import explore_dfs
from pcplab.check.scenario import STANDARD, scenario_factory

_BY_NAME = {s.name: s for s in STANDARD}


def _states(design: str, scenario: str, *, cache: bool, checked_only: bool,
            early_sleep: bool = True, monkeypatch: pytest.MonkeyPatch | None = None) -> set[object]:
    """The state keys a search reaches: every state it checks (scheduling points and the states
    inside atomic transitions), or with ``checked_only=False`` the scheduling points it keys."""
    if not early_sleep:
        assert monkeypatch is not None
        monkeypatch.setattr(world_mod.World, "sleeps_at_once", lambda self, index: False)
    base = scenario_factory(designs.load(design), _BY_NAME[scenario])
    seen: set[object] = set()

    def factory():
        w = base()
        keyed = w.state_key

        def state_key():
            k = keyed()
            seen.add(k)
            return k

        if not checked_only:
            w.state_key = state_key
            return w
        # (the cache-free search keys no state: key each one it checks)
        checked = w.check_state

        def check_state():
            seen.add(keyed())
            return checked()

        w.check_state = check_state
        return w

    r = explore_dfs(factory, bound=None, atomic=True, cache=cache)
    assert r.exhaustive and r.violation is None
    if not early_sleep:
        monkeypatch.undo()
    return seen


@pytest.mark.parametrize(
    ("design", "scenario"),
    [("workqueue", "alloc-vs-zone-drain"), ("static-key", "alloc-vs-zone-drain"),
     ("spinlock", "alloc-vs-zone-drain"), ("rcu", "alloc-vs-zone-drain")],  # fmt: skip
)
def test_the_state_cache_reaches_every_state(design, scenario):
    with_cache = _states(design, scenario, cache=True, checked_only=True)
    without = _states(design, scenario, cache=False, checked_only=True)
    assert with_cache == without


def _without_kernel(keys: set[object]) -> set[object]:
    return {k[:1] + k[2:] for k in keys}  # type: ignore[index]


@pytest.mark.parametrize("scenario", ["pcp-disable", "concurrent-drainers"])
def test_trying_a_blocking_wait_early_loses_no_state(scenario, monkeypatch):
    # scheduling points only: which transitions the sleep sets leave out differs between the two
    # searches, and with them the states inside those transitions
    early = _states("workqueue", scenario, cache=True, checked_only=False)
    late = _states("workqueue", scenario, cache=True, checked_only=False, early_sleep=False,
                   monkeypatch=monkeypatch)  # fmt: skip
    assert _without_kernel(early) == _without_kernel(late)
    assert len(early) < len(late)  # and it does reduce: "about to sleep" is no state of its own
