"""The registry and the Design objects."""

from __future__ import annotations

import importlib
import inspect

import pytest

from pcplab import designs
from pcplab.designs.base import VIOLATION_KINDS, Design
from pcplab.errors import PcplabError

REAL = ["workqueue", "rcu", "rcu-v1", "static-key", "spinlock-irqsave", "spinlock"]


def test_names_and_get():
    assert designs.names() == REAL
    assert designs.names(mutants=True)[: len(REAL)] == REAL
    assert len(designs.mutant_names()) >= 6
    for d in designs.all_designs(mutants=True):
        assert isinstance(d, Design)
        assert designs.get(d.name) is d


def test_unknown_name_lists_the_known():
    with pytest.raises(PcplabError) as e:
        designs.get("rcu-v3")
    assert "workqueue" in str(e.value) and "spinlock" in str(e.value)


@pytest.mark.parametrize("name", REAL)
def test_real_designs(name):
    d = designs.get(name)
    assert not d.is_mutant and d.base is None
    assert d.kernel_version == ("6.0" if name == "spinlock" else "5.17")
    # the drain is a module function called __drain_all_pages, so oopses name it
    mod = importlib.import_module(d.module)
    fn = getattr(mod, "__drain_all_pages")
    assert fn.__name__ == "__drain_all_pages" and inspect.isgeneratorfunction(fn)
    for f in ("alloc_pages", "free_pages", "drain_all_pages", "drain_local_pages",
              "drain_dead_cpu", "zone_pcp_disable", "zone_pcp_enable"):  # fmt: skip
        assert inspect.isgeneratorfunction(getattr(d, f)), f


@pytest.mark.parametrize("name", designs.mutant_names())
def test_mutants_name_their_violation(name):
    d = designs.get(name)
    assert d.is_mutant and d.base in REAL
    assert d.expected_violation in VIOLATION_KINDS


def test_mutant_kinds_cover_the_brief():
    kinds = {designs.get(n).expected_violation for n in designs.mutant_names()}
    assert {"list-race", "postcondition", "page-lost", "double-alloc", "deadlock",
            "sleep-in-atomic"} <= kinds  # the old "lock" kind is sleep-in-atomic now (issue 15)


def test_rcu_v1_differs_from_rcu_in_one_line():
    import difflib

    from pcplab.designs import rcu, rcu_v1

    a = inspect.getsource(getattr(rcu, "__drain_all_pages")).splitlines()
    b = inspect.getsource(getattr(rcu_v1, "__drain_all_pages")).splitlines()
    diff = [ln for ln in difflib.unified_diff(a, b, lineterm="", n=0)
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]  # fmt: skip
    changed = [ln for ln in diff if "per_cpu_pageset" in ln]
    assert len(changed) == 2  # the pcp line: `z` in rcu, `zone` in rcu-v1
    assert "zone.per_cpu_pageset" in changed[1] and changed[1].startswith("+")
