"""Run names as mmtests shows them: ``<kernel>-<variant>``.

mmtests splits a run name at its first '-' for the two header lines (``mmtests-pft.md`` §5.7), so
pcplab names runs ``<kernel>-<variant>``; the workqueue design is the unpatched kernel and is
shown as ``vanilla`` (the name the seed's tables use).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DESIGN_LABELS = {"workqueue": "vanilla"}
LABEL_DESIGNS = {v: k for k, v in DESIGN_LABELS.items()}


def design_label(design: str) -> str:
    """The column name of a design: ``vanilla`` for workqueue, a design file's or module's
    ``NAME`` for a user design (never its path), else the name itself."""
    if design in DESIGN_LABELS:
        return DESIGN_LABELS[design]
    if "/" in design or ":" in design or design.endswith(".py") or "." in design:
        from pcplab import designs
        from pcplab.errors import PcplabError

        try:
            return designs.get(design).name
        except PcplabError:
            return design
    return design


def design_from_label(label: str) -> str:
    return LABEL_DESIGNS.get(label, label)


def run_name(design: str, kernel: str | None, params: Mapping[str, Any] | None = None) -> str:
    """The mmtests run name of a stored run (an imported run keeps its original name)."""
    if params and params.get("mmtests_name"):
        return str(params["mmtests_name"])
    return f"{kernel or 'sim'}-{design_label(design)}"


def unique_names(names: Sequence[str]) -> list[str]:
    """Make names distinct by suffixing ``-2``, ``-3``... (the header's first line is kept)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0) + 1
        seen[n] = k
        out.append(n if k == 1 else f"{n}-{k}")
    return out
