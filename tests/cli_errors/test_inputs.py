"""Input files (profiles, zoneinfo, replay tokens) and the error boundary itself."""

from __future__ import annotations

import base64
import json
import re
import shutil
import zlib
from importlib import resources
from pathlib import Path

import pytest
from tests.cli_errors.conftest import Run

RPI4 = resources.files("pcplab.machines").joinpath("profiles", "rpi4.toml").read_text()
DATA = Path(__file__).resolve().parent.parent / "machines" / "data"


def _profile(tmp_path: Path, text: str, name: str = "box.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_machine_from_a_file_everywhere(cli: Run, tmp_path: Path) -> None:
    _profile(tmp_path, RPI4.replace('name = "rpi4"', 'name = "box"'))
    shown = cli("machines", "show", "./box.toml", "--json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["machine"]["name"] == "box"
    res = cli("pft", "--machine", "./box.toml", "-d", "rcu", "--clients", "1", "-n", "1", "--json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["machine"] == "box"
    assert "--isolated" in cli("noise", "-m", "./box.toml", "-d", "rcu", "--isolated",
                               "7").one_error_line()  # fmt: skip
    assert "does not exist" in cli("machines", "show", "./nope.toml").one_error_line()


@pytest.mark.parametrize(("line", "new", "needle"), [
    ("value = 3.2", "value = 0", "must be above 0"),  # mem_bw_node_gbs = 0: was ZeroDivisionError
    ("memory_mib = 8052", "memory_mib = inf", "memory_mib"),
    ("memory_mib = 8052", "memory_mib = " + "9" * 5000, "unreadable TOML"),
    ("cpus = \"0-3\"", "cpus = \"0-100000000000\"", "cpus"),
    ("max_order = 10", "max_order = 99", "max_order"),
    ("numa_distance = [[10]]", "numa_distance = [[10]]\ndeep = " + "[" * 5000 + "]" * 5000,
     "profile"),
])  # fmt: skip
def test_broken_profile_names_the_field(cli: Run, tmp_path: Path, line: str, new: str,
                                        needle: str) -> None:
    text = RPI4
    if line.startswith("value = 3.2"):
        text = re.sub(r"(\[costs\.mem_bw_node_gbs\]\s*\nvalue = )[0-9.]+", r"\g<1>0", text)
        assert "mem_bw_node_gbs]\nvalue = 0\n" in text
    else:
        assert line in text, line
        text = text.replace(line, new)
    _profile(tmp_path, text)
    assert needle in cli("machines", "show", "./box.toml").one_error_line()


def test_a_broken_builtin_profile_is_reported_alone(cli: Run, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pcplab.machines import registry

    folder = tmp_path / "profiles"
    shutil.copytree(Path(str(resources.files("pcplab.machines").joinpath("profiles"))), folder)
    (folder / "broken.toml").write_text(RPI4.replace('name = "rpi4"', 'name = "broken"')
                                        .replace("page_size = 4096", "page_size = 0"))
    monkeypatch.setattr(registry, "_profiles_dir", lambda: folder)
    registry._builtin.cache_clear()
    try:
        res = cli("machines", "list", "--json")
        assert res.code == 0, res.err
        data = json.loads(res.out)
        assert "rpi4" in [m["name"] for m in data["machines"]]
        assert [b["name"] for b in data["broken"]] == ["broken"]
        assert "broken.toml" in res.err and "page_size" in res.err
        assert "page_size" in cli("machines", "show", "broken").one_error_line()
        assert cli("machines", "show", "rpi4").code == 0
    finally:
        registry._builtin.cache_clear()


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda t: re.sub(r"pages free\s+\d+", "pages free     99999999999", t, count=1), "free"),
    (lambda t: re.sub(r"\n(\s+)min(\s+)\d+", r"\n\1min\g<2>999999999", t, count=1), "min"),
    (lambda t: re.sub(r"present\s+\d+", "present  " + "9" * 5000, t, count=1), "present"),
    (lambda t: t.replace("Node 0,", "Node 99999999999999,", 1), "node"),
])  # fmt: skip
def test_inconsistent_zoneinfo_names_the_field(cli: Run, tmp_path: Path, edit: object,
                                               needle: str) -> None:
    src = DATA / "x86_64-6.18-2cpu-firecracker.txt"
    text = src.read_text()
    assert cli("machines", "show", "--zoneinfo", str(src)).code in (0, 1)
    bad = edit(text)  # type: ignore[operator]
    assert bad != text
    (tmp_path / "zi").write_text(bad)
    assert needle in cli("machines", "show", "--zoneinfo", "zi").one_error_line()


def _pack(raw: bytes) -> str:
    return "pcp1." + base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


@pytest.mark.parametrize("raw", [
    b'{"d":"rcu","s":"free-vs-global-drain","x":[1e999]}',
    b"[" * 100_000 + b"]" * 100_000,
    b"[" + b"0," * 3_000_000 + b"0]",  # 6 MB of JSON from a 12 kB token
    b'{"d":"rcu","s":"free-vs-global-drain","x":[true]}',
    b'{"d":null,"s":"x","x":[]}',
    b"\xff\xfe",
])  # fmt: skip
def test_bad_replay_tokens(cli: Run, raw: bytes) -> None:
    assert "replay token" in cli("check", "--replay", _pack(raw)).one_error_line()


def test_replay_token_tolerates_new_keys(cli: Run) -> None:
    tok = _pack(b'{"d":"rcu","s":"free-vs-global-drain","x":[],"future":{"a":1}}')
    res = cli("check", "--replay", tok)
    assert res.code in (0, 1), res.err


def test_a_bug_is_one_line_with_a_saved_traceback(cli: Run, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import pcplab.cli.machines as mod

    def boom() -> list[str]:
        return [1 / 0]  # type: ignore[list-item]

    monkeypatch.setattr(mod, "profile_names", boom)
    res = cli("machines", "list")
    assert res.code == 70
    assert len(res.err_lines) == 1 and "Traceback" not in res.err
    assert "internal error (a pcplab bug): ZeroDivisionError" in res.err
    path = Path(res.err.split("traceback saved to ")[1].split(" -- ")[0])
    assert path.parent == tmp_path / "crashes"
    text = path.read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError" in text


@pytest.mark.parametrize(("exc", "code", "needle"), [
    (OSError(28, "No space left on device", "out.csv"), 2, "out.csv: No space left"),
    (RecursionError(), 2, "nested too deeply"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), 2, "UTF-8"),
    (KeyboardInterrupt(), 130, "aborted"),
])  # fmt: skip
def test_expected_failures_are_one_line(cli: Run, monkeypatch: pytest.MonkeyPatch,
                                        exc: BaseException, code: int, needle: str) -> None:
    import sqlite3

    import pcplab.cli.machines as mod

    def fail() -> list[str]:
        raise exc

    monkeypatch.setattr(mod, "profile_names", fail)
    res = cli("machines", "list")
    assert res.code == code and needle in res.err and len(res.err_lines) == 1, res.err
    monkeypatch.setattr(mod, "profile_names", lambda: (_ for _ in ()).throw(
        sqlite3.DatabaseError("database disk image is malformed")))
    assert "malformed" in cli("machines", "list").one_error_line()


def test_design_loading_errors_are_one_line(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "d.py").write_text("raise ValueError('no design here')\n")
    for spec in ("./missing.py", "./d.py", "no.such.module:x"):
        res = cli("pft", "-m", "rpi4", "-d", spec, "--clients", "1", "-n", "1")
        res.one_error_line()


def test_compare_keys_a_profile_file_by_its_content(cli: Run, tmp_path: Path) -> None:
    box = _profile(tmp_path, RPI4.replace('name = "rpi4"', 'name = "box"'))
    args = ("compare", "--machine", "./box.toml", "--designs", "vanilla,rcu", "--clients", "1",
            "--iterations", "2", "--duration", "0.002", "--drain-rate", "1000", "--check-bound",
            "0", "--quiet", "--no-plots", "--db", str(tmp_path / "r.db"))
    first = cli(*args)
    assert first.code == 0, first.err
    assert "4 run(s) new" in first.err or "6 run(s) new" in first.err
    assert "0 run(s) new" in cli(*args).err  # unchanged file: reused
    box.write_text(box.read_text().replace("cacheline_bytes = 64", "cacheline_bytes = 128"))
    again = cli(*args)
    assert again.code == 0 and "0 run(s) new" not in again.err  # edited file: not reused


def test_value_errors_from_parsers_are_input_errors_elsewhere_bugs() -> None:
    """A ValueError raised inside a pcplab parsing function (``parse_*``, ``load_*`` ...) is
    bad input (exit 2); the same error anywhere else is a bug (exit 70)."""
    from pcplab.errors import expected_failure

    ns: dict[str, object] = {}
    code = ("def parse_line(s):\n    return tuple(int(float(f)) for f in s.split())\n"
            "def tabulate(s):\n    return int(s)\n")
    exec(compile(code, "/site-packages/pcplab/report/fake_log.py", "exec"), ns)  # noqa: S102
    for func, arg, expected in ((ns["parse_line"], "1e999", True), (ns["parse_line"], "x", True),
                                (ns["tabulate"], "x", False)):  # fmt: skip
        try:
            func(arg)  # type: ignore[operator]
        except (ValueError, OverflowError) as exc:
            msg = expected_failure(exc)
            assert (msg is not None) is expected, (arg, msg)
            if expected:
                assert "parse_line" in msg and "\n" not in msg  # type: ignore[operator]
        else:
            raise AssertionError("no error")
