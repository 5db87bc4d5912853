"""`pcplab compare --format html` in a real browser: headless Chromium renders the page of a tiny
compare run (the fake backend, the sizes of the other HTML tests) at a 1280x800 viewport.  The
page must load with no console message (it has no script: any message is an error -- a failed
resource, a blocked load), the screenshot must be a real image, and the summary table and the
difference plot must lie above the fold (their boxes measured by the browser's own layout).

Chromium comes from Debian's ``chromium`` package, which ``.ci/run`` installs and then sets
``PCPLAB_REQUIRE_CHROMIUM=1``: in CI a missing browser fails this test; elsewhere it is skipped
with the reason."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from tests.cli_compare.helpers import pcplab

VIEWPORT = (1280, 800)
SMALL = ("--clients", "1,2", "--iterations", "3", "--quiet")
#: a console line in Chromium's stderr log (``--enable-logging=stderr``): ``...:CONSOLE(12)] "..."``
#: or ``...:INFO:CONSOLE:1] "..."``, depending on the version
CONSOLE = re.compile(r":CONSOLE[(:]")
#: measures, after layout, where the summary and the first figure are (written into the DOM, so
#: nothing is logged to the console)
PROBE = """<script>
(function () {
  var s = document.querySelector("table.summary"), f = document.querySelector("figure");
  var box = function (e) { if (!e) return null; var r = e.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, caption: (e.querySelector("figcaption") || {}).textContent || ""}; };
  document.body.setAttribute("data-layout", JSON.stringify({summary: box(s), figure: box(f),
    width: window.innerWidth}));
})();
</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if found:
        return found
    if os.environ.get("PCPLAB_REQUIRE_CHROMIUM"):
        pytest.fail("chromium is not installed but PCPLAB_REQUIRE_CHROMIUM is set (.ci/run "
                    "installs Debian's chromium: apt-get install -y chromium)")
    pytest.skip("chromium not installed (apt-get install -y chromium); CI installs it")


def _run_chromium(browser: str, tmp: Path, page: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
            f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", *mode, page.as_uri()]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=180,
                         env={**os.environ, "HOME": str(tmp)})
    assert res.returncode == 0, res.stderr[-2000:]
    return res


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def browser() -> str:
    return _chromium()


def test_console_detector_sees_a_script_error(browser: str, tmp_path: Path) -> None:
    # the check below must be able to fail: a page that throws is reported
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>throw new Error('x')</script></body></html>")
    res = _run_chromium(browser, tmp_path, bad, "--dump-dom")
    assert any("Uncaught" in line for line in _console(res.stderr)), res.stderr[-2000:]


def test_compare_html_renders_with_summary_and_difference_plot_above_the_fold(
        browser: str, tmp_path: Path) -> None:
    run = pcplab("compare", *SMALL, "--format", "html", "--out", "h",
                 "--db", str(tmp_path / "r.db"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    page = tmp_path / "h" / "index.html"

    shot = tmp_path / "x.png"
    res = _run_chromium(browser, tmp_path, page, f"--screenshot={shot}")
    assert _console(res.stderr) == [], _console(res.stderr)
    assert shot.exists() and _png_size(shot) == VIEWPORT
    assert shot.stat().st_size > 20_000  # a blank 1280x800 PNG is a few kB

    probed = tmp_path / "h" / "probe.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    res = _run_chromium(browser, tmp_path, probed, "--dump-dom")
    assert _console(res.stderr) == [], _console(res.stderr)
    m = re.search(r'data-layout="([^"]*)"', res.stdout)
    assert m, res.stdout[:2000]
    layout = json.loads(m.group(1).replace("&quot;", '"'))
    # --dump-dom lays the page out at the same width; the fold is the screenshot's height
    assert layout["width"] == VIEWPORT[0]
    fold = VIEWPORT[1]
    assert layout["summary"] is not None and layout["summary"]["bottom"] <= fold
    fig = layout["figure"]
    assert fig is not None and "difference to the baseline" in fig["caption"]
    assert fig["top"] <= fold - 300  # at least 300 px of the plot on the first screen


def test_missing_browser_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.delenv("PCPLAB_REQUIRE_CHROMIUM", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium not installed"):
        _chromium()
    monkeypatch.setenv("PCPLAB_REQUIRE_CHROMIUM", "1")
    with pytest.raises(pytest.fail.Exception, match="PCPLAB_REQUIRE_CHROMIUM is set"):
        _chromium()
