"""The one progress display: a live bar only on a terminal, else one closing summary line."""

from __future__ import annotations

import io

from pcplab.cli.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_one_summary_line() -> None:
    s = io.StringIO()
    with Progress("sweep", 4, unit="runs", stream=s) as p:
        assert not p.live and p.sub("x") is None
        for _ in range(4):
            p.advance()
    line = s.getvalue()
    assert line.startswith("pcplab: sweep: 4/4 runs in ") and line.endswith(" s\n")
    assert line.count("\n") == 1


def test_quiet_or_no_summary_writes_nothing() -> None:
    for kwargs in ({"enabled": False}, {"summary": False}):
        s = io.StringIO()
        with Progress("compare", 2, stream=s, **kwargs) as p:  # type: ignore[arg-type]
            p.advance(2)
        assert s.getvalue() == ""


def test_terminal_draws_done_total_and_eta_then_clears() -> None:
    s = Tty()
    with Progress("pft", 10, unit="runs", stream=s) as p:
        assert p.live
        show = p.sub("pft rcu")
        assert show is not None
        show(1, 2)
        p.update(5)
        p.end_sub()
    assert "pcplab: pft" not in s.getvalue()  # the bar stands in for the summary
    # rich drew the final frame (done/total, elapsed, ETA) before clearing it
    assert "5/10 runs" in s.getvalue() and "ETA" in s.getvalue()
