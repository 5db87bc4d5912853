"""Test-wide set-up: the fake ``pcplab compare`` backend (a test double, kept out of ``src/``).

Importing :mod:`tests.fake_backend` registers backend ``fake`` in this process; the two variables
let a ``pcplab`` subprocess or a worker process register it too (it imports the module named by
``$PCPLAB_BACKEND_MODULE`` when asked for a backend it does not know).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
os.environ.setdefault("PCPLAB_BACKEND_MODULE", "tests.fake_backend")
# no user's ~/.config/pcplab/config.toml may change what the tests see (pcplab.cli.config): an
# empty configuration directory of its own for this test process and its subprocesses
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="pcplab-test-xdg-")

import tests.fake_backend  # noqa: E402,F401 - registers the "fake" backend
