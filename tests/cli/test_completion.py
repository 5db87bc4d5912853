"""Shell completion (click's ``_PCPLAB_COMPLETE``): machine names for --machine/--machines, design
names for --design/--designs, comma lists completed item by item, paths left to the shell."""

from __future__ import annotations

import os
import subprocess
import sys

import click
from click.shell_completion import ShellComplete

from pcplab import designs
from pcplab.cli import cli
from pcplab.cli.options import complete_designs, complete_machine, complete_machines
from pcplab.machines.registry import profile_names


def _values(cmd_args: list[str], incomplete: str) -> list[str]:
    comp = ShellComplete(cli, {}, "pcplab", "_PCPLAB_COMPLETE")
    return [c.value for c in comp.get_completions(cmd_args, incomplete)]


def test_callbacks() -> None:
    assert [c.value for c in complete_machine(None, None, "epyc")] == ["epyc-7601", "epyc-7742"]  # type: ignore[arg-type]
    every = [c.value for c in complete_machines(None, None, "rpi4,")]  # type: ignore[arg-type]
    assert every == [f"rpi4,{n}" for n in profile_names() if n != "rpi4"]  # no repeat
    got = [c.value for c in complete_designs(None, None, "workqueue,spin")]  # type: ignore[arg-type]
    assert got == [f"workqueue,{n}" for n in designs.names() if n.startswith("spin")]
    path = complete_machine(None, None, "./box.toml")  # type: ignore[arg-type]
    assert [(c.value, c.type) for c in path] == [("./box.toml", "file")]


def test_every_machine_and_design_option_completes() -> None:
    machines = set(profile_names())
    assert set(_values(["noise", "--machine"], "")) == machines
    assert set(_values(["pft", "-m"], "")) == machines
    assert set(_values(["oom", "-m"], "")) == machines
    assert set(_values(["compare", "--machine"], "")) == machines
    assert set(_values(["sweep", "--machines"], "")) == machines
    builtin = set(designs.names())
    assert set(_values(["noise", "--design"], "")) == builtin
    assert set(_values(["pft", "-d"], "")) == builtin
    assert set(_values(["compare", "--designs"], "")) == builtin
    assert set(_values(["sweep", "--designs"], "")) == builtin
    assert set(_values(["calibrate", "--design"], "")) == builtin
    # the checker also takes its mutants
    assert set(_values(["check", "--design"], "")) == builtin | set(designs.mutant_names())


def test_no_machine_or_design_option_lacks_completion() -> None:
    # every --machine/--machines/--design/--designs of the simulated commands has a callback
    missing = []
    for name in ("pft", "noise", "oom", "compare", "sweep", "check", "designs",
                 "calibrate"):
        cmd = cli.get_command(click.Context(cli), name)
        assert cmd is not None
        for p in cmd.params:
            if set(p.opts) & {"--machine", "--machines", "--design", "--designs"}:
                if p._custom_shell_complete is None:
                    missing.append(f"{name} {p.opts[0]}")
    assert missing == []


def test_bash_end_to_end() -> None:
    env = dict(os.environ, _PCPLAB_COMPLETE="bash_complete",
               COMP_WORDS="pcplab compare --designs workqueue,rcu", COMP_CWORD="3")
    res = subprocess.run([sys.executable, "-c", "from pcplab.cli import main; main()"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["plain,workqueue,rcu", "plain,workqueue,rcu-v1"]
    src = subprocess.run([sys.executable, "-c", "from pcplab.cli import main; main()"],
                         env=dict(os.environ, _PCPLAB_COMPLETE="bash_source"),
                         capture_output=True, text=True, timeout=60)
    assert "complete -o nosort -F _pcplab_completion" in src.stdout
