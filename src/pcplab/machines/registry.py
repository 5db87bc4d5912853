"""Built-in machine profiles by name, plus ``host`` (this machine, read from /proc and /sys)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from pcplab.errors import PcplabError
from pcplab.machines.profile import Profile, parse_profile

HOST = "host"


def builtin_names() -> list[str]:
    """Names of the built-in profiles (the TOML files shipped in ``profiles/``), sorted."""
    files = resources.files("pcplab.machines").joinpath("profiles")
    return sorted(f.name[: -len(".toml")] for f in files.iterdir() if f.name.endswith(".toml"))


def profile_names() -> list[str]:
    """Every name :func:`get_profile` accepts."""
    return [*builtin_names(), HOST]


@cache
def _builtin(name: str) -> Profile:
    res = resources.files("pcplab.machines").joinpath("profiles", f"{name}.toml")
    profile = parse_profile(res.read_text(encoding="utf-8"), origin=f"built-in {name}.toml")
    if profile.name != name:
        raise PcplabError(f"built-in profile {name}.toml names itself {profile.name!r}; rename one")
    return profile


def get_profile(name: str) -> Profile:
    """A profile by name; ``host`` reads this machine. Unknown names list the known ones."""
    if name == HOST:
        from pcplab.machines.host import host_profile

        return host_profile()
    if name not in builtin_names():
        raise PcplabError(f"unknown machine {name!r}; known: {', '.join(profile_names())}")
    return _builtin(name)
