"""Where `pcplab compare` gets results from.

``sim`` is the real path: ``pcplab.sim.api.run_pft`` / ``run_noise`` and
``pcplab.check.api.run_check``, imported when a run starts (so that commands which only read the
store do not load the simulator).  Other backends are registered with
:func:`register_backend`; the tests register a fake one (``tests/fake_backend.py``, synthetic
numbers in milliseconds) to exercise the store/resume/report machinery without the simulator.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pcplab.errors import PcplabError

ENV_BACKEND = "PCPLAB_COMPARE_BACKEND"
ENV_BACKEND_MODULE = "PCPLAB_BACKEND_MODULE"

Progress = Callable[..., Any] | None


def _no_validation(machine: str, designs: tuple[str, ...]) -> None:
    return None


@dataclass(frozen=True)
class Backend:
    name: str
    run_pft: Callable[..., dict[str, Any]]
    run_noise: Callable[..., dict[str, Any]]
    run_check: Callable[..., dict[str, Any]]
    #: raises PcplabError for an unknown machine or design before anything runs
    validate: Callable[[str, tuple[str, ...]], None] = _no_validation


def _run_pft(*args: Any, **kwargs: Any) -> dict[str, Any]:
    # imported when a run starts, so that `pcplab runs` / `export` do not load the simulator
    from pcplab.sim.api import run_pft

    return run_pft(*args, **kwargs)


def _run_noise(*args: Any, **kwargs: Any) -> dict[str, Any]:
    from pcplab.sim.api import run_noise

    return run_noise(*args, **kwargs)


def _run_check(*args: Any, **kwargs: Any) -> dict[str, Any]:
    from pcplab.check.api import run_check

    return run_check(*args, **kwargs)


def _sim_validate(machine: str, designs: tuple[str, ...]) -> None:
    """Fail before the first (possibly long) run rather than halfway through."""
    from pcplab import designs as registry
    from pcplab.machines.registry import get_profile

    get_profile(machine)
    for d in designs:
        registry.get(d)


def sim_backend() -> Backend:
    return Backend(
        "sim",
        _run_pft,
        _run_noise,
        _run_check,
        _sim_validate,
    )


_REGISTRY: dict[str, Callable[[], Backend]] = {"sim": sim_backend}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make ``name`` a backend :func:`get_backend` can return (test doubles, out-of-tree runners).

    ``sim`` cannot be replaced: stored results name their backend, and ``sim`` must always mean
    the simulator and the checker."""
    if name == "sim":
        raise ValueError("the sim backend cannot be replaced")
    _REGISTRY[name] = factory


def get_backend(name: str | None = None) -> Backend:
    """The backend called ``name`` (default ``$PCPLAB_COMPARE_BACKEND``, else ``sim``).

    A name not registered yet is looked up after importing the module named by
    ``$PCPLAB_BACKEND_MODULE``, which registers its backends with :func:`register_backend` when
    imported; that is how a fresh process (a worker, a subprocess in the tests) finds them."""
    name = name or os.environ.get(ENV_BACKEND) or "sim"
    module = os.environ.get(ENV_BACKEND_MODULE)
    if name not in _REGISTRY and module:
        importlib.import_module(module)
    factory = _REGISTRY.get(name)
    if factory is None:
        raise PcplabError(f"unknown backend {name!r}; choose one of {', '.join(sorted(_REGISTRY))}")
    return factory()
