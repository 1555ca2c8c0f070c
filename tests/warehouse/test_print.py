"""The form on paper: every sheet prints on one A4 landscape page, read back and rendered.

The render test converts the workbook with LibreOffice headless (Debian's
`libreoffice-calc`, with `fonts-noto-cjk` for the Chinese text) and counts the PDF's
pages with poppler's `pdfinfo`. When they are missing, the session installs them with
apt-get (as root or under CI); when it cannot, the test fails: a render test that only
ever skips would prove nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from tests.debian_kit import ensure_tools
from tests.warehouse.conftest import REGISTRY
from tests.warehouse.test_report import META, _story_cells
from warehouse.report import build_forms
from warehouse.report import layout as L
from warehouse.report.xlsx import GEOMETRY as G
from warehouse.report.xlsx import write_xlsx

UNITS = ["320400", "320402", "320412", "320471"]
PACKAGES = ("libreoffice-calc", "fonts-noto-cjk", "poppler-utils")
TOOLS = ("soffice", "pdfinfo")


def _workbook(path: Path) -> Path:
    forms = build_forms(_story_cells(), META, REGISTRY, UNITS, filed_on=dt.date(2024, 12, 31))
    return write_xlsx(forms, path)


def test_every_sheet_is_set_up_for_one_a4_landscape_page(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(_workbook(tmp_path / "form.xlsx"))
    assert len(book.worksheets) == len(UNITS)
    last_row = G.source(len(L.ITEM_SENTENCES))
    for sheet in book.worksheets:
        setup = sheet.page_setup
        assert setup.paperSize == 9  # A4
        assert setup.orientation == "landscape"
        assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 1)
        margins = sheet.page_margins
        assert 0.4 <= margins.left == margins.right <= 1.0
        assert 0.4 <= margins.top <= 1.0 and 0.4 <= margins.bottom <= 1.0
        assert sheet.print_options.horizontalCentered is True
        assert sheet.print_area == f"'{sheet.title}'!$A$1:$N${last_row}"
        assert sheet.print_title_rows == f"${G.head_top}:${G.numbers}"
        # the title is one merged cell across the whole form, so it prints whole
        assert f"A{G.title}:N{G.title}" in {str(r) for r in sheet.merged_cells.ranges}


@pytest.fixture(scope="session")
def office() -> str:
    """The path of `soffice`, installing LibreOffice and poppler when they are missing."""
    ensure_tools(TOOLS, PACKAGES)
    soffice = shutil.which("soffice")
    assert soffice is not None
    return soffice


def _pdf_pages(pdf: Path) -> tuple[int, str]:
    info = subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    pages = re.search(r"^Pages:\s+(\d+)$", info, re.MULTILINE)
    size = re.search(r"^Page size:\s+(.*)$", info, re.MULTILINE)
    assert pages and size, info
    return int(pages.group(1)), size.group(1)


def assert_a4_pages(office: str, book: Path, sheets: int) -> Path:
    """Convert `book` with LibreOffice (its own profile) and check one A4 landscape page per
    sheet; the PDF's path."""
    profile = book.parent / "lo-profile"  # its own profile: no clash with a running office
    done = subprocess.run(
        [office, f"-env:UserInstallation={profile.as_uri()}", "--headless"]
        + ["--convert-to", "pdf", "--outdir", str(book.parent), str(book)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    pdf = book.with_suffix(".pdf")
    assert done.returncode == 0 and pdf.exists(), done.stdout + done.stderr
    pages, size = _pdf_pages(pdf)
    assert pages == sheets, f"{pages} pages for {sheets} sheets"
    width, height = (float(x) for x in re.findall(r"[\d.]+", size)[:2])
    assert (round(width), round(height)) == (842, 595), size  # A4 landscape, in points
    assert "A4" in size
    return pdf


def test_the_workbook_renders_as_one_a4_landscape_page_per_sheet(
    office: str, tmp_path: Path
) -> None:
    assert_a4_pages(office, _workbook(tmp_path / "form.xlsx"), len(UNITS))
