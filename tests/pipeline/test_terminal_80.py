"""The command line in a real 80-column terminal (tmux): no line of the main commands'
output is wider than the pane or cut short ("…"), and the form keeps every figure.

Needs Debian's `tmux` (installed when missing, as root or under CI). The commands that need
a broker (deadletters list, infra status) are in tests/integration/test_terminal_80.py.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.cells import COLUMNS, ROWS, row_cell
from tests.pipeline.cli_kit import made_up_snapshot
from tests.pipeline.tmux_kit import Capture, Pane, pane
from warehouse.report.values import DEFAULT_PRECISION, shown

#: Where the captures are kept for a person to read (pytest's tmp dir otherwise).
CAPTURES = "ARREARS_TERMINAL_CAPTURES"


@pytest.fixture(scope="module")
def state() -> Iterator[Path]:
    # A short path, so the paths the commands print fit a line as a user's would.
    with tempfile.TemporaryDirectory(prefix="t80-", dir="/tmp") as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def term(state: Path) -> Iterator[Pane]:
    with pane({"ARREARS_STATE_DIR": str(state)}) as p:
        yield p


def _fits(capture: Capture, keep: Path | None = None) -> None:
    if keep is not None:
        name = "_".join(a.strip("-") for a in capture.argv if a.strip("-"))[:60]
        (keep / f"{name.replace('/', '_')}.txt").write_text(capture.text + "\n", "utf-8")
    assert capture.code == 0, capture.text
    assert not capture.too_wide(), capture.too_wide()
    assert "…" not in capture.text, capture.text  # nothing elided


def _keep(tmp_path: Path) -> Path:
    import os

    folder = Path(os.environ.get(CAPTURES) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_main_commands_fit_80_columns(term: Pane, state: Path, tmp_path: Path) -> None:
    keep = _keep(tmp_path)
    snap = made_up_snapshot(state / "snapshots")
    made_up_snapshot(state / "snapshots", label="restated", seed=17)
    for argv in (
        ("calendar", "--today", "2024-12-31"),
        ("snapshots",),
        ("units", "--under", "320400"),
        ("check", snap.id, "--dead-letters", "none"),
        ("--help",),
        ("report", "--help"),
        ("check", "--help"),
    ):
        capture = term.run(*argv)
        if argv[0] == "check" and capture.code == 6:  # made-up figures may fail a check
            capture = Capture(capture.argv, 0, capture.lines)
        _fits(capture, keep)


def test_the_form_fits_80_columns_with_every_figure(
    term: Pane, state: Path, tmp_path: Path
) -> None:
    snap = made_up_snapshot(state / "snapshots", label="form", seed=18)
    capture = term.run("report", snap.id, "--unit", "320400", "--format", "table")
    _fits(capture, _keep(tmp_path))
    form = {(r.key, c.key): 0 for r in ROWS for c in COLUMNS}
    cells = snap.cells().filter(unit="320400", scope="rollup")
    values = dict(zip(cells["cell"], cells["value"], strict=True))
    for row, column in form:
        figure = shown(values[row_cell(row, column)], _measure(column), DEFAULT_PRECISION)
        line = next(x for x in capture.lines if x.lstrip("│┃ ").startswith(_heading(column)))
        assert figure in line, (row, column, figure, line)
    assert not capture.split_units("320400"), capture.text


def _measure(key: str):  # type: ignore[no-untyped-def]
    return next(c.measure for c in COLUMNS if c.key == key)


def _heading(key: str) -> str:
    column = next(c for c in COLUMNS if c.key == key)
    return f"{column.number} {column.heading}"


def test_an_error_wraps_between_words_in_80_columns(term: Pane, state: Path) -> None:
    events = state / "one.jsonl"
    events.write_bytes(b"{}\n")
    capture = term.run("ingest", str(events))  # no broker in this state dir: an error
    assert capture.code == 1, capture.text
    assert not capture.too_wide(), capture.too_wide()
    lines = [line for line in capture.lines if line.strip()]
    assert lines[0].startswith("arrears: error: ") and len(lines) > 1, lines
    assert all(line.startswith("  ") for line in lines[1:]), lines  # continued, not cut
    said = " ".join(line.strip() for line in lines)
    assert "start it with `arrears infra up`" in said, said  # no word split at the edge
