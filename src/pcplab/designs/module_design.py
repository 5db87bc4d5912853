"""Building a :class:`~pcplab.designs.base.Design` from the module that describes it.

A design module defines the kernel functions its patch changes (at least ``rmqueue_pcplist``,
``free_unref_page``, ``drain_pages_zone``, ``__drain_all_pages``; see
:mod:`pcplab.designs.standard`) and optionally ``State``, ``setup``, ``postcondition``,
``size_statement``, the hooks and the attributes ``NAME``, ``KERNEL_VERSION``, ``DESCRIPTION``,
``SOURCES``, ``BASE`` and ``EXPECTED_VIOLATION`` (the full list: :mod:`pcplab.designs.loader`).

This module knows no registry: a module naming a ``BASE`` by name needs ``base_of`` (the
loader passes its ``get_design``), so both the loader and the mutants (which build their design
from a mutated copy of a built-in module) import it and neither imports the other's caller.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pcplab.designs import standard
from pcplab.designs.base import Design, pcp_lists_empty, size_record, v517_fields
from pcplab.designs.state import DesignState
from pcplab.errors import PcplabError
from pcplab.mm.version import parse_kernel

#: the kernel functions a design's namespace resolves (its own, its BASE's, or the standard ones)
#: (``free_unref_page_list`` is optional: without one a batch is freed page by page)
KERNEL_FUNCTIONS = ("rmqueue_pcplist", "free_unref_page", "drain_pages_zone", "__drain_all_pages",
                    "free_unref_page_list", *standard.WRAPPERS)  # fmt: skip
HOOKS = ("on_user_entry", "on_idle_entry", "on_cpu_offline")


def _err(msg: str) -> PcplabError:
    return PcplabError(msg)



def _default_size_statement(name: str, version: str) -> Any:
    def size_statement(machine: Any) -> dict[str, Any]:
        nr = parse_kernel(version).configured(thp=machine.version.thp).nr_pcp_lists
        return size_record(
            name,
            machine,
            v517_fields(nr),
            source="the design declares no layout: v5.17's struct per_cpu_pages assumed",
            note="define size_statement(machine) in the design to give its own layout",
        )

    return size_statement


def _bind_setup(setup: Any, impl: Any) -> Any:
    """``setup`` that attaches the design's namespace to the state it builds (the standard
    wrappers find the design's functions there)."""

    def bound(machine: Any, kernel: Any) -> Any:
        st = setup(machine, kernel)
        object.__setattr__(st, "_impl", impl)
        return st

    bound.__wrapped__ = setup  # type: ignore[attr-defined]
    bound.__name__ = getattr(setup, "__name__", "setup")
    return bound


def _module_default_name(mod: types.ModuleType) -> str:
    stem = Path(getattr(mod, "__file__", "") or mod.__name__.rsplit(".", 1)[-1]).stem
    return stem.replace("_", "-")


def build_design(
    mod: types.ModuleType,
    *,
    origin: str = "built-in",
    source_hash: str = "",
    base: Design | None = None,
    base_of: Callable[[str], Design] | None = None,
) -> Design:
    """The :class:`Design` a module describes.  ``base`` is the design whose functions fill in
    what the module does not define; when it is not given and the module names a ``BASE``,
    ``base_of`` looks that name up."""
    ns = vars(mod)
    name = ns.get("NAME") or _module_default_name(mod)
    if not isinstance(name, str) or not name or any(c.isspace() or c in ",:" for c in name):
        raise _err(f"design in {origin}: NAME must be a non-empty string without spaces, ',' or "
                   f"':' (got {name!r})")  # fmt: skip
    if base is None and ns.get("BASE"):
        if base_of is None:
            raise _err(f"design {name} ({origin}) names BASE {ns['BASE']!r} but no registry was "
                       "given to look it up; load it through pcplab.designs.get")  # fmt: skip
        base = base_of(str(ns["BASE"]))
    version = str(ns.get("KERNEL_VERSION") or (base.kernel_version if base else "5.17"))
    try:
        parse_kernel(version)
    except PcplabError as exc:
        raise _err(f"design {name} ({origin}): KERNEL_VERSION: {exc}") from None
    resolved: dict[str, Any] = {}
    for fname in KERNEL_FUNCTIONS:
        f = ns.get(fname)
        if fname == "rmqueue" and f is None:
            f = ns.get("alloc_pages")  # the Design field's name, accepted as well
        if f is None and base is not None and base.impl is not None:
            f = getattr(base.impl, fname, None)
        if f is None:
            f = standard.WRAPPERS.get(fname)
        if f is not None:
            if not callable(f):
                raise _err(f"design {name} ({origin}): {fname} is not a function")
            resolved[fname] = f
    for req, users in standard.REQUIRED.items():
        if req in resolved:
            continue
        needing = [u for u in users if resolved.get(u) is standard.WRAPPERS[u]]
        if needing:
            raise _err(
                f"design {name} ({origin}) does not define {req}(), which the standard "
                f"{needing[0]}() calls; define it in the design module (see "
                "docs/writing-a-design.md)"
            )
    impl = types.SimpleNamespace(**resolved)
    state_cls = ns.get("State")
    setup = ns.get("setup")
    if setup is None and base is not None and state_cls is None:
        setup = getattr(base.setup, "__wrapped__", base.setup)
    if setup is None:
        cls = state_cls if state_cls is not None else DesignState
        if not (isinstance(cls, type) and issubclass(cls, DesignState)):
            raise _err(f"design {name} ({origin}): State must be a dataclass subclass of "
                       "pcplab.designs.DesignState")  # fmt: skip
        setup = cls
    hooks: dict[str, Any] = {h: ns.get(h, getattr(base, h) if base is not None else None) for h in HOOKS}
    for h, f in hooks.items():
        if f is not None and not callable(f):
            raise _err(f"design {name} ({origin}): {h} is not a function")
    doc = (mod.__doc__ or "").strip().splitlines()
    description = ns.get("DESCRIPTION") or (doc[0].rstrip(".") if doc else name)
    size = ns.get("size_statement")
    if size is None:
        size = base.size_statement if base is not None else _default_size_statement(name, version)
    post = ns.get("postcondition") or (base.postcondition if base is not None else pcp_lists_empty)
    return Design(
        name=name,
        description=str(description),
        kernel_version=version,
        setup=_bind_setup(setup, impl),
        alloc_pages=resolved["rmqueue"],
        free_pages=resolved["free_pages"],
        drain_all_pages=resolved["drain_all_pages"],
        drain_local_pages=resolved["drain_local_pages"],
        drain_dead_cpu=resolved["drain_dead_cpu"],
        zone_pcp_disable=resolved["zone_pcp_disable"],
        zone_pcp_enable=resolved["zone_pcp_enable"],
        postcondition=post,
        size_statement=size,
        expected_violation=ns.get("EXPECTED_VIOLATION"),
        sources=tuple(ns.get("SOURCES", ()) or ()),
        module=mod.__name__,
        origin=origin,
        source_hash=source_hash,
        impl=impl,
        scenarios=tuple(ns.get("SCENARIOS", ()) or ()),
        **hooks,
    )
