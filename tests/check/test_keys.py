"""The checker's kernel state key: hashable, changes with the state, equal for equal states."""

from __future__ import annotations

from pcplab.check.keys import kernel_state_key
from pcplab.kernel import ops
from pcplab.kernel.locks import Spinlock
from pcplab.kernel.state import Kernel


def _prog(*oplist):
    def fn(ctx):
        for op in oplist:  # noqa: UP028 - yield from a tuple cannot take the ops' results
            yield op

    return fn


def _kernel() -> tuple[Kernel, object]:
    k = Kernel(2)
    lock = Spinlock("l")
    t = k.spawn(0, _prog(ops.SpinLock(lock), ops.SpinUnlock(lock)), prime=True)
    return k, t


def test_kernel_state_key_is_hashable_and_changes():
    k, t = _kernel()
    s0 = kernel_state_key(k)
    hash(s0)
    k.step(t)
    assert kernel_state_key(k) != s0


def test_kernel_state_key_is_free_of_object_identity():
    (a, ta), (b, tb) = _kernel(), _kernel()
    assert kernel_state_key(a) == kernel_state_key(b)
    a.step(ta)
    b.step(tb)
    assert kernel_state_key(a) == kernel_state_key(b)


def _queuer(cpu: int, work: ops.WorkItem, flush: bool = False):
    return _prog(ops.QueueWorkOn(cpu, work), *([ops.FlushWork(work)] if flush else []))


def test_a_woken_kworker_and_one_that_never_slept_are_one_state():
    # the kworker's wait for work changes nothing but its wait when it blocks: once work is
    # queued, the kworker that slept and the one that never tried do the same next
    a, b = Kernel(2), Kernel(2)
    work_a, work_b = ops.WorkItem("w", _prog(ops.Work(1))), ops.WorkItem("w", _prog(ops.Work(1)))
    ta = a.spawn(0, _queuer(1, work_a), prime=True)
    tb = b.spawn(0, _queuer(1, work_b), prime=True)
    kw = a.kworker(1)
    b.kworker(1)
    a.step(kw)  # the worklist is empty: it sleeps
    assert kw.wait is not None and a.enabled_indices() == [ta.index]
    assert kernel_state_key(a) != kernel_state_key(b)  # asleep (disabled) vs about to try
    a.step(ta)
    b.step(tb)
    assert kernel_state_key(a) == kernel_state_key(b)


def test_a_sleeper_that_may_not_retry_is_keyed_by_what_it_waits_for():
    k = Kernel(2)
    work = ops.WorkItem("w", _prog(ops.Work(1)))
    t = k.spawn(0, _queuer(1, work, flush=True), prime=True)
    k.step(t)  # queued on cpu1
    k.step(t)  # pending: the flush sleeps
    assert t.wait is not None
    waits = [row[7] for row in kernel_state_key(k)[0]]
    assert waits[t.index] == "FlushWork"
    kw = k.cpus[1].kworker
    for _ in range(10):  # the kworker runs the item to its end
        if not (work.pending or work.running):
            break
        k.step(kw)
    assert not (work.pending or work.running)
    waits = [row[7] for row in kernel_state_key(k)[0]]
    assert waits[t.index] is None  # it may retry: as if it had not tried yet
    cur = [row[1] for row in kernel_state_key(k)[1]]
    assert cur[0] == -1  # an asleep current task leaves its CPU idle, as no current task does


def test_a_spinner_is_keyed_apart_from_a_task_about_to_try_the_lock():
    # a contended spin_lock is not RETRY_ALIKE (a spinner is queued on the lock): the key keeps
    # the difference
    k = Kernel(2)
    lock = Spinlock("l")
    a = k.spawn(0, _prog(ops.SpinLock(lock), ops.SpinUnlock(lock)), prime=True)
    b = k.spawn(1, _prog(ops.SpinLock(lock), ops.SpinUnlock(lock)), prime=True)
    k.step(a)
    about = kernel_state_key(k)
    k.step(b)
    if b.wait is not None:
        assert kernel_state_key(k) != about


def _late_binder(flag):
    if flag:
        x = 1  # x comes first among the locals, but is bound late below
    y = 2
    yield
    x = 3
    yield x + y


def _gen_task(gen):
    from types import SimpleNamespace

    return SimpleNamespace(gen=gen, done=False)


def test_a_task_key_does_not_depend_on_when_it_was_taken_before():
    """CPython keeps one f_locals dict per frame and appends variables bound after the first
    look: the key of a frame must not depend on that history (one state, one key)."""
    from pcplab.check.world import task_key

    seen_early = _late_binder(False)
    next(seen_early)
    task_key(_gen_task(seen_early))  # looked at with only ``flag`` and ``y`` bound
    next(seen_early)
    fresh = _late_binder(False)
    next(fresh)
    next(fresh)
    assert task_key(_gen_task(seen_early)) == task_key(_gen_task(fresh))


def test_task_keys_tell_apart_values_in_different_locals():
    """Two frames whose values are the same multiset in different variables are two states."""
    from pcplab.check.world import task_key

    def swap(a, b):
        yield

    g1, g2 = swap(1, 2), swap(2, 1)
    next(g1)
    next(g2)
    assert task_key(_gen_task(g1)) != task_key(_gen_task(g2))


def test_task_keys_see_the_whole_content_of_local_containers():
    """A local dict of the same size, or a list that differs only after its 16th item, is
    another state."""
    from pcplab.check.world import task_key

    def holder(value):
        yield
        del value

    pairs = [({1: "a"}, {1: "b"}), (list(range(20)), [*range(19), 99]), ({1, 2}, {1, 3}),
             ([[[[1]]]], [[[[2]]]])]  # fmt: skip
    for a, b in pairs:
        ga, gb = holder(a), holder(b)
        next(ga)
        next(gb)
        assert task_key(_gen_task(ga)) != task_key(_gen_task(gb)), (a, b)
