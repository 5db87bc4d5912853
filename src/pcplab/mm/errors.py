"""Errors the allocator model raises when a *caller* (a design, a workload) misuses memory.

These are not bad-input errors (those are :class:`pcplab.errors.PcplabError`); they are the model's
version of the kernel's "BUG: Bad page state" and double-free reports, and the checker treats them
as violations found.
"""

from __future__ import annotations


class AllocatorBug(Exception):
    """A page-state violation detected while it happened (double allocation, bad free)."""


class DoubleAlloc(AllocatorBug):
    """A block was handed to a caller while it is already allocated or still free in buddy."""


class BadFree(AllocatorBug):
    """A caller returned a block it does not own (not allocated, or with the wrong order)."""
