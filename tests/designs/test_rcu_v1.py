"""The seed as posted: drain_all_pages(NULL) dereferences NULL inside __drain_all_pages."""

from __future__ import annotations

import traceback

import pytest

from pcplab import designs
from pcplab.kernel.state import BLOCKED

from .helpers import invariants, pcp_pages, run, setup
from .test_sequential import fill


def test_null_zone_drain_oopses_in___drain_all_pages():
    d, m, k = setup("rcu-v1")
    fill(d, m, k)
    t = k.spawn(1, d.drain_all_pages, (None,))
    with pytest.raises(AttributeError) as e:
        while not t.done:
            assert k.step(t) is not BLOCKED
    assert "NoneType" in str(e.value) and "per_cpu_pageset" in str(e.value)
    frames = traceback.extract_tb(e.value.__traceback__)
    assert frames[-1].name == "__drain_all_pages"
    assert frames[-1].filename.endswith("rcu_v1.py")
    assert "zone.per_cpu_pageset[cpu]" in frames[-1].line


def test_fixed_rcu_and_zone_or_forced_v1_drains_work():
    for name, zone_arg, force in (("rcu", None, False), ("rcu-v1", "zone", False),
                                  ("rcu-v1", None, True)):  # fmt: skip
        d, m, k = setup(name)
        fill(d, m, k)
        zone = m.zones[0] if zone_arg else None
        assert run(k, 1, d.drain_all_pages, zone, force) is True
        assert not invariants(m)
        assert pcp_pages(m) == 0


def test_v1_zone_pcp_disable_works():
    d, m, k = setup("rcu-v1")
    fill(d, m, k)
    z = m.zones[0]

    def prog(ctx):
        yield from d.zone_pcp_disable(ctx, z)
        yield from d.zone_pcp_enable(ctx, z)

    run(k, 0, prog)
    assert pcp_pages(m) == 0


def test_checker_classifies_it_as_null_deref():
    world = pytest.importorskip("pcplab.check.world")
    d, m, k = setup("rcu-v1")
    fill(d, m, k)
    w = world.World(k)
    t = k.spawn(1, d.drain_all_pages, (None,))
    for _ in range(100):
        v = w.step(t.index)
        if v is not None:
            break
    assert v is not None and v.kind == "null-deref"
    assert v.function == "__drain_all_pages"
    assert v.address == 0x58
    assert designs.get("rcu-v1").expected_violation == v.kind
