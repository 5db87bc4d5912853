"""What a NULL pointer dereference in design code looks like to the kernel.

Both engines turn a Python ``AttributeError``/``TypeError`` on ``None`` raised inside a design
generator into the kernel's ``BUG: kernel NULL pointer dereference, address: ...``: the checker
(``pcplab.check.world``) and the timed workloads (``pcplab.workloads.oops``).  This module is the
one place that recognises such an exception and knows the faulting address.
"""

from __future__ import annotations

#: the kinds of violation the engines report (and a mutant may expect); "oops" is any other
#: exception raised in design code
VIOLATION_KINDS = (
    "null-deref",
    "page-lost",
    "double-alloc",
    "list-race",
    "lock-not-held",
    "data-race",
    "inconsistent-lock-state",
    "sleep-in-atomic",
    "lock-order",
    "postcondition",
    "deadlock",
    "oops",
)

#: the checker's rule findings that are predictions (pcplab.kernel.checks): an execution that shows
#: one goes on, and the search reports it only if it finds no concrete failure
PREDICTED_KINDS = frozenset({"lock-not-held", "data-race", "inconsistent-lock-state", "lock-order"})

#: the kernel's own lock-discipline errors (``KernelViolation.kind``) -> the checker's kind
#: (the one-time ``lock`` kind folded into lockdep's and might_sleep's categories)
KERNEL_KINDS = {
    "list-race": "list-race",
    "sleep-in-atomic": "sleep-in-atomic",  # might_sleep(): BUG: sleeping function called from ...
    "bad-context": "sleep-in-atomic",  # schedule() to user/idle/offline while atomic or locked
    "held-at-exit": "sleep-in-atomic",  # a task ends holding a lock / with IRQs or preempt off
    "self-deadlock": "deadlock",  # lockdep: possible recursive locking (AA); an IRQ handler
    # taking the lock its CPU's interrupted task holds is inconsistent-lock-state (World)
    "unlock-not-held": "lock-not-held",  # lockdep: bad unlock balance
    "imbalance": "lock-not-held",  # leaving a section (IRQs, preempt, RCU, window) not entered
    "lock-order": "lock-order",
}
#: offset of a field in its kernel struct, i.e. the address a load through NULL faults at.
#: ``per_cpu_pageset`` in ``struct zone``: 0x58 on arm64 with NUMA and 4 zones, the address in the
#: seed's oops (kernel-pcp.md §10.5, ``<7c87f388-cc50-e9a1-17a7-802bb42656e4@huawei.com>``).
FIELD_OFFSETS = {"per_cpu_pageset": 0x58}


def null_deref_field(exc: BaseException) -> str | None:
    """The field read through ``None`` ("?" when the message does not say), or None when ``exc``
    is not a NULL dereference."""
    msg = str(exc)
    if not isinstance(exc, AttributeError | TypeError) or "NoneType" not in msg:
        return None
    name = getattr(exc, "name", None)
    if isinstance(name, str) and name:
        return name
    # "'NoneType' object has no attribute 'per_cpu_pageset'"
    if "attribute '" in msg:
        return msg.split("attribute '", 1)[1].split("'", 1)[0]
    return "?"


def fault_address(field: str | None) -> int:
    """The address the kernel would report for a load of ``field`` through NULL (0 if unknown)."""
    return FIELD_OFFSETS.get(field or "", 0)
