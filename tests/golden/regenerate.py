"""Rewrite the golden outputs after an intended model change: ``python tests/golden/regenerate.py``.

Runs every case in ``cases.py`` and overwrites ``<name>.txt`` and ``exit_codes.json``.  Review the
diff (``git diff tests/golden``) before committing: every changed line is a changed result.
``python tests/golden/regenerate.py NAME ...`` regenerates only the named cases.  Run it with the
project's interpreter (``.venv/bin/python tests/golden/regenerate.py``) so the installed pcplab
is the working tree's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, EXIT_CODES, expected_exit_codes, golden_path, run  # noqa: E402


def main(argv: list[str]) -> int:
    unknown = [n for n in argv if n not in CASES]
    if unknown:
        print(f"regenerate: unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}",
              file=sys.stderr)
        return 2
    codes = expected_exit_codes()
    for name in argv or list(CASES):
        code, out, err = run(CASES[name])
        if code not in (0, 1):  # 0 = ok, 1 = a finding (violation, oops); anything else is a bug
            print(f"regenerate: {name} exited {code}; not written\n{err}", file=sys.stderr)
            return 1
        path = golden_path(name)
        old = path.read_bytes() if path.exists() else None
        path.write_bytes(out)
        codes[name] = code
        print(f"{'unchanged' if old == out else 'written  '} {path.name} (exit {code})")
    EXIT_CODES.write_text(json.dumps({n: codes[n] for n in CASES if n in codes}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
