"""The `pcplab` command.

Each command group lives in its own module and is imported when that command runs, so a command
loads only its own part of pcplab (`pcplab designs` does not import the simulator).  Every module
in ``_COMMANDS`` is part of the package: failing to import one is a bug and fails loudly.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import NoReturn

import click

from pcplab._version import __version__
from pcplab.errors import EXIT_ABORTED, EXIT_BUG, EXIT_USAGE, expected_failure, one_line

# command name -> "module:attribute" of a click command or group
_COMMANDS: dict[str, str] = {
    "machines": "pcplab.cli.machines:machines",
    "designs": "pcplab.cli.check:designs",
    "check": "pcplab.cli.check:check",
    "pft": "pcplab.cli.sim:pft",
    "noise": "pcplab.cli.sim_noise:noise",
    "oom": "pcplab.cli.sim_noise:oom",
    "compare": "pcplab.cli.report:compare",
    "sweep": "pcplab.cli.sweep:sweep",
    "runs": "pcplab.cli.report:runs",
    "export": "pcplab.cli.report:export",
    "import": "pcplab.cli.report:import_",
    "measure": "pcplab.cli.measure:measure",
    "calibrate": "pcplab.cli.calibrate:calibrate",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcplab")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Model, simulate and model-check Linux per-CPU page list drain designs."""
    # the user's config file (pcplab.cli.config): checked before any command runs; its machine
    # becomes the default of the invoked command's --machine (a flag still wins)
    from pcplab.cli import config

    cfg = config.load()
    config.check_machine(cfg)
    ctx.default_map = config.default_map(cfg, ctx.invoked_subcommand)


def _crash_dir() -> Path:
    """Where a bug's traceback is saved: ``$PCPLAB_CRASH_DIR``, else the user cache directory,
    else the system temporary directory."""
    env = os.environ.get("PCPLAB_CRASH_DIR")
    if env:
        return Path(env)
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("pcplab", appauthor=False)) / "crashes"
    except Exception:  # noqa: BLE001 - any failure here falls back to the temp dir
        return Path(tempfile.gettempdir())


def save_traceback(exc: BaseException, argv: list[str] | None) -> str:
    """Write ``exc``'s traceback (and the command line) to a new file; return its path, or a
    note saying why it could not be saved."""
    text = (
        f"pcplab {__version__} internal error\nargv: {sys.argv[:1] + list(argv or sys.argv[1:])!r}"
        f"\npython: {sys.version.split()[0]}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    for base in (_crash_dir(), Path(tempfile.gettempdir())):
        try:
            base.mkdir(parents=True, exist_ok=True)
            fd, path = tempfile.mkstemp(prefix=f"pcplab-crash-{stamp}-", suffix=".txt", dir=base)
            with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as fh:
                fh.write(text)
            return path
        except OSError:
            continue
    return "(could not be saved)"


def _fail(message: str, code: int) -> NoReturn:
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    click.echo(f"pcplab: error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point and the one error boundary.

    Bad input and expected failures (:func:`pcplab.errors.expected_failure`: I/O, SQLite,
    decoding, limits) are one ``pcplab: error: ...`` line and exit 2; an unexpected exception is
    one line saying it is a bug, with the path of its saved traceback, and exit 70; Ctrl-C is
    ``pcplab: aborted`` and exit 130.  No Python traceback reaches the terminal.
    """
    try:
        rv = cli.main(args=argv, prog_name="pcplab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("pcplab: aborted", err=True)
        sys.exit(EXIT_ABORTED)
    except KeyboardInterrupt:
        click.echo("\npcplab: aborted", err=True)
        sys.exit(EXIT_ABORTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:
            # `pcplab` or `pcplab runs` alone: the help, as click's standalone mode shows it
            click.echo(exc.ctx.get_help())
            sys.exit(EXIT_USAGE)
        _fail(
            f"{one_line(exc.format_message().splitlines()[0] if exc.format_message() else 'usage error')}"
            " (see 'pcplab --help')",
            EXIT_USAGE,
        )
    except click.ClickException as exc:
        # other click errors: one line naming the problem, exit 2
        text = exc.format_message()
        msg = text.splitlines()[0] if text else type(exc).__name__
        _fail(f"{one_line(msg)} (see 'pcplab --help')", exc.exit_code if exc.exit_code != 1 else 2)
    except BrokenPipeError:
        # the reader went away (`pcplab runs list | head`): stop quietly, as a SIGPIPE'd tool
        with contextlib.suppress(Exception):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        sys.exit(141)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the boundary: nothing may escape as a traceback
        expected = expected_failure(exc)
        if expected is not None:
            _fail(expected, EXIT_USAGE)
        path = save_traceback(exc, argv)
        _fail(
            f"internal error (a pcplab bug): {type(exc).__name__}: {one_line(str(exc), 200)}; "
            f"traceback saved to {path} -- please report it",
            EXIT_BUG,
        )
    # a command signals "found something" (e.g. a violation) with ctx.exit(1) or sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
