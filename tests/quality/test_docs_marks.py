"""The Data Docs as written: a failed warning is marked as a warning, a critical failure
keeps its red ✗, and every validation page names the snapshot and cutoff it validated."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from contracts.quality.docs_marks import WARNING_CLASS
from pipeline.errors import ExitCode
from tests.quality.test_offline import run_check, write_campaign

CUTOFF = "2024-12-31T23:59:59+08:00"


class _Rows(HTMLParser):
    """Each table row of a page: its text and the classes of its icons."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._text: list[str] | None = None
        self._icons: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._text, self._icons = [], []
        elif tag == "i" and self._text is not None:
            self._icons.append(dict(attrs).get("class") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._text is not None:
            self.rows.append((" ".join(" ".join(self._text).split()), self._icons))
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def row_icons(page: Path, check: str) -> list[str]:
    parser = _Rows()
    parser.feed(page.read_text("utf-8"))
    (icons,) = [icons for text, icons in parser.rows if f"] {check}:" in text]
    return icons


def header(page: Path) -> str:
    text = page.read_text("utf-8")
    start = text.index("Expectation Suite:")
    return " ".join(re.sub(r"<[^>]+>", " ", text[start : text.index("</div>", start)]).split())


def index_entry(quality: Path, batch: str) -> str:
    """The index's entry of a batch's run (the index lists the runs as JS objects)."""
    index = (quality / "data_docs/index.html").read_text("utf-8")
    key = f"'_expectation_suite_name_sort': 'arrears.{batch}'"
    (entry,) = [e for e in index.split("{'validation_success':") if key in e]
    return entry.split("'asset_name':", 1)[0]


def validation_page(quality: Path, batch: str) -> Path:
    (page,) = (quality / "data_docs/validations/arrears" / batch).rglob("*.html")
    return page


@pytest.fixture(scope="module")
def warned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean snapshot with two open dead letters: one warning, nothing critical."""
    c = write_campaign(tmp_path_factory.mktemp("warned"), broken=False, letters=2)
    assert run_check(c) == ExitCode.OK
    return c["snapshot"] / "quality"


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """合计 off by one (critical) and two open dead letters (a warning)."""
    c = write_campaign(tmp_path_factory.mktemp("refused"), broken=True, letters=2)
    assert run_check(c) == ExitCode.CRITICAL
    return c["snapshot"] / "quality"


def test_a_failed_warning_is_a_warning_sign_not_a_red_cross(warned: Path) -> None:
    (icon,) = row_icons(validation_page(warned, "dead_letters"), "dead_letters.open_warning")
    assert WARNING_CLASS in icon and "fa-exclamation-triangle" in icon
    assert "fa-times" not in icon and "text-danger" not in icon
    (passed,) = row_icons(validation_page(warned, "dead_letters"), "dead_letters.open_critical")
    assert "fa-check-circle" in passed


def test_a_warning_only_suite_says_so_in_its_header_and_on_the_index(warned: Path) -> None:
    head = header(validation_page(warned, "dead_letters"))
    assert "Status: Warnings only (may be submitted)" in head and "Failed" not in head
    entry = index_entry(warned, "dead_letters")
    assert WARNING_CLASS in entry and "'_validation_success_text': 'Warning'" in entry
    assert "ge-failed-icon" not in entry
    index = (warned / "data_docs/index.html").read_text("utf-8")
    assert "ge-failed-icon" not in index  # nothing else failed


def test_a_critical_failure_keeps_its_red_cross_beside_a_marked_warning(refused: Path) -> None:
    cells = validation_page(refused, "cells")
    (icon,) = row_icons(cells, "snapshot.total_is_sum_of_rows")
    assert "fa-times" in icon and "text-danger" in icon and WARNING_CLASS not in icon
    assert "Status: Failed" in header(cells)
    letters = validation_page(refused, "dead_letters")
    assert "Warnings only" in header(letters)
    entry = index_entry(refused, "cells")
    assert "ge-failed-icon" in entry and "'_validation_success_text': 'Failed'" in entry


def test_every_validation_page_names_the_snapshot_and_cutoff_it_validated(warned: Path) -> None:
    pages = sorted((warned / "data_docs/validations").rglob("*.html"))
    assert len(pages) == 4 + 6  # the event suite's page a column (SuiteRunner.run_by_columns)
    for page in pages:
        text = page.read_text("utf-8")
        assert "Data asset: None" not in text and "__none__" not in text, page
        head = header(page)
        assert f"snapshot snap-checked (cutoff {CUTOFF})" in head, head
        assert "snap-checked@2024-12-31T235959+0800" in text  # the run's name
    events = sorted(
        p.relative_to(warned / "data_docs/validations/arrears/events").parts[0]
        for p in (warned / "data_docs/validations/arrears/events").rglob("*.html")
    )
    assert events == [
        "employer_id",
        "foreign_target",
        "received_event",
        "source",
        "unit",
        "unit_event",
    ]
    changes = header(validation_page(warned, "changes"))
    assert f"against the previous snapshot snap-clean (cutoff {CUTOFF})" in changes
