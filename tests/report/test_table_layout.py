"""Hand-computed tables for the old t-test rule, header quirks and widths."""

import pytest

from pcplab.report.mmtests_table import FAULTS, TIMINGS, render_table, split_name
from pcplab.report.pft_log import parse_log, result_from_lines
from pcplab.report.pft_tables import pft_tables

from .worked_example import RCU_LOG, VANILLA_LOG

# base [1,2]; rcu [3,4] -> t=2.828, df=2, p=0.1056 (no *); spinlock [3.25,4.25] -> p=0.0862 (*)
# every % below computed by hand with pndiff (100 - new*100/base)
TTEST_TABLE = """\
                                     5.17                   5.17                   5.17
                                  vanilla                    rcu               spinlock
Min       system-1        1.00 (   0.00%)        3.00 (-200.00%)        3.25 (-225.00%)
Amean     system-1        1.50 (   0.00%)        3.50 (-133.33%)        3.75 *-150.00%*
Stddev    system-1        0.71 (   0.00%)        0.71 (   0.00%)        0.71 (   0.00%)
CoeffVar  system-1       47.14 (   0.00%)       20.20 (  57.14%)       18.86 (  60.00%)
Max       system-1        2.00 (   0.00%)        4.00 (-100.00%)        4.25 (-112.50%)
BAmean-50 system-1        1.00 (   0.00%)        3.00 (-200.00%)        3.25 (-225.00%)
BAmean-95 system-1        1.00 (   0.00%)        3.00 (-200.00%)        3.25 (-225.00%)
BAmean-99 system-1        1.00 (   0.00%)        3.00 (-200.00%)        3.25 (-225.00%)
"""

RUNS = [
    ("5.17-vanilla", {"system-1": [1.0, 2.0]}),
    ("5.17-rcu", {"system-1": [3.0, 4.0]}),
    ("5.17-spinlock", {"system-1": [3.25, 4.25]}),
]


def test_ttest_rule_table_hand_computed() -> None:
    assert render_table(RUNS, ["system-1"], TIMINGS, rule="ttest") == TTEST_TABLE


def test_ci_rule_same_data_has_no_star() -> None:
    text = render_table(RUNS, ["system-1"], TIMINGS, rule="ci")
    assert "*" not in text
    assert text.replace("*-150.00%*", "(-150.00%)") == TTEST_TABLE.replace("*-150.00%*",
                                                                           "(-150.00%)")


@pytest.mark.parametrize(
    ("name", "head"),
    [
        ("6.8-vanilla", ("6.8", "vanilla")),
        ("vanilla", ("vanill", "vanilla")),
        ("rcu", ("rc", "rcu")),
        ("6.8-rc3-vanilla", ("6.8-rc3", "vanilla")),
        ("6.8-rcu", ("6.8", "rcu")),  # -rc not followed by a digit: plain split
        ("5.17-rc1", ("5.17-rc1", "")),
        ("a-b-c", ("a", "b-c")),
    ],
)
def test_header_split(name: str, head: tuple[str, str]) -> None:
    assert split_name(name) == head


def test_no_dash_header_and_single_run_width() -> None:
    text = render_table([("vanilla", {"system-1": [1.0, 2.0]})], ["system-1"], TIMINGS)
    lines = text.splitlines()
    # W1 + W2 + 1 = 18 blanks, then one cell of width F = 12 (no % column)
    assert lines[0] == " " * 18 + "      vanill"
    assert lines[1] == " " * 18 + "     vanilla"
    assert lines[3] == "Amean     system-1        1.50"


def test_faults_widths_and_nan() -> None:
    text = render_table(
        [("a-x", {"faults/sec-1": [1.0, 2.0]}), ("a-y", {"faults/sec-1": [0.0, 2.0]})],
        ["faults/sec-1"], FAULTS,
    )
    hmean = next(x for x in text.splitlines() if x.startswith("Hmean"))
    # a zero sample makes the harmonic mean undefined; printed like Perl's NaN
    assert hmean == "Hmean     faults/sec-1        1.3333 (   0.00%)           NaN (    NaN%)"
    assert text.splitlines()[0] == " " * 22 + f"{'a':>25}{'a':>25}"


def _samples(log: str) -> dict:
    res = result_from_lines({4: parse_log(log.splitlines())})
    return {e["clients"]: e for e in res["clients"]}


def test_worked_example_under_ttest_rule() -> None:
    tables = pft_tables(
        [("6.8-vanilla", _samples(VANILLA_LOG)), ("6.8-rcu", _samples(RCU_LOG))], rule="ttest"
    )
    t_lines = tables["pft timings"].splitlines()
    f_lines = tables["pft faults"].splitlines()
    # §6.5: the old rule marks all four means
    assert t_lines[4].endswith("*  -2.92%*") and t_lines[5].endswith("*  -8.78%*")
    assert f_lines[4].endswith("*  -2.74%*") and f_lines[5].endswith("*  -8.07%*")
    # pre-8a0e63a2 tables show the arithmetic spread rows for Hmean metrics
    assert f_lines[6].startswith("Stddev    faults/cpu-4")
    assert f_lines[8].startswith("CoeffVar  faults/cpu-4")
