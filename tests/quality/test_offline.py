"""The check's pages render with no network: Data Docs with copied assets, the verdict page."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from contracts.quality.offline import VENDOR, loaded_urls, written_files
from pipeline.cli import main
from pipeline.errors import ExitCode
from tests.quality import kit
from tests.quality.test_expectations import bump, clean_cells


def write_campaign(root: Path, *, broken: bool = True, letters: int = 2) -> dict[str, Path]:
    """A snapshot (broken: 合计 off by one in 320412), a clean previous, archive, letters."""
    events = kit.clean_events()
    frame = kit.archive_frame(events)
    archive = kit.write_archive(root, frame)
    offsets = kit.end_offsets(frame)
    clean = kit.write_snapshot(root, clean_cells(), kit.meta("snap-clean", offsets=offsets))
    cells = bump(clean_cells(), "320412", "total.employers", 1) if broken else clean_cells()
    snap = kit.write_snapshot(root, cells, kit.meta("snap-checked", offsets=offsets))
    dead = root / "deadletters.jsonl"
    dead.write_text("".join(json.dumps(r) + "\n" for r in kit.dead_letters(letters).to_dicts()))
    return {"snapshot": snap, "previous": clean, "archive": archive, "letters": dead}


def check_args(c: dict[str, Path], letters: str | None = None) -> list[str]:
    """`arrears check` of the campaign's snapshot against its previous one, with its archive
    and dead letters (`letters`: the campaign's file unless named, e.g. "kafka")."""
    return [
        "check",
        str(c["snapshot"]),
        "--previous",
        str(c["previous"]),
        "--archive",
        str(c["archive"]),
        "--dead-letters",
        letters or str(c["letters"]),
    ]


def run_check(c: dict[str, Path]) -> int:
    return main(check_args(c))


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quality folder of a checked broken snapshot (one critical failure, one warning)."""
    c = write_campaign(tmp_path_factory.mktemp("offline"))
    assert run_check(c) == ExitCode.CRITICAL
    return c["snapshot"] / "quality"


class _Refs(HTMLParser):
    """Every src= and <link href=> of a page: what a browser loads by itself."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("src"):
            self.loaded.append(str(a["src"]))
        if tag == "link" and a.get("href"):
            self.loaded.append(str(a["href"]))
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))


def refs(page: Path) -> _Refs:
    parser = _Refs()
    parser.feed(page.read_text("utf-8"))
    return parser


def test_loaded_urls_finds_what_a_browser_fetches_and_not_what_a_person_clicks() -> None:
    page = """<link rel="stylesheet" href="https://cdn.example/x.css">
    <script src='//cdn.example/x.js'></script><img class="l" src=https://s3.example/logo.png>
    <a href="https://greatexpectations.io">GX</a> <style>@import "https://f.example/a.css";
    .b{background:url('https://s3.example/bg.png')} .c{background:url(../images/c.png)}</style>
    """
    assert loaded_urls(page) == [
        "//cdn.example/x.js",
        "https://s3.example/logo.png",
        "https://cdn.example/x.css",
        "https://s3.example/bg.png",
        "https://f.example/a.css",
    ]


def test_no_written_file_loads_anything_from_the_network(checked: Path) -> None:
    files = list(written_files(checked))
    assert len(files) > 20 and checked / "index.html" in files
    assert any(VENDOR in str(p) and p.suffix == ".js" for p in files)  # the copies are scanned too
    remote = {
        f"{p.relative_to(checked)}: {u}"
        for p in files
        for u in loaded_urls(p.read_text("utf-8", errors="replace"))
    }
    assert not remote, "\n".join(sorted(remote))


def test_every_local_reference_of_every_page_exists(checked: Path) -> None:
    pages = sorted(checked.rglob("*.html"))
    missing = []
    for page in pages:
        r = refs(page)
        for ref in r.loaded + [h for h in r.links if not re.match(r"(https?:|mailto:|#)", h)]:
            target = (page.parent / unquote(ref.split("?")[0].split("#")[0])).resolve()
            if not target.exists():
                missing.append(f"{page.relative_to(checked)}: {ref}")
    assert not missing, "\n".join(missing[:20])
    validation = next((checked / "data_docs/validations/arrears/cells").rglob("*.html"))
    text = validation.read_text("utf-8")
    assert "bootstrap-4.3.1/dist/css/bootstrap.min.css" in text
    # GX's logo (an inline style's url()) from the copy GX writes, not from its S3 bucket
    assert "url('../../../../../static/images/logo-long.png')" in text


class _Verdict(HTMLParser):
    """The verdict page as sections: heading id -> texts, and the tables' rows."""

    def __init__(self) -> None:
        super().__init__()
        self.first_heading = ""
        self.h1_class = ""
        self.sections: dict[str, list[str]] = {}
        self.classes: dict[str, list[str]] = {}
        self._section = ""
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self._tag = tag
        if tag in ("h1", "h2") and a.get("id"):
            self._section = str(a["id"])
            if tag == "h1" and not self.h1_class:
                self.h1_class = str(a.get("class"))
        if a.get("class"):
            self.classes.setdefault(self._section, []).append(str(a["class"]))

    def handle_data(self, data: str) -> None:
        if not data.strip():
            return
        if self._section == "verdict" and not self.first_heading:
            self.first_heading = data.strip()
        self.sections.setdefault(self._section, []).append(data.strip())


def verdict(quality: Path) -> _Verdict:
    parser = _Verdict()
    parser.feed((quality / "index.html").read_text("utf-8"))
    return parser


def test_verdict_page_says_first_whether_the_snapshot_may_go_and_why(checked: Path) -> None:
    page = verdict(checked)
    assert page.first_heading.startswith("不得报送")
    assert "snapshot.total_is_sum_of_rows" in page.first_heading and page.h1_class == "fail"
    critical = " ".join(page.sections["critical"])
    assert "snapshot.total_is_sum_of_rows" in critical and "320412 武进区" in critical
    assert "合计 用人单位户数" in critical  # the cell by the form's heading
    warnings = " ".join(page.sections["warnings"])
    assert "dead_letters.open_warning" in warnings and "dl-0" in warnings
    assert "warning" in page.classes["warnings"] and "critical" not in page.classes["warnings"]
    letters = " ".join(page.sections["dead-letters"])
    assert "uscc.check_char" in letters and "feed.jsonl:1, feed.jsonl:2" in letters
    fresh = page.sections["freshness"]
    assert {"inspection", "mediation", "court", "complaint"} <= set(fresh)
    links = refs(checked / "index.html").links
    assert "data_docs/index.html" in links
    assert any(h.startswith("data_docs/validations/arrears/cells/snap-checked@") for h in links)
    assert not refs(checked / "index.html").loaded  # nothing loaded: no script, no stylesheet


def test_a_warning_only_failure_lets_the_snapshot_go_and_is_marked_a_warning(
    tmp_path: Path,
) -> None:
    c = write_campaign(tmp_path, broken=False, letters=1)
    assert run_check(c) == 0
    page = verdict(c["snapshot"] / "quality")
    assert page.first_heading.startswith("可以报送") and page.h1_class == "warn"
    assert "dead_letters.open_warning" in page.first_heading
    assert page.sections["critical"][-1] == "none"
    assert "warning" in page.classes["warnings"]
