"""Golden outputs: a few small seeded runs must print exactly the committed bytes.

Determinism tests elsewhere run a command twice and compare; these pin the output itself, so a
semantic drift in the engine, a design or a report shows up as a diff.  When a model change is
intended, regenerate with ``python tests/golden/regenerate.py`` and review ``git diff tests/golden``.
"""

from __future__ import annotations

import difflib

import pytest

from .cases import CASES, REGENERATE, expected_exit_codes, golden_path, run


@pytest.mark.parametrize("name", list(CASES))
def test_output_matches_golden(name: str) -> None:
    path = golden_path(name)
    codes = expected_exit_codes()
    assert path.exists() and name in codes, f"no golden output for {name}; run `{REGENERATE}`"
    code, out, err = run(CASES[name])
    want = path.read_bytes()
    if out != want:
        diff = "".join(difflib.unified_diff(
            want.decode(errors="replace").splitlines(keepends=True),
            out.decode(errors="replace").splitlines(keepends=True),
            fromfile=f"tests/golden/{path.name}", tofile="now", n=1))  # fmt: skip
        pytest.fail(f"`pcplab {' '.join(CASES[name])}` changed its output.\n{diff}\n"
                    f"If the change is intended, run `{REGENERATE}` and commit the diff.\n{err}")
    assert code == codes[name], (f"`pcplab {' '.join(CASES[name])}` exited {code}, golden "
                                 f"{codes[name]}; if intended, run `{REGENERATE}`\n{err}")


def test_every_golden_file_has_a_case() -> None:
    """A stale .txt left after a case is renamed would silently stop being checked."""
    here = golden_path("x").parent
    stale = sorted(p.name for p in here.glob("*.txt") if p.stem not in CASES)
    assert not stale, f"golden files without a case in cases.py: {stale}"
    assert sorted(expected_exit_codes()) == sorted(CASES), f"exit_codes.json stale; run `{REGENERATE}`"
