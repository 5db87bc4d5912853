"""The checker's kernel state key: hashable, changes with the state, equal for equal states."""

from __future__ import annotations

from pcplab.check.keys import kernel_state_key
from pcplab.kernel import ops
from pcplab.kernel.locks import Spinlock
from pcplab.kernel.state import Kernel


def _prog(*oplist):
    def fn(ctx):
        yield from oplist

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
