"""The shared ``__drain_all_pages`` entry rule (``common.drain_mutex_enter``), op by op."""

from __future__ import annotations

import pytest

from pcplab.designs import common
from pcplab.designs.base import Ctx
from pcplab.kernel.ops import MutexLock, MutexTrylock

from .helpers import setup


def _run(gen, answers):
    """Drive ``gen``, sending ``answers`` to its ops in turn; (ops seen, return value)."""
    seen = []
    try:
        op = next(gen)
        for a in answers:
            seen.append(op)
            op = gen.send(a)
        seen.append(op)
        raise AssertionError(f"generator still running after {seen}")
    except StopIteration as stop:
        return seen, stop.value


@pytest.fixture
def ctx():
    _, m, k = setup("spinlock")
    return Ctx(cpu=0, machine=m, kernel=k, state=k.state), m.zones[0]


def test_won_trylock_holds_mutex(ctx):
    c, zone = ctx
    for z in (None, zone):
        seen, got = _run(common.drain_mutex_enter(c, z, "__drain_all_pages"), [True])
        assert got is True
        assert [type(o) for o in seen] == [MutexTrylock]
        assert seen[0].func == "__drain_all_pages"


def test_lost_trylock_global_drain_gives_up(ctx):
    c, _ = ctx
    seen, got = _run(common.drain_mutex_enter(c, None, "__drain_all_pages"), [False])
    assert got is False
    assert [type(o) for o in seen] == [MutexTrylock]


def test_lost_trylock_zone_drain_waits(ctx):
    c, zone = ctx
    seen, got = _run(common.drain_mutex_enter(c, zone, "__drain_all_pages"), [False, None])
    assert got is True
    assert [type(o) for o in seen] == [MutexTrylock, MutexLock]
    assert all(o.func == "__drain_all_pages" for o in seen)
