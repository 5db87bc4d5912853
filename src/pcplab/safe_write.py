"""Writing output files without harming what is already at the path.

The rules (what trusted tools such as ``cp``, ``sort -o`` and ``curl -o`` do, plus atomicity):

* ``-`` is standard output.
* A regular file, or a path where nothing exists yet, is written atomically: the data goes to a
  temporary file in the same directory, is flushed to disk, and is renamed over the target, so a
  reader (or a crash) sees either the old file or the whole new one.  An existing file keeps its
  permission bits.
* A character or block device (``/dev/null``, a terminal), a FIFO or a socket is written
  *through*: opened and written in place, never replaced by a regular file (renaming over
  ``/dev/null`` as root would otherwise destroy it).
* A symlink or a directory is refused with one clear line: replacing a symlink with a file
  silently changes what the link pointed to, and following it writes somewhere the user did not
  name.  Give the link's target path instead.

Opening a device/FIFO uses ``O_NOFOLLOW`` and checks (``fstat`` against ``lstat``) that the object
opened is the one inspected, so a path swapped for a symlink in between is not followed.
Every failure is a :class:`~pcplab.errors.PcplabError` naming the path and the reason.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from pcplab.errors import PcplabError

STDOUT = "-"


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_output_path(path: str | os.PathLike[str], what: str = "output file") -> None:
    """Fail now (before any work) if ``path`` could not be written by :func:`write_output`."""
    name = os.fspath(path)
    if name == STDOUT:
        return
    if not name:
        raise PcplabError(f"{what} name is empty; give a file path or '-' for standard output")
    if "\0" in name:
        raise PcplabError(f"{what} name {name!r} contains a NUL byte")
    p = Path(name)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise PcplabError(f"cannot use {what} {name}: {_why(exc)}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise PcplabError(
                f"{what} {name} is a symbolic link; pcplab does not replace or follow links: "
                "give the link's target path instead"
            )
        if stat.S_ISDIR(st.st_mode):
            raise PcplabError(f"{what} {name} is a directory; give a file path inside it")
        if not stat.S_ISREG(st.st_mode):
            return  # a device, FIFO or socket: written through
        if not os.access(p, os.W_OK):
            # renaming over it would succeed in a writable directory; a read-only file says no
            raise PcplabError(f"{what} {name} is read-only; make it writable or choose another")
    parent = p.parent if str(p.parent) else Path(".")
    try:
        pst = os.stat(parent)
    except NotADirectoryError:
        raise PcplabError(f"cannot write {what} {name}: a parent of it is not a directory") from None
    except FileNotFoundError:
        raise PcplabError(
            f"cannot write {what} {name}: directory {parent} does not exist; create it first"
        ) from None
    except OSError as exc:
        raise PcplabError(f"cannot write {what} {name}: {parent}: {_why(exc)}") from None
    if not stat.S_ISDIR(pst.st_mode):
        raise PcplabError(f"cannot write {what} {name}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PcplabError(f"cannot write {what} {name}: directory {parent} is not writable")
    if len(p.name.encode(errors="surrogateescape")) > 255 - 16:
        raise PcplabError(f"{what} name {p.name[:40]!r}... is too long for a file name")


def write_output(path: str | os.PathLike[str], data: str | bytes, what: str = "output file") -> None:
    """Write ``data`` (text is UTF-8) to ``path`` by the rules in the module docstring."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    name = os.fspath(path)
    if name == STDOUT:
        _write_stdout(payload)
        return
    check_output_path(name, what)
    try:
        st = os.lstat(name)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise PcplabError(f"cannot write {what} {name}: {_why(exc)}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_through(name, st, payload, what)
    else:
        _write_atomic(name, st, payload, what)


def _write_stdout(payload: bytes) -> None:
    out = getattr(sys.stdout, "buffer", None)
    if out is None:  # a text-only stream (e.g. a test runner's capture)
        sys.stdout.write(payload.decode("utf-8"))
        sys.stdout.flush()
        return
    sys.stdout.flush()
    out.write(payload)
    out.flush()


def _write_through(name: str, st: os.stat_result, payload: bytes, what: str) -> None:
    flags = os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags)
    except OSError as exc:
        raise PcplabError(f"cannot write {what} {name}: {_why(exc)}") from None
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise PcplabError(f"{what} {name} changed while being opened; not writing to it")
        view = memoryview(payload)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError as exc:
        raise PcplabError(f"cannot write {what} {name}: {_why(exc)}") from None
    finally:
        os.close(fd)


def _write_atomic(name: str, st: os.stat_result | None, payload: bytes, what: str) -> None:
    p = Path(name)
    parent = str(p.parent) if str(p.parent) else "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:64]}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise PcplabError(f"cannot write {what} {name}: {_why(exc)}") from None
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
            if st is not None:
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
            # a regular file (or nothing) was checked above; if a link or directory has appeared
            # since, do not replace it
            try:
                now = os.lstat(name)
            except FileNotFoundError:
                now = None
            if now is not None and not stat.S_ISREG(now.st_mode):
                raise PcplabError(f"{what} {name} changed while being written; not replacing it")
            os.replace(tmp, name)
        except OSError as exc:
            raise PcplabError(f"cannot write {what} {name}: {_why(exc)}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_output_dir(path: str | os.PathLike[str], what: str = "output directory") -> None:
    """Fail now if ``path`` cannot be (or become) a directory to write files into."""
    name = os.fspath(path)
    if not name:
        raise PcplabError(f"{what} name is empty; give a directory path")
    if "\0" in name:
        raise PcplabError(f"{what} name {name!r} contains a NUL byte")
    p = Path(name)
    probe = p
    while True:
        try:
            st = os.stat(probe)
        except (FileNotFoundError, NotADirectoryError):
            if probe.parent == probe:
                raise PcplabError(f"cannot create {what} {name}") from None
            probe = probe.parent
            continue
        except OSError as exc:
            raise PcplabError(f"cannot use {what} {name}: {probe}: {_why(exc)}") from None
        break
    if not stat.S_ISDIR(st.st_mode):
        if probe == p:
            raise PcplabError(f"{what} {name} exists and is not a directory; choose another path")
        raise PcplabError(f"cannot create {what} {name}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PcplabError(f"cannot write into {what} {name}: {probe} is not writable")


def ensure_output_dir(path: str | os.PathLike[str], what: str = "output directory") -> Path:
    """Create ``path`` (and parents) if needed; PcplabError if it is not a usable directory."""
    check_output_dir(path, what)
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PcplabError(f"cannot create {what} {p}: {_why(exc)}") from None
    return p
