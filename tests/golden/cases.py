"""The golden-output cases: small seeded runs whose full stdout is committed next to this file.

Each case is a ``pcplab`` command line.  Its stdout is stored byte for byte in ``<name>.txt`` and
its exit status in ``exit_codes.json``; stderr (wall-clock figures, progress) is not compared.
``run`` is shared by the test and by ``regenerate.py`` so both run a case exactly the same way:
the real entry point in a fresh interpreter, in an empty temporary directory, with every
``PCPLAB_*`` variable cleared and the database and crash directory inside that directory.

This module imports nothing from the test package so ``regenerate.py`` can load it as a script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXIT_CODES = HERE / "exit_codes.json"
REGENERATE = "python tests/golden/regenerate.py"

# name -> argv after `pcplab`.  Keep each case to a couple of seconds: the sizes below were
# picked for that (pft --exact on a 2 MiB mapping, oom on 8 MiB).
CASES: dict[str, tuple[str, ...]] = {
    "pft-workqueue": ("pft", "-m", "rpi4", "-d", "workqueue", "--clients", "1,2",
                      "--iterations", "2"),
    "pft-workqueue-exact": ("pft", "-m", "rpi4", "-d", "workqueue", "--clients", "1,2",
                            "--iterations", "2", "--exact", "--mapping-mb", "2"),
    "noise-workqueue": ("noise", "-m", "rpi4", "-d", "workqueue", "--isolated", "2-3",
                        "--duration", "0.05"),
    "oom-rcu": ("oom", "-m", "rpi4", "-d", "rcu", "--memory-mib", "8"),
    "check-rcu-v1": ("check", "--design", "rcu-v1"),
    "check-spinlock-free-vs-global-drain": ("check", "--design", "spinlock", "--scenario",
                                            "free-vs-global-drain"),
    "designs": ("designs",),
}  # fmt: skip


def golden_path(name: str) -> Path:
    return HERE / f"{name}.txt"


def expected_exit_codes() -> dict[str, int]:
    if not EXIT_CODES.exists():
        return {}
    codes: dict[str, int] = json.loads(EXIT_CODES.read_text())
    return codes


def run(args: tuple[str, ...], timeout: float = 300) -> tuple[int, bytes, str]:
    """Run ``pcplab *args``; return (exit status, stdout bytes, stderr text)."""
    with tempfile.TemporaryDirectory(prefix="pcplab-golden-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PCPLAB_")}
        env.update(PCPLAB_DB=str(Path(tmp) / "golden.sqlite"),
                   PCPLAB_CRASH_DIR=str(Path(tmp) / "crashes"),
                   XDG_CONFIG_HOME=str(Path(tmp) / "config"),  # no user config.toml
                   COLUMNS="100", LC_ALL="C.UTF-8", PYTHONHASHSEED="0")  # fmt: skip
        env.pop("NO_COLOR", None)
        proc = subprocess.run([sys.executable, "-m", "pcplab", *args], cwd=tmp, env=env,
                              capture_output=True, timeout=timeout)  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")
