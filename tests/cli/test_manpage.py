"""The committed man page is what the generator prints from today's command tree, so it cannot
rot; it is valid troff (groff, when installed, warns about nothing)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pcplab.cli.manpage import render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "pcplab.1"


def test_committed_page_matches_the_command_tree() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/pcplab.1 is stale: run `.venv/bin/python -m pcplab.cli.manpage docs/pcplab.1` "
        "and commit it")


def test_page_names_every_command_and_option() -> None:
    page = render()
    for needle in (".SS \"pcplab noise [OPTIONS]\"", ".SS \"pcplab runs list", "\\-\\-isolated",
                   "\\-\\-designs", ".SH FILES", "config.toml", "_PCPLAB_COMPLETE=bash_source"):
        assert needle in page, needle


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
def test_groff_accepts_it() -> None:
    res = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=render(),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stderr == "", res.stderr
