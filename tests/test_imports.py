"""The import graph of ``src/pcplab``: no cycle between files, and no package imports one above it.

The graph is built from the source (``ast``), not by importing: every ``import`` and ``from ...
import`` anywhere in a file (module level or inside a function, since a function-level import is
still a dependency, often one hiding a cycle), plus ``importlib.import_module("pcplab...")`` with
a literal name.  Imports under ``if TYPE_CHECKING:`` are left out (they never run).  Other
name-based loading (the design registry's module names, ``report.backends``' lazy entry points)
is not seen.

``from pcplab.a import b`` is an edge to the module ``pcplab.a.b`` when that file exists, else to
the package ``pcplab.a`` (its ``__init__.py``).  The implicit import of parent packages is not an
edge: every file would otherwise be in a cycle with its package's ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

#: the layers, top first, as the code stands: a file may import its own package and any package
#: of a lower layer; packages of one layer do not import each other.  Names are what follows
#: ``pcplab.``; "" is the package root (``pcplab/__init__.py``, the Python API re-exported).
LAYERS: list[set[str]] = [
    {"", "__main__"},
    {"cli", "api"},  # the command line and the Python API: the two front doors
    {"calibrate"},  # fits a host profile to a measurement by simulating it (sim, report)
    {"measure"},  # runs pcplab's pft on this host, writing pft's log format (report.pft_log)
    {"report"},  # compare/runs/export orchestration, tables, plots, backends
    {"stats", "store"},
    {"sim", "check"},  # the two engines
    {"workloads"},
    {"designs"},
    {"kernel", "machines"},  # the kernel model; machine profiles (which build mm topologies)
    {"mm"},
    {"safe_write"},
    {"errors", "_version"},
]

#: edges that break the layering today, each with why it is left (file -> file).
KNOWN_LAYER_EXCEPTIONS: set[tuple[str, str]] = set()

#: file cycles left for now, each with why (sets of modules).
KNOWN_CYCLES: list[set[str]] = []


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for path in sorted((SRC / "pcplab").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else (
                test.attr if isinstance(test, ast.Attribute) else None)  # fmt: skip
            if name == "TYPE_CHECKING":
                for inner in node.body:
                    skip.update(id(n) for n in ast.walk(inner))
    return skip


def import_graph() -> dict[str, set[str]]:
    """module -> the pcplab modules it imports (itself excluded)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skip = _type_checking_only(tree)
        package = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        names: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    names.add(sub if sub in mods else target)
            elif (isinstance(node, ast.Call) and node.args
                  and isinstance(node.args[0], ast.Constant)
                  and isinstance(node.args[0].value, str)
                  and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"):
                names.add(node.args[0].value)
        graph[mod] = {n for n in names if n in mods and n != mod}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _package(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(pkg: str) -> int:
    for i, layer in enumerate(LAYERS):
        if pkg in layer:
            return i
    raise AssertionError(f"package pcplab.{pkg} is in no layer; add it to LAYERS in {__file__}")


def test_the_graph_sees_known_edges() -> None:
    """The builder itself: module-level, function-level and relative imports all count."""
    g = import_graph()
    assert "pcplab.mm.state" in g["pcplab.mm.buddy"]  # module level
    assert "pcplab.sim.api_noise" in g["pcplab.sim.api"]  # module level, re-export
    assert "pcplab.sim.pft" in g["pcplab.sim.api"]  # function level
    assert "pcplab.mm.buddy" in g["pcplab.mm.machine"]
    assert len(g) > 100


def test_no_import_cycle_between_files() -> None:
    cycles = _cycles(import_graph())
    new = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    assert not new, f"import cycles between files (break them; see docs/internals.md): {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in cycles]
    assert not gone, f"known cycles that are gone: remove them from KNOWN_CYCLES: {gone}"


def test_no_package_imports_one_above_it() -> None:
    graph = import_graph()
    bad: list[str] = []
    seen: set[tuple[str, str]] = set()
    for mod, targets in sorted(graph.items()):
        src = _package(mod)
        for t in sorted(targets):
            dst = _package(t)
            if dst == src:
                continue
            if _layer(dst) <= _layer(src):
                if (mod, t) in KNOWN_LAYER_EXCEPTIONS:
                    seen.add((mod, t))
                    continue
                bad.append(f"{mod} -> {t} (pcplab.{src or '(root)'} must not import "
                           f"pcplab.{dst or '(root)'})")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)
    stale = sorted(KNOWN_LAYER_EXCEPTIONS - seen)
    assert not stale, f"known exceptions no longer in the code: remove them: {stale}"


def test_cycle_finder_on_a_toy_graph() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _cycles(g) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []
