"""Writing report files (plots, HTML) into an output directory: the rules of
:mod:`pcplab.safe_write` (atomic for regular files, written through for devices and FIFOs,
symlinks and directories refused), under the names the report modules use."""

from __future__ import annotations

from pathlib import Path

from pcplab.safe_write import ensure_output_dir, write_output


def ensure_dir(path: Path) -> Path:
    """Create the output directory if needed (one clear error if it cannot be one)."""
    return ensure_output_dir(path)


def write_file(path: Path, data: bytes | str) -> None:
    write_output(path, data, "report file")
