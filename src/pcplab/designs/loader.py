"""Designs from anywhere: built-in names, files, modules, entry points and the Python API.

A *design spec* is what a user types after ``--design``:

* a built-in or registered name (``spinlock``, a mutant, or one passed to :func:`register`);
* a file: ``./my_design.py``, or ``./my_design.py:NAME`` when the file defines several
  (``NAME`` is a module attribute holding a :class:`~pcplab.designs.base.Design`, or the ``NAME``
  of one);
* a module: ``package.module`` or ``package.module:attr``;
* a name an installed package registers in the entry-point group ``pcplab.designs`` (the entry
  point loads a module or a :class:`~pcplab.designs.base.Design`).

A design module is built into a :class:`~pcplab.designs.base.Design` by :func:`design_from_module`:
it defines the kernel functions its patch changes (at least ``rmqueue_pcplist``,
``free_unref_page``, ``drain_pages_zone``, ``__drain_all_pages``; see
:mod:`pcplab.designs.standard`), optionally ``State`` (a dataclass subclass of
:class:`~pcplab.designs.state.DesignState`) or ``setup(machine, kernel)``, ``postcondition``,
``size_statement`` and the hooks ``on_user_entry``/``on_idle_entry``/``on_cpu_offline``, and the
module attributes ``NAME`` (default: the file name, ``_`` → ``-``), ``KERNEL_VERSION`` (default
``"5.17"``), ``DESCRIPTION`` (default: the docstring's first line), ``SOURCES``, ``BASE`` (a design
whose functions fill in what this module does not define) and ``EXPECTED_VIOLATION``.

Every loaded design records its ``origin`` and a ``source_hash`` over its file and the files of the
modules it imports from outside pcplab, the standard library and installed packages, so results
stored for an older version of the file are never served for a newer one.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
import sysconfig
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

from pcplab.designs.base import Design
from pcplab.designs.module_design import HOOKS, KERNEL_FUNCTIONS, build_design
from pcplab.errors import PcplabError

ENTRY_POINT_GROUP = "pcplab.designs"


def _err(msg: str) -> PcplabError:
    return PcplabError(msg)


# --- source hashes ---------------------------------------------------------------------------


def _library_roots() -> tuple[str, ...]:
    roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            roots.add(os.path.realpath(p))
    roots.add(os.path.realpath(str(Path(__file__).resolve().parent.parent)))  # pcplab itself
    return tuple(sorted(roots))


def _is_user_file(path: str) -> bool:
    real = os.path.realpath(path)
    return real.endswith(".py") and not any(
        real == r or real.startswith(r + os.sep) for r in _library_roots()
    )


def _imported_names(source: bytes) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def source_files(path: str, search: list[str]) -> list[str]:
    """``path`` and, transitively, the user modules it imports (found on ``search`` + sys.path)."""
    seen: list[str] = []
    todo = [os.path.realpath(path)]
    old = sys.path[:]
    sys.path[:0] = search
    try:
        while todo:
            p = todo.pop()
            if p in seen:
                continue
            seen.append(p)
            for name in _imported_names(Path(p).read_bytes()):
                try:
                    spec = importlib.util.find_spec(name)
                except (ImportError, ValueError):
                    continue
                origin = getattr(spec, "origin", None) if spec is not None else None
                if origin and os.path.isfile(origin) and _is_user_file(origin):
                    todo.append(os.path.realpath(origin))
    finally:
        sys.path[:] = old
    return sorted(seen)


def hash_files(paths: list[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.encode())
        h.update(b"\0")
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


# --- building a Design from a module ---------------------------------------------------------


def design_from_module(
    mod: types.ModuleType,
    *,
    origin: str = "built-in",
    source_hash: str = "",
    base: Design | None = None,
) -> Design:
    """The :class:`Design` a module describes (see the module docstring for what it defines); a
    ``BASE`` it names is looked up in the registry."""
    return build_design(mod, origin=origin, source_hash=source_hash, base=base, base_of=get_design)


# --- the registry ----------------------------------------------------------------------------

#: built-in designs in the order tables show them
BUILT_IN: dict[str, str] = {
    "workqueue": "pcplab.designs.workqueue",
    "rcu": "pcplab.designs.rcu",
    "rcu-v1": "pcplab.designs.rcu_v1",
    "static-key": "pcplab.designs.static_key",
    "spinlock-irqsave": "pcplab.designs.spinlock_irqsave",
    "spinlock": "pcplab.designs.spinlock",
}

_cache: dict[str, Design] = {}
_registered: dict[str, Design] = {}


def mutant_modules() -> dict[str, str]:
    """Every module in :mod:`pcplab.designs.mutants`, by the mutant name it defines (file name
    with ``_`` → ``-``): no list to keep by hand."""
    import pkgutil

    from pcplab.designs import mutants

    out = {}
    for info in sorted(pkgutil.iter_modules(mutants.__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            out[info.name.replace("_", "-")] = f"{mutants.__name__}.{info.name}"
    return out


def _module_design(modname: str, origin: str) -> Design:
    mod = importlib.import_module(modname)
    d = getattr(mod, "DESIGN", None)
    if isinstance(d, Design):
        return d
    return design_from_module(mod, origin=origin)


def _entry_points() -> dict[str, Any]:
    try:
        eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception:  # noqa: BLE001 - a broken installed distribution must not stop pcplab
        return {}
    return {ep.name: ep for ep in eps}


def builtin_names(mutants: bool = False) -> list[str]:
    return list(BUILT_IN) + (list(mutant_modules()) if mutants else [])


def _finish(d: Any, origin: str, files: list[str] | None) -> Design:
    if isinstance(d, types.ModuleType):
        d = design_from_module(d, origin=origin)
    if not isinstance(d, Design):
        raise _err(f"{origin} is a {type(d).__name__}, not a design module or Design")
    if files is None:
        mod_file = getattr(sys.modules.get(d.module), "__file__", None)
        files = source_files(mod_file, []) if mod_file and os.path.isfile(mod_file) else []
    digest = hash_files(files) if files else d.source_hash
    return replace(d, origin=origin, source_hash=digest)


def _load_file(
    path: str, attr: str | None, source: tuple[str, str, list[str], str] | None
) -> Design:
    if source is None:
        raise _err(f"design file {path} does not exist (or is not a readable file); give a .py "
                   "file path or a built-in name (see 'pcplab designs')")  # fmt: skip
    real, _, files, digest = source
    modname = f"pcplab_user_design_{hashlib.sha256(real.encode()).hexdigest()[:12]}_{digest}"
    mod = sys.modules.get(modname)
    if mod is None:
        spec = importlib.util.spec_from_file_location(modname, real)
        if spec is None or spec.loader is None:
            raise _err(f"cannot load design file {path}: not a Python source file")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod  # dataclasses in the file look their module up here
        sys.path.insert(0, str(Path(real).parent))
        try:
            spec.loader.exec_module(mod)
        except PcplabError:
            sys.modules.pop(modname, None)
            raise
        except SyntaxError as exc:
            sys.modules.pop(modname, None)
            raise _err(f"design file {path}, line {exc.lineno}: syntax error: {exc.msg}") from None
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code: one line
            sys.modules.pop(modname, None)
            raise _err(f"design file {path} failed to load: {type(exc).__name__}: {exc}") from None
        finally:
            try:
                sys.path.remove(str(Path(real).parent))
            except ValueError:
                pass
    if attr is not None:
        obj = getattr(mod, attr, None)
        if obj is None:
            found = [v.name for v in vars(mod).values() if isinstance(v, Design)]
            raise _err(f"design file {path} has no {attr!r}" +
                       (f"; it defines: {', '.join(found)}" if found else ""))  # fmt: skip
        return _finish(obj, real + f":{attr}", files)
    designs = [v for k, v in vars(mod).items() if isinstance(v, Design) and not k.startswith("_")]
    if isinstance(getattr(mod, "DESIGN", None), Design):
        return _finish(mod.DESIGN, real, files)
    if len(designs) > 1:
        raise _err(f"design file {path} defines several designs ({', '.join(d.name for d in designs)}"
                   f"); pick one with {path}:ATTRIBUTE")  # fmt: skip
    if designs:
        return _finish(designs[0], real, files)
    if not any(callable(vars(mod).get(f)) for f in ("rmqueue_pcplist", "alloc_pages", "rmqueue",
                                                   "__drain_all_pages", "drain_pages_zone")):
        raise _err(f"design file {path} defines no design: write at least rmqueue_pcplist(), "
                   "free_unref_page(), drain_pages_zone() and __drain_all_pages() (see "
                   "docs/writing-a-design.md)")  # fmt: skip
    return design_from_module(mod, origin=real, source_hash=digest)


def _load_module(modname: str, attr: str | None, spec: str) -> Design:
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        raise _err(f"unknown design {spec!r}: no module {exc.name!r}; use a built-in name "
                   "(see 'pcplab designs'), a .py file or package.module[:attr]") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code
        raise _err(f"design module {modname} failed to import: {type(exc).__name__}: {exc}") from None
    obj: Any = mod if attr is None else getattr(mod, attr, None)
    if obj is None:
        raise _err(f"design module {modname} has no attribute {attr!r}")
    if isinstance(obj, types.ModuleType) and isinstance(getattr(obj, "DESIGN", None), Design):
        obj = obj.DESIGN
    return _finish(obj, spec, None)


def _check_clash(d: Design, spec: str) -> Design:
    if d.origin != "built-in" and d.name in builtin_names(mutants=True):
        raise _err(f"design {spec} is named {d.name!r}, which is a built-in design; give it "
                   "another NAME")  # fmt: skip
    return d


def get_design(spec: str) -> Design:
    """The design ``spec`` names (see the module docstring); :class:`PcplabError` otherwise."""
    if not isinstance(spec, str) or not spec.strip():
        raise _err("empty design name; use one of: " + ", ".join(builtin_names()))
    source = _file_source(spec)
    file_key = f"{source[0]}:{source[1]}@{source[3]}" if source else None
    d = _cache.get(file_key or spec)
    if d is not None:
        return d
    if spec in _registered:
        return _registered[spec]
    if spec in BUILT_IN:
        d = _module_design(BUILT_IN[spec], "built-in")
    elif spec in (mm := mutant_modules()):
        d = _module_design(mm[spec], "built-in")
    else:
        eps = _entry_points()
        path, _, attr = spec.partition(":") if not os.path.exists(spec) else (spec, "", "")
        if spec in eps:
            try:
                obj = eps[spec].load()
            except Exception as exc:  # noqa: BLE001 - an installed package's code
                raise _err(f"design entry point {spec!r} failed to load: "
                           f"{type(exc).__name__}: {exc}") from None  # fmt: skip
            d = _check_clash(_finish(obj, f"entry point {spec}", None), spec)
        elif path.endswith(".py") or os.sep in path or "/" in path:
            d = _check_clash(_load_file(path, attr or None, source), spec)
        elif "." in path or attr:
            d = _check_clash(_load_module(path, attr or None, spec), spec)
        else:
            raise _err(
                f"unknown design {spec!r}; use one of: {', '.join(builtin_names())}, a registered "
                "or installed design (see 'pcplab designs'), a .py file or package.module[:attr]"
            )
    if d.origin == "built-in" and d.name != spec:
        raise RuntimeError(f"{spec} defines design {d.name!r}")  # a registry typo
    _cache[file_key or spec] = d
    return d


def _file_source(spec: str) -> tuple[str, str, list[str], str] | None:
    """For a file spec: ``(absolute path, attr, source files, their hash)``, read once per lookup;
    the hash makes the cache key change when the file (or a user module it imports) does, so an
    edited design is re-read even within one process.  None for other specs."""
    path, _, attr = spec.partition(":") if not os.path.exists(spec) else (spec, "", "")
    if not (path.endswith(".py") or os.sep in path or "/" in path):
        return None
    p = Path(path).expanduser()
    if not p.is_file():
        return None
    real = str(p.resolve())
    try:
        files = source_files(real, [str(Path(real).parent)])
        return real, attr, files, hash_files(files)
    except OSError:
        return None


def _code_bytes(obj: Any, h: Any, seen: set[int]) -> None:
    code = getattr(obj, "__code__", None)
    if code is None:
        wrapped = getattr(obj, "__wrapped__", None)
        if wrapped is not None:
            _code_bytes(wrapped, h, seen)
        return
    stack = [code]
    while stack:
        c = stack.pop()
        if id(c) in seen:
            continue
        seen.add(id(c))
        h.update(c.co_qualname.encode())
        h.update(c.co_code)
        for k in c.co_consts:
            if isinstance(k, types.CodeType):
                stack.append(k)
            else:
                h.update(repr(k).encode())
        h.update(repr(c.co_names).encode())
    for cell in getattr(obj, "__closure__", None) or ():
        try:
            inner = cell.cell_contents
        except ValueError:
            continue
        if callable(inner):
            _code_bytes(inner, h, seen)


def code_digest(design: Design) -> str:
    """A hash of the code of a design's functions (entry points, hooks, resolved namespace)."""
    h = hashlib.sha256()
    seen: set[int] = set()
    fields = ["setup", "alloc_pages", "free_pages", "drain_all_pages", "drain_local_pages",
              "drain_dead_cpu", "zone_pcp_disable", "zone_pcp_enable", "postcondition",
              "size_statement", *HOOKS]  # fmt: skip
    for name in fields:
        fn = getattr(design, name, None)
        if fn is not None:
            h.update(name.encode())
            _code_bytes(fn, h, seen)
    for name, fn in sorted(vars(design.impl or types.SimpleNamespace()).items()):
        h.update(name.encode())
        _code_bytes(fn, h, seen)
    h.update(design.kernel_version.encode())
    return h.hexdigest()[:16]


