"""Run the real `pcplab` entry point in a subprocess with the fake compare backend."""

import os
import subprocess
import sys
from pathlib import Path

ENTRY = "from pcplab.cli import main; main()"


def env(delay: float = 0.0) -> dict[str, str]:
    e = dict(os.environ)
    e["PCPLAB_COMPARE_BACKEND"] = "fake"
    e["PCPLAB_FAKE_DELAY"] = str(delay)
    e.pop("PCPLAB_DB", None)
    e["COLUMNS"] = "100"
    return e


def pcplab(*args: str, cwd: Path, delay: float = 0.0, timeout: float = 120,
           fake: bool = True) -> subprocess.CompletedProcess[str]:
    e = env(delay)
    if not fake:
        e.pop("PCPLAB_COMPARE_BACKEND")
    return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=timeout)


def popen(*args: str, cwd: Path, delay: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env(delay),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
