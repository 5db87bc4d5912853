"""A seeded fuzz campaign over every command and input file type, bounded to about 40 s: no
traceback, no hang past the timeout, exit codes 0/1/2 only, every out-of-range value refused
(``benchmarks/fuzz_cli.py`` is the generator; run it for the long campaign)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent.parent / "benchmarks" / "fuzz_cli.py"


def _fuzz() -> object:
    spec = importlib.util.spec_from_file_location("pcplab_fuzz_cli", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_fuzz_campaign(tmp_path: Path, monkeypatch: object) -> None:
    fuzz = _fuzz()
    outcomes = fuzz.campaign(n=6000, seed=14, timeout=20.0, root=tmp_path / "ws",  # type: ignore[attr-defined]
                             budget=40.0)
    s = fuzz.summary(outcomes)  # type: ignore[attr-defined]
    assert s["inputs"] >= 500, s["inputs"]  # the budget must not be eaten by a few slow inputs
    assert len(s["per_command"]) >= 10, s["per_command"]
    failures = s["failures"]
    assert not failures, "\n".join(f"{f['label']}: code {f['code']} hang {f['hang']}: "
                                   f"{f['stderr'][-300:]}" for f in failures)
