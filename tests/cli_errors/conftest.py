"""Run the real ``pcplab`` entry point (``pcplab.cli.main``, the error boundary included) in this
process, with every file it might write inside the test's temporary directory."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]

    def one_error_line(self) -> str:
        """The single ``pcplab: error:`` line of a refused command (asserts there is one)."""
        assert self.code == 2, (self.code, self.err, self.out[-500:])
        assert len(self.err_lines) == 1, self.err
        assert self.err_lines[0].startswith("pcplab: error: "), self.err
        assert "Traceback" not in self.err + self.out
        return self.err_lines[0]


Run = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("PCPLAB_DB", str(tmp_path / "default.sqlite"))
    monkeypatch.setenv("PCPLAB_CRASH_DIR", str(tmp_path / "crashes"))
    monkeypatch.delenv("PCPLAB_COMPARE_BACKEND", raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        from pcplab.cli import main

        out, err = io.StringIO(), io.StringIO()
        old = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        code = 0
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main(list(args))
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (exc.code is not None) * 2
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return Result(code, out.getvalue(), err.getvalue())

    return run
