"""The `pcplab` command.

Each command group lives in its own module and is imported lazily, so `pcplab --help` stays fast and
a broken optional part never takes the whole command down.
"""

from __future__ import annotations

import importlib
import sys

import click

from pcplab import __version__
from pcplab.errors import PcplabError

# command name -> "module:attribute" of a click command or group
_COMMANDS: dict[str, str] = {
    "machines": "pcplab.cli.machines:machines",
    "designs": "pcplab.cli.check:designs",
    "check": "pcplab.cli.check:check",
    "pft": "pcplab.cli.sim:pft",
    "noise": "pcplab.cli.sim:noise",
    "oom": "pcplab.cli.sim:oom",
    "compare": "pcplab.cli.report:compare",
    "runs": "pcplab.cli.report:runs",
    "export": "pcplab.cli.report:export",
    "import": "pcplab.cli.report:import_",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None  # that part is not built yet
            raise
        return getattr(module, attr, None)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcplab")
def cli() -> None:
    """Model, simulate and model-check Linux per-CPU page list drain designs."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: bad input becomes one line on stderr and exit code 2."""
    try:
        rv = cli.main(args=argv, prog_name="pcplab", standalone_mode=False)
    except PcplabError as exc:
        click.echo(f"pcplab: error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("pcplab: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # usage errors: one line naming the problem, exit 2
        msg = exc.format_message().splitlines()[0] if exc.format_message() else str(exc)
        ctx_hint = " (see 'pcplab --help')"
        click.echo(f"pcplab: error: {msg}{ctx_hint}", err=True)
        sys.exit(exc.exit_code if exc.exit_code != 1 else 2)
    # a command signals "found something" (e.g. a violation) with ctx.exit(1) or sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)
