"""pcplab: executable models of the Linux page allocator's per-CPU page lists and their drains.

The Python API (:mod:`pcplab.api`): ``pcplab.compare()``, ``pcplab.pft()``, ``pcplab.noise()`` and
``pcplab.check()`` return result objects with ``.to_frame()``, ``.plot()`` and an HTML repr.
Importing pcplab does not import matplotlib's pyplot or choose a backend.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from pcplab._version import __version__
from pcplab.api import (
    CheckResult,
    CompareResult,
    NoiseResult,
    PftResult,
    compare,
    noise,
    pft,
)
from pcplab.api import check as _check


class _CheckEntry:
    """``pcplab.check`` is two things: the API function ``pcplab.check(design, ...)`` and the
    checker's subpackage ``pcplab.check`` (``pcplab.check.api``, ``.explore`` ...).  Calling this
    object runs the function; any attribute comes from the subpackage, so ``pcplab.check.api`` and
    ``import pcplab.check.api as x`` keep working."""

    __doc__ = _check.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> CheckResult:
        return _check(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        import importlib

        return getattr(importlib.import_module("pcplab.check"), name)

    def __repr__(self) -> str:
        return "<pcplab.check: function check(design, ...) and the checker's subpackage>"


check = _CheckEntry()


class _Package(types.ModuleType):
    """Importing the subpackage ``pcplab.check`` binds it as an attribute of ``pcplab``; keep
    :data:`check` (which reaches the subpackage itself) instead of letting it be replaced."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "check" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["CheckResult", "CompareResult", "NoiseResult", "PftResult", "__version__", "check",
           "compare", "noise", "pft"]
