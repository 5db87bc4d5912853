"""`pcplab machines list/show` through the real entry point (exit codes, JSON, error lines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcplab.cli import main

DATA = Path(__file__).parent / "data"
FC618 = str(DATA / "x86_64-6.18-2cpu-firecracker.txt")
OLD515 = str(DATA / "x86_64-5.15-4cpu-handmade.txt")


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["machines", "list", "--json"], capsys)
    assert code == 0
    names = [m["name"] for m in json.loads(out)["machines"]]
    assert "epyc-7742" in names and "rpi4" in names and names[-1] == "host"


def test_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["machines", "list"], capsys)
    assert code == 0 and "xeon-e5-2640v3" in out and "power9" in out


def test_show_zoneinfo_618_matches(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["machines", "show", "--zoneinfo", FC618, "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["kernel"] == "6.7" and data["match"] is True
    zones = {z["zone"]: z for z in data["zones"]}
    assert set(zones) == {"DMA", "DMA32", "Normal"}
    assert all(z["match"] for z in zones.values())
    dma32 = zones["DMA32"]
    assert dma32["node"] == 0 and dma32["managed"] == 772915
    assert {k: dma32["model"][k] for k in ("batch", "high_min", "high_max")} == {
        "batch": 63,
        "high_min": 3733,
        "high_max": 48307,
    }
    assert dma32["reported"]["high_min"] == 3733


def test_show_zoneinfo_old_format_uses_high(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["machines", "show", "--zoneinfo", OLD515, "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["kernel"] == "5.17" and data["match"]
    assert data["zones"][1]["model"]["high"] == 1844
    assert "high_min" not in data["zones"][1]["model"]


def test_show_zoneinfo_text_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["machines", "show", "--zoneinfo", FC618], capsys)
    assert code == 0 and "3733 | 3733" in out and "NO" not in out


def test_mismatch_is_flagged_and_strict_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "zi.txt"
    bad.write_text(Path(FC618).read_text().replace("high_max: 48307", "high_max: 48000", 1))
    code, out, _ = run(["machines", "show", "--zoneinfo", str(bad)], capsys)
    assert code == 0 and "NO" in out and "high_max: model 48307, reported 48000 on cpu 0" in out
    code, out, _ = run(["machines", "show", "--zoneinfo", str(bad), "--json", "--strict"], capsys)
    assert code == 1 and json.loads(out)["match"] is False


def test_show_profile_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["machines", "show", "xeon-e5-2640v3", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["kernel"] == "5.17" and data["machine"]["cpus"] == 32
    assert [z["zone"] for z in data["zones"]] == ["DMA", "DMA32", "Normal", "Normal"]
    assert all("high" in z["model"] and z["model"]["batch"] >= 1 for z in data["zones"])
    code, out, _ = run(["machines", "show", "xeon-e5-2640v3", "--kernel", "6.8", "--json"], capsys)
    assert all("high_max" in z["model"] for z in json.loads(out)["zones"])


def test_show_profile_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["machines", "show", "rpi4"], capsys)
    assert code == 0 and "DMA32" in out and "clock_ghz" in out


def test_show_host(capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/proc/zoneinfo").exists():
        pytest.skip("needs Linux /proc")
    code, out, _ = run(["machines", "show", "host", "--json"], capsys)
    assert code == 0 and json.loads(out)["zones"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["machines", "show", "nosuch"], "unknown machine 'nosuch'; known:"),
        (["machines", "show"], "give a machine NAME or --zoneinfo FILE"),
        (["machines", "show", "rpi4", "--zoneinfo", FC618], "give a machine NAME or --zoneinfo"),
        (["machines", "show", "rpi4", "--kernel", "9.x"], "kernel"),
        (["machines", "show", "--zoneinfo", "/nonexistent/zi"], "cannot read zoneinfo"),
    ],
)
def test_bad_usage_is_one_line_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(args, capsys)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


def test_malformed_zoneinfo_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "zi.txt"
    bad.write_text(Path(FC618).read_text().replace("present  782336", "present  78x336"))
    code, out, err = run(["machines", "show", "--zoneinfo", str(bad), "--json"], capsys)
    assert code == 2 and out == ""
    assert "line 107: 'present' needs a non-negative integer" in err
    assert err.count("\n") == 1


def test_old_rules_on_a_618_file_show_pcp_high_separately(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["machines", "show", "--zoneinfo", FC618, "--kernel", "5.17"], capsys)
    assert code == 0
    assert "pcp high" in out and "18 | 0" in out  # DMA: never-used pcp keeps high 0 on 6.18
    assert "high: model 6806, reported 6869 on cpu 1" in out
