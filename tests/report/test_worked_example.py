"""Golden test: mmtests-pft.md §6 reproduced byte for byte from the log lines."""

from pcplab.report.pft_log import parse_log, result_from_lines
from pcplab.report.pft_tables import pft_tables

from .worked_example import FAULTS, RCU_LOG, TIMINGS, VANILLA_LOG


def _samples(log: str) -> dict[int, dict[str, list[float]]]:
    lines = parse_log(log.splitlines())
    res = result_from_lines({4: lines})
    return {e["clients"]: e for e in res["clients"]}


def test_worked_example_both_tables_byte_for_byte() -> None:
    tables = pft_tables([("6.8-vanilla", _samples(VANILLA_LOG)), ("6.8-rcu", _samples(RCU_LOG))])
    assert tables["pft timings"] == TIMINGS
    assert tables["pft faults"] == FAULTS


def test_order_of_runs_flips_signs() -> None:
    tables = pft_tables([("6.8-rcu", _samples(RCU_LOG)), ("6.8-vanilla", _samples(VANILLA_LOG))])
    line = next(x for x in tables["pft timings"].splitlines() if x.startswith("Amean     system"))
    # 100 - 10.26*100/10.56 = +2.84: the vanilla kernel is better, so positive
    assert line.endswith("(   2.84%)")
