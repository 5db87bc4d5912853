"""Property tests: random lock-using tasks under random schedules keep the kernel consistent."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pcplab.kernel import ops
from pcplab.kernel.locks import LocalLockVar, Mutex, Spinlock
from pcplab.kernel.state import Kernel, KernelViolation

LOCKS = [Spinlock("a"), Spinlock("b")]
MUTEX = Mutex("m")
LL = LocalLockVar("ll")


def section(kind: int, lock_index: int):
    """One well-formed critical section (always in a legal context)."""
    if kind == 0:
        lock = LOCKS[lock_index]
        return [ops.SpinLock(lock, irqsave=True), ops.Work("x"), ops.SpinUnlock(lock, True)]
    if kind == 1:
        return [ops.MutexLock(MUTEX), ops.Work("y"), ops.MutexUnlock(MUTEX)]
    if kind == 2:
        return [ops.LocalLock(LL), ops.Work("z"), ops.LocalUnlock(LL)]
    if kind == 3:
        return [ops.RcuReadLock(), ops.RcuReadUnlock()]
    return [ops.SynchronizeRcu()]


def program(sections):
    def fn(ctx):
        for kind, li in sections:
            for op in section(kind, li):  # noqa: UP028 - results are sent back in
                yield op

    return fn


progs = st.lists(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1)), min_size=1, max_size=4),
    min_size=1,
    max_size=3,
)


@settings(max_examples=60, deadline=None)
@given(progs, st.integers(0, 2**16), st.booleans())
def test_random_programs_finish_clean(programs, seed, rt):
    """Well-nested sections never violate lock discipline or deadlock (only one lock at a time),
    and every counter is back to zero at the end, whatever the schedule."""
    k = Kernel(len(programs), preempt_rt=rt)
    for cpu, p in enumerate(programs):
        k.spawn(cpu, program(p), prime=True)
    rng = random.Random(seed)
    for _ in range(10000):
        en = k.enabled_tasks()
        assert k.enabled_indices() == [x.index for x in en]  # the checker's inlined copy
        if not en:
            break
        t = rng.choice(en)
        try:
            k.step(t)
        except KernelViolation as exc:  # pragma: no cover - would be a kernel bug
            raise AssertionError(f"unexpected violation {exc.kind}: {exc}") from exc
        for task in k.tasks:
            assert task.irq_depth >= task.irq_base and task.preempt >= 0 and task.rcu_nest >= 0
        owners = set(k.owner.values())
        for o in owners:
            assert not o.done
    assert k.unfinished() == []
    assert not k.owner and not k.pcp_windows
    for t in k.tasks:
        assert (t.irq_depth, t.preempt, t.migrate, t.rcu_nest, t.rt_locks) == (0, 0, 0, 0, 0)
