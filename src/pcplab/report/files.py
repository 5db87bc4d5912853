"""Writing report files (plots, HTML): atomically, and never over a device, FIFO or symlink.

A regular file or a new path is written to a temporary file in the same directory and renamed
over the target, so a reader sees the old file or the whole new one; anything else at the path
(symlink, device, FIFO, socket, directory) is refused with one line naming the path.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from pcplab.errors import PcplabError


def check_target(path: Path) -> None:
    """PcplabError unless ``path`` is absent or a regular file (a symlink is not followed)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise PcplabError(f"{path} exists and is not a regular file (a symlink, device, FIFO or "
                          "directory); remove it or choose another output directory")


def ensure_dir(path: Path) -> Path:
    """Create ``path`` if needed; PcplabError when it is (or contains on the way) a non-directory."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise PcplabError(f"output directory {path} is not a directory; choose another")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PcplabError(f"cannot create output directory {path}: {exc.strerror}") from exc
    return path


def write_file(path: Path, data: bytes | str) -> None:
    check_target(path)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a report from its readers
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
