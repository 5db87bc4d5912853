"""The op discipline both engines rely on, checked on random interleavings of every real design:
pcp lists change only inside the stepping task's PcpEnter/PcpExit window, every op names the
kernel function it models, and Work kinds come from the shared vocabulary."""

from __future__ import annotations

import random

import pytest

from pcplab.designs.base import WORK_KINDS
from pcplab.kernel import ops
from pcplab.kernel.workqueue import WaitForWork

from .helpers import design_id, every_design, setup
from .test_interleavings import churn, drainer


def snapshot(m):
    out = {}
    for z in m.zones:
        for pcp in z.per_cpu_pageset:
            for lists in (pcp.lp, pcp.drain):
                if lists is not None:
                    out[id(lists)] = (lists.count, tuple(tuple(lst) for lst in lists.lists))
    return out


@pytest.mark.parametrize("name", every_design(), ids=design_id)
def test_op_discipline(name):
    kinds = set()
    for seed in range(2):
        d, m, k = setup(name, cpus=3, nohz_full=(1,) if seed else ())
        z = m.zones[0]
        for cpu in range(3):
            k.spawn(cpu, churn, (d, z, seed * 10 + cpu, 15))
        k.spawn(2, drainer, (d, z, d.expected_violation != "null-deref"))
        rng = random.Random(seed)
        while True:
            en = k.enabled_tasks()
            if not en:
                break
            t = en[rng.randrange(len(en))]
            op = t.op
            if op is not None:
                assert isinstance(op, ops.Op)
                internal = type(op) is WaitForWork  # the kworker's own loop
                assert op.func or internal, f"{name}: {op.describe()} has no func"
                if isinstance(op, ops.Work):
                    assert op.kind in WORK_KINDS, op.kind
                    assert op.n > 0
                    kinds.add(op.kind)
                if isinstance(op, ops.Load | ops.Store):
                    assert isinstance(op.owner, int), f"{op.describe()} without owner CPU"
            before = snapshot(m)
            k.step(t)
            after = snapshot(m)
            for key, val in after.items():
                if before.get(key) != val:
                    assert key in t.windows, f"{name}: {t.name} changed a pcp list set outside " \
                        f"its window at {op.describe() if op else 'start'}"
        assert not k.unfinished()
    # 5.17 frees in two passes, the first before zone->lock (designs.common); 6.0 in one
    two_pass = z.version.bulk_detach_unlocked
    bulk = {"free_pcppages_detach", "free_pcppages_merge"} if two_pass else {"free_pcppages_bulk"}
    expected = {"pcp_alloc", "pcp_free", "rmqueue_bulk", "drain_mask_check"} | bulk
    assert expected <= kinds
    if name.startswith("rcu"):
        assert "pcp_swap" in kinds