def register(design: Design) -> Design:
    """Make ``design`` available by its name to every command run in this process."""
    if not isinstance(design, Design):
        raise TypeError("register() takes a pcplab.designs.Design (see pcplab.designs.load)")
    if design.name in builtin_names(mutants=True):
        raise _err(f"cannot register {design.name!r}: a built-in design has that name")
    if design.origin == "built-in":
        # built in Python: its code is not a file, so hash the functions' code objects (an
        # edited function registered again gets a new key, never the old stored results)
        design = replace(design, origin="registered", source_hash=code_digest(design))
    _registered[design.name] = design
    _cache.pop(design.name, None)
    return design


def registered() -> dict[str, Design]:
    return dict(_registered)


def entry_point_names() -> list[str]:
    return sorted(_entry_points())


def forget(spec: str | None = None) -> None:
    """Drop cached designs (all, or one spec) so the next lookup re-reads the source."""
    if spec is None:
        _cache.clear()
        for name in [n for n in sys.modules if n.startswith("pcplab_user_design_")]:
            del sys.modules[name]
    else:
        _cache.pop(spec, None)


__all__ = [
    "BUILT_IN",
    "ENTRY_POINT_GROUP",
    "HOOKS",
    "KERNEL_FUNCTIONS",
    "builtin_names",
    "design_from_module",
    "entry_point_names",
    "forget",
    "get_design",
    "hash_files",
    "mutant_modules",
    "register",
    "registered",
    "source_files",
]
