"""Built-in machine profiles by name, plus ``host`` (this machine, read from /proc and /sys)."""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from typing import Any

from pcplab.errors import PcplabError
from pcplab.machines.profile import Profile, load_profile, parse_profile

HOST = "host"


def _profiles_dir() -> Any:
    """The folder of built-in profiles (a Traversable; tests point it at a temporary copy)."""
    return resources.files("pcplab.machines").joinpath("profiles")


def builtin_names() -> list[str]:
    """Names of the built-in profiles (the TOML files shipped in ``profiles/``), sorted."""
    files = _profiles_dir()
    return sorted(f.name[: -len(".toml")] for f in files.iterdir() if f.name.endswith(".toml"))


def profile_names() -> list[str]:
    """Every name :func:`get_profile` accepts."""
    return [*builtin_names(), HOST]


@cache
def _builtin(name: str) -> Profile:
    res = _profiles_dir().joinpath(f"{name}.toml")
    try:
        text = res.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PcplabError(f"built-in machine profile {name}.toml is unreadable: {exc}") from None
    profile = parse_profile(text, origin=f"built-in {name}.toml")
    if profile.name != name:
        raise PcplabError(f"built-in profile {name}.toml names itself {profile.name!r}; rename one")
    return profile


def is_profile_path(name: str) -> bool:
    """Whether a ``--machine`` value names a TOML file rather than a built-in profile: it ends in
    ``.toml`` or contains a path separator (``./box.toml``, ``~/machines/box``)."""
    return name.endswith(".toml") or "/" in name or (os.sep != "/" and os.sep in name)


def get_profile(name: str) -> Profile:
    """A profile by name; ``host`` reads this machine; a TOML path (see :func:`is_profile_path`)
    is loaded and validated like a built-in one.  Unknown names list the known ones."""
    if not isinstance(name, str) or not name.strip():
        raise PcplabError(f"machine name is empty; known: {', '.join(profile_names())}")
    if name == HOST:
        from pcplab.machines.host import host_profile

        return host_profile()
    if is_profile_path(name):
        path, sep, want = name.partition(PINNED)
        profile = _from_file(os.path.expanduser(path))
        if sep and file_digest(os.path.expanduser(path)) != want:
            raise PcplabError(
                f"machine profile {path} changed since this run was planned (its content hash "
                f"is no longer {want}); run the command again"
            )
        return profile
    if name not in builtin_names():
        raise PcplabError(f"unknown machine {name!r}; known: {', '.join(profile_names())}")
    return _builtin(name)


def _from_file(path: str) -> Profile:
    # not cached: the file may change between two calls in one process (tests, the Python API)
    if os.path.isdir(path):
        raise PcplabError(f"machine profile {path} is a directory; give a .toml file")
    if not os.path.exists(path):
        raise PcplabError(
            f"machine profile file {path} does not exist; give a built-in name "
            f"({', '.join(profile_names())}) or a .toml file"
        )
    return load_profile(path)


#: ``PATH#sha256:HEX``: a profile file pinned to its content, so stored runs keyed by the machine
#: string are reused only while the file is unchanged (see :func:`pinned_name`)
PINNED = "#sha256:"


def file_digest(path: str) -> str:
    """First 16 hex digits of the SHA-256 of a file (PcplabError if unreadable)."""
    import hashlib

    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read(1 << 20)).hexdigest()[:16]
    except OSError as exc:
        raise PcplabError(f"cannot read machine profile {path}: {exc.strerror or exc}") from None


def pinned_name(name: str) -> str:
    """``name`` itself for a built-in profile or ``host``; for a profile file, its absolute path
    pinned to its content hash (``/abs/box.toml#sha256:...``).  Commands that store results
    (``compare``) record this, so a run key changes when the file does."""
    if name == HOST or not is_profile_path(name) or PINNED in name:
        return name
    path = os.path.abspath(os.path.expanduser(name))
    get_profile(path)  # validates
    return f"{path}{PINNED}{file_digest(path)}"
