"""The config file ``$XDG_CONFIG_HOME/pcplab/config.toml``: its machine, database and output
directory are defaults that flags (and $PCPLAB_DB) override; a bad file is one error line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pcplab.cli import config

ENTRY = "from pcplab.cli import main; main()"


def _pcplab(tmp: Path, *args: str, db_env: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCPLAB_")}
    env["XDG_CONFIG_HOME"] = str(tmp / "xdg")
    env["PCPLAB_BACKEND_MODULE"] = "tests.fake_backend"
    if db_env:
        env["PCPLAB_DB"] = db_env
    return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=300)


def _write(tmp: Path, text: str) -> Path:
    path = tmp / "xdg" / "pcplab" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_path_follows_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config.config_path() == tmp_path / "pcplab" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", "")  # unset or empty: ~/.config
    assert config.config_path() == Path.home() / ".config" / "pcplab" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # the spec says ignore relative paths
    assert config.config_path() == Path.home() / ".config" / "pcplab" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    assert config.load() == config.Config()  # no file: no configuration


@pytest.mark.parametrize(("text", "needle"), [
    ("machine = ", "not valid TOML"),
    ("colour = 'red'\n", "unknown key 'colour'"),
    ("machine = 3\n", "key 'machine' must be a non-empty string"),
    ("machine = 'no-such-box'\n", "key 'machine': unknown machine 'no-such-box'"),
])
def test_bad_file_is_one_line_naming_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = _write(tmp_path, text)
    res = _pcplab(tmp_path, "designs")
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pcplab: error: config file ")
    assert str(path) in lines[0] and needle in lines[0], lines[0]


def test_machine_default_and_flag_override(tmp_path: Path) -> None:
    _write(tmp_path, 'machine = "rpi4"\n')
    args = ("noise", "-d", "rcu", "--isolated", "2-3", "--duration", "0.002")
    res = _pcplab(tmp_path, *args)  # no --machine: the file's (noise requires one otherwise)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("pcplab noise: machine rpi4,")
    res = _pcplab(tmp_path, *args, "-m", "neoverse-n1")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("pcplab noise: machine neoverse-n1,")


def test_database_and_output_defaults(tmp_path: Path) -> None:
    _write(tmp_path, f'database = "{tmp_path / "cfg.sqlite"}"\noutput = "{tmp_path / "html"}"\n')
    small = ("compare", "--backend", "fake", "--clients", "1", "--iterations", "2", "--quiet")
    res = _pcplab(tmp_path, *small, "--format", "html")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "cfg.sqlite").exists() and (tmp_path / "html" / "index.html").exists()
    # flags and $PCPLAB_DB win over the file
    res = _pcplab(tmp_path, *small, "--db", str(tmp_path / "flag.sqlite"), "--out", "o",
                  "--format", "html")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "flag.sqlite").exists() and (tmp_path / "o" / "index.html").exists()
    res = _pcplab(tmp_path, *small, db_env=str(tmp_path / "env.sqlite"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "env.sqlite").exists()
    # text mode writes no plots, whatever the file says
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["html", "o", "xdg"]
