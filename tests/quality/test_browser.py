"""The verdict page and the Data Docs in headless Chromium with networking off (SPEC 7).

Integration tier: needs Debian's `chromium`, installed here when missing (as root, with
apt-get); a machine that cannot install it fails this test, it does not skip it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.errors import ExitCode
from tests.quality.test_offline import run_check, write_campaign

pytestmark = pytest.mark.integration

#: Every request that is not a file goes to a closed local port: the network is off.
_OFFLINE = ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
SCREENSHOTS = Path(os.environ.get("ARREARS_SCREENSHOTS", "/tmp/arrears-screenshots"))


def chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(cmd)} failed: {done.stderr[-2000:]}")
    found = shutil.which("chromium")
    if not found:
        pytest.fail("apt-get installed chromium but it is not on PATH")
    return found


def browse(page: Path, *extra: str) -> str:
    """The page's DOM after its scripts ran, fetched with the network off."""
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
            "--window-size=1280,1600",
            *_OFFLINE,
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def quality(tmp_path_factory: pytest.TempPathFactory) -> Path:
    c = write_campaign(tmp_path_factory.mktemp("browser"))
    assert run_check(c) == ExitCode.CRITICAL
    return c["snapshot"] / "quality"


def test_the_verdict_page_renders_offline(quality: Path) -> None:
    dom = browse(quality / "index.html", "--dump-dom")
    assert 'id="verdict"' in dom and "不得报送" in dom
    assert "snapshot.total_is_sum_of_rows" in dom and "320412 武进区" in dom
    assert 'class="dead-letters"' in dom and 'class="freshness"' in dom
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "verdict.png"
    browse(quality / "index.html", f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000


def test_a_data_docs_validation_page_renders_offline_with_its_tables(quality: Path) -> None:
    page = next((quality / "data_docs/validations/arrears/cells").rglob("*.html"))
    dom = browse(page, "--dump-dom")
    # bootstrap-table ran (its wrapper exists only when jQuery and the plugin loaded locally)
    assert 'class="bootstrap-table' in dom
    assert "fa-times" in dom and "snapshot.total_is_sum_of_rows" in dom
    assert "snapshot.rollup_is_own_plus_children" in dom and "fa-check" in dom
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "data-docs-cells.png"
    browse(page, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    index = browse(quality / "data_docs/index.html", "--dump-dom")
    assert 'class="bootstrap-table' in index and "arrears.cells" in index


def test_a_warning_only_data_docs_page_shows_a_warning_and_names_its_snapshot(
    quality: Path,
) -> None:
    page = next((quality / "data_docs/validations/arrears/dead_letters").rglob("*.html"))
    dom = browse(page, "--dump-dom")
    assert "arrears-warning" in dom and "Warnings only (may be submitted)" in dom
    assert "Data asset: the dead letters for snapshot snap-checked" in dom
    assert "Data asset: None" not in dom
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "data-docs-dead-letters.png"
    browse(page, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000


def test_the_events_page_says_what_its_number_columns_stand_for(quality: Path) -> None:
    (page,) = (quality / "data_docs/validations/arrears/events/received_event").rglob("*.html")
    dom = browse(page, "--dump-dom")
    assert 'class="bootstrap-table' in dom and "events.event_id_unique" in dom
    assert "received_event numbers an event by the row of its first copy" in dom
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "data-docs-events.png"
    browse(page, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000


def test_the_verdict_page_fits_1200_pixels_even_with_long_unbroken_paths(tmp_path: Path) -> None:
    c = write_campaign(tmp_path / ("x" * 150))  # a share's deep folder: no break in it
    assert run_check(c) == ExitCode.CRITICAL
    page = c["snapshot"] / "quality" / "index.html"
    frame = tmp_path / "frame.html"  # the page in a 1200-pixel frame that reports its widths
    frame.write_text(
        '<!DOCTYPE html><html><body><iframe id="f" src="' + page.as_uri() + '" '
        'style="width:1200px;height:900px;border:0"></iframe><pre id="out">pending</pre>'
        "<script>document.getElementById('f').onload = function () {"
        "var d = this.contentDocument.documentElement;"
        "document.getElementById('out').textContent = 'widths ' + d.scrollWidth + ' ' +"
        " d.clientWidth; };</script></body></html>",
        encoding="utf-8",
    )
    dom = browse(frame, "--dump-dom")
    _, scroll, client = dom.split('<pre id="out">', 1)[1].split("<", 1)[0].split()
    assert int(scroll) <= int(client), f"the page is {scroll} px wide in a {client} px frame"
