"""mmtests' plain-text compare table (``compare-mmtests.pl`` output), byte for byte.

Layout from ``gormanm/mmtests@09b91ce9`` ``Compare.pm`` (``_generateRenderTable``,
``_generateHeaderTable``, header split ``:258-304``) and ``PrintGeneric.pm``; see
``mmtests-pft.md`` §5.7-5.8.  Rows come out in mmtests' order: every operation for the first
statistic, then every operation for the second, and so on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pcplab.stats.significance import significance
from pcplab.stats.summary import OpSummary, row_pct, summarise

_RC = re.compile(r"-rc\d")


def split_name(name: str) -> tuple[str, str]:
    """The two header lines of a run name.

    Split at the first '-'.  Without '-', line 1 is the name minus its last character and line 2
    the whole name (``Compare.pm`` uses index -1 as a length).  If the text at the first '-' is
    ``-rc<digit>``, the split moves 4 characters right (``6.8-rc3-vanilla`` -> ``6.8-rc3`` /
    ``vanilla``).
    """
    idx = name.find("-")
    if idx < 0:
        return name[:-1], name
    if _RC.match(name, idx):
        idx += 4
    return name[:idx], name[idx + 1 :]


@dataclass(frozen=True)
class TableSpec:
    """What differs between mmtests' pft reports."""

    title: str
    higher_is_better: bool
    width: int  # field width F of a value
    precision: int  # decimals P


TIMINGS = TableSpec("pft timings", higher_is_better=False, width=12, precision=2)
FAULTS = TableSpec("pft faults", higher_is_better=True, width=14, precision=4)


def _fmt(value: float, width: int, precision: int) -> str:
    if math.isnan(value):
        return f"{'NaN':>{width}}"
    if math.isinf(value):
        return f"{'Inf' if value > 0 else '-Inf':>{width}}"
    return f"{value:{width}.{precision}f}"


def _pct_cell(pct: float, starred: bool) -> str:
    num = "    NaN" if math.isnan(pct) else f"{pct:7.2f}"
    return f" *{num}%*" if starred else f" ({num}%)"


def render_table(
    runs: Sequence[tuple[str, Mapping[str, Sequence[float]]]],
    operations: Sequence[str],
    spec: TableSpec,
    rule: str = "ci",
) -> str:
    """Render one compare table; ``runs[0]`` is the baseline.

    ``runs`` are ``(name, {operation: samples})``; ``operations`` gives the order.  ``rule`` picks
    the significance rule (``ci`` or ``ttest``); ``ttest`` also shows the pre-``8a0e63a2`` spread
    rows (arithmetic Stddev/CoeffVar) for Hmean metrics, as tables of that era did.
    """
    if not runs:
        raise ValueError("no runs to compare")
    legacy = rule == "ttest"
    summaries: list[dict[str, OpSummary]] = []
    for name, ops in runs:
        per_op = {}
        for op in operations:
            if op not in ops or not ops[op]:
                raise ValueError(f"run {name!r} has no samples for {op!r}")
            per_op[op] = summarise(op, ops[op], spec.higher_is_better, legacy_sd=legacy)
        summaries.append(per_op)

    row_names = [r.name for r in summaries[0][operations[0]].rows]
    w1 = max(len(n) for n in row_names)
    w2 = max(len(op) for op in operations)
    compare = len(runs) > 1
    cell = spec.width + 11 if compare else spec.width

    lines = []
    heads = [split_name(name) for name, _ in runs]
    for part in (0, 1):
        lines.append(" " * (w1 + w2 + 1) + "".join(f"{h[part]:>{cell}}" for h in heads))

    for i, row_name in enumerate(row_names):
        for op in operations:
            base = summaries[0][op]
            out = [f"{row_name:<{w1}} {op:<{w2}}"]
            for j, per_op in enumerate(summaries):
                cur = per_op[op]
                row = cur.rows[i]
                value = row.value
                if row.kind == "spread" and math.isnan(value):
                    value = 0.0  # an undefined SD prints as 0
                out.append(_fmt(value, spec.width, spec.precision))
                if not compare:
                    continue
                if j == 0:
                    out.append(_pct_cell(0.0, False))
                    continue
                pct = row_pct(row.kind, row.value, base.rows[i].value, spec.higher_is_better)
                starred = row.kind == "mean" and significance(base, cur, rule).significant
                out.append(_pct_cell(pct, starred))
            lines.append("".join(out))
    return "\n".join(lines) + "\n"
