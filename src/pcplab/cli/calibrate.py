"""`pcplab calibrate` (placeholder while it is written; see pcplab.calibrate)."""

from __future__ import annotations

import click

from pcplab.errors import PcplabError


@click.command("calibrate")
@click.argument("results")
def calibrate(results: str) -> None:
    """Fit this host's profile to a measured pft (not available yet)."""
    raise PcplabError("pcplab calibrate is not available in this build yet")
