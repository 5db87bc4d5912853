"""Build pcplab's own pft (``pft.c`` beside this module) with the machine's C compiler, once.

The binary is cached under ``$PCPLAB_CACHE_DIR`` if set, else the user cache directory
(``$XDG_CACHE_HOME/pcplab`` on Linux, through platformdirs), in ``bin/pcplab-pft-<key>``, where
the key hashes the source, the compiler's path and ``--version`` line, and the flags: a changed
source or compiler builds a new binary, an unchanged one is reused.  The compile writes to a
temporary file that is renamed into place, so two concurrent first uses never leave half a binary.

Flags follow pft's own Makefile as mmtests builds it (``-std=gnu99 -pthread -O3 -D_GNU_SOURCE``,
mmtests-pft.md §1; libnuma is not needed: the program uses no mempolicy).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pcplab.errors import PcplabError

CFLAGS = ("-std=gnu99", "-pthread", "-O3", "-D_GNU_SOURCE")
SOURCE_NAME = "pft.c"
#: compilers tried in order when neither --cc nor $CC names one
COMPILERS = ("cc", "gcc", "clang")


@dataclass(frozen=True)
class Binary:
    path: Path
    compiler: str
    compiler_version: str
    flags: tuple[str, ...]
    source_sha256: str
    built: bool  # False: reused from the cache

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "compiler": self.compiler,
                "compiler_version": self.compiler_version, "flags": list(self.flags),
                "source_sha256": self.source_sha256, "built_now": self.built}


def source_text() -> str:
    return resources.files("pcplab.measure").joinpath(SOURCE_NAME).read_text(encoding="utf-8")


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Where built binaries live: ``override``, ``$PCPLAB_CACHE_DIR``, or the user cache dir."""
    if override:
        return Path(override)
    env = os.environ.get("PCPLAB_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("pcplab", appauthor=False))


def find_compiler(cc: str | None = None) -> str:
    """The compiler to use: ``cc``, else ``$CC``, else the first of :data:`COMPILERS` on PATH.
    PcplabError (one line) when none is found."""
    wanted = cc or os.environ.get("CC")
    if wanted:
        found = shutil.which(wanted)
        if found is None:
            raise PcplabError(f"C compiler {wanted!r} not found; install one or give --cc PATH")
        return found
    for name in COMPILERS:
        found = shutil.which(name)
        if found is not None:
            return found
    raise PcplabError(
        "no C compiler found (tried cc, gcc, clang); install one (e.g. gcc) or give --cc PATH"
    )


def _version(compiler: str) -> str:
    try:
        out = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30,
                             check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PcplabError(f"cannot run C compiler {compiler}: {exc}") from None
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0] if first else "unknown"


def build(cc: str | None = None, cache: str | os.PathLike[str] | None = None) -> Binary:
    """The pft binary for this machine, compiled now or taken from the cache."""
    compiler = find_compiler(cc)
    version = _version(compiler)
    text = source_text()
    src_sha = hashlib.sha256(text.encode()).hexdigest()
    key = hashlib.sha256("\0".join([src_sha, compiler, version, *CFLAGS]).encode()).hexdigest()
    bindir = cache_dir(cache) / "bin"
    target = bindir / f"pcplab-pft-{key[:16]}"
    if target.is_file() and os.access(target, os.X_OK):
        return Binary(target, compiler, version, CFLAGS, src_sha, False)
    try:
        bindir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PcplabError(f"cannot create cache directory {bindir}: {exc.strerror or exc}; "
                          "set PCPLAB_CACHE_DIR or --cache-dir") from None
    with tempfile.TemporaryDirectory(prefix="pcplab-pft-build-") as tmp:
        src = Path(tmp) / SOURCE_NAME
        src.write_text(text, encoding="utf-8")
        fd, partial = tempfile.mkstemp(prefix=".pcplab-pft-", dir=bindir)
        os.close(fd)
        try:
            out = subprocess.run([compiler, *CFLAGS, "-o", partial, str(src)],
                                 capture_output=True, text=True, timeout=300, check=False)
            if out.returncode != 0:
                first = (out.stderr or out.stdout).strip().splitlines()
                raise PcplabError(
                    f"C compiler {compiler} failed to build pcplab's pft: "
                    f"{first[0] if first else 'exit ' + str(out.returncode)}"
                )
            os.chmod(partial, 0o755)
            os.replace(partial, target)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PcplabError(f"cannot build pcplab's pft with {compiler}: {exc}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(partial)
    return Binary(target, compiler, version, CFLAGS, src_sha, True)
