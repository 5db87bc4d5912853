"""The user's configuration file: ``$XDG_CONFIG_HOME/pcplab/config.toml`` (``~/.config/pcplab/
config.toml`` when ``XDG_CONFIG_HOME`` is unset or empty, as the XDG Base Directory
specification says).

Keys (all optional)::

    machine = "epyc-7742"          # default --machine of pft, noise, oom, compare (--machines: sweep)
    database = "~/pcplab.sqlite"   # results database when neither --db nor $PCPLAB_DB is given
    output = "~/pcplab-html"       # directory of compare --format html when --out is not given

Precedence: a command-line flag, then the environment (``$PCPLAB_DB``), then this file, then the
built-in default.  The file is read and checked before any command runs: a file that is not
TOML, an unknown key or a value of the wrong type is one ``pcplab: error:`` line naming the file
and the key, exit 2.  A missing file is no configuration.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pcplab.errors import PcplabError

#: the keys and what each sets (also the man page's FILES section)
KEYS: dict[str, str] = {
    "machine": "default machine profile of pft, noise, oom, compare and sweep",
    "database": "results database when neither --db nor $PCPLAB_DB is given",
    "output": "directory of compare --format html when --out is not given",
}
#: command -> the parameter that takes the configured machine
MACHINE_PARAMS: dict[str, str] = {
    "pft": "machine", "noise": "machine", "oom": "machine", "compare": "machine",
    "sweep": "machines",
}
ENV_DB = "PCPLAB_DB"
DEFAULT_OUTPUT = "pcplab-out"


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    machine: str | None = None
    database: str | None = None
    output: str | None = None


def config_path() -> Path:
    """Where the configuration file is looked for."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "pcplab" / "config.toml"


def load(path: Path | None = None) -> Config:
    """The configuration in ``path`` (default :func:`config_path`); an empty one if the file
    does not exist.  Raises :class:`PcplabError` (one line naming the file and key)."""
    path = config_path() if path is None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise PcplabError(f"config file {path}: cannot be read ({exc.strerror}); fix or remove "
                          "it") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PcplabError(f"config file {path}: not valid TOML ({exc}); fix or remove it") \
            from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise PcplabError(f"config file {path}: unknown key {unknown[0]!r}; the keys are "
                          f"{', '.join(KEYS)}")
    values: dict[str, Any] = {}
    for key in KEYS:
        if key not in data:
            continue
        v = data[key]
        if not isinstance(v, str) or not v.strip() or "\x00" in v:
            raise PcplabError(f"config file {path}: key {key!r} must be a non-empty string, "
                              f"not {v!r}"[:300])
        values[key] = os.path.expanduser(v.strip()) if key != "machine" else v.strip()
    return Config(path=path, **values)


def database(cfg: Config) -> str | None:
    """The database path the file asks for, unless ``$PCPLAB_DB`` is set (it wins)."""
    if os.environ.get(ENV_DB):
        return None
    return cfg.database


def output_dir(cfg: Config) -> str:
    return cfg.output or DEFAULT_OUTPUT


def default_map(cfg: Config, command: str | None) -> dict[str, Any] | None:
    """click's ``default_map`` for the invoked ``command`` (flags still win over it)."""
    param = MACHINE_PARAMS.get(command or "")
    if cfg.machine is None or param is None or command is None:
        return None
    return {command: {param: cfg.machine}}


def check_machine(cfg: Config) -> None:
    """A configured machine must exist: refused here, naming the file, not later as if the user
    had typed it."""
    if cfg.machine is None:
        return
    from pcplab.cli.options import machine_profile

    try:
        machine_profile(cfg.machine)
    except PcplabError as exc:
        raise PcplabError(f"config file {cfg.path}: key 'machine': {exc}") from None


def current() -> Config:
    """The configuration of this process's command (read again: it is a few bytes)."""
    return load()


__all__ = ["KEYS", "Config", "config_path", "current", "database", "default_map", "load",
           "output_dir"]
