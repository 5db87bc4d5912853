"""The man page ``docs/pcplab.1``, generated from the click command tree so it cannot drift from
the commands: ``python -m pcplab.cli.manpage docs/pcplab.1`` writes it (no argument: stdout), and
``tests/cli/test_manpage.py`` fails while the committed page differs from what this prints now.

The text is click's own: each command's help, each option's help record (flags, metavar,
choices, default), the usage pieces; nothing depends on the terminal width or the date, so the
same tree always gives the same bytes.  Read it with ``man -l docs/pcplab.1``.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from pcplab._version import __version__
from pcplab.cli import config

#: what follows the command reference (troff-escaped by :func:`_text`)
_ENVIRONMENT = (
    ("PCPLAB_DB", "results database when --db is not given (it wins over the config file)"),
    ("PCPLAB_CRASH_DIR", "where the traceback of an internal error is saved"),
    ("XDG_CONFIG_HOME", "the config file is $XDG_CONFIG_HOME/pcplab/config.toml "
                        "(default ~/.config)"),
    ("NO_COLOR", "no colours in terminal output"),
)
_EXIT = (
    ("0", "success"),
    ("1", "a finding: a checker violation, an oops, lost pages"),
    ("2", "bad input or an expected failure: one line 'pcplab: error: ...' on stderr"),
    ("70", "an internal error (a pcplab bug); its traceback is saved"),
    ("130", "interrupted"),
)


_BREAK = "\\:"  # troff: a line may break here, without a hyphen


def _text(s: str) -> str:
    """Plain text as troff: backslashes and hyphens escaped, no line starting a request."""
    s = s.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in s.splitlines():
        line = line.strip()
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def _paragraphs(help_text: str | None) -> list[str]:
    text = inspect.cleandoc(help_text or "").replace("\b\n", "").replace("\b", "")
    return [p for p in (q.strip() for q in text.split("\n\n")) if p]


def _summary(cmd: click.Command) -> str:
    first = (_paragraphs(cmd.help) or ["pcplab"])[0].split("\n")[0].rstrip(".")
    return first[:1].lower() + first[1:]


def _commands(group: click.Group, ctx: click.Context,
              path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command,
                                                           click.Context]]:
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        sub = click.Context(cmd, info_name=name, parent=ctx)
        yield (*path, name), cmd, sub
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, sub, (*path, name))


def render(root: click.Group | None = None) -> str:
    """The whole page as troff (``man(7)`` macros)."""
    if root is None:
        from pcplab.cli import cli as root_cli

        root = root_cli
    ctx = click.Context(root, info_name="pcplab")
    out = [
        f'.TH PCPLAB 1 "" "pcplab {__version__}" "User Commands"',
        ".SH NAME",
        "pcplab \\- " + _text(_summary(root)),
        ".SH SYNOPSIS",
        ".B pcplab",
        "[\\fB\\-\\-version\\fR] [\\fB\\-h\\fR|\\fB\\-\\-help\\fR] \\fICOMMAND\\fR "
        "[\\fIOPTIONS\\fR] [\\fIARGS\\fR]",
        ".SH DESCRIPTION",
    ]
    for p in _paragraphs(root.help):
        out += [_text(p), ".PP"]
    out.append("Every command takes \\fB\\-h\\fR/\\fB\\-\\-help\\fR; the commands follow.")
    out.append(".SH COMMANDS")
    for path, cmd, sub in _commands(root, ctx):
        usage = " ".join(cmd.collect_usage_pieces(sub))
        out.append(f'.SS "{_text(" ".join(("pcplab", *path)) + " " + usage)}"')
        for i, p in enumerate(_paragraphs(cmd.help)):
            if i:
                out.append(".PP")
            out.append(_text(p))
        for param in cmd.get_params(sub):
            if not isinstance(param, click.Option) or "--help" in param.opts:
                continue  # arguments are in the usage line
            record = param.get_help_record(sub)
            if record is None:  # hidden
                continue
            flags, help_text = record
            # a long choice list may break after each '|' (troff's \\: break point)
            shown = _text(flags).replace("|", "|" + _BREAK)
            out += [".TP", f"\\fB{shown}\\fR", _text(help_text) or "\\&"]
        if isinstance(cmd, click.Group):
            out += [".PP", "Subcommands: " + _text(", ".join(cmd.list_commands(sub))) + "."]
    out += [".SH FILES", ".TP", "\\fI$XDG_CONFIG_HOME/pcplab/config.toml\\fR",
            _text("TOML, every key optional: " + "; ".join(
                f"{k} (a string): {v}" for k, v in config.KEYS.items())
                + ". Command-line flags win over it, and $PCPLAB_DB over its database. A file "
                "that is not TOML, an unknown key or a bad value is one error line, exit 2.")]
    out.append(".SH ENVIRONMENT")
    for name, what in _ENVIRONMENT:
        out += [".TP", f"\\fB{_text(name)}\\fR", _text(what)]
    out += [".SH SHELL COMPLETION",
            _text("bash: eval \"$(_PCPLAB_COMPLETE=bash_source pcplab)\" (zsh: zsh_source, fish: "
                  "fish_source). Machine names complete after --machine/--machines, design names "
                  "after --design/--designs, one item of a comma list at a time.")]
    out.append(".SH EXIT STATUS")
    for code, what in _EXIT:
        out += [".TP", f"\\fB{code}\\fR", _text(what)]
    out += [".SH SEE ALSO", "docs/cli.md, README.md in the pcplab source tree"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    page = render()
    if not argv:
        sys.stdout.write(page)
        return 0
    Path(argv[0]).write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
