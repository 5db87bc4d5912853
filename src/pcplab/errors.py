"""The one error type the CLI turns into a single clear line and exit code 2, and how the CLI's
error boundary words the other *expected* failures (file system, SQLite, decoding, limits)."""

from __future__ import annotations

import json
import sqlite3

#: exit codes of the ``pcplab`` command
EXIT_OK = 0
EXIT_FOUND = 1  # a command's finding: a violation, a lost page, a mismatch
EXIT_USAGE = 2  # bad input or usage, or an expected failure (unreadable file, full disk ...)
EXIT_BUG = 70  # EX_SOFTWARE (sysexits.h): an internal error, i.e. a pcplab bug
EXIT_ABORTED = 130  # Ctrl-C


class PcplabError(Exception):
    """Bad input or usage: the message names the problem and the fix, in one line."""


def one_line(text: str, limit: int = 400) -> str:
    """``text`` on one line (newlines folded), at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def expected_failure(exc: BaseException) -> str | None:
    """The one-line message for an exception that is bad input or a bad environment rather than
    a bug, or None when ``exc`` is unexpected (a bug)."""
    if isinstance(exc, PcplabError):
        return one_line(str(exc))
    if isinstance(exc, OSError):
        what = exc.filename if exc.filename is not None else ""
        why = exc.strerror or one_line(str(exc)) or type(exc).__name__
        return one_line(f"{what}: {why}" if what else why)
    if isinstance(exc, sqlite3.Error):
        return one_line(
            f"results database: {exc}; the file may be damaged or not a pcplab database "
            "(choose another with --db)"
        )
    if isinstance(exc, json.JSONDecodeError):
        return one_line(f"bad JSON: {exc}")
    if isinstance(exc, UnicodeError):
        return one_line(f"input is not valid UTF-8 text ({exc.__class__.__name__}: {exc})")
    if isinstance(exc, RecursionError):
        return "input is nested too deeply to read; it is not something pcplab wrote"
    if isinstance(exc, MemoryError):
        return "out of memory; the input asks for more than this machine has (use smaller values)"
    if isinstance(exc, ValueError | OverflowError):
        parser = _raising_parser(exc)
        if parser is not None:
            return one_line(f"cannot read the input ({parser}: {exc}); is it damaged or edited?")
    return None


#: names of the functions that turn input text into values: a ValueError/OverflowError raised
#: directly inside one (``int("x")``, ``int(float("1e999"))``) is bad input, not a bug
_PARSER_PREFIXES = ("parse", "_parse", "load", "_load", "read", "_read", "import", "_import",
                    "decode", "_decode", "from_text", "_int", "_float")  # fmt: skip


def _raising_parser(exc: BaseException) -> str | None:
    """The name of the pcplab parsing function whose own code raised ``exc`` (the innermost
    Python frame), or None.  Anywhere else a ValueError is a bug and is reported as one."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    # the innermost frame that is not a comprehension or lambda inside the raising function
    for code in reversed(frames):
        if code.co_name.startswith("<"):
            continue
        in_pcplab = "/pcplab/" in code.co_filename.replace("\\", "/")
        if in_pcplab and code.co_name.startswith(_PARSER_PREFIXES):
            return code.co_name
        return None
    return None
