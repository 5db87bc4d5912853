"""Where and with what a run was made: versions, host, command line (and, apart, wall time).

Stored with every run `pcplab compare` makes (``result["provenance"]``, see ``pcplab runs show``)
and printed in the HTML page's metadata.  The wall time is kept out of everything that must be the
same for the same seed: it is stored with the run and printed on stderr only.
"""

from __future__ import annotations

import platform
import shlex
import sys
from typing import Any

import matplotlib
import numpy

from pcplab._version import __version__


def command_line(argv: list[str] | None = None) -> str:
    args = list(sys.argv if argv is None else argv)
    if args:
        args[0] = "pcplab" if args[0].endswith(("pcplab", "__main__.py", "-c")) else args[0]
    return shlex.join(args)


def environment() -> dict[str, str]:
    """Versions and host: the same on every run of one installation on one machine."""
    from pcplab.store.db import model_version

    return {
        "pcplab": __version__,
        "model": model_version(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "matplotlib": matplotlib.__version__,
        "host": platform.node(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def provenance(wall_s: float | None = None, argv: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = dict(environment(), command=command_line(argv))
    if wall_s is not None:
        out["wall_s"] = round(wall_s, 3)
    return out
