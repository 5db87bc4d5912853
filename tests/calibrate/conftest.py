"""Fixtures: the real ``pcplab`` entry point run in-process (``tests/cli_errors``' fixture), and a
small synthetic mmtests pft tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli_errors.conftest import Result, Run, cli  # noqa: F401  (re-exported fixture)


def write_tree(root: Path, name: str, rows: dict[int, list[tuple[float, float, float]]],
               mapping: int | None = 16 << 20) -> Path:
    """``root/name/iter-0/pft/logs/pft-N.log`` with one pft line per (user, system, elapsed)
    sample, and commands.log naming the mapping (left out when ``mapping`` is None)."""
    from pcplab.report.pft_log import PftLine, format_line

    logs = root / name / "iter-0" / "pft" / "logs"
    logs.mkdir(parents=True)
    pages = (mapping or 16 << 20) // 4096
    for n, samples in rows.items():
        text = "".join(format_line(PftLine(0, n, 1, u, s, e, pages / (u + s), pages / e)) + "\n"
                       for u, s, e in samples)
        (logs / f"pft-{n}.log").write_text(text)
    if mapping is not None:
        (logs / "commands.log").write_text(
            "".join(f"./pft -m {mapping} -t {n}\n" for n in rows))
    return root / name


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A one-row (1 thread) tree: 16 MiB in ~0.02 s, as a ~1 us/fault machine would do."""
    return write_tree(tmp_path / "log", "6.1-vanilla",
                      {1: [(0.00, 0.02, 0.02), (0.00, 0.02, 0.03), (0.01, 0.02, 0.03)]})


__all__ = ["Result", "Run", "cli", "tree", "write_tree"]
