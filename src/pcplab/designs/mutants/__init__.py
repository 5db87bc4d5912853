"""Deliberately broken designs: the checker's own test cases.

Each mutant is a real design with one small change, like a patch that rewrites one function, and
names the violation the checker must report (``Design.expected_violation``).  :func:`mutate` builds
the mutant: a fresh copy of the base design's module whose globals have the rewritten functions
swapped in, so every caller inside the copy — and the standard wrappers of
:mod:`pcplab.designs.standard`, which call the copy's functions — picks up the change while the real
design stays untouched.  Every module in this package is a mutant; the registry finds them itself.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from types import ModuleType
from typing import Any

from pcplab.designs.base import Design
from pcplab.designs.module_design import build_design


def mutate(base_module: str, functions: dict[str, Any]) -> ModuleType:
    """A private copy of ``base_module`` with ``functions`` replacing its module-level names."""
    spec = importlib.util.find_spec(base_module)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot copy {base_module}")
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    for name, fn in functions.items():
        if not hasattr(copy, name):
            raise AttributeError(f"{base_module} has no {name} to replace")
        setattr(copy, name, fn)
    return copy


def mutant_design(
    copy: ModuleType, name: str, description: str, expected_violation: str, module: str
) -> Design:
    """The design the mutated copy describes, renamed and marked as a mutant of its base (the
    design the copied module defines)."""
    base = build_design(copy)  # a built-in base module names no BASE, so no registry is needed
    return replace(
        base,
        name=name,
        description=description,
        is_mutant=True,
        base=base.name,
        expected_violation=expected_violation,
        module=module,
    )


__all__ = ["mutant_design", "mutate"]
