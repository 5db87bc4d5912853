"""Properties of the rendered tables over random samples."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from pcplab.report.mmtests_table import FAULTS, TIMINGS, render_table

samples = st.lists(st.floats(min_value=0.01, max_value=9999.0), min_size=1, max_size=12)
CELL = r" +(-?\d+\.\d+|NaN) (\( *-?[\d.]+%\)|\* *-?[\d.]+%\*)"


@settings(max_examples=40, deadline=None)
@given(st.lists(samples, min_size=2, max_size=4), st.sampled_from(["ci", "ttest"]),
       st.booleans())
def test_row_structure_and_baseline_column(runs: list[list[float]], rule: str, faults: bool
                                           ) -> None:
    spec = FAULTS if faults else TIMINGS
    op = "faults/sec-3" if faults else "elapsed-3"
    text = render_table([(f"k-r{i}", {op: xs}) for i, xs in enumerate(runs)], [op], spec, rule)
    lines = text.splitlines()
    assert len(lines) == 2 + 8
    # header cells are F + 11 wide, right-aligned; the stat/op prefix is W1 + W2 + 1
    prefix = 9 + 1 + len(op)
    assert lines[0] == " " * prefix + "".join(f"{'k':>{spec.width + 11}}" for _ in runs)
    row = re.compile(rf"^[A-Za-z]+(-\d+)? +{re.escape(op)}({CELL}){{{len(runs)}}}$")
    for line in lines[2:]:
        assert row.match(line), line
        # values fit the field (samples < 1e4), so the baseline cell sits at a fixed column
        assert line[prefix + spec.width:prefix + spec.width + 11] == " (   0.00%)"
        if "*" in line:
            assert line.startswith(("Amean", "Hmean"))
